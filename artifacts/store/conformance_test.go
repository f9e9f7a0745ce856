package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/iotest"
)

// conformance runs the same table of behaviours against a Store
// implementation. newStore must return an empty store each call.
// snapshots says whether a reader keeps reading the version it opened
// after an overwrite (false for GCS, where it may fail instead).
func conformance(t *testing.T, snapshots bool, newStore func(t *testing.T) Store) {
	ctx := context.Background()
	mustPut := func(t *testing.T, s Store, key string, data []byte) {
		t.Helper()
		if err := s.Put(ctx, key, data); err != nil {
			t.Fatalf("Put(%q): %v", key, err)
		}
	}
	mustGet := func(t *testing.T, s Store, key string, want []byte) {
		t.Helper()
		got, err := s.Get(ctx, key)
		if err != nil {
			t.Fatalf("Get(%q): %v", key, err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("Get(%q) = %q, want %q", key, got, want)
		}
	}
	mustExist := func(t *testing.T, s Store, key string, want bool) {
		t.Helper()
		ok, err := s.Exists(ctx, key)
		if err != nil {
			t.Fatalf("Exists(%q): %v", key, err)
		}
		if ok != want {
			t.Fatalf("Exists(%q) = %v, want %v", key, ok, want)
		}
	}
	mustList := func(t *testing.T, s Store, prefix string, want []string) {
		t.Helper()
		got, err := s.List(ctx, prefix)
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		if len(got) != len(want) || (len(want) > 0 && !slices.Equal(got, want)) {
			t.Fatalf("List(%q) = %q, want %q", prefix, got, want)
		}
	}
	// binary holds every byte value, so no encoding step can hide.
	binary := make([]byte, 256*3)
	for i := range binary {
		binary[i] = byte(i * 7)
	}

	t.Run("PutThenGetReturnsTheSameBytes", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "runs/bp/seed0/model.safetensors", binary)
		mustGet(t, s, "runs/bp/seed0/model.safetensors", binary)
	})
	t.Run("EmptyObjectRoundTrips", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "empty", nil)
		mustExist(t, s, "empty", true)
		mustGet(t, s, "empty", []byte{})
	})
	t.Run("PutCopiesTheCallersBuffer", func(t *testing.T) {
		s := newStore(t)
		buf := []byte("original")
		mustPut(t, s, "k", buf)
		copy(buf, "XXXXXXXX")
		mustGet(t, s, "k", []byte("original"))
	})
	t.Run("PutOverwritesAnExistingObject", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "a/b", []byte("first version, longer"))
		mustPut(t, s, "a/b", []byte("second"))
		mustGet(t, s, "a/b", []byte("second"))
	})
	t.Run("GetAndOpenOfAMissingKeyWrapErrNotExist", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "a/b", []byte("x"))
		for _, key := range []string{"missing", "a/missing", "a", "a/b/c"} {
			if _, err := s.Get(ctx, key); !errors.Is(err, ErrNotExist) {
				t.Errorf("Get(%q) error = %v, want ErrNotExist", key, err)
			}
			if _, err := s.Open(ctx, key); !errors.Is(err, ErrNotExist) {
				t.Errorf("Open(%q) error = %v, want ErrNotExist", key, err)
			}
			mustExist(t, s, key, false)
		}
	})
	t.Run("ExistsIsFalseForAFolderOfKeys", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "dir/file", []byte("x"))
		mustExist(t, s, "dir/file", true)
		mustExist(t, s, "dir", false)
	})
	t.Run("ListReturnsSortedKeysWithAStringPrefix", func(t *testing.T) {
		s := newStore(t)
		// Put out of order so sorting is what the check sees.
		for _, k := range []string{"b", "a/x", "ab", "a/b2", "a/b/c", "a/b/a"} {
			mustPut(t, s, k, []byte(k))
		}
		mustList(t, s, "", []string{"a/b/a", "a/b/c", "a/b2", "a/x", "ab", "b"})
		mustList(t, s, "a/b", []string{"a/b/a", "a/b/c", "a/b2"})
		mustList(t, s, "a/b/", []string{"a/b/a", "a/b/c"})
		mustList(t, s, "a", []string{"a/b/a", "a/b/c", "a/b2", "a/x", "ab"})
		mustList(t, s, "a/b/c", []string{"a/b/c"})
		mustList(t, s, "zz", nil)
		mustList(t, s, "zz/", nil)
	})
	t.Run("DeleteRemovesAndIgnoresMissing", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "a/b", []byte("x"))
		mustPut(t, s, "a/c", []byte("y"))
		if err := s.Delete(ctx, "a/b"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		mustExist(t, s, "a/b", false)
		mustGet(t, s, "a/c", []byte("y"))
		mustList(t, s, "", []string{"a/c"})
		if err := s.Delete(ctx, "a/b"); err != nil {
			t.Fatalf("Delete of a missing key: %v", err)
		}
		if err := s.Delete(ctx, "never/was"); err != nil {
			t.Fatalf("Delete of a never-written key: %v", err)
		}
	})
	t.Run("CreatedObjectIsInvisibleUntilCommit", func(t *testing.T) {
		s := newStore(t)
		w, err := s.Create(ctx, "big/feat.bin")
		if err != nil {
			t.Fatal(err)
		}
		defer w.Abort()
		for i := 0; i < len(binary); i += 100 {
			if _, err := w.Write(binary[i:min(i+100, len(binary))]); err != nil {
				t.Fatal(err)
			}
		}
		mustExist(t, s, "big/feat.bin", false)
		mustList(t, s, "", nil)
		if err := w.Commit(); err != nil {
			t.Fatalf("Commit: %v", err)
		}
		mustGet(t, s, "big/feat.bin", binary)
		mustList(t, s, "", []string{"big/feat.bin"})
	})
	t.Run("AbortLeavesNothing", func(t *testing.T) {
		s := newStore(t)
		w, err := s.Create(ctx, "x/y")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write(binary); err != nil {
			t.Fatal(err)
		}
		if err := w.Abort(); err != nil {
			t.Fatalf("Abort: %v", err)
		}
		mustExist(t, s, "x/y", false)
		mustList(t, s, "", nil)
	})
	t.Run("AbortedOverwriteKeepsTheOldObject", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "k", []byte("old"))
		w, err := s.Create(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("new, half written"))
		mustGet(t, s, "k", []byte("old"))
		w.Abort()
		mustGet(t, s, "k", []byte("old"))
	})
	t.Run("CommittedOverwriteReplaces", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "k", []byte("old"))
		w, err := s.Create(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("new"))
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		mustGet(t, s, "k", []byte("new"))
	})
	t.Run("FinishedWriterRefusesWritesAndSecondCommit", func(t *testing.T) {
		s := newStore(t)
		w, err := s.Create(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("v"))
		if err := w.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte("more")); err == nil {
			t.Error("Write after Commit succeeded")
		}
		if err := w.Commit(); err == nil {
			t.Error("second Commit succeeded")
		}
		if err := w.Abort(); err != nil {
			t.Errorf("Abort after Commit = %v, want nil (no-op)", err)
		}
		mustGet(t, s, "k", []byte("v"))
	})
	t.Run("OpenReadsSequentiallyAndAtOffsets", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "r", binary)
		r, err := s.Open(ctx, "r")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		if r.Size() != int64(len(binary)) {
			t.Fatalf("Size = %d, want %d", r.Size(), len(binary))
		}
		// iotest.TestReader checks Read, and ReadAt (and Seek when present)
		// against the expected content.
		if err := iotest.TestReader(r, binary); err != nil {
			t.Fatal(err)
		}
		cases := []struct {
			off, n int
			wantN  int
			eof    bool
		}{
			{0, 10, 10, false},
			{500, 268, 268, false}, // exactly up to the end
			{700, 100, 68, true},   // crosses the end: short read and io.EOF
			{768, 1, 0, true},      // at the end
			{900, 4, 0, true},      // past the end
		}
		for _, c := range cases {
			p := make([]byte, c.n)
			n, err := r.ReadAt(p, int64(c.off))
			if n != c.wantN || (err == io.EOF) != c.eof || (err != nil && err != io.EOF) {
				t.Errorf("ReadAt(%d bytes at %d) = %d, %v; want %d, eof=%v", c.n, c.off, n, err, c.wantN, c.eof)
				continue
			}
			if !bytes.Equal(p[:n], binary[min(c.off, len(binary)):min(c.off+n, len(binary))]) {
				t.Errorf("ReadAt(%d bytes at %d) returned the wrong bytes", c.n, c.off)
			}
		}
	})
	// A reader never mixes versions: after an overwrite it reads the
	// version it opened (local, memory, versioned GCS buckets) or fails with
	// ErrNotExist (GCS without versioning drops the old generation).
	t.Run("OpenReaderNeverSeesALaterOverwrite", func(t *testing.T) {
		s := newStore(t)
		mustPut(t, s, "k", []byte("version one"))
		r, err := s.Open(ctx, "k")
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		mustPut(t, s, "k", []byte("VERSION TWO"))
		p := make([]byte, 11)
		if _, err := r.ReadAt(p, 0); err != nil {
			if snapshots || !errors.Is(err, ErrNotExist) {
				t.Fatalf("ReadAt after an overwrite: %v, want success or ErrNotExist", err)
			}
			return
		}
		if string(p) != "version one" {
			t.Fatalf("reader opened before an overwrite read %q, want %q", p, "version one")
		}
	})
	t.Run("EveryMethodRejectsInvalidKeys", func(t *testing.T) {
		s := newStore(t)
		for _, key := range []string{"", "/abs", "a//b", "../a", "a/./b", "a\\b", "a\x00b", "a/"} {
			errs := map[string]error{}
			errs["Put"] = s.Put(ctx, key, []byte("x"))
			_, errs["Get"] = s.Get(ctx, key)
			_, errs["Exists"] = s.Exists(ctx, key)
			errs["Delete"] = s.Delete(ctx, key)
			_, errs["Create"] = s.Create(ctx, key)
			_, errs["Open"] = s.Open(ctx, key)
			for m, err := range errs {
				if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
					t.Errorf("%s(%q) error = %v, want one naming the key", m, key, err)
				}
			}
		}
		mustList(t, s, "", nil)
	})
	t.Run("URIEndsWithTheKey", func(t *testing.T) {
		s := newStore(t)
		if u := s.URI("a/b.json"); !strings.HasSuffix(u, "a/b.json") || u == "a/b.json" {
			t.Fatalf("URI(a/b.json) = %q", u)
		}
	})
	t.Run("ConcurrentPutsToDistinctKeys", func(t *testing.T) {
		s := newStore(t)
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Go(func() {
				if err := s.Put(ctx, fmt.Sprintf("c/%d", i), []byte{byte(i)}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		want := make([]string, 8)
		for i := range want {
			want[i] = fmt.Sprintf("c/%d", i)
		}
		mustList(t, s, "c/", want)
		for i := range 8 {
			mustGet(t, s, fmt.Sprintf("c/%d", i), []byte{byte(i)})
		}
	})
}

func TestMemoryConformance(t *testing.T) {
	conformance(t, true, func(t *testing.T) Store { return NewMemory() })
}

func TestMemorySubViewConformance(t *testing.T) {
	conformance(t, true, func(t *testing.T) Store { return NewMemory().Sub("view/x") })
}

func TestLocalConformance(t *testing.T) {
	conformance(t, true, func(t *testing.T) Store {
		l, err := NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		return l
	})
}
