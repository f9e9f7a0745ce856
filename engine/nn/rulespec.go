package nn

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Family groups learning rules by how their feedback operator relates to
// the forward weights W.
type Family string

// The three families of the study.
const (
	// FamilyBackprop: the operator is W itself.
	FamilyBackprop Family = "backprop"
	// FamilyRandomFeedback: a fixed random operator B0, unrelated to W.
	FamilyRandomFeedback Family = "random feedback"
	// FamilySignConcordant: an operator with W's signs, recomputed from W
	// at every step.
	FamilySignConcordant Family = "sign-concordant"
)

// Reference is the name of the reference rule, backpropagation: the rule
// every other is compared with, and the one whose backward pass gives true
// gradients (used wherever a plain network is needed).
const Reference = "bp"

// Hyper is one setting of a learning rule's hyper-parameters: Adam's
// learning rate LR, its coupled L2 coefficient WeightDecay, and the
// standard deviation Sigma of the fixed feedback tensors B0 (0 for rules
// that draw none).
type Hyper struct {
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"`
	// Sigma is the standard deviation of B0; 0 for rules that ignore it
	// (bp, usf_sn).
	Sigma float64 `json:"sigma"`
}

// Grid is the axes of a rule's hyper-parameter grid. Points are the
// product LR × WeightDecay × Sigma, the learning rate varying slowest; an
// empty axis stands for the single value 0.
type Grid struct {
	LR, WeightDecay, Sigma []float64
}

// Points returns the grid's points in grid order.
func (g Grid) Points() []Hyper {
	or0 := func(v []float64) []float64 {
		if len(v) == 0 {
			return []float64{0}
		}
		return v
	}
	var out []Hyper
	for _, lr := range or0(g.LR) {
		for _, wd := range or0(g.WeightDecay) {
			for _, s := range or0(g.Sigma) {
				out = append(out, Hyper{LR: lr, WeightDecay: wd, Sigma: s})
			}
		}
	}
	return out
}

// RuleSpec is everything the program asks about a learning rule; each
// rule's file declares one, and the rules table of rule.go lists them.
type RuleSpec struct {
	// Name is the rule's name as NewRule, the command line and the outputs
	// spell it; Display the paper's name for it in figures and tables.
	Name, Display string
	Family        Family
	// Knowledge ranks how much the rule's feedback knows about W: 0 for
	// bp (W itself), then sign and norm of W (1), sign of W with random
	// magnitudes (2), a random kernel sharing W's convolutional structure
	// (3), a random dense matrix (4), random projections of the output
	// error that skip the layers above (5). Figures that ask the paper's
	// central question order rules by it; ties keep RuleNames order.
	Knowledge int
	// UsesSigma reports that the rule draws fixed tensors B0 ~ N(0, σ²),
	// so it needs a positive sigma (rules without B0 ignore sigma).
	UsesSigma bool
	// InPaper reports that the rule is one of the study's five (bp,
	// fa_random, fa_toeplitz, usf_init, usf_sn); the paper and quick
	// presets run these by default.
	InPaper bool
	// PaperGrid is the paper's hyper-parameter grid for the rule and
	// PaperChoice the point it chose (see docs/paper.md). For a rule not in
	// the paper (InPaper false) both are this project's own choices, made in
	// the paper's style: its five learning rates 1e-4 … 1e-2 (times the
	// rule's own axis, if it has one) and lr 1e-3 without a grid.
	PaperGrid   Grid
	PaperChoice Hyper
	// SmokeChoice, when set, replaces PaperChoice in the smoke preset (its
	// two-point grid is this point and three times its learning rate): a
	// rule whose best rate on CIFAR-10 is too slow to leave chance in the
	// smoke preset's ten steps of synthetic data gets a larger one there,
	// so the smoke study still shows that it learns.
	SmokeChoice Hyper
	// StoredFeedback is the number of fixed feedback parameters the rule
	// holds (its B0 tensors, saved in checkpoints); DerivedFeedback the
	// number of operator values it derives from W at every step into
	// scratch storage.
	StoredFeedback, DerivedFeedback int64
	// Paper is what the paper published for the rule (Table 1, its CKA
	// matrix against bp and its subset sizes; docs/paper.md), nil for a
	// rule the paper did not run.
	Paper *PaperNumbers
	// PaperDeparture says, as a sentence starting with the rule's Display
	// name, where the rule follows the authors' code rather than the
	// paper's text; the report lists it for every rule run. Empty when the
	// two agree.
	PaperDeparture string
	// New makes the rule; sigma and seed are ignored by rules without B0.
	// It may assume sigma has passed CheckHyper.
	New func(sigma float64, seed uint64) Rule
}

