package cka

import (
	"math"
	"testing"

	"github.com/fabeam/fabeam/engine/rng"
	"gonum.org/v1/gonum/mat"
)

// The hand-worked example. n = 4 examples,
//
//	X = [1 0; 2 1; 3 0; 4 1]   (2 features)      y = [1; 3; 2; 4]   (1 feature)
//
// Gram K = X Xᵀ (exact integers):
//
//	1  2  3  4
//	2  5  6  9
//	3  6  9 12
//	4  9 12 17
//
// Biased (feature form). Centred columns: x1 = (-1.5,-.5,.5,1.5),
// x2 = (-.5,.5,-.5,.5), y = (-1.5,.5,-.5,1.5).
// Xᶜᵀy = (x1·y, x2·y) = (4, 2), so ‖Yᶜᵀ Xᶜ‖² = 20; Xᶜᵀ Xᶜ = [5 1; 1 1],
// ‖·‖_F = √28; Yᶜᵀ Yᶜ = 5. CKA = 20 / (5 √28) = 2/√7.
//
// Unbiased. K~ (zero diagonal) row sums 9, 17, 21, 25, total 72;
// L = y yᵀ, L~ row sums 9, 21, 16, 24, total 70.
// tr(K~L~) = 2(2·3 + 3·2 + 4·4 + 6·6 + 9·12 + 12·8) = 536,
// 1ᵀK~L~1 = 9·9 + 17·21 + 21·16 + 25·24 = 1374,
// HSIC(K,L) = [536 + 72·70/6 - 1374] / 4 = 2/4 = 1/2.
// tr(K~K~) = 2(4+9+16+36+81+144) = 580, Σ rK² = 1436,
// HSIC(K,K) = [580 + 72²/6 - 1436] / 4 = 8/4 = 2.
// tr(L~L~) = 2(9+4+16+36+144+64) = 546, Σ rL² = 1354,
// HSIC(L,L) = [546 + 70²/6 - 1354] / 4 = 13/6.
// CKA = (1/2) / √(2 · 13/6) = √(3/52).
var (
	handX        = NewMatrix(4, 2, []float32{1, 0, 2, 1, 3, 0, 4, 1})
	handY        = NewMatrix(4, 1, []float32{1, 3, 2, 4})
	handGram     = []float64{1, 2, 3, 4, 2, 5, 6, 9, 3, 6, 9, 12, 4, 9, 12, 17}
	handLinear   = 2 / math.Sqrt(7)
	handUnbiased = math.Sqrt(3.0 / 52)
)

