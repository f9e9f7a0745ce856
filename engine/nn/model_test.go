package nn

import (
	"math"
	"testing"
	"unsafe"

	"github.com/fabeam/fabeam/engine/rng"
)

// testBatch returns n random N(0,1) images and labels from a fixed stream.
func testBatch(seed uint64, n int) ([]float32, []uint8) {
	r := rng.New(seed, "testbatch")
	x := randn(r, n*inputSize)
	y := make([]uint8, n)
	for i := range y {
		y[i] = uint8(r.IntN(NumClasses))
	}
	return x, y
}

func newTestRule(t testing.TB, name string) Rule {
	t.Helper()
	r, err := NewRule(name, 0.05, 7)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The layout is PyTorch's state_dict: ten tensors in order, with the
// published shapes, contiguous in Data, 404,746 values (docs/paper.md).
func TestParamsLayoutIsStateDictOrder(t *testing.T) {
	p := NewParams()
	want := []struct {
		name  string
		shape []int
	}{
		{"conv1.weight", []int{64, 3, 5, 5}}, {"conv1.bias", []int{64}},
		{"conv2.weight", []int{64, 64, 5, 5}}, {"conv2.bias", []int{64}},
		{"fc1.weight", []int{384, 576}}, {"fc1.bias", []int{384}},
		{"fc2.weight", []int{192, 384}}, {"fc2.bias", []int{192}},
		{"fc3.weight", []int{10, 192}}, {"fc3.bias", []int{10}},
	}
	ts := p.Tensors()
	if len(ts) != len(want) {
		t.Fatalf("%d tensors, want %d", len(ts), len(want))
	}
	off := 0
	for i, w := range want {
		if ts[i].Name != w.name || !equalShape(ts[i].Shape, w.shape) || len(ts[i].Data) != numel(w.shape) {
			t.Errorf("tensor %d = %s %v (%d values), want %s %v", i, ts[i].Name, ts[i].Shape, len(ts[i].Data), w.name, w.shape)
		}
		if unsafe.SliceData(ts[i].Data) != &p.Data[off] {
			t.Errorf("%s is not the view at offset %d of Data", w.name, off)
		}
		off += numel(w.shape)
	}
	if off != NumParams || len(p.Data) != NumParams {
		t.Errorf("total %d, len(Data) %d, want %d", off, len(p.Data), NumParams)
	}
	l := FC2
	if unsafe.SliceData(p.Weight(l)) != unsafe.SliceData(ts[2*l].Data) || unsafe.SliceData(p.Bias(l)) != unsafe.SliceData(ts[2*l+1].Data) {
		t.Error("Weight/Bias are not the Tensors views")
	}
}

// PyTorch's default init: every weight and bias within ±1/sqrt(fan_in) and
// filling it (the extreme of >= 1600 uniform draws is within 1% of the bound
// with probability > 1-1e-6); the same seed reproduces, another differs.
func TestInitPyTorchBoundsAndSeed(t *testing.T) {
	p, q, o := NewParams(), NewParams(), NewParams()
	p.InitPyTorch(3)
	q.InitPyTorch(3)
	o.InitPyTorch(4)
	for l, fan := range []float64{75, 1600, 576, 384, 192} {
		bound := 1 / math.Sqrt(fan)
		var mx float64
		for _, v := range p.Weight(l) {
			if math.Abs(float64(v)) > bound {
				t.Fatalf("%s weight %v outside ±%v", LayerNames[l], v, bound)
			}
			mx = math.Max(mx, math.Abs(float64(v)))
		}
		for _, v := range p.Bias(l) {
			if math.Abs(float64(v)) > bound {
				t.Fatalf("%s bias %v outside ±%v", LayerNames[l], v, bound)
			}
		}
		if mx < 0.99*bound {
			t.Errorf("%s: largest |w| %v, want close to %v", LayerNames[l], mx, bound)
		}
	}
	same, diff := true, 0
	for i := range p.Data {
		same = same && p.Data[i] == q.Data[i]
		if p.Data[i] != o.Data[i] {
			diff++
		}
	}
	if !same || diff < NumParams/2 {
		t.Errorf("same seed identical = %v, other seed differs in %d values", same, diff)
	}
	c := p.Clone()
	c.Data[0]++
	if p.Data[0] == c.Data[0] {
		t.Error("Clone shares storage")
	}
}

// The float32 model's pre-activations equal the float64 direct-loop
// re-derivation for every element of every layer (tolerance 1e-5: float32
// rounding over sums of at most 1600 terms of size ~0.05).
func TestForwardMatchesFloat64Reference(t *testing.T) {
	const n = 2
	p := NewParams()
	p.InitPyTorch(1)
	x, _ := testBatch(1, n)
	m := NewModel(p, BP{}, 3)
	m.Forward(x, n)
	ref := refForward(to64(p.Data), to64(x), n)
	for l := 0; l < NumLayers; l++ {
		compare(t, LayerNames[l], m.PreActivation(l), ref[l], 1e-5)
	}
}

// The convolutions' pre-activations, laid out on demand, are those of the
// last Forward bit for bit (conv2dForward, the plain kernel, on the same
// input and parameters), also when asked for after a step has changed the
// parameters, and again after the next Forward on other data.
func TestConvPreActivationIsTheLastForwards(t *testing.T) {
	const n = 3
	p := NewParams()
	p.InitPyTorch(4)
	m := NewModel(p, BP{}, n)
	for round := uint64(0); round < 2; round++ {
		x, y := testBatch(40+round, n)
		w1, b1 := append([]float32(nil), p.w[Conv1]...), append([]float32(nil), p.b[Conv1]...)
		w2, b2 := append([]float32(nil), p.w[Conv2]...), append([]float32(nil), p.b[Conv2]...)
		m.Forward(x, n)
		m.Loss(y)
		m.Backward()
		for i := range p.Data { // an "optimiser step" before the features are read
			p.Data[i] += 0.01
		}

		want1 := make([]float32, n*c1Out)
		conv2dForward(want1, make([]float32, n*400*col1Row), make([]float32, n*400*64), x, w1, b1, n, 3, 24, 24, 64, 5, 5)
		act := make([]float32, len(want1))
		reluForward(act, want1)
		pool1 := make([]float32, n*p1Out)
		maxpoolForward(pool1, make([]int32, len(pool1)), act, n*64, 20, 20, 2, 2)
		want2 := make([]float32, n*c2Out)
		conv2dForward(want2, make([]float32, n*36*col2Row), make([]float32, n*36*64), pool1, w2, b2, n, 64, 10, 10, 64, 5, 5)
		for _, c := range []struct {
			l    int
			want []float32
		}{{Conv1, want1}, {Conv2, want2}} {
			for k := 0; k < 2; k++ { // the second call returns the same layout
				got := m.PreActivation(c.l)
				if len(got) != len(c.want) {
					t.Fatalf("round %d %s: %d values, want %d", round, LayerNames[c.l], len(got), len(c.want))
				}
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(c.want[i]) {
						t.Fatalf("round %d %s call %d: [%d] = %v, want %v", round, LayerNames[c.l], k, i, got[i], c.want[i])
					}
				}
			}
		}
	}
}

