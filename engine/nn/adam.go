package nn

import (
	"fmt"
	"math"
)

// Adam is the Adam optimiser as torch.optim.Adam computes it (Kingma & Ba,
// "Adam: A method for stochastic optimization", ICLR 2015; PyTorch's
// coupled L2 weight decay, not AdamW). For step t = 1, 2, ..., in float32
// with the coefficients rounded to float32 as PyTorch rounds its scalars:
//
//	g  = grad + WeightDecay·θ
//	m  = β1·m + (1-β1)·g
//	v  = β2·v + ((1-β2)·g)·g
//	θ  = θ - s·(m / (sqrt(v)/sqrt(1-β2^t) + Eps)),   s = LR / (1-β1^t)
//
// 1-β1 and 1-β2 are computed in float64 and then rounded (float32(1-0.999)
// is 0.001 exactly as torch has it; 1 - float32(0.999) would be 0.00099998713
// and make every update about 7e-6 too large). s and sqrt(1-β2^t) are
// computed in float64 and rounded once. Bias correction uses T, the number
// of Update calls (steps), never epochs.
//
// Subnormal numbers never enter or leave the arithmetic: a subnormal
// gradient, weight or moment counts as zero and a result that would be
// subnormal is stored as zero (see "Subnormal numbers" in the package
// documentation). Weights that
// decay toward zero therefore reach exactly zero instead of lingering as
// subnormals that slow every later product.
type Adam struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	// T is the number of steps taken; Update increments it first.
	T int
	// M and V are the first and second moment estimates.
	M, V []float32

	// par runs Update's chunks on several threads (made on first use);
	// task is the step in progress.
	par  *parallel
	task adamTask
}

// NewAdam returns Adam for n parameters with torch's defaults betas
// (0.9, 0.999) and eps 1e-8.
func NewAdam(n int, lr, weightDecay float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay,
		M: make([]float32, n), V: make([]float32, n)}
}

// adamCoef holds one step's float32 coefficients, in the order the
// assembly kernel reads them.
type adamCoef struct {
	b1, omb1, b2, omb2, wd, eps, step, sqrtBC2 float32
}

// Update takes one step: T++, then updates params in place from grads. It
// panics if the lengths of params, grads, M and V differ.
func (a *Adam) Update(params, grads []float32) {
	if len(params) != len(grads) || len(params) != len(a.M) || len(params) != len(a.V) {
		panic(fmt.Sprintf("nn: Adam.Update: %d params, %d grads, state for %d/%d", len(params), len(grads), len(a.M), len(a.V)))
	}
	a.T++
	t := float64(a.T)
	c := adamCoef{
		b1: float32(a.Beta1), omb1: float32(1 - a.Beta1),
		b2: float32(a.Beta2), omb2: float32(1 - a.Beta2),
		wd: float32(a.WeightDecay), eps: float32(a.Eps),
		step:    float32(a.LR / (1 - math.Pow(a.Beta1, t))),
		sqrtBC2: float32(math.Sqrt(1 - math.Pow(a.Beta2, t))),
	}
	if a.par == nil {
		a.par = new(parallel)
	}
	a.task = adamTask{params: params, grads: grads, m: a.M, v: a.V, c: c}
	parallelFor(a.par, (len(params)+adamChunk-1)/adamChunk, 4, &a.task)
	a.task = adamTask{}
}

// adamChunk is the number of parameters in one piece of Update's work (a
// multiple of the kernel's 8, so only the last piece has a tail): every
// element gets the same arithmetic whatever the piece, so the split
// changes no bit. Update splits into pieces of at least four chunks (64 K
// parameters), so the 404,746 parameters go to at most six pieces.
const adamChunk = 1 << 14

// adamTask is one Update over a range of chunks.
type adamTask struct {
	params, grads, m, v []float32
	c                   adamCoef
}

func (t *adamTask) run(lo, hi int) {
	i0, i1 := lo*adamChunk, min(hi*adamChunk, len(t.params))
	adamStep(t.params[i0:i1], t.grads[i0:i1], t.m[i0:i1], t.v[i0:i1], &t.c)
}

// adamGo is the portable step (see Adam), used where the assembly kernel
// cannot run and for the tail of a slice shorter than a vector. Every
// explicit float32 conversion keeps the compiler from fusing a multiply
// and an add, so each operation rounds exactly as the kernel's does. It
// emulates the kernel's handling of subnormals at the boundaries: a
// subnormal input counts as zero and a subnormal result is stored as
// zero. (Inside one step an intermediate can still underflow here,
// where the kernel would flush it; both give values that differ by less
// than 2^-126.)
func adamGo(params, grads, m, v []float32, c *adamCoef) {
	for i, p := range params {
		p = flushSubnormal(p)
		g := flushSubnormal(grads[i])
		g = g + float32(c.wd*p)
		mi := float32(c.b1*flushSubnormal(m[i])) + float32(c.omb1*g)
		vi := float32(c.b2*flushSubnormal(v[i])) + float32(float32(c.omb2*g)*g)
		mi, vi = flushSubnormal(mi), flushSubnormal(vi)
		m[i], v[i] = mi, vi
		denom := float32(float32(math.Sqrt(float64(vi)))/c.sqrtBC2) + c.eps
		params[i] = flushSubnormal(p - float32(c.step*float32(mi/denom)))
	}
}

// flushSubnormal returns x, or a zero of x's sign if x is subnormal
// (0 < |x| < 2^-126).
func flushSubnormal(x float32) float32 {
	if b := math.Float32bits(x); b&0x7f800000 == 0 {
		return math.Float32frombits(b & 0x80000000)
	}
	return x
}
