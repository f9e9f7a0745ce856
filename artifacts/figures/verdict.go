package figures

import (
	"fmt"
	"math"

	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/engine/nn"
)

// paperTestImages is the size of the test set the paper's test accuracies
// are over: CIFAR-10's whole test batch.
const paperTestImages = 10000

// Verdict compares one number of this study with the paper's single run of
// the same rule: where one further run of ours would fall, and whether the
// paper's lies there.
//
// The paper ran each rule once, so its number is one draw from the spread
// of runs, not a mean. The fair question is whether a run like ours could
// have given it: the two-sided 95% prediction interval for one new run,
// mean ± t(0.975, N−1)·s·√(1+1/N) over our N seeds. With the mean's 95%
// half-width h = t·s/√N that results.json holds, the interval is
// mean ± h·√(N+1). The paper prints two decimals, so its number agrees when
// it lies within the interval widened by half a unit of its last digit.
type Verdict struct {
	Rule string
	// Quantity says what is compared, for example "best validation
	// accuracy" or "CKA, fc1".
	Quantity string
	// Mean is ours over N seeds; Low and High bound the prediction
	// interval (equal to Mean when N < 2, which is not judged).
	Mean, Low, High float64
	N               int
	// Paper is the paper's value; Tol is half a unit of its last printed
	// digit.
	Paper, Tol float64
	// Percent says the values are fractions shown in percent; otherwise
	// they are shown as they are, to two decimals.
	Percent bool
}

// Judged reports whether v has the two or more seeds a spread needs.
func (v Verdict) Judged() bool { return v.N >= 2 }

// Agrees reports whether the paper's value lies within the prediction
// interval widened by its rounding; false when v is not judged.
func (v Verdict) Agrees() bool {
	return v.Judged() && v.Low-v.Tol <= v.Paper && v.Paper <= v.High+v.Tol
}

// Outcome is v's verdict in words: "agrees", "paper higher", "paper lower"
// or "one seed: not judged".
func (v Verdict) Outcome() string {
	switch {
	case !v.Judged():
		return "one seed: not judged"
	case v.Agrees():
		return "agrees"
	case v.Paper > v.High:
		return "paper higher"
	}
	return "paper lower"
}

func (v Verdict) num(x float64) string {
	if v.Percent {
		return fmt.Sprintf("%.2f%%", 100*x)
	}
	return fmt.Sprintf("%.2f", x)
}

// Sentence says a disagreement plainly, for example "fa_random, best
// validation accuracy: the paper's 36.14% is above 95% of what one run of
// ours gives (27.05%–37.59%; ours 32.32%, 3 seeds)."
func (v Verdict) Sentence() string {
	side := "below"
	if v.Paper > v.High {
		side = "above"
	}
	if v.Agrees() || !v.Judged() {
		side = "within"
	}
	return fmt.Sprintf("%s, %s: the paper's %s is %s the range that holds 95%% of single runs of ours (%s–%s; ours %s over %d seeds).",
		RuleName(v.Rule), v.Quantity, v.num(v.Paper), side, v.num(v.Low), v.num(v.High), v.num(v.Mean), v.N)
}

// Verdicts compares res with the paper wherever both have a number, in
// rule order: per rule the best validation accuracy, the test accuracy on
// the whole test file and, when res has them, on its leading records
// (whose spread adds the sampling error of a 10,000-image accuracy
// measured on fewer images), then the diagonal of the CKA matrix against
// BP on all images, layer by layer.
//
// A smoke study (synthetic images) is not compared: its accuracies mean
// nothing against the paper's.
func Verdicts(res results.Results) []Verdict {
	if res.Preset == "smoke" {
		return nil
	}
	var out []Verdict
	for _, row := range Table1(res) {
		p := row.Paper
		if p == nil || row.Seeds == 0 {
			continue
		}
		const accTol = 0.00005 // two decimals of a percentage
		out = append(out,
			predict(row.Rule, "best validation accuracy", row.BestVal, row.BestValHalf, row.Seeds, p.BestVal, accTol, true, 0),
			predict(row.Rule, "test accuracy, whole test file", row.Test, row.TestHalf, row.Seeds, p.Test, accTol, true, 0))
		if n := res.TestHead; n > 0 && n < paperTestImages && !math.IsNaN(row.TestHead) {
			seeds := 0
			for _, s := range res.Rules[row.Rule].Seeds {
				if s.TestHeadAcc != nil {
					seeds++
				}
			}
			// One model's accuracy on n of the 10,000 images differs from
			// its accuracy on all of them by a sampling error of variance
			// p(1−p)(1/n − 1/10,000).
			q := row.TestHead
			sampling := q * (1 - q) * (1/float64(n) - 1/float64(paperTestImages))
			out = append(out, predict(row.Rule, fmt.Sprintf("test accuracy, records 0–%d", n-1),
				q, row.TestHeadHalf, seeds, p.Test, accTol, true, sampling))
		}
	}
	if k := res.Knowledge; k != nil {
		for _, r := range k.Rules {
			paper, ok := PaperCKA[r.Rule]
			if !ok || r.CKA == nil || r.Rule == nn.Reference {
				continue
			}
			for i, l := range Layers {
				m, ok := r.CKA.Layers[l]
				if !ok || m.N == 0 {
					continue
				}
				out = append(out, predict(r.Rule, fmt.Sprintf("CKA with BP (subset %s), %s", k.Subset, l), m.Mean, m.CI95, m.N, paper[i][i], 0.005, false, 0))
			}
		}
	}
	return out
}

