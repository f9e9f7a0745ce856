package compare

import (
	"fmt"

	"github.com/fabeam/fabeam/engine/cifar"
	"github.com/fabeam/fabeam/engine/cka"
	"github.com/fabeam/fabeam/engine/nn"
)

// Entry is one CKA matrix: the rule's model of Seed (rows) against the
// Reference model of ReferenceSeed (columns) on one subset of N images.
type Entry struct {
	Seed          int
	Rule          string
	Reference     string
	ReferenceSeed int
	// Subset is SubsetAll, SubsetBothCorrect or SubsetRefOnly.
	Subset string
	N      int
	// TooSmall is set, and Matrix left nil, when the subset holds fewer
	// images than one CKA minibatch.
	TooSmall bool
	// Matrix is 5×5, rows the rule's layers, columns the reference's.
	Matrix [][]float64
	// Estimator is Estimator.
	Estimator string
}

// ClassResult is one rule's per-class test accuracy (fractions, CIFAR-10
// class order) and, against bp, its deficit per class and the class with
// the largest deficit (WorstClassIdx -1 when there is no deficit).
type ClassResult struct {
	Accuracy       []float64
	DeficitVsBP    []float64
	WorstClass     string
	WorstClassIdx  int
	WorstClassDrop float64
}

// Subset names, as written to Entry.Subset.
const (
	// SubsetAll is every image.
	SubsetAll = "all"
	// SubsetBothCorrect is the images both models classify correctly.
	SubsetBothCorrect = "both_correct"
	// SubsetRefOnly is the images the reference (bp) model classifies
	// correctly and the rule's model does not.
	SubsetRefOnly = "bp_only"
)

// Estimator names the CKA estimator of every entry CKAMatrices returns.
const Estimator = "minibatch_unbiased"

// LayerDims are the widths of the five pre-ReLU feature matrices: conv1
// (64,20,20) = 25,600; conv2 (64,6,6) = 2,304; fc1 384; fc2 192; fc3 10.
var LayerDims = nn.FeatureDims

// Features are one model's pre-ReLU outputs on n images, in the order
// conv1, conv2, fc1, fc2, fc3 (each a cka.Matrix of n rows, features in
// the layer's (C,H,W) flattening), and its predicted classes.
type Features struct {
	Layers [nn.NumLayers]cka.Matrix
	// Pred is the argmax of the logits per image (ties to the lower class).
	Pred []int
}

// N returns the number of images.
func (f *Features) N() int { return len(f.Pred) }

// check panics unless every layer has N rows.
func (f *Features) check(where string) {
	for l, m := range f.Layers {
		if m.Rows != f.N() || len(m.Data) != m.Rows*m.Cols || m.Cols < 1 {
			panic(fmt.Sprintf("compare: %s: layer %s is %d×%d with %d values, want %d rows (one per prediction)",
				where, nn.LayerNames[l], m.Rows, m.Cols, len(m.Data), f.N()))
		}
	}
}

// ExtractFeatures runs the n images of x (n,3,24,24) through p, batch
// images at a time (nn.ForwardDataset), and copies every layer's pre-ReLU
// output and the predictions. It holds one model and the features: n ×
// 28,890 float32 (1.7 GB for the 15,000 val+test images, 1.5 GB of it
// conv1). It panics on malformed input.
func ExtractFeatures(p *nn.Params, x []float32, n, batch int) *Features {
	const size = nn.InputC * nn.InputH * nn.InputW
	if n < 0 || batch < 1 || len(x) != n*size {
		panic(fmt.Sprintf("compare: ExtractFeatures: n = %d, batch = %d, len(x) = %d; want n ≥ 0, batch ≥ 1, len(x) = n*%d", n, batch, len(x), size))
	}
	f := &Features{Pred: make([]int, n)}
	for l := range f.Layers {
		f.Layers[l] = cka.Matrix{Rows: n, Cols: LayerDims[l], Data: make([]float32, n*LayerDims[l])}
	}
	nn.ForwardDataset(p, x, batch, func(b *nn.Block) error {
		for l := range f.Layers {
			d := LayerDims[l]
			copy(f.Layers[l].Data[b.Lo*d:b.Hi*d], b.Feature(l))
		}
		copy(f.Pred[b.Lo:b.Hi], b.Pred)
		return nil
	})
	return f
}

