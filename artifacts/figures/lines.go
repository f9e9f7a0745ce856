package figures

import (
	"errors"
	"fmt"
	"image/color"
	"math"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/engine/nn"
)

// ErrNoData is returned (wrapped) by a figure function whose input holds
// nothing to draw, e.g. LocalAngles on histories without per-step angles.
// BuildFigures skips such figures.
var ErrNoData = errors.New("no data to plot")

// maxDrawnPoints bounds the vertices of one faint raw line. Longer series
// are drawn as the min..max envelope of equal buckets of steps, which is
// what the raw line looks like at figure resolution anyway, and keeps a
// 17,600-step run cheap to render.
const maxDrawnPoints = 1500

// seriesStats aligns several series by index and returns, per index, the
// mean, min and max over the series long enough to have it.
func seriesStats(ss [][]float64) (mean, lo, hi []float64) {
	n := 0
	for _, s := range ss {
		n = max(n, len(s))
	}
	mean = make([]float64, n)
	lo = make([]float64, n)
	hi = make([]float64, n)
	for i := range n {
		var sum float64
		cnt := 0
		lo[i], hi[i] = math.Inf(1), math.Inf(-1)
		for _, s := range ss {
			if i < len(s) && !math.IsNaN(s[i]) {
				sum += s[i]
				cnt++
				lo[i] = math.Min(lo[i], s[i])
				hi[i] = math.Max(hi[i], s[i])
			}
		}
		if cnt == 0 {
			mean[i], lo[i], hi[i] = math.NaN(), math.NaN(), math.NaN()
			continue
		}
		mean[i] = sum / float64(cnt)
	}
	return mean, lo, hi
}

// xyLine makes a line through (xs[i], ys[i]), skipping NaN values.
func xyLine(xs, ys []float64, c color.Color, width vg.Length) (*plotter.Line, error) {
	pts := make(plotter.XYs, 0, len(ys))
	for i, y := range ys {
		if math.IsNaN(y) || math.IsInf(y, 0) {
			continue
		}
		pts = append(pts, plotter.XY{X: xs[i], Y: y})
	}
	if len(pts) == 0 {
		return nil, nil
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return nil, fmt.Errorf("figures: %w", err)
	}
	l.LineStyle.Color = c
	l.LineStyle.Width = width
	return l, nil
}

// band makes a filled polygon between lo and hi over xs (NaNs dropped).
func band(xs, lo, hi []float64, c color.Color) (*plotter.Polygon, error) {
	var top, bot plotter.XYs
	for i := range xs {
		if math.IsNaN(lo[i]) || math.IsNaN(hi[i]) {
			continue
		}
		bot = append(bot, plotter.XY{X: xs[i], Y: lo[i]})
		top = append(top, plotter.XY{X: xs[i], Y: hi[i]})
	}
	if len(bot) < 2 {
		return nil, nil
	}
	ring := append(plotter.XYs{}, bot...)
	for i := len(top) - 1; i >= 0; i-- {
		ring = append(ring, top[i])
	}
	pg, err := plotter.NewPolygon(ring)
	if err != nil {
		return nil, fmt.Errorf("figures: %w", err)
	}
	pg.Color = c
	pg.LineStyle.Width = 0
	return pg, nil
}

// addRaw adds the faint raw series ys (x = step index + 1) to p: a thin line
// when short, a min..max envelope per bucket when long.
func addRaw(p *plot.Plot, ys []float64, c color.RGBA) error {
	n := len(ys)
	if n <= maxDrawnPoints {
		xs := make([]float64, n)
		for i := range xs {
			xs[i] = float64(i + 1)
		}
		l, err := xyLine(xs, ys, withAlpha(c, 0.25), vg.Points(0.6))
		if err != nil || l == nil {
			return err
		}
		p.Add(l)
		return nil
	}
	buckets := maxDrawnPoints / 2
	xs := make([]float64, buckets)
	lo := make([]float64, buckets)
	hi := make([]float64, buckets)
	for b := range buckets {
		i0, i1 := b*n/buckets, (b+1)*n/buckets
		lo[b], hi[b] = math.Inf(1), math.Inf(-1)
		for _, y := range ys[i0:i1] {
			if !math.IsNaN(y) {
				lo[b] = math.Min(lo[b], y)
				hi[b] = math.Max(hi[b], y)
			}
		}
		if math.IsInf(lo[b], 1) {
			lo[b], hi[b] = math.NaN(), math.NaN()
		}
		xs[b] = float64(i0+i1+1) / 2
	}
	pg, err := band(xs, lo, hi, withAlpha(c, 0.22))
	if err != nil || pg == nil {
		return err
	}
	p.Add(pg)
	return nil
}

