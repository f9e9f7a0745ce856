package results

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
)

func head(x float64) *float64 { return &x }

// publishedFixture is a two-rule, two-seed study with one of everything
// Compare reads.
func publishedFixture() Results {
	hp := Hyperparameters{LR: 1e-3, Epochs: 50, BatchSize: 128}
	fa := Hyperparameters{LR: 1e-3, Sigma: 0.1, Epochs: 50, BatchSize: 128}
	return Results{
		FormatVersion: FormatVersion, Preset: "paper", TestHead: 1000,
		Rules: map[string]RuleResult{
			"bp": {Hyperparameters: hp, Seeds: []SeedResult{
				{Seed: 0, BestValAcc: 0.7536, TestAcc: 0.7193, TestHeadAcc: head(0.768), BestEpoch: 33, Model: "train/a/model.safetensors", History: "train/a/history.json"},
				{Seed: 1, BestValAcc: 0.7550, TestAcc: 0.7224, TestHeadAcc: head(0.771), BestEpoch: 47, Model: "train/b/model.safetensors", History: "train/b/history.json"},
			}},
			"fa_random": {Hyperparameters: fa, Seeds: []SeedResult{
				{Seed: 0, BestValAcc: 0.2956, TestAcc: 0.2908, BestEpoch: 41, Model: "train/c/model.safetensors", History: "train/c/history.json"},
				{Seed: 1, BestValAcc: 0.3434, TestAcc: 0.3329, BestEpoch: 44, Model: "train/d/model.safetensors", History: "train/d/history.json"},
			}},
		},
		Grid: []GridPoint{
			{Rule: "bp", Point: Hyperparameters{LR: 1e-3, Epochs: 3, BatchSize: 128}, ValAcc: 0.608, BestValAcc: 0.608},
			{Rule: "fa_random", Point: Hyperparameters{LR: 1e-3, Sigma: 0.1, Epochs: 3, BatchSize: 128}, ValAcc: 0.1918, BestValAcc: 0.2011},
		},
		CKA: []CKAEntry{
			{Seed: 0, Rule: "fa_random", Reference: "bp", Subset: "all", N: 15000, Matrix: [][]float64{{0.6, 0.1}, {0.2, 0.3}}, Estimator: "minibatch_unbiased"},
			{Seed: 1, Rule: "bp", Reference: "bp", ReferenceSeed: 0, Subset: "all", N: 15000, Matrix: [][]float64{{0.99}}, Estimator: "minibatch_unbiased"},
		},
		Saliency: map[string][]SaliencyResult{"bp": {
			{Seed: 0, Layers: []LayerChannel{{Layer: "conv2", Importance: []float64{0.5, 0.25}, Top: []TopChannel{{Channel: 0, Importance: 0.5, Exemplars: []int{7, 3}, Activation: []float64{2, 1}}}}}},
			{Seed: 1, Layers: []LayerChannel{{Layer: "conv2", Importance: []float64{0.4, 0.3}}}},
		}},
		PerClass: map[string]PerClass{"bp": {Accuracy: []float64{0.8, 0.7}}, "fa_random": {Accuracy: []float64{0.4, 0.2}, DeficitVsBP: []float64{0.4, 0.5}, WorstClass: "automobile", WorstClassIdx: 1, WorstClassDrop: 0.5}},
		Knowledge: &Knowledge{Subset: "all", Rules: []KnowledgeRule{
			{Rule: "bp", TestAcc: MeanCI{Mean: 0.72, CI95: 0.02, N: 2}},
			{Rule: "fa_random", Knowledge: 4, TestAcc: MeanCI{Mean: 0.31, CI95: 0.27, N: 2}},
		}, NoiseCeiling: &DiagonalCKA{Layers: map[string]MeanCI{"conv1": {Mean: 0.99, N: 1}}, Mean: MeanCI{Mean: 0.99, N: 1}}},
	}
}

