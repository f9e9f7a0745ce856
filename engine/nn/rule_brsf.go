package nn

import (
	"strconv"

	"github.com/fabeam/fabeam/engine/rng"
)

// BRSF is batchwise random-magnitude sign-concordant feedback (Liao, Leibo
// & Poggio, "How important is weight symmetry in backpropagation?", AAAI
// 2016, brSF), as BioTorch's brsf layers define it: the operator of layer
// l at optimiser step t is
//
//	B_t = |M_t| ∘ sign(W_t)
//
// a chained operator of W's shape (Conv2 applied as a transposed
// convolution), sign(0) = 0, where M_t is redrawn for every step (every
// minibatch) from the layer's initialisation distribution U(±1/sqrt(fan_in))
// (PyTorch's default, which InitPyTorch uses; BioTorch redraws with its
// layers' init, Xavier by default). The draw comes from the stream
// rng.New(seed, "feedback/<layer>/step/<t>"), t the 1-based global step the
// training loop passes to SetStep (0 before the first call), so B_t is a
// function of (seed, layer, step) alone: a run resumed from a checkpoint at
// step k draws exactly what an uninterrupted run draws, and nothing needs
// saving. BioTorch redraws in every forward pass from PyTorch's global
// generator; fabeam draws in the backward pass, once per step (UpdateAngles'
// second backward redraws the same M_t). It ignores sigma.
//
// A BRSF holds the step it was last given (it is a StepRule), so one value
// serves one training run at a time.
type BRSF struct {
	seed uint64
	step int
}

var brsfSpec = RuleSpec{
	Name: "brsf", Display: "brSF", Family: FamilySignConcordant, Knowledge: 2,
	PaperGrid:   Grid{LR: []float64{1e-4, 3e-4, 1e-3, 3e-3, 1e-2}},
	PaperChoice: Hyper{LR: 1e-3},
	// Nothing stored: M_t is drawn, and the operator derived, every step.
	DerivedFeedback: weightCount(Conv2),
	New:             func(_ float64, seed uint64) Rule { return NewBRSF(seed) },
}

// NewBRSF returns the rule for seed, at step 0.
func NewBRSF(seed uint64) *BRSF { return &BRSF{seed: seed} }

// Name returns "brsf".
func (*BRSF) Name() string { return "brsf" }

// SetStep sets the optimiser step whose M_t the next operators use.
func (r *BRSF) SetStep(step int) { r.step = step }

// Operator draws M_t for layer l into scratch and writes |M_t| ∘ sign(w)
// over it.
func (r *BRSF) Operator(l int, w, scratch []float32) Operator {
	checkFeedbackLayer(l)
	scratch = scratch[:len(w)]
	brsfStream(r.seed, l, r.step).FillUniform(scratch, initBound(l))
	for i, v := range w {
		scratch[i] = abs32f(scratch[i]) * sign32(v)
	}
	return Operator{B: scratch}
}

// brsfStream is the stream of layer l's M_t at step t.
func brsfStream(seed uint64, l, step int) *rng.Stream {
	return rng.New(seed, "feedback/"+LayerNames[l]+"/step/"+strconv.Itoa(step))
}