// stepSeries collects, for each rule, the per-seed series get(h)[layer].
func stepSeries(h map[string][]results.History, layer string, get func(*results.History) map[string][]float64) map[string][][]float64 {
	out := map[string][][]float64{}
	for rule, hs := range h {
		for i := range hs {
			if s, ok := get(&hs[i])[layer]; ok && len(s) > 0 {
				out[rule] = append(out[rule], s)
			}
		}
	}
	return out
}

// smoothedPanels draws one panel per layer; in each, per rule, the mean over
// seeds of the per-step series faintly and its EMA on top. ref, when not
// NaN, is drawn as a dashed horizontal reference line labelled refName.
func smoothedPanels(fn, title, ylabel string, yMin float64, h map[string][]results.History,
	get func(*results.History) map[string][]float64, ref float64, refName string) ([]byte, error) {
	allRules := sortedKeys(h)
	var panels []*plot.Plot
	var legend figureLegend
	for _, layer := range Layers {
		series := stepSeries(h, layer, get)
		delete(series, nn.Reference)
		if len(series) == 0 {
			continue
		}
		p := newPlot(layer, "training step", ylabel)
		p.Add(plotter.NewGrid())
		maxLen := 0
		for _, rule := range sortedKeys(series) {
			n, err := addSmoothedRule(p, rule, series[rule], ruleColor(rule, allRules), &legend)
			if err != nil {
				return nil, err
			}
			maxLen = max(maxLen, n)
		}
		if !math.IsNaN(ref) {
			if err := addReferenceLine(p, ref, refName, maxLen, &legend); err != nil {
				return nil, err
			}
		}
		p.Y.Min = math.Min(p.Y.Min, yMin)
		panels = append(panels, p)
	}
	if len(panels) == 0 {
		return nil, fmt.Errorf("figures: %s: %w", fn, ErrNoData)
	}
	g := grid(panels, 2)
	return renderPanels(title, legend.entries, g, 11*vg.Inch, vg.Length(0.5+3.5*float64(len(g)))*vg.Inch)
}

// addSmoothedRule adds one rule's series to p: the mean over its seeds'
// series drawn faintly, and that mean's EMA on top with a legend entry
// ("(mean of k seeds)" with several). It returns the mean's length.
func addSmoothedRule(p *plot.Plot, rule string, seeds [][]float64, c color.RGBA, legend *figureLegend) (int, error) {
	mean, _, _ := seriesStats(seeds)
	if err := addRaw(p, mean, c); err != nil {
		return 0, err
	}
	xs := make([]float64, len(mean))
	for i := range xs {
		xs[i] = float64(i + 1)
	}
	l, err := xyLine(xs, EMA(mean, EMAAlpha), c, vg.Points(1.8))
	if err != nil {
		return 0, err
	}
	if l != nil {
		p.Add(l)
		label := RuleName(rule)
		if k := len(seeds); k > 1 {
			label = fmt.Sprintf("%s (mean of %d seeds)", label, k)
		}
		legend.add(legendEntry{Name: label, Color: c, Width: l.LineStyle.Width})
	}
	return len(mean), nil
}

// addReferenceLine draws ref as a dashed grey horizontal line over steps 1
// to maxLen (at least 2) and adds it to the legend as name.
func addReferenceLine(p *plot.Plot, ref float64, name string, maxLen int, legend *figureLegend) error {
	l, err := xyLine([]float64{1, float64(max(maxLen, 2))}, []float64{ref, ref}, color.Gray{Y: 90}, vg.Points(1))
	if err != nil {
		return err
	}
	l.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	p.Add(l)
	legend.add(legendEntry{Name: name, Color: l.LineStyle.Color, Width: l.LineStyle.Width, Dashes: l.LineStyle.Dashes})
	return nil
}

