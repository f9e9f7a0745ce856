package transforms

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/artifacts/store"
	"github.com/fabeam/fabeam/engine/nn"
)

// TestPruneDeletesOnlyUnwrittenPresentationFiles checks the pruning rule on
// a memory store: under runs/ and figures/, what the report did not write
// goes; what it wrote, and everything outside those folders (the stage
// cache, results.json), stays.
func TestPruneDeletesOnlyUnwrittenPresentationFiles(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "mem://prune-test")
	if err != nil {
		t.Fatal(err)
	}
	old := []string{"runs/bp/seed0/model.safetensors", "runs/gone/seed0/model.safetensors", "figures/kept.png",
		"figures/stale.png", "train/0123456789abcdef/model.safetensors", "results.json", "runsx/keep"}
	for _, k := range old {
		if err := st.Put(ctx, k, []byte("old")); err != nil {
			t.Fatal(err)
		}
	}
	rec := newRecordingStore(st)
	for _, k := range []string{"runs/bp/seed0/model.safetensors", "figures/kept.png", "figures/new.png", "results.json"} {
		if err := rec.Put(ctx, k, []byte("new")); err != nil {
			t.Fatal(err)
		}
	}
	if err := prunePresentation(ctx, rec); err != nil {
		t.Fatal(err)
	}
	got, err := st.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"figures/kept.png", "figures/new.png", "results.json", "runs/bp/seed0/model.safetensors",
		"runsx/keep", "train/0123456789abcdef/model.safetensors"}
	if !slices.Equal(got, want) {
		t.Errorf("after pruning the store holds %v, want %v", got, want)
	}
}

// copyTree copies the files under src to dst, keeping their contents.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestASmallerStudyLeavesOnlyItsOwnPresentation reruns the finished smoke
// study's folder with two of its rules. Every stage is cached, so only the
// report runs; afterwards runs/ holds exactly the two rules' runs that
// results.json names, figures/ exactly the figures report.md shows, and the
// other rules' trained models are still in the stage cache.
func TestASmallerStudyLeavesOnlyItsOwnPresentation(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the reference smoke study")
	}
	referenceResults(t)
	out := t.TempDir()
	copyTree(t, reference.dir, out)
	cacheBefore, _ := filepath.Glob(filepath.Join(out, StageTrain, "*", ModelFile))
	c := smokeConfig(t, out)
	other := nn.RuleNames()[len(nn.RuleNames())-1]
	c.Rules = []string{nn.Reference, other}
	runStudy(t, "direct", c)

	var runs []string
	filepath.WalkDir(filepath.Join(out, RunsDir), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(out, p)
			runs = append(runs, filepath.ToSlash(rel))
		}
		return nil
	})
	var want []string
	for _, r := range []string{nn.Reference, other} {
		want = append(want, "runs/"+r+"/seed0/history.json", "runs/"+r+"/seed0/model.safetensors")
	}
	slices.Sort(runs)
	slices.Sort(want)
	if !slices.Equal(runs, want) {
		t.Errorf("runs/ holds %v, want exactly %v", runs, want)
	}
	md, err := os.ReadFile(filepath.Join(out, ReportMD))
	if err != nil {
		t.Fatal(err)
	}
	var shown []string
	for _, m := range regexp.MustCompile(`\]\((figures/[^)]+\.png)\)`).FindAllStringSubmatch(string(md), -1) {
		shown = append(shown, m[1])
	}
	pngs, _ := filepath.Glob(filepath.Join(out, FiguresDir, "*"))
	var have []string
	for _, p := range pngs {
		have = append(have, FiguresDir+"/"+filepath.Base(p))
	}
	slices.Sort(shown)
	shown = slices.Compact(shown)
	if !slices.Equal(have, shown) || len(have) == 0 {
		t.Errorf("figures/ holds %v; report.md shows %v", have, shown)
	}
	cacheAfter, _ := filepath.Glob(filepath.Join(out, StageTrain, "*", ModelFile))
	if len(cacheAfter) != len(cacheBefore) || len(cacheBefore) <= 2 {
		t.Errorf("the stage cache held %d trained models and now holds %d; pruning must leave it alone", len(cacheBefore), len(cacheAfter))
	}
	if strings.Contains(strings.Join(runs, " "), "fa_random") {
		t.Error("a rule this study did not run is still presented")
	}
}
