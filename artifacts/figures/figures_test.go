package figures

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/artifacts/results"
)

func TestEMAMatchesHandWorkedExample(t *testing.T) {
	// Worked by hand with ema[t] = a*x[t] + (1-a)*ema[t-1], ema[0] = x[0].
	tests := []struct {
		name  string
		alpha float64
		xs    []float64
		want  []float64
	}{
		// a = 0.5: 10; .5*20+.5*10 = 15; .5*20+.5*15 = 17.5; NaN keeps 17.5;
		// .5*0+.5*17.5 = 8.75.
		{"alpha 0.5 with a NaN", 0.5, []float64{10, 20, 20, math.NaN(), 0}, []float64{10, 15, 17.5, 17.5, 8.75}},
		// The paper's a = 0.05: 0; .05*100 = 5; .05*100+.95*5 = 9.75.
		{"alpha 0.05", 0.05, []float64{0, 100, 100}, []float64{0, 5, 9.75}},
		// a = 1 is the identity.
		{"alpha 1", 1, []float64{3, -1, 4}, []float64{3, -1, 4}},
		{"leading NaN", 0.5, []float64{math.NaN(), 4, 8}, []float64{math.NaN(), 4, 6}},
		{"empty", 0.5, nil, []float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := EMA(tt.xs, tt.alpha)
			if len(got) != len(tt.want) {
				t.Fatalf("len = %d, want %d", len(got), len(tt.want))
			}
			for i := range got {
				if math.IsNaN(tt.want[i]) != math.IsNaN(got[i]) || (!math.IsNaN(got[i]) && math.Abs(got[i]-tt.want[i]) > 1e-12) {
					t.Errorf("ema[%d] = %v, want %v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestEMAPanicsOnAlphaOutsideUnitInterval(t *testing.T) {
	for _, a := range []float64{0, -0.1, 1.5, math.NaN()} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(r.(string), "figures: ") {
					t.Errorf("EMA(alpha=%v) recovered %v, want a figures: panic", a, r)
				}
			}()
			EMA([]float64{1}, a)
		}()
	}
}

// tTable holds two-sided 95% Student t quantiles t_{0.975,df}, from the
// NIST/SEMATECH e-Handbook of Statistical Methods, table 1.3.6.7.2 (Upper
// critical values of the Student's t distribution), column 0.025.
var tTable = map[int]float64{
	1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365,
	8: 2.306, 9: 2.262, 10: 2.228, 15: 2.131, 20: 2.086, 30: 2.042, 60: 2.000, 100: 1.984,
}

func TestMeanCI95HalfWidthUsesStudentTQuantiles(t *testing.T) {
	for df, tq := range tTable {
		n := df + 1
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(i * i) // any spread will do
		}
		// Naive reference: mean, sample standard deviation, standard error.
		var sum float64
		for _, x := range xs {
			sum += x
		}
		mean := sum / float64(n)
		var ss float64
		for _, x := range xs {
			ss += (x - mean) * (x - mean)
		}
		se := math.Sqrt(ss/float64(n-1)) / math.Sqrt(float64(n))
		gotMean, half := MeanCI95(xs)
		if math.Abs(gotMean-mean) > 1e-9*math.Abs(mean) {
			t.Errorf("df %d: mean = %v, want %v", df, gotMean, mean)
		}
		if got := half / se; math.Abs(got-tq) > 6e-4 { // the table has 3 decimals
			t.Errorf("df %d: half/se = %.5f, want t quantile %.3f", df, got, tq)
		}
	}
}

func TestMeanCI95HandComputed(t *testing.T) {
	tests := []struct {
		name       string
		xs         []float64
		mean, half float64
	}{
		// {1,2,3,4}: mean 2.5, s² = (2.25+.25+.25+2.25)/3 = 5/3,
		// half = 3.182446 * 1.2909944 / 2 = 2.054260.
		{"four values", []float64{1, 2, 3, 4}, 2.5, 2.054260},
		// {0.70, 0.74}: mean 0.72, s = 0.02*sqrt(2), half = 12.7062*s/sqrt(2)
		// = 12.7062*0.02 = 0.254124.
		{"two seeds", []float64{0.70, 0.74}, 0.72, 0.254124},
		{"one value has no interval", []float64{0.5}, 0.5, 0},
		{"identical values", []float64{0.3, 0.3, 0.3}, 0.3, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, h := MeanCI95(tt.xs)
			if math.Abs(m-tt.mean) > 1e-12 || math.Abs(h-tt.half) > 2e-6 {
				t.Errorf("MeanCI95(%v) = %v ± %v, want %v ± %v", tt.xs, m, h, tt.mean, tt.half)
			}
		})
	}
	if m, h := MeanCI95(nil); !math.IsNaN(m) || h != 0 {
		t.Errorf("MeanCI95(nil) = %v, %v; want NaN, 0", m, h)
	}
}

