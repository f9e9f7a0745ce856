package nn

import (
	"math"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

// naiveSumSq is Σ x² in float64, one element after another.
func naiveSumSq(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return s
}

func relClose(got, want, tol float64) bool {
	return math.Abs(got-want) <= tol*math.Max(math.Abs(want), 1e-300)
}

func TestWeightRangeIsTheWeightsViewOfData(t *testing.T) {
	p := NewParams()
	total := 0
	for l := 0; l < NumLayers; l++ {
		lo, hi := WeightRange(l)
		w := p.Weight(l)
		if hi-lo != len(w) || unsafe.SliceData(w) != &p.Data[lo] {
			t.Errorf("%s: WeightRange = [%d,%d), but its weight is %d values elsewhere in Data", LayerNames[l], lo, hi, len(w))
		}
		total += hi - lo
	}
	// Every parameter is a weight or a bias: 404,746 minus the 714 biases.
	if want := NumParams - (64 + 64 + 384 + 192 + 10); total != want {
		t.Errorf("weights cover %d values, want %d", total, want)
	}
}

// The sums are over the tensors PreActivationGrad and Grad.Weight return
// (checked by a naive loop), conv1's included before and after it is laid
// out; fc3's error is (softmax − one-hot)/n, computed here from the logits.
func TestSignalSumsAreOverTheErrorAndTheWeightGradient(t *testing.T) {
	const n = 3
	x, y := testBatch(11, n)
	for _, name := range RuleNames() {
		p := NewParams()
		p.InitPyTorch(5)
		m := NewModel(p, newTestRule(t, name), n)
		m.Forward(x, n)
		m.Loss(y)
		m.Backward()
		before, cnt := m.PreActivationGradSumSq(Conv1)
		for l := 0; l < NumLayers; l++ {
			e := m.PreActivationGrad(l)
			got, k := m.PreActivationGradSumSq(l)
			if want := naiveSumSq(e); !relClose(got, want, 1e-12) || k != len(e) || !(want > 0) {
				t.Errorf("%s %s: error sum of squares %v over %d, want %v over %d", name, LayerNames[l], got, k, want, len(e))
			}
			g := m.Grad.Weight(l)
			got, k = m.WeightGradSumSq(l)
			if want := naiveSumSq(g); !relClose(got, want, 1e-12) || k != len(g) {
				t.Errorf("%s %s: weight-gradient sum of squares %v over %d, want %v over %d", name, LayerNames[l], got, k, want, len(g))
			}
		}
		if after, _ := m.PreActivationGradSumSq(Conv1); !relClose(before, after, 1e-12) || cnt != n*64*20*20 {
			t.Errorf("%s: conv1 sum %v over %d before layout, %v after", name, before, cnt, after)
		}
		var want float64
		for s := 0; s < n; s++ {
			z := m.Logits[s*NumClasses : (s+1)*NumClasses]
			var mx, sum float64 = math.Inf(-1), 0
			for _, v := range z {
				mx = math.Max(mx, float64(v))
			}
			for _, v := range z {
				sum += math.Exp(float64(v) - mx)
			}
			for c, v := range z {
				d := math.Exp(float64(v)-mx) / sum
				if c == int(y[s]) {
					d--
				}
				d /= n
				want += d * d
			}
		}
		if got, _ := m.PreActivationGradSumSq(FC3); !relClose(got, want, 1e-5) {
			t.Errorf("%s: fc3 error sum of squares %v, want Σ((softmax − one-hot)/n)² = %v", name, got, want)
		}
	}
}

// Step 1 from zero moments without weight decay: m̂ = g and √v̂ = |g|, so
// u = g/(|g| + ε): 1e-8 → 0.5, -3e-8 → -0.75, 0 → 0, 2 → ≈1.
func TestAdamUpdateSumSqAtTheFirstStepIsClosedForm(t *testing.T) {
	grads := []float32{1e-8, -3e-8, 0, 2, 7}
	a := NewAdam(len(grads), 1e-3, 0)
	params := make([]float32, len(grads))
	a.Update(params, grads)
	want := []float64{0.25, 0.5625, 0, 1, 1}
	for i := range grads {
		if got := a.UpdateSumSq(i, i+1); !relClose(got, want[i], 1e-6) && !(want[i] == 0 && got == 0) {
			t.Errorf("element %d (g = %g): u² = %v, want %v", i, grads[i], got, want[i])
		}
	}
	if got := a.UpdateSumSq(0, len(grads)); !relClose(got, 0.25+0.5625+1+1, 1e-6) {
		t.Errorf("sum over all = %v, want 2.8125", got)
	}
	// The parameters started at 0, so each moved by exactly the update the
	// kernel computed: -LR·u up to float32 rounding.
	for i, p := range params {
		u := -float64(p) / a.LR
		if got := a.UpdateSumSq(i, i+1); !relClose(got, u*u, 1e-5) && !(got == 0 && u == 0) {
			t.Errorf("element %d: u² = %v from the state, %v from the step applied", i, got, u*u)
		}
	}
}

// After three steps with weight decay the sum follows the textbook
// formulas, run here in float64 from the gradients alone.
func TestAdamUpdateSumSqFollowsTheMomentsOverSteps(t *testing.T) {
	steps := [][]float32{{0.5, -1e-3, 2e-9}, {0.25, 4e-3, -1e-9}, {-0.75, 1e-3, 3e-9}}
	const lr, wd = 1e-2, 1e-3
	a := NewAdam(3, lr, wd)
	params := []float32{0.1, -0.2, 0.3}
	theta := []float64{0.1, -0.2, 0.3}
	m, v := make([]float64, 3), make([]float64, 3)
	var want float64
	for t1, g := range steps {
		a.Update(params, g)
		step := float64(t1 + 1)
		want = 0
		for i := range g {
			gi := float64(g[i]) + wd*theta[i]
			m[i] = 0.9*m[i] + 0.1*gi
			v[i] = 0.999*v[i] + 0.001*gi*gi
			mh := m[i] / (1 - math.Pow(0.9, step))
			vh := v[i] / (1 - math.Pow(0.999, step))
			u := mh / (math.Sqrt(vh) + 1e-8)
			theta[i] -= lr * u
			want += u * u
		}
	}
	if got := a.UpdateSumSq(0, 3); !relClose(got, want, 1e-5) {
		t.Errorf("after 3 steps Σu² = %v, want %v", got, want)
	}
	if got, whole := a.UpdateSumSq(1, 3)+a.UpdateSumSq(0, 1), a.UpdateSumSq(0, 3); !relClose(got, whole, 1e-12) {
		t.Errorf("sums over [0,1) and [1,3) add to %v, not the whole %v", got, whole)
	}
}

func TestSignalSumsPanicBeforeTheirInput(t *testing.T) {
	mustPanic := func(name string, f func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		f()
	}
	m := NewModel(NewParams(), newTestRule(t, Reference), 1)
	mustPanic("PreActivationGradSumSq before Backward", func() { m.PreActivationGradSumSq(FC1) })
	mustPanic("WeightGradSumSq before Backward", func() { m.WeightGradSumSq(FC1) })
	a := NewAdam(4, 1e-3, 0)
	mustPanic("UpdateSumSq before a step", func() { a.UpdateSumSq(0, 4) })
	a.Update(make([]float32, 4), make([]float32, 4))
	mustPanic("UpdateSumSq past the state", func() { a.UpdateSumSq(0, 5) })
	mustPanic("WeightRange(5)", func() { WeightRange(NumLayers) })
}

// TestSignalSumsInParallelAreTheSerialSums checks SignalSums against the
// fifteen serial calls, bit for bit, at one, two and three threads, after
// a step of a batch of 128 (so every sum is large enough to be split if
// SignalSums split sums), for bp and fa_random.
func TestSignalSumsInParallelAreTheSerialSums(t *testing.T) {
	const n = 128
	x, y := testBatch(13, n)
	for _, name := range []string{"bp", "fa_random"} {
		p := NewParams()
		p.InitPyTorch(6)
		m := NewModel(p, newTestRule(t, name), n)
		opt := NewAdam(NumParams, 1e-3, 1e-4)
		m.Forward(x, n)
		m.Loss(y)
		m.Backward()
		opt.Update(p.Data, m.Grad.Data)
		var want StepSignal
		for l := 0; l < NumLayers; l++ {
			want.ErrSq[l], want.ErrN[l] = m.PreActivationGradSumSq(l)
			want.GradSq[l], want.GradN[l] = m.WeightGradSumSq(l)
			lo, hi := WeightRange(l)
			want.UpdSq[l], want.UpdN[l] = opt.UpdateSumSq(lo, hi), hi-lo
		}
		for _, procs := range []int{1, 2, 3} {
			prev := runtime.GOMAXPROCS(procs)
			got := m.SignalSums(opt)
			runtime.GOMAXPROCS(prev)
			for l := 0; l < NumLayers; l++ {
				for _, c := range []struct {
					what      string
					got, want float64
					gn, wn    int
				}{
					{"error", got.ErrSq[l], want.ErrSq[l], got.ErrN[l], want.ErrN[l]},
					{"gradient", got.GradSq[l], want.GradSq[l], got.GradN[l], want.GradN[l]},
					{"update", got.UpdSq[l], want.UpdSq[l], got.UpdN[l], want.UpdN[l]},
				} {
					if math.Float64bits(c.got) != math.Float64bits(c.want) || c.gn != c.wn || c.want == 0 {
						t.Errorf("%s, %d threads, %s %s: %v over %d, the serial sum %v over %d", name, procs, LayerNames[l], c.what, c.got, c.gn, c.want, c.wn)
					}
				}
			}
		}
	}
}

func TestSignalSumsPanicsTooEarly(t *testing.T) {
	m := NewModel(NewParams(), BP{}, 2)
	check := func(name, msg string) {
		defer func() {
			if s, _ := recover().(string); !strings.Contains(s, msg) {
				t.Errorf("%s: panic %q, want one containing %q", name, s, msg)
			}
		}()
		m.SignalSums(NewAdam(NumParams, 1e-3, 0))
	}
	check("before Backward", "before Backward")
	x, y := testBatch(3, 2)
	m.Forward(x, 2)
	m.Loss(y)
	m.Backward()
	check("before Adam's first step", "before Adam's first step")
}
