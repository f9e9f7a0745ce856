package nn

import (
	"math"
	"unsafe"
)

// aliases reports whether a and b are the same slice (bp's operator is W).
func aliases(a, b []float32) bool {
	return len(a) == len(b) && len(a) > 0 && unsafe.SliceData(a) == unsafe.SliceData(b)
}

// concordance returns the fraction of i with sign(w[i]) == sign(op.B[i])
// for a fixed operator of W's shape, NaN otherwise. A direct operator,
// (10, in), has W's shape only for FC3, whose W is (10, 192).
func concordance(w []float32, op Operator) float64 {
	if !op.Fixed || op.Dense || len(op.B) != len(w) {
		return math.NaN()
	}
	b := op.B[:len(w)]
	same, i := 0, 0
	if usePassAsm && hasAVX2 && len(w) >= 8 {
		i = len(w) &^ 7
		same = i - signDiffsAVX2(&w[0], &b[0], i)
	}
	for ; i < len(w); i++ {
		if sign32(w[i]) == sign32(b[i]) {
			same++
		}
	}
	return float64(same) / float64(len(w))
}

// angleDeg returns the angle in degrees between a and b from float64 sums
// (see cosToDeg).
func angleDeg(a, b []float32) float64 {
	var ab, aa, bb float64
	for i, x := range a {
		y := float64(b[i])
		ab += float64(x) * y
		aa += float64(x) * float64(x)
		bb += y * y
	}
	return cosToDeg(ab, aa, bb)
}

// cosToDeg returns arccos(ab / sqrt(aa·bb)) in degrees, the cosine clamped
// to [-1, 1]. A zero vector (aa or bb zero) gives 90°: its cosine is taken
// as 0, as PyTorch's F.cosine_similarity does by clamping the norms' product
// at eps, which is how the study's authors measured the angles. So a metric
// never skips a sample or a step, and every series stays aligned with its
// steps.
func cosToDeg(ab, aa, bb float64) float64 {
	if aa == 0 || bb == 0 {
		return 90
	}
	c := ab / math.Sqrt(aa*bb)
	c = math.Max(-1, math.Min(1, c))
	return math.Acos(c) * 180 / math.Pi
}

// meanRowAngle returns the mean over the n rows of length d of the angle
// between a's and b's rows; a row where either is zero counts as 90°.
func meanRowAngle(a, b []float32, n, d int) float64 {
	var sum float64
	for s := 0; s < n; s++ {
		sum += angleDeg(a[s*d:(s+1)*d], b[s*d:(s+1)*d])
	}
	return sum / float64(n)
}

// UpdateAngles returns, per layer, the angle in degrees between the rule's
// gradient and the true backprop gradient of the same parameters, for the
// same batch and weights: the vectors are the layer's weight and bias
// gradients concatenated. Call it after Backward (or BackwardFromLogits):
// it runs a bp backward into a second gradient buffer and a second set of
// error buffers (errorBuffers), so Grad, Step, PreActivationGrad and the
// learning signal are left exactly as the rule's Backward left them. It
// costs one backward pass (none under bp, see below); it allocates a
// Params and the error buffers (18 MB at batch 128) on first use. FC3 is
// always 0 (its error is the loss gradient) and every layer is 0 under
// bp; 90 where either gradient is zero (cosToDeg).
//
// Under bp the bp pass is skipped: the bp gradient is the rule's, bit for
// bit, so ab = aa = bb, and in binary floating point
// sqrt(aa·aa) is aa exactly (no square of a float64 sum of squares of
// float32 values overflows or underflows), so the cosine is 1 and the
// angle 0 — or 90 for a layer whose gradient is zero. UpdateAngles returns
// that directly, the same bits as the pass would give (tested).
func (m *Model) UpdateAngles() [NumLayers]float64 {
	if !m.haveGrad {
		panic("nn: UpdateAngles before Backward")
	}
	if _, ok := m.Rule.(BP); ok {
		var out [NumLayers]float64
		for l := range out {
			if allZero(m.Grad.w[l]) && allZero(m.Grad.b[l]) {
				out[l] = 90
			}
		}
		return out
	}
	if m.bpGrad == nil {
		m.bpGrad, m.bpErr = NewParams(), newErrorBuffers(m.maxBatch)
	}
	rule, grad, metrics := m.Rule, m.Grad, m.Metrics
	m.Rule, m.Grad, m.Metrics = BP{}, m.bpGrad, false
	m.swapErrorBuffers(m.bpErr)
	m.backward()
	m.swapErrorBuffers(m.bpErr)
	m.Rule, m.Grad, m.Metrics = rule, grad, metrics
	var out [NumLayers]float64
	for l := 0; l < NumLayers; l++ {
		var ab, aa, bb float64
		for _, pair := range [2][2][]float32{{grad.w[l], m.bpGrad.w[l]}, {grad.b[l], m.bpGrad.b[l]}} {
			for i, x := range pair[0] {
				y := float64(pair[1][i])
				ab += float64(x) * y
				aa += float64(x) * float64(x)
				bb += y * y
			}
		}
		out[l] = cosToDeg(ab, aa, bb)
	}
	return out
}