// wantFigures is the fixture's figure list, in report order.
var wantFigures = []string{
	"val_accuracy", "knowledge", "local_angles", "update_angles", "signal", "concordance",
	"cka_usf_init_all", "cka_usf_init_both_correct", "cka_usf_init_bp_only", "cka_bp_vs_bp_seeds_all",
	"exemplars", "per_class", "grid_search",
}

func builtFixture(t *testing.T) *Report {
	t.Helper()
	r := fixtureReport()
	if err := BuildFigures(r, fixtureExemplars()); err != nil {
		t.Fatalf("BuildFigures: %v", err)
	}
	return r
}

func TestBuildFiguresRendersEveryFigureAsPNG(t *testing.T) {
	r := builtFixture(t)
	if len(r.Figures) != len(wantFigures) {
		t.Fatalf("got %d figures, want %d", len(r.Figures), len(wantFigures))
	}
	for i, f := range r.Figures {
		if f.Name != wantFigures[i] {
			t.Errorf("figure %d is %q, want %q", i, f.Name, wantFigures[i])
		}
		if f.Caption == "" {
			t.Errorf("figure %q has no caption", f.Name)
		}
		img, err := png.Decode(bytes.NewReader(f.PNG))
		if err != nil {
			t.Errorf("figure %q does not decode as PNG: %v", f.Name, err)
			continue
		}
		// Sane size: every figure is at least a 6 inch wide panel at DPI
		// (or the exemplar grid), and no figure needs more than 2500 pixels.
		b := img.Bounds()
		if b.Dx() < 600 || b.Dy() < 400 || b.Dx() > 2500 || b.Dy() > 2500 {
			t.Errorf("figure %q is %dx%d pixels, outside [600..2500]x[400..2500]", f.Name, b.Dx(), b.Dy())
		}
		if uniform(img) {
			t.Errorf("figure %q is a single colour", f.Name)
		}
	}
}

func uniform(img image.Image) bool {
	b := img.Bounds()
	first := img.At(b.Min.X, b.Min.Y)
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			if img.At(x, y) != first {
				return false
			}
		}
	}
	return true
}

func TestFiguresAreByteStable(t *testing.T) {
	a, b := builtFixture(t), builtFixture(t)
	for i := range a.Figures {
		if !bytes.Equal(a.Figures[i].PNG, b.Figures[i].PNG) {
			t.Errorf("figure %q differs between two renderings of the same input", a.Figures[i].Name)
		}
	}
}

func TestFigureFunctionsReportMissingData(t *testing.T) {
	empty := map[string][]results.History{"bp": {{Rule: "bp"}}}
	checks := map[string]func() ([]byte, error){
		"ValAccuracy":  func() ([]byte, error) { return ValAccuracy(empty) },
		"LocalAngles":  func() ([]byte, error) { return LocalAngles(empty) },
		"UpdateAngles": func() ([]byte, error) { return UpdateAngles(empty) },
		"Concordance":  func() ([]byte, error) { return Concordance(empty) },
		"PerClassBars": func() ([]byte, error) { return PerClassBars(nil) },
		"GridSearch":   func() ([]byte, error) { return GridSearch(nil) },
		"ExemplarGrid": func() ([]byte, error) { return ExemplarGrid(nil, 2) },
		"CKAHeatmap": func() ([]byte, error) {
			return CKAHeatmap(results.CKAEntry{Rule: "fa_random", Subset: "bp_only", TooSmall: true})
		},
	}
	for name, f := range checks {
		if _, err := f(); !errors.Is(err, ErrNoData) {
			t.Errorf("%s on empty input: err = %v, want ErrNoData", name, err)
		}
	}
}