func TestHandWorkedExample(t *testing.T) {
	g := Gram(handX)
	for i, want := range handGram {
		if g[i] != want {
			t.Errorf("Gram[%d] = %g, want %g", i, g[i], want)
		}
	}
	near(t, "Linear", Linear(handX, handY), handLinear, 1e-12)
	near(t, "LinearUnbiased", LinearUnbiased(handX, handY), handUnbiased, 1e-12)
	near(t, "LinearGram", LinearGram(handGram, Gram(handY), 4), handLinear, 1e-12)
	near(t, "UnbiasedGram", UnbiasedGram(handGram, Gram(handY), 4), handUnbiased, 1e-12)
	// The references agree with the hand, so they can be trusted below.
	near(t, "refLinear", refLinear(handX, handY), handLinear, 1e-12)
	near(t, "refFeatureLinear", refFeatureLinear(handX, handY), handLinear, 1e-12)
	near(t, "refUnbiased", refUnbiased(handX, handY), handUnbiased, 1e-12)
	// One batch of all 4 examples: the minibatch estimate is the full one.
	mb, err := Minibatch(handX, handY, MinibatchOptions{BatchSize: 4, Passes: 3, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	near(t, "Minibatch(batch = n)", mb, handUnbiased, 1e-12)
}

// shapes covers one tile and one column block (the defaults) and, with the
// blocks shrunk, many tiles with ragged edges and many column blocks.
var shapes = []struct {
	name       string
	n, dx, dy  int
	rb, cb     int
	tolUnbiasd float64
}{
	{"n=50 dx=5 dy=3 one tile", 50, 5, 3, 512, 512, 1e-5},
	{"n=120 dx=40 dy=17 one tile", 120, 40, 17, 512, 512, 1e-5},
	{"n=300 dx=100 dy=64 one tile", 300, 100, 64, 512, 512, 1e-5},
	{"n=97 dx=33 dy=10 tiles 16 blocks 7", 97, 33, 10, 16, 7, 1e-5},
	{"n=130 dx=64 dy=5 tiles 32 blocks 64", 130, 64, 5, 32, 64, 1e-5},
}

func TestExactMatchesNaiveReference(t *testing.T) {
	for i, sh := range shapes {
		t.Run(sh.name, func(t *testing.T) {
			withBlocks(t, sh.rb, sh.cb, func() {
				x := randomMatrix(uint64(10+i), sh.n, sh.dx)
				y := related(uint64(20+i), x, sh.dy, 0.5)
				// float32 inputs are exact in float64; the only error is the
				// float32 sum inside each column block (≤ 512 terms, ~1e-6
				// relative), so 1e-5 is a loose but telling bound.
				near(t, "Linear", Linear(x, y), refLinear(x, y), 1e-5)
				near(t, "LinearUnbiased", LinearUnbiased(x, y), refUnbiased(x, y), sh.tolUnbiasd)
				g, want := Gram(x), refGram(x)
				for r := 0; r < sh.n; r++ {
					for c := 0; c < sh.n; c++ {
						if w := want.At(r, c); math.Abs(g[r*sh.n+c]-w) > 1e-5*(1+math.Abs(w)) {
							t.Fatalf("Gram[%d][%d] = %g, want %g", r, c, g[r*sh.n+c], w)
						}
						if g[r*sh.n+c] != g[c*sh.n+r] {
							t.Fatalf("Gram not exactly symmetric at (%d,%d)", r, c)
						}
					}
				}
			})
		})
	}
}

func TestGramAndFeatureFormsAgree(t *testing.T) {
	for i, sh := range shapes[:3] {
		t.Run(sh.name, func(t *testing.T) {
			x := randomMatrix(uint64(30+i), sh.n, sh.dx)
			y := related(uint64(40+i), x, sh.dy, 1)
			feature := refFeatureLinear(x, y)
			near(t, "refLinear (tr KHLH) vs feature form", refLinear(x, y), feature, 1e-10)
			near(t, "LinearGram(Gram(x), Gram(y))", LinearGram(Gram(x), Gram(y), sh.n), feature, 1e-5)
			near(t, "Linear", Linear(x, y), feature, 1e-5)
			near(t, "UnbiasedGram(Gram(x), Gram(y))", UnbiasedGram(Gram(x), Gram(y), sh.n), refUnbiased(x, y), 1e-5)
		})
	}
}

// estimators are the three estimators as functions of (x, y); the minibatch
// one with batches of 32 over n = 128 examples.
var estimators = []struct {
	name string
	f    func(x, y Matrix) float64
}{
	{"Linear", Linear},
	{"LinearUnbiased", LinearUnbiased},
	{"Minibatch", func(x, y Matrix) float64 {
		v, err := Minibatch(x, y, MinibatchOptions{BatchSize: 32, Passes: 2, Seed: 9})
		if err != nil {
			panic(err)
		}
		return v
	}},
}

func TestCKAOfAMatrixWithItselfIsOne(t *testing.T) {
	x := randomMatrix(1, 128, 20)
	cp := Matrix{Rows: x.Rows, Cols: x.Cols, Data: append([]float32(nil), x.Data...)}
	for _, e := range estimators {
		near(t, e.name+"(x, x)", e.f(x, x), 1, 1e-12)
		near(t, e.name+"(x, copy of x)", e.f(x, cp), 1, 1e-12)
	}
}

func TestCKAIsSymmetric(t *testing.T) {
	x := randomMatrix(2, 128, 20)
	y := related(3, x, 7, 1)
	for _, e := range estimators {
		a, b := e.f(x, y), e.f(y, x)
		near(t, e.name+"(y, x) vs (x, y)", b, a, 1e-12)
		if a < 0.05 || a > 0.95 {
			t.Errorf("%s(x, y) = %g: test data should give a CKA well inside (0, 1)", e.name, a)
		}
	}
}

// orthogonal returns a random d×d orthogonal matrix (Q of a Gaussian's QR).
func orthogonal(seed uint64, d int) *mat.Dense {
	s := rng.New(seed, "cka-test/orthogonal")
	a := mat.NewDense(d, d, nil)
	for i := 0; i < d; i++ {
		for j := 0; j < d; j++ {
			a.Set(i, j, s.NormFloat64())
		}
	}
	var qr mat.QR
	qr.Factorize(a)
	var q mat.Dense
	qr.QTo(&q)
	return &q
}

func transform(x Matrix, f func(d *mat.Dense) *mat.Dense) Matrix {
	d := f(dense(x))
	r, c := d.Dims()
	out := Matrix{Rows: r, Cols: c, Data: make([]float32, r*c)}
	for i := 0; i < r; i++ {
		for j := 0; j < c; j++ {
			out.Data[i*c+j] = float32(d.At(i, j))
		}
	}
	return out
}

func TestCKAIsInvariantToOrthogonalTransformsScalingAndTranslation(t *testing.T) {
	x := randomMatrix(4, 128, 16)
	y := related(5, x, 9, 1)
	q := orthogonal(6, x.Cols)
	shift := rng.New(7, "cka-test/shift")
	transforms := []struct {
		name string
		f    func(d *mat.Dense) *mat.Dense
	}{
		{"orthogonal Q", func(d *mat.Dense) *mat.Dense { var o mat.Dense; o.Mul(d, q); return &o }},
		{"scale by 3.7", func(d *mat.Dense) *mat.Dense { var o mat.Dense; o.Scale(3.7, d); return &o }},
		{"scale by 1e-3", func(d *mat.Dense) *mat.Dense { var o mat.Dense; o.Scale(1e-3, d); return &o }},
		{"add a constant row vector", func(d *mat.Dense) *mat.Dense {
			o := mat.DenseCopyOf(d)
			r, c := o.Dims()
			for j := 0; j < c; j++ {
				v := 5 * shift.NormFloat64()
				for i := 0; i < r; i++ {
					o.Set(i, j, o.At(i, j)+v)
				}
			}
			return o
		}},
	}
	for _, tr := range transforms {
		xt := transform(x, tr.f)
		for _, e := range estimators {
			// The transformed features are rounded to float32 (~6e-8
			// relative), which moves CKA by about that much.
			near(t, e.name+" after "+tr.name, e.f(xt, y), e.f(x, y), 1e-5)
		}
	}
}

func TestMatricesMatchPairwiseCalls(t *testing.T) {
	x0 := randomMatrix(11, 90, 12)
	xs := []Matrix{x0, related(12, x0, 8, 0.3), related(13, x0, 3, 2)}
	ys := []Matrix{related(14, x0, 5, 0.1), xs[1], randomMatrix(15, 90, 7)}
	withBlocks(t, 32, 5, func() {
		lin, unb := ExactMatrices(xs, ys)
		lin2, unb2 := LinearMatrix(xs, ys), UnbiasedMatrix(xs, ys)
		for i := range xs {
			for j := range ys {
				near(t, "ExactMatrices linear", lin[i][j], refLinear(xs[i], ys[j]), 1e-5)
				near(t, "ExactMatrices unbiased", unb[i][j], refUnbiased(xs[i], ys[j]), 1e-5)
				if lin2[i][j] != lin[i][j] || unb2[i][j] != unb[i][j] {
					t.Errorf("[%d][%d]: LinearMatrix/UnbiasedMatrix %v %v differ from ExactMatrices %v %v", i, j, lin2[i][j], unb2[i][j], lin[i][j], unb[i][j])
				}
				near(t, "LinearMatrix vs Linear", lin[i][j], Linear(xs[i], ys[j]), 1e-12)
				near(t, "UnbiasedMatrix vs LinearUnbiased", unb[i][j], LinearUnbiased(xs[i], ys[j]), 1e-12)
			}
		}
	})
}

func TestExactResultsDoNotDependOnWorkerCount(t *testing.T) {
	x := randomMatrix(16, 200, 30)
	ys := []Matrix{related(17, x, 10, 1), related(18, x, 4, 0.2)}
	withBlocks(t, 24, 8, func() {
		var lin1, unb1, lin3, unb3 [][]float64
		var g1, g3 []float64
		withWorkers(1, func() { lin1, unb1 = ExactMatrices([]Matrix{x}, ys); g1 = Gram(x) })
		withWorkers(3, func() { lin3, unb3 = ExactMatrices([]Matrix{x}, ys); g3 = Gram(x) })
		for j := range ys {
			if lin1[0][j] != lin3[0][j] || unb1[0][j] != unb3[0][j] {
				t.Errorf("pair %d: 1 worker gives %v %v, 3 workers %v %v", j, lin1[0][j], unb1[0][j], lin3[0][j], unb3[0][j])
			}
		}
		for i := range g1 {
			if g1[i] != g3[i] {
				t.Fatalf("Gram[%d]: 1 worker %v, 3 workers %v", i, g1[i], g3[i])
			}
		}
	})
}

func TestZeroVarianceGivesNaN(t *testing.T) {
	x := randomMatrix(19, 40, 3)
	c := Matrix{Rows: 40, Cols: 2, Data: make([]float32, 80)}
	for i := range c.Data {
		c.Data[i] = 4 // every example the same: no variance
	}
	for _, e := range estimators[:2] {
		if v := e.f(x, c); !math.IsNaN(v) {
			t.Errorf("%s(x, constant) = %v, want NaN", e.name, v)
		}
	}
}

func TestMalformedInputsPanic(t *testing.T) {
	x := randomMatrix(20, 10, 3)
	cases := []struct {
		name string
		f    func()
	}{
		{"rows differ", func() { Linear(x, randomMatrix(21, 11, 3)) }},
		{"data too short", func() { Linear(x, Matrix{Rows: 10, Cols: 3, Data: make([]float32, 29)}) }},
		{"no features", func() { Gram(Matrix{Rows: 10, Cols: 0}) }},
		{"unbiased with 3 examples", func() { LinearUnbiased(subRows(x, []int{0, 1, 2}), subRows(x, []int{3, 4, 5})) }},
		{"empty list", func() { LinearMatrix(nil, []Matrix{x}) }},
		{"Gram length", func() { LinearGram(make([]float64, 8), make([]float64, 9), 3) }},
		{"NewMatrix length", func() { NewMatrix(2, 2, make([]float32, 3)) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if s, ok := r.(string); !ok || len(s) < 5 || s[:5] != "cka: " {
					t.Errorf("panic value %v, want a string starting with %q", r, "cka: ")
				}
			}()
			c.f()
		})
	}
}