// clone deep-copies r through its JSON form, as a second study's
// results.json would be read.
func clone(t *testing.T, r Results) Results {
	t.Helper()
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var out Results
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func summarise(cs []Check) string {
	var b strings.Builder
	for _, c := range cs {
		mark := "same"
		if !c.Same {
			mark = "DIFFERS"
		}
		b.WriteString(mark + " " + c.What + ": " + c.Detail + "\n")
	}
	return b.String()
}

func TestCompareAStudyWithItself(t *testing.T) {
	pub := publishedFixture()
	cs := Compare(pub, clone(t, pub))
	// 2 hyper-parameter sets, 4 seeds, 2 grid points, 2 CKA matrices, 2
	// saliency results, 2 per-class, 2 knowledge lines, the noise ceiling.
	if len(cs) != 17 {
		t.Fatalf("%d checks, want 17:\n%s", len(cs), summarise(cs))
	}
	for _, c := range cs {
		if !c.Same {
			t.Errorf("a study differs from its own copy:\n%s", summarise(cs))
			break
		}
	}
}

// TestCompareASubsetChecksOnlyWhatItRan: a study of bp seed 0 alone is
// checked on its hyper-parameters, its run, its grid point and its
// saliency; the summaries over seeds (per-class accuracy, knowledge, the
// noise ceiling) are over other seeds than the published ones and are
// not compared.
func TestCompareASubsetChecksOnlyWhatItRan(t *testing.T) {
	pub := publishedFixture()
	mine := clone(t, pub)
	mine.Rules = map[string]RuleResult{"bp": {Hyperparameters: pub.Rules["bp"].Hyperparameters, Seeds: pub.Rules["bp"].Seeds[:1]}}
	mine.Grid = mine.Grid[:1]
	mine.CKA = nil
	mine.Saliency = map[string][]SaliencyResult{"bp": mine.Saliency["bp"][:1]}
	mine.PerClass = map[string]PerClass{"bp": {Accuracy: []float64{0.81, 0.69}}}
	mine.Knowledge = &Knowledge{Subset: "all", Rules: []KnowledgeRule{{Rule: "bp", TestAcc: MeanCI{Mean: 0.7193, N: 1}}}}
	cs := Compare(pub, mine)
	want := []string{"bp hyper-parameters", "bp seed 0", "grid bp lr=0.001 wd=0 sigma=0 epochs=3 batch=128", "saliency bp seed 0"}
	if len(cs) != len(want) {
		t.Fatalf("%d checks, want %d:\n%s", len(cs), len(want), summarise(cs))
	}
	for i, c := range cs {
		if c.What != want[i] || !c.Same {
			t.Errorf("check %d: %q same=%v, want %q same:\n%s", i, c.What, c.Same, want[i], summarise(cs))
		}
	}
}

// TestCompareFindsADifferenceOfOneBit changes each kind of result by the
// smallest step a float64 can take and expects exactly that check to fail,
// naming the field and both values.
func TestCompareFindsADifferenceOfOneBit(t *testing.T) {
	up := func(x float64) float64 { return math.Nextafter(x, 2) }
	cases := []struct {
		name, what, detail string
		edit               func(r *Results)
	}{
		{"best val", "bp seed 1", "BestValAcc: published 0.755, mine 0.7550000000000001", func(r *Results) { r.Rules["bp"].Seeds[1].BestValAcc = up(0.7550) }},
		{"test head", "bp seed 0", "TestHeadAcc: published 0.768, mine absent", func(r *Results) { r.Rules["bp"].Seeds[0].TestHeadAcc = nil }},
		{"model key", "fa_random seed 0", "Model: published train/c/model.safetensors, mine train/x/model.safetensors", func(r *Results) { r.Rules["fa_random"].Seeds[0].Model = "train/x/model.safetensors" }},
		{"grid", "grid fa_random lr=0.001 wd=0 sigma=0.1 epochs=3 batch=128", "ValAcc: published 0.1918, mine 0.19180000000000003", func(r *Results) { r.Grid[1].ValAcc = up(0.1918) }},
		{"cka", "CKA fa_random seed 0 against bp seed 0, subset all", "Matrix: published [[0.6 0.1] [0.2 0.3]], mine [[0.6 0.1] [0.2 0.30000000000000004]]", func(r *Results) { r.CKA[0].Matrix[1][1] = up(0.3) }},
		{"saliency", "saliency bp seed 0", "channel importances or exemplars differ", func(r *Results) { r.Saliency["bp"][0].Layers[0].Top[0].Exemplars[1] = 4 }},
		{"per class", "per-class accuracy fa_random", "differs", func(r *Results) { r.PerClass["fa_random"].DeficitVsBP[0] = up(0.4) }},
		{"ceiling", "noise ceiling (bp against bp)", "differs", func(r *Results) { r.Knowledge.NoiseCeiling.Mean.Mean = up(0.99) }},
		{"hyper-parameters", "fa_random hyper-parameters", "published lr=0.001 wd=0 sigma=0.1 epochs=50 batch=128, mine lr=0.001 wd=0 sigma=0.05 epochs=50 batch=128", func(r *Results) {
			rr := r.Rules["fa_random"]
			rr.Hyperparameters.Sigma = 0.05
			r.Rules["fa_random"] = rr
		}},
		{"unpublished rule", "usf_sn", "not in the published results", func(r *Results) { r.Rules["usf_sn"] = RuleResult{} }},
		{"unpublished seed", "bp seed 2", "not in the published results", func(r *Results) {
			rr := r.Rules["bp"]
			rr.Seeds = append(rr.Seeds, SeedResult{Seed: 2})
			r.Rules["bp"] = rr
		}},
		{"format", "format version", "published 2, mine 3: results of different format versions come from different stage keys and are not expected to agree", func(r *Results) { r.FormatVersion = 3 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pub := publishedFixture()
			mine := clone(t, pub)
			tc.edit(&mine)
			var failed []Check
			for _, c := range Compare(pub, mine) {
				if !c.Same {
					failed = append(failed, c)
				}
			}
			if len(failed) != 1 || failed[0].What != tc.what || failed[0].Detail != tc.detail {
				t.Errorf("failed checks:\n%swant only %s: %s", summarise(failed), tc.what, tc.detail)
			}
		})
	}
}
