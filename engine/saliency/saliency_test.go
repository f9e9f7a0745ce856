package saliency

import (
	"math"
	"reflect"
	"testing"

	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/engine/rng"
)

const imgSize = nn.InputC * nn.InputH * nn.InputW

// handNet builds the tiny hand-built network of this test file. Every weight
// is zero except the few below; all are exact in float32, so every forward
// value is an exact dyadic rational and the expected answers hold to
// rounding of the final float64 divisions only. Convolutions use only the
// centre tap (2,2) of their 5×5 kernel, so conv(y,x) reads input (y+2,x+2).
//
//	conv1 ch0 = in0              (input channel 0, constant u per image)
//	conv1 ch1 = 0.5              (bias only)
//	conv1 ch2 = in1              (input channel 1 is the ramp r·x)
//	conv2 ch0 =  relu(conv1 ch0) after pool = u⁺
//	conv2 ch1 = −u⁺              (dead after ReLU)
//	conv2 ch2 =  0.5             (from conv1 ch1)
//	conv2 ch3 =  pooled ramp     r(2w+7) at (h,w), w = 0..5, spatial mean 12r
//	fc1 u0 = 0.125 Σ pool2 ch0 − 0.125 Σ pool2 ch1 = 1.125 u⁺
//	fc1 u1 = 0.125 Σ pool2 ch2 = 0.5625
//	fc1 u2 = pool2 ch3 at (0,0) = r·(4·0+9) = 9r
//	fc2 k  = fc1 k (k = 0,1,2)
//	logit0 = 2 fc2_0 − 0.125 fc2_2 = 2.25u⁺ − 1.125r
//	logit1 = fc2_1 = 0.5625;  logits 2..9 = −1 (bias)
//
// The pooled ramp: conv1 ch2(y,x) = r(x+2); pool1 (Y,X) = max over x ∈
// {2X,2X+1} = r(2X+3); conv2 ch3 (h,w) = pool1(h+2,w+2) = r(2w+7);
// pool2 (H,W) = r(4W+9), so pool2 ch3 at (0,0) = 9r and the argmax of that
// window is conv2 position (0,1).
func handNet() *nn.Params {
	p := nn.NewParams()
	conv := func(l, oc, c int, v float32) {
		cin := []int{3, 64}[l]
		p.Weight(l)[((oc*cin+c)*5+2)*5+2] = v
	}
	conv(nn.Conv1, 0, 0, 1)
	p.Bias(nn.Conv1)[1] = 0.5
	conv(nn.Conv1, 2, 1, 1)
	conv(nn.Conv2, 0, 0, 1)
	conv(nn.Conv2, 1, 0, -1)
	conv(nn.Conv2, 2, 1, 1)
	conv(nn.Conv2, 3, 2, 1)
	fc1 := p.Weight(nn.FC1) // (384,576), input index c*9 + H*3 + W
	for k := 0; k < 9; k++ {
		fc1[0*576+0*9+k] = 0.125
		fc1[0*576+1*9+k] = -0.125
		fc1[1*576+2*9+k] = 0.125
	}
	fc1[2*576+3*9+0] = 1
	fc2 := p.Weight(nn.FC2) // (192,384)
	for k := 0; k < 3; k++ {
		fc2[k*384+k] = 1
	}
	fc3 := p.Weight(nn.FC3) // (10,192)
	fc3[0*192+0] = 2
	fc3[0*192+2] = -0.125
	fc3[1*192+1] = 1
	for k := 2; k < 10; k++ {
		p.Bias(nn.FC3)[k] = -1
	}
	return p
}

// handImage returns an input whose channel 0 is the constant u, channel 1
// the ramp r·x, and channel 2 noise (it has no weights, so it must not
// matter).
func handImage(u, r float32, noise *rng.Stream) []float32 {
	x := make([]float32, imgSize)
	for y := 0; y < 24; y++ {
		for c := 0; c < 24; c++ {
			x[0*576+y*24+c] = u
			x[1*576+y*24+c] = r * float32(c)
			x[2*576+y*24+c] = noise.Normal32(1)
		}
	}
	return x
}