// ValAccuracy plots validation accuracy (percent) per epoch per rule, as in
// the paper's Fig. 2. h maps a rule to its histories over seeds. With one
// seed a rule is a plain line; with several, the line is the mean over seeds
// and a translucent band spans min..max over seeds at each epoch (min..max
// rather than a t-interval: with 2–3 seeds a t-interval is wider than the
// data and says less than the raw spread). Epochs are aligned by their
// Epoch number, so a diverged seed simply stops contributing.
func ValAccuracy(h map[string][]results.History) ([]byte, error) {
	allRules := sortedKeys(h)
	p := newPlot("Validation accuracy per epoch", "epoch", "validation accuracy (%)")
	p.Add(plotter.NewGrid())
	drawn := 0
	for _, rule := range allRules {
		byEpoch := map[int][]float64{}
		for _, hist := range h[rule] {
			for _, e := range hist.Epochs {
				byEpoch[e.Epoch] = append(byEpoch[e.Epoch], 100*e.ValAcc)
			}
		}
		if len(byEpoch) == 0 {
			continue
		}
		epochs, xs, mean := meanByKey(byEpoch)
		lo := make([]float64, len(epochs))
		hi := make([]float64, len(epochs))
		for i, e := range epochs {
			lo[i], hi[i] = minMax(byEpoch[e])
		}
		c := ruleColor(rule, allRules)
		nseeds := len(h[rule])
		if nseeds > 1 {
			pg, err := band(xs, lo, hi, withAlpha(c, 0.2))
			if err != nil {
				return nil, err
			}
			if pg != nil {
				p.Add(pg)
			}
		}
		l, err := xyLine(xs, mean, c, vg.Points(1.8))
		if err != nil {
			return nil, err
		}
		if l == nil {
			continue
		}
		p.Add(l)
		label := RuleName(rule)
		if nseeds > 1 {
			label = fmt.Sprintf("%s (mean, band min–max of %d seeds)", label, nseeds)
		}
		p.Legend.Add(label, l)
		drawn++
	}
	if drawn == 0 {
		return nil, fmt.Errorf("figures: ValAccuracy: %w", ErrNoData)
	}
	p.Legend.Top = false
	p.Legend.Left = false
	p.Legend.YOffs = vg.Points(10)
	p.Y.Min = 0
	return renderPNG(p, 9*vg.Inch, 5.5*vg.Inch)
}

func minMax(xs []float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	for _, x := range xs {
		lo, hi = math.Min(lo, x), math.Max(hi, x)
	}
	return lo, hi
}

// LocalAngles plots the local alignment angle (degrees) per layer over
// training steps, as in the paper's Fig. 3: one panel per layer that has a
// series (conv2, fc1, fc2, fc3), per rule the mean over seeds drawn faintly
// and its EMA (α = EMAAlpha) on top. A dashed line marks 90° (orthogonal).
func LocalAngles(h map[string][]results.History) ([]byte, error) {
	return smoothedPanels("LocalAngles", "Local gradient alignment angle (raw faint, EMA α = 0.05)",
		"angle (degrees)", 0, h, func(x *results.History) map[string][]float64 { return x.Steps.LocalAngle },
		90, "90° (orthogonal)")
}

// Concordance plots sign concordance (fraction of entries with
// sign(W) = sign(B0)) per layer over training steps, as in the paper's
// Figs. 4 and 7: one panel per layer, per rule with a series (fa_random and
// fa_toeplitz in practice) raw faint with its EMA on top, and chance (0.5)
// dashed.
func Concordance(h map[string][]results.History) ([]byte, error) {
	return smoothedPanels("Concordance", "Sign concordance between W and B0 (raw faint, EMA α = 0.05)",
		"fraction of matching signs", math.Inf(1), h, func(x *results.History) map[string][]float64 { return x.Steps.Concordance },
		0.5, "chance (0.5)")
}

