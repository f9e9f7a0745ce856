package transforms

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/artifacts/format"
	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/artifacts/store"
	"github.com/fabeam/fabeam/engine/cka"
	"github.com/fabeam/fabeam/engine/compare"
	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/engine/rng"
)

// fakeModel is a hand-made extraction: 12 images (4 val, 8 test), small
// random features per layer, and chosen predictions.
type fakeModel struct {
	rule   string
	seed   int
	layers [nn.NumLayers][]float32
	pred   []int32
}

var (
	fakeDims   = []int{6, 5, 4, 3, 10}
	fakeLabels = []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1}
)

func newFakeModel(rule string, seed int, pred []int32) fakeModel {
	m := fakeModel{rule: rule, seed: seed, pred: pred}
	r := rng.New(uint64(seed)*7+uint64(len(rule)), "test/"+rule)
	for l, d := range fakeDims {
		m.layers[l] = make([]float32, len(fakeLabels)*d)
		r.FillNormal(m.layers[l], 1)
	}
	return m
}

// writeFake stores m as Extract and Train would (features, predictions,
// extract.json, the run's result.json) and returns its ExtractResult.
func writeFake(t *testing.T, st store.Store, m fakeModel, diverged bool) ExtractResult {
	t.Helper()
	ctx := context.Background()
	e := ExtractResult{Key: "extract/" + m.rule + string(rune('0'+m.seed)), RunKey: "train/" + m.rule + string(rune('0'+m.seed)),
		DatasetKey: "dataset/x", Rule: m.rule, Seed: m.seed, Val: 4, Test: 8, Dims: fakeDims}
	n := len(fakeLabels)
	for l, name := range nn.LayerNames {
		var buf bytes.Buffer
		if err := format.WriteSafetensors(&buf, []format.Tensor{format.F32Tensor("features", []int{n, fakeDims[l]}, m.layers[l])}, nil); err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, store.Join(e.Key, name+".safetensors"), buf.Bytes()); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := format.WriteSafetensors(&buf, []format.Tensor{format.U8Tensor("labels", []int{n}, fakeLabels),
		format.I32Tensor("predictions", []int{n}, m.pred)}, nil); err != nil {
		t.Fatal(err)
	}
	if err := st.Put(ctx, store.Join(e.Key, PredictionsFile), buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	run := RunResult{Stage: StageTrain, Key: e.RunKey, Rule: m.rule, Seed: m.seed, Diverged: diverged}
	if diverged {
		run.DivergedStep = 17
	}
	if err := putJSON(ctx, st, store.Join(e.RunKey, ResultFile), run); err != nil {
		t.Fatal(err)
	}
	// The extraction's record, which a comparison records as its input.
	if err := putJSON(ctx, st, store.Join(e.Key, ExtractMetaFile), e); err != nil {
		t.Fatal(err)
	}
	return e
}

func (m fakeModel) matrices() []cka.Matrix {
	var out []cka.Matrix
	for l, d := range fakeDims {
		out = append(out, cka.NewMatrix(len(fakeLabels), d, m.layers[l]))
	}
	return out
}

// TestCompareFnComputesAllSubsetsMarksTooSmallAndSkipsOnRerun runs one
// seed's task on hand-made features with CKA minibatches of 8: the subset
// "all" (12 images) gets a matrix equal, element for element, to
// cka.MinibatchMatrix on the same features with the seed-0 options; both
// correct (5 images) and bp only (3) are smaller than a minibatch and come
// back TooSmall with their sizes; a diverged model gives no entry and a
// note; and a second run reads every comparison back (Skipped) unchanged.
func TestCompareFnComputesAllSubsetsMarksTooSmallAndSkipsOnRerun(t *testing.T) {
	ctx := context.Background()
	c := Config{Out: "mem://compare-fn-test", EvalBatch: 4, CKA: CKAConfig{BatchSize: 8, Passes: 2, Seed: 3}}
	st, err := openStore(ctx, c.Out)
	if err != nil {
		t.Fatal(err)
	}
	// bp right on images 0..7, wrong on 8..11; the rule right on 0..4 only.
	// both correct: 0..4 (5); bp only: 5..7 (3).
	bpPred := []int32{0, 1, 2, 3, 4, 5, 6, 7, 0, 0, 1, 0}
	rulePred := []int32{0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 1, 0}
	bp := newFakeModel("bp", 0, bpPred)
	fa := newFakeModel("fa_toeplitz", 0, rulePred)
	task := CompareTask{Seed: 0, Ref: writeFake(t, st, bp, false), Rules: []ExtractResult{
		writeFake(t, st, fa, false), writeFake(t, st, newFakeModel("usf_sn", 0, rulePred), true)}}

	run := func() []CompareResult {
		var got []CompareResult
		err := (&CompareFn{Cfg: c}).ProcessElement(ctx, task, func(cr CompareResult) {
			got = append(got, cr)
		})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	first := run()
	if len(first) != 2 {
		t.Fatalf("%d comparisons, want 2 (fa_toeplitz and usf_sn against bp)", len(first))
	}
	want, err := cka.MinibatchMatrix(fa.matrices(), bp.matrices(), cka.MinibatchOptions{BatchSize: 8, Passes: 2, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	wantEntries := []results.CKAEntry{
		{Seed: 0, Rule: "fa_toeplitz", Reference: "bp", ReferenceSeed: 0, Subset: "all", N: 12, Matrix: want, Estimator: compare.Estimator},
		{Seed: 0, Rule: "fa_toeplitz", Reference: "bp", ReferenceSeed: 0, Subset: "both_correct", N: 5, TooSmall: true, Estimator: compare.Estimator},
		{Seed: 0, Rule: "fa_toeplitz", Reference: "bp", ReferenceSeed: 0, Subset: "bp_only", N: 3, TooSmall: true, Estimator: compare.Estimator},
	}
	if got := first[0].Entries; !reflect.DeepEqual(got, wantEntries) {
		t.Errorf("fa_toeplitz entries:\n got %+v\nwant %+v", got, wantEntries)
	}
	if first[0].Key != CompareKey(c, task.Rules[0], task.Ref) || first[0].Skipped {
		t.Errorf("fa_toeplitz key %q skipped %v, want %q, not skipped", first[0].Key, first[0].Skipped, CompareKey(c, task.Rules[0], task.Ref))
	}
	if d := first[1]; len(d.Entries) != 0 || len(d.Notes) != 1 || !strings.Contains(d.Notes[0], "usf_sn seed 0 diverged at step 17") {
		t.Errorf("diverged usf_sn: entries %v notes %q, want none and one note naming the divergence", d.Entries, d.Notes)
	}
	second := run()
	for i := range first {
		if !second[i].Skipped {
			t.Errorf("re-run of comparison %d not skipped", i)
		}
		second[i].Skipped = false
		if !reflect.DeepEqual(second[i], first[i]) {
			t.Errorf("re-run of comparison %d read back %+v, want %+v", i, second[i], first[i])
		}
	}
	// Another CKA seed is another key: nothing is reused.
	c2 := c
	c2.CKA.Seed = 4
	if CompareKey(c2, task.Rules[0], task.Ref) == first[0].Key {
		t.Error("CompareKey ignores the CKA seed")
	}
}

func TestCompareTasksGroupSeedsAndPairEachBPWithTheNextSeedsBP(t *testing.T) {
	ex := func(rule string, seed int) ExtractResult {
		return ExtractResult{Key: rule + string(rune('0'+seed)), Rule: rule, Seed: seed}
	}
	all := []ExtractResult{ex("usf_sn", 2), ex("bp", 2), ex("fa_random", 0), ex("bp", 0), ex("usf_sn", 0), ex("bp", 5), ex("fa_random", 7)}
	got := compareTasks(all)
	want := []CompareTask{
		{Seed: 0, Ref: ex("bp", 0), Rules: []ExtractResult{ex("fa_random", 0), ex("usf_sn", 0)}, Ceiling: []ExtractResult{ex("bp", 2)}},
		{Seed: 2, Ref: ex("bp", 2), Rules: []ExtractResult{ex("usf_sn", 2)}, Ceiling: []ExtractResult{ex("bp", 5)}},
		{Seed: 5, Ref: ex("bp", 5), Ceiling: []ExtractResult{ex("bp", 0)}},
		// seed 7 has no bp model: no task.
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("tasks:\n got %+v\nwant %+v", got, want)
	}
	one := compareTasks([]ExtractResult{ex("bp", 0), ex("fa_random", 0)})
	if len(one) != 1 || len(one[0].Ceiling) != 0 {
		t.Errorf("one seed: tasks %+v, want one without a ceiling", one)
	}
}

func TestFiniteEntriesDropsMatricesWithUndefinedCellsAndSaysWhere(t *testing.T) {
	ok := [][]float64{{1, 0.5, 0.4, 0.3, 0.2}, {0.5, 1, 0.5, 0.4, 0.3}, {0.4, 0.5, 1, 0.5, 0.4}, {0.3, 0.4, 0.5, 1, 0.5}, {0.2, 0.3, 0.4, 0.5, 1}}
	bad := make([][]float64, 5)
	for i := range bad {
		bad[i] = append([]float64(nil), ok[i]...)
	}
	bad[3][1] = math.NaN()
	bad[4][4] = math.Inf(1)
	in := []results.CKAEntry{
		{Subset: "all", N: 300, Matrix: ok},
		{Subset: "both_correct", N: 280, Matrix: bad},
		{Subset: "bp_only", N: 20, TooSmall: true},
	}
	got, notes := finiteEntries(in, "CKA of x")
	if !reflect.DeepEqual(got, []results.CKAEntry{in[0], in[2]}) {
		t.Errorf("kept %+v, want the finite and the too-small entries", got)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "both_correct (n = 280)") || !strings.Contains(notes[0], "fc2×conv2, fc3×fc3") {
		t.Errorf("notes %q, want one naming the subset and the cells fc2×conv2, fc3×fc3", notes)
	}
	if _, err := json.Marshal(got); err != nil {
		t.Errorf("kept entries are not JSON: %v", err)
	}
}
