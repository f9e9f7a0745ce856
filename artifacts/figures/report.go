package figures

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"

	"github.com/fabeam/fabeam/artifacts/results"
)

// KV is one entry of the run's resolved configuration.
type KV struct {
	Key, Value string
}

// EfficiencyRow is one rule's cost, from the run's manifest.json
// measurements.
type EfficiencyRow struct {
	Rule string
	// FeedbackParams is the number of feedback-operator parameters the rule
	// stores beyond bp (0 for bp and usf_sn, whose operators derive from W).
	FeedbackParams int64
	// DerivedFeedback is the number of operator values the rule derives
	// from W at every step into scratch storage.
	DerivedFeedback int64
	// ExtraBytes is the memory the rule needs beyond bp, in bytes.
	ExtraBytes int64
	// ImagesPerSec is the training throughput (images per second), the
	// mean over Runs final runs.
	ImagesPerSec float64
	Runs         int
	// BackwardShare is the backward pass's fraction of step time, in [0, 1].
	BackwardShare float64
}

// Figure is one rendered figure.
type Figure struct {
	// Name is the file stem: the figure is figures/<Name>.png.
	Name    string
	Caption string
	PNG     []byte
}

// Report is everything the report pages show.
type Report struct {
	Title     string
	Results   results.Results
	Histories map[string][]results.History
	// Config is the run's resolved configuration, in display order.
	Config     []KV
	Efficiency []EfficiencyRow
	// Timing is the wall clock per stage and rule, in display order.
	Timing  []TimingRow
	Figures []Figure
	// Differences lists where this run differs from the paper and why.
	Differences []string
}

var unsafeName = regexp.MustCompile(`[^a-z0-9_-]+`)

// FigureName turns parts into a file-name-safe figure name: lower case,
// runs of characters outside [a-z0-9_-] replaced by "-", parts joined
// by "_".
func FigureName(parts ...string) string {
	for i, p := range parts {
		parts[i] = strings.Trim(unsafeName.ReplaceAllString(strings.ToLower(p), "-"), "-")
	}
	return strings.Join(parts, "_")
}

// ExemplarScale is the upscaling BuildFigures uses for the exemplar grid.
const ExemplarScale = 3

// BuildFigures renders every figure the report shows from r.Results,
// r.Histories and exemplars, and appends them to r.Figures in report order:
// validation accuracy, knowledge of W against accuracy and CKA, local
// angles, update angles, learning signal, sign concordance, CKA
// heatmaps (per rule and subset, mean over seeds; then the bp-vs-bp noise
// ceiling when present), exemplar grid, per-class accuracy, grid search.
// A figure whose input is absent (ErrNoData) is left out; any other error is
// returned.
func BuildFigures(r *Report, exemplars []ExemplarRow) error {
	if err := addFigures(r, leadingFigures(r)); err != nil {
		return err
	}
	groups, err := GroupCKA(r.Results.CKA)
	if err != nil {
		return err
	}
	if err := addFigures(r, ckaFigures(groups)); err != nil {
		return err
	}
	return addFigures(r, trailingFigures(r, exemplars))
}

// figureSpec is one figure the report may show: its file stem, its caption
// and the function that draws it.
type figureSpec struct {
	name, caption string
	draw          func() ([]byte, error)
}

// addFigures draws specs in order and appends each to r.Figures, leaving
// out a figure whose input is absent (ErrNoData); it stops at, and returns,
// any other error.
func addFigures(r *Report, specs []figureSpec) error {
	for _, f := range specs {
		png, err := f.draw()
		if errors.Is(err, ErrNoData) {
			continue
		}
		if err != nil {
			return err
		}
		r.Figures = append(r.Figures, Figure{Name: f.name, Caption: f.caption, PNG: png})
	}
	return nil
}

// leadingFigures lists the figures shown before the CKA heatmaps:
// validation accuracy, knowledge of W, local angles, update angles,
// learning signal and sign concordance.
func leadingFigures(r *Report) []figureSpec {
	return []figureSpec{
		{"val_accuracy", "Validation accuracy per epoch per rule (paper Fig. 2). With several seeds: mean line, band min–max over seeds.",
			func() ([]byte, error) { return ValAccuracy(r.Histories) }},
		{"knowledge", "The study's question in one figure: rules ordered by how much their feedback knows about W (rank 0: W itself; larger: less), against test accuracy and the CKA of each layer with BP's same layer (subset all) and the mean of the five; mean ± 95% CI over seeds. With two or more seeds BP's place shows the noise ceiling, BP against BP of another seed.",
			func() ([]byte, error) { return KnowledgeClaim(r.Results.Knowledge) }},
		{"local_angles", "Local alignment angle between the rule's backward signal and W^T δ per layer over training steps (paper Fig. 3); raw values faint, EMA (α = 0.05) on top, mean over seeds.",
			func() ([]byte, error) { return LocalAngles(r.Histories) }},
		{"update_angles", "End-to-end angle between each layer's weight update under the rule and the true back-propagated gradient, over training steps.",
			func() ([]byte, error) { return UpdateAngles(r.Histories) }},
		{"signal", "Learning signal per layer and epoch (final runs, mean over seeds, log scale): RMS of the error the rule delivers to the layer's output, of the layer's weight gradient, and of Adam's update divided by the learning rate. Below Adam's ε = 1e-8 (dashed red) a gradient no longer sets its update's scale.",
			func() ([]byte, error) { return Signal(r.Histories) }},
		{"concordance", "Sign concordance between the forward weights W and the fixed feedback B0 per layer (paper Figs. 4 and 7); chance is 0.5. fa_random's conv2 is skipped (shapes differ).",
			func() ([]byte, error) { return Concordance(r.Histories) }},
	}
}

