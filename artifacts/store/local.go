package store

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Local is a Store over a folder of the local file system. Key "a/b/c" is
// the file dir/a/b/c. Writes go to a temporary file named ".tmp-..." in the
// destination's folder, are fsynced, then renamed over the destination, so
// a crash leaves either the old file or the new one (and perhaps a stray
// temporary file, which List ignores).
type Local struct {
	dir string // absolute, cleaned
}

// NewLocal returns a Local store rooted at dir, creating dir (and its
// parents) if missing. It checks that dir is writable by creating and
// removing a temporary file, and otherwise returns an error saying so.
func NewLocal(dir string) (*Local, error) {
	if dir == "" {
		return nil, errors.New("store: empty output folder; give a path such as ./out")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("store: output folder %q: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("store: cannot create output folder %s: %w; choose another folder or fix its permissions", abs, err)
	}
	f, err := createTemp(abs, "probe")
	if err != nil {
		return nil, fmt.Errorf("store: output folder %s is not writable: %w; choose another folder or fix its permissions", abs, err)
	}
	name := f.Name()
	f.Close()
	if err := os.Remove(name); err != nil {
		return nil, fmt.Errorf("store: output folder %s: cannot remove probe file: %w; fix the folder's permissions", abs, err)
	}
	return &Local{dir: abs}, nil
}

// Dir returns the store's absolute root folder.
func (l *Local) Dir() string { return l.dir }

// URI returns the absolute file path of key.
func (l *Local) URI(key string) string {
	return filepath.Join(l.dir, filepath.FromSlash(key))
}

// path validates key and returns its file path.
func (l *Local) path(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return l.URI(key), nil
}

// Put atomically writes data at key (temporary file, fsync, rename).
func (l *Local) Put(ctx context.Context, key string, data []byte) error {
	w, err := l.Create(ctx, key)
	if err != nil {
		return err
	}
	defer w.Abort()
	if _, err := w.Write(data); err != nil {
		return err
	}
	return w.Commit()
}

// Get reads the whole file at key.
func (l *Local) Get(ctx context.Context, key string) ([]byte, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, l.readErr(key, p, err)
	}
	return data, nil
}

// readErr turns a file-system error for key into the store's error.
func (l *Local) readErr(key, p string, err error) error {
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, errNotDir) || isDirErr(p) {
		return fmt.Errorf("%w: %s", ErrNotExist, p)
	}
	return fmt.Errorf("store: reading %s: %w", p, err)
}

// isDirErr reports whether p is a directory (so not an object).
func isDirErr(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}

// Exists reports whether a regular file is stored at key.
func (l *Local) Exists(ctx context.Context, key string) (bool, error) {
	p, err := l.path(key)
	if err != nil {
		return false, err
	}
	fi, err := os.Stat(p)
	switch {
	case err == nil:
		return fi.Mode().IsRegular(), nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, errNotDir):
		return false, nil
	}
	return false, fmt.Errorf("store: checking %s: %w", p, err)
}

// List walks the folder and returns the sorted keys starting with prefix,
// skipping temporary files.
func (l *Local) List(ctx context.Context, prefix string) ([]string, error) {
	// Walk only the deepest folder the prefix names entirely.
	start := l.dir
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = filepath.Join(l.dir, filepath.FromSlash(prefix[:i]))
		if !strings.HasPrefix(start+string(filepath.Separator), l.dir+string(filepath.Separator)) {
			return nil, fmt.Errorf("store: list prefix %q leaves the store folder %s", prefix, l.dir)
		}
	}
	var keys []string
	err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == start && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), tmpPrefix) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(l.dir, p)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if strings.HasPrefix(key, prefix) {
			keys = append(keys, key)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: listing %s: %w", start, err)
	}
	sort.Strings(keys)
	return keys, nil
}

// Delete removes the file at key; a missing file is not an error. Emptied
// parent folders are left in place.
func (l *Local) Delete(ctx context.Context, key string) error {
	p, err := l.path(key)
	if err != nil {
		return err
	}
	if isDirErr(p) {
		return nil // a folder is not an object
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, errNotDir) {
		return fmt.Errorf("store: deleting %s: %w", p, err)
	}
	return nil
}

// Create starts an atomic write of key: a temporary file in key's folder
// (created with its parents) that Commit fsyncs and renames into place.
func (l *Local) Create(ctx context.Context, key string) (Writer, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("store: cannot create folder %s for %q: %w; fix the output folder's permissions", dir, key, err)
	}
	f, err := createTemp(dir, filepath.Base(p))
	if err != nil {
		return nil, fmt.Errorf("store: cannot write in %s for %q: %w; fix the output folder's permissions or free space", dir, key, err)
	}
	return &localWriter{f: f, dst: p, key: key}, nil
}

// createTemp creates a new file "<dir>/.tmp-<base>-<random>" for writing.
// Unlike os.CreateTemp (always 0600) it asks for mode 0666, so the file,
// and the object it is renamed into, gets the mode the process's umask
// gives new files: 0644 under the usual umask 022.
func createTemp(dir, base string) (*os.File, error) {
	for range 100 {
		name := filepath.Join(dir, tmpPrefix+base+"-"+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, &fs.PathError{Op: "createtemp", Path: filepath.Join(dir, tmpPrefix+base+"-*"), Err: fs.ErrExist}
}

// localWriter writes a temporary file and renames it on Commit.
type localWriter struct {
	f    *os.File
	dst  string
	key  string
	err  error // first write error; Commit refuses after one
	done bool
}

func (w *localWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errFinished(w.key)
	}
	if w.err != nil {
		return 0, w.err
	}
	n, err := w.f.Write(p)
	if err != nil {
		w.err = fmt.Errorf("store: writing %s: %w", w.dst, err)
		return n, w.err
	}
	return n, nil
}

func (w *localWriter) Commit() error {
	if w.done {
		return errFinished(w.key)
	}
	if w.err != nil {
		w.Abort()
		return w.err
	}
	tmp := w.f.Name()
	fail := func(what string, err error) error {
		w.f.Close()
		os.Remove(tmp)
		w.done = true
		return fmt.Errorf("store: %s %s: %w", what, w.dst, err)
	}
	if err := w.f.Sync(); err != nil {
		return fail("flushing", err)
	}
	if err := w.f.Close(); err != nil {
		return fail("closing", err)
	}
	if err := os.Rename(tmp, w.dst); err != nil {
		return fail("renaming into place", err)
	}
	w.done = true
	syncDir(filepath.Dir(w.dst))
	return nil
}

func (w *localWriter) Abort() error {
	if w.done {
		return nil
	}
	w.done = true
	w.f.Close()
	if err := os.Remove(w.f.Name()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("store: removing temporary file %s: %w", w.f.Name(), err)
	}
	return nil
}

// syncDir fsyncs a folder so a rename in it survives a crash. Best effort:
// some file systems do not support it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// Open opens the file at key.
func (l *Local) Open(ctx context.Context, key string) (Reader, error) {
	p, err := l.path(key)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, l.readErr(key, p, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("store: %s: %w", p, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: %s is not a regular file", ErrNotExist, p)
	}
	return &fileReader{File: f, size: fi.Size()}, nil
}

// fileReader is an open file with its size.
type fileReader struct {
	*os.File
	size int64
}

func (r *fileReader) Size() int64 { return r.size }
