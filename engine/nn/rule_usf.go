package nn

// USF is uniform sign-concordant feedback with a constant scale (Liao,
// Leibo & Poggio, "How important is weight symmetry in backpropagation?",
// AAAI 2016, uSF; scaled as in Xiao, Chen, Liao & Poggio, "Biologically-
// plausible learning algorithms can scale to large datasets", 2018), as
// BioTorch's usf layers define it: the operator of layer l is
//
//	B_t = s_l · sign(W_t),   s_l = 1/sqrt(3·fan_in(l))
//
// recomputed every step from the current weights, a chained operator of
// W's shape (Conv2 applied as a transposed convolution), sign(0) = 0. s_l
// is the standard deviation of the layer's initialisation distribution
// U(±1/sqrt(fan_in)) (InitPyTorch, PyTorch's default; BioTorch's
// "scaling_factor" for that init), so B_t starts with the magnitude of a
// typical initial weight and keeps it whatever W's norm does: s = 0.0667,
// 0.0144, 0.0241, 0.0295, 0.0417 for conv1..fc3 (conv1's is never used).
// Unlike usf_sn it does not follow ‖W_t‖. It has no random tensors and
// ignores sigma.
type USF struct{}

var usfSpec = RuleSpec{
	Name: "usf", Display: "uSF", Family: FamilySignConcordant, Knowledge: 1,
	PaperGrid:   Grid{LR: []float64{1e-4, 3e-4, 1e-3, 3e-3, 1e-2}},
	PaperChoice: Hyper{LR: 1e-3},
	// No stored tensors: the operator is derived from W at every step.
	DerivedFeedback: weightCount(Conv2),
	New:             func(float64, uint64) Rule { return USF{} },
}

// Name returns "usf".
func (USF) Name() string { return "usf" }

// Operator writes s_l · sign(w) into scratch and returns it.
func (USF) Operator(l int, w, scratch []float32) Operator {
	checkFeedbackLayer(l)
	s := float32(initStd(l))
	scratch = scratch[:len(w)]
	for i, v := range w {
		scratch[i] = s * sign32(v)
	}
	return Operator{B: scratch}
}