// CheckHyper reports whether h is a valid setting for the rule: a positive
// finite learning rate, a finite weight decay >= 0, and a finite sigma,
// positive for rules that draw B0 and >= 0 for the others. It draws no
// random tensors.
func (s *RuleSpec) CheckHyper(h Hyper) error {
	switch {
	case !(h.LR > 0) || math.IsInf(h.LR, 0):
		return fmt.Errorf("rule %s: lr = %v must be a positive finite learning rate", s.Name, h.LR)
	case !(h.WeightDecay >= 0) || math.IsInf(h.WeightDecay, 0):
		return fmt.Errorf("rule %s: weight_decay = %v must be finite and >= 0", s.Name, h.WeightDecay)
	case s.UsesSigma && (!(h.Sigma > 0) || math.IsInf(h.Sigma, 0)):
		return fmt.Errorf("rule %s: sigma = %v: the rule needs a positive finite sigma for its feedback weights (the paper uses 0.01, 0.05 or 0.1)", s.Name, h.Sigma)
	case !(h.Sigma >= 0) || math.IsInf(h.Sigma, 0):
		return fmt.Errorf("rule %s: sigma = %v must be finite and >= 0", s.Name, h.Sigma)
	}
	return nil
}

// Spec returns the specification of the rule called name, or an error
// naming the rules there are.
func Spec(name string) (*RuleSpec, error) {
	for _, r := range rules {
		if r.Name == name {
			return r, nil
		}
	}
	return nil, fmt.Errorf("nn: unknown learning rule %q; choose one of %s", name, strings.Join(RuleNames(), ", "))
}

// Specs returns every rule's specification, in RuleNames order.
func Specs() []*RuleSpec { return append([]*RuleSpec(nil), rules...) }

// ByKnowledge returns the names of the given rules ordered by Knowledge,
// most knowledge of W first; rules of equal rank keep their order in
// names. Unknown names are an error.
func ByKnowledge(names []string) ([]string, error) {
	specs := make([]*RuleSpec, len(names))
	for i, n := range names {
		s, err := Spec(n)
		if err != nil {
			return nil, err
		}
		specs[i] = s
	}
	sort.SliceStable(specs, func(i, j int) bool { return specs[i].Knowledge < specs[j].Knowledge })
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = s.Name
	}
	return out, nil
}

// weightCount returns the number of weights of layers from..NumLayers-1.
func weightCount(from int) int64 {
	var n int64
	for l := from; l < NumLayers; l++ {
		n += int64(numel(weightShapes[l]))
	}
	return n
}

// PaperNumbers are a rule's published results (docs/paper.md, "Published
// results"): one run per rule in the paper. Accuracies are fractions.
type PaperNumbers struct {
	// BestVal is the best validation accuracy, Test the test accuracy of
	// that checkpoint and BestEpoch (1-based) its epoch (Table 1).
	BestVal, Test float64
	BestEpoch     int
	// CKA is the CKA matrix against bp on all images (Fig. 8), rows the
	// rule's layers and columns bp's, conv1..fc3, printed to two decimals
	// in the source; nil for bp.
	CKA *[NumLayers][NumLayers]float64
	// SubsetN is the number of images in the "both_correct" and "bp_only"
	// subsets (of 15,000 validation and test images); nil for bp.
	SubsetN map[string]int
}
