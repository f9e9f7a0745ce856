package transforms

import (
	"math"
	"testing"

	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/engine/nn"
)

// diagMatrix is a 5×5 matrix with d on the diagonal and 0.1 elsewhere.
func diagMatrix(d ...float64) [][]float64 {
	m := make([][]float64, 5)
	for i := range m {
		m[i] = []float64{0.1, 0.1, 0.1, 0.1, 0.1}
		m[i][i] = d[i]
	}
	return m
}

// Hand-worked: two values a, b have mean (a+b)/2 and 95% half-width
// t(0.975, 1)·s/√2 = 12.7062047·|a−b|/2.
func TestKnowledgeSummaryOrdersByKnowledgeAndTakesDiagonalsOverSeeds(t *testing.T) {
	const t1 = 12.706204736174707
	seeds := func(acc ...float64) results.RuleResult {
		var rr results.RuleResult
		for i, a := range acc {
			rr.Seeds = append(rr.Seeds, results.SeedResult{Seed: i, TestAcc: a})
		}
		return rr
	}
	res := &results.Results{Rules: map[string]results.RuleResult{
		"fa_random": seeds(0.30, 0.40), "bp": seeds(0.70, 0.80), "usf_sn": seeds(0.72, 0.74)}}
	res.CKA = []results.CKAEntry{
		{Seed: 0, Rule: "fa_random", Reference: "bp", Subset: "all", Matrix: diagMatrix(0.6, 0.2, 0.2, 0.1, 0.1)},
		{Seed: 0, Rule: "usf_sn", Reference: "bp", Subset: "all", Matrix: diagMatrix(0.9, 0.8, 0.7, 0.6, 0.5)},
		{Seed: 0, Rule: "usf_sn", Reference: "bp", Subset: "bp_only", Matrix: diagMatrix(0, 0, 0, 0, 0)},
		{Seed: 0, Rule: "bp", Reference: "bp", ReferenceSeed: 1, Subset: "all", Matrix: diagMatrix(1, 0.9, 0.9, 0.9, 0.8)},
		{Seed: 1, Rule: "fa_random", Reference: "bp", Subset: "all", TooSmall: true},
		{Seed: 1, Rule: "usf_sn", Reference: "bp", Subset: "all", Matrix: diagMatrix(0.7, 0.8, 0.9, 0.6, 0.5)},
		{Seed: 1, Rule: "bp", Reference: "bp", ReferenceSeed: 0, Subset: "all", Matrix: diagMatrix(1, 0.9, 0.9, 0.9, 0.8)},
	}
	k, err := KnowledgeSummary(res)
	if err != nil {
		t.Fatal(err)
	}
	if k.Subset != "all" || len(k.Rules) != 3 {
		t.Fatalf("knowledge = %+v, want 3 rules on subset all", k)
	}
	for i, want := range []struct {
		rule string
		rank int
	}{{"bp", 0}, {"usf_sn", 1}, {"fa_random", 4}} {
		if r := k.Rules[i]; r.Rule != want.rule || r.Knowledge != want.rank {
			t.Errorf("row %d = %s (rank %d), want %s (rank %d)", i, r.Rule, r.Knowledge, want.rule, want.rank)
		}
	}
	close := func(what string, got results.MeanCI, mean, half float64, n int) {
		t.Helper()
		if math.Abs(got.Mean-mean) > 1e-12 || math.Abs(got.CI95-half) > 1e-9 || got.N != n {
			t.Errorf("%s = %+v, want mean %v ± %v over %d", what, got, mean, half, n)
		}
	}
	close("bp test accuracy", k.Rules[0].TestAcc, 0.75, t1*0.10/2, 2)
	close("usf_sn test accuracy", k.Rules[1].TestAcc, 0.73, t1*0.02/2, 2)
	if k.Rules[0].CKA != nil {
		t.Errorf("bp has a CKA row against itself: %+v", k.Rules[0].CKA)
	}
	u := k.Rules[1].CKA
	close("usf_sn conv1", u.Layers["conv1"], 0.8, t1*0.2/2, 2)
	close("usf_sn conv2", u.Layers["conv2"], 0.8, 0, 2)
	close("usf_sn fc1", u.Layers["fc1"], 0.8, t1*0.2/2, 2)
	// Per-seed means of the diagonal: 0.7 and 0.7, so no spread.
	close("usf_sn mean diagonal", u.Mean, 0.7, 0, 2)
	// fa_random: seed 1's subset was too small, one seed remains.
	close("fa_random conv1", k.Rules[2].CKA.Layers["conv1"], 0.6, 0, 1)
	close("fa_random mean diagonal", k.Rules[2].CKA.Mean, 0.24, 0, 1)
	if k.NoiseCeiling == nil {
		t.Fatal("no noise ceiling with two bp-vs-bp entries")
	}
	close("ceiling fc3", k.NoiseCeiling.Layers["fc3"], 0.8, 0, 2)
	close("ceiling mean", k.NoiseCeiling.Mean, 0.9, 0, 2)

	res.CKA = nil
	if k, _ = KnowledgeSummary(res); k.NoiseCeiling != nil || k.Rules[1].CKA != nil {
		t.Errorf("without CKA entries: ceiling %+v, usf_sn %+v; want neither", k.NoiseCeiling, k.Rules[1].CKA)
	}
	if k, _ := KnowledgeSummary(&results.Results{}); k != nil {
		t.Errorf("no rules gave %+v, want nil", k)
	}
}

// Every configured rule gets an efficiency row with its declared feedback
// sizes (nn.RuleSpec), whether or not a run measured it; images/s is the
// mean over the runs that measured it.
func TestEfficiencyRowsCoverEveryConfiguredRule(t *testing.T) {
	c := Config{Rules: nn.RuleNames()}
	env := &studyReport{Cfg: c, Gathered: &gathered{Runs: []RunResult{
		{Rule: "bp", Seed: 0, ImagesPerSec: 800, BackwardShare: 0.5},
		{Rule: "bp", Seed: 1, ImagesPerSec: 600, BackwardShare: 0.7},
		{Rule: "fa_random", Seed: 0, ImagesPerSec: 500, BackwardShare: 0.6},
	}}}
	rows := efficiencyRows(env)
	if len(rows) != len(nn.RuleNames()) {
		t.Fatalf("%d rows for %d rules", len(rows), len(nn.RuleNames()))
	}
	for i, s := range nn.Specs() {
		r := rows[i]
		if r.Rule != s.Name || r.FeedbackParams != s.StoredFeedback || r.DerivedFeedback != s.DerivedFeedback ||
			r.ExtraBytes != 4*(s.StoredFeedback+s.DerivedFeedback) {
			t.Errorf("row %d = %+v, want %s's declared sizes %d stored, %d derived", i, r, s.Name, s.StoredFeedback, s.DerivedFeedback)
		}
	}
	if r := rows[0]; r.ImagesPerSec != 700 || r.Runs != 2 || math.Abs(r.BackwardShare-0.6) > 1e-12 {
		t.Errorf("bp row %+v, want 700 images/s over 2 runs, share 0.6", r)
	}
	if r := rows[len(rows)-1]; r.ImagesPerSec != 0 || r.Runs != 0 {
		t.Errorf("an unmeasured rule shows %v images/s over %d runs", r.ImagesPerSec, r.Runs)
	}
}