func TestMalformedInputsReturnErrorsNamingTheProblem(t *testing.T) {
	_, err := CKAHeatmap(results.CKAEntry{Rule: "usf_sn", Subset: "all", Matrix: [][]float64{{1, 2}}})
	if err == nil || !strings.Contains(err.Error(), "usf_sn") || !strings.Contains(err.Error(), "5×5") {
		t.Errorf("CKAHeatmap(1x2 matrix) err = %v, want one naming the rule and 5×5", err)
	}
	_, err = PerClassBars(map[string]results.PerClass{"fa_random": {Accuracy: []float64{0.5}}})
	if err == nil || !strings.Contains(err.Error(), "fa_random") {
		t.Errorf("PerClassBars(1 class) err = %v, want one naming fa_random", err)
	}
	bad := fixtureExemplars()
	bad[1].Channels[2].Images[4] = make([]uint8, 100)
	_, err = ExemplarGrid(bad, 2)
	if err == nil || !strings.Contains(err.Error(), "usf_init") || !strings.Contains(err.Error(), "image 4") {
		t.Errorf("ExemplarGrid(short image) err = %v, want one naming usf_init image 4", err)
	}
	tooMany := fixtureExemplars()
	tooMany[0].Channels[0].Images = append(tooMany[0].Channels[0].Images, tooMany[0].Channels[0].Images[0])
	if _, err := ExemplarGrid(tooMany, 2); err == nil {
		t.Error("ExemplarGrid with 10 images in a cell returned no error")
	}
	h := fixtureHistories(2, 10)
	h["bp"][0].Steps.UpdateAngle["fc1"] = []float64{1}
	if _, err := UpdateAngles(h); err == nil || !strings.Contains(err.Error(), "fc1") {
		t.Errorf("UpdateAngles(inconsistent lengths) err = %v, want one naming fc1", err)
	}
}

func TestExemplarGridPlacesEveryPixelUpscaled(t *testing.T) {
	const scale = 2
	rows := fixtureExemplars()
	rows[1].Channels = rows[1].Channels[:2]                     // short row: third cell empty
	rows[1].Channels[1].Images = rows[1].Channels[1].Images[:7] // two grey slots
	b, err := ExemplarGrid(rows, scale)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	// The layout documented in ExemplarGrid: left margin 150 px, title 44,
	// cell header 24, gap between images max(1, scale/2) = 1, between
	// cells 24, between rows 14; a cell is 3*64+2 = 194 px wide.
	const side, gap, cellW, left, titleH, headH, rowGap, cellGap = 64, 1, 194, 150, 44, 24, 14, 24
	wantW := left + 3*cellW + 2*cellGap + 16
	wantH := titleH + 2*(headH+cellW+rowGap)
	if img.Bounds().Dx() != wantW || img.Bounds().Dy() != wantH {
		t.Fatalf("size %dx%d, want %dx%d", img.Bounds().Dx(), img.Bounds().Dy(), wantW, wantH)
	}
	for ri, row := range rows {
		for ci, cell := range row.Channels {
			for k := range 9 {
				x0 := left + ci*(cellW+cellGap) + (k%3)*(side+gap)
				y0 := titleH + ri*(headH+cellW+rowGap) + headH + (k/3)*(side+gap)
				for y := range side {
					for x := range side {
						want := color.RGBA{200, 200, 200, 255}
						if k < len(cell.Images) {
							src := cell.Images[k]
							sx, sy := x/scale, y/scale
							want = color.RGBA{src[sy*32+sx], src[1024+sy*32+sx], src[2048+sy*32+sx], 255}
						}
						if got := color.RGBAModel.Convert(img.At(x0+x, y0+y)); got != want {
							t.Fatalf("row %d cell %d image %d pixel (%d,%d) = %v, want %v", ri, ci, k, x, y, got, want)
						}
					}
				}
			}
		}
	}
}