// Rows returns a copy of f restricted to the images idx, in that order.
// It panics if an index is out of range.
func (f *Features) Rows(idx []int) *Features {
	g := &Features{Pred: make([]int, len(idx))}
	for r, i := range idx {
		if i < 0 || i >= f.N() {
			panic(fmt.Sprintf("compare: Rows: index %d out of range [0,%d)", i, f.N()))
		}
		g.Pred[r] = f.Pred[i]
	}
	for l, m := range f.Layers {
		d := m.Cols
		data := make([]float32, len(idx)*d)
		for r, i := range idx {
			copy(data[r*d:(r+1)*d], m.Data[i*d:(i+1)*d])
		}
		g.Layers[l] = cka.Matrix{Rows: len(idx), Cols: d, Data: data}
	}
	return g
}

// Subsets splits the images 0..len(labels)-1 into the paper's three CKA
// subsets, each in increasing index order: all; both models correct; the
// reference correct and the rule wrong. It panics if the lengths differ.
func Subsets(labels []uint8, predRef, predRule []int) (all, both, refOnly []int) {
	if len(predRef) != len(labels) || len(predRule) != len(labels) {
		panic(fmt.Sprintf("compare: Subsets: %d labels, %d reference and %d rule predictions; want equal lengths", len(labels), len(predRef), len(predRule)))
	}
	all = make([]int, len(labels))
	both, refOnly = []int{}, []int{}
	for i, y := range labels {
		all[i] = i
		refOK, ruleOK := predRef[i] == int(y), predRule[i] == int(y)
		switch {
		case refOK && ruleOK:
			both = append(both, i)
		case refOK:
			refOnly = append(refOnly, i)
		}
	}
	return all, both, refOnly
}

// Pair names the two models of a comparison: the rule model (the rows of
// every matrix) of seed Seed, against the reference model (the columns),
// rule Reference of seed ReferenceSeed. Ordinarily Reference is "bp" and
// ReferenceSeed = Seed; for the noise ceiling Rule is also "bp" and
// ReferenceSeed another seed (see CeilingPairs).
type Pair struct {
	Seed          int
	Rule          string
	Reference     string
	ReferenceSeed int
}

// CKAMatrices compares rule against ref on the same images (labels holds
// their true classes) and returns three entries, for SubsetAll,
// SubsetBothCorrect and SubsetRefOnly in that order. Each holds the subset
// size and a 5×5 matrix
//
//	Matrix[i][j] = minibatch CKA(rule layer i, ref layer j)
//
// from cka.MinibatchMatrix with o (one shuffle of the subset for all 25
// pairs), or, when the subset has fewer than o.BatchSize images, TooSmall
// and no matrix. Matrix entries are NaN where a layer has no variance on
// the subset (a dead layer or a diverged model); JSON cannot hold NaN, so
// the caller must handle them. It returns an error if o is invalid and
// panics if the features and labels do not describe the same images.
//
// Memory: the subsets are read in place (cka.MinibatchMatrixRows), so a
// call needs little beyond ref and rule themselves.
func CKAMatrices(ref, rule *Features, labels []uint8, pair Pair, o cka.MinibatchOptions) ([]Entry, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	ref.check("CKAMatrices: ref")
	rule.check("CKAMatrices: rule")
	all, both, refOnly := Subsets(labels, ref.Pred, rule.Pred)
	var out []Entry
	for _, s := range []struct {
		name string
		idx  []int
	}{{SubsetAll, all}, {SubsetBothCorrect, both}, {SubsetRefOnly, refOnly}} {
		e := Entry{Seed: pair.Seed, Rule: pair.Rule, Reference: pair.Reference, ReferenceSeed: pair.ReferenceSeed,
			Subset: s.name, N: len(s.idx), Estimator: Estimator}
		if len(s.idx) < o.BatchSize {
			e.TooSmall = true
			out = append(out, e)
			continue
		}
		var m [][]float64
		var err error
		if s.name == SubsetAll {
			m, err = cka.MinibatchMatrix(rule.Layers[:], ref.Layers[:], o)
		} else {
			m, err = cka.MinibatchMatrixRows(rule.Layers[:], ref.Layers[:], s.idx, o)
		}
		if err != nil {
			return nil, fmt.Errorf("compare: %s seed %d against %s seed %d, subset %s: %w", pair.Rule, pair.Seed, pair.Reference, pair.ReferenceSeed, s.name, err)
		}
		e.Matrix = m
		out = append(out, e)
	}
	return out, nil
}

