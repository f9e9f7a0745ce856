//go:build !purego

package nn

import (
	"math"
	"testing"

	"github.com/fabeam/fabeam/engine/rng"
)

// setPassAsm turns the assembly passes (im2col rows, the conv epilogue) on
// or off for one test and restores them when it ends.
func setPassAsm(t *testing.T, on bool) {
	prev := usePassAsm
	usePassAsm = on
	t.Cleanup(func() { usePassAsm = prev })
}

// TestConcordanceAsmEqualsSign32 checks the vectorised sign count against
// sign32 element by element on vectors of every length from 0 to 40 (the
// tail past a multiple of 8 runs in Go) and one the size of fc1's weight,
// with ±0, NaN, ±Inf and subnormals among random values: the fraction
// must be the same float64.
func TestConcordanceAsmEqualsSign32(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2")
	}
	special := []float32{0, float32(math.Copysign(0, -1)), float32(math.NaN()), float32(math.Inf(1)),
		float32(math.Inf(-1)), 1e-45, -1e-45, 1e-40, -3e-39}
	r := rng.New(7, "concordance test")
	for _, n := range append(seq(41), 576*384) {
		w, b := make([]float32, n), make([]float32, n)
		for i := range w {
			w[i], b[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
			if r.IntN(4) == 0 {
				w[i] = special[r.IntN(len(special))]
			}
			if r.IntN(4) == 0 {
				b[i] = special[r.IntN(len(special))]
			}
		}
		same := 0
		for i := range w {
			if sign32(w[i]) == sign32(b[i]) {
				same++
			}
		}
		want := float64(same) / float64(n)
		op := Operator{B: b, Fixed: true}
		got := concordance(w, op)
		if n == 0 {
			continue // 0/0: both NaN
		}
		if got != want {
			t.Fatalf("n=%d: concordance %v, sign32 count gives %v", n, got, want)
		}
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// TestUpdateSumSqAssemblyGivesTheLoopsBits checks UpdateSumSq with the
// AVX2 loop against the portable loop, bit for bit, on ranges of every
// length from 0 to 40 at several offsets and on one the size of fc1's
// weight, at steps 1 and 7,040: moments with zeros of both signs,
// subnormals, tiny and large values, NaN and Inf among random ones.
func TestUpdateSumSqAssemblyGivesTheLoopsBits(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2")
	}
	const n = 221184 + 37
	r := rng.New(17, "update-sq")
	a := NewAdam(n, 1e-3, 0)
	r.FillNormal(a.M, 1e-3)
	r.FillNormal(a.V, 1e-6)
	for i := range a.V {
		a.V[i] = float32(math.Abs(float64(a.V[i])))
	}
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-45, 3e-39, 1e-20, 1e30, float32(math.Inf(1)), float32(math.NaN())}
	for i := 0; i < 400; i++ {
		a.M[i*7%n] = special[i%len(special)]
		if i%3 == 0 {
			a.V[(i*7+3)%n] = float32(math.Abs(float64(special[(i/3)%len(special)])))
		}
	}
	sum := func(asm bool, lo, hi int) float64 {
		prev := usePassAsm
		usePassAsm = asm
		defer func() { usePassAsm = prev }()
		return a.UpdateSumSq(lo, hi)
	}
	for _, step := range []int{1, 7040} {
		a.T = step
		for _, lo := range []int{0, 1, 5, 3000} {
			for k := 0; k <= 40; k++ {
				got, want := sum(true, lo, lo+k), sum(false, lo, lo+k)
				if math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
					t.Fatalf("step %d, [%d,%d): assembly %v, loop %v", step, lo, lo+k, got, want)
				}
			}
		}
		// Away from the planted NaN and Inf, and over all of it.
		for _, rg := range [][2]int{{4000, n}, {0, n}} {
			got, want := sum(true, rg[0], rg[1]), sum(false, rg[0], rg[1])
			if math.Float64bits(got) != math.Float64bits(want) && !(math.IsNaN(got) && math.IsNaN(want)) {
				t.Fatalf("step %d, [%d,%d): assembly %v, loop %v", step, rg[0], rg[1], got, want)
			}
		}
	}
	if s := sum(true, 4000, n); math.IsNaN(s) || math.IsInf(s, 0) || s == 0 {
		t.Fatalf("the sum away from the special values is %v: the comparison checked nothing", s)
	}
}

// TestMaskedSumSquaresAssemblyGivesTheLoopsBits checks maskedSumSquares
// with the AVX loop against the portable loop, bit for bit, on every
// length from 0 to 40 at several offsets and on conv1's error at batch
// 128: values and masks with zeros of both signs, subnormals, NaN and Inf
// among random ones (a NaN or non-positive mask keeps nothing).
func TestMaskedSumSquaresAssemblyGivesTheLoopsBits(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2")
	}
	const n = 128*p1Out + 3
	r := rng.New(18, "masked-sq")
	x, keep := make([]float32, n), make([]float32, n)
	r.FillNormal(x, 1e-3)
	r.FillNormal(keep, 1)
	special := []float32{0, float32(math.Copysign(0, -1)), 1e-45, -3e-39, 1e30, float32(math.Inf(1)), float32(math.Inf(-1)), float32(math.NaN())}
	for i := 0; i < 400; i++ {
		x[i*7%n] = special[i%len(special)]
		keep[(i*5+1)%n] = special[(i/2)%len(special)]
	}
	sum := func(asm bool, lo, hi int) float64 {
		prev := usePassAsm
		usePassAsm = asm
		defer func() { usePassAsm = prev }()
		return maskedSumSquares(x[lo:hi], keep[lo:hi])
	}
	same := func(a, b float64) bool {
		return math.Float64bits(a) == math.Float64bits(b) || math.IsNaN(a) && math.IsNaN(b)
	}
	for _, lo := range []int{0, 1, 6, 2000} {
		for k := 0; k <= 40; k++ {
			if got, want := sum(true, lo, lo+k), sum(false, lo, lo+k); !same(got, want) {
				t.Fatalf("[%d,%d): assembly %v, loop %v", lo, lo+k, got, want)
			}
		}
	}
	for _, rg := range [][2]int{{3000, n}, {0, n}} {
		if got, want := sum(true, rg[0], rg[1]), sum(false, rg[0], rg[1]); !same(got, want) {
			t.Fatalf("[%d,%d): assembly %v, loop %v", rg[0], rg[1], got, want)
		}
	}
	if s := sum(true, 3000, n); math.IsNaN(s) || math.IsInf(s, 0) || s == 0 {
		t.Fatalf("the sum away from the special values is %v: the comparison checked nothing", s)
	}
}