// handImages are the test images: A (u=1, r=1) predicts class 0
// (logit0 = 2.25 − 1.125 = 1.125 > 0.5625); B (u=0.5, r=1) predicts 1
// (logit0 = 0); C (u=−1, r=0.5) predicts 1 (logit0 = −0.5625); D (u=2, r=2)
// predicts 0 (logit0 = 2.25) and is labelled 3, not the analysed class.
func handImages() (x []float32, labels []uint8) {
	noise := rng.New(1, "saliency-test/noise")
	for _, im := range []struct{ u, r float32 }{{1, 1}, {0.5, 1}, {-1, 0.5}, {2, 2}} {
		x = append(x, handImage(im.u, im.r, noise)...)
	}
	return x, []uint8{5, 5, 5, 3}
}

func near(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}

func checkVec(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: len %d, want %d", what, len(got), len(want))
	}
	for i := range want {
		if !near(got[i], want[i], tol) {
			t.Errorf("%s[%d] = %.17g, want %.17g", what, i, got[i], want[i])
		}
	}
}

// TestStatsHandNetMatchesWorkedValues checks every per-image spatial
// mean of activation and gradient, for conv2 and conv1, against the values
// worked out in handNet's comment.
func TestStatsHandNetMatchesWorkedValues(t *testing.T) {
	x, _ := handImages()
	x = x[:3*imgSize] // A, B, C
	for _, batch := range []int{1, 2, 3, 128} {
		st := Stats(handNet(), x, 3, batch, []int{nn.Conv2, nn.Conv1})
		if !reflect.DeepEqual(st[0].Pred, []int{0, 1, 1}) || !reflect.DeepEqual(st[1].Pred, []int{0, 1, 1}) {
			t.Fatalf("batch %d: predictions %v, want [0 1 1]", batch, st[0].Pred)
		}
		// conv2 activations: ch0 = u⁺, ch1 = −u⁺, ch2 = 0.5, ch3 = 12r.
		act2 := make([]float64, 3*64)
		for i, v := range [][4]float64{{1, -1, 0.5, 12}, {0.5, -0.5, 0.5, 12}, {0, 0, 0.5, 6}} {
			copy(act2[i*64:], v[:])
		}
		// conv2 gradients, sum over positions / 36:
		// A (class 0): ch0 gets 2 · 0.125 at one argmax per pool window,
		// 9 windows: 2.25/36; ch1 is dead (pre-act < 0): 0; ch3 gets
		// −0.125 at its single argmax (0,1): −0.125/36.
		// B, C (class 1): ch2 gets 0.125 at 9 positions: 1.125/36.
		grad2 := make([]float64, 3*64)
		grad2[0*64+0] = 2.25 / 36
		grad2[0*64+3] = -0.125 / 36
		grad2[1*64+2] = 1.125 / 36
		grad2[2*64+2] = 1.125 / 36
		checkVec(t, "conv2 Act", st[0].Act, act2, 1e-12)
		checkVec(t, "conv2 Grad", st[0].Grad, grad2, 1e-12)
		// conv1 activations: ch0 = u, ch1 = 0.5, ch2 = r·mean(x+2, x=0..19) = 11.5r.
		act1 := make([]float64, 3*64)
		for i, v := range [][3]float64{{1, 0.5, 11.5}, {0.5, 0.5, 11.5}, {-1, 0.5, 5.75}} {
			copy(act1[i*64:], v[:])
		}
		// conv1 gradients: the centre taps carry conv2's gradient to
		// distinct pool1 positions and each pool1 window to one conv1
		// position, so the sums carry over and the mean is over 400:
		// A: ch0 2.25/400, ch2 −0.125/400; B: ch1 1.125/400; C: ch1
		// 1.125/400 (C's ch0 is −1, dead, but it has no gradient anyway).
		grad1 := make([]float64, 3*64)
		grad1[0*64+0] = 2.25 / 400
		grad1[0*64+2] = -0.125 / 400
		grad1[1*64+1] = 1.125 / 400
		grad1[2*64+1] = 1.125 / 400
		checkVec(t, "conv1 Act", st[1].Act, act1, 1e-12)
		checkVec(t, "conv1 Grad", st[1].Grad, grad1, 1e-12)
	}
}

