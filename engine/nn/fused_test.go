package nn

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/fabeam/fabeam/engine/gemm"
	"github.com/fabeam/fabeam/engine/rng"
)

// epilogueShapes: the network's two (conv1 20×20 and conv2 6×6 planes of
// 64 channels), one channel, odd channel counts, and odd plane sizes whose
// last row/column the 2×2 pool drops.
var epilogueShapes = []struct{ n, oc, oh, ow int }{
	{2, 64, 20, 20},
	{3, 64, 6, 6},
	{1, 1, 2, 2},
	{2, 3, 4, 6},
	{2, 5, 5, 7},
	{2, 8, 5, 7},
	{1, 16, 3, 3},
}

// specialNHWC returns random position-major conv outputs (n*oh*ow, oc) with
// the cases the pool must get right planted in the first windows of each
// plane (which hold them after the transpose): a tie, an all-negative
// window, zeros of both signs, and, with nans, NaNs in each window
// position (without, a tie of the first and last positions in their
// place).
func specialNHWC(r *rng.Stream, n, oc, oh, ow int, nans bool) []float32 {
	p := oh * ow
	x := randn(r, n*p*oc)
	set := func(s, o, y, xx int, v float32) {
		if y < oh && xx < ow {
			x[(s*p+y*ow+xx)*oc+o] = v
		}
	}
	nan := float32(math.NaN())
	negz := float32(math.Copysign(0, -1))
	for s := 0; s < n; s++ {
		for o := 0; o < oc; o++ {
			switch (s*oc + o) % 6 {
			case 0: // tie between positions 1 and 2 of window 0
				set(s, o, 0, 0, -1)
				set(s, o, 0, 1, 3)
				set(s, o, 1, 0, 3)
				set(s, o, 1, 1, 2)
			case 1: // all negative
				set(s, o, 0, 0, -4)
				set(s, o, 0, 1, -2)
				set(s, o, 1, 0, -3)
				set(s, o, 1, 1, -2)
			case 2: // zeros of both signs and negatives
				set(s, o, 0, 0, negz)
				set(s, o, 0, 1, 0)
				set(s, o, 1, 0, -1)
				set(s, o, 1, 1, negz)
			default: // a NaN at window position (s*oc+o)%6-3 (0..2), a second at 3
				if !nans {
					set(s, o, 0, 0, 5)
					set(s, o, 1, 1, 5)
					continue
				}
				k := (s*oc+o)%6 - 3
				set(s, o, k/2, k%2, nan)
				set(s, o, 1, 1, nan)
			}
		}
	}
	return x
}

// The fused conv epilogue equals the plain chain (transpose + bias as in
// conv2dForward, reluForward, maxpoolForward 2×2) and, independently, a
// direct per-window definition: out bit for bit; pool = relu(max) with a
// NaN winning; arg = the first NaN, else the first maximum of the
// pre-activation in row-major window order — which is the plain chain's
// argmax whenever the maximum is positive (when it is not, relu' = 0 and
// the backward test below shows that the choice sends no gradient). The
// assembly windows (channel counts a multiple of 8, without NaNs; a
// sample with one goes to the loop) and the portable loop are both
// checked, and agree bit for bit.
func TestBiasReluPoolEqualsPlainChain(t *testing.T) {
	for _, c := range []struct{ asm, nans bool }{{true, false}, {true, true}, {false, false}, {false, true}} {
		for _, sh := range epilogueShapes {
			t.Run(fmt.Sprintf("asm%v_nans%v_n%d_oc%d_%dx%d", c.asm, c.nans, sh.n, sh.oc, sh.oh, sh.ow), func(t *testing.T) {
				testBiasReluPool(t, sh.n, sh.oc, sh.oh, sh.ow, c.asm, c.nans)
			})
		}
	}
}

