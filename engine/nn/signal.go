package nn

import (
	"fmt"
	"math"
)

// The learning signal of one training step, as sums of squares in float64:
// the error arriving at each layer's output, each layer's weight gradient
// and Adam's update. A caller turns them into root mean squares by
// dividing by the element counts it sums over (engine/train aggregates them
// over an epoch). Squares of float32 values are exact in float64; only the
// additions round.

// WeightRange returns the offsets [lo, hi) of layer l's weight within
// Params.Data (and within Adam's M and V, which share that layout). It
// panics if l is not a layer index.
func WeightRange(l int) (lo, hi int) {
	checkLayer(l)
	for k := 0; k < l; k++ {
		lo += numel(weightShapes[k]) + fanOut(k)
	}
	return lo, lo + numel(weightShapes[l])
}

// PreActivationGradSumSq returns Σ x² over PreActivationGrad(l) — the error
// the rule delivered to layer l's pre-ReLU output for the last Backward,
// all N rows — and the number of elements summed. It panics before
// Backward.
//
// The convolutions' errors are summed without reading them: 2×2 max-pool
// backward routes each pooled value's error to exactly one pre-activation
// (its argmax; the windows do not overlap), and ReLU passes it where the
// pooled value is positive, so the error's nonzero entries are exactly the
// pooled errors whose pooled value is positive (a quarter of the elements
// to read).
func (m *Model) PreActivationGradSumSq(l int) (sumSq float64, n int) {
	if !m.haveGrad {
		panic("nn: PreActivationGradSumSq before Backward")
	}
	switch l {
	case Conv1:
		return maskedSumSquares(m.dPool1[:m.N*p1Out], m.pool1[:m.N*p1Out]), m.N * c1Out
	case Conv2:
		return maskedSumSquares(m.dPool2[:m.N*p2Out], m.pool2[:m.N*p2Out]), m.N * c2Out
	}
	x := m.PreActivationGrad(l)
	return sumSquares(x), len(x)
}

// WeightGradSumSq returns Σ g² over layer l's weight gradient
// (Grad.Weight(l), biases excluded) and its number of elements. It panics
// before Backward.
func (m *Model) WeightGradSumSq(l int) (sumSq float64, n int) {
	if !m.haveGrad {
		panic("nn: WeightGradSumSq before Backward")
	}
	g := m.Grad.Weight(l)
	return sumSquares(g), len(g)
}

// UpdateSumSq returns, over the parameters [lo, hi), Σ u² of the last
// step's update divided by the learning rate,
//
//	u = m̂ / (√v̂ + Eps),   m̂ = M / (1-β1^T),   √v̂ = √V / √(1-β2^T),
//
// from Adam's state after step T (the moments the step wrote). It is the update Update applied, s·m̂/(√v̂+Eps) with s = LR,
// divided by LR, up to float32 rounding (relative 1e-6; the quotient
// M/(√V + ε·√(1-β2^T)) is formed in float32 as the kernel forms its own). It is exact where θ_before − θ_after is not: an update
// far below a weight's spacing leaves the weight unchanged, yet u says how
// large it was. It panics before the first step or if [lo, hi) is outside
// the state.
func (a *Adam) UpdateSumSq(lo, hi int) float64 {
	if a.T < 1 {
		panic("nn: Adam.UpdateSumSq before the first step")
	}
	if lo < 0 || hi < lo || hi > len(a.M) || hi > len(a.V) {
		panic(fmt.Sprintf("nn: Adam.UpdateSumSq: range [%d,%d) outside a state of %d", lo, hi, len(a.M)))
	}
	t := float64(a.T)
	bc1 := 1 - math.Pow(a.Beta1, t)
	bc2 := math.Sqrt(1 - math.Pow(a.Beta2, t))
	// m̂/(√v̂+ε) = (bc2/bc1) · M/(√V + ε·bc2): one float32 square root and
	// one float32 division per element (as the kernel computes them),
	// squared and summed in float64 into four partial sums, element i
	// into sum i mod 4; on amd64 with AVX2 the whole vectors of eight go
	// through updateSqAVX2, which forms the same sums in the same order.
	// The result depends only on the range's values.
	eps := float32(a.Eps * bc2)
	var s0, s1, s2, s3 float64
	ms, vs := a.M[lo:hi], a.V[lo:hi]
	vs = vs[:len(ms)]
	q := func(i int) float64 {
		return float64(ms[i] / (float32(math.Sqrt(float64(vs[i]))) + eps))
	}
	i := 0
	if body := len(ms) &^ 7; usePassAsm && hasAVX2 && body > 0 {
		var acc [4]float64
		updateSqAVX2(&ms[0], &vs[0], body, eps, &acc)
		s0, s1, s2, s3, i = acc[0], acc[1], acc[2], acc[3], body
	}
	for ; i+4 <= len(ms); i += 4 {
		u0, u1, u2, u3 := q(i), q(i+1), q(i+2), q(i+3)
		s0 += u0 * u0
		s1 += u1 * u1
		s2 += u2 * u2
		s3 += u3 * u3
	}
	for ; i < len(ms); i++ {
		u := q(i)
		s0 += u * u
	}
	k := bc2 / bc1
	return ((s0 + s1) + (s2 + s3)) * k * k
}