// Under bp, every parameter gradient of the whole network equals float64
// central differences of the float64 reference loss: for each of the ten
// tensors, the directional derivative along a random direction, and one
// random single entry. h = 1e-5 keeps truncation (~h²) and rounding (~1e-16/h)
// below 1e-9; the float32 engine is good to ~1e-5 relative, so 1e-3 of the
// gradient's scale is a safe yet sharp bound (a wrong index or missing term
// is off by O(1)).
func TestBackwardBPMatchesFiniteDifferences(t *testing.T) {
	const n = 2
	p := NewParams()
	p.InitPyTorch(2)
	x, y := testBatch(2, n)
	m := NewModel(p, BP{}, n)
	m.Forward(x, n)
	loss32 := m.Loss(y)
	m.Backward()
	theta, x64 := to64(p.Data), to64(x)
	loss := func() float64 { return refLoss(theta, x64, y, n) }
	if !closeTo(loss32, loss(), 1e-5) {
		t.Errorf("loss %v, reference %v", loss32, loss())
	}
	r := rng.New(2, "fd-directions")
	off := 0
	for _, ts := range m.Grad.Tensors() {
		g := to64(ts.Data)
		seg := theta[off : off+len(g)]
		// directional derivative
		d := make([]float64, len(g))
		var gd, gn, dn float64
		for i := range d {
			d[i] = r.NormFloat64()
			gd += g[i] * d[i]
			gn += g[i] * g[i]
			dn += d[i] * d[i]
		}
		const h = 1e-5
		for i := range seg {
			seg[i] += h * d[i]
		}
		lp := loss()
		for i := range seg {
			seg[i] -= 2 * h * d[i]
		}
		lm := loss()
		copy(seg, to64(p.Data[off:off+len(g)]))
		fd := (lp - lm) / (2 * h)
		if math.Abs(fd-gd) > 1e-3*math.Sqrt(gn*dn) {
			t.Errorf("%s: directional derivative %v, finite difference %v", ts.Name, gd, fd)
		}
		var gmax float64
		for _, v := range g {
			gmax = math.Max(gmax, math.Abs(v))
		}
		for k := 0; k < 1; k++ {
			i := r.IntN(len(g))
			fd := centralDiff(loss, seg, i, h)
			if math.Abs(fd-g[i]) > 1e-3*gmax {
				t.Errorf("%s[%d]: gradient %v, finite difference %v", ts.Name, i, g[i], fd)
			}
		}
		off += len(g)
	}
}