func testBiasReluPool(t *testing.T, n, oc, oh, ow int, asm, nans bool) {
	r := rng.New(21, fmt.Sprint(n, oc, oh, ow, nans))
	p, ph, pw := oh*ow, oh/2, ow/2
	nhwc, b := specialNHWC(r, n, oc, oh, ow, nans), randn(r, oc)
	out := make([]float32, n*oc*p)
	pool := make([]float32, n*oc*ph*pw)
	arg := make([]int32, len(pool))
	setPassAsm(t, false)
	loopPool, loopArg := make([]float32, len(pool)), make([]int32, len(pool))
	biasReluPool(loopPool, loopArg, nhwc, b, 0, n, oc, oh, ow)
	setPassAsm(t, asm)
	biasReluPool(pool, arg, nhwc, b, 0, n, oc, oh, ow)
	biasToNCHW(out, nhwc, b, 0, n, oc, p)
	for k := range pool {
		if math.Float32bits(pool[k]) != math.Float32bits(loopPool[k]) || arg[k] != loopArg[k] {
			t.Fatalf("window %d: %v at %d, the portable loop %v at %d", k, pool[k], arg[k], loopPool[k], loopArg[k])
		}
	}

	act := make([]float32, len(out))
	for s := 0; s < n; s++ {
		for o := 0; o < oc; o++ {
			for i := 0; i < p; i++ {
				want := nhwc[(s*p+i)*oc+o] + b[o]
				got := out[(s*oc+o)*p+i]
				if math.Float32bits(got) != math.Float32bits(want) {
					t.Fatalf("out[%d,%d,%d] = %v, want %v", s, o, i, got, want)
				}
				act[(s*oc+o)*p+i] = want
			}
		}
	}
	reluForward(act, act)
	plainPool := make([]float32, len(pool))
	plainArg := make([]int32, len(pool))
	maxpoolForward(plainPool, plainArg, act, n*oc, oh, ow, 2, 2)
	for k := range pool {
		pl, y, x := k/(ph*pw), k/pw%ph, k%pw
		base := pl*p + 2*y*ow + 2*x
		idx := []int{base, base + 1, base + ow, base + ow + 1}
		first, mx := idx[0], out[idx[0]]
		for _, i := range idx {
			if v := out[i]; v != v {
				first, mx = i, v
				break
			} else if v > mx {
				first, mx = i, v
			}
		}
		wantPool := float32(math.Max(float64(mx), 0))
		if mx != mx {
			wantPool = mx
		}
		same := func(a, b float32) bool { return a == b || (a != a && b != b) }
		if !same(pool[k], wantPool) || int(arg[k]) != first {
			t.Fatalf("window %d: pool %v at %d, want %v at %d", k, pool[k], arg[k], wantPool, first)
		}
		if !same(pool[k], plainPool[k]) {
			t.Fatalf("window %d: pool %v, plain chain %v", k, pool[k], plainPool[k])
		}
		if (pool[k] > 0 || pool[k] != pool[k]) && arg[k] != plainArg[k] {
			t.Fatalf("window %d: arg %d, plain chain %d", k, arg[k], plainArg[k])
		}
	}
}

// The fused pool+ReLU backward equals maxpoolBackward then reluBackward on
// the plain chain's argmax, bit for bit (so the epilogue's different argmax
// on windows with maximum <= 0 changes nothing), with and without dpre;
// dnhwc is its transpose, and dbPart the per-plane sums to a float64 sum
// within the float32 summation bound q·u·Σ|x| (q ≤ 100 non-zero terms,
// unit roundoff u = 6e-8, so 1e-5·Σ|x|).
func TestPoolReluBackwardEqualsPlainChain(t *testing.T) {
	for _, sh := range epilogueShapes {
		t.Run(fmt.Sprintf("n%d_oc%d_%dx%d", sh.n, sh.oc, sh.oh, sh.ow), func(t *testing.T) {
			r := rng.New(22, t.Name())
			n, oc, oh, ow := sh.n, sh.oc, sh.oh, sh.ow
			p, q := oh*ow, (oh/2)*(ow/2)
			nhwc, b := specialNHWC(r, n, oc, oh, ow, true), randn(r, oc)
			out := make([]float32, n*oc*p)
			pool := make([]float32, n*oc*q)
			arg := make([]int32, len(pool))
			biasReluPool(pool, arg, nhwc, b, 0, n, oc, oh, ow)
			biasToNCHW(out, nhwc, b, 0, n, oc, p)
			dpool := randn(r, len(pool))

			act := make([]float32, len(out))
			reluForward(act, out)
			plainArg := make([]int32, len(pool))
			maxpoolForward(make([]float32, len(pool)), plainArg, act, n*oc, oh, ow, 2, 2)
			want := make([]float32, len(out))
			maxpoolBackward(want, dpool, plainArg, len(want))
			reluBackward(want, want, out)

			for _, withPre := range []bool{true, false} {
				var dpre []float32
				if withPre {
					dpre = make([]float32, len(out))
					for i := range dpre {
						dpre[i] = 42 // must be overwritten
					}
				}
				dn := make([]float32, len(out))
				for i := range dn {
					dn[i] = 42
				}
				dbPart := make([]float32, n*oc)
				poolReluBackward(dpre, dn, dbPart, dpool, arg, pool, 0, n, oc, oh, ow)
				for s := 0; s < n; s++ {
					for o := 0; o < oc; o++ {
						var sum, abs float64
						for i := 0; i < p; i++ {
							w := want[(s*oc+o)*p+i]
							sum += float64(w)
							abs += math.Abs(float64(w))
							if withPre && math.Float32bits(dpre[(s*oc+o)*p+i]) != math.Float32bits(w) {
								t.Fatalf("dpre[%d,%d,%d] = %v, want %v", s, o, i, dpre[(s*oc+o)*p+i], w)
							}
							if g := dn[(s*p+i)*oc+o]; math.Float32bits(g) != math.Float32bits(w) {
								t.Fatalf("dnhwc[%d,%d,%d] = %v, want %v", s, i, o, g, w)
							}
						}
						if got := float64(dbPart[s*oc+o]); math.Abs(got-sum) > 1e-5*abs {
							t.Fatalf("dbPart[%d,%d] = %v, want %v", s, o, got, sum)
						}
					}
				}
			}
		})
	}
}

