package nn

// FAToeplitz is feedback alignment (Lillicrap et al., Nature Communications
// 2016) that keeps the convolution's structure: Conv2's error goes back
// through a transposed convolution with a fixed random kernel B0 of W's shape
// (64,64,5,5) — a Toeplitz (weight-shared) feedback matrix, as in Liao, Leibo
// & Poggio, "How important is weight symmetry in backpropagation?" (AAAI
// 2016). Linear layers use a fixed B0 of W's shape. B0 ~ N(0, sigma²).
type FAToeplitz struct {
	fixedFeedback
}

// NewFAToeplitz draws the fixed operators from rng.New(seed,
// "feedback/<layer>"). It panics if sigma is not positive.
var faToeplitzSpec = RuleSpec{
	Name: "fa_toeplitz", Display: "FA (Toeplitz)", Family: FamilyRandomFeedback, InPaper: true, Knowledge: 3, UsesSigma: true,
	PaperGrid:   Grid{LR: []float64{1e-3, 3e-3, 1e-2}, Sigma: []float64{0.01, 0.05, 0.1}},
	PaperChoice: Hyper{LR: 1e-3, Sigma: 0.01},
	// B0 of W's shape for conv2..fc3 (conv2's a 64×64×5×5 kernel).
	StoredFeedback: weightCount(Conv2),
	Paper: &PaperNumbers{BestVal: 0.4002, Test: 0.4007, BestEpoch: 43,
		CKA: &[NumLayers][NumLayers]float64{
			{.72, .21, .22, .15, .13},
			{.63, .31, .28, .20, .17},
			{.38, .36, .29, .25, .20},
			{.29, .40, .31, .29, .23},
			{.06, .31, .25, .23, .15},
		},
		SubsetN: map[string]int{"both_correct": 5315, "bp_only": 6061}},
	New: func(sigma float64, seed uint64) Rule { return NewFAToeplitz(sigma, seed) },
}

func NewFAToeplitz(sigma float64, seed uint64) *FAToeplitz {
	if !(sigma > 0) {
		panic("nn: fa_toeplitz needs sigma > 0")
	}
	return &FAToeplitz{newFixedFeedback(sigma, seed, weightShapes[Conv2])}
}

// Name returns "fa_toeplitz".
func (*FAToeplitz) Name() string { return "fa_toeplitz" }

// Operator returns B0.
func (r *FAToeplitz) Operator(l int, w, scratch []float32) Operator {
	checkFeedbackLayer(l)
	return Operator{B: r.b0[l], Fixed: true}
}
