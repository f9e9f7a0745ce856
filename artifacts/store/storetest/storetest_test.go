package storetest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/fabeam/fabeam/artifacts/store"
)

func newLocal(t *testing.T) *store.Local {
	t.Helper()
	l, err := store.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// tempFiles returns the names of the local store's temporary files.
func tempFiles(t *testing.T, l *store.Local) []string {
	t.Helper()
	var names []string
	filepath.WalkDir(l.Dir(), func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.HasPrefix(d.Name(), ".tmp-") {
			names = append(names, p)
		}
		return nil
	})
	return names
}

func get(t *testing.T, s store.Store, key string) string {
	t.Helper()
	b, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return string(b)
}

func TestFaultyFailsFromTheNthWriteUntilHealed(t *testing.T) {
	ctx := context.Background()
	for _, inner := range []struct {
		name string
		new  func(t *testing.T) store.Store
	}{
		{"memory", func(*testing.T) store.Store { return store.NewMemory() }},
		{"local", func(t *testing.T) store.Store { return newLocal(t) }},
	} {
		t.Run(inner.name, func(t *testing.T) {
			in := inner.new(t)
			if err := in.Put(ctx, "old", []byte("v1")); err != nil {
				t.Fatal(err)
			}
			f := FailFromWrite(in, 3)
			put := func(key, v string) error { return f.Put(ctx, key, []byte(v)) }
			commit := func(key, v string) error {
				w, err := f.Create(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				defer w.Abort()
				if _, err := w.Write([]byte(v)); err != nil {
					t.Fatal(err)
				}
				return w.Commit()
			}
			if err := put("a", "1"); err != nil {
				t.Fatalf("write 1: %v", err)
			}
			if err := commit("b", "2"); err != nil {
				t.Fatalf("write 2: %v", err)
			}
			err := put("old", "v2") // write 3: an overwrite
			if !errors.Is(err, ErrInjected) || !strings.Contains(err.Error(), "write 3") || !strings.Contains(err.Error(), in.URI("old")) {
				t.Fatalf("write 3 = %v, want an injected failure naming write 3 and %s", err, in.URI("old"))
			}
			if err := commit("c", "4"); !errors.Is(err, ErrInjected) {
				t.Fatalf("write 4 (Commit) = %v, want an injected failure", err)
			}
			if got := get(t, in, "old"); got != "v1" {
				t.Fatalf("failed overwrite changed the object to %q", got)
			}
			if ok, _ := in.Exists(ctx, "c"); ok {
				t.Fatal("a failed Commit stored its object")
			}
			if l, ok := in.(*store.Local); ok {
				if tmp := tempFiles(t, l); len(tmp) != 0 {
					t.Fatalf("temporary files left: %q", tmp)
				}
			}
			f.Heal()
			if err := commit("c", "5"); err != nil {
				t.Fatalf("write after Heal: %v", err)
			}
			if f.Writes() != 5 || !slices.Equal(f.Failed(), []string{"old", "c"}) {
				t.Fatalf("Writes = %d, Failed = %q; want 5 and [old c]", f.Writes(), f.Failed())
			}
			keys, _ := f.List(ctx, "")
			if !slices.Equal(keys, []string{"a", "b", "c", "old"}) || get(t, f, "c") != "5" {
				t.Fatalf("store holds %q", keys)
			}
		})
	}
}

func TestFaultyOnlyCountsMatchingKeys(t *testing.T) {
	ctx := context.Background()
	in := store.NewMemory()
	f := FailFromWrite(in, 2).Only(func(k string) bool { return strings.HasPrefix(k, "train/") })
	for i, c := range []struct {
		key  string
		fail bool
	}{{"grid/x", false}, {"train/1", false}, {"report.html", false}, {"train/2", true}, {"runs/m", false}, {"train/3", true}} {
		err := f.Put(ctx, c.key, []byte("x"))
		if (err != nil) != c.fail {
			t.Errorf("write %d (%s): err = %v, want failure %v", i+1, c.key, err, c.fail)
		}
	}
	if f.Writes() != 3 {
		t.Errorf("Writes = %d, want the 3 under train/", f.Writes())
	}
	if err := f.Put(ctx, "../x", nil); err == nil || errors.Is(err, ErrInjected) {
		t.Errorf("invalid key: %v, want the store's own key error", err)
	}
}

func TestDiskFullFailsMidWriteLeavingOnlyAPartialTemporaryFile(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t)
	old := bytes.Repeat([]byte("o"), 50)
	want, err := store.PutDigest(ctx, l, "runs/bp/model.safetensors", old)
	if err != nil {
		t.Fatal(err)
	}
	d := NewDiskFull(l, 100)
	if err := d.Put(ctx, "a", make([]byte, 60)); err != nil {
		t.Fatalf("Put that fits: %v", err)
	}
	// 40 bytes left: a streamed overwrite of the model writes 30, then 10
	// of the next 30, and fails.
	w, err := d.Create(ctx, "runs/bp/model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w.Write(bytes.Repeat([]byte("n"), 30)); n != 30 || err != nil {
		t.Fatalf("first Write = %d, %v", n, err)
	}
	n, err := w.Write(bytes.Repeat([]byte("n"), 30))
	if n != 10 || !errors.Is(err, syscall.ENOSPC) || !errors.Is(err, ErrInjected) {
		t.Fatalf("Write past the space = %d, %v; want 10 and ENOSPC", n, err)
	}
	if !strings.Contains(err.Error(), syscall.ENOSPC.Error()) {
		t.Errorf("error %q does not say the disk is full", err)
	}
	tmp := tempFiles(t, l)
	if len(tmp) != 1 {
		t.Fatalf("temporary files during the failed write: %q, want one", tmp)
	}
	if fi, err := os.Stat(tmp[0]); err != nil || fi.Size() != 40 {
		t.Fatalf("partial temporary file: %v, %v; want 40 bytes", fi, err)
	}
	if err := w.Commit(); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Commit after the failed Write = %v, want the ENOSPC error", err)
	}
	if tmp := tempFiles(t, l); len(tmp) != 0 {
		t.Fatalf("temporary files after the failed Commit: %q", tmp)
	}
	if err := d.Put(ctx, "b", []byte("y")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Put on a full disk = %v, want ENOSPC", err)
	}
	if ok, _ := l.Exists(ctx, "b"); ok || len(tempFiles(t, l)) != 0 {
		t.Fatal("a failed Put left an object or a temporary file")
	}
	// What was there before is intact, byte for byte.
	if err := store.VerifyFull(ctx, l, "runs/bp/model.safetensors", want); err != nil {
		t.Fatalf("the earlier object was damaged: %v", err)
	}
	d.AddSpace(10)
	if d.Free() != 10 {
		t.Fatalf("Free = %d after AddSpace(10) on a full disk", d.Free())
	}
	if err := d.Put(ctx, "b", []byte("y")); err != nil || get(t, l, "b") != "y" {
		t.Fatalf("Put after AddSpace: %v", err)
	}
}