// im2colSamples and col2imSamples over a sub-range of samples write exactly
// the rows / images of those samples, equal to the whole-batch kernels, and
// touch nothing else (the split parallelFor relies on).
func TestIm2colCol2imSampleRanges(t *testing.T) {
	for _, s := range convShapes {
		r := rng.New(23, "ranges")
		oh, ow := s.h-s.kh+1, s.w-s.kw+1
		rows, ckk, img := oh*ow, s.c*s.kh*s.kw, s.c*s.h*s.w
		inp, dcol := randn(r, s.n*img), randn(r, s.n*rows*ckk)
		col, dinp := make([]float32, len(dcol)), make([]float32, len(inp))
		im2col(col, inp, s.n, s.c, s.h, s.w, s.kh, s.kw)
		col2im(dinp, dcol, s.n, s.c, s.h, s.w, s.kh, s.kw)
		for s0 := 0; s0 < s.n; s0++ {
			colR, dinpR := make([]float32, len(col)), make([]float32, len(dinp))
			im2colSamples(colR, inp, s0, s0+1, s.c, s.h, s.w, s.kh, s.kw)
			col2imSamples(dinpR, dcol, s0, s0+1, s.c, s.h, s.w, s.kh, s.kw)
			for i := range col {
				in := i/(rows*ckk) == s0
				if (in && colR[i] != col[i]) || (!in && colR[i] != 0) {
					t.Fatalf("%v: im2col sample %d: col[%d] = %v, whole batch %v", s, s0, i, colR[i], col[i])
				}
			}
			for i := range dinp {
				in := i/img == s0
				if (in && dinpR[i] != dinp[i]) || (!in && dinpR[i] != 0) {
					t.Fatalf("%v: col2im sample %d: dinp[%d] = %v, whole batch %v", s, s0, i, dinpR[i], dinp[i])
				}
			}
		}
	}
}

// Conv1's pre-activation gradient, laid out on demand by PreActivationGrad,
// equals the plain chain (maxpoolBackward, reluBackward) applied to the
// model's own dPool1 and conv1 pre-activation, bit for bit.
func TestPreActivationGradConv1EqualsPlainChain(t *testing.T) {
	const n = 3
	p := NewParams()
	p.InitPyTorch(5)
	x, y := testBatch(5, n)
	m := NewModel(p, BP{}, n)
	m.Forward(x, n)
	m.Loss(y)
	m.Backward()
	act := make([]float32, n*c1Out)
	reluForward(act, m.PreActivation(Conv1))
	arg := make([]int32, n*p1Out)
	maxpoolForward(make([]float32, n*p1Out), arg, act, n*64, 20, 20, 2, 2)
	want := make([]float32, n*c1Out)
	maxpoolBackward(want, m.dPool1[:n*p1Out], arg, len(want))
	reluBackward(want, want, m.PreActivation(Conv1))
	got := m.PreActivationGrad(Conv1)
	nonzero := 0
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("dConv1[%d] = %v, want %v", i, got[i], want[i])
		}
		if want[i] != 0 {
			nonzero++
		}
	}
	if nonzero < n*p1Out/4 {
		t.Errorf("only %d non-zero gradients: the check is vacuous", nonzero)
	}
}