// TestChannelImportanceHandNet checks the averaged importance of every
// channel: |grad · act| per image (A, B, C), mean over the three.
func TestChannelImportanceHandNet(t *testing.T) {
	x, _ := handImages()
	x = x[:3*imgSize]
	p := handNet()
	want2 := make([]float64, 64)
	want2[0] = (2.25 / 36 * 1) / 3               // A only
	want2[2] = (1.125/36*0.5 + 1.125/36*0.5) / 3 // B and C
	want2[3] = (0.125 / 36 * 12) / 3             // A only
	checkVec(t, "conv2 importance", ChannelImportance(p, x, 3, 2, nn.Conv2), want2, 1e-12)
	want1 := make([]float64, 64)
	want1[0] = (2.25 / 400 * 1) / 3
	want1[1] = (1.125/400*0.5 + 1.125/400*0.5) / 3
	want1[2] = (0.125 / 400 * 11.5) / 3
	checkVec(t, "conv1 importance", ChannelImportance(p, x, 3, 2, nn.Conv1), want1, 1e-12)
}

// TestAnalyzeHandNet runs the whole analysis on A, B, C (class 5) and D
// (class 3): D must not change importance but is a candidate exemplar.
func TestAnalyzeHandNet(t *testing.T) {
	x, y := handImages()
	o := Options{Layers: []int{nn.Conv2, nn.Conv1}, TopChannels: 4, Exemplars: 2, Batch: 3, Class: 5}
	res, err := Analyze(handNet(), x, y, o)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Layers) != 2 || res.Layers[0].Layer != "conv2" || res.Layers[1].Layer != "conv1" {
		t.Fatalf("layers %+v", res.Layers)
	}
	type top struct {
		ch  int
		imp float64
		ex  []int
		act []float64
	}
	// Importances from TestChannelImportanceHandNet. Order conv2:
	// ch0 (0.0208), ch3 (0.0139), ch2 (0.0104), then ch1 — the first of the
	// 61 channels tied at 0 (ties go to the lower index).
	// Exemplars (spatial-mean activations over A, B, C, D):
	// conv2 ch0: 1, .5, 0, 2 → D, A; ch3: 12, 12, 6, 24 → D, A (A before
	// B by index); ch2: 0.5 everywhere → A, B; ch1: −1, −.5, 0, −2 → C, B.
	want := [][]top{
		{
			{0, 2.25 / 36 / 3, []int{3, 0}, []float64{2, 1}},
			{3, 0.125 * 12 / 36 / 3, []int{3, 0}, []float64{24, 12}},
			{2, 1.125 / 36 / 3, []int{0, 1}, []float64{0.5, 0.5}},
			{1, 0, []int{2, 1}, []float64{0, -0.5}},
		},
		// conv1: ch0 (2.25/400/3), ch2 (1.4375/400/3), ch1 (1.125/400/3),
		// then ch3 (0; its activation is 0 for every image → A, B).
		// ch0: 1, .5, −1, 2; ch2: 11.5, 11.5, 5.75, 23; ch1: 0.5 each.
		{
			{0, 2.25 / 400 / 3, []int{3, 0}, []float64{2, 1}},
			{2, 0.125 * 11.5 / 400 / 3, []int{3, 0}, []float64{23, 11.5}},
			{1, 1.125 / 400 / 3, []int{0, 1}, []float64{0.5, 0.5}},
			{3, 0, []int{0, 1}, []float64{0, 0}},
		},
	}
	for li, lc := range res.Layers {
		if len(lc.Importance) != 64 {
			t.Fatalf("%s: %d importances, want 64", lc.Layer, len(lc.Importance))
		}
		if len(lc.Top) != len(want[li]) {
			t.Fatalf("%s: %d top channels, want %d", lc.Layer, len(lc.Top), len(want[li]))
		}
		for k, w := range want[li] {
			g := lc.Top[k]
			if g.Channel != w.ch || !near(g.Importance, w.imp, 1e-12) || !reflect.DeepEqual(g.Exemplars, w.ex) {
				t.Errorf("%s top %d = channel %d imp %.17g ex %v; want channel %d imp %.17g ex %v",
					lc.Layer, k, g.Channel, g.Importance, g.Exemplars, w.ch, w.imp, w.ex)
			}
			checkVec(t, lc.Layer+" exemplar activation", g.Activation, w.act, 1e-12)
			if g.Importance != lc.Importance[g.Channel] {
				t.Errorf("%s top %d importance %g differs from Importance[%d] = %g", lc.Layer, k, g.Importance, g.Channel, lc.Importance[g.Channel])
			}
		}
	}
}