func TestExemplarGridPanicsOnBadScale(t *testing.T) {
	for _, s := range []int{0, 17} {
		func() {
			defer func() {
				if r := recover(); r == nil || !strings.HasPrefix(r.(string), "figures: ") {
					t.Errorf("scale %d: recovered %v, want a figures: panic", s, r)
				}
			}()
			ExemplarGrid(fixtureExemplars(), s)
		}()
	}
}

func TestGroupCKAAveragesOverSeedsElementwise(t *testing.T) {
	m0, m1 := fixtureMatrix(0.9, 0), fixtureMatrix(0.9, 3)
	entries := []results.CKAEntry{
		{Seed: 1, Rule: "fa_random", Reference: "bp", Subset: "bp_only", N: 6000, Matrix: m1},
		{Seed: 0, Rule: "fa_random", Reference: "bp", Subset: "bp_only", N: 6500, Matrix: m0},
		{Seed: 2, Rule: "fa_random", Reference: "bp", Subset: "bp_only", N: 100, TooSmall: true},
		{Seed: 0, Rule: "fa_random", Reference: "bp", Subset: "all", N: 15000, Matrix: m0},
		{Seed: 0, Rule: "bp", Reference: "bp", ReferenceSeed: 1, Subset: "all", N: 15000, Matrix: m0},
		{Seed: 0, Rule: "bp", Reference: "fa_random", Subset: "all", N: 15000, Matrix: m0},
	}
	gs, err := GroupCKA(entries)
	if err != nil {
		t.Fatal(err)
	}
	// Order: non-ceiling groups by rule (bp before fa_random), subset
	// all before bp_only; the bp-vs-bp ceiling last.
	want := []struct{ rule, ref, subset string }{
		{"bp", "fa_random", "all"}, {"fa_random", "bp", "all"}, {"fa_random", "bp", "bp_only"}, {"bp", "bp", "all"},
	}
	if len(gs) != len(want) {
		t.Fatalf("got %d groups, want %d", len(gs), len(want))
	}
	for i, w := range want {
		if gs[i].Rule != w.rule || gs[i].Reference != w.ref || gs[i].Subset != w.subset {
			t.Errorf("group %d = %s/%s/%s, want %s/%s/%s", i, gs[i].Rule, gs[i].Reference, gs[i].Subset, w.rule, w.ref, w.subset)
		}
	}
	g := gs[2]
	if g.TooSmall != 1 || len(g.Seeds) != 2 || g.Seeds[0] != 0 || g.Seeds[1] != 1 || g.N[0] != 6500 || g.N[1] != 6000 {
		t.Errorf("bp_only group: seeds %v n %v too small %d; want seeds [0 1], n [6500 6000], 1 too small", g.Seeds, g.N, g.TooSmall)
	}
	for r := range 5 {
		for c := range 5 {
			if want := (m0[r][c] + m1[r][c]) / 2; math.Abs(g.Matrix[r][c]-want) > 1e-15 {
				t.Errorf("mean[%d][%d] = %v, want %v", r, c, g.Matrix[r][c], want)
			}
		}
	}
	if got := g.NLabel(); got != "mean of 2 seeds, n = 6000–6500" {
		t.Errorf("NLabel = %q", got)
	}
	if !gs[3].NoiseCeiling() || gs[1].NoiseCeiling() {
		t.Error("NoiseCeiling wrong")
	}
}