// sumSquares returns Σ x² in float64, with four partial sums (a fixed
// order, so the result depends only on x).
func sumSquares(x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(x); i += 4 {
		a, b, c, d := float64(x[i]), float64(x[i+1]), float64(x[i+2]), float64(x[i+3])
		s0 += a * a
		s1 += b * b
		s2 += c * c
		s3 += d * d
	}
	for ; i < len(x); i++ {
		a := float64(x[i])
		s0 += a * a
	}
	return (s0 + s1) + (s2 + s3)
}

// maskedSumSquares returns Σ x[k]² over the k with keep[k] > 0, in float64
// with two partial sums (element k into sum k mod 2). The mask is applied
// to the bits (as poolReluBackward applies it), so no branch depends on
// keep. On amd64 with AVX2 the whole groups of four go through
// maskedSqAVX, which forms the same sums in the same order.
func maskedSumSquares(x, keep []float32) float64 {
	keep = keep[:len(x)]
	var s0, s1 float64
	masked := func(i int) float64 {
		var mk uint32
		if keep[i] > 0 {
			mk = ^uint32(0)
		}
		return float64(math.Float32frombits(math.Float32bits(x[i]) & mk))
	}
	i := 0
	if body := len(x) &^ 3; usePassAsm && hasAVX2 && body > 0 {
		var acc [2]float64
		maskedSqAVX(&x[0], &keep[0], body, &acc)
		s0, s1, i = acc[0], acc[1], body
	}
	for ; i+2 <= len(x); i += 2 {
		a, b := masked(i), masked(i+1)
		s0 += a * a
		s1 += b * b
	}
	if i < len(x) {
		a := masked(i)
		s0 += a * a
	}
	return s0 + s1
}

// StepSignal is one step's learning signal per layer: the sums of squares
// of PreActivationGradSumSq (Err), WeightGradSumSq (Grad) and Adam's
// UpdateSumSq over the layer's weights (Upd), with the numbers of
// elements summed.
type StepSignal struct {
	ErrSq, GradSq, UpdSq [NumLayers]float64
	ErrN, GradN, UpdN    [NumLayers]int
}

// Add adds t's sums and counts to s's, field by field.
func (s *StepSignal) Add(t StepSignal) {
	for l := 0; l < NumLayers; l++ {
		s.ErrSq[l] += t.ErrSq[l]
		s.ErrN[l] += t.ErrN[l]
		s.GradSq[l] += t.GradSq[l]
		s.GradN[l] += t.GradN[l]
		s.UpdSq[l] += t.UpdSq[l]
		s.UpdN[l] += t.UpdN[l]
	}
}

// SignalSums returns the learning signal of the last Backward and of the
// step adam has just taken: each of the fifteen sums exactly as the
// methods above compute it, bit for bit, the sums spread over the threads
// (each sum is computed whole by one thread in its own fixed order, so
// neither the thread count nor the schedule changes a bit). It panics
// before Backward or before adam's first step.
func (m *Model) SignalSums(adam *Adam) StepSignal {
	if !m.haveGrad {
		panic("nn: SignalSums before Backward")
	}
	if adam.T < 1 {
		panic("nn: SignalSums before Adam's first step")
	}
	m.sigT = signalTask{m: m, adam: adam}
	parallelFor(&m.par, len(signalOrder), 1, &m.sigT)
	out := m.sigT.out
	m.sigT = signalTask{}
	return out
}

// signalOrder lists SignalSums' sums, largest first, so that the threads,
// taking contiguous pieces of the list as they finish, balance: conv1's
// error (a quarter of N·25,600 pooled values), fc1's and conv2's updates
// (a square root and a division for each of 221,184 and 102,400 weights).
var signalOrder = [3 * NumLayers]struct{ kind, layer int }{
	{0, Conv1}, {2, FC1}, {2, Conv2}, {2, FC2}, {0, Conv2},
	{1, FC1}, {1, Conv2}, {1, FC2}, {0, FC1}, {0, FC2},
	{2, Conv1}, {2, FC3}, {1, Conv1}, {1, FC3}, {0, FC3},
}

// signalTask is SignalSums over a range of signalOrder; each index writes
// only its own fields of out.
type signalTask struct {
	m    *Model
	adam *Adam
	out  StepSignal
}

func (t *signalTask) run(lo, hi int) {
	for _, s := range signalOrder[lo:hi] {
		l := s.layer
		switch s.kind {
		case 0:
			t.out.ErrSq[l], t.out.ErrN[l] = t.m.PreActivationGradSumSq(l)
		case 1:
			t.out.GradSq[l], t.out.GradN[l] = t.m.WeightGradSumSq(l)
		default:
			wlo, whi := WeightRange(l)
			t.out.UpdSq[l], t.out.UpdN[l] = t.adam.UpdateSumSq(wlo, whi), whi-wlo
		}
	}
}