// A training step's results do not depend on GOMAXPROCS (which sets how
// many pieces parallelFor and the GEMMs split the work into): weights after
// three Adam steps and every pre-activation gradient are bit-identical at
// 1, 2 and 5, for every rule.
func TestTrainStepBitsDoNotDependOnGOMAXPROCS(t *testing.T) {
	const n = 7
	x, y := testBatch(8, n)
	run := func(procs int, rule string) (*Params, [NumLayers][]float32) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
		p := NewParams()
		p.InitPyTorch(8)
		r := newTestRule(t, rule)
		m := NewModel(p, r, n)
		opt := NewAdam(NumParams, 1e-3, 0)
		for step := range 3 {
			if sr, ok := r.(StepRule); ok {
				sr.SetStep(step)
			}
			m.Forward(x, n)
			m.Loss(y)
			m.Backward()
			opt.Update(p.Data, m.Grad.Data)
		}
		var g [NumLayers][]float32
		for l := range g {
			g[l] = append([]float32(nil), m.PreActivationGrad(l)...)
		}
		return p, g
	}
	for _, rule := range RuleNames() {
		p1, g1 := run(1, rule)
		for _, procs := range []int{2, 5} {
			p2, g2 := run(procs, rule)
			for i := range p1.Data {
				if math.Float32bits(p1.Data[i]) != math.Float32bits(p2.Data[i]) {
					t.Fatalf("%s: weight %d differs at GOMAXPROCS %d: %v vs %v", rule, i, procs, p2.Data[i], p1.Data[i])
				}
			}
			for l := range g1 {
				for i := range g1[l] {
					if math.Float32bits(g1[l][i]) != math.Float32bits(g2[l][i]) {
						t.Fatalf("%s: %s gradient %d differs at GOMAXPROCS %d", rule, LayerNames[l], i, procs)
					}
				}
			}
		}
	}
}

// TestConv2dWeightGradTransposedEqualsDirect checks conv2dWeightGradT, the
// form Model uses for conv1 always and for conv2 where it is faster
// (transposedWeightGradPays, which differs between machines): into a
// zeroed dw it gives conv2dWeightGrad's bits exactly (same products summed
// in the same order; see its doc), and into a non-zero dw it equals a
// float64 naive loop dw[o][j] + sum_r dnhwc[r][o]*col[r][j] to float32
// accuracy. Shapes: conv1's (ckk = 75) over 2 samples of 400 positions,
// and conv2's (ckk = 1,600) over 25 samples of 36, with K = 800 and 900 >
// the GEMM's 256-row K block so several blocks are summed; with every
// kernel this CPU runs, at 1 and 2 threads (the 2-thread GEMM split
// differs from the 1-thread one).
func TestConv2dWeightGradTransposedEqualsDirect(t *testing.T) {
	for _, sh := range []struct{ rows, ckk int }{{800, 75}, {900, 1600}} {
		for _, kern := range gemm.Kernels() {
			for _, procs := range []int{1, 2} {
				t.Run(fmt.Sprintf("ckk=%d/%s/GOMAXPROCS=%d", sh.ckk, kern, procs), func(t *testing.T) {
					defer gemm.SetKernel(kern)()
					defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
					checkWeightGradTransposed(t, sh.rows, sh.ckk)
				})
			}
		}
	}
}

func checkWeightGradTransposed(t *testing.T, rows, ckk int) {
	t.Helper()
	const oc = 64
	r := rng.New(7, "wgradT")
	dnhwc, col := randn(r, rows*oc), randn(r, rows*ckk)
	init := randn(r, oc*ckk)
	direct := make([]float32, oc*ckk)
	src := &denseSource{x: col, rows: rows, cols: ckk}
	conv2dWeightGrad(direct, dnhwc, src, rows, oc, ckk)
	tr := make([]float32, oc*ckk)
	scratch := make([]float32, ckk*oc)
	conv2dWeightGradT(tr, scratch, dnhwc, src, rows, oc, ckk)
	for i := range direct {
		if math.Float32bits(tr[i]) != math.Float32bits(direct[i]) {
			t.Fatalf("zero dw: transposed dw[%d] = %v, direct %v", i, tr[i], direct[i])
		}
	}
	acc := append([]float32(nil), init...)
	conv2dWeightGradT(acc, scratch, dnhwc, src, rows, oc, ckk)
	want := make([]float64, oc*ckk)
	for o := 0; o < oc; o++ {
		for j := 0; j < ckk; j++ {
			s := float64(init[o*ckk+j])
			for q := 0; q < rows; q++ {
				s += float64(dnhwc[q*oc+o]) * float64(col[q*ckk+j])
			}
			want[o*ckk+j] = s
		}
	}
	// 800- and 900-term float32 sums of unit normals: ~1e-5 relative.
	compare(t, "accumulated dw", acc, want, 1e-4)
}

