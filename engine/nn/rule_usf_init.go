package nn

// USFInit is uniform sign-concordant feedback with random magnitudes (Liao,
// Leibo & Poggio, "How important is weight symmetry in backpropagation?",
// AAAI 2016; Moskovitz, Litwin-Kumar & Abbott 2018): the operator is
//
//	B_t = |B0| ⊙ sign(W_t)
//
// recomputed every step from the current weights, with a fixed
// B0 ~ N(0, sigma²) of W's shape (Conv2 applied as a transposed
// convolution). sign(0) = 0.
type USFInit struct {
	fixedFeedback
}

var usfInitSpec = RuleSpec{
	Name: "usf_init", Display: "uSF Init", Family: FamilySignConcordant, InPaper: true, Knowledge: 2, UsesSigma: true,
	PaperGrid:   Grid{LR: []float64{1e-3, 3e-3, 1e-2}, Sigma: []float64{0.01, 0.05, 0.1}},
	PaperChoice: Hyper{LR: 1e-3, Sigma: 0.1},
	// |B0| of W's shape for conv2..fc3, and the operator derived from W.
	StoredFeedback: weightCount(Conv2), DerivedFeedback: weightCount(Conv2),
	Paper: &PaperNumbers{BestVal: 0.7478, Test: 0.7430, BestEpoch: 50,
		CKA: &[NumLayers][NumLayers]float64{
			{.99, .30, .30, .20, .18},
			{.35, .94, .62, .46, .33},
			{.29, .63, .86, .67, .51},
			{.21, .47, .71, .76, .59},
			{.19, .32, .60, .75, .86},
		},
		SubsetN: map[string]int{"both_correct": 10009, "bp_only": 1367}},
	New: func(sigma float64, seed uint64) Rule { return NewUSFInit(sigma, seed) },
}

// NewUSFInit draws B0 from rng.New(seed, "feedback/<layer>"). It panics if
// sigma is not positive.
func NewUSFInit(sigma float64, seed uint64) *USFInit {
	if !(sigma > 0) {
		panic("nn: usf_init needs sigma > 0")
	}
	return &USFInit{newFixedFeedback(sigma, seed, weightShapes[Conv2])}
}

// Name returns "usf_init".
func (*USFInit) Name() string { return "usf_init" }

// Operator writes |B0| ⊙ sign(w) into scratch and returns it.
func (r *USFInit) Operator(l int, w, scratch []float32) Operator {
	checkFeedbackLayer(l)
	b0 := r.b0[l]
	scratch = scratch[:len(w)]
	for i, v := range w {
		a := b0[i]
		if a < 0 {
			a = -a
		}
		scratch[i] = a * sign32(v)
	}
	return Operator{B: scratch}
}
