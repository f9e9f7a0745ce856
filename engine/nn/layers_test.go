package nn

import (
	"fmt"
	"math"
	"testing"

	"github.com/fabeam/fabeam/engine/rng"
)

// close32 reports |got-want| <= tol*(1+|want|).
func closeTo(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*(1+math.Abs(want))
}

func randn(r *rng.Stream, n int) []float32 {
	x := make([]float32, n)
	r.FillNormal(x, 1)
	return x
}

// compare fails the test on the first few elements where got and want differ
// by more than tol*(1+|want|).
func compare(t *testing.T, what string, got []float32, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	bad := 0
	for i := range want {
		if !closeTo(float64(got[i]), want[i], tol) {
			if bad < 5 {
				t.Errorf("%s[%d] = %.8g, want %.8g", what, i, got[i], want[i])
			}
			bad++
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d values differ", what, bad, len(want))
	}
}

// centralDiff returns the float64 central difference of f along coordinate
// i of x with step h. f must read x.
func centralDiff(f func() float64, x []float64, i int, h float64) float64 {
	old := x[i]
	x[i] = old + h
	fp := f()
	x[i] = old - h
	fm := f()
	x[i] = old
	return (fp - fm) / (2 * h)
}

func dot64(a []float64, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s
}

// convShapes covers square and non-square inputs and kernels, one channel and
// many, 1×1 outputs and kernels, and conv1's real shape.
var convShapes = []struct{ n, c, h, w, oc, kh, kw int }{
	{1, 1, 5, 5, 1, 3, 3},
	{2, 3, 7, 6, 4, 5, 5},
	{3, 2, 6, 9, 5, 2, 4},
	{1, 4, 5, 5, 2, 5, 5},
	{2, 2, 4, 4, 3, 1, 1},
	{2, 3, 24, 24, 4, 5, 5},
}

// The im2col+GEMM convolution must equal the direct-loop definition, forward
// and backward (weights, bias, and the transposed convolution with a kernel
// fb different from w), element by element. The tolerance 1e-5 relative is
// float32 rounding over at most 75-term sums of N(0,1) products.
func TestConvIm2colMatchesDirectLoops(t *testing.T) {
	for _, s := range convShapes {
		t.Run(fmt.Sprintf("n%d_c%d_%dx%d_oc%d_k%dx%d", s.n, s.c, s.h, s.w, s.oc, s.kh, s.kw), func(t *testing.T) {
			r := rng.New(1, t.Name())
			oh, ow := s.h-s.kh+1, s.w-s.kw+1
			p, ckk := oh*ow, s.c*s.kh*s.kw
			inp, w, b := randn(r, s.n*s.c*s.h*s.w), randn(r, s.oc*ckk), randn(r, s.oc)
			fb, dout := randn(r, s.oc*ckk), randn(r, s.n*s.oc*p)
			out := make([]float32, s.n*s.oc*p)
			col := make([]float32, s.n*p*ckk)
			nhwc := make([]float32, s.n*p*s.oc)
			conv2dForward(out, col, nhwc, inp, w, b, s.n, s.c, s.h, s.w, s.oc, s.kh, s.kw)
			compare(t, "out", out, convNaive(to64(inp), to64(w), to64(b), s.n, s.c, s.h, s.w, s.oc, s.kh, s.kw), 1e-5)

			// dw and db accumulate onto what is there: start from 1s.
			dw, db := make([]float32, len(w)), make([]float32, len(b))
			for i := range dw {
				dw[i] = 1
			}
			for i := range db {
				db[i] = 1
			}
			dinp := make([]float32, len(inp))
			for i := range dinp {
				dinp[i] = 99 // must be overwritten
			}
			dcol := make([]float32, len(col))
			conv2dBackward(dw, db, nhwc, dout, col, s.n, s.c, s.h, s.w, s.oc, s.kh, s.kw)
			conv2dBackwardInput(dinp, dcol, nhwc, fb, s.n, s.c, s.h, s.w, s.oc, s.kh, s.kw)
			wantIn, wantW, wantB := convBackwardNaive(to64(dout), to64(inp), to64(fb), s.n, s.c, s.h, s.w, s.oc, s.kh, s.kw)
			for i := range wantW {
				wantW[i]++
			}
			for i := range wantB {
				wantB[i]++
			}
			compare(t, "dinp", dinp, wantIn, 1e-5)
			compare(t, "dw", dw, wantW, 1e-5)
			compare(t, "db", db, wantB, 1e-5)
		})
	}
}

// The convolution's backward (with fb = w) must be the derivative of
// L = sum(r ⊙ conv(x)) computed by float64 central differences on the
// direct-loop definition, for every input, weight and bias. L is linear in
// each coordinate, so the difference quotient is exact up to float64
// rounding; 1e-5 relative covers the float32 engine.
func TestConvBackwardMatchesFiniteDifferences(t *testing.T) {
	const n, c, h, w, oc, kh, kw = 2, 2, 5, 6, 3, 3, 2
	oh, ow := h-kh+1, w-kw+1
	r := rng.New(2, "convfd")
	inp, wt, b, rr := randn(r, n*c*h*w), randn(r, oc*c*kh*kw), randn(r, oc), randn(r, n*oc*oh*ow)
	x64, w64, b64, r64 := to64(inp), to64(wt), to64(b), to64(rr)
	loss := func() float64 { return dot64(r64, convNaive(x64, w64, b64, n, c, h, w, oc, kh, kw)) }

	col := make([]float32, n*oh*ow*c*kh*kw)
	nhwc := make([]float32, n*oh*ow*oc)
	out := make([]float32, n*oc*oh*ow)
	conv2dForward(out, col, nhwc, inp, wt, b, n, c, h, w, oc, kh, kw)
	dw, db, dinp := make([]float32, len(wt)), make([]float32, oc), make([]float32, len(inp))
	conv2dBackward(dw, db, nhwc, rr, col, n, c, h, w, oc, kh, kw)
	conv2dBackwardInput(dinp, make([]float32, len(col)), nhwc, wt, n, c, h, w, oc, kh, kw)
	for _, v := range []struct {
		name string
		got  []float32
		x    []float64
	}{{"dinp", dinp, x64}, {"dw", dw, w64}, {"db", db, b64}} {
		want := make([]float64, len(v.x))
		for i := range v.x {
			want[i] = centralDiff(loss, v.x, i, 1e-3)
		}
		compare(t, v.name, v.got, want, 1e-5)
	}
}

// Linear forward equals the direct loops, and its backward (dinp with fb = w,
// dw, db) equals float64 central differences of L = sum(r ⊙ (x wᵀ + b)),
// for every element; 1e-5 as for the convolution.
func TestLinearBackwardMatchesFiniteDifferences(t *testing.T) {
	const n, in, out = 3, 7, 5
	r := rng.New(3, "linfd")
	x, w, b, rr := randn(r, n*in), randn(r, out*in), randn(r, out), randn(r, n*out)
	x64, w64, b64, r64 := to64(x), to64(w), to64(b), to64(rr)
	y := make([]float32, n*out)
	linearForward(y, x, w, b, n, in, out)
	compare(t, "out", y, linearNaive(x64, w64, b64, n, in, out), 1e-5)
	loss := func() float64 { return dot64(r64, linearNaive(x64, w64, b64, n, in, out)) }
	dw, db, dx := make([]float32, len(w)), make([]float32, out), make([]float32, len(x))
	linearBackward(dw, db, rr, x, n, in, out)
	linearBackwardInput(dx, rr, w, n, in, out)
	for _, v := range []struct {
		name string
		got  []float32
		x    []float64
	}{{"dinp", dx, x64}, {"dw", dw, w64}, {"db", db, b64}} {
		want := make([]float64, len(v.x))
		for i := range v.x {
			want[i] = centralDiff(loss, v.x, i, 1e-3)
		}
		compare(t, v.name, v.got, want, 1e-5)
	}
}

// ReLU and 2×2 max-pool backward equal float64 central differences of
// L = sum(r ⊙ pool(relu(x))) for every input. Inputs are spaced at least
// 0.01 apart and 0.01 away from 0, and h = 1e-4, so no step crosses a kink
// and the quotient is exact up to rounding.
func TestReluMaxpoolBackwardMatchesFiniteDifferences(t *testing.T) {
	const planes, h, w = 3, 4, 6
	r := rng.New(4, "poolfd")
	size := planes * h * w
	perm := r.Perm(size)
	x := make([]float32, size)
	for i, p := range perm {
		x[i] = float32(p-size/2)*0.01 + 0.005 // distinct, none at 0
	}
	rr := randn(r, planes*(h/2)*(w/2))
	x64, r64 := to64(x), to64(rr)
	loss := func() float64 { return dot64(r64, poolNaive(reluNaive(x64), planes, h, w)) }

	act := make([]float32, size)
	reluForward(act, x)
	compare(t, "relu", act, reluNaive(x64), 0)
	out := make([]float32, len(rr))
	arg := make([]int32, len(rr))
	maxpoolForward(out, arg, act, planes, h, w, 2, 2)
	compare(t, "pool", out, poolNaive(reluNaive(x64), planes, h, w), 0)
	dact := make([]float32, size)
	maxpoolBackward(dact, rr, arg, size)
	dx := make([]float32, size)
	reluBackward(dx, dact, x)
	want := make([]float64, size)
	for i := range want {
		want[i] = centralDiff(loss, x64, i, 1e-4)
	}
	compare(t, "dx", dx, want, 1e-6)
}

// Hand-worked max-pool cases: the anchors' bug (running max starting at a
// positive number) shows on all-negative windows; ties go to the first
// element in row-major window order (PyTorch CPU); a non-square 1×3 window
// with a remainder column that must be dropped.
func TestMaxpoolHandWorked(t *testing.T) {
	cases := []struct {
		name         string
		in           []float32
		h, w, ph, pw int
		out          []float32
		arg          []int32
		dout         []float32
		dinp         []float32
	}{
		{"all negative 2x2", []float32{-3, -2, -5, -4}, 2, 2, 2, 2,
			[]float32{-2}, []int32{1}, []float32{7}, []float32{0, 7, 0, 0}},
		{"ties keep first", []float32{1, 1, -1, 0, 1, 0, 0, -1}, 2, 4, 2, 2,
			[]float32{1, 0}, []int32{0, 3}, []float32{5, 6}, []float32{5, 0, 0, 6, 0, 0, 0, 0}},
		{"zeros and negatives", []float32{-1, 0, 0, -1}, 2, 2, 2, 2,
			[]float32{0}, []int32{1}, []float32{2}, []float32{0, 2, 0, 0}},
		{"non-square 1x3 with remainder", []float32{-9, -8, -7, -1, -2, -3, 100, 4, 4, 4, 5, 4, 3, 2}, 2, 7, 1, 3,
			[]float32{-7, -1, 4, 5}, []int32{2, 3, 7, 10}, []float32{1, 2, 3, 4}, []float32{0, 0, 1, 2, 0, 0, 0, 3, 0, 0, 4, 0, 0, 0}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := make([]float32, len(c.out))
			arg := make([]int32, len(c.arg))
			maxpoolForward(out, arg, c.in, 1, c.h, c.w, c.ph, c.pw)
			for i := range c.out {
				if out[i] != c.out[i] || arg[i] != c.arg[i] {
					t.Errorf("output %d = %v at %d, want %v at %d", i, out[i], arg[i], c.out[i], c.arg[i])
				}
			}
			dinp := make([]float32, len(c.in))
			for i := range dinp {
				dinp[i] = 42 // must be overwritten
			}
			maxpoolBackward(dinp, c.dout, arg, len(c.in))
			for i := range c.dinp {
				if dinp[i] != c.dinp[i] {
					t.Errorf("dinp[%d] = %v, want %v", i, dinp[i], c.dinp[i])
				}
			}
		})
	}
}

