package figures

import (
	"bytes"
	"fmt"
	"image/color"
	"math"
	"sort"
	"strconv"

	"gonum.org/v1/gonum/stat/distuv"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/fabeam/fabeam/engine/nn"
)

// DPI is the resolution every plot is rendered at.
const DPI = 110

// EMAAlpha is the smoothing factor of the exponential moving average drawn
// over per-step series (the paper's α = 0.05).
const EMAAlpha = 0.05

// Layers are the network's layer names in forward order.
var Layers = []string{"conv1", "conv2", "fc1", "fc2", "fc3"}

// RuleOrder is the order in which rules appear in every table, legend and
// figure: the engine's (nn.RuleNames). Rules not listed here follow,
// sorted by name.
var RuleOrder = nn.RuleNames()

// ClassNames are the CIFAR-10 classes in label order.
var ClassNames = []string{"airplane", "automobile", "bird", "cat", "deer",
	"dog", "frog", "horse", "ship", "truck"}

// RuleName returns the display name rule declares (nn.RuleSpec.Display:
// "FA (Random)" for "fa_random"), or rule itself when the engine does not
// know it.
func RuleName(rule string) string {
	if s, err := nn.Spec(rule); err == nil {
		return s.Display
	}
	return rule
}

// ruleColors are the colours of the engine's rules, in nn.RuleNames order,
// from the Okabe–Ito colour-blind-safe palette.
var ruleColors = func() map[string]color.RGBA {
	palette := []color.RGBA{
		{0, 0, 0, 255},     // black
		{230, 159, 0, 255}, // orange
		{213, 94, 0, 255},  // vermillion
		{0, 114, 178, 255}, // blue
		{0, 158, 115, 255}, // bluish green
	}
	m := map[string]color.RGBA{}
	for i, r := range nn.RuleNames() {
		if i < len(palette) {
			m[r] = palette[i]
		}
	}
	return m
}()

var extraColors = []color.RGBA{
	{204, 121, 167, 255}, // reddish purple
	{86, 180, 233, 255},  // sky blue
	{240, 228, 66, 255},  // yellow
	{120, 120, 120, 255}, // grey
}

// ruleColor returns the colour of rule; rules beyond the paper's five get
// the extra colours in the order SortRules puts them.
func ruleColor(rule string, all []string) color.RGBA {
	if c, ok := ruleColors[rule]; ok {
		return c
	}
	i := 0
	for _, r := range all {
		if _, ok := ruleColors[r]; ok {
			continue
		}
		if r == rule {
			break
		}
		i++
	}
	return extraColors[i%len(extraColors)]
}

// withAlpha returns c at opacity a in [0, 1], premultiplied as image/color
// requires.
func withAlpha(c color.RGBA, a float64) color.NRGBA {
	return color.NRGBA{R: c.R, G: c.G, B: c.B, A: uint8(math.Round(a * 255))}
}

// SortRules returns the rules in RuleOrder, then any others by name.
func SortRules(rules []string) []string {
	rank := func(r string) int {
		for i, o := range RuleOrder {
			if o == r {
				return i
			}
		}
		return len(RuleOrder)
	}
	out := append([]string(nil), rules...)
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := rank(out[i]), rank(out[j])
		if ri != rj {
			return ri < rj
		}
		return out[i] < out[j]
	})
	return out
}

// sortedKeys returns the keys of m in SortRules order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return SortRules(keys)
}

