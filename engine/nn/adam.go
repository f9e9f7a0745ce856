package nn

import (
	"fmt"
	"math"
)

// Adam is the Adam optimiser exactly as torch.optim.Adam computes it
// (Kingma & Ba, "Adam: A method for stochastic optimization", ICLR 2015;
// PyTorch's coupled L2 weight decay, not AdamW). For step t = 1, 2, ...:
//
//	g  = grad + WeightDecay·θ
//	m  = β1·m + (1-β1)·g
//	v  = β2·v + (1-β2)·g²
//	θ -= (LR / (1-β1^t)) · m / (sqrt(v)/sqrt(1-β2^t) + Eps)
//
// Bias correction uses T, the number of Update calls (steps), never epochs.
type Adam struct {
	LR, Beta1, Beta2, Eps, WeightDecay float64
	// T is the number of steps taken; Update increments it first.
	T int
	// M and V are the first and second moment estimates.
	M, V []float32
}

// NewAdam returns Adam for n parameters with torch's defaults betas
// (0.9, 0.999) and eps 1e-8.
func NewAdam(n int, lr, weightDecay float64) *Adam {
	return &Adam{LR: lr, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: weightDecay,
		M: make([]float32, n), V: make([]float32, n)}
}

// Update takes one step: T++, then updates params in place from grads. It
// panics if the lengths of params, grads, M and V differ.
func (a *Adam) Update(params, grads []float32) {
	if len(params) != len(grads) || len(params) != len(a.M) || len(params) != len(a.V) {
		panic(fmt.Sprintf("nn: Adam.Update: %d params, %d grads, state for %d/%d", len(params), len(grads), len(a.M), len(a.V)))
	}
	a.T++
	t := float64(a.T)
	bc1 := 1 - math.Pow(a.Beta1, t)
	bc2 := 1 - math.Pow(a.Beta2, t)
	stepSize := float32(a.LR / bc1)
	sqrtBC2 := float32(math.Sqrt(bc2))
	b1, b2 := float32(a.Beta1), float32(a.Beta2)
	eps, wd := float32(a.Eps), float32(a.WeightDecay)
	m, v := a.M, a.V
	for i, p := range params {
		g := grads[i]
		if wd != 0 {
			g += wd * p
		}
		m[i] = b1*m[i] + (1-b1)*g
		v[i] = b2*v[i] + (1-b2)*g*g
		denom := float32(math.Sqrt(float64(v[i])))/sqrtBC2 + eps
		params[i] = p - stepSize*m[i]/denom
	}
}
