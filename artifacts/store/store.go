package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// ErrNotExist is wrapped by the errors Get and Open return for a key that
// holds no object; test for it with errors.Is.
var ErrNotExist = errors.New("store: object does not exist")

// Store holds objects (byte strings) under keys. Keys are slash-separated
// relative paths checked by ValidateKey; every method rejects an invalid key
// with an error. Implementations are safe for concurrent use.
type Store interface {
	// Put atomically creates or replaces the object at key: a reader sees
	// either the old object, or none, or all of data, never a part.
	Put(ctx context.Context, key string, data []byte) error
	// Get returns the whole object at key, or an error wrapping ErrNotExist.
	Get(ctx context.Context, key string) ([]byte, error)
	// Exists reports whether an object is stored at key. A key that is only
	// a folder of other keys does not exist.
	Exists(ctx context.Context, key string) (bool, error)
	// List returns, sorted, every key that starts with prefix (a plain string
	// prefix, as in GCS: "runs/b" matches "runs/bp/x" and "runs/b/x"). An
	// empty prefix lists everything. A prefix need not be a valid key.
	List(ctx context.Context, prefix string) ([]string, error)
	// Delete removes the object at key. Deleting a missing object is not an
	// error.
	Delete(ctx context.Context, key string) error
	// Create starts a streaming atomic write of key. Nothing is visible at
	// key until Commit returns nil; Abort discards everything written.
	Create(ctx context.Context, key string) (Writer, error)
	// Open opens the object at key for sequential and random-access reads,
	// or returns an error wrapping ErrNotExist.
	Open(ctx context.Context, key string) (Reader, error)
	// URI returns where key lives, for people and logs: an absolute path
	// for a local store, "gs://bucket/prefix/key", or "mem://name/key".
	// It does not validate key.
	URI(key string) string
}

// Writer is a streaming atomic write started by Store.Create.
//
// Commit makes the object visible under its key and releases the writer.
// Abort discards what was written and leaves nothing behind; Abort after
// Commit is a no-op returning nil, so `defer w.Abort()` is the idiom. Write,
// Commit or a second Commit after the writer was finished return an error.
type Writer interface {
	io.Writer
	Commit() error
	Abort() error
}

// Reader reads one stored object. ReadAt may be called concurrently with
// itself; Read keeps its own sequential position. Size is the object's
// length in bytes.
type Reader interface {
	io.ReaderAt
	io.Reader
	io.Closer
	Size() int64
}

// tmpPrefix starts the name of every temporary file a Local store writes.
// ValidateKey reserves it so no key can collide with a temporary file.
const tmpPrefix = ".tmp-"

// maxKeyBytes is the longest key accepted: the GCS object-name limit.
const maxKeyBytes = 1024

// ValidateKey returns an error naming key unless key is a clean relative
// slash-separated path: non-empty, at most 1024 bytes of valid UTF-8, no
// leading or trailing slash, no empty, "." or ".." segment, no backslash, no
// control character (C0 including NUL, DEL, or C1: U+0000–U+001F and
// U+007F–U+009F), and no segment starting with ".tmp-" (reserved for the
// local store's temporary files).
//
// "runs/bp/seed0/model.safetensors" is valid; "", "/a", "a//b", "../a",
// "a/./b", "a\\b" and "a\x00b" are not.
func ValidateKey(key string) error {
	bad := func(why string) error {
		return fmt.Errorf("store: invalid key %q: %s; keys are relative slash-separated paths such as \"runs/bp/seed0/model.safetensors\"", key, why)
	}
	switch {
	case key == "":
		return bad("empty")
	case len(key) > maxKeyBytes:
		return bad(fmt.Sprintf("%d bytes long, the limit is %d", len(key), maxKeyBytes))
	case !utf8.ValidString(key):
		return bad("not valid UTF-8")
	case strings.HasPrefix(key, "/"):
		return bad("absolute path (leading /)")
	case strings.HasSuffix(key, "/"):
		return bad("trailing /")
	case strings.ContainsRune(key, '\\'):
		return bad("contains a backslash")
	}
	for _, r := range key {
		if unicode.IsControl(r) { // C0, DEL and C1 (U+0080–U+009F)
			return bad(fmt.Sprintf("contains control character %U", r))
		}
	}
	for _, seg := range strings.Split(key, "/") {
		switch {
		case seg == "":
			return bad("empty path segment (//)")
		case seg == "." || seg == "..":
			return bad(fmt.Sprintf("path segment %q", seg))
		case strings.HasPrefix(seg, tmpPrefix):
			return bad(fmt.Sprintf("segment %q starts with the reserved %q", seg, tmpPrefix))
		}
	}
	// Windows volume names ("C:") would escape a local root there.
	if filepath.VolumeName(filepath.FromSlash(key)) != "" {
		return bad("starts with a volume name")
	}
	return nil
}