func TestPaperCKADiagonalsMatchPublishedDiagonals(t *testing.T) {
	// docs/paper.md lists the diagonals separately ("Published diagonals"); the
	// full matrices were typed from another block, so this cross-checks them.
	diag := map[string][5]float64{
		"fa_random":   {.60, .24, .22, .16, .05},
		"fa_toeplitz": {.72, .31, .29, .29, .15},
		"usf_init":    {.99, .94, .86, .76, .86},
		"usf_sn":      {.99, .93, .83, .77, .87},
	}
	for rule, d := range diag {
		for i := range 5 {
			if PaperCKA[rule][i][i] != d[i] {
				t.Errorf("PaperCKA[%s][%d][%d] = %v, published diagonal %v", rule, i, i, PaperCKA[rule][i][i], d[i])
			}
		}
	}
	if len(PaperTable1) != 5 || PaperTable1["usf_sn"].Test != 0.7567 || PaperTable1["bp"].BestEpoch != 45 {
		t.Errorf("PaperTable1 = %v", PaperTable1)
	}
}

func TestTable1MeanAndIntervalOverSeeds(t *testing.T) {
	res := results.Results{Rules: map[string]results.RuleResult{
		"bp": {Seeds: []results.SeedResult{{Seed: 0, BestValAcc: 0.70, TestAcc: 0.69, TestHeadAcc: ptr(0.80), BestEpoch: 40},
			{Seed: 1, BestValAcc: 0.74, TestAcc: 0.73, TestHeadAcc: ptr(0.84), BestEpoch: 44, Diverged: true}}},
		"dfa": {Seeds: []results.SeedResult{{Seed: 0, BestValAcc: 0.5, TestAcc: 0.49, BestEpoch: 3}}},
	}}
	rows := Table1(res)
	names := []string{"bp", "fa_random", "fa_toeplitz", "usf_init", "usf_sn", "dfa"}
	if len(rows) != len(names) {
		t.Fatalf("got %d rows, want %d", len(rows), len(names))
	}
	for i, n := range names {
		if rows[i].Rule != n {
			t.Errorf("row %d is %q, want %q", i, rows[i].Rule, n)
		}
	}
	bp := rows[0]
	// {0.70, 0.74}: mean 0.72, half 12.7062*0.02 (see TestMeanCI95HandComputed).
	if math.Abs(bp.BestVal-0.72) > 1e-12 || math.Abs(bp.BestValHalf-0.254124) > 2e-6 ||
		math.Abs(bp.Test-0.71) > 1e-12 || bp.Seeds != 2 || bp.Diverged != 1 || bp.Paper == nil || bp.Paper.BestVal != 0.7592 {
		t.Errorf("bp row = %+v", bp)
	}
	if math.Abs(bp.TestHead-0.82) > 1e-12 || math.Abs(bp.TestHeadHalf-0.254124) > 2e-6 {
		t.Errorf("bp head accuracy %v ± %v, want 0.82 ± 0.254124", bp.TestHead, bp.TestHeadHalf)
	}
	if !math.IsNaN(rows[1].BestVal) || rows[1].Seeds != 0 {
		t.Errorf("fa_random (not run) row = %+v", rows[1])
	}
	if rows[5].Paper != nil || rows[5].BestValHalf != 0 || !math.IsNaN(rows[5].TestHead) {
		t.Errorf("dfa row = %+v", rows[5])
	}
}

