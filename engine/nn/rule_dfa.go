package nn

// DFA is direct feedback alignment (Nøkland, "Direct feedback alignment
// provides learning in deep neural networks", NeurIPS 2016): every hidden
// layer, conv1 included, receives the output error e = ∂L/∂logits (n,10)
// through its own fixed random matrix, skipping all the layers above:
//
//	error at hidden layer k's output  = e · B_k,   B_k (10, size of k's output)
//	  conv1 → pool1 (64,10,10): B (10, 6400)    conv2 → pool2 (576): B (10, 576)
//	  fc1   → relu3 (384):      B (10, 384)     fc2   → relu4 (192): B (10, 192)
//
// and each layer's pre-activation error and weight gradient follow from it
// as usual (through its max-pool and ReLU: δ_k = (e·B_k) ⊙ f'(a_k)). The
// matrix for layer k's output is the operator of layer k+1 (Direct), kept
// under that layer's name: "feedback.conv2" is the (10, 6400) matrix
// delivering e to conv1's output, …, "feedback.fc3" the (10, 192) one
// delivering it to fc2's output. fc3's own input error is e·B with B of
// W₃'s shape (10, 192): exactly feedback alignment's operator there. All
// B ~ N(0, σ²), drawn at NewRule from rng.New(seed, "feedback/<layer>") like
// the FA rules' B0, so dfa's fc3 matrix is bit for bit fa_random's and
// fa_toeplitz's at the same σ and seed.
//
// Where fabeam differs from BioTorch's dfa layers: (1) BioTorch's DFA
// convolution broadcasts e over the layer's output positions and applies
// a random (10, c, kh, kw) kernel as a transposed convolution, a
// weight-shared projection; fabeam uses a dense B_k for every layer,
// convolutional ones included, as Nøkland's definition has it (a
// dense (10, 6400) matrix for conv1's output), so dfa's feedback knows
// nothing of the convolutional structure — the far end of the study's
// scale of how much feedback knows about W. (2) BioTorch draws B with its
// layers' initialisation (Xavier by default); fabeam draws N(0, σ²) with σ a
// grid axis, the same family and grid as its FA rules, so the rules differ
// only in where the feedback goes.
type DFA struct {
	fixedFeedback
}

// dfaShapes are dfa's feedback shapes, indexed by the layer whose operator
// each is: (10, size of that layer's input).
var dfaShapes = [NumLayers][]int{Conv2: {NumClasses, p1Out}, FC1: {NumClasses, p2Out}, FC2: {NumClasses, fc1Out}, FC3: {NumClasses, fc2Out}}

var dfaSpec = RuleSpec{
	Name: "dfa", Display: "DFA", Family: FamilyRandomFeedback, Knowledge: 5, UsesSigma: true,
	// lr 1e-4, measured: on CIFAR-10 (seed 0, σ 0.01, the paper's
	// protocol of 3 epochs a point) dfa reached a validation accuracy of
	// 28.3% at lr 3e-5, 32.9% at 1e-4, 29.8% at 3e-4, 25.5% at 1e-3 and
	// 20.7% at 3e-3, its loss growing from the first epoch at 3e-4 and
	// above. At 1e-4 it stays at chance in the smoke preset's ten steps
	// (it starts from feedback unrelated to its forward weights), so smoke
	// starts its grid at 3e-3, which leaves chance within two epochs there.
	// σ = 0.01 as for the paper's FA rules, so dfa's fc3 matrix is theirs.
	PaperGrid:   Grid{LR: []float64{1e-4, 3e-4, 1e-3, 3e-3, 1e-2}, Sigma: []float64{0.01, 0.05, 0.1}},
	PaperChoice: Hyper{LR: 1e-4, Sigma: 0.01},
	SmokeChoice: Hyper{LR: 3e-3, Sigma: 0.01},
	// B of shape (10, 6400), (10, 576), (10, 384), (10, 192).
	StoredFeedback: NumClasses * (p1Out + p2Out + fc1Out + fc2Out),
	New:            func(sigma float64, seed uint64) Rule { return NewDFA(sigma, seed) },
}

// NewDFA draws the direct feedback matrices from rng.New(seed,
// "feedback/<layer>"). It panics if sigma is not positive (NewRule checks
// this and returns an error instead).
func NewDFA(sigma float64, seed uint64) *DFA {
	if !(sigma > 0) {
		panic("nn: dfa needs sigma > 0")
	}
	return &DFA{newFixedFeedbackShaped(sigma, seed, dfaShapes)}
}

// Name returns "dfa".
func (*DFA) Name() string { return "dfa" }

// Operator returns the direct matrix (10, size of l's input).
func (r *DFA) Operator(l int, w, scratch []float32) Operator {
	checkFeedbackLayer(l)
	return Operator{B: r.b0[l], Direct: true, Fixed: true}
}
