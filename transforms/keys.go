package transforms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"github.com/fabeam/fabeam/artifacts/store"
)

// FormatVersion is mixed into every stage key: bump it when a stage's
// output layout or numerics change, and every stage recomputes.
const FormatVersion = 2

// StageKey returns the content address of a stage's output:
//
//	"<stage>/" + hex(sha256(stage, canonical JSON of config, input keys, FormatVersion))[:16]
//
// config must be JSON-serialisable; encoding/json writes struct fields in
// declaration order and map keys sorted, which makes the bytes canonical.
// It panics if config cannot be encoded (a programmer error).
func StageKey(stage string, config any, inputs ...string) string {
	cj, err := json.Marshal(config)
	if err != nil {
		panic(fmt.Sprintf("transforms: StageKey(%q): config not JSON-serialisable: %v", stage, err))
	}
	doc, _ := json.Marshal(struct {
		Stage   string          `json:"stage"`
		Config  json.RawMessage `json:"config"`
		Inputs  []string        `json:"inputs"`
		Version int             `json:"format_version"`
	}{stage, cj, inputs, FormatVersion})
	sum := sha256.Sum256(doc)
	return stage + "/" + hex.EncodeToString(sum[:])[:16]
}

var stores sync.Map // uri -> store.Store

// openStore returns the store at uri, opened once per process and shared by
// every DoFn instance (a GCS client is expensive to make).
func openStore(ctx context.Context, uri string) (store.Store, error) {
	if s, ok := stores.Load(uri); ok {
		return s.(store.Store), nil
	}
	s, err := store.Open(ctx, uri)
	if err != nil {
		return nil, fmt.Errorf("opening output %q (--out): %w", uri, err)
	}
	actual, _ := stores.LoadOrStore(uri, s)
	return actual.(store.Store), nil
}

// putJSON writes v as indented JSON with a trailing newline, atomically.
func putJSON(ctx context.Context, st store.Store, key string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", key, err)
	}
	b = append(b, '\n')
	if err := st.Put(ctx, key, b); err != nil {
		return fmt.Errorf("writing %s: %w", st.URI(key), err)
	}
	return nil
}

// getJSON reads key into v. A missing object returns an error wrapping
// store.ErrNotExist; bytes that are not JSON for v are damage (isDamage).
func getJSON(ctx context.Context, st store.Store, key string, v any) error {
	b, err := st.Get(ctx, key)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return damaged("%s is not valid JSON (%v)", st.URI(key), err)
	}
	return nil
}

// isNotExist reports whether err says an object is missing.
func isNotExist(err error) bool { return errors.Is(err, store.ErrNotExist) }