// EMA returns the exponential moving average of xs with smoothing factor
// alpha in (0, 1]:
//
//	ema[0] = xs[0]
//	ema[t] = alpha*xs[t] + (1-alpha)*ema[t-1]
//
// Seeding with the first value (rather than 0) avoids the start-up bias of a
// zero-initialised average. NaN values are skipped: ema[t] repeats ema[t-1]
// (NaN until the first finite value). EMA panics if alpha is outside (0, 1].
func EMA(xs []float64, alpha float64) []float64 {
	if !(alpha > 0 && alpha <= 1) {
		panic(fmt.Sprintf("figures: EMA alpha %v outside (0, 1]", alpha))
	}
	out := make([]float64, len(xs))
	prev := math.NaN()
	for t, x := range xs {
		switch {
		case math.IsNaN(x):
		case math.IsNaN(prev):
			prev = x
		default:
			prev = alpha*x + (1-alpha)*prev
		}
		out[t] = prev
	}
	return out
}

// MeanCI95 returns the mean of xs and the half-width of its two-sided 95%
// confidence interval under Student's t distribution:
//
//	half = t_{0.975, n-1} * s / sqrt(n),   s² = Σ(x-mean)²/(n-1)
//
// With fewer than two values there is no spread to estimate, and half is 0
// (the report then prints the bare value). With no values, mean is NaN.
func MeanCI95(xs []float64) (mean, half float64) {
	n := len(xs)
	if n == 0 {
		return math.NaN(), 0
	}
	var sum float64
	for _, x := range xs {
		sum += x
	}
	mean = sum / float64(n)
	if n < 2 {
		return mean, 0
	}
	var ss float64
	for _, x := range xs {
		d := x - mean
		ss += d * d
	}
	s := math.Sqrt(ss / float64(n-1))
	t := distuv.StudentsT{Mu: 0, Sigma: 1, Nu: float64(n - 1)}.Quantile(0.975)
	return mean, t * s / math.Sqrt(float64(n))
}

// newPlot returns a plot with the house style: title, axis labels, a light
// grid, legend at the top right.
func newPlot(title, xlabel, ylabel string) *plot.Plot {
	p := plot.New()
	p.Title.Text = title
	p.Title.TextStyle.Font.Size = vg.Points(13)
	p.X.Label.Text = xlabel
	p.Y.Label.Text = ylabel
	p.X.Label.TextStyle.Font.Size = vg.Points(11)
	p.Y.Label.TextStyle.Font.Size = vg.Points(11)
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(10)
	p.X.Tick.Marker = niceTicks{}
	p.Y.Tick.Marker = niceTicks{}
	return p
}

// renderPNG draws a single plot at w×h and encodes it as PNG.
func renderPNG(p *plot.Plot, w, h vg.Length) ([]byte, error) {
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(DPI))
	p.Draw(draw.New(c))
	return encodeCanvas(c)
}

// renderPanels draws plots in a rows×cols grid under a common title and an
// optional figure-wide legend, and encodes the result as PNG. Nil plots
// leave their tile empty.
func renderPanels(title string, legend []legendEntry, plots [][]*plot.Plot, w, h vg.Length) ([]byte, error) {
	c := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(DPI))
	dc := draw.New(c)
	top := vg.Points(8)
	if title != "" {
		sty := plot.New().Title.TextStyle
		sty.Font.Size = vg.Points(15)
		sty.XAlign = draw.XCenter
		sty.YAlign = draw.YTop
		dc.FillText(sty, vg.Point{X: w / 2, Y: h - top}, title)
		top += vg.Points(24)
	}
	if len(legend) > 0 {
		drawTopLegend(dc, legend, h-top-vg.Points(6))
		top += vg.Points(24)
	}
	t := draw.Tiles{
		Rows: len(plots), Cols: len(plots[0]),
		PadX: vg.Points(18), PadY: vg.Points(18),
		PadTop: top, PadBottom: vg.Points(6),
		PadLeft: vg.Points(6), PadRight: vg.Points(10),
	}
	cs := plot.Align(plots, t, dc)
	for i := range plots {
		for j := range plots[i] {
			if plots[i][j] != nil {
				plots[i][j].Draw(cs[i][j])
			}
		}
	}
	return encodeCanvas(c)
}

