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
