package figures

import (
	"math"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/artifacts/results"
)

func seedRuns(val, test, head []float64) []results.SeedResult {
	var out []results.SeedResult
	for i := range val {
		s := results.SeedResult{Seed: i, BestValAcc: val[i], TestAcc: test[i], BestEpoch: 1}
		if head != nil {
			h := head[i]
			s.TestHeadAcc = &h
		}
		out = append(out, s)
	}
	return out
}

// TestVerdictsJudgeThePaperAgainstWhereOneRunOfOursFalls checks the
// verdicts against intervals worked out by hand. Three seeds a, a+0.01,
// a+0.02 have mean a+0.01 and s = 0.01, so one further run falls within
// ±t(0.975, 2)·0.01·√(4/3) = ±0.0496828 of the mean. On 1,000 leading test
// records with mean 0.77 the sampling error adds 1.96·√(0.77·0.23·0.0009)
// = 0.0247445 in quadrature: ±0.0555037. The paper's numbers are its
// Table 1 (bp 75.92/75.80, fa_random 36.14/35.77) and Fig. 8 (fa_random's
// CKA diagonal .60 .24 .22 …).
func TestVerdictsJudgeThePaperAgainstWhereOneRunOfOursFalls(t *testing.T) {
	res := results.Results{
		TestHead: 1000,
		Rules: map[string]results.RuleResult{
			"bp":        {Seeds: seedRuns([]float64{.70, .71, .72}, []float64{.70, .71, .72}, []float64{.76, .77, .78})},
			"fa_random": {Seeds: seedRuns([]float64{.30, .31, .32}, []float64{.40, .41, .42}, nil)},
			"usf_init":  {Seeds: seedRuns([]float64{.74}, []float64{.74}, nil)},
		},
		Knowledge: &results.Knowledge{Subset: "all", Rules: []results.KnowledgeRule{
			{Rule: "fa_random", CKA: &results.DiagonalCKA{Layers: map[string]results.MeanCI{
				"conv1": {Mean: .57, CI95: .02, N: 3},  // ±.04: .53–.61 holds .60
				"conv2": {Mean: .30, CI95: .01, N: 3},  // ±.02: .28–.32, .24 is below
				"fc1":   {Mean: .20, CI95: .005, N: 3}, // ±.01: .19–.21, .22 is above even with the rounding's .005
				"fc2":   {Mean: .15, CI95: .003, N: 3}, // ±.006: .144–.156, .16 is within .156+.005
			}}},
		}},
	}
	type want struct {
		rule, quantity string
		low, high      float64
		outcome        string
	}
	const w3 = 0.04968275423687509
	wants := []want{
		{"bp", "best validation accuracy", .71 - w3, .71 + w3, "agrees"},
		{"bp", "test accuracy, whole test file", .71 - w3, .71 + w3, "agrees"},
		{"bp", "test accuracy, records 0–999", .77 - 0.05550374933274478, .77 + 0.05550374933274478, "agrees"},
		{"fa_random", "best validation accuracy", .31 - w3, .31 + w3, "paper higher"},
		{"fa_random", "test accuracy, whole test file", .41 - w3, .41 + w3, "paper lower"},
		{"usf_init", "best validation accuracy", .74, .74, "one seed: not judged"},
		{"usf_init", "test accuracy, whole test file", .74, .74, "one seed: not judged"},
		{"fa_random", "CKA with BP (subset all), conv1", .53, .61, "agrees"},
		{"fa_random", "CKA with BP (subset all), conv2", .28, .32, "paper lower"},
		{"fa_random", "CKA with BP (subset all), fc1", .19, .21, "paper higher"},
		{"fa_random", "CKA with BP (subset all), fc2", .144, .156, "agrees"},
	}
	got := Verdicts(res)
	if len(got) != len(wants) {
		for _, v := range got {
			t.Logf("%s %s %.4f–%.4f %s", v.Rule, v.Quantity, v.Low, v.High, v.Outcome())
		}
		t.Fatalf("got %d verdicts, want %d", len(got), len(wants))
	}
	for i, w := range wants {
		v := got[i]
		if v.Rule != w.rule || v.Quantity != w.quantity {
			t.Errorf("verdict %d is %s %q, want %s %q", i, v.Rule, v.Quantity, w.rule, w.quantity)
			continue
		}
		if math.Abs(v.Low-w.low) > 1e-9 || math.Abs(v.High-w.high) > 1e-9 {
			t.Errorf("%s %s: interval %.7f–%.7f, want %.7f–%.7f", w.rule, w.quantity, v.Low, v.High, w.low, w.high)
		}
		if v.Outcome() != w.outcome {
			t.Errorf("%s %s: %q (paper %.4f), want %q", w.rule, w.quantity, v.Outcome(), v.Paper, w.outcome)
		}
	}
	res.Preset = "smoke"
	if v := Verdicts(res); len(v) != 0 {
		t.Errorf("a smoke study (synthetic images) got %d verdicts against the paper", len(v))
	}
	if s := got[3].Sentence(); s != "FA (Random), best validation accuracy: the paper's 36.14% is above the range that holds 95% of single runs of ours (26.03%–35.97%; ours 31.00% over 3 seeds)." {
		t.Errorf("sentence: %s", s)
	}
}

// TestReportSaysWhereItDisagreesWithThePaper renders a report whose
// fa_random validation accuracy is far below the paper's and checks that
// both pages say so in their own section, and that a study agreeing
// everywhere says that instead.
func TestReportSaysWhereItDisagreesWithThePaper(t *testing.T) {
	res := results.Results{Rules: map[string]results.RuleResult{
		"fa_random": {Seeds: seedRuns([]float64{.30, .31, .32}, []float64{.35, .36, .37}, nil)},
	}}
	md, err := Markdown(&Report{Results: res})
	if err != nil {
		t.Fatal(err)
	}
	html, err := HTML(&Report{Results: res})
	if err != nil {
		t.Fatal(err)
	}
	for name, page := range map[string]string{"report.md": string(md), "report.html": string(html)} {
		if !strings.Contains(page, "1 of 2 comparisons with the paper disagree") ||
			!strings.Contains(page, "best validation accuracy: the paper") {
			t.Errorf("%s does not say where it disagrees:\n%s", name, page)
		}
	}
	res.Rules["fa_random"] = results.RuleResult{Seeds: seedRuns([]float64{.35, .36, .37}, []float64{.35, .36, .37}, nil)}
	md, err = Markdown(&Report{Results: res})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(md), "All 2 comparisons with the paper agree") {
		t.Errorf("an agreeing study does not say so:\n%s", md)
	}
}