func TestDiskFullOverMemory(t *testing.T) {
	ctx := context.Background()
	m := store.NewMemory()
	d := NewDiskFull(m, 5)
	if err := d.Put(ctx, "k", []byte("123456")); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("Put of 6 bytes on a 5-byte disk = %v", err)
	}
	if ok, _ := m.Exists(ctx, "k"); ok {
		t.Fatal("the failed Put stored an object")
	}
}

func TestRegisterMakesAStoreReachableByURI(t *testing.T) {
	ctx := context.Background()
	f := FailFromWrite(store.NewMemory(), 1)
	uri := Register("study", f)
	uri2 := Register("study", store.NewMemory())
	if !strings.HasPrefix(uri, "fault://study-") || uri == uri2 {
		t.Fatalf("Register returned %q and %q, want distinct fault://study-N", uri, uri2)
	}
	s, err := store.Open(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	if s != store.Store(f) {
		t.Fatalf("Open(%q) = %T, not the registered store", uri, s)
	}
	if err := s.Put(ctx, "k", nil); !errors.Is(err, ErrInjected) {
		t.Fatalf("Put through the opened store = %v, want the injected failure", err)
	}
	for _, bad := range []string{"fault://nope", uri + "/prefix"} {
		if _, err := store.Open(ctx, bad); err == nil || !strings.Contains(err.Error(), "names no registered store") {
			t.Errorf("Open(%q) = %v, want an error", bad, err)
		}
	}
}
