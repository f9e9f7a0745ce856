package figures

import (
	"fmt"
	"image/color"
	"math"
	"sort"
	"strings"

	"gonum.org/v1/plot/palette"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/text"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/fabeam/fabeam/artifacts/results"
)

// Subsets are the CKA image subsets in report order.
var Subsets = []string{"all", "both_correct", "bp_only"}

var subsetNames = map[string]string{
	"all":          "all images",
	"both_correct": "both correct",
	"bp_only":      "BP correct, rule wrong",
}

// SubsetName returns the display name of a CKA subset.
func SubsetName(s string) string {
	if n, ok := subsetNames[s]; ok {
		return n
	}
	return s
}

// CKAGroup is the CKA matrices of one (rule, reference, subset) over seeds.
type CKAGroup struct {
	Rule, Reference, Subset string
	// Seeds and N list, per contributing entry, its seed and subset size,
	// in seed order. Entries marked TooSmall are counted in TooSmall only.
	Seeds []int
	N     []int
	// TooSmall counts entries whose subset was smaller than one minibatch.
	TooSmall int
	// Matrix is the elementwise mean of the contributing matrices (nil when
	// none contributed).
	Matrix [][]float64
}

// NoiseCeiling reports whether g compares bp with bp of another seed.
func (g CKAGroup) NoiseCeiling() bool { return g.Rule == g.Reference }

// NLabel returns the subset size as text: "n = 4838" for one seed,
// "mean of 3 seeds, n = 4800–4900" for several.
func (g CKAGroup) NLabel() string {
	switch len(g.N) {
	case 0:
		return "n/a"
	case 1:
		return fmt.Sprintf("n = %d", g.N[0])
	}
	lo, hi := g.N[0], g.N[0]
	for _, n := range g.N {
		lo, hi = min(lo, n), max(hi, n)
	}
	if lo == hi {
		return fmt.Sprintf("mean of %d seeds, n = %d each", len(g.N), lo)
	}
	return fmt.Sprintf("mean of %d seeds, n = %d–%d", len(g.N), lo, hi)
}

// GroupCKA groups entries by (rule, reference, subset) and averages each
// group's matrices elementwise over seeds. Groups come in rule order
// (SortRules), then subset order (Subsets, unknown subsets after by name).
// It returns an error naming the entry when a matrix is not 5×5.
func GroupCKA(entries []results.CKAEntry) ([]CKAGroup, error) {
	groups, members := bucketCKA(entries)
	for i := range groups {
		if err := averageCKA(&groups[i], members[i]); err != nil {
			return nil, err
		}
	}
	sortCKAGroups(groups)
	return groups, nil
}

// bucketCKA splits entries into one group per (rule, reference, subset), in
// order of first appearance, and returns each group's entries beside it.
func bucketCKA(entries []results.CKAEntry) ([]CKAGroup, [][]results.CKAEntry) {
	type key struct{ rule, ref, subset string }
	idx := map[key]int{}
	var groups []CKAGroup
	var members [][]results.CKAEntry
	for _, e := range entries {
		k := key{e.Rule, e.Reference, e.Subset}
		i, ok := idx[k]
		if !ok {
			i = len(groups)
			idx[k] = i
			groups = append(groups, CKAGroup{Rule: e.Rule, Reference: e.Reference, Subset: e.Subset})
			members = append(members, nil)
		}
		members[i] = append(members[i], e)
	}
	return groups, members
}

// averageCKA fills g from its entries ms, taken in seed order: entries
// marked TooSmall are only counted, every other one must hold a 5×5 matrix
// and contributes its seed, its n and its matrix to g's elementwise mean.
func averageCKA(g *CKAGroup, ms []results.CKAEntry) error {
	sort.SliceStable(ms, func(a, b int) bool { return ms[a].Seed < ms[b].Seed })
	var sum [][]float64
	for _, e := range ms {
		if e.TooSmall {
			g.TooSmall++
			continue
		}
		if err := checkMatrix(e); err != nil {
			return err
		}
		if sum == nil {
			sum = zeros(len(Layers))
		}
		for r := range e.Matrix {
			for c := range e.Matrix[r] {
				sum[r][c] += e.Matrix[r][c]
			}
		}
		g.Seeds = append(g.Seeds, e.Seed)
		g.N = append(g.N, e.N)
	}
	if sum != nil {
		k := float64(len(g.Seeds))
		for r := range sum {
			for c := range sum[r] {
				sum[r][c] /= k
			}
		}
		g.Matrix = sum
	}
	return nil
}

