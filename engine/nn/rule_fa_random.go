package nn

// FARandom is feedback alignment (Lillicrap, Cownden, Tweed & Akerman,
// "Random synaptic feedback weights support error backpropagation for deep
// learning", Nature Communications 2016) with every layer treated as fully
// connected: a fixed random B0 ~ N(0, sigma²) of shape (out_dim, in_dim) of
// the flattened output and input carries the error back. For Conv2 that is a
// dense (2304, 6400) matrix (59 MB), with no weight sharing; for the linear
// layers it has W's shape. It is the paper's "FA (random)" rule, following
// the authors' code (docs/paper.md, "Learning rules").
type FARandom struct {
	fixedFeedback
}

// conv2DenseShape is fa_random's Conv2 operator shape: (64*6*6, 64*10*10).
var faRandomSpec = RuleSpec{
	Name: "fa_random", Display: "FA (Random)", Family: FamilyRandomFeedback, InPaper: true, Knowledge: 4, UsesSigma: true,
	PaperGrid:   Grid{LR: []float64{1e-3, 3e-3, 1e-2}, Sigma: []float64{0.01, 0.05, 0.1}},
	PaperChoice: Hyper{LR: 1e-3, Sigma: 0.01},
	// B0: conv2's dense 2304×6400 operator and fc1..fc3's of W's shape.
	StoredFeedback: int64(numel(conv2DenseShape)) + weightCount(FC1),
	Paper: &PaperNumbers{BestVal: 0.3614, Test: 0.3577, BestEpoch: 41,
		CKA: &[NumLayers][NumLayers]float64{
			{.60, .17, .18, .12, .11},
			{.58, .24, .22, .15, .13},
			{.39, .27, .22, .18, .12},
			{.25, .22, .18, .16, .09},
			{.09, .16, .10, .11, .05},
		},
		SubsetN: map[string]int{"both_correct": 4838, "bp_only": 6538}},
	New: func(sigma float64, seed uint64) Rule { return NewFARandom(sigma, seed) },
}

var conv2DenseShape = []int{64 * 6 * 6, 64 * 10 * 10}

// NewFARandom draws the fixed operators from rng.New(seed,
// "feedback/<layer>"). It panics if sigma is not positive (NewRule checks
// this and returns an error instead).
func NewFARandom(sigma float64, seed uint64) *FARandom {
	if !(sigma > 0) {
		panic("nn: fa_random needs sigma > 0")
	}
	return &FARandom{newFixedFeedback(sigma, seed, conv2DenseShape)}
}

// Name returns "fa_random".
func (*FARandom) Name() string { return "fa_random" }

// Operator returns B0; for Conv2 it is dense.
func (r *FARandom) Operator(l int, w, scratch []float32) Operator {
	checkFeedbackLayer(l)
	return Operator{B: r.b0[l], Dense: l == Conv2, Fixed: true}
}