// Join joins key parts with "/", dropping empty parts and trimming slashes
// at the ends of each part. It does not validate the result:
//
//	Join("runs", "bp/", "seed0", "model.safetensors") == "runs/bp/seed0/model.safetensors"
func Join(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		p = strings.Trim(p, "/")
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('/')
		}
		b.WriteString(p)
	}
	return b.String()
}

// Open returns the store a URI names:
//
//	gs://bucket[/prefix]   a GCS store (see NewGCS) using a process-wide
//	                       client from storage.NewClient, which talks to
//	                       $STORAGE_EMULATOR_HOST when that is set
//	mem://name[/prefix]    the process-wide in-memory store registered under
//	                       name (created on first use), so tests and
//	                       pipeline stages in one process share objects
//	scheme://...           a store of a scheme registered with RegisterScheme
//	                       (tests only)
//	anything else          a local folder (see NewLocal), created if missing
//
// A prefix scopes every key: Open("gs://b/run1") stores "x" at gs://b/run1/x.
func Open(ctx context.Context, uri string) (Store, error) {
	switch {
	case strings.HasPrefix(uri, "gs://"):
		bucket, prefix, err := splitURI(uri, "gs://")
		if err != nil {
			return nil, err
		}
		client, err := sharedClient(ctx)
		if err != nil {
			return nil, fmt.Errorf("store: %s: cannot create a Cloud Storage client: %w; check your credentials (gcloud auth application-default login) or set STORAGE_EMULATOR_HOST", uri, err)
		}
		return NewGCS(ctx, client, bucket, prefix)
	case strings.HasPrefix(uri, "mem://"):
		name, prefix, err := splitURI(uri, "mem://")
		if err != nil {
			return nil, err
		}
		return registeredMemory(name).Sub(prefix), nil
	case strings.Contains(uri, "://"):
		scheme, _, _ := strings.Cut(uri, "://")
		schemesMu.RLock()
		open, ok := schemes[scheme]
		schemesMu.RUnlock()
		if ok {
			return open(ctx, uri)
		}
		return nil, fmt.Errorf("store: %q: unknown scheme; use gs://bucket/prefix, mem://name or a local folder", uri)
	case uri == "":
		return nil, errors.New("store: empty location; give a local folder, gs://bucket/prefix or mem://name")
	}
	return NewLocal(uri)
}

// Opener opens the store a URI of a registered scheme names.
type Opener func(ctx context.Context, uri string) (Store, error)

var (
	schemesMu sync.RWMutex
	schemes   = map[string]Opener{}
)

// RegisterScheme makes Open hand every URI "scheme://..." to open. It exists
// for tests: package storetest registers "fault", so a pipeline whose
// output location is a "fault://" URI writes through a store that fails on
// purpose. It panics if scheme is empty, contains ":" or "/", is "gs" or
// "mem", or is already registered.
func RegisterScheme(scheme string, open Opener) {
	if scheme == "" || strings.ContainsAny(scheme, ":/") || scheme == "gs" || scheme == "mem" || open == nil {
		panic(fmt.Sprintf("store: RegisterScheme(%q): invalid or reserved scheme, or nil opener", scheme))
	}
	schemesMu.Lock()
	defer schemesMu.Unlock()
	if _, dup := schemes[scheme]; dup {
		panic(fmt.Sprintf("store: RegisterScheme(%q): already registered", scheme))
	}
	schemes[scheme] = open
}

// splitURI splits "scheme://name/prefix" into name and a validated prefix
// ("" when absent).
func splitURI(uri, scheme string) (name, prefix string, err error) {
	rest := strings.TrimPrefix(uri, scheme)
	name, prefix, _ = strings.Cut(rest, "/")
	if name == "" {
		return "", "", fmt.Errorf("store: %q has no bucket or store name after %s", uri, scheme)
	}
	prefix = strings.TrimSuffix(prefix, "/")
	if prefix != "" {
		if err := ValidateKey(prefix); err != nil {
			return "", "", fmt.Errorf("store: %q: bad prefix: %w", uri, err)
		}
	}
	return name, prefix, nil
}

// errFinished is returned by a Writer used after Commit or Abort.
func errFinished(key string) error {
	return fmt.Errorf("store: writer for %q already committed or aborted", key)
}
