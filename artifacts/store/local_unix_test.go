//go:build unix

package store

import (
	"context"
	"io/fs"
	"os"
	"syscall"
	"testing"
)

func TestLocalFilesTakeTheProcessUmask(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		umask int
		want  fs.FileMode
	}{{0o022, 0o644}, {0o027, 0o640}, {0o002, 0o664}} {
		dir := t.TempDir()
		old := syscall.Umask(c.umask)
		l, err := NewLocal(dir)
		if err == nil {
			err = l.Put(ctx, "runs/bp/put.json", []byte("{}"))
		}
		var w Writer
		if err == nil {
			w, err = l.Create(ctx, "runs/bp/created.safetensors")
		}
		if err == nil {
			w.Write([]byte("x"))
			err = w.Commit()
		}
		syscall.Umask(old)
		if err != nil {
			t.Fatal(err)
		}
		for _, key := range []string{"runs/bp/put.json", "runs/bp/created.safetensors"} {
			fi, err := os.Stat(l.URI(key))
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != c.want {
				t.Errorf("umask %03o: %s has mode %03o, want %03o", c.umask, key, got, c.want)
			}
		}
	}
}