func TestFormatting(t *testing.T) {
	// Rates computed at run time, as the smoke preset's grid does (Go
	// would fold constants exactly): 3 × 0.003 is 0.009000000000000001.
	three, tenth := 3.0, 0.1
	sci := map[float64]string{0: "0", 1e-3: "1e-3", 5e-4: "5e-4", 3e-2: "3e-2", 1e-4: "1e-4", 0.1: "0.1", 0.05: "5e-2",
		three * 0.003: "9e-3", tenth + 0.2: "0.3", 2.5e-4: "2.5e-4", 1.25e-5: "1.25e-5", 3e-5: "3e-5", 0.25: "0.25", 3: "3"}
	for x, want := range sci {
		if got := fmtSci(x); got != want {
			t.Errorf("fmtSci(%v) = %q, want %q", x, got, want)
		}
	}
	th := map[int64]string{0: "0", 999: "999", 1000: "1,000", 14745600: "14,745,600", -1234: "-1,234"}
	for n, want := range th {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
	if got := FigureName("CKA", "my rule/<x>", "all"); got != "cka_my-rule-x_all" {
		t.Errorf("FigureName = %q", got)
	}
	if got := PointLabel(results.Hyperparameters{LR: 3e-3, WeightDecay: 1e-4, Sigma: 0.05}, true, true); got != "lr 3e-3\nwd 1e-4\nσ 0.05" {
		t.Errorf("PointLabel = %q", got)
	}
}

func TestNiceTicksLabelsRoundNumbers(t *testing.T) {
	tests := []struct {
		lo, hi float64
		labels []string
	}{
		{0, 90, []string{"0", "20", "40", "60", "80"}},
		{1, 17600, []string{"5000", "10000", "15000"}},
		{0.475, 0.52, []string{"0.48", "0.49", "0.5", "0.51", "0.52"}},
	}
	for _, tt := range tests {
		var got []string
		for _, tk := range (niceTicks{}).Ticks(tt.lo, tt.hi) {
			if tk.Label != "" {
				got = append(got, tk.Label)
			}
		}
		if strings.Join(got, " ") != strings.Join(tt.labels, " ") {
			t.Errorf("Ticks(%v, %v) labels = %v, want %v", tt.lo, tt.hi, got, tt.labels)
		}
	}
}

func TestSeriesStatsAveragesSeedsIndexByIndex(t *testing.T) {
	// Seed b is shorter (diverged) and has a NaN: index 1 uses a only,
	// index 2 only a.
	mean, lo, hi := seriesStats([][]float64{{1, 2, 3}, {3, math.NaN()}})
	want := [][3]float64{{2, 1, 3}, {2, 2, 2}, {3, 3, 3}} // mean, lo, hi
	for i, w := range want {
		if mean[i] != w[0] || lo[i] != w[1] || hi[i] != w[2] {
			t.Errorf("index %d: mean %v lo %v hi %v, want %v", i, mean[i], lo[i], hi[i], w)
		}
	}
}

// Tick labels never show floating-point residue: the epoch axis of a
// two-epoch run (1..2, step 0.2) once read "1.2000000000000002".
func TestTickLabelsHaveNoFloatingPointResidue(t *testing.T) {
	for _, r := range [][2]float64{{1, 2}, {0, 0.3}, {0.1, 0.7}, {1, 17600}, {-3, 3}} {
		for _, tk := range (niceTicks{}).Ticks(r[0], r[1]) {
			if len(tk.Label) > 6 {
				t.Errorf("range %v: tick %v labelled %q", r, tk.Value, tk.Label)
			}
		}
	}
	got := map[string]bool{}
	for _, tk := range (niceTicks{}).Ticks(1, 2) {
		if tk.Label != "" {
			got[tk.Label] = true
		}
	}
	for _, want := range []string{"1", "1.2", "1.4", "1.6", "1.8", "2"} {
		if !got[want] {
			t.Errorf("ticks of [1,2] lack the label %q; have %v", want, got)
		}
	}
}

func ptr(x float64) *float64 { return &x }

// A figure-wide legend keeps the first entry of each name, in the order the
// names first came: a rule drawn in several panels is listed once, with the
// style of its first panel.
func TestFigureLegendKeepsTheFirstEntryOfEachName(t *testing.T) {
	var l figureLegend
	red, blue := color.RGBA{R: 255, A: 255}, color.RGBA{B: 255, A: 255}
	l.add(legendEntry{Name: "BP", Color: red, Width: 1})
	l.add(legendEntry{Name: "chance (0.5)", Color: blue, Width: 2})
	l.add(legendEntry{Name: "BP", Color: blue, Width: 3})
	if len(l.entries) != 2 {
		t.Fatalf("got %d entries, want 2: %+v", len(l.entries), l.entries)
	}
	if e := l.entries[0]; e.Name != "BP" || e.Color != red || e.Width != 1 {
		t.Errorf("first entry %+v, want BP in red, width 1 (the first added)", e)
	}
	if e := l.entries[1]; e.Name != "chance (0.5)" || e.Color != blue || e.Width != 2 {
		t.Errorf("second entry %+v, want chance (0.5) in blue, width 2", e)
	}
}
