package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

func TestValidateKey(t *testing.T) {
	cases := []struct {
		key    string
		ok     bool
		reason string // a fragment the error must contain
	}{
		{"runs/bp/seed0/model.safetensors", true, ""},
		{"a", true, ""},
		{"a.b/c-d_e/..x/x..", true, ""}, // dots inside names are fine
		{".hidden/x", true, ""},
		{"", false, "empty"},
		{"/a", false, "absolute"},
		{"a/", false, "trailing"},
		{"a//b", false, "empty path segment"},
		{"../a", false, `".."`},
		{"a/..", false, `".."`},
		{"a/./b", false, `"."`},
		{".", false, `"."`},
		{"a\\b", false, "backslash"},
		{"a\x00b", false, "control character U+0000"},
		{"a\nb", false, "control character U+000A"},
		{"a/\x7f", false, "control character U+007F"},
		{"a/\xff", false, "UTF-8"},
		{"a/.tmp-x", false, "reserved"},
		{strings.Repeat("k", 1024), true, ""},
		{strings.Repeat("k", 1025), false, "1025 bytes"},
	}
	for _, c := range cases {
		err := ValidateKey(c.key)
		if c.ok {
			if err != nil {
				t.Errorf("ValidateKey(%q) = %v, want nil", c.key, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("ValidateKey(%q) = nil, want an error about %q", c.key, c.reason)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, c.reason) || !strings.Contains(msg, fmt.Sprintf("%q", c.key)) {
			t.Errorf("ValidateKey(%q) = %q, want it to name the key and say %q", c.key, msg, c.reason)
		}
	}
}

func TestJoin(t *testing.T) {
	cases := []struct {
		parts []string
		want  string
	}{
		{[]string{"runs", "bp/", "seed0", "model.safetensors"}, "runs/bp/seed0/model.safetensors"},
		{[]string{"", "a", "", "b"}, "a/b"},
		{[]string{"/a/", "/b/"}, "a/b"},
		{[]string{"a/b", "c"}, "a/b/c"},
		{nil, ""},
	}
	for _, c := range cases {
		if got := Join(c.parts...); got != c.want {
			t.Errorf("Join(%q) = %q, want %q", c.parts, got, c.want)
		}
	}
}

// keyGrammar is ValidateKey's documented grammar written independently, as
// a regular expression over segments: a segment is one or more characters
// other than '/', '\' and control characters (C0, DEL, C1), and not ".",
// "..", nor anything starting with ".tmp-". Spelled out without lookahead,
// a segment either does not start with '.'; or is '.' then a character
// other than '.' and 't'; or ".." then at least one character; or ".t",
// ".tm", ".tmp" alone or followed by a character other than the next of
// "mp-".
var keyGrammar = func() *regexp.Regexp {
	const c = `[^/\\\x00-\x1f\x7f-\x9f]` // a segment character
	const not = `/\\\x00-\x1f\x7f-\x9f`  // what no segment character is
	seg := `(?:` + strings.Join([]string{
		`[^.` + not + `]` + c + `*`,
		`\.[^.t` + not + `]` + c + `*`,
		`\.\.` + c + `+`,
		`\.t(?:[^m` + not + `]` + c + `*)?`,
		`\.tm(?:[^p` + not + `]` + c + `*)?`,
		`\.tmp(?:[^-` + not + `]` + c + `*)?`,
	}, "|") + `)`
	return regexp.MustCompile(`^` + seg + `(?:/` + seg + `)*$`)
}()

// validByGrammar reports whether key is valid by the documented grammar:
// at most 1024 bytes of valid UTF-8 matching keyGrammar (and, on Windows,
// not starting with a volume name).
func validByGrammar(key string) bool {
	if len(key) > 1024 || !utf8.ValidString(key) || !keyGrammar.MatchString(key) {
		return false
	}
	return runtime.GOOS != "windows" || filepath.VolumeName(filepath.FromSlash(key)) == ""
}

func TestKeyGrammarOracle(t *testing.T) {
	// The oracle itself, on cases decided by reading the documentation.
	for key, want := range map[string]bool{
		"runs/bp/seed0/model.safetensors": true, "a": true, "...": true, "..a": true, ".t": true,
		".tm": true, ".tmp": true, ".tmpx": true, "a/.tmp/b": true, ".hidden": true, "a.tmp-": true,
		"é/ü": true, "x:y": true, "a b": true, "\ufffd": true,
		"": false, "/a": false, "a/": false, "a//b": false, ".": false, "..": false, "a/./b": false,
		"a/../b": false, "a\\b": false, "a\x00b": false, "a\nb": false, "a\x7fb": false, "a\u0085b": false,
		"a\u009fb": false, ".tmp-": false, "a/.tmp-x": false, "\xff": false,
		strings.Repeat("a", 1024): true, strings.Repeat("a", 1025): false,
	} {
		if got := validByGrammar(key); got != want {
			t.Errorf("validByGrammar(%q) = %v, want %v", key, got, want)
		}
	}
}

// FuzzValidateKey checks ValidateKey against the documented grammar in
// both directions (valid ⇔ validByGrammar), that every accepted key is a
// clean relative path that stays inside a local store's folder, and that
// every rejection names the key.
func FuzzValidateKey(f *testing.F) {
	for _, s := range []string{"runs/bp/seed0/model.safetensors", "", "/a", "a//b", "../a", "a/./b", "a\\b", "a\x00b", "C:x", "a/.tmp-1", "..", "é/ü",
		"...", ".tmp", ".tmpx", "a/.t", "a\u0085b", "a\x7f", "\xc3", strings.Repeat("ab/", 341) + "a", strings.Repeat("ab/", 341) + "ab"} {
		f.Add(s)
	}
	root := filepath.Join(string(filepath.Separator), "out", "root")
	f.Fuzz(func(t *testing.T, key string) {
		err := ValidateKey(key)
		if want := validByGrammar(key); (err == nil) != want {
			t.Fatalf("ValidateKey(%q) = %v, but the documented grammar says valid=%v", key, err, want)
		}
		if err != nil {
			if !strings.Contains(err.Error(), fmt.Sprintf("%q", key)) {
				t.Fatalf("error %q does not name key %q", err, key)
			}
			return
		}
		if path.Clean(key) != key || path.IsAbs(key) {
			t.Fatalf("accepted %q, which path.Clean changes to %q", key, path.Clean(key))
		}
		if Join(strings.Split(key, "/")...) != key {
			t.Fatalf("accepted %q, which Join(Split) does not reproduce", key)
		}
		p := filepath.Join(root, filepath.FromSlash(key))
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			t.Fatalf("accepted %q, whose local path %q escapes %q", key, p, root)
		}
	})
}

func TestLocalAbortAndCommitLeaveNoTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	w, _ := l.Create(ctx, "a/b/aborted")
	w.Write([]byte("x"))
	w.Abort()
	w, _ = l.Create(ctx, "a/b/committed")
	w.Write([]byte("y"))
	if err := w.Commit(); err != nil {
		t.Fatal(err)
	}
	var files []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if len(files) != 1 || files[0] != "a/b/committed" {
		t.Fatalf("folder holds %q, want only [a/b/committed]", files)
	}
}

