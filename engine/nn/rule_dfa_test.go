package nn

import (
	"math"
	"testing"

	"github.com/fabeam/fabeam/engine/rng"
)

// dfa's matrices are N(0, σ²) from rng.New(seed, "feedback/<layer>") in
// the shapes (10, 6400), (10, 576), (10, 384), (10, 192), bit for bit, and
// its fc3 matrix is fa_random's B0 for fc3 at the same σ and seed.
func TestDFAMatricesFromTheDocumentedStream(t *testing.T) {
	const sigma, seed = 0.05, 4
	r := NewDFA(sigma, seed)
	ts := r.Feedback()
	wantShapes := [][]int{{10, 6400}, {10, 576}, {10, 384}, {10, 192}}
	for i, tn := range ts {
		l := i + Conv2
		if tn.Name != "feedback."+LayerNames[l] || !equalShape(tn.Shape, wantShapes[i]) || len(tn.Data) != numel(wantShapes[i]) {
			t.Fatalf("tensor %s %v, want feedback.%s %v", tn.Name, tn.Shape, LayerNames[l], wantShapes[i])
		}
		want := make([]float32, len(tn.Data))
		rng.New(seed, "feedback/"+LayerNames[l]).FillNormal(want, sigma)
		for j := range want {
			if tn.Data[j] != want[j] {
				t.Fatalf("%s[%d] = %v, stream gives %v", tn.Name, j, tn.Data[j], want[j])
			}
		}
		op := r.Operator(l, make([]float32, numel(weightShapes[l])), nil)
		if !op.Direct || !op.Fixed || op.Dense {
			t.Errorf("%s: operator direct %v fixed %v dense %v, want direct and fixed", LayerNames[l], op.Direct, op.Fixed, op.Dense)
		}
	}
	fa := NewFARandom(sigma, seed)
	for j, v := range fa.b0[FC3] {
		if r.b0[FC3][j] != v {
			t.Fatalf("fc3 B[%d] = %v, fa_random's %v", j, r.b0[FC3][j], v)
		}
	}
}

// A hand-sized check: with every matrix zero but B[k][j] = 1 (k = 3, j = 7),
// each hidden layer's output receives exactly e[:, 3] in position 7 and
// zero elsewhere, whatever the weights; the weights above play no part.
func TestDFAHandSizedUnitMatrices(t *testing.T) {
	const k, j = 3, 7
	r := NewDFA(0.1, 1)
	for l := Conv2; l < NumLayers; l++ {
		clear(r.b0[l])
		r.b0[l][k*layerInputSize(l)+j] = 1
	}
	p := NewParams()
	p.InitPyTorch(2)
	const n = 2
	x, y := testBatch(2, n)
	m := NewModel(p, r, n)
	m.Forward(x, n)
	m.Loss(y)
	m.Backward()
	e := m.PreActivationGrad(FC3)
	for l := Conv2; l < NumLayers; l++ {
		got, in := deliveredError(m, l), layerInputSize(l)
		for s := 0; s < n; s++ {
			for i := 0; i < in; i++ {
				want := float32(0)
				if i == j {
					want = e[s*NumClasses+k]
				}
				if got[s*in+i] != want {
					t.Fatalf("%s input error [%d,%d] = %v, want %v", LayerNames[l], s, i, got[s*in+i], want)
				}
			}
		}
	}
}

// The model's backward under dfa delivers e·B_l to every layer's input,
// by a direct loop over the output error.
func TestDFADeliversTheSpecifiedError(t *testing.T) {
	p := NewParams()
	p.InitPyTorch(9)
	r := NewDFA(0.05, 6)
	checkDeliveredErrors(t, r, p, nil, func(l int, _, e []float64, n int) []float64 {
		return denseTimes(e, to64(r.b0[l]), n, NumClasses, layerInputSize(l))
	})
}

// dfa's step metrics: the local angle is, per sample, the angle between
// Wᵀδ (δ the error dfa gave layer l's output) and e·B_l, computed here in
// float64; sign concordance is defined only at fc3, whose matrix has W's
// shape; FeedbackStats likewise compares only fc3.
func TestDFAStepMetrics(t *testing.T) {
	const n = 2
	p := NewParams()
	p.InitPyTorch(6)
	x, y := testBatch(6, n)
	r := NewDFA(0.05, 7)
	m := NewModel(p, r, n)
	m.Metrics = true
	m.Forward(x, n)
	m.Loss(y)
	m.Backward()
	e := to64(m.PreActivationGrad(FC3))
	for l := Conv2; l < NumLayers; l++ {
		delta, w := to64(m.PreActivationGrad(l)), to64(p.Weight(l))
		in := layerInputSize(l)
		var wt []float64
		if l == Conv2 {
			wt = chainedConv2(delta, w, n)
		} else {
			wt = denseTimes(delta, w, n, fanOut(l), in)
		}
		bt := denseTimes(e, to64(r.b0[l]), n, NumClasses, in)
		var sum float64
		for s := 0; s < n; s++ {
			a, c := wt[s*in:(s+1)*in], bt[s*in:(s+1)*in]
			sum += math.Acos(dot64(a, c)/math.Sqrt(dot64(a, a)*dot64(c, c))) * 180 / math.Pi
		}
		if want := sum / n; math.Abs(m.Step.Angle[l]-want) > 1e-6 {
			t.Errorf("%s angle %v, want %v", LayerNames[l], m.Step.Angle[l], want)
		}
		if l != FC3 {
			if !math.IsNaN(m.Step.Concordance[l]) {
				t.Errorf("%s concordance %v, want NaN (B is not W's shape)", LayerNames[l], m.Step.Concordance[l])
			}
			continue
		}
		same := 0
		for i := range w {
			if (w[i] > 0) == (r.b0[l][i] > 0) && (w[i] < 0) == (r.b0[l][i] < 0) {
				same++
			}
		}
		if want := float64(same) / float64(len(w)); m.Step.Concordance[l] != want {
			t.Errorf("fc3 concordance %v, want %v", m.Step.Concordance[l], want)
		}
	}
	angle, ratio := FeedbackStats(p, r)
	fa := NewFARandom(0.05, 7)
	faAngle, faRatio := FeedbackStats(p, fa)
	for l := Conv1; l < FC3; l++ {
		if !math.IsNaN(angle[l]) || !math.IsNaN(ratio[l]) {
			t.Errorf("%s: FeedbackStats %v %v, want NaN", LayerNames[l], angle[l], ratio[l])
		}
	}
	if angle[FC3] != faAngle[FC3] || ratio[FC3] != faRatio[FC3] || !(angle[FC3] > 0) {
		t.Errorf("fc3: FeedbackStats %v %v, fa_random's (same matrix) %v %v", angle[FC3], ratio[FC3], faAngle[FC3], faRatio[FC3])
	}
}
