package nn

import (
	"math"
	"testing"
)

// This file is the rules' common reference check: after one backward pass
// the error a Model delivered to each layer's input (the output of the
// layer below: pool1, pool2, relu3, relu4) equals, to float32 rounding,
// what the rule's definition gives when computed by direct float64 loops
// from the error at the layer's own output (chained rules) or the output
// error e (direct rules).

// deliveredError returns the N rows of the error m's last backward pass
// delivered to layer l's input (l in Conv2..FC3).
func deliveredError(m *Model, l int) []float32 {
	n := m.N
	switch l {
	case Conv2:
		return m.dPool1[:n*p1Out]
	case FC1:
		return m.dPool2[:n*p2Out]
	case FC2:
		return m.dRelu3[:n*fc1Out]
	case FC3:
		return m.dRelu4[:n*fc2Out]
	}
	panic("deliveredError: layer out of range")
}

// layerInputSize returns the flattened size of layer l's input per sample.
func layerInputSize(l int) int {
	return [NumLayers]int{inputSize, p1Out, p2Out, fc1Out, fc2Out}[l]
}

// chainedConv2 returns delta (n,64,6,6) carried back through the kernel b
// (64,64,5,5) as a transposed convolution, by direct loops.
func chainedConv2(delta, b []float64, n int) []float64 {
	d, _, _ := convBackwardNaive(delta, make([]float64, n*p1Out), b, n, 64, 10, 10, 64, 5, 5)
	return d
}

// checkDeliveredErrors runs one Forward, Loss and Backward of rule on a
// small batch and compares, for each layer l in Conv2..FC3, the error
// delivered to l's input with want(l, delta, e): delta the error at l's
// output and e the output error, both as the model computed them
// (PreActivationGrad), n the batch size. before, when not nil, runs just
// before Backward.
func checkDeliveredErrors(t *testing.T, rule Rule, p *Params, before func(), want func(l int, delta, e []float64, n int) []float64) {
	t.Helper()
	const n = 3
	x, y := testBatch(21, n)
	m := NewModel(p, rule, n)
	m.Forward(x, n)
	m.Loss(y)
	if before != nil {
		before()
	}
	m.Backward()
	e := to64(m.PreActivationGrad(FC3))
	for l := Conv2; l < NumLayers; l++ {
		got := deliveredError(m, l)
		w := want(l, to64(m.PreActivationGrad(l)), e, n)
		if len(w) != n*layerInputSize(l) || len(got) != len(w) {
			t.Fatalf("%s: delivered %d values, reference %d, want %d", LayerNames[l], len(got), len(w), n*layerInputSize(l))
		}
		var scale, nonzero float64
		for _, v := range w {
			scale = math.Max(scale, math.Abs(v))
			if v != 0 {
				nonzero++
			}
		}
		if nonzero < float64(len(w))/4 {
			t.Fatalf("%s: reference error has only %v non-zero values of %d: the check would be weak", LayerNames[l], nonzero, len(w))
		}
		for i, v := range got {
			if math.Abs(float64(v)-w[i]) > 1e-5*scale {
				t.Fatalf("%s: delivered error[%d] = %v, reference %v (scale %v)", LayerNames[l], i, v, w[i], scale)
			}
		}
	}
}

// signedTimes returns s·sign(w) element by element, sign(0) = 0, in
// float64 (the reference of the sign-concordant rules).
func signedTimes(mag []float64, w []float32) []float64 {
	out := make([]float64, len(w))
	for i, v := range w {
		switch {
		case v > 0:
			out[i] = mag[i]
		case v < 0:
			out[i] = -mag[i]
		}
	}
	return out
}

// chainedReference returns the delivered error of a chained rule whose
// operator for layer l is b(l), of W's shape (Conv2 as a kernel).
func chainedReference(b func(l int) []float64) func(l int, delta, e []float64, n int) []float64 {
	return func(l int, delta, _ []float64, n int) []float64 {
		if l == Conv2 {
			return chainedConv2(delta, b(l), n)
		}
		return denseTimes(delta, b(l), n, fanOut(l), fanIn(l))
	}
}

// The check itself, on two of the paper's rules whose operators are known
// in closed form: bp (W) and fa_toeplitz (its B0).
func TestDeliveredErrorsOfThePaperRules(t *testing.T) {
	p := NewParams()
	p.InitPyTorch(8)
	checkDeliveredErrors(t, BP{}, p, nil, chainedReference(func(l int) []float64 { return to64(p.Weight(l)) }))
	fa := NewFAToeplitz(0.05, 2)
	checkDeliveredErrors(t, fa, p, nil, chainedReference(func(l int) []float64 { return to64(fa.b0[l]) }))
}
