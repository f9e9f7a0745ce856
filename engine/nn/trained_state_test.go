package nn

import (
	"math"
	"testing"
	"unsafe"

	"github.com/fabeam/fabeam/engine/rng"
)

// TrainedState turns p and opt into a state like that of a long training
// run, for benchmarks and tests that must see what a whole run does, not
// only its first step. Measured on a bp checkpoint after 20 epochs of real
// CIFAR-10 (step 7,040): 16% of fc1's and fc2's weights and 3% of conv2's
// were subnormal, and as many of Adam's first moments. Here: one unit in six
// of fc1 and fc2 is dead (bias -1, so ReLU passes no gradient back to its
// weights) and its weights are ±2^-e, e uniform in [100, 140) (tiny normal
// numbers whose products underflow, and subnormals); 3% of conv2's weights
// are set the same way; those weights' first moments are subnormal and
// their second moments 1e-12; Adam's step count is 7,040.
func TrainedState(p *Params, opt *Adam, seed uint64) {
	r := rng.New(seed, "trained state")
	tiny := func() float32 {
		e := 100 + r.IntN(40)
		v := float32(math.Ldexp(1, -e))
		if r.IntN(2) == 0 {
			v = -v
		}
		return v
	}
	base := func(w []float32) int { // offset of w in p.Data
		return int((uintptr(unsafe.Pointer(&w[0])) - uintptr(unsafe.Pointer(&p.Data[0]))) / 4)
	}
	mark := func(w []float32, i int) {
		w[i] = tiny()
		j := base(w) + i
		opt.M[j] = float32(math.Ldexp(1, -130))
		opt.V[j] = 1e-12
	}
	for _, l := range []int{FC1, FC2} {
		w, bias := p.Weight(l), p.Bias(l)
		in := len(w) / len(bias)
		for o := range bias {
			if o%6 != 0 {
				continue
			}
			bias[o] = -1
			for i := 0; i < in; i++ {
				mark(w, o*in+i)
			}
		}
	}
	w := p.Weight(Conv2)
	for i := range w {
		if r.IntN(100) < 3 {
			mark(w, i)
		}
	}
	opt.T = 7040
}

// A step from a trained state, on both Adam paths and every rule, leaves
// no subnormal weight or moment behind: the flush happens.
func TestTrainingFromATrainedStateLeavesNoSubnormals(t *testing.T) {
	const batch = 16
	x, y := testBatch(3, batch)
	for _, name := range []string{"bp", "fa_toeplitz", "usf_sn"} {
		for _, kernel := range []bool{true, false} {
			setAdamKernel(t, kernel)
			p := NewParams()
			p.InitPyTorch(42)
			opt := NewAdam(NumParams, 1e-3, 1e-4)
			TrainedState(p, opt, 42)
			if countSubnormal(p.Data) == 0 || countSubnormal(opt.M) == 0 {
				t.Fatal("TrainedState made no subnormals")
			}
			m := NewModel(p, newTestRule(t, name), batch)
			for step := 0; step < 3; step++ {
				m.Forward(x, batch)
				m.Loss(y)
				m.Backward()
				opt.Update(p.Data, m.Grad.Data)
			}
			for what, v := range map[string][]float32{"weights": p.Data, "first moments": opt.M, "second moments": opt.V} {
				if k := countSubnormal(v); k > 0 {
					t.Errorf("%s, assembly Adam %v: %d subnormal %s after 3 steps", name, kernel && useAdamAVX2, k, what)
				}
			}
		}
	}
}

func countSubnormal(v []float32) int {
	k := 0
	for _, x := range v {
		if x != 0 && math.Abs(float64(x)) < 0x1p-126 {
			k++
		}
	}
	return k
}