// errorBuffers are the buffers in which backward leaves the errors it
// carried back, for PreActivationGrad and the learning signal to read
// after it, and whether conv1's is laid out. UpdateAngles runs its bp
// pass on a second set, so the rule's stay as its Backward left them.
// (The other buffers backward writes are scratch it consumes itself.)
type errorBuffers struct {
	dRelu4, dFC2Out, dRelu3, dFC1Out, dPool2, dConv2, dPool1, nhwc []float32
	dConv1Ready                                                    bool
}

// newErrorBuffers returns a set for batches of up to n.
func newErrorBuffers(n int) *errorBuffers {
	return &errorBuffers{
		dRelu4: make([]float32, n*fc2Out), dFC2Out: make([]float32, n*fc2Out),
		dRelu3: make([]float32, n*fc1Out), dFC1Out: make([]float32, n*fc1Out),
		dPool2: make([]float32, n*p2Out), dConv2: make([]float32, n*c2Out),
		dPool1: make([]float32, n*p1Out), nhwc: make([]float32, n*400*64),
	}
}

// swapErrorBuffers exchanges the model's error buffers with e's.
func (m *Model) swapErrorBuffers(e *errorBuffers) {
	m.dRelu4, e.dRelu4 = e.dRelu4, m.dRelu4
	m.dFC2Out, e.dFC2Out = e.dFC2Out, m.dFC2Out
	m.dRelu3, e.dRelu3 = e.dRelu3, m.dRelu3
	m.dFC1Out, e.dFC1Out = e.dFC1Out, m.dFC1Out
	m.dPool2, e.dPool2 = e.dPool2, m.dPool2
	m.dConv2, e.dConv2 = e.dConv2, m.dConv2
	m.dPool1, e.dPool1 = e.dPool1, m.dPool1
	m.nhwc, e.nhwc = e.nhwc, m.nhwc
	m.dConv1Ready, e.dConv1Ready = e.dConv1Ready, m.dConv1Ready
}

// allZero reports whether every element of x is zero (of either sign).
func allZero(x []float32) bool {
	for _, v := range x {
		if v != 0 {
			return false
		}
	}
	return true
}

// FeedbackStats returns, per layer, the angle in degrees between the weight
// W and the operator B the rule uses in its place, and the ratio ‖B‖_F/‖W‖_F,
// for the weights p. Conv1 is NaN (it sends nothing back); bp gives 0 and 1.
// A direct operator (10, in) is compared only where it has W's shape (FC3);
// elsewhere it is no stand-in for W and both values are NaN.
// For fa_random's dense Conv2 operator, W is compared as the dense
// (2304, 6400) matrix T(W) of the convolution (the operator bp would use in
// the same place), without building it:
//
//	<T(W), B> = sum_{o,c,ky,kx} W[o,c,ky,kx] sum_{y,x} B[(o,y,x), (c,y+ky,x+kx)]
//	‖T(W)‖²  = 36 ‖W‖²   (each weight appears at the 6×6 output positions)
func FeedbackStats(p *Params, r Rule) (angle, normRatio [NumLayers]float64) {
	angle[Conv1], normRatio[Conv1] = math.NaN(), math.NaN()
	for l := Conv2; l < NumLayers; l++ {
		w := p.w[l]
		op := r.Operator(l, w, make([]float32, len(w)))
		if op.Direct && len(op.B) != len(w) {
			angle[l], normRatio[l] = math.NaN(), math.NaN()
			continue
		}
		var ab, aa, bb float64
		if op.Dense {
			ab, aa = denseConv2Dot(w, op.B)
			for _, v := range op.B {
				bb += float64(v) * float64(v)
			}
		} else {
			for i, x := range w {
				y := float64(op.B[i])
				ab += float64(x) * y
				aa += float64(x) * float64(x)
				bb += y * y
			}
		}
		angle[l] = cosToDeg(ab, aa, bb)
		normRatio[l] = math.Sqrt(bb) / math.Sqrt(aa)
		if aliases(op.B, w) {
			angle[l], normRatio[l] = 0, 1
		}
	}
	return angle, normRatio
}

// denseConv2Dot returns <T(W), B> and ‖T(W)‖² for Conv2's weight w
// (64,64,5,5) and a dense operator b (2304, 6400), see FeedbackStats.
func denseConv2Dot(w, b []float32) (dot, norm2 float64) {
	const oc, c, k, oh, h = 64, 64, 5, 6, 10
	for o := 0; o < oc; o++ {
		for ci := 0; ci < c; ci++ {
			for ky := 0; ky < k; ky++ {
				for kx := 0; kx < k; kx++ {
					wv := float64(w[((o*c+ci)*k+ky)*k+kx])
					norm2 += wv * wv * oh * oh
					var s float64
					for y := 0; y < oh; y++ {
						for x := 0; x < oh; x++ {
							row := (o*oh+y)*oh + x
							col := (ci*h+y+ky)*h + x + kx
							s += float64(b[row*c2In+col])
						}
					}
					dot += wv * s
				}
			}
		}
	}
	return dot, norm2
}

// c2In is the flattened size of Conv2's input (64,10,10).
const c2In = p1Out
