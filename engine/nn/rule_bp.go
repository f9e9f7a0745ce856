package nn

// BP is backpropagation (Rumelhart, Hinton & Williams, "Learning
// representations by back-propagating errors", Nature 1986): the error goes
// back through the layer's own weights, Wᵀ (a transposed convolution with W
// for Conv2).
type BP struct{}

var bpSpec = RuleSpec{
	Name: Reference, Display: "BP", Family: FamilyBackprop, InPaper: true,
	PaperGrid:   Grid{LR: []float64{5e-4, 1e-3, 3e-3}, WeightDecay: []float64{0, 1e-4}},
	PaperChoice: Hyper{LR: 1e-3, WeightDecay: 1e-4},
	Paper:       &PaperNumbers{BestVal: 0.7592, Test: 0.7580, BestEpoch: 45},
	New:         func(float64, uint64) Rule { return BP{} },
}

// Name returns "bp".
func (BP) Name() string { return "bp" }

// Operator returns W itself.
func (BP) Operator(l int, w, scratch []float32) Operator {
	checkFeedbackLayer(l)
	return Operator{B: w}
}
