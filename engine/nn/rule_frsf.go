package nn

import "github.com/fabeam/fabeam/engine/rng"

// FRSF is fixed random-magnitude sign-concordant feedback (Liao, Leibo &
// Poggio, "How important is weight symmetry in backpropagation?", AAAI
// 2016, frSF), as BioTorch's frsf layers define it: the operator of layer
// l is
//
//	B_t = |M_0| ∘ sign(W_t)
//
// recomputed every step from the current weights, a chained operator of
// W's shape (Conv2 applied as a transposed convolution), sign(0) = 0. M_0
// is drawn once, at NewRule, from the layer's own initialisation
// distribution — U(±1/sqrt(fan_in)), PyTorch's default, which InitPyTorch
// uses for W — from the stream rng.New(seed, "feedback/<layer>"), and
// |M_0| is kept (and saved in checkpoints as "feedback.<layer>").
//
// This is what separates it from usf_init, whose magnitudes are |B0| with
// B0 ~ N(0, σ²) and σ a hyper-parameter: frsf's magnitudes have the scale
// of the layer's initial weights (mean 1/(2·sqrt(fan_in)), at most
// 1/sqrt(fan_in)), so each layer's feedback is as large as its own
// initial weights, and there is no σ. BioTorch draws M_0 with whichever
// init its layers use (Xavier by default); fabeam's layers use PyTorch's
// default, so M_0 does too.
type FRSF struct {
	fixedFeedback
}

var frsfSpec = RuleSpec{
	Name: "frsf", Display: "frSF", Family: FamilySignConcordant, Knowledge: 2,
	PaperGrid:   Grid{LR: []float64{1e-4, 3e-4, 1e-3, 3e-3, 1e-2}},
	PaperChoice: Hyper{LR: 1e-3},
	// |M_0| of W's shape for conv2..fc3, and the operator derived from W.
	StoredFeedback: weightCount(Conv2), DerivedFeedback: weightCount(Conv2),
	New: func(_ float64, seed uint64) Rule { return NewFRSF(seed) },
}

// NewFRSF draws M_0 ~ U(±1/sqrt(fan_in)) of W's shape for conv2..fc3,
// each layer from rng.New(seed, "feedback/<layer>"), and keeps |M_0|.
func NewFRSF(seed uint64) *FRSF {
	var f fixedFeedback
	for l := Conv2; l < NumLayers; l++ {
		f.shapes[l] = append([]int(nil), weightShapes[l]...)
		m := make([]float32, numel(weightShapes[l]))
		rng.New(seed, "feedback/"+LayerNames[l]).FillUniform(m, initBound(l))
		for i, v := range m {
			m[i] = abs32f(v)
		}
		f.b0[l] = m
	}
	return &FRSF{f}
}

// Name returns "frsf".
func (*FRSF) Name() string { return "frsf" }

// Operator writes |M_0| ∘ sign(w) into scratch and returns it.
func (r *FRSF) Operator(l int, w, scratch []float32) Operator {
	checkFeedbackLayer(l)
	m := r.b0[l]
	scratch = scratch[:len(w)]
	for i, v := range w {
		scratch[i] = abs32f(m[i]) * sign32(v)
	}
	return Operator{B: scratch}
}

// abs32f returns |v| (-0 stays -0, which is 0 as a magnitude).
func abs32f(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