// ckaFigures lists one heatmap per CKA group, in the groups' order, named
// cka_<rule>_<subset> (cka_<rule>_vs_<reference>_seeds_<subset> for the
// noise ceiling) and captioned with the rules, the subset and its n.
func ckaFigures(groups []CKAGroup) []figureSpec {
	var specs []figureSpec
	for _, g := range groups {
		name := FigureName("cka", g.Rule, g.Subset)
		cap := fmt.Sprintf("Linear CKA between %s's layers (rows) and %s's (columns) on subset %q (%s); paper Figs. 5, 8, 9.",
			RuleName(g.Rule), RuleName(g.Reference), SubsetName(g.Subset), g.NLabel())
		if g.NoiseCeiling() {
			name = FigureName("cka", g.Rule, "vs", g.Reference, "seeds", g.Subset)
			cap = fmt.Sprintf("Noise ceiling: linear CKA between BP models of different seeds on subset %q (%s).", SubsetName(g.Subset), g.NLabel())
		}
		specs = append(specs, figureSpec{name, cap, func() ([]byte, error) { return CKAGroupHeatmap(g) }})
	}
	return specs
}

// trailingFigures lists the figures shown after the CKA heatmaps: the
// exemplar grid (only when there are exemplars), per-class accuracy and
// the grid search.
func trailingFigures(r *Report, exemplars []ExemplarRow) []figureSpec {
	var specs []figureSpec
	if len(exemplars) > 0 {
		specs = append(specs, figureSpec{"exemplars", "Top-activating test images of the three most important conv2 channels (Grad-CAM-style importance on dog images) per rule (paper Fig. 6); each cell is the channel's 9 top images.",
			func() ([]byte, error) { return ExemplarGrid(exemplars, ExemplarScale) }})
	}
	return append(specs,
		figureSpec{"per_class", "Test accuracy per CIFAR-10 class per rule (mean over seeds).",
			func() ([]byte, error) { return PerClassBars(r.Results.PerClass) }},
		figureSpec{"grid_search", "Hyper-parameter search: validation accuracy per grid point and rule; the chosen point in full colour.",
			func() ([]byte, error) { return GridSearch(r.Results.Grid) }},
	)
}

// Table1Row is one rule's line of Table 1: ours over seeds beside the
// paper's.
type Table1Row struct {
	Rule string
	// Seeds and Diverged count the final runs and those that diverged.
	Seeds, Diverged int
	// BestVal and Test are means over seeds (fractions) with their 95%
	// half-widths (0 with one seed); NaN when the rule was not run.
	BestVal, BestValHalf, Test, TestHalf float64
	// TestHead and TestHeadHalf are the same over the first
	// res.TestHead test records (results' test_head_acc), over the seeds
	// that have it; NaN when none has.
	TestHead, TestHeadHalf float64
	// BestEpochs lists each seed's best epoch, in seed order.
	BestEpochs      []int
	Hyperparameters results.Hyperparameters
	// Paper is the paper's row, nil for a rule the paper did not run.
	Paper *PaperResult
}

// Table1 builds Table 1 from res: one row per rule run or in the paper, in
// SortRules order. Diverged seeds count like the others (their best-val
// checkpoint predates the divergence) and are also counted in Diverged.
func Table1(res results.Results) []Table1Row {
	set := map[string]bool{}
	for r := range res.Rules {
		set[r] = true
	}
	for r := range PaperTable1 {
		set[r] = true
	}
	var out []Table1Row
	for _, rule := range sortedKeys(set) {
		row := Table1Row{Rule: rule, BestVal: math.NaN(), Test: math.NaN(), TestHead: math.NaN()}
		if p, ok := PaperTable1[rule]; ok {
			row.Paper = &p
		}
		if rr, ok := res.Rules[rule]; ok {
			row.Hyperparameters = rr.Hyperparameters
			var val, test, head []float64
			for _, s := range rr.Seeds {
				val = append(val, s.BestValAcc)
				test = append(test, s.TestAcc)
				if s.TestHeadAcc != nil {
					head = append(head, *s.TestHeadAcc)
				}
				row.BestEpochs = append(row.BestEpochs, s.BestEpoch)
				if s.Diverged {
					row.Diverged++
				}
			}
			row.Seeds = len(rr.Seeds)
			row.BestVal, row.BestValHalf = MeanCI95(val)
			row.Test, row.TestHalf = MeanCI95(test)
			if len(head) > 0 {
				row.TestHead, row.TestHeadHalf = MeanCI95(head)
			}
		}
		out = append(out, row)
	}
	return out
}
