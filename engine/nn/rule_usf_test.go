package nn

import (
	"math"
	"testing"
)

// usf's operator is s·sign(W) with s = 1/sqrt(3·fan_in), the standard
// deviation of InitPyTorch's U(±1/sqrt(fan_in)): checked against the
// closed form for each layer, against the measured standard deviation of
// the initial weights (fc1's 221,184 draws: relative standard error of
// the sample std about 0.1%, tolerance 1%), and by hand on a weight with
// zeros.
func TestUSFOperatorIsInitStdTimesSignW(t *testing.T) {
	op := USF{}.Operator(FC3, []float32{0.5, -2, 0, 1e-30, -0}, make([]float32, 5))
	s := float32(1 / math.Sqrt(3*192))
	for i, want := range []float32{s, -s, 0, s, 0} {
		if op.B[i] != want {
			t.Errorf("hand-worked fc3 B[%d] = %v, want %v", i, op.B[i], want)
		}
	}
	if op.Fixed || op.Dense || op.Direct {
		t.Errorf("usf operator %+v: want chained, not fixed", op)
	}
	p := NewParams()
	p.InitPyTorch(3)
	fanIns := map[int]float64{Conv2: 1600, FC1: 576, FC2: 384, FC3: 192}
	for l := Conv2; l < NumLayers; l++ {
		w := p.Weight(l)
		s := float32(1 / math.Sqrt(3*fanIns[l]))
		op := USF{}.Operator(l, w, make([]float32, len(w)))
		for i, v := range w {
			if want := s * sign32(v); op.B[i] != want {
				t.Fatalf("%s: B[%d] = %v, want %v", LayerNames[l], i, op.B[i], want)
			}
		}
		if l == FC1 {
			var ss float64
			for _, v := range w {
				ss += float64(v) * float64(v)
			}
			if sd := math.Sqrt(ss / float64(len(w))); math.Abs(sd/float64(s)-1) > 0.01 {
				t.Errorf("fc1: initial weights have std %v, usf's scale is %v", sd, s)
			}
		}
	}
}

// The model's backward under usf delivers δ·(s·sign(W)) to every layer's
// input, computed here by direct loops.
func TestUSFDeliversTheSpecifiedError(t *testing.T) {
	p := NewParams()
	p.InitPyTorch(9)
	checkDeliveredErrors(t, USF{}, p, nil, chainedReference(func(l int) []float64 {
		w := p.Weight(l)
		mag := make([]float64, len(w))
		for i := range mag {
			mag[i] = 1 / math.Sqrt(3*float64(fanIn(l)))
		}
		return signedTimes(mag, w)
	}))
}