// sortCKAGroups orders groups for the report: rule comparisons before the
// noise ceiling, then by rule (SortRules), reference, subset (Subsets order,
// unknown subsets after) and subset name.
func sortCKAGroups(groups []CKAGroup) {
	rank := map[string]int{}
	for i, r := range SortRules(uniqueRules(groups)) {
		rank[r] = i
	}
	sort.SliceStable(groups, func(a, b int) bool {
		ga, gb := groups[a], groups[b]
		if ga.NoiseCeiling() != gb.NoiseCeiling() {
			return !ga.NoiseCeiling()
		}
		if rank[ga.Rule] != rank[gb.Rule] {
			return rank[ga.Rule] < rank[gb.Rule]
		}
		if ga.Reference != gb.Reference {
			return ga.Reference < gb.Reference
		}
		if subsetRank(ga.Subset) != subsetRank(gb.Subset) {
			return subsetRank(ga.Subset) < subsetRank(gb.Subset)
		}
		return ga.Subset < gb.Subset
	})
}

// subsetRank is s's position in Subsets, or len(Subsets) for a subset not
// listed there.
func subsetRank(s string) int {
	for i, o := range Subsets {
		if o == s {
			return i
		}
	}
	return len(Subsets)
}

func uniqueRules(gs []CKAGroup) []string {
	seen := map[string]bool{}
	var out []string
	for _, g := range gs {
		if !seen[g.Rule] {
			seen[g.Rule] = true
			out = append(out, g.Rule)
		}
	}
	return out
}

func zeros(n int) [][]float64 {
	m := make([][]float64, n)
	for i := range m {
		m[i] = make([]float64, n)
	}
	return m
}

func checkMatrix(e results.CKAEntry) error {
	bad := len(e.Matrix) != len(Layers)
	for _, row := range e.Matrix {
		bad = bad || len(row) != len(Layers)
	}
	if bad {
		return fmt.Errorf("figures: CKA entry (rule %q, reference %q, subset %q, seed %d) has a matrix that is not %d×%d; results.json is malformed, re-run the Compare stage",
			e.Rule, e.Reference, e.Subset, e.Seed, len(Layers), len(Layers))
	}
	return nil
}

// CKAHeatmap draws one CKA matrix as a 5×5 heatmap, as in the paper's
// Figs. 5, 8 and 9: rows are the rule model's layers (conv1 at the top),
// columns the reference (bp) model's layers, the value printed in each
// cell, colour from 0 (white) to 1 (dark blue). The title names the rule,
// reference, subset, n and seed. An entry marked TooSmall returns an error
// wrapping ErrNoData.
func CKAHeatmap(e results.CKAEntry) ([]byte, error) {
	if e.TooSmall {
		return nil, fmt.Errorf("figures: CKAHeatmap: %s subset %s seed %d is too small for CKA: %w", e.Rule, e.Subset, e.Seed, ErrNoData)
	}
	if err := checkMatrix(e); err != nil {
		return nil, err
	}
	title := fmt.Sprintf("CKA: %s vs %s — %s (n = %d, seed %d)",
		RuleName(e.Rule), refName(e.Reference, e.ReferenceSeed, e.Rule == e.Reference), SubsetName(e.Subset), e.N, e.Seed)
	return heatmap(e.Matrix, title, RuleName(e.Rule), RuleName(e.Reference))
}

// CKAGroupHeatmap draws a group's mean matrix like CKAHeatmap; the title
// says how many seeds were averaged.
func CKAGroupHeatmap(g CKAGroup) ([]byte, error) {
	if g.Matrix == nil {
		return nil, fmt.Errorf("figures: CKAGroupHeatmap: %s subset %s has no matrix: %w", g.Rule, g.Subset, ErrNoData)
	}
	ref := RuleName(g.Reference)
	if g.NoiseCeiling() {
		ref += " (other seed)"
	}
	title := fmt.Sprintf("CKA: %s vs %s — %s (%s)", RuleName(g.Rule), ref, SubsetName(g.Subset), g.NLabel())
	if len(g.Seeds) > 1 {
		title = fmt.Sprintf("CKA: %s vs %s — %s\n(%s)", RuleName(g.Rule), ref, SubsetName(g.Subset), g.NLabel())
	}
	return heatmap(g.Matrix, title, RuleName(g.Rule), ref)
}