// ref64 is an independent float64 re-derivation of Architecture 1's
// forward pass by direct loops, able to start from a given pre-activation.
type ref64 struct{ w, b [nn.NumLayers][]float64 }

func newRef64(p *nn.Params) *ref64 {
	r := &ref64{}
	for l := 0; l < nn.NumLayers; l++ {
		for _, v := range p.Weight(l) {
			r.w[l] = append(r.w[l], float64(v))
		}
		for _, v := range p.Bias(l) {
			r.b[l] = append(r.b[l], float64(v))
		}
	}
	return r
}

// conv is a valid 5×5 convolution of in (c,h,w) with layer l: (64,h-4,w-4).
func (r *ref64) conv(l int, in []float64, c, h, w int) []float64 {
	oh, ow := h-4, w-4
	out := make([]float64, 64*oh*ow)
	for o := 0; o < 64; o++ {
		for y := 0; y < oh; y++ {
			for x := 0; x < ow; x++ {
				s := r.b[l][o]
				for ci := 0; ci < c; ci++ {
					for ky := 0; ky < 5; ky++ {
						for kx := 0; kx < 5; kx++ {
							s += r.w[l][((o*c+ci)*5+ky)*5+kx] * in[(ci*h+y+ky)*w+x+kx]
						}
					}
				}
				out[(o*oh+y)*ow+x] = s
			}
		}
	}
	return out
}

// reluPool is ReLU then a 2×2 stride-2 max-pool of (64,h,w).
func reluPool(in []float64, h, w int) []float64 {
	out := make([]float64, 64*(h/2)*(w/2))
	for c := 0; c < 64; c++ {
		for y := 0; y < h/2; y++ {
			for x := 0; x < w/2; x++ {
				m := 0.0 // max(relu(v)) = max(0, max v)
				for d := 0; d < 4; d++ {
					m = math.Max(m, in[(c*h+2*y+d/2)*w+2*x+d%2])
				}
				out[(c*(h/2)+y)*(w/2)+x] = m
			}
		}
	}
	return out
}

func (r *ref64) linear(l int, in []float64, relu bool) []float64 {
	nout := len(r.b[l])
	out := make([]float64, nout)
	for o := range out {
		s := r.b[l][o]
		for i, v := range in {
			if relu {
				v = math.Max(v, 0)
			}
			s += r.w[l][o*len(in)+i] * v
		}
		out[o] = s
	}
	return out
}

// pre1 is conv1's pre-activation of image x (3,24,24).
func (r *ref64) pre1(x []float32) []float64 {
	in := make([]float64, len(x))
	for i, v := range x {
		in[i] = float64(v)
	}
	return r.conv(nn.Conv1, in, 3, 24, 24)
}

// logitsFrom runs the network from layer l's pre-activation (conv1 or conv2).
func (r *ref64) logitsFrom(l int, pre []float64) []float64 {
	if l == nn.Conv1 {
		pre = r.conv(nn.Conv2, reluPool(pre, 20, 20), 64, 10, 10)
	}
	f1 := r.linear(nn.FC1, reluPool(pre, 6, 6), false)
	f2 := r.linear(nn.FC2, f1, true)
	return r.linear(nn.FC3, f2, true)
}

