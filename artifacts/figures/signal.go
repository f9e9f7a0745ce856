package figures

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/fabeam/fabeam/artifacts/results"
)

// AdamEps is Adam's ε (engine/nn.NewAdam): below it a weight gradient's
// RMS no longer sets the update's scale.
const AdamEps = 1e-8

// signalRow is one row of the learning-signal figure: a per-layer epoch
// metric of the history.
type signalRow struct {
	Label string
	Get   func(*results.Epoch) map[string]float64
}

var signalRows = []signalRow{
	{"error RMS", func(e *results.Epoch) map[string]float64 { return e.ErrorRMS }},
	{"weight-gradient RMS", func(e *results.Epoch) map[string]float64 { return e.WeightGradRMS }},
	{"update RMS / lr", func(e *results.Epoch) map[string]float64 { return e.UpdateRMS }},
}

// epochMeans returns, for one rule's histories, the epochs at which get's
// layer value is finite (and positive, with positive set: a log axis
// cannot show 0) in some seed, and the mean over those seeds at each.
func epochMeans(hs []results.History, layer string, get func(*results.Epoch) map[string]float64, positive bool) (xs, ys []float64) {
	byEpoch := map[int][]float64{}
	for _, h := range hs {
		for i := range h.Epochs {
			if v, ok := get(&h.Epochs[i])[layer]; ok && !math.IsNaN(v) && !math.IsInf(v, 0) && (v > 0 || !positive) {
				byEpoch[h.Epochs[i].Epoch] = append(byEpoch[h.Epochs[i].Epoch], v)
			}
		}
	}
	_, xs, ys = meanByKey(byEpoch)
	return xs, ys
}

// logPlot is newPlot with a logarithmic y axis.
func logPlot(title, xlabel, ylabel string) *plot.Plot {
	p := newPlot(title, xlabel, ylabel)
	p.X.Tick.Marker = epochTicks{}
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = logTicks{}
	p.Add(plotter.NewGrid())
	return p
}

// epochTicks labels whole epochs only (about eight of them), since an
// epoch axis has no fractional epochs.
type epochTicks struct{}

// Ticks implements plot.Ticker.
func (epochTicks) Ticks(lo, hi float64) []plot.Tick {
	first, last := int(math.Ceil(lo)), int(math.Floor(hi))
	step := max(1, (last-first+7)/8)
	var ts []plot.Tick
	for e := first; e <= last; e += step {
		ts = append(ts, plot.Tick{Value: float64(e), Label: strconv.Itoa(e)})
	}
	return ts
}

// logTicks labels the powers of ten in range ("1e-6", "0.01", "1"), and
// 2 and 5 times them when the range holds fewer than two powers.
type logTicks struct{}

// Ticks implements plot.Ticker.
func (logTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(lo > 0) || !(hi >= lo) || math.IsInf(hi, 0) {
		return nil
	}
	k0, k1 := int(math.Floor(math.Log10(lo))), int(math.Ceil(math.Log10(hi)))
	inRange := 0
	for k := k0; k <= k1; k++ {
		if v := math.Pow10(k); v >= lo && v <= hi {
			inRange++
		}
	}
	mults := []float64{1}
	if inRange < 2 {
		mults = []float64{1, 2, 5}
	}
	var ts []plot.Tick
	for k := k0; k <= k1; k++ {
		for _, m := range mults {
			v := m * math.Pow10(k)
			if v >= lo*(1-1e-9) && v <= hi*(1+1e-9) {
				ts = append(ts, plot.Tick{Value: v, Label: logLabel(m, k)})
			}
		}
	}
	return ts
}

// logLabel writes m·10^k as "2e-6" for small and large k, plainly
// ("0.05", "20") for -2 <= k <= 2.
func logLabel(m float64, k int) string {
	if k >= -2 && k <= 2 {
		return strconv.FormatFloat(m*math.Pow10(k), 'f', max(0, -k), 64)
	}
	return fmt.Sprintf("%ge%d", m, k)
}