// im2colShapes: the network's two convolutions, and shapes that take the
// fast paths (5×5 kernels; conv2's six-wide output rows) with other
// channel counts and non-square images, and one that does not.
var im2colShapes = []struct{ n, c, h, w, kh, kw int }{
	{2, 3, 24, 24, 5, 5},
	{2, 64, 10, 10, 5, 5},
	{3, 2, 8, 10, 5, 5},
	{1, 1, 5, 5, 5, 5},
	{2, 3, 7, 9, 5, 5},
	{2, 2, 6, 7, 3, 2},
}

// im2colSamples (with and without its assembly rows) and col2imSamples
// (with its six-wide register path) equal the definitions written as
// plain loops, bit for bit: im2col is a copy, and col2im's reference adds
// each row's values in the order of the output positions, which is the
// order the fast path must keep. The error values include zeros of both
// signs, whose sum depends on that order.
func TestIm2colCol2imFastPathsEqualDefinitions(t *testing.T) {
	for _, asm := range []bool{true, false} {
		setPassAsm(t, asm)
		for _, sh := range im2colShapes {
			r := rng.New(24, fmt.Sprint(sh))
			oh, ow := sh.h-sh.kh+1, sh.w-sh.kw+1
			ckk, plane := sh.c*sh.kh*sh.kw, sh.h*sh.w
			inp, dcol := randn(r, sh.n*sh.c*plane), randn(r, sh.n*oh*ow*ckk)
			for i := 0; i < len(dcol); i += 7 {
				dcol[i] = float32(math.Copysign(0, float64(i%2)-0.5))
			}
			wantCol := make([]float32, len(dcol))
			wantImg := make([]float32, len(inp))
			for s := 0; s < sh.n; s++ {
				for y := 0; y < oh; y++ {
					for x := 0; x < ow; x++ {
						row := ((s*oh+y)*ow + x) * ckk
						for ci := 0; ci < sh.c; ci++ {
							for ky := 0; ky < sh.kh; ky++ {
								for kx := 0; kx < sh.kw; kx++ {
									j := row + (ci*sh.kh+ky)*sh.kw + kx
									at := (s*sh.c+ci)*plane + (y+ky)*sh.w + x + kx
									wantCol[j] = inp[at]
									wantImg[at] += dcol[j]
								}
							}
						}
					}
				}
			}
			col := make([]float32, len(dcol))
			img := make([]float32, len(inp))
			for i := range img {
				img[i] = 42 // overwritten
			}
			im2colSamples(col, inp, 0, sh.n, sh.c, sh.h, sh.w, sh.kh, sh.kw)
			col2imSamples(img, dcol, 0, sh.n, sh.c, sh.h, sh.w, sh.kh, sh.kw)
			for i := range col {
				if math.Float32bits(col[i]) != math.Float32bits(wantCol[i]) {
					t.Fatalf("asm %v %v: col[%d] = %v, want %v", asm, sh, i, col[i], wantCol[i])
				}
			}
			for i := range img {
				if math.Float32bits(img[i]) != math.Float32bits(wantImg[i]) {
					t.Fatalf("asm %v %v: dinp[%d] = %v, want %v", asm, sh, i, img[i], wantImg[i])
				}
			}
		}
	}
}

// TestDenseConv2InputTransposedEqualsPlain checks denseConv2InputT, the
// form fa_random's dense conv2 operator takes where it is faster
// (transposedDensePays, which differs between machines), against
// linearBackwardInput bit for bit, with every kernel this CPU runs and at
// one and two threads; K = 2,304 is nine of the GEMM's K blocks, so the
// blocks must be summed in the same order.
func TestDenseConv2InputTransposedEqualsPlain(t *testing.T) {
	const n = 5
	r := rng.New(35, "denseT")
	fb, dout := randn(r, c2Out*p1Out), randn(r, n*c2Out)
	for i := 0; i < len(dout); i += 9 {
		dout[i] = 0
	}
	for _, kern := range gemm.Kernels() {
		for _, procs := range []int{1, 2} {
			t.Run(fmt.Sprintf("%s/GOMAXPROCS=%d", kern, procs), func(t *testing.T) {
				defer gemm.SetKernel(kern)()
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				want := make([]float32, n*p1Out)
				linearBackwardInput(want, dout, fb, n, p1Out, c2Out)
				got := make([]float32, n*p1Out)
				denseConv2InputT(got, make([]float32, p1Out*n), dout, fb, n)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("dinp[%d] = %v, plain product %v", i, got[i], want[i])
					}
				}
			})
		}
	}
}