// TestStatsMatchFloat64FiniteDifferences checks Stats on a random network
// against the float64 reference: Act against the reference's spatial means,
// and Grad against central differences of the predicted logit when every
// position of channel c of the pre-activation is shifted by ±h:
//
//	d z / d t  z(a + t·1_c) at t = 0  =  Σ_{h,w} ∂z/∂a[c,h,w]  =  Spatial · Grad[i,c]
//
// The network is piecewise linear, so in float64 with h = 1e-7 the central
// difference is exact up to rounding (about 1e-16/1e-7 = 1e-9) unless a
// ReLU or max-pool kink lies within ±h (odds about 1e-4 per check). The
// tolerance 1e-5 + 1e-4·|g| covers Stats computing in float32 (relative
// error about 1e-6 on gradients of 1e-4..1e-1).
func TestStatsMatchFloat64FiniteDifferences(t *testing.T) {
	p := nn.NewParams()
	p.InitPyTorch(7)
	r := rng.New(3, "saliency-test/fd")
	const n = 2
	x := make([]float32, n*imgSize)
	r.FillNormal(x, 1)
	st := Stats(p, x, n, n, []int{nn.Conv2, nn.Conv1})
	ref := newRef64(p)
	const h = 1e-7
	for i := 0; i < n; i++ {
		a1 := ref.pre1(x[i*imgSize : (i+1)*imgSize])
		a2 := ref.conv(nn.Conv2, reluPool(a1, 20, 20), 64, 10, 10)
		for _, s := range st {
			pre, sp := a2, 36
			if s.Layer == nn.Conv1 {
				pre, sp = a1, 400
			}
			if z := ref.logitsFrom(s.Layer, pre); TopK(z, 1)[0] != s.Pred[i] {
				t.Fatalf("image %d: Stats predicts %d, reference logits %v", i, s.Pred[i], z)
			}
			k := s.Pred[i]
			for c := 0; c < 64; c++ {
				if s.Layer == nn.Conv1 && c%2 != i%2 {
					continue // conv1 is slow in the reference: half the channels per image, all over the two
				}
				var mean float64
				shift := func(d float64) float64 {
					q := append([]float64(nil), pre...)
					for j := c * sp; j < (c+1)*sp; j++ {
						q[j] += d
					}
					return ref.logitsFrom(s.Layer, q)[k]
				}
				for _, v := range pre[c*sp : (c+1)*sp] {
					mean += v
				}
				mean /= float64(sp)
				if got := s.Act[i*64+c]; math.Abs(got-mean) > 1e-5 {
					t.Errorf("%s image %d channel %d: Act = %.8g, reference %.8g", nn.LayerNames[s.Layer], i, c, got, mean)
				}
				fd := (shift(h) - shift(-h)) / (2 * h)
				got := s.Grad[i*64+c] * float64(sp)
				if math.Abs(got-fd) > 1e-5+1e-4*math.Abs(fd) {
					t.Errorf("%s image %d channel %d: Σ grad = %.8g, finite difference %.8g", nn.LayerNames[s.Layer], i, c, got, fd)
				}
			}
		}
	}
}

func TestTopKOrdersDescendingWithLowerIndexOnTies(t *testing.T) {
	nan := math.NaN()
	for _, tc := range []struct {
		v    []float64
		k    int
		want []int
	}{
		{[]float64{1, 3, 2}, 3, []int{1, 2, 0}},
		{[]float64{1, 3, 2}, 1, []int{1}},
		{[]float64{2, 2, 2}, 2, []int{0, 1}},
		{[]float64{0, 5, 5, 1, 5}, 4, []int{1, 2, 4, 3}},
		{[]float64{nan, 1, nan, -1}, 4, []int{1, 3, 0, 2}},
		{[]float64{1, 2}, 5, []int{1, 0}},
		{nil, 3, []int{}},
	} {
		if got := TopK(tc.v, tc.k); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("TopK(%v, %d) = %v, want %v", tc.v, tc.k, got, tc.want)
		}
	}
}

func TestTopActivatingHandNet(t *testing.T) {
	x, _ := handImages()
	idx, act := TopActivating(handNet(), x, 4, 3, nn.Conv2, 3, 3)
	// conv2 ch3 means 12, 12, 6, 24 (see handNet).
	if !reflect.DeepEqual(idx, []int{3, 0, 1}) || !reflect.DeepEqual(act, []float64{24, 12, 12}) {
		t.Errorf("TopActivating = %v %v, want [3 0 1] [24 12 12]", idx, act)
	}
}

func TestAnalyzeErrors(t *testing.T) {
	x, y := handImages()
	good := DefaultOptions()
	for _, tc := range []struct {
		name string
		o    func(o *Options)
		y    []uint8
	}{
		{"no layers", func(o *Options) { o.Layers = nil }, y},
		{"bad layer", func(o *Options) { o.Layers = []int{9} }, y},
		{"no top channels", func(o *Options) { o.TopChannels = 0 }, y},
		{"no exemplars", func(o *Options) { o.Exemplars = 0 }, y},
		{"bad batch", func(o *Options) { o.Batch = 0 }, y},
		{"bad class", func(o *Options) { o.Class = 10 }, y},
		{"class absent", func(o *Options) { o.Class = 7 }, y},
	} {
		o := good
		tc.o(&o)
		if _, err := Analyze(handNet(), x, tc.y, o); err == nil {
			t.Errorf("%s: Analyze returned no error", tc.name)
		} else {
			t.Logf("%s: %v", tc.name, err)
		}
	}
}
