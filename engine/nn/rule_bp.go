package nn

// BP is backpropagation (Rumelhart, Hinton & Williams, "Learning
// representations by back-propagating errors", Nature 1986): the error goes
// back through the layer's own weights, Wᵀ (a transposed convolution with W
// for Conv2).
type BP struct{}

// Name returns "bp".
func (BP) Name() string { return "bp" }

// Operator returns W itself.
func (BP) Operator(l int, w, scratch []float32) Operator {
	checkFeedbackLayer(l)
	return Operator{B: w}
}
