package engine

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/fabeam/fabeam/"

// allowed are the imports of the rest of the module an engine package may
// make, each with its reason: none (engine/train's checkpoints use
// engine/safetensors).
var allowed = map[string]string{}

// TestEngineImportsOnlyTheEngine parses every Go file under engine/ and
// fails if one imports a package of this module outside engine/ (other
// than the listed exceptions), or Beam.
func TestEngineImportsOnlyTheEngine(t *testing.T) {
	fset := token.NewFileSet()
	used := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		pkg := filepath.ToSlash(filepath.Join("engine", filepath.Dir(path)))
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if strings.Contains(p, "apache/beam") {
				t.Errorf("%s imports Beam (%s)", path, p)
			}
			rel, ok := strings.CutPrefix(p, module)
			if !ok || strings.HasPrefix(rel, "engine/") {
				continue
			}
			edge := pkg + " -> " + rel
			if _, ok := allowed[edge]; ok && !strings.HasSuffix(path, "_test.go") {
				used[edge] = true
				continue
			}
			t.Errorf("%s imports %s: engine packages import only the engine (and the standard library)", path, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for edge := range allowed {
		if !used[edge] {
			t.Errorf("the exception %q is no longer used: remove it from allowed", edge)
		}
	}
}
