package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fabeam/fabeam/transforms"
)

// carry runs reproduction/carry with args, its carry folder set to dir.
func carry(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("bash", append([]string{"../../reproduction/carry"}, args...)...)
	cmd.Env = append(os.Environ(), "CARRY="+dir)
	b, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("carry %s: %v\n%s", strings.Join(args, " "), err, b)
	}
	return string(b)
}

// stageFiles lists the files under out's grid and train folders (relative
// paths) with their modification times.
func stageFiles(t *testing.T, out string) map[string]time.Time {
	t.Helper()
	m := map[string]time.Time{}
	for _, stage := range []string{transforms.StageGrid, transforms.StageTrain} {
		files, _ := filepath.Glob(filepath.Join(out, stage, "*", "*"))
		for _, p := range files {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(out, p)
			m[filepath.ToSlash(rel)] = fi.ModTime()
		}
	}
	return m
}

// TestCarryResumesAStudyOnAnotherMachine runs a small study with a grid,
// carries it (reproduction/carry save) and restores it into an empty
// folder, as a new machine would, and runs the study there again: every
// carried grid point and final run must be taken as done, not trained
// again, and the study must finish. A carried file that was damaged on the
// way must not be trusted: its stage is trained again, to the same bytes.
func TestCarryResumesAStudyOnAnotherMachine(t *testing.T) {
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("no bash")
	}
	first := t.TempDir()
	cmd, err := ParseFlags([]string{"--preset=smoke", "--rules=bp", "--epochs=1", "--out=" + first})
	if err != nil {
		t.Fatal(err)
	}
	c := cmd.Config
	c.Extract = false
	if err := runPipeline(c); err != nil {
		t.Fatalf("the first study failed: %v", err)
	}

	// Runs in progress: a small checkpoint is carried, a big one is not;
	// nor is a finished run with a big model (fa_random's, with its dense
	// feedback matrix).
	fake := func(name string, files map[string]int64) {
		dir := filepath.Join(first, transforms.StageTrain, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for f, size := range files {
			if err := os.WriteFile(filepath.Join(dir, f), make([]byte, size), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	fake("0000000000000small", map[string]int64{transforms.StateDigestFile: 2, transforms.StateFile: 1 << 10})
	fake("00000000000000big", map[string]int64{transforms.StateDigestFile: 2, transforms.StateFile: 17 << 20})
	fake("0000000000bigdone", map[string]int64{transforms.ResultFile: 2, transforms.HistoryFile: 2, transforms.ModelFile: 17 << 20})

	box := filepath.Join(t.TempDir(), "carry.d")
	carry(t, box, "save", first)
	carried := stageFiles(t, box)
	var grid, runs int
	for p := range carried {
		switch {
		case strings.HasPrefix(p, "grid/") && strings.HasSuffix(p, "/"+transforms.ResultFile):
			grid++
		case strings.HasPrefix(p, "train/") && strings.HasSuffix(p, "/"+transforms.ModelFile):
			runs++
		}
	}
	if grid != 2 || runs != 1 {
		t.Fatalf("carried %d grid points and %d final models, want 2 and 1: %v", grid, runs, carried)
	}
	if _, ok := carried["train/0000000000000small/"+transforms.StateFile]; !ok {
		t.Errorf("the small checkpoint was not carried")
	}
	for p := range carried {
		if strings.Contains(p, "big") {
			t.Errorf("%s was carried: its stage has a 17 MiB file", p)
		}
	}
	entries, _ := os.ReadDir(box)
	for _, e := range entries {
		if e.Name() != transforms.StageGrid && e.Name() != transforms.StageTrain && e.Name() != "dataset" {
			t.Errorf("the carry holds %s; it must hold only the dataset's record, finished grid points and runs", e.Name())
		}
	}
	if ds, _ := filepath.Glob(filepath.Join(box, "dataset", "*", "*")); len(ds) != 1 || filepath.Base(ds[0]) != transforms.DatasetMetaFile {
		t.Errorf("the carry holds %v of the dataset, want its record (%s) alone", ds, transforms.DatasetMetaFile)
	}
	for _, p := range []string{"train/0000000000000small", "train/00000000000000big", "train/0000000000bigdone"} { // not part of the study
		os.RemoveAll(filepath.Join(box, p))
		os.RemoveAll(filepath.Join(first, p))
	}

	// Damage one carried grid history on the way.
	var damaged string
	for p := range carried {
		if strings.HasPrefix(p, "grid/") && strings.HasSuffix(p, "/"+transforms.HistoryFile) {
			damaged = p
			break
		}
	}
	want, err := os.ReadFile(filepath.Join(first, damaged))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(box, damaged), []byte(strings.Replace(string(want), "0", "1", 1)), 0o644); err != nil {
		t.Fatal(err)
	}

	second := t.TempDir()
	carry(t, box, "restore", second)
	old := time.Now().Add(-time.Hour).Truncate(time.Second)
	for p := range stageFiles(t, second) {
		if err := os.Chtimes(filepath.Join(second, p), old, old); err != nil {
			t.Fatal(err)
		}
	}
	c.Out = second
	if err := runPipeline(c); err != nil {
		t.Fatalf("the study resumed from the carry failed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(second, transforms.ResultsFile)); err != nil {
		t.Fatalf("the resumed study wrote no results: %v", err)
	}
	after := stageFiles(t, second)
	damagedDir := filepath.Dir(damaged)
	for p := range carried {
		if strings.Contains(p, "small") || strings.Contains(p, "big") {
			continue
		}
		mt, ok := after[p]
		switch {
		case !ok:
			t.Errorf("%s is gone after the resumed study", p)
		case filepath.Dir(p) == damagedDir:
			if mt.Equal(old) {
				t.Errorf("%s was trusted although %s was damaged", p, damaged)
			}
		case !mt.Equal(old):
			t.Errorf("%s was written again: the carried stage was not taken as done", p)
		}
	}
	got, err := os.ReadFile(filepath.Join(second, damaged))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("the damaged grid point, trained again, differs from the first study's")
	}
}
