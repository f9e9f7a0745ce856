package transforms

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/artifacts/store"
)

// The golden smoke study, stage by stage: for every stage key of the
// smoke preset run on the direct runner, the SHA-256 of each of its
// deterministic artifacts, and the FormatVersion it was made under. A
// stage's key is a hash of everything it is computed from, so a stage
// whose key did not change must produce the same bytes; if it does not,
// the numerics or the layout changed and FormatVersion must be bumped
// (else a cached long run would mix old results with new). New stage keys
// (a rule added to the smoke preset, a new setting) change nothing
// cached: they pass, with a request to regenerate the golden.
//
// Completion records are digested as a deterministic projection: the
// record without its wall-clock fields (WallSeconds, ImagesPerSec,
// BackwardShare), its Skipped flag and its integrity fields (artifacts,
// inputs, seal; the artifacts are digested themselves). results.json is
// the report's artifact, under a key made from the results schema version
// and every stage key the study holds.
//
// To regenerate the golden on purpose (after bumping FormatVersion, or
// when the smoke preset gained stages), run
//
//	FABEAM_UPDATE_GOLDEN=1 go test ./transforms -run TestSmokeStagesMatchTheGolden
//
// and commit the file.
const (
	goldenStages    = "testdata/golden/smoke-stages.json"
	updateGoldenEnv = "FABEAM_UPDATE_GOLDEN"
)

// stageGolden is the golden file: stage key → file name → SHA-256.
type stageGolden struct {
	FormatVersion int                          `json:"format_version"`
	Stages        map[string]map[string]string `json:"stages"`
}

// stageNames are the first key segments of content-addressed stages.
var stageNames = []string{"dataset", StageGrid, StageTrain, "extract", StageCompare, StageSaliency}

// recordFiles are the completion records, digested by projection.
var recordFiles = map[string]bool{DatasetMetaFile: true, ResultFile: true, ExtractMetaFile: true, CompareFile: true, SaliencyFile: true}

// nondeterministic are the record fields left out of their projection.
var nondeterministic = []string{"WallSeconds", "wall_seconds", "ImagesPerSec", "BackwardShare", "Skipped", "skipped",
	fieldArtifacts, fieldInputs, fieldSeal}

// projection returns the deterministic part of a completion record.
func projection(name string, b []byte) ([]byte, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	for _, k := range nondeterministic {
		delete(m, k)
	}
	return json.Marshal(m)
}

// reportKey is the key results.json is checked under: the results schema
// version and every stage key of the study.
func reportKey(stageKeys []string) string {
	return StageKey("report", struct {
		Results int `json:"results_format_version"`
	}{results.FormatVersion}, stageKeys...)
}

// studyDigests digests every stage of the study in st (see stageGolden).
func studyDigests(ctx context.Context, st store.Store) (map[string]map[string]string, error) {
	keys, err := st.List(ctx, "")
	if err != nil {
		return nil, err
	}
	out := map[string]map[string]string{}
	for _, k := range keys {
		parts := strings.SplitN(k, "/", 3)
		if len(parts) != 3 || !slices.Contains(stageNames, parts[0]) || parts[2] == StateFile || parts[2] == StateDigestFile {
			continue
		}
		b, err := st.Get(ctx, k)
		if err != nil {
			return nil, err
		}
		if recordFiles[parts[2]] {
			if b, err = projection(k, b); err != nil {
				return nil, err
			}
		}
		sk := parts[0] + "/" + parts[1]
		if out[sk] == nil {
			out[sk] = map[string]string{}
		}
		sum := sha256.Sum256(b)
		out[sk][parts[2]] = hex.EncodeToString(sum[:])
	}
	var stageKeys []string
	for k := range out {
		stageKeys = append(stageKeys, k)
	}
	sort.Strings(stageKeys)
	b, err := st.Get(ctx, ResultsFile)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(b)
	out[reportKey(stageKeys)] = map[string]string{ResultsFile: hex.EncodeToString(sum[:])}
	return out, nil
}