// UpdateAngles plots the end-to-end update angle (degrees) per layer: the
// angle between the rule's weight update and the true gradient, measured by
// the engine every K steps (Steps.UpdateAngleSteps). One panel per layer
// with data, one line per rule (mean over seeds, aligned by step number).
func UpdateAngles(h map[string][]results.History) ([]byte, error) {
	allRules := sortedKeys(h)
	var panels []*plot.Plot
	var legend figureLegend
	for _, layer := range Layers {
		p, err := updateAnglePanel(h, layer, allRules, &legend)
		if err != nil {
			return nil, err
		}
		if p != nil {
			panels = append(panels, p)
		}
	}
	if len(panels) == 0 {
		return nil, fmt.Errorf("figures: UpdateAngles: %w", ErrNoData)
	}
	g := grid(panels, 2)
	return renderPanels("End-to-end update angle (rule's weight update vs. true gradient)", legend.entries, g,
		11*vg.Inch, vg.Length(0.5+3.5*float64(len(g)))*vg.Inch)
}

// updateAnglePanel draws one layer's update-angle panel: per rule of
// allRules with values, the mean over seeds by step, with markers when
// there are few measurements. It returns nil when no rule has a value.
func updateAnglePanel(h map[string][]results.History, layer string, allRules []string, legend *figureLegend) (*plot.Plot, error) {
	p := newPlot(layer, "training step", "angle (degrees)")
	p.Add(plotter.NewGrid())
	drawn := 0
	for _, rule := range allRules {
		byStep, nseeds, err := updateAnglesByStep(h[rule], rule, layer)
		if err != nil {
			return nil, err
		}
		if len(byStep) == 0 {
			continue
		}
		_, xs, ys := meanByKey(byStep)
		l, err := xyLine(xs, ys, ruleColor(rule, allRules), vg.Points(1.6))
		if err != nil {
			return nil, err
		}
		if l == nil {
			continue
		}
		p.Add(l)
		if err := addMarkers(p, l, ruleColor(rule, allRules), vg.Points(1.8)); err != nil {
			return nil, err
		}
		label := RuleName(rule)
		if nseeds > 1 {
			label = fmt.Sprintf("%s (mean of %d seeds)", label, nseeds)
		}
		legend.add(legendEntry{Name: label, Color: l.LineStyle.Color, Width: l.LineStyle.Width})
		drawn++
	}
	if drawn == 0 {
		return nil, nil
	}
	return p, nil
}

// updateAnglesByStep gathers one rule's update angles of layer by training
// step over its seeds' histories (NaN values dropped) and counts the seeds
// that recorded the layer. It returns an error naming the rule and seed
// when a history's angles and steps differ in length.
func updateAnglesByStep(hs []results.History, rule, layer string) (map[int][]float64, int, error) {
	byStep := map[int][]float64{}
	nseeds := 0
	for _, hist := range hs {
		s, ok := hist.Steps.UpdateAngle[layer]
		if !ok {
			continue
		}
		if len(s) != len(hist.Steps.UpdateAngleSteps) {
			return nil, 0, fmt.Errorf("figures: UpdateAngles: history of %s seed %d has %d %s values for %d update_angle_steps; the history is inconsistent, re-run its training",
				rule, hist.Seed, len(s), layer, len(hist.Steps.UpdateAngleSteps))
		}
		nseeds++
		for i, st := range hist.Steps.UpdateAngleSteps {
			if !math.IsNaN(s[i]) {
				byStep[st] = append(byStep[st], s[i])
			}
		}
	}
	return byStep, nseeds, nil
}

// meanByKey returns the keys of m in ascending order, the same keys as
// float64 x values, and the mean of each key's values (summed in order).
func meanByKey(m map[int][]float64) (keys []int, xs, mean []float64) {
	keys = make([]int, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	xs = make([]float64, len(keys))
	mean = make([]float64, len(keys))
	for i, k := range keys {
		xs[i] = float64(k)
		var sum float64
		for _, v := range m[k] {
			sum += v
		}
		mean[i] = sum / float64(len(m[k]))
	}
	return keys, xs, mean
}

// addMarkers marks each point of l with a dot of colour c when the line
// has few enough points (60) for the dots to be told apart.
func addMarkers(p *plot.Plot, l *plotter.Line, c color.Color, radius vg.Length) error {
	if len(l.XYs) > 60 {
		return nil
	}
	sc, err := plotter.NewScatter(l.XYs)
	if err != nil {
		return fmt.Errorf("figures: %w", err)
	}
	sc.GlyphStyle = draw.GlyphStyle{Color: c, Radius: radius, Shape: draw.CircleGlyph{}}
	p.Add(sc)
	return nil
}