func TestLocalListIgnoresStrayTemporaryFiles(t *testing.T) {
	dir := t.TempDir()
	l, _ := NewLocal(dir)
	// A crash between create and rename leaves such a file behind.
	os.MkdirAll(filepath.Join(dir, "a"), 0o755)
	os.WriteFile(filepath.Join(dir, "a", ".tmp-model-123"), []byte("half"), 0o644)
	os.WriteFile(filepath.Join(dir, "a", "model"), []byte("whole"), 0o644)
	keys, err := l.List(context.Background(), "")
	if err != nil || len(keys) != 1 || keys[0] != "a/model" {
		t.Fatalf("List = %q, %v; want [a/model]", keys, err)
	}
}

func TestNewLocalCreatesTheFolder(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "x", "y")
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("NewLocal did not create %s: %v", dir, err)
	}
	if l.URI("a/b") != filepath.Join(dir, "a", "b") {
		t.Fatalf("URI = %q", l.URI("a/b"))
	}
}

func TestNewLocalUnwritableFolderIsAClearError(t *testing.T) {
	base := t.TempDir()
	file := filepath.Join(base, "file")
	os.WriteFile(file, nil, 0o644)
	cases := []struct {
		name, dir, want string
	}{
		{"UnderARegularFile", filepath.Join(file, "out"), "cannot create output folder"},
		{"IsARegularFile", file, "cannot create output folder"},
	}
	if os.Geteuid() != 0 { // root ignores permission bits
		ro := filepath.Join(base, "ro")
		os.Mkdir(ro, 0o555)
		cases = append(cases, struct{ name, dir, want string }{"ReadOnly", ro, "is not writable"})
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewLocal(c.dir)
			if err == nil {
				t.Fatalf("NewLocal(%s) succeeded", c.dir)
			}
			if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.dir) {
				t.Fatalf("error %q should name %s and say %q", err, c.dir, c.want)
			}
		})
	}
}

func TestOpenDispatchesOnTheURI(t *testing.T) {
	ctx := context.Background()
	a, err := Open(ctx, "mem://open-test")
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, "mem://open-test/sub")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "k", []byte("shared")); err != nil {
		t.Fatal(err)
	}
	got, err := a.Get(ctx, "sub/k")
	if err != nil || string(got) != "shared" {
		t.Fatalf("mem:// stores do not share: %q, %v", got, err)
	}
	if u := b.URI("k"); u != "mem://open-test/sub/k" {
		t.Fatalf("URI = %q", u)
	}
	dir := filepath.Join(t.TempDir(), "out")
	l, err := Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := l.(*Local); !ok {
		t.Fatalf("Open(%s) = %T, want *Local", dir, l)
	}
	for _, bad := range []string{"", "s3://b/p", "gs://", "gs:///p", "mem://x/../y"} {
		if _, err := Open(ctx, bad); err == nil {
			t.Errorf("Open(%q) succeeded", bad)
		}
	}
}

func TestGetThroughAFileIsNotExist(t *testing.T) {
	l, _ := NewLocal(t.TempDir())
	ctx := context.Background()
	l.Put(ctx, "a", []byte("file"))
	if _, err := l.Get(ctx, "a/b"); !errors.Is(err, ErrNotExist) {
		t.Fatalf("Get(a/b) with a a file: %v, want ErrNotExist", err)
	}
}

// registerTestScheme registers once per process, so -count=N works.
var registerTestScheme sync.Once

func TestRegisterSchemeRefusesReservedAndRepeatedSchemes(t *testing.T) {
	open := func(context.Context, string) (Store, error) { return NewMemory(), nil }
	registerTestScheme.Do(func() { RegisterScheme("storetest-scheme", open) })
	if s, err := Open(context.Background(), "storetest-scheme://x"); err != nil || s == nil {
		t.Fatalf("Open of a registered scheme = %v, %v", s, err)
	}
	for _, scheme := range []string{"", "gs", "mem", "a:b", "a/b", "storetest-scheme"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("RegisterScheme(%q) did not panic", scheme)
				}
			}()
			RegisterScheme(scheme, open)
		}()
	}
	if _, err := Open(context.Background(), "other-scheme://x"); err == nil || !strings.Contains(err.Error(), "unknown scheme") {
		t.Fatalf("Open of an unregistered scheme = %v", err)
	}
}