func refName(ref string, seed int, ceiling bool) string {
	if ceiling {
		return fmt.Sprintf("%s (seed %d)", RuleName(ref), seed)
	}
	return RuleName(ref)
}

// ckaGrid adapts a square matrix to plotter.GridXYZ: column c is the
// reference layer c, row r the rule layer r drawn at y = n-1-r so that
// conv1 is at the top.
type ckaGrid [][]float64

func (g ckaGrid) Dims() (c, r int)   { return len(g[0]), len(g) }
func (g ckaGrid) Z(c, r int) float64 { return g[len(g)-1-r][c] }
func (g ckaGrid) X(c int) float64    { return float64(c) }
func (g ckaGrid) Y(r int) float64    { return float64(r) }

// blues is ColorBrewer's sequential "Blues" (9 classes), interpolated.
var bluesAnchors = []color.RGBA{
	{0xf7, 0xfb, 0xff, 255}, {0xde, 0xeb, 0xf7, 255}, {0xc6, 0xdb, 0xef, 255},
	{0x9e, 0xca, 0xe1, 255}, {0x6b, 0xae, 0xd6, 255}, {0x42, 0x92, 0xc6, 255},
	{0x21, 0x71, 0xb5, 255}, {0x08, 0x51, 0x9c, 255}, {0x08, 0x30, 0x6b, 255},
}

type colors []color.Color

func (c colors) Colors() []color.Color { return c }

func blues(n int) palette.Palette {
	out := make(colors, n)
	for i := range n {
		t := float64(i) / float64(n-1) * float64(len(bluesAnchors)-1)
		j := min(int(t), len(bluesAnchors)-2)
		f := t - float64(j)
		a, b := bluesAnchors[j], bluesAnchors[j+1]
		mix := func(x, y uint8) uint8 { return uint8(math.Round(float64(x)*(1-f) + float64(y)*f)) }
		out[i] = color.RGBA{mix(a.R, b.R), mix(a.G, b.G), mix(a.B, b.B), 255}
	}
	return out
}

func heatmap(m [][]float64, title, rowRule, colRule string) ([]byte, error) {
	n := len(Layers)
	p := newPlot(title, colRule+" layer", rowRule+" layer")
	hm := plotter.NewHeatMap(ckaGrid(m), blues(256))
	hm.Min, hm.Max = 0, 1
	hm.Underflow = bluesAnchors[0]
	hm.Overflow = bluesAnchors[len(bluesAnchors)-1]
	hm.NaN = color.RGBA{220, 220, 220, 255}
	p.Add(hm)

	lbl := &plotter.Labels{}
	for r := range n {
		for c := range n {
			v := m[r][c]
			lbl.XYs = append(lbl.XYs, plotter.XY{X: float64(c), Y: float64(n - 1 - r)})
			s := "n/a"
			if !math.IsNaN(v) {
				s = strings.TrimPrefix(fmt.Sprintf("%.2f", v), "0")
			}
			lbl.Labels = append(lbl.Labels, s)
			sty := text.Style{
				Color:   color.Black,
				Font:    p.Title.TextStyle.Font,
				XAlign:  draw.XCenter,
				YAlign:  draw.YCenter,
				Handler: p.Title.TextStyle.Handler,
			}
			sty.Font.Size = vg.Points(13)
			if v > 0.55 {
				sty.Color = color.White
			}
			lbl.TextStyle = append(lbl.TextStyle, sty)
		}
	}
	p.Add(lbl)
	p.NominalX(Layers...)
	rev := make([]string, n)
	for i, l := range Layers {
		rev[n-1-i] = l
	}
	p.NominalY(rev...)
	p.X.Tick.Label.Font.Size = vg.Points(11)
	p.Y.Tick.Label.Font.Size = vg.Points(11)
	return renderPNG(p, 6.4*vg.Inch, 6*vg.Inch)
}