// denseConv2 returns the dense (2304, 6400) matrix T(w) of Conv2, so that
// the error flattened (n,2304) times T(w) is the transposed convolution.
func denseConv2(w []float32) []float32 {
	d := make([]float32, c2Out*p1Out)
	for o := 0; o < 64; o++ {
		for ci := 0; ci < 64; ci++ {
			for ky := 0; ky < 5; ky++ {
				for kx := 0; kx < 5; kx++ {
					v := w[((o*64+ci)*5+ky)*5+kx]
					for y := 0; y < 6; y++ {
						for x := 0; x < 6; x++ {
							d[((o*6+y)*6+x)*p1Out+(ci*10+y+ky)*10+x+kx] = v
						}
					}
				}
			}
		}
	}
	return d
}

// feedbackEqualW returns "feedback.*" tensors holding W (as a dense T(W) for
// Conv2 when dense is set), scaled by s.
func feedbackEqualW(p *Params, dense bool, s float32) []Tensor {
	var ts []Tensor
	for l := Conv2; l < NumLayers; l++ {
		w := append([]float32(nil), p.Weight(l)...)
		shape := weightShapes[l]
		if l == Conv2 && dense {
			w, shape = denseConv2(w), conv2DenseShape
		}
		for i := range w {
			w[i] *= s
		}
		ts = append(ts, Tensor{Name: "feedback." + LayerNames[l], Shape: shape, Data: w})
	}
	return ts
}

