package figures

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/fabeam/fabeam/artifacts/results"
)

// PerClassBars draws per-class test accuracy (percent) as grouped bars: the
// ten CIFAR-10 classes along x, one bar per rule in each group. It returns
// an error naming the rule when an accuracy list does not have 10 entries.
func PerClassBars(pc map[string]results.PerClass) ([]byte, error) {
	rules := sortedKeys(pc)
	if len(rules) == 0 {
		return nil, fmt.Errorf("figures: PerClassBars: %w", ErrNoData)
	}
	p := newPlot("Test accuracy per class", "class", "test accuracy (%)")
	g := plotter.NewGrid()
	g.Vertical.Color = nil
	p.Add(g)
	w := vg.Points(min(13, 60/float64(len(rules))))
	leg := plot.NewLegend()
	leg.TextStyle.Font.Size = vg.Points(10)
	leg.Top, leg.Left = true, true
	for i, rule := range rules {
		acc := pc[rule].Accuracy
		if len(acc) != len(ClassNames) {
			return nil, fmt.Errorf("figures: PerClassBars: rule %q has %d per-class accuracies, want %d (one per CIFAR-10 class); results.json is malformed",
				rule, len(acc), len(ClassNames))
		}
		vs := make(plotter.Values, len(acc))
		for j, a := range acc {
			vs[j] = 100 * a
		}
		bc, err := plotter.NewBarChart(vs, w)
		if err != nil {
			return nil, fmt.Errorf("figures: PerClassBars: rule %q: %w", rule, err)
		}
		bc.Color = ruleColor(rule, rules)
		bc.LineStyle.Width = 0
		bc.Offset = vg.Length(float64(i)-float64(len(rules)-1)/2) * w
		p.Add(bc)
		leg.Add(RuleName(rule), bc)
	}
	p.NominalX(ClassNames...)
	p.Y.Min, p.Y.Max = 0, 100
	return renderSideLegend(p, leg, 11*vg.Inch, 5*vg.Inch, 1.5*vg.Inch)
}

// renderSideLegend draws p on the left and leg in a strip of width lw on
// the right, so the legend never covers data.
func renderSideLegend(p *plot.Plot, leg plot.Legend, w, h, lw vg.Length) ([]byte, error) {
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(DPI))
	dc := draw.New(c)
	p.Draw(draw.Crop(dc, 0, -lw, 0, 0))
	leg.YOffs = -vg.Points(30)
	leg.Draw(draw.Crop(dc, w-lw+vg.Points(8), 0, 0, 0))
	return encodeCanvas(c)
}

// fmtSci formats a hyper-parameter like the paper's tables: 0 as "0",
// 0.001 as "1e-3", 0.0005 as "5e-4", 0.03 as "3e-2", 0.1 as "0.1". Six
// significant digits at most, so a rate computed in float64 (3 × 0.003 =
// 0.009000000000000001) reads as the number meant ("9e-3").
func fmtSci(x float64) string {
	if x == 0 {
		return "0"
	}
	if math.Abs(x) >= 0.1 {
		return strconv.FormatFloat(x, 'g', 6, 64)
	}
	s := strconv.FormatFloat(x, 'e', 5, 64) // "1.00000e-03"
	mant, exp, _ := strings.Cut(s, "e")
	if strings.Contains(mant, ".") {
		mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
	}
	e, _ := strconv.Atoi(exp)
	return fmt.Sprintf("%se%d", mant, e)
}

// PointLabel describes a grid point by the hyper-parameters that vary among
// points (the learning rate always; weight decay and σ when they vary),
// one per line.
func PointLabel(pt results.Hyperparameters, varyWD, varySigma bool) string {
	parts := []string{"lr " + fmtSci(pt.LR)}
	if varyWD {
		parts = append(parts, "wd "+fmtSci(pt.WeightDecay))
	}
	if varySigma {
		parts = append(parts, "σ "+strconv.FormatFloat(pt.Sigma, 'g', -1, 64))
	}
	return strings.Join(parts, "\n")
}

// gridByRule groups grid points per rule, each sorted by (lr, weight decay,
// σ), and reports which of weight decay and σ vary within the rule.
func gridByRule(grid []results.GridPoint) (rules []string, pts map[string][]results.GridPoint, varyWD, varySigma map[string]bool) {
	pts = map[string][]results.GridPoint{}
	for _, g := range grid {
		pts[g.Rule] = append(pts[g.Rule], g)
	}
	varyWD, varySigma = map[string]bool{}, map[string]bool{}
	for rule, ps := range pts {
		sort.SliceStable(ps, func(i, j int) bool {
			a, b := ps[i].Point, ps[j].Point
			if a.LR != b.LR {
				return a.LR < b.LR
			}
			if a.WeightDecay != b.WeightDecay {
				return a.WeightDecay < b.WeightDecay
			}
			return a.Sigma < b.Sigma
		})
		for _, p := range ps {
			varyWD[rule] = varyWD[rule] || p.Point.WeightDecay != ps[0].Point.WeightDecay
			varySigma[rule] = varySigma[rule] || p.Point.Sigma != ps[0].Point.Sigma
		}
	}
	return sortedKeys(pts), pts, varyWD, varySigma
}