// signalPanel draws one (metric, layer) panel: per rule its epoch means,
// with markers when there are few epochs. It returns nil when no rule has
// a value, and adds each rule's legend entry to leg.
func signalPanel(h map[string][]results.History, row signalRow, layer, ylabel string, leg *figureLegend) (*plot.Plot, error) {
	rules := sortedKeys(h)
	p := logPlot(layer, "epoch", ylabel)
	drawn := 0
	for _, rule := range rules {
		xs, ys := epochMeans(h[rule], layer, row.Get, true)
		c := ruleColor(rule, rules)
		l, err := xyLine(xs, ys, c, vg.Points(1.6))
		if err != nil || l == nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		p.Add(l)
		if err := addMarkers(p, l, c, vg.Points(2)); err != nil {
			return nil, err
		}
		leg.add(legendEntry{Name: RuleName(rule), Color: c, Width: l.LineStyle.Width})
		drawn++
	}
	if drawn == 0 {
		return nil, nil
	}
	if p.Y.Min == p.Y.Max { // one value: a decade around it (a log axis cannot pad by ±1)
		p.Y.Min, p.Y.Max = p.Y.Min/3, p.Y.Max*3
	}
	return p, nil
}

// addEpsLine draws Adam's ε as a dashed line across p's epochs.
func addEpsLine(p *plot.Plot, leg *figureLegend) error {
	x0, x1 := p.X.Min, math.Max(p.X.Max, p.X.Min+1)
	l, err := xyLine([]float64{x0, x1}, []float64{AdamEps, AdamEps}, color.RGBA{200, 0, 0, 255}, vg.Points(1))
	if err != nil {
		return err
	}
	l.LineStyle.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
	p.Add(l)
	leg.add(legendEntry{Name: "Adam's ε = 1e-8", Color: l.LineStyle.Color, Width: l.LineStyle.Width, Dashes: l.LineStyle.Dashes})
	return nil
}

// Signal draws the learning signal (history error_rms, weight_grad_rms,
// update_rms) as one figure: a row per metric, a column per layer (conv1
// … fc3, left to right), epochs along x, a logarithmic y axis, one line
// per rule (mean over seeds). The weight-gradient row marks Adam's ε.
func Signal(h map[string][]results.History) ([]byte, error) {
	var rows [][]*plot.Plot
	var leg figureLegend
	for _, row := range signalRows {
		var panels []*plot.Plot
		drawn := false
		for j, layer := range Layers {
			ylabel := ""
			if j == 0 {
				ylabel = row.Label
			}
			p, err := signalPanel(h, row, layer, ylabel, &leg)
			if err != nil {
				return nil, err
			}
			if p != nil && row.Label == signalRows[1].Label {
				if err := addEpsLine(p, &leg); err != nil {
					return nil, err
				}
			}
			drawn = drawn || p != nil
			panels = append(panels, p)
		}
		if drawn {
			rows = append(rows, panels)
		}
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("figures: Signal: %w", ErrNoData)
	}
	return renderPanels("Learning signal per layer: error at the layer's output, weight gradient, Adam update / lr (RMS per epoch)",
		leg.entries, rows, 15*vg.Inch, vg.Length(0.8+3.2*float64(len(rows)))*vg.Inch)
}

// SignalRow is one rule's weight-gradient RMS per layer at its last epoch
// (mean over the seeds that recorded it), and the layers where it fell
// below Adam's ε.
type SignalRow struct {
	Rule string
	// Epoch is the last epoch (the largest over seeds).
	Epoch int
	// GradRMS and UpdateRMS map layer names to the last epoch's values.
	GradRMS, UpdateRMS map[string]float64
	// BelowEps lists, per layer whose weight-gradient RMS fell below
	// AdamEps in some epoch (mean over seeds), the first such epoch.
	BelowEps map[string]int
}

// SignalTable summarises the learning signal of each rule that recorded
// one (SortRules order).
func SignalTable(h map[string][]results.History) []SignalRow {
	var out []SignalRow
	for _, rule := range sortedKeys(h) {
		row := SignalRow{Rule: rule, GradRMS: map[string]float64{}, UpdateRMS: map[string]float64{}, BelowEps: map[string]int{}}
		for _, layer := range Layers {
			xs, ys := epochMeans(h[rule], layer, signalRows[1].Get, false)
			if len(xs) == 0 {
				continue
			}
			row.Epoch = max(row.Epoch, int(xs[len(xs)-1]))
			row.GradRMS[layer] = ys[len(ys)-1]
			for i, y := range ys {
				if y < AdamEps {
					row.BelowEps[layer] = int(xs[i])
					break
				}
			}
			if ux, uy := epochMeans(h[rule], layer, signalRows[2].Get, false); len(ux) > 0 {
				row.UpdateRMS[layer] = uy[len(uy)-1]
			}
		}
		if len(row.GradRMS) > 0 {
			out = append(out, row)
		}
	}
	return out
}