// For every FA-family rule, B set equal to W gives bp's gradients: bit for
// bit where the same kernels run (fa_toeplitz; usf_init, whose |W|·sign(W)
// is W exactly), and to float32 rounding (1e-5 of the largest entry) for
// fa_random, whose dense Conv2 product sums in another order. The local
// angles are then 0.
func TestFAFamilyWithBEqualWGivesBPGradients(t *testing.T) {
	const n = 3
	p := NewParams()
	p.InitPyTorch(5)
	x, y := testBatch(5, n)
	bp := NewModel(p, BP{}, n)
	bp.Forward(x, n)
	bp.Loss(y)
	bp.Backward()
	for _, name := range []string{"fa_random", "fa_toeplitz", "usf_init"} {
		t.Run(name, func(t *testing.T) {
			rule := newTestRule(t, name)
			if err := rule.(FeedbackTensors).SetFeedback(feedbackEqualW(p, name == "fa_random", 1)); err != nil {
				t.Fatal(err)
			}
			m := NewModel(p, rule, n)
			m.Metrics = true
			m.Forward(x, n)
			m.Loss(y)
			m.Backward()
			tol := 0.0
			if name == "fa_random" {
				tol = 1e-5
			}
			for i, ts := range m.Grad.Tensors() {
				want := bp.Grad.Tensors()[i].Data
				var scale float64
				for _, v := range want {
					scale = math.Max(scale, math.Abs(float64(v)))
				}
				for j, v := range ts.Data {
					if math.Abs(float64(v-want[j])) > tol*scale {
						t.Fatalf("%s[%d] = %v, bp %v", ts.Name, j, v, want[j])
					}
				}
			}
			for l := Conv2; l < NumLayers; l++ {
				if a := m.Step.Angle[l]; !(a < 1e-3) {
					t.Errorf("%s local angle %v, want 0", LayerNames[l], a)
				}
			}
		})
	}
}

// The local alignment angle and sign concordance equal a direct float64
// computation from the error δ at each layer's output (PreActivationGrad):
// per sample the angle between Wᵀδ and Bᵀδ, averaged; concordance counts
// sign(W) == sign(B0). Checked for fa_toeplitz (conv2 transposed conv) and
// fa_random (dense conv2, concordance NaN there), to 1e-6 degrees.
func TestStepMetricsMatchDirectComputation(t *testing.T) {
	const n = 2
	p := NewParams()
	p.InitPyTorch(6)
	x, y := testBatch(6, n)
	for _, name := range []string{"fa_toeplitz", "fa_random"} {
		t.Run(name, func(t *testing.T) {
			rule := newTestRule(t, name)
			fb := rule.(FeedbackTensors).Feedback()
			m := NewModel(p, rule, n)
			m.Metrics = true
			m.Forward(x, n)
			m.Loss(y)
			m.Backward()
			if !math.IsNaN(m.Step.Angle[Conv1]) || !math.IsNaN(m.Step.Concordance[Conv1]) {
				t.Errorf("conv1 metrics %v %v, want NaN", m.Step.Angle[Conv1], m.Step.Concordance[Conv1])
			}
			for l := Conv2; l < NumLayers; l++ {
				delta := to64(m.PreActivationGrad(l))
				w, b := to64(p.Weight(l)), to64(fb[l-1].Data)
				in, out := fanIn(l), fanOut(l)
				var wt, bt []float64
				switch {
				case l == Conv2:
					in, out = p1Out, c2Out
					wt, _, _ = convBackwardNaive(delta, make([]float64, n*p1Out), w, n, 64, 10, 10, 64, 5, 5)
					if name == "fa_toeplitz" {
						bt, _, _ = convBackwardNaive(delta, make([]float64, n*p1Out), b, n, 64, 10, 10, 64, 5, 5)
					} else {
						bt = denseTimes(delta, b, n, out, in)
					}
				default:
					wt, bt = denseTimes(delta, w, n, out, in), denseTimes(delta, b, n, out, in)
				}
				var sum float64
				for s := 0; s < n; s++ {
					a, c := wt[s*in:(s+1)*in], bt[s*in:(s+1)*in]
					sum += math.Acos(dot64(a, c)/math.Sqrt(dot64(a, a)*dot64(c, c))) * 180 / math.Pi
				}
				if want := sum / n; math.Abs(m.Step.Angle[l]-want) > 1e-6 {
					t.Errorf("%s angle %v, want %v", LayerNames[l], m.Step.Angle[l], want)
				}
				if l == Conv2 && name == "fa_random" {
					if !math.IsNaN(m.Step.Concordance[l]) {
						t.Errorf("dense conv2 concordance %v, want NaN", m.Step.Concordance[l])
					}
					continue
				}
				same := 0
				for i := range w {
					if (w[i] > 0) == (b[i] > 0) && (w[i] < 0) == (b[i] < 0) {
						same++
					}
				}
				if want := float64(same) / float64(len(w)); m.Step.Concordance[l] != want {
					t.Errorf("%s concordance %v, want %v", LayerNames[l], m.Step.Concordance[l], want)
				}
			}
		})
	}
}