func encodeCanvas(c *vgimg.Canvas) ([]byte, error) {
	var buf bytes.Buffer
	if _, err := (vgimg.PngCanvas{Canvas: c}).WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("figures: encoding PNG: %w", err)
	}
	return buf.Bytes(), nil
}

// grid arranges plots into rows of at most cols panels.
func grid(ps []*plot.Plot, cols int) [][]*plot.Plot {
	if len(ps) < cols {
		cols = len(ps)
	}
	var out [][]*plot.Plot
	for i := 0; i < len(ps); i += cols {
		row := make([]*plot.Plot, cols)
		copy(row, ps[i:min(i+cols, len(ps))])
		out = append(out, row)
	}
	return out
}

// niceTicks places major ticks at multiples of 1, 2 or 5 × 10^k (about five
// of them) with plain labels ("25", "0.5", "17500"), and unlabelled minor
// ticks between.
type niceTicks struct{}

// Ticks implements plot.Ticker.
func (niceTicks) Ticks(lo, hi float64) []plot.Tick {
	if !(hi > lo) || math.IsInf(lo, 0) || math.IsInf(hi, 0) {
		return []plot.Tick{{Value: lo, Label: fmtTick(lo)}}
	}
	raw := (hi - lo) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var ts []plot.Tick
	minor := step / 5
	if step/mag == 2 || step/mag == 20 {
		minor = step / 4
	}
	for v := math.Ceil(lo/minor) * minor; v <= hi+minor*1e-9; v += minor {
		v = math.Round(v/minor) * minor
		if r := math.Abs(v/step - math.Round(v/step)); r < 1e-6 {
			ts = append(ts, plot.Tick{Value: v, Label: fmtTickStep(v, step)})
		} else {
			ts = append(ts, plot.Tick{Value: v})
		}
	}
	return ts
}

// fmtTickStep formats a major tick with no more decimals than its step
// needs, so that floating-point residue (1.2000000000000002) never shows.
func fmtTickStep(v, step float64) string {
	dec := 0
	if step < 1 {
		dec = int(math.Ceil(-math.Log10(step) - 1e-9))
	}
	x, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', dec, 64), 64)
	return fmtTick(x)
}

func fmtTick(v float64) string {
	if math.Abs(v) < 1e-12 {
		return "0"
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// legendEntry is one item of a figure-wide legend.
type legendEntry struct {
	Name   string
	Color  color.Color
	Width  vg.Length
	Dashes []vg.Length
}

// figureLegend collects the entries of a figure-wide legend in the order
// they are first added, each name once (a rule drawn in several panels
// appears once).
type figureLegend struct {
	entries []legendEntry
	seen    map[string]bool
}

// add appends e unless an entry of the same name is already there.
func (l *figureLegend) add(e legendEntry) {
	if l.seen[e.Name] {
		return
	}
	if l.seen == nil {
		l.seen = map[string]bool{}
	}
	l.seen[e.Name] = true
	l.entries = append(l.entries, e)
}

// drawTopLegend draws entries in one centred row at height y (points from
// the bottom of dc): a short line sample, then the name.
func drawTopLegend(dc draw.Canvas, entries []legendEntry, y vg.Length) {
	sty := plot.New().Legend.TextStyle
	sty.Font.Size = vg.Points(11)
	sty.YAlign = draw.YCenter
	const sample, gap, sep = 22, 5, 20
	var total vg.Length
	for i, e := range entries {
		total += sample + gap + sty.Width(e.Name)
		if i > 0 {
			total += sep
		}
	}
	x := dc.Min.X + (dc.Max.X-dc.Min.X-total)/2
	for _, e := range entries {
		ls := draw.LineStyle{Color: e.Color, Width: e.Width, Dashes: e.Dashes}
		dc.StrokeLine2(ls, x, y, x+sample, y)
		x += sample + gap
		dc.FillText(sty, vg.Point{X: x, Y: y}, e.Name)
		x += sty.Width(e.Name) + sep
	}
}
