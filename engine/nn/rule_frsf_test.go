package nn

import (
	"math"
	"testing"

	"github.com/fabeam/fabeam/engine/rng"
)

// frsf's |M_0| is |U(±1/sqrt(fan_in))| drawn from rng.New(seed,
// "feedback/<layer>"), bit for bit, whatever sigma is. On fc1's 221,184
// draws (bound b = 1/24) it has that distribution's moments: mean b/2 and
// root mean square b/sqrt(3), each within 1% (their relative standard
// errors are 0.12% and 0.1%), every value in [0, b] and the largest above
// 0.999·b (a smaller maximum has probability 0.999^221184 ≈ e^-221). An
// N(0, σ²) draw with any σ fails one of these: its RMS/mean ratio is
// sqrt(π/2) = 1.25, not 2/sqrt(3) = 1.155.
func TestFRSFMagnitudesHaveTheInitDistribution(t *testing.T) {
	const seed = 5
	a, err := NewRule("frsf", 0.01, seed)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewRule("frsf", 0.1, seed)
	ta, tb := a.(FeedbackTensors).Feedback(), b.(FeedbackTensors).Feedback()
	bounds := map[string]float64{"conv2": 1 / 40.0, "fc1": 1 / 24.0, "fc2": 1 / math.Sqrt(384), "fc3": 1 / math.Sqrt(192)}
	for i, tn := range ta {
		l := i + Conv2
		bound := bounds[LayerNames[l]]
		if tn.Name != "feedback."+LayerNames[l] || !equalShape(tn.Shape, weightShapes[l]) {
			t.Fatalf("tensor %d: %s %v, want feedback.%s %v", i, tn.Name, tn.Shape, LayerNames[l], weightShapes[l])
		}
		want := make([]float32, len(tn.Data))
		rng.New(seed, "feedback/"+LayerNames[l]).FillUniform(want, bound)
		var sum, ss, mx float64
		for j, v := range tn.Data {
			if v != float32(math.Abs(float64(want[j]))) || tb[i].Data[j] != v {
				t.Fatalf("%s[%d] = %v (sigma 0.1: %v), want |%v| from the stream", tn.Name, j, v, tb[i].Data[j], want[j])
			}
			x := float64(v)
			if x < 0 || x > bound {
				t.Fatalf("%s[%d] = %v outside [0, %v]", tn.Name, j, x, bound)
			}
			sum += x
			ss += x * x
			mx = math.Max(mx, x)
		}
		if l != FC1 {
			continue
		}
		nv := float64(len(tn.Data))
		if mean := sum / nv; math.Abs(mean/(bound/2)-1) > 0.01 {
			t.Errorf("fc1: mean |M_0| = %v, want b/2 = %v", mean, bound/2)
		}
		if rms := math.Sqrt(ss / nv); math.Abs(rms/(bound/math.Sqrt(3))-1) > 0.01 {
			t.Errorf("fc1: RMS |M_0| = %v, want b/sqrt(3) = %v", rms, bound/math.Sqrt(3))
		}
		if mx < 0.999*bound {
			t.Errorf("fc1: max |M_0| = %v, want within 0.1%% of the bound %v", mx, bound)
		}
	}
}

// B = |M_0| ∘ sign(W): sign(B) == sign(W) everywhere (0 where W is 0),
// |B| = |M_0|, for every layer, with zeros planted in W.
func TestFRSFOperatorHasWsSigns(t *testing.T) {
	r := NewFRSF(4)
	p := NewParams()
	p.InitPyTorch(4)
	for l := Conv2; l < NumLayers; l++ {
		w := p.Weight(l)
		for i := 0; i < len(w); i += 5 {
			w[i] = 0
		}
		op := r.Operator(l, w, make([]float32, len(w)))
		if op.Fixed || op.Dense || op.Direct {
			t.Fatalf("%s: operator %v/%v/%v, want chained and not fixed", LayerNames[l], op.Fixed, op.Dense, op.Direct)
		}
		for i, v := range op.B {
			if sign32(v) != sign32(w[i]) || (w[i] != 0 && float32(math.Abs(float64(v))) != r.b0[l][i]) {
				t.Fatalf("%s: B[%d] = %v, W = %v, |M_0| = %v", LayerNames[l], i, v, w[i], r.b0[l][i])
			}
		}
	}
}

// The model's backward under frsf delivers δ·(|M_0| ∘ sign(W)), and a
// checkpoint's tensors restore the rule (another seed's rule, given them,
// delivers the same errors).
func TestFRSFDeliversTheSpecifiedError(t *testing.T) {
	p := NewParams()
	p.InitPyTorch(9)
	src := NewFRSF(3)
	r := NewFRSF(4)
	if err := r.SetFeedback(src.Feedback()); err != nil {
		t.Fatal(err)
	}
	checkDeliveredErrors(t, r, p, nil, chainedReference(func(l int) []float64 {
		return signedTimes(to64(src.b0[l]), p.Weight(l))
	}))
}
