package nn

import (
	"math"
	"runtime"
	"testing"

	"github.com/fabeam/fabeam/engine/rng"
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

// Ten steps with weight decay and changing gradients: each step's update
// θ_{t-1} - θ_t agrees with a float64 transcription of torch.optim.Adam's
// algorithm, with its scalars rounded to float32 as torch rounds them, to
// 1e-6 relative. The parameters are reset before each step to values far
// smaller than the update, so the update is read exactly from the float32
// difference (comparing parameters of size 1 would hide any error below
// their 6e-8 ulp). Taking 1-β2 in float32 (1 - float32(0.999) =
// 0.00099998713) makes every update about 6.6e-6 too large and fails this;
// so would bias correction by epochs or decoupled weight decay.
func TestAdamMatchesTorchAlgorithm(t *testing.T) {
	const lr, wd, eps = 3e-3, 0.5, 1e-8
	b1, omb1 := float64(float32(0.9)), float64(float32(1-0.9))
	b2, omb2 := float64(float32(0.999)), float64(float32(1-0.999))
	const n = 5
	m, v := make([]float64, n), make([]float64, n)
	a := NewAdam(n, lr, wd)
	worst := 0.0
	for step := 1; step <= 10; step++ {
		p32 := make([]float32, n)
		g32 := make([]float32, n)
		for i := range p32 {
			p32[i] = float32(lr * 1e-3 * float64(i+1) * math.Cos(float64(step+i)))
			// One sign per parameter, so m never cancels (a cancelling m
			// makes the update's relative error ill-conditioned).
			sign := float64(1 - 2*(i%2))
			g32[i] = float32(sign * (1 + 0.5*math.Sin(float64(3*step+i))) * math.Pow(10, float64(-i)))
		}
		before := append([]float32(nil), p32...)
		a.Update(p32, g32)
		s := lr / (1 - math.Pow(0.9, float64(step)))
		sq := math.Sqrt(1 - math.Pow(0.999, float64(step)))
		for i := range p32 {
			g := float64(g32[i]) + wd*float64(before[i])
			m[i] = b1*m[i] + omb1*g
			v[i] = b2*v[i] + omb2*g*g
			want := s * m[i] / (math.Sqrt(v[i])/sq + eps)
			got := float64(before[i]) - float64(p32[i])
			rel := math.Abs(got-want) / math.Abs(want)
			worst = max(worst, rel)
			if !(rel <= 1e-6) {
				t.Errorf("step %d param %d: update %.9g, torch algorithm %.9g (relative error %.2g)", step, i, got, want, rel)
			}
		}
	}
	t.Logf("worst relative error of an update: %.2g", worst)
}

// The assembly step and the portable one give the same bits on values in
// the normal range (every operation is a correctly rounded IEEE operation
// in the same order), including the zero-padded tail of a length that is
// not a multiple of 8.
func TestAdamKernelMatchesPortable(t *testing.T) {
	if !useAdamAVX2 {
		t.Skip("no assembly Adam on this CPU or build")
	}
	const n = 1003
	r := rng.New(5, "adam kernel")
	p, g := make([]float32, n), make([]float32, n)
	r.FillNormal(p, 0.1)
	r.FillNormal(g, 1e-2)
	kern := NewAdam(n, 1e-3, 1e-4)
	port := NewAdam(n, 1e-3, 1e-4)
	pk, pp := append([]float32(nil), p...), append([]float32(nil), p...)
	for step := 0; step < 5; step++ {
		for i := range g {
			g[i] *= -1.3
		}
		kern.Update(pk, g)
		setAdamKernel(t, false)
		port.Update(pp, g)
		setAdamKernel(t, true)
		for i := range pk {
			if math.Float32bits(pk[i]) != math.Float32bits(pp[i]) ||
				math.Float32bits(kern.M[i]) != math.Float32bits(port.M[i]) ||
				math.Float32bits(kern.V[i]) != math.Float32bits(port.V[i]) {
				t.Fatalf("step %d element %d: kernel (%g, %g, %g), portable (%g, %g, %g)",
					step, i, pk[i], kern.M[i], kern.V[i], pp[i], port.M[i], port.V[i])
			}
		}
	}
}

// A state seeded with subnormal weights, moments and gradients comes out
// of a step with none left, on both paths: a subnormal input counts as
// zero, and a result that would be subnormal is stored as zero. The cases
// are worked by hand: with p, m, v and g all subnormal every input reads as
// zero, so all stay zero; with g = 1e-20 (normal), (1-β2)·g·g = 1e-43 would
// be subnormal, so v stays 0 and the step divides by eps alone.
func TestAdamFlushesSubnormals(t *testing.T) {
	for _, kernel := range []bool{true, false} {
		if kernel && !useAdamAVX2 {
			continue
		}
		setAdamKernel(t, kernel)
		const sub = float32(1e-40)
		p := []float32{sub, -sub, 0.5, 0.25, sub}
		g := []float32{sub, 0, 1e-20, 0, -sub}
		a := NewAdam(len(p), 1e-3, 0)
		copy(a.M, []float32{sub, -sub, 0, 0, 0})
		copy(a.V, []float32{sub, sub, 0, 0, sub})
		a.Update(p, g)
		for i := range p {
			for _, x := range []float32{p[i], a.M[i], a.V[i]} {
				if x != 0 && math.Abs(float64(x)) < 0x1p-126 {
					t.Errorf("kernel=%v: element %d holds a subnormal %g after the step", kernel, i, x)
				}
			}
		}
		if p[0] != 0 || p[1] != 0 || p[4] != 0 || a.M[0] != 0 || a.V[0] != 0 {
			t.Errorf("kernel=%v: subnormal state did not become zero: p=%v m=%v v=%v", kernel, p, a.M, a.V)
		}
		if a.V[2] != 0 {
			t.Errorf("kernel=%v: v = %g, want 0: (1-β2)·g² = 1e-43 is subnormal", kernel, a.V[2])
		}
		// m = 0.1·1e-20; step size lr/(1-0.9) = 1e-2; Δ = 1e-2·1e-21/1e-8 = 1e-15.
		if want := 0.5 - 1e-15; math.Abs(float64(p[2])-want) > 1e-7 || a.M[2] == 0 {
			t.Errorf("kernel=%v: p = %g, m = %g; want p ≈ %g with m = 1e-21", kernel, p[2], a.M[2], want)
		}
	}
}

// TestAdamUpdateInPiecesIsOneStep checks that Update, which splits the
// parameters into pieces over the threads, gives the bits of one adamStep
// over the whole vector, at one, two and three threads, over three steps
// of a vector whose length is neither a multiple of the piece nor of the
// kernel's eight lanes.
func TestAdamUpdateInPiecesIsOneStep(t *testing.T) {
	const n = 5*adamChunk + 13
	r := rng.New(9, "adam-pieces")
	p0, g := make([]float32, n), make([]float32, n)
	r.FillNormal(p0, 1)
	r.FillNormal(g, 0.01)
	want := append([]float32(nil), p0...)
	ref := NewAdam(n, 1e-3, 1e-4)
	for _, procs := range []int{1, 2, 3} {
		got := append([]float32(nil), p0...)
		a := NewAdam(n, 1e-3, 1e-4)
		prev := runtime.GOMAXPROCS(procs)
		for range 3 {
			a.Update(got, g)
		}
		runtime.GOMAXPROCS(prev)
		if procs == 1 { // the reference: three whole-vector steps
			for range 3 {
				ref.T++
				tt := float64(ref.T)
				c := adamCoef{b1: float32(ref.Beta1), omb1: float32(1 - ref.Beta1), b2: float32(ref.Beta2), omb2: float32(1 - ref.Beta2),
					wd: float32(ref.WeightDecay), eps: float32(ref.Eps), step: float32(ref.LR / (1 - math.Pow(ref.Beta1, tt))),
					sqrtBC2: float32(math.Sqrt(1 - math.Pow(ref.Beta2, tt)))}
				adamStep(want, g, ref.M, ref.V, &c)
			}
		}
		for i := range want {
			if math.Float32bits(got[i]) != math.Float32bits(want[i]) || math.Float32bits(a.M[i]) != math.Float32bits(ref.M[i]) || math.Float32bits(a.V[i]) != math.Float32bits(ref.V[i]) {
				t.Fatalf("%d threads: element %d is θ %v m %v v %v, one whole step gives %v %v %v", procs, i, got[i], a.M[i], a.V[i], want[i], ref.M[i], ref.V[i])
			}
		}
	}
}
