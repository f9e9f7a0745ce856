package figures

import (
	"strings"
	"testing"

	"github.com/fabeam/fabeam/artifacts/results"
)

// TestSummaryShowsTable1AndTheCKADiagonalsBesideThePaper renders the
// fixture's summary and checks its cells against values worked out by
// hand: the fixture's usf_init diagonal is 0.95, 0.92, 0.89, 0.86, 0.83
// (± 0.01, mean 0.89), the paper's usf_init diagonal (its Fig. 8) is .99,
// .94, .86, .76, .86, and the noise ceiling 0.98 … 0.86 has half-width 0
// over two seeds.
func TestSummaryShowsTable1AndTheCKADiagonalsBesideThePaper(t *testing.T) {
	res := fixtureResults(fixtureHistories(4, 3))
	res.Preset = "paper" // the fixture's smoke preset is not compared with the paper
	b, err := Summary(res)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		"## Table 1: best validation and test accuracy",
		"| uSF Init | 0.95 ± 0.01 / 0.99 | 0.92 ± 0.01 / 0.94 | 0.89 ± 0.01 / 0.86 | 0.86 ± 0.01 / 0.76 | 0.83 ± 0.01 / 0.86 | 0.89 ± 0.01 |",
		"| BP vs BP (noise ceiling) | 0.98 ± 0.00 / — | 0.95 ± 0.00 / — | 0.92 ± 0.00 / — | 0.89 ± 0.00 / — | 0.86 ± 0.00 / — | 0.92 ± 0.00 |",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("the summary lacks %q:\n%s", want, s)
		}
	}
	// Table 1 is the report's own: every row report.md shows is here.
	md, err := Markdown(&Report{Results: res})
	if err != nil {
		t.Fatal(err)
	}
	start := strings.Index(string(md), "## Table 1")
	end := start + 1 + strings.Index(string(md[start+1:]), "\n## ")
	if start < 0 || end < start || !strings.Contains(s, string(md[start:end])) {
		t.Errorf("the summary's Table 1 differs from report.md's")
	}
	// bp is the reference: it has no row of its own in the diagonals.
	if strings.Contains(s, "| BP | 1.00") {
		t.Errorf("bp has a diagonal row against itself:\n%s", s)
	}
	// So is the list of disagreements with the paper.
	if !strings.Contains(s, "## Against the paper: where the numbers disagree") {
		t.Errorf("the summary does not say where it disagrees with the paper:\n%s", s)
	}
	if _, err := Summary(results.Results{}); err == nil {
		t.Error("a study without CKA was summarised")
	}
}