// CeilingPairs returns the noise-ceiling comparisons for the bp models of
// seeds: each seed's bp model (rows) against the bp model of the next seed
// in the list, cyclically, so every seed's matrices have a ceiling of their
// own. Two seeds give both directions (they differ in the bp_only subset
// and in the shuffle); fewer than two give none.
func CeilingPairs(seeds []int) []Pair {
	if len(seeds) < 2 {
		return nil
	}
	out := make([]Pair, len(seeds))
	for i, s := range seeds {
		out[i] = Pair{Seed: s, Rule: nn.Reference, Reference: nn.Reference, ReferenceSeed: seeds[(i+1)%len(seeds)]}
	}
	return out
}

// ClassAccuracy returns the fraction of images of each class that pred
// classifies correctly, in float64. It returns an error naming the class if
// a class has no image (its accuracy is undefined) and panics if the
// lengths differ or a label is not a class.
func ClassAccuracy(labels []uint8, pred []int) ([]float64, error) {
	if len(pred) != len(labels) {
		panic(fmt.Sprintf("compare: ClassAccuracy: %d labels, %d predictions", len(labels), len(pred)))
	}
	var count, correct [nn.NumClasses]int
	for i, y := range labels {
		if int(y) >= nn.NumClasses {
			panic(fmt.Sprintf("compare: ClassAccuracy: label %d of image %d is not a class", y, i))
		}
		count[y]++
		if pred[i] == int(y) {
			correct[y]++
		}
	}
	acc := make([]float64, nn.NumClasses)
	for c := range acc {
		if count[c] == 0 {
			return nil, fmt.Errorf("compare: no test image of class %d (%s): per-class accuracy is undefined; use a test set holding every class", c, cifar.ClassNames[c])
		}
		acc[c] = float64(correct[c]) / float64(count[c])
	}
	return acc, nil
}

// PerClass returns each rule's per-class test accuracy, the mean over its
// seeds' predictions pred[rule][k] (each one per image of labels), and,
// for every rule but "bp", its deficit against bp's mean (bp minus rule)
// and the class with the largest deficit (ties to the lower class). The bp
// entry, and every entry when pred holds no "bp", have no deficit and
// WorstClassIdx = -1. It returns an error if a rule has no seeds or a class
// has no image.
func PerClass(labels []uint8, pred map[string][][]int) (map[string]ClassResult, error) {
	out := make(map[string]ClassResult, len(pred))
	for rule, seeds := range pred {
		if len(seeds) == 0 {
			return nil, fmt.Errorf("compare: rule %q has no predictions; give at least one seed's test predictions", rule)
		}
		mean := make([]float64, nn.NumClasses)
		for _, p := range seeds {
			acc, err := ClassAccuracy(labels, p)
			if err != nil {
				return nil, err
			}
			for c, a := range acc {
				mean[c] += a
			}
		}
		for c := range mean {
			mean[c] /= float64(len(seeds))
		}
		out[rule] = ClassResult{Accuracy: mean, WorstClassIdx: -1}
	}
	bp, ok := out[nn.Reference]
	if !ok {
		return out, nil
	}
	for rule, pc := range out {
		if rule == nn.Reference {
			continue
		}
		pc.DeficitVsBP = make([]float64, nn.NumClasses)
		worst := 0
		for c := range pc.DeficitVsBP {
			pc.DeficitVsBP[c] = bp.Accuracy[c] - pc.Accuracy[c]
			if pc.DeficitVsBP[c] > pc.DeficitVsBP[worst] {
				worst = c
			}
		}
		pc.WorstClassIdx, pc.WorstClass, pc.WorstClassDrop = worst, cifar.ClassNames[worst], pc.DeficitVsBP[worst]
		out[rule] = pc
	}
	return out, nil
}