// denseTimes returns delta (n,out) · b (out,in) in float64.
func denseTimes(delta, b []float64, n, out, in int) []float64 {
	r := make([]float64, n*in)
	for s := 0; s < n; s++ {
		for o := 0; o < out; o++ {
			d := delta[s*out+o]
			for i := 0; i < in; i++ {
				r[s*in+i] += d * b[o*in+i]
			}
		}
	}
	return r
}

// With Metrics off, Backward leaves Step alone.
func TestMetricsOffLeavesStepUntouched(t *testing.T) {
	p := NewParams()
	p.InitPyTorch(1)
	x, y := testBatch(1, 2)
	m := NewModel(p, newTestRule(t, "fa_toeplitz"), 2)
	m.Forward(x, 2)
	m.Loss(y)
	m.Backward()
	if m.Step != (StepMetrics{}) || m.mTrue != nil {
		t.Errorf("Step = %+v with Metrics off", m.Step)
	}
}

// UpdateAngles: under bp every layer's rule and bp gradients coincide (0°);
// under usf_sn fc3's gradient is bp's (0°) and the others are strictly
// between 0 and 90°; Grad, Step and PreActivationGrad are left bit-identical.
func TestUpdateAngles(t *testing.T) {
	const n = 2
	p := NewParams()
	p.InitPyTorch(8)
	x, y := testBatch(8, n)
	for _, name := range []string{"bp", "usf_sn"} {
		m := NewModel(p, newTestRule(t, name), n)
		m.Metrics = true
		m.Forward(x, n)
		m.Loss(y)
		m.Backward()
		grad := append([]float32(nil), m.Grad.Data...)
		step := m.Step
		d1 := append([]float32(nil), m.PreActivationGrad(Conv1)...)
		a := m.UpdateAngles()
		for l := 0; l < NumLayers; l++ {
			zero := name == "bp" || l == FC3
			if zero && !(a[l] < 1e-4) || !zero && !(a[l] > 1e-3 && a[l] < 90) {
				t.Errorf("%s %s: update angle %v", name, LayerNames[l], a[l])
			}
		}
		for i, v := range m.Grad.Data {
			if v != grad[i] {
				t.Fatalf("%s: Grad changed at %d", name, i)
			}
		}
		for i, v := range m.PreActivationGrad(Conv1) {
			if v != d1[i] {
				t.Fatalf("%s: PreActivationGrad(conv1) changed at %d", name, i)
			}
		}
		if !sameMetrics(m.Step, step) {
			t.Errorf("%s: Step changed: %+v -> %+v", name, step, m.Step)
		}
	}
}

func sameMetrics(a, b StepMetrics) bool {
	eq := func(x, y float64) bool { return x == y || math.IsNaN(x) && math.IsNaN(y) }
	for l := 0; l < NumLayers; l++ {
		if !eq(a.Angle[l], b.Angle[l]) || !eq(a.Concordance[l], b.Concordance[l]) {
			return false
		}
	}
	return true
}