// bestPoint returns the index of the non-diverged point with the highest
// validation accuracy (the first on ties, as SelectBest breaks them in
// sorted order), or -1 when all diverged.
func bestPoint(ps []results.GridPoint) int {
	best := -1
	for i, p := range ps {
		if p.Diverged || math.IsNaN(p.ValAcc) {
			continue
		}
		if best < 0 || p.ValAcc > ps[best].ValAcc {
			best = i
		}
	}
	return best
}

// GridSearch draws the hyper-parameter search: one panel per rule, one bar
// per grid point (validation accuracy after the search's epochs, percent,
// value printed above), the best point in the rule's colour and the rest
// paler; a diverged point has no bar and is marked "diverged" in red.
func GridSearch(points []results.GridPoint) ([]byte, error) {
	rules, pts, varyWD, varySigma := gridByRule(points)
	if len(rules) == 0 {
		return nil, fmt.Errorf("figures: GridSearch: %w", ErrNoData)
	}
	var panels []*plot.Plot
	for _, rule := range rules {
		p, err := gridPanel(rule, pts[rule], varyWD[rule], varySigma[rule], rules)
		if err != nil {
			return nil, err
		}
		panels = append(panels, p)
	}
	cols := min(3, len(panels))
	g := grid(panels, cols)
	return renderPanels("Hyper-parameter search (validation accuracy per grid point)", nil, g,
		vg.Length(4.2*float64(cols))*vg.Inch, vg.Length(3.8*float64(len(g)))*vg.Inch)
}

// gridPanel draws one rule's grid-search panel: its points ps (sorted) as
// bars labelled with the varying hyper-parameters, each with its value or
// "diverged" above it, titled with the best point.
func gridPanel(rule string, ps []results.GridPoint, varyWD, varySigma bool, rules []string) (*plot.Plot, error) {
	best := bestPoint(ps)
	title := RuleName(rule) + " (all diverged)"
	if best >= 0 {
		title = fmt.Sprintf("%s — best %.1f%% at %s", RuleName(rule), 100*ps[best].ValAcc,
			strings.ReplaceAll(PointLabel(ps[best].Point, varyWD, varySigma), "\n", ", "))
	}
	p := newPlot(title, "", "validation accuracy (%)")
	p.Title.TextStyle.Font.Size = vg.Points(11)
	gr := plotter.NewGrid()
	gr.Vertical.Color = nil
	p.Add(gr)
	c := ruleColor(rule, rules)
	names := make([]string, len(ps))
	lbl := &plotter.Labels{}
	for i, g := range ps {
		names[i] = PointLabel(g.Point, varyWD, varySigma)
		s, y, sty := gridValueLabel(p.Title.TextStyle, g)
		lbl.XYs = append(lbl.XYs, plotter.XY{X: float64(i), Y: y})
		lbl.Labels = append(lbl.Labels, s)
		lbl.TextStyle = append(lbl.TextStyle, sty)
		bc, err := gridBar(i, g, i == best, c)
		if err != nil {
			return nil, fmt.Errorf("figures: GridSearch: rule %q: %w", rule, err)
		}
		p.Add(bc)
	}
	lbl.Offset = vg.Point{Y: vg.Points(2)}
	p.Add(lbl)
	p.NominalX(names...)
	p.X.Tick.Label.Font.Size = vg.Points(8)
	p.Y.Min = 0
	p.Y.Max = gridYMax(ps)
	return p, nil
}

// gridValueLabel returns the text printed above point g's bar, its height
// and its style (derived from base): the accuracy in percent in black, or
// "diverged" in red, written vertically from the axis up.
func gridValueLabel(base text.Style, g results.GridPoint) (string, float64, text.Style) {
	sty := base
	sty.Font.Size = vg.Points(8)
	sty.XAlign = draw.XCenter
	sty.YAlign = draw.YBottom
	sty.Color = color.Black
	s := fmt.Sprintf("%.1f", 100*g.ValAcc)
	y := 100 * g.ValAcc
	if g.Diverged {
		s, y = "diverged", 0
		sty.Color = color.RGBA{200, 0, 0, 255}
		sty.Rotation = math.Pi / 2
		sty.XAlign = draw.XLeft
		sty.YAlign = draw.YCenter
	}
	return s, y, sty
}

// gridBar makes point g's bar at x = i: its accuracy in percent (zero
// height when it diverged), in colour c for the best point and paler
// otherwise.
func gridBar(i int, g results.GridPoint, best bool, c color.RGBA) (*plotter.BarChart, error) {
	v := plotter.Values{0}
	if !g.Diverged {
		v[0] = 100 * g.ValAcc
	}
	bc, err := plotter.NewBarChart(v, vg.Points(16))
	if err != nil {
		return nil, err
	}
	bc.XMin = float64(i)
	bc.LineStyle.Width = 0
	bc.Color = withAlpha(c, 0.4)
	if best {
		bc.Color = c
	}
	return bc, nil
}

// gridYMax is the top of a grid panel's y axis: 15% above the highest
// non-diverged accuracy, rounded up to a multiple of 10, and at least 10.
func gridYMax(ps []results.GridPoint) float64 {
	top := 0.0
	for _, g := range ps {
		if !g.Diverged {
			top = math.Max(top, 100*g.ValAcc)
		}
	}
	return math.Max(10, math.Ceil(top*1.15/10)*10)
}
