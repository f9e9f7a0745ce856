package figures

import (
	"strings"
	"testing"

	"github.com/fabeam/fabeam/artifacts/results"
)

// gridReport is a report whose grid has, for fa_toeplitz, the chosen point,
// an ordinary one, a point that diverged in its second epoch (step 7, last
// good epoch 1) and one that diverged in its first (step 2, no good epoch).
func gridReport() *Report {
	hp := func(lr float64) results.Hyperparameters {
		return results.Hyperparameters{LR: lr, Sigma: 0.01, Epochs: 3, BatchSize: 128}
	}
	final := hp(1e-3)
	final.Epochs = 50 // final runs train longer; the point still matches
	res := results.Results{
		Preset: "smoke",
		Rules:  map[string]results.RuleResult{"fa_toeplitz": {Hyperparameters: final}},
		Grid: []results.GridPoint{
			{Rule: "fa_toeplitz", Point: hp(1e-3), ValAcc: 0.5, BestValAcc: 0.5},
			{Rule: "fa_toeplitz", Point: hp(3e-3), ValAcc: 0.25, BestValAcc: 0.375},
			{Rule: "fa_toeplitz", Point: hp(3e5), ValAcc: 0.125, BestValAcc: 0.125, Diverged: true, DivergedStep: 7, LastGoodEpoch: 1},
			{Rule: "fa_toeplitz", Point: hp(1e8), Diverged: true, DivergedStep: 2},
		},
	}
	return &Report{Results: res}
}

func TestGridTableShowsChosenAndDivergedPointsInHTMLAndMarkdown(t *testing.T) {
	r := gridReport()
	// The expected cells, worked by hand from gridReport: accuracy in
	// percent with 2 decimals, "—" for a point with no completed epoch;
	// learning rates as fmtSci writes them (below 0.1 "1e-3", else %g).
	name := RuleName("fa_toeplitz")
	wantRows := [][]string{
		{name, "lr 1e-3, σ 0.01, 3 epochs, batch 128", "50.00", "50.00", "chosen"},
		{name, "lr 3e-3, σ 0.01, 3 epochs, batch 128", "25.00", "37.50", ""},
		{name, "lr 300000, σ 0.01, 3 epochs, batch 128", "12.50", "12.50", "diverged at step 7 (last good epoch 1)"},
		{name, "lr 1e+08, σ 0.01, 3 epochs, batch 128", "—", "—", "diverged at step 2 (last good epoch 0)"},
	}
	got := gridRows(r.Results)
	if len(got) != len(wantRows) {
		t.Fatalf("%d grid rows, want %d", len(got), len(wantRows))
	}
	for i, w := range wantRows {
		g := []string{got[i].Name, got[i].HP, got[i].Val, got[i].BestVal, got[i].Status}
		for j := range w {
			if g[j] != w[j] {
				t.Errorf("row %d cell %d = %q, want %q", i, j, g[j], w[j])
			}
		}
	}

	html, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	mdb, err := Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range wantRows {
		// html/template writes "+" as "&#43;".
		row := `<tr data-rule="fa_toeplitz"><td class="l">` + w[0] + `</td><td class="l">` + strings.ReplaceAll(w[1], "+", "&#43;") + `</td><td>` + w[2] + `</td><td>` + w[3] + `</td><td class="l">` + w[4] + `</td></tr>`
		if !strings.Contains(string(html), row) {
			t.Errorf("report.html lacks the grid row\n%s", row)
		}
		mdRow := "| " + md(w[0]) + " | " + md(w[1]) + " | " + w[2] + " | " + w[3] + " | " + w[4] + " |"
		if !strings.Contains(string(mdb), mdRow) {
			t.Errorf("report.md lacks the grid row\n%s", mdRow)
		}
	}
	if !strings.Contains(string(html), `<a href="#grid">`) || !strings.Contains(string(mdb), "## Grid search") {
		t.Error("the grid section is not linked (HTML) or titled (Markdown)")
	}
}

func TestNoGridSectionWithoutAGridSearch(t *testing.T) {
	r := gridReport()
	r.Results.Grid = nil
	html, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	mdb, err := Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(html), `id="grid"`) || strings.Contains(string(mdb), "## Grid search") {
		t.Error("a report without a grid search has a grid section")
	}
}