// FeedbackStats: bp is 0° and ratio 1; usf_sn matches norms (ratio 1 to
// float32 rounding); fa_random with B0 = 2·T(W) (dense conv2) and
// fa_toeplitz with B0 = 2·W are 0° with ratio 2 — which checks the dense
// inner product without building T(W) in the code under test.
func TestFeedbackStats(t *testing.T) {
	p := NewParams()
	p.InitPyTorch(9)
	check := func(name string, r Rule, wantAngle, wantRatio, tol float64) {
		a, q := FeedbackStats(p, r)
		if !math.IsNaN(a[Conv1]) || !math.IsNaN(q[Conv1]) {
			t.Errorf("%s conv1: %v %v, want NaN", name, a[Conv1], q[Conv1])
		}
		for l := Conv2; l < NumLayers; l++ {
			if math.Abs(a[l]-wantAngle) > 1e-2 || math.Abs(q[l]-wantRatio) > tol {
				t.Errorf("%s %s: angle %v ratio %v, want %v %v", name, LayerNames[l], a[l], q[l], wantAngle, wantRatio)
			}
		}
	}
	check("bp", BP{}, 0, 1, 0)
	// usf_sn: B = c·sign(W), so cos = sum|w| / (‖W‖ sqrt(#nonzero)).
	a, q := FeedbackStats(p, USFSN{})
	for l := Conv2; l < NumLayers; l++ {
		var s1, s2 float64
		for _, v := range p.Weight(l) {
			s1 += math.Abs(float64(v))
			s2 += float64(v) * float64(v)
		}
		want := math.Acos(s1/math.Sqrt(s2*float64(len(p.Weight(l))))) * 180 / math.Pi
		if math.Abs(a[l]-want) > 1e-6 || math.Abs(q[l]-1) > 1e-6 {
			t.Errorf("usf_sn %s: angle %v ratio %v, want %v and 1", LayerNames[l], a[l], q[l], want)
		}
	}
	for _, name := range []string{"fa_random", "fa_toeplitz"} {
		r := newTestRule(t, name)
		if err := r.(FeedbackTensors).SetFeedback(feedbackEqualW(p, name == "fa_random", 2)); err != nil {
			t.Fatal(err)
		}
		check(name, r, 0, 2, 1e-5)
	}
}

// A sample whose Wᵀδ or Bᵀδ is all zero counts as 90°, as PyTorch's
// F.cosine_similarity (norms clamped at eps, cosine 0) counts it for the
// study's authors. Rows worked by hand: (1,0) against (1,1) is 45°; a zero
// row against anything is 90°; the mean of the two is 67.5°.
func TestLocalAngleCountsZeroVectorsAs90(t *testing.T) {
	a := []float32{1, 0, 0, 0}
	b := []float32{1, 1, 1, 0}
	if got := meanRowAngle(a, b, 2, 2); math.Abs(got-67.5) > 1e-12 {
		t.Errorf("mean angle %v, want 67.5", got)
	}
	// Whole network: with every fc2 unit dead (bias -1000), the error at
	// fc2's output is zero for every sample, so the local angles of fc2 and
	// of every layer below it are exactly 90° under fa_toeplitz, and fc3's
	// (whose error is the loss gradient) is not.
	const n = 2
	p := NewParams()
	p.InitPyTorch(6)
	for i := range p.Bias(FC2) {
		p.Bias(FC2)[i] = -1000
	}
	x, y := testBatch(6, n)
	m := NewModel(p, newTestRule(t, "fa_toeplitz"), n)
	m.Metrics = true
	m.Forward(x, n)
	m.Loss(y)
	m.Backward()
	for _, l := range []int{Conv2, FC1, FC2} {
		if m.Step.Angle[l] != 90 {
			t.Errorf("%s angle %v with a zero error, want 90", LayerNames[l], m.Step.Angle[l])
		}
	}
	if a := m.Step.Angle[FC3]; math.IsNaN(a) || a == 90 {
		t.Errorf("fc3 angle %v, want a measured angle", a)
	}
}

// bpInDisguise is bp under another type, so UpdateAngles cannot take its
// bp shortcut and runs both backward passes.
type bpInDisguise struct{ BP }