// compareStages checks got (made under version) against golden. It fails
// when the versions differ, or when a stage key present in both has other
// artifacts; keys in only one side come back as notes asking for a
// regeneration.
func compareStages(golden stageGolden, got map[string]map[string]string, version int) (notes []string, err error) {
	if golden.FormatVersion != version {
		return nil, fmt.Errorf("FormatVersion is %d but the golden %s was made under %d: regenerate it on purpose with %s=1 (see golden_test.go) and commit it",
			version, goldenStages, golden.FormatVersion, updateGoldenEnv)
	}
	var keys []string
	for k := range got {
		keys = append(keys, k)
	}
	for k := range golden.Stages {
		if _, ok := got[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var changed []string
	for _, k := range keys {
		want, inGolden := golden.Stages[k]
		have, inRun := got[k]
		switch {
		case !inGolden:
			notes = append(notes, "new stage "+k)
			continue
		case !inRun:
			notes = append(notes, "stage "+k+" is no longer made")
			continue
		}
		var files []string
		for f := range want {
			files = append(files, f)
		}
		for f := range have {
			if _, ok := want[f]; !ok {
				files = append(files, f)
			}
		}
		sort.Strings(files)
		for _, f := range files {
			if want[f] != have[f] {
				changed = append(changed, fmt.Sprintf("%s/%s (sha256 %.12s, golden %.12s)", k, f, have[f], want[f]))
			}
		}
	}
	if len(changed) > 0 {
		return notes, fmt.Errorf("stage artifacts changed while their stage keys did not: %s; the numerics or the layout changed: bump FormatVersion (transforms/keys.go) and regenerate the golden with %s=1",
			strings.Join(changed, ", "), updateGoldenEnv)
	}
	return notes, nil
}

func readGolden() (stageGolden, error) {
	var g stageGolden
	b, err := os.ReadFile(goldenStages)
	if err != nil {
		return g, err
	}
	if err := json.Unmarshal(b, &g); err != nil {
		return g, fmt.Errorf("%s: %w", goldenStages, err)
	}
	return g, nil
}

func TestSmokeStagesMatchTheGolden(t *testing.T) {
	referenceResults(t)
	st, err := store.Open(context.Background(), reference.dir)
	if err != nil {
		t.Fatal(err)
	}
	got, err := studyDigests(context.Background(), st)
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv(updateGoldenEnv) == "1" {
		b, _ := json.MarshalIndent(stageGolden{FormatVersion: FormatVersion, Stages: got}, "", "  ")
		if err := os.MkdirAll(filepath.Dir(goldenStages), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(goldenStages, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s (%d stages, FormatVersion %d)", goldenStages, len(got), FormatVersion)
		return
	}
	golden, err := readGolden()
	if err != nil {
		t.Fatal(err)
	}
	notes, err := compareStages(golden, got, FormatVersion)
	if err != nil {
		t.Fatal(err)
	}
	if len(notes) > 0 {
		t.Logf("the golden lacks or has extra stages (%s): regenerate it with %s=1 and commit it; nothing cached changed",
			strings.Join(notes, "; "), updateGoldenEnv)
	}
}

// The check must fail on a changed byte in a stage whose key is unchanged
// (and in results.json), and pass when only new stage keys appear.
func TestGoldenCheckFailsOnAChangedStageAndPassesNewStages(t *testing.T) {
	ctx := context.Background()
	st := store.NewMemory()
	put := func(k, v string) {
		if err := st.Put(ctx, k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	put("train/aaaa/model.safetensors", "weights")
	put("train/aaaa/result.json", `{"Rule":"bp","TestAcc":0.5,"WallSeconds":3}`)
	put("dataset/bbbb/dataset.safetensors", "images")
	put("runs/bp/seed0/model.safetensors", "weights") // not a stage: not digested
	put(ResultsFile, `{"rules":{}}`)
	digest := func() map[string]map[string]string {
		d, err := studyDigests(ctx, st)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	golden := stageGolden{FormatVersion: FormatVersion, Stages: digest()}
	if len(golden.Stages) != 3 {
		t.Fatalf("digested %d stages, want 3 (train, dataset, report): %v", len(golden.Stages), golden.Stages)
	}
	if _, err := compareStages(golden, digest(), FormatVersion); err != nil {
		t.Fatalf("the golden does not match itself: %v", err)
	}
	// Wall clock is not a change.
	put("train/aaaa/result.json", `{"Rule":"bp","TestAcc":0.5,"WallSeconds":4}`)
	if _, err := compareStages(golden, digest(), FormatVersion); err != nil {
		t.Errorf("a different WallSeconds failed the check: %v", err)
	}
	// One changed byte in a stage whose key did not change.
	put("train/aaaa/model.safetensors", "weightz")
	if _, err := compareStages(golden, digest(), FormatVersion); err == nil || !strings.Contains(err.Error(), "train/aaaa/model.safetensors") ||
		!strings.Contains(err.Error(), "bump FormatVersion") {
		t.Errorf("a changed model byte passed the check (err %v)", err)
	}
	put("train/aaaa/model.safetensors", "weights")
	put("train/aaaa/result.json", `{"Rule":"bp","TestAcc":0.6,"WallSeconds":3}`)
	if _, err := compareStages(golden, digest(), FormatVersion); err == nil || !strings.Contains(err.Error(), "result.json") {
		t.Errorf("a changed accuracy passed the check (err %v)", err)
	}
	put("train/aaaa/result.json", `{"Rule":"bp","TestAcc":0.5,"WallSeconds":3}`)
	// results.json changed while every stage key stayed: the report changed.
	put(ResultsFile, `{"rules":{"x":{}}}`)
	if _, err := compareStages(golden, digest(), FormatVersion); err == nil || !strings.Contains(err.Error(), ResultsFile) {
		t.Errorf("a changed results.json under the same stage keys passed the check (err %v)", err)
	}
	// A new stage (a rule added to the preset) changes results.json too,
	// and its report key with it: only new keys, so it passes, with notes.
	put("train/cccc/model.safetensors", "other weights")
	notes, err := compareStages(golden, digest(), FormatVersion)
	if err != nil {
		t.Errorf("only new stage keys failed the check: %v", err)
	}
	if len(notes) != 3 { // the new train stage, the new report key, the old report key
		t.Errorf("notes %q, want 3 (a new stage, a new report key, the old one gone)", notes)
	}
	if _, err := compareStages(golden, digest(), FormatVersion+1); err == nil || !strings.Contains(err.Error(), updateGoldenEnv) {
		t.Errorf("a bumped FormatVersion passed the check (err %v)", err)
	}
}
