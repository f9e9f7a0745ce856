package store

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// Memory is an in-memory Store for tests and single-process pipelines.
// Objects are copied in on Put/Commit and out on Get, so callers may reuse
// their buffers. A Memory may be a view (see Sub) sharing its objects with
// other views under a key prefix.
type Memory struct {
	name   string // registry name, "" when unregistered
	prefix string // "" or "p/" : prepended to every key
	d      *memData
}

// memData is the shared object table of a Memory and its views.
type memData struct {
	mu   sync.RWMutex
	objs map[string][]byte
}

// NewMemory returns an empty, unregistered in-memory store.
func NewMemory() *Memory {
	return &Memory{d: &memData{objs: map[string][]byte{}}}
}

var (
	registryMu sync.Mutex
	registry   = map[string]*Memory{}
)

// registeredMemory returns the process-wide store named name, creating it.
func registeredMemory(name string) *Memory {
	registryMu.Lock()
	defer registryMu.Unlock()
	m, ok := registry[name]
	if !ok {
		m = NewMemory()
		m.name = name
		registry[name] = m
	}
	return m
}

// Sub returns a view of m in which key k is m's key prefix+"/"+k. prefix
// must be "" (m itself) or a valid key; Sub panics otherwise.
func (m *Memory) Sub(prefix string) *Memory {
	if prefix == "" {
		return m
	}
	if err := ValidateKey(prefix); err != nil {
		panic("store: Memory.Sub: " + err.Error())
	}
	return &Memory{name: m.name, prefix: m.prefix + prefix + "/", d: m.d}
}

// URI returns "mem://name/prefix/key" ("mem://" plus the key when the store
// is unregistered).
func (m *Memory) URI(key string) string {
	return "mem://" + Join(m.name, m.prefix+key)
}

// full validates key and returns its name in the shared table.
func (m *Memory) full(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return m.prefix + key, nil
}

// Put stores a copy of data at key.
func (m *Memory) Put(ctx context.Context, key string, data []byte) error {
	k, err := m.full(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	c := bytes.Clone(data)
	if c == nil {
		c = []byte{}
	}
	m.d.mu.Lock()
	m.d.objs[k] = c
	m.d.mu.Unlock()
	return nil
}

// Get returns a copy of the object at key.
func (m *Memory) Get(ctx context.Context, key string) ([]byte, error) {
	v, err := m.lookup(key)
	if err != nil {
		return nil, err
	}
	return bytes.Clone(v), nil
}

// Exists reports whether an object is stored at key.
func (m *Memory) Exists(ctx context.Context, key string) (bool, error) {
	k, err := m.full(key)
	if err != nil {
		return false, err
	}
	m.d.mu.RLock()
	_, ok := m.d.objs[k]
	m.d.mu.RUnlock()
	return ok, nil
}

// List returns the sorted keys starting with prefix.
func (m *Memory) List(ctx context.Context, prefix string) ([]string, error) {
	full := m.prefix + prefix
	var keys []string
	m.d.mu.RLock()
	for k := range m.d.objs {
		if strings.HasPrefix(k, full) {
			keys = append(keys, k[len(m.prefix):])
		}
	}
	m.d.mu.RUnlock()
	sort.Strings(keys)
	return keys, nil
}

// Delete removes the object at key.
func (m *Memory) Delete(ctx context.Context, key string) error {
	k, err := m.full(key)
	if err != nil {
		return err
	}
	m.d.mu.Lock()
	delete(m.d.objs, k)
	m.d.mu.Unlock()
	return nil
}

// Create starts a buffered write that Commit stores at key.
func (m *Memory) Create(ctx context.Context, key string) (Writer, error) {
	if _, err := m.full(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return &memWriter{m: m, ctx: ctx, key: key}, nil
}

// memWriter buffers a write until Commit.
type memWriter struct {
	m    *Memory
	ctx  context.Context
	key  string
	buf  bytes.Buffer
	done bool
}

func (w *memWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errFinished(w.key)
	}
	return w.buf.Write(p)
}

func (w *memWriter) Commit() error {
	if w.done {
		return errFinished(w.key)
	}
	w.done = true
	return w.m.Put(w.ctx, w.key, w.buf.Bytes())
}

func (w *memWriter) Abort() error {
	w.done = true
	w.buf = bytes.Buffer{}
	return nil
}

// Open returns a reader over the object at key as it is now; later writes
// do not affect it.
func (m *Memory) Open(ctx context.Context, key string) (Reader, error) {
	v, err := m.lookup(key)
	if err != nil {
		return nil, err
	}
	// Stored slices are never mutated (Put replaces them), so no copy.
	return &memReader{Reader: bytes.NewReader(v)}, nil
}

// memReader reads one stored byte slice.
type memReader struct{ *bytes.Reader }

func (r *memReader) Close() error { return nil }

// lookup returns the stored (never mutated) bytes of key, or an error
// wrapping ErrNotExist.
func (m *Memory) lookup(key string) ([]byte, error) {
	k, err := m.full(key)
	if err != nil {
		return nil, err
	}
	m.d.mu.RLock()
	v, ok := m.d.objs[k]
	m.d.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotExist, m.URI(key))
	}
	return v, nil
}