// TestUpdateAnglesBPShortcutGivesThePassesBits checks UpdateAngles' bp
// shortcut against the two backward passes it skips, bit for bit, on
// batches of 1 and 2 from three initialisations, and on batches of 16
// carried back from a zero error at the logits, where every gradient is
// zero (90°).
func TestUpdateAnglesBPShortcutGivesThePassesBits(t *testing.T) {
	for _, n := range []int{1, 2, 16} {
		for seed := uint64(1); seed <= 3; seed++ {
			p := NewParams()
			p.InitPyTorch(seed)
			x, y := testBatch(seed+40, n)
			var got, want [NumLayers]float64
			for i, rule := range []Rule{BP{}, bpInDisguise{}} {
				m := NewModel(p, rule, n)
				m.Forward(x, n)
				m.Loss(y)
				if n == 16 { // a zero error at the logits: every gradient is zero
					m.BackwardFromLogits(make([]float32, n*NumClasses))
				} else {
					m.Backward()
				}
				if i == 0 {
					got = m.UpdateAngles()
				} else {
					want = m.UpdateAngles()
				}
			}
			for l := range got {
				if math.Float64bits(got[l]) != math.Float64bits(want[l]) {
					t.Errorf("batch %d, seed %d, %s: the shortcut gives %v, the passes %v", n, seed, LayerNames[l], got[l], want[l])
				}
			}
			for l := range got {
				if n == 16 && got[l] != 90 {
					t.Errorf("batch 16, seed %d: a zero %s gradient gives %v, want 90", seed, LayerNames[l], got[l])
				}
			}
		}
	}
}

// TestUpdateAnglesLeavesTheRulesPassAlone checks, for every rule, that
// UpdateAngles gives the angle between the rule's gradient and a separate
// bp model's, bit for bit (the same sums in the same order), twice in a
// row, and leaves Grad, Step and every layer's PreActivationGrad exactly
// as the rule's Backward left them — conv1's whether or not it had been
// laid out before the call.
func TestUpdateAnglesLeavesTheRulesPassAlone(t *testing.T) {
	const n = 3
	p := NewParams()
	p.InitPyTorch(9)
	x, y := testBatch(9, n)
	ref := NewModel(p, BP{}, n)
	ref.Forward(x, n)
	ref.Loss(y)
	ref.Backward()
	for k, name := range RuleNames() {
		m := NewModel(p, newTestRule(t, name), n)
		m.Metrics = true
		m.Forward(x, n)
		m.Loss(y)
		m.Backward()
		if k%2 == 0 {
			m.PreActivationGrad(Conv1) // laid out before the call
		}
		grad, step := append([]float32(nil), m.Grad.Data...), m.Step
		var errs [NumLayers][]float32
		for l := range errs {
			errs[l] = append([]float32(nil), m.PreActivationGrad(l)...)
		}
		if k%2 != 0 {
			m.dConv1Ready = false // not laid out before the call
		}
		var want [NumLayers]float64
		for l := range want {
			var ab, aa, bb float64
			for _, pair := range [2][2][]float32{{m.Grad.w[l], ref.Grad.w[l]}, {m.Grad.b[l], ref.Grad.b[l]}} {
				for i, v := range pair[0] {
					u := float64(pair[1][i])
					ab += float64(v) * u
					aa += float64(v) * float64(v)
					bb += u * u
				}
			}
			want[l] = cosToDeg(ab, aa, bb)
		}
		for call := 1; call <= 2; call++ {
			got := m.UpdateAngles()
			for l := range got {
				if math.Float64bits(got[l]) != math.Float64bits(want[l]) {
					t.Errorf("%s, call %d, %s: update angle %v, from a bp model %v", name, call, LayerNames[l], got[l], want[l])
				}
			}
		}
		for i, v := range m.Grad.Data {
			if math.Float32bits(v) != math.Float32bits(grad[i]) {
				t.Fatalf("%s: Grad changed at %d", name, i)
			}
		}
		if !sameMetrics(m.Step, step) {
			t.Errorf("%s: Step changed: %+v -> %+v", name, step, m.Step)
		}
		for l := range errs {
			for i, v := range m.PreActivationGrad(l) {
				if math.Float32bits(v) != math.Float32bits(errs[l][i]) {
					t.Fatalf("%s: PreActivationGrad(%s) changed at %d: %v -> %v", name, LayerNames[l], i, errs[l][i], v)
				}
			}
		}
	}
}
