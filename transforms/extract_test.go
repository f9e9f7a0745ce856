package transforms

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/fabeam/fabeam/artifacts/format"
	"github.com/fabeam/fabeam/engine/cifar"
	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/engine/train"
)

// TestExtractedFeaturesMatchAForwardPassOneImageAtATime recomputes rows of
// every feature file of the reference smoke run with a batch-of-one forward
// pass of the stored model, and compares every element.
func TestExtractedFeaturesMatchAForwardPassOneImageAtATime(t *testing.T) {
	referenceResults(t)
	dir := reference.dir
	metas, _ := filepath.Glob(filepath.Join(dir, "extract", "*", ExtractMetaFile))
	if n := len(nn.RuleNames()); len(metas) != n {
		t.Fatalf("%d extract.json files, want %d (one per rule)", len(metas), n)
	}
	b, _ := os.ReadFile(metas[0])
	var e ExtractResult
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	if want := []int{64 * 20 * 20, 64 * 6 * 6, 384, 192, 10}; !equalInts(e.Dims, want) {
		t.Fatalf("dims %v, want %v (docs/paper.md: conv1 25,600, conv2 2,304, fc1 384, fc2 192, fc3 10)", e.Dims, want)
	}
	ds, err := LoadDataset(context.Background(), dir, e.DatasetKey)
	if err != nil {
		t.Fatal(err)
	}
	if e.Val != ds.Val.Len() || e.Test != ds.Test.Len() {
		t.Fatalf("extract rows val %d test %d, dataset %d %d", e.Val, e.Test, ds.Val.Len(), ds.Test.Len())
	}
	mb, err := os.ReadFile(filepath.Join(dir, e.RunKey, ModelFile))
	if err != nil {
		t.Fatal(err)
	}
	p, _, _, err := train.DecodeModel(bytes.NewReader(mb), int64(len(mb)), "model")
	if err != nil {
		t.Fatal(err)
	}
	bp, _ := nn.NewRule("bp", 0, 0)
	m := nn.NewModel(p, bp, 1)
	files := make([]*format.File, nn.NumLayers)
	for l, name := range nn.LayerNames {
		fb, err := os.ReadFile(filepath.Join(dir, e.Key, name+".safetensors"))
		if err != nil {
			t.Fatal(err)
		}
		if files[l], err = format.ReadSafetensors(bytes.NewReader(fb), int64(len(fb)), format.Limits{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	pb, _ := os.ReadFile(filepath.Join(dir, e.Key, PredictionsFile))
	pf, err := format.ReadSafetensors(bytes.NewReader(pb), int64(len(pb)), format.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	labels, _ := pf.Read("labels")
	predT, _ := pf.Read("predictions")
	preds, err := predT.Int32s()
	if err != nil {
		t.Fatal(err)
	}
	n := e.Val + e.Test
	x := make([]float32, nn.InputC*nn.InputH*nn.InputW)
	// First and last validation rows, first and last test rows.
	for _, row := range []int{0, e.Val - 1, e.Val, n - 1} {
		img, label := ds.Val, row
		if row >= e.Val {
			img, label = ds.Test, row-e.Val
		}
		cifar.CenterCrop(x, img.Image(label))
		m.Forward(x, 1)
		if labels.Data[row] != img.Labels[label] {
			t.Errorf("row %d: label %d, want %d", row, labels.Data[row], img.Labels[label])
		}
		if got, want := int(preds[row]), m.Predict(nil)[0]; got != want {
			t.Errorf("row %d: prediction %d, want %d", row, got, want)
		}
		for l, f := range files {
			tt, err := f.Read("features")
			if err != nil {
				t.Fatal(err)
			}
			all, _ := tt.Float32s()
			d := e.Dims[l]
			if len(all) != n*d {
				t.Fatalf("%s: %d values, want %d×%d", nn.LayerNames[l], len(all), n, d)
			}
			want := m.PreActivation(l)
			for j, v := range all[row*d : (row+1)*d] {
				// Batched and single-image forward passes may sum in a
				// different order inside the GEMM: allow float32 rounding.
				if diff := v - want[j]; diff > 1e-4 || diff < -1e-4 {
					t.Fatalf("%s row %d col %d: %v, forward pass gives %v", nn.LayerNames[l], row, j, v, want[j])
				}
			}
		}
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// A run that diverged before completing an epoch has no usable weights:
// Extract must skip it (emitting nothing) rather than fail the pipeline on
// its non-finite checkpoint.
func TestExtractSkipsRunWithoutACompletedEpoch(t *testing.T) {
	f := &ExtractFn{Cfg: Config{Out: "mem://extract-skip-test", EvalBatch: 8}}
	run := RunResult{Key: "train/0123456789abcdef", Rule: "fa_random", Seed: 0, Diverged: true, DivergedStep: 3, BestEpoch: 0}
	emitted := 0
	if err := f.ProcessElement(context.Background(), run, func(ExtractResult) { emitted++ }); err != nil {
		t.Fatalf("extract of a run diverged in epoch 1: %v", err)
	}
	if emitted != 0 {
		t.Fatalf("extract emitted %d results for a run without weights", emitted)
	}
}
