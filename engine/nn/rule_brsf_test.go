package nn

import (
	"math"
	"strconv"
	"testing"

	"github.com/fabeam/fabeam/engine/rng"
)

// brsf draws M_t from rng.New(seed, "feedback/<layer>/step/<t>") as
// U(±1/sqrt(fan_in)), bit for bit: two steps draw different magnitudes,
// the same (seed, layer, step) redraws the same (also from a fresh rule,
// as after a resume), another seed differs, and sign(B) == sign(W).
func TestBRSFRedrawsPerStepFromTheDocumentedStream(t *testing.T) {
	p := NewParams()
	p.InitPyTorch(2)
	op := func(r *BRSF, l, step int) []float32 {
		r.SetStep(step)
		w := p.Weight(l)
		return r.Operator(l, w, make([]float32, len(w))).B
	}
	r := NewBRSF(7)
	for l := Conv2; l < NumLayers; l++ {
		w := p.Weight(l)
		bound := 1 / math.Sqrt(float64(fanIn(l)))
		for _, step := range []int{1, 2, 353} {
			got := op(r, l, step)
			m := make([]float32, len(w))
			rng.New(7, "feedback/"+LayerNames[l]+"/step/"+strconv.Itoa(step)).FillUniform(m, bound)
			for i, v := range got {
				want := float32(math.Abs(float64(m[i]))) * sign32(w[i])
				if v != want {
					t.Fatalf("%s step %d: B[%d] = %v, want %v", LayerNames[l], step, i, v, want)
				}
				if sign32(v) != sign32(w[i]) {
					t.Fatalf("%s step %d: sign(B[%d]) = %v, sign(W) = %v", LayerNames[l], step, i, sign32(v), sign32(w[i]))
				}
			}
		}
		a, b := op(r, l, 5), op(r, l, 6)
		again := op(NewBRSF(7), l, 5)
		seed8 := op(NewBRSF(8), l, 5)
		diff, diff8 := 0, 0
		for i := range a {
			if a[i] != again[i] {
				t.Fatalf("%s step 5 redrawn: B[%d] = %v, first draw %v", LayerNames[l], i, again[i], a[i])
			}
			if a[i] != b[i] {
				diff++
			}
			if a[i] != seed8[i] {
				diff8++
			}
		}
		if diff < len(a)*9/10 || diff8 < len(a)*9/10 {
			t.Errorf("%s: steps 5 and 6 differ in %d of %d entries, seeds 7 and 8 in %d", LayerNames[l], diff, len(a), diff8)
		}
	}
}

// The model's backward under brsf at step 12 delivers δ·(|M_12| ∘ sign(W))
// with M_12 drawn here from its stream.
func TestBRSFDeliversTheSpecifiedError(t *testing.T) {
	p := NewParams()
	p.InitPyTorch(9)
	r := NewBRSF(3)
	checkDeliveredErrors(t, r, p, func() { r.SetStep(12) }, chainedReference(func(l int) []float64 {
		m := make([]float32, len(p.Weight(l)))
		rng.New(3, "feedback/"+LayerNames[l]+"/step/12").FillUniform(m, 1/math.Sqrt(float64(fanIn(l))))
		mag := make([]float64, len(m))
		for i, v := range m {
			mag[i] = math.Abs(float64(v))
		}
		return signedTimes(mag, p.Weight(l))
	}))
}