// predict builds one verdict from a mean over n seeds, its 95% half-width
// h and an extra variance the prediction carries (0 for none), which
// enters at the normal 95% quantile.
func predict(rule, quantity string, mean, h float64, n int, paper, tol float64, percent bool, extra float64) Verdict {
	v := Verdict{Rule: rule, Quantity: quantity, Mean: mean, Low: mean, High: mean, N: n, Paper: paper, Tol: tol, Percent: percent}
	if n >= 2 {
		w := math.Hypot(h*math.Sqrt(float64(n+1)), 1.959963984540054*math.Sqrt(extra))
		v.Low, v.High = mean-w, mean+w
	}
	return v
}

// verdictView is one verdict formatted for the report's table.
type verdictView struct {
	Rule, Name, Quantity, Ours, Range, Paper, Outcome string
}

// verdictSection is the report's comparison with the paper: a headline,
// the disagreements in words and every comparison as a table row.
type verdictSection struct {
	Head  string
	Lines []string
	Rows  []verdictView
}

// verdictIntro explains the report's comparison with the paper.
const verdictIntro = "The paper ran each rule once, so its number is one run, not a mean. A number of ours agrees with the paper's when the paper's lies in the range that holds 95% of single runs like ours: mean ± t(0.975, N−1)·s·√(1+1/N) over our N seeds, widened by half a unit of the paper's last printed digit. The leading-records test rows add the sampling error of measuring a 10,000-image accuracy on fewer images. Where the test file is not the official one (see the differences from the paper at the end), the whole-file test rows compare different images and the leading-records rows are the fair test comparison."

// buildVerdicts formats res's verdicts for the report.
func buildVerdicts(res results.Results) verdictSection {
	var s verdictSection
	judged, unjudged := 0, 0
	for _, v := range Verdicts(res) {
		s.Rows = append(s.Rows, verdictView{Rule: v.Rule, Name: RuleName(v.Rule), Quantity: v.Quantity,
			Ours: v.num(v.Mean), Range: v.num(v.Low) + "–" + v.num(v.High), Paper: v.num(v.Paper), Outcome: v.Outcome()})
		if !v.Judged() {
			unjudged++
			continue
		}
		judged++
		if !v.Agrees() {
			s.Lines = append(s.Lines, v.Sentence())
		}
	}
	switch {
	case judged == 0:
		s.Head = "No comparison with the paper is judged: that needs two or more seeds per rule."
	case len(s.Lines) == 0:
		s.Head = fmt.Sprintf("All %d comparisons with the paper agree within the spread of our seeds.", judged)
	default:
		s.Head = fmt.Sprintf("%d of %d comparisons with the paper disagree beyond the spread of our seeds:", len(s.Lines), judged)
	}
	if unjudged > 0 {
		s.Head += fmt.Sprintf(" (%d more, of rules run with one seed, are not judged.)", unjudged)
	}
	return s
}

// PaperComparison says in words where res's numbers and the paper's
// disagree beyond the spread of res's seeds: a headline ("3 of 24
// comparisons with the paper disagree …", or that all agree, or that none
// could be judged) and one sentence per disagreement. The headline is
// empty when there is nothing to compare (no rule of the paper ran, or a
// smoke study).
func PaperComparison(res results.Results) (head string, lines []string) {
	s := buildVerdicts(res)
	if len(s.Rows) == 0 {
		return "", nil
	}
	return s.Head, s.Lines
}
