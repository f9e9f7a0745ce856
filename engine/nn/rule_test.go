package nn

import (
	"math"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/engine/rng"
)

func TestRuleNamesAndNewRule(t *testing.T) {
	want := []string{"bp", "fa_random", "fa_toeplitz", "usf_init", "usf_sn", "usf", "frsf", "brsf", "dfa"}
	holdsB0 := map[string]bool{"fa_random": true, "fa_toeplitz": true, "usf_init": true, "frsf": true, "dfa": true}
	got := RuleNames()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("RuleNames() = %v, want %v", got, want)
	}
	for _, name := range want {
		r, err := NewRule(name, 0.01, 1)
		if err != nil || r.Name() != name {
			t.Errorf("NewRule(%q) = %v, %v", name, r, err)
		}
		_, hasFB := r.(FeedbackTensors)
		if wantFB := holdsB0[name]; hasFB != wantFB {
			t.Errorf("%s implements FeedbackTensors = %v, want %v", name, hasFB, wantFB)
		}
	}
	_, err := NewRule("fa_sparse", 0.01, 1)
	if err == nil || !strings.Contains(err.Error(), "fa_sparse") || !strings.Contains(err.Error(), strings.Join(want, ", ")) {
		t.Errorf("unknown rule error %v must name it and list %v", err, want)
	}
	for _, sigma := range []float64{0, -1, math.NaN(), math.Inf(1)} {
		if _, err := NewRule("fa_toeplitz", sigma, 1); err == nil {
			t.Errorf("sigma %v accepted", sigma)
		}
	}
	if _, err := NewRule("usf_sn", 0, 1); err != nil {
		t.Errorf("usf_sn ignores sigma, got %v", err)
	}
}

// B0 is drawn from rng.New(seed, "feedback/<layer>") as N(0, sigma²), in the
// documented shapes, bit for bit; on tensors of more than 100,000 draws
// (fc1's 221,184, fa_random conv2's 14.7M) the sample standard deviation is
// sigma within 1% (its relative standard error is under 0.15%).
func TestFeedbackDrawnFromDocumentedStream(t *testing.T) {
	const sigma, seed = 0.05, 11
	for _, name := range []string{"fa_random", "fa_toeplitz", "usf_init"} {
		r, _ := NewRule(name, sigma, seed)
		ts := r.(FeedbackTensors).Feedback()
		wantShapes := [][]int{{64, 64, 5, 5}, {384, 576}, {192, 384}, {10, 192}}
		if name == "fa_random" {
			wantShapes[0] = []int{2304, 6400}
		}
		for i, tn := range ts {
			l := i + Conv2
			if tn.Name != "feedback."+LayerNames[l] || !equalShape(tn.Shape, wantShapes[i]) || len(tn.Data) != numel(wantShapes[i]) {
				t.Errorf("%s: tensor %s %v, want feedback.%s %v", name, tn.Name, tn.Shape, LayerNames[l], wantShapes[i])
				continue
			}
			want := make([]float32, len(tn.Data))
			rng.New(seed, "feedback/"+LayerNames[l]).FillNormal(want, sigma)
			for j := range want {
				if want[j] != tn.Data[j] {
					t.Fatalf("%s %s[%d] = %v, stream gives %v", name, tn.Name, j, tn.Data[j], want[j])
				}
			}
			if len(want) > 100000 {
				var ss float64
				for _, v := range want {
					ss += float64(v) * float64(v)
				}
				if sd := math.Sqrt(ss / float64(len(want))); math.Abs(sd/sigma-1) > 0.01 {
					t.Errorf("%s %s: std %v, want %v", name, tn.Name, sd, sigma)
				}
			}
		}
	}
}

func TestSetFeedbackRoundTripAndErrors(t *testing.T) {
	a, _ := NewRule("fa_toeplitz", 0.01, 1)
	b, _ := NewRule("fa_toeplitz", 0.01, 2)
	if err := b.(FeedbackTensors).SetFeedback(a.(FeedbackTensors).Feedback()); err != nil {
		t.Fatal(err)
	}
	ta, tb := a.(FeedbackTensors).Feedback(), b.(FeedbackTensors).Feedback()
	for i := range ta {
		for j := range ta[i].Data {
			if ta[i].Data[j] != tb[i].Data[j] {
				t.Fatalf("%s[%d] not restored", ta[i].Name, j)
			}
		}
	}
	fr, _ := NewRule("fa_random", 0.01, 1)
	err := b.(FeedbackTensors).SetFeedback(fr.(FeedbackTensors).Feedback())
	if err == nil || !strings.Contains(err.Error(), "feedback.conv2") {
		t.Errorf("fa_random tensors into fa_toeplitz: error %v, want one naming feedback.conv2", err)
	}
	err = b.(FeedbackTensors).SetFeedback(ta[:3])
	if err == nil || !strings.Contains(err.Error(), "feedback.fc3") {
		t.Errorf("missing fc3: error %v", err)
	}
}

// usf_init's operator is |B0|·sign(W) element by element, with sign(0) = 0.
func TestUSFInitOperatorIsAbsB0TimesSignW(t *testing.T) {
	r := NewUSFInit(0.1, 3)
	w := []float32{0.5, -0.25, 0, 3, -0}
	b0 := r.b0[FC3]
	scratch := make([]float32, len(w))
	op := r.Operator(FC3, w, scratch)
	want := []float32{abs32(b0[0]), -abs32(b0[1]), 0, abs32(b0[3]), 0}
	for i := range w {
		if op.B[i] != want[i] {
			t.Errorf("B[%d] = %v, want %v", i, op.B[i], want[i])
		}
	}
	if op.Fixed || op.Dense {
		t.Error("usf_init operator marked fixed or dense")
	}
}

func abs32(v float32) float32 { return float32(math.Abs(float64(v))) }

// usf_sn keeps ‖B‖_F = ‖W‖_F (to the 1e-8 in the denominator and float32
// rounding) with B = c·sign(W), sign(0) = 0, for every layer shape,
// including weights with zeros; a hand-worked case: W = (3, -4, 0, 0) has
// ‖W‖ = 5 and two non-zeros, so B = (5/√2, -5/√2, 0, 0).
func TestUSFSNKeepsFrobeniusNorm(t *testing.T) {
	op := USFSN{}.Operator(FC3, []float32{3, -4, 0, 0}, make([]float32, 4))
	c := float32(5 / (math.Sqrt2 + 1e-8))
	for i, want := range []float32{c, -c, 0, 0} {
		if op.B[i] != want {
			t.Errorf("hand-worked B[%d] = %v, want %v", i, op.B[i], want)
		}
	}
	p := NewParams()
	p.InitPyTorch(4)
	for l := Conv2; l < NumLayers; l++ {
		w := p.Weight(l)
		for i := 0; i < len(w); i += 7 {
			w[i] = 0
		}
		op := USFSN{}.Operator(l, w, make([]float32, len(w)))
		var nb, nw float64
		for i, v := range op.B {
			nb += float64(v) * float64(v)
			nw += float64(w[i]) * float64(w[i])
			if sign32(v) != sign32(w[i]) {
				t.Fatalf("%s: sign(B[%d]) = %v, sign(W) = %v", LayerNames[l], i, sign32(v), sign32(w[i]))
			}
		}
		if math.Abs(math.Sqrt(nb)/math.Sqrt(nw)-1) > 1e-6 {
			t.Errorf("%s: ‖B‖ = %v, ‖W‖ = %v", LayerNames[l], math.Sqrt(nb), math.Sqrt(nw))
		}
	}
}
