package figures

import (
	"fmt"
	"image/color"
	"math"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/engine/nn"
)

// layerColors tell the layers apart in the knowledge figure (ColorBrewer
// "Dark2", colour-blind safe).
var layerColors = []color.RGBA{
	{27, 158, 119, 255}, {217, 95, 2, 255}, {117, 112, 179, 255}, {231, 41, 138, 255}, {102, 166, 30, 255},
}

// errPoints are points with symmetric y error bars.
type errPoints struct {
	plotter.XYs
	plotter.YErrors
}

// addErrPoints adds markers at (xs, ys) with bars ± half to p, in c, and
// returns the markers (for a legend); NaN points are left out.
func addErrPoints(p *plot.Plot, xs, ys, half []float64, c color.Color, shape draw.GlyphDrawer) (*plotter.Scatter, error) {
	var ep errPoints
	for i := range xs {
		if math.IsNaN(ys[i]) {
			continue
		}
		ep.XYs = append(ep.XYs, plotter.XY{X: xs[i], Y: ys[i]})
		ep.YErrors = append(ep.YErrors, struct{ Low, High float64 }{half[i], half[i]})
	}
	if len(ep.XYs) == 0 {
		return nil, nil
	}
	eb, err := plotter.NewYErrorBars(ep)
	if err != nil {
		return nil, fmt.Errorf("figures: %w", err)
	}
	eb.LineStyle.Color, eb.LineStyle.Width = c, vg.Points(1.2)
	sc, err := plotter.NewScatter(ep.XYs)
	if err != nil {
		return nil, fmt.Errorf("figures: %w", err)
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: c, Radius: vg.Points(3.2), Shape: shape}
	p.Add(eb, sc)
	return sc, nil
}

// knowledgeAxis makes a panel whose x axis names k's rules in order.
func knowledgeAxis(k *results.Knowledge, title, ylabel string) *plot.Plot {
	p := newPlot(title, "", ylabel)
	g := plotter.NewGrid()
	g.Vertical.Color = nil
	p.Add(g)
	names := make([]string, len(k.Rules))
	for i, r := range k.Rules {
		names[i] = fmt.Sprintf("%s\n(rank %d)", RuleName(r.Rule), r.Knowledge)
	}
	p.NominalX(names...)
	p.X.Min, p.X.Max = -0.5, float64(len(names))-0.5
	return p
}

// knowledgeAccuracy is the test-accuracy panel, in each rule's colour.
func knowledgeAccuracy(k *results.Knowledge) (*plot.Plot, error) {
	p := knowledgeAxis(k, "Test accuracy (mean ± 95% CI over seeds)", "test accuracy (%)")
	all := make([]string, len(k.Rules))
	for i, r := range k.Rules {
		all[i] = r.Rule
	}
	for i, r := range k.Rules {
		if _, err := addErrPoints(p, []float64{float64(i)}, []float64{100 * r.TestAcc.Mean}, []float64{100 * r.TestAcc.CI95},
			ruleColor(r.Rule, SortRules(all)), draw.CircleGlyph{}); err != nil {
			return nil, err
		}
	}
	p.Y.Min, p.Y.Max = 0, 100
	return p, nil
}

// knowledgeCKA is the CKA panel: per layer (offset a little along x) the
// diagonal CKA with its interval, the mean of the diagonal in black, and
// the noise ceiling at bp's place (hollow) and as a dashed line.
func knowledgeCKA(k *results.Knowledge) (*plot.Plot, []legendEntry, error) {
	p := knowledgeAxis(k, "CKA of each layer with the same layer of BP (subset "+SubsetName(k.Subset)+")", "CKA")
	var leg []legendEntry
	series := append(append([]string(nil), Layers...), "mean of the five")
	for j, name := range series {
		c, w := color.Color(color.Black), vg.Points(1.2)
		if j < len(Layers) {
			c = layerColors[j%len(layerColors)]
		}
		dx := (float64(j) - float64(len(series)-1)/2) * 0.09
		var xs, ys, hs []float64
		for i, r := range k.Rules {
			d := r.CKA
			if r.Rule == nn.Reference {
				d = k.NoiseCeiling
			}
			if d == nil {
				continue
			}
			v := d.Mean
			if j < len(Layers) {
				v = d.Layers[name]
			}
			xs, ys, hs = append(xs, float64(i)+dx), append(ys, v.Mean), append(hs, v.CI95)
		}
		sc, err := addErrPoints(p, xs, ys, hs, c, draw.CircleGlyph{})
		if err != nil {
			return nil, nil, err
		}
		if sc != nil {
			leg = append(leg, legendEntry{Name: name, Color: c, Width: w})
		}
	}
	if c := k.NoiseCeiling; c != nil {
		l, err := xyLine([]float64{-0.5, float64(len(k.Rules)) - 0.5}, []float64{c.Mean.Mean, c.Mean.Mean}, color.Gray{Y: 90}, vg.Points(1))
		if err != nil {
			return nil, nil, err
		}
		l.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		p.Add(l)
		leg = append(leg, legendEntry{Name: "noise ceiling (BP vs BP), mean", Color: l.LineStyle.Color,
			Width: l.LineStyle.Width, Dashes: l.LineStyle.Dashes})
	}
	p.Y.Min, p.Y.Max = 0, 1.05
	return p, leg, nil
}

// KnowledgeClaim draws results.knowledge: rules along x ordered by how
// much their feedback knows about W (most first), above their test
// accuracy and below the CKA of each of their layers with bp's same layer
// and the mean of those five, each with its 95% interval over seeds. With
// two or more seeds, bp's place shows the noise ceiling (bp against bp of
// another seed) and a dashed line its mean.
func KnowledgeClaim(k *results.Knowledge) ([]byte, error) {
	if k == nil || len(k.Rules) == 0 {
		return nil, fmt.Errorf("figures: KnowledgeClaim: %w", ErrNoData)
	}
	acc, err := knowledgeAccuracy(k)
	if err != nil {
		return nil, err
	}
	cka, leg, err := knowledgeCKA(k)
	if err != nil {
		return nil, err
	}
	w := vg.Length(math.Max(9, 1.3*float64(len(k.Rules)))) * vg.Inch
	return renderPanels("Knowledge of W (left: most) against accuracy and alignment with BP", leg,
		[][]*plot.Plot{{acc}, {cka}}, w, 9*vg.Inch)
}
