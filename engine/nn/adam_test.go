package nn

import (
	"math"
	"testing"
)

// Adam's first step moves each parameter by about the learning rate:
// m̂ = g and v̂ = g², so Δ = lr·g/(|g|+eps) = lr·sign(g)·(1 - eps/|g|).
func TestAdamFirstStepMovesByLR(t *testing.T) {
	const lr = 1e-3
	params := []float32{1, -2, 0.5, 0, 3}
	grads := []float32{0.3, -1e-3, 5, -2e-4, 0}
	want := []float32{1 - lr, -2 + lr, 0.5 - lr, lr, 3}
	a := NewAdam(len(params), lr, 0)
	a.Update(params, grads)
	if a.T != 1 {
		t.Errorf("T = %d after one step", a.T)
	}
	for i := range params {
		if math.Abs(float64(params[i]-want[i])) > 1e-4*lr+1e-7 {
			t.Errorf("param %d = %v, want %v", i, params[i], want[i])
		}
	}
}

// Ten steps with weight decay and changing gradients agree with a float64
// transcription of torch.optim.Adam's documented algorithm, to float32
// rounding (1e-6 relative). Stepping bias correction by epochs instead of
// steps, or decoupling weight decay, would be off by far more.
func TestAdamMatchesTorchAlgorithm(t *testing.T) {
	const lr, wd, b1, b2, eps = 3e-3, 1e-2, 0.9, 0.999, 1e-8
	p32 := []float32{0.1, -0.7, 1.3, 0}
	p64 := to64(p32)
	m, v := make([]float64, 4), make([]float64, 4)
	a := NewAdam(4, lr, wd)
	for step := 1; step <= 10; step++ {
		g32 := []float32{float32(step) * 0.01, -0.2, float32(math.Sin(float64(step))), 1e-6 * float32(step)}
		a.Update(p32, g32)
		for i := range p64 {
			g := float64(g32[i]) + wd*p64[i]
			m[i] = b1*m[i] + (1-b1)*g
			v[i] = b2*v[i] + (1-b2)*g*g
			mh := m[i] / (1 - math.Pow(b1, float64(step)))
			vh := v[i] / (1 - math.Pow(b2, float64(step)))
			p64[i] -= lr * mh / (math.Sqrt(vh) + eps)
		}
	}
	for i := range p64 {
		if !closeTo(float64(p32[i]), p64[i], 1e-6) {
			t.Errorf("param %d = %v, torch algorithm %v", i, p32[i], p64[i])
		}
	}
}