// Softmax cross-entropy: the loss equals a float64 log-sum-exp by hand, and
// the gradient equals float64 central differences of the float64 loss for
// every logit (h = 1e-4: truncation ~h² ≈ 1e-8, so 1e-6 holds).
func TestSoftmaxCrossEntropyMatchesFiniteDifferences(t *testing.T) {
	const n, k = 3, 10
	r := rng.New(5, "cefd")
	z := randn(r, n*k)
	z[0] = 30 // large logits must not overflow
	labels := []uint8{0, 9, 4}
	z64 := to64(z)
	loss := func() float64 {
		var tot float64
		for s := 0; s < n; s++ {
			var sum float64
			for _, v := range z64[s*k : (s+1)*k] {
				sum += math.Exp(v)
			}
			tot += math.Log(sum) - z64[s*k+int(labels[s])]
		}
		return tot / n
	}
	probs := make([]float32, n*k)
	got := softmaxCrossEntropy(probs, z, labels, n, k)
	if !closeTo(got, loss(), 1e-12) {
		t.Errorf("loss = %.15g, want %.15g", got, loss())
	}
	d := make([]float32, n*k)
	softmaxCrossEntropyBackward(d, probs, labels, n, k)
	want := make([]float64, n*k)
	for i := range want {
		want[i] = centralDiff(loss, z64, i, 1e-4)
	}
	compare(t, "dlogits", d, want, 1e-6)
}
