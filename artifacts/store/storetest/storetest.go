package storetest

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"sync"
	"syscall"

	"github.com/fabeam/fabeam/artifacts/store"
)

// ErrInjected is wrapped by every error this package injects.
var ErrInjected = errors.New("storetest: injected failure")

// Faulty is a store.Store whose writes start failing at the N-th.
type Faulty struct {
	store.Store

	mu     sync.Mutex
	match  func(key string) bool
	failAt int // 1-based number of the first write to fail; 0: never
	writes int // writes counted so far
	healed bool
	failed []string
}

// FailFromWrite returns a view of inner whose n-th write (n >= 1) and every
// later one fail, until Heal. Put and a Create's Commit are writes; Create
// itself and Write calls are not counted.
func FailFromWrite(inner store.Store, n int) *Faulty {
	if n < 1 {
		panic(fmt.Sprintf("storetest: FailFromWrite(%d): writes are numbered from 1", n))
	}
	return &Faulty{Store: inner, failAt: n}
}

// Only makes f count (and fail) only writes of keys for which match is
// true; the others always succeed. It returns f.
func (f *Faulty) Only(match func(key string) bool) *Faulty {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.match = match
	return f
}

// Heal makes every later write succeed.
func (f *Faulty) Heal() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.healed = true
}

// Writes returns how many counted writes were attempted, failed ones
// included.
func (f *Faulty) Writes() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.writes
}

// Failed returns the keys whose writes were made to fail, in order.
func (f *Faulty) Failed() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.failed...)
}

// admit counts a write of key and returns the error to inject, or nil.
func (f *Faulty) admit(op, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.match != nil && !f.match(key) {
		return nil
	}
	f.writes++
	if f.healed || f.writes < f.failAt {
		return nil
	}
	f.failed = append(f.failed, key)
	return fmt.Errorf("%w of write %d (%s %s)", ErrInjected, f.writes, op, f.Store.URI(key))
}

// Put fails as configured, storing nothing, or passes data on.
func (f *Faulty) Put(ctx context.Context, key string, data []byte) error {
	if err := store.ValidateKey(key); err != nil {
		return err
	}
	if err := f.admit("Put", key); err != nil {
		return err
	}
	return f.Store.Put(ctx, key, data)
}

// Create starts a write whose Commit fails as configured.
func (f *Faulty) Create(ctx context.Context, key string) (store.Writer, error) {
	w, err := f.Store.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	return &faultyWriter{Writer: w, f: f, key: key}, nil
}

type faultyWriter struct {
	store.Writer
	f    *Faulty
	key  string
	done bool
}

func (w *faultyWriter) Commit() error {
	if !w.done {
		w.done = true
		if err := w.f.admit("Commit", w.key); err != nil {
			w.Writer.Abort()
			return err
		}
	}
	return w.Writer.Commit()
}

// DiskFull is a store.Store on a disk with a fixed number of bytes left.
type DiskFull struct {
	store.Store

	mu   sync.Mutex
	free int64
}

// NewDiskFull returns a view of inner that accepts free more bytes of
// writes in total, then behaves as a full disk.
func NewDiskFull(inner store.Store, free int64) *DiskFull {
	return &DiskFull{Store: inner, free: free}
}

// AddSpace makes n more bytes available.
func (d *DiskFull) AddSpace(n int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.free += n
}

// Free returns the bytes still available.
func (d *DiskFull) Free() int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.free
}

// take reserves up to n bytes and returns how many it got.
func (d *DiskFull) take(n int) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	got := int(min(int64(n), max(d.free, 0)))
	d.free -= int64(got)
	return got
}

// Put writes through Create, so a Put that does not fit leaves its partial
// temporary file as long as a real one would (until its Abort), and fails.
func (d *DiskFull) Put(ctx context.Context, key string, data []byte) error {
	w, err := d.Create(ctx, key)
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := w.Write(data); err != nil {
		return err
	}
	return w.Commit()
}

// Create starts a write whose bytes count against the space left.
func (d *DiskFull) Create(ctx context.Context, key string) (store.Writer, error) {
	w, err := d.Store.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	return &fullWriter{Writer: w, d: d, key: key}, nil
}

type fullWriter struct {
	store.Writer
	d   *DiskFull
	key string
	err error
}

func (w *fullWriter) Write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	n := w.d.take(len(p))
	m, err := w.Writer.Write(p[:n])
	if err != nil {
		w.err = err
		return m, err
	}
	if n < len(p) {
		w.err = fmt.Errorf("%w: writing %s: %w", ErrInjected, w.d.Store.URI(w.key),
			&fs.PathError{Op: "write", Path: w.d.Store.URI(w.key), Err: syscall.ENOSPC})
		return m, w.err
	}
	return m, nil
}

// Commit refuses, aborting the wrapped write, after a failed Write.
func (w *fullWriter) Commit() error {
	if w.err != nil {
		w.Writer.Abort()
		return w.err
	}
	return w.Writer.Commit()
}
