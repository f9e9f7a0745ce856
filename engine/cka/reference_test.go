package cka

// Independent float64 reference implementations, written the slow, obvious
// way straight from the formulas (explicit centring matrix H, traces of
// matrix products), sharing no code with the package.

import (
	"math"
	"testing"

	"github.com/fabeam/fabeam/engine/rng"
	"gonum.org/v1/gonum/mat"
)

// dense converts x to a float64 gonum matrix.
func dense(x Matrix) *mat.Dense {
	d := mat.NewDense(x.Rows, x.Cols, nil)
	for i := 0; i < x.Rows; i++ {
		for j := 0; j < x.Cols; j++ {
			d.Set(i, j, float64(x.Data[i*x.Cols+j]))
		}
	}
	return d
}

// refGram is X Xᵀ in float64.
func refGram(x Matrix) *mat.Dense {
	xd := dense(x)
	var k mat.Dense
	k.Mul(xd, xd.T())
	return &k
}

// refCentring is H = I - 11ᵀ/n.
func refCentring(n int) *mat.Dense {
	h := mat.NewDense(n, n, nil)
	for i := 0; i < n; i++ {
		for j := 0; j < n; j++ {
			v := -1 / float64(n)
			if i == j {
				v += 1
			}
			h.Set(i, j, v)
		}
	}
	return h
}

// refHSICBiased is tr(K H L H) / (n-1)².
func refHSICBiased(k, l *mat.Dense) float64 {
	n, _ := k.Dims()
	h := refCentring(n)
	var kh, lh, p mat.Dense
	kh.Mul(k, h)
	lh.Mul(l, h)
	p.Mul(&kh, &lh)
	return mat.Trace(&p) / float64((n-1)*(n-1))
}

// refHSICUnbiased is docs/paper.md's formula, term by term, with explicit
// matrices K~, L~ and the ones vector.
func refHSICUnbiased(k, l *mat.Dense) float64 {
	n, _ := k.Dims()
	kt, lt := mat.DenseCopyOf(k), mat.DenseCopyOf(l)
	for i := 0; i < n; i++ {
		kt.Set(i, i, 0)
		lt.Set(i, i, 0)
	}
	ones := mat.NewVecDense(n, nil)
	for i := 0; i < n; i++ {
		ones.SetVec(i, 1)
	}
	var kl mat.Dense
	kl.Mul(kt, lt)
	nf := float64(n)
	t1 := mat.Trace(&kl)
	t2 := mat.Inner(ones, kt, ones) * mat.Inner(ones, lt, ones) / ((nf - 1) * (nf - 2))
	t3 := 2 / (nf - 2) * mat.Inner(ones, &kl, ones)
	return (t1 + t2 - t3) / (nf * (nf - 3))
}

func refCKA(hsic func(k, l *mat.Dense) float64, x, y Matrix) float64 {
	k, l := refGram(x), refGram(y)
	return hsic(k, l) / math.Sqrt(hsic(k, k)*hsic(l, l))
}

func refLinear(x, y Matrix) float64   { return refCKA(refHSICBiased, x, y) }
func refUnbiased(x, y Matrix) float64 { return refCKA(refHSICUnbiased, x, y) }

// refFeatureLinear is the feature-space form of linear CKA (Kornblith et al.
// 2019, eq. 5): ‖Yᶜᵀ Xᶜ‖²_F / (‖Xᶜᵀ Xᶜ‖_F ‖Yᶜᵀ Yᶜ‖_F).
func refFeatureLinear(x, y Matrix) float64 {
	xc, yc := centreColumns(dense(x)), centreColumns(dense(y))
	var yx, xx, yy mat.Dense
	yx.Mul(yc.T(), xc)
	xx.Mul(xc.T(), xc)
	yy.Mul(yc.T(), yc)
	f := mat.Norm(&yx, 2)
	return f * f / (mat.Norm(&xx, 2) * mat.Norm(&yy, 2))
}

func centreColumns(d *mat.Dense) *mat.Dense {
	r, c := d.Dims()
	out := mat.DenseCopyOf(d)
	for j := 0; j < c; j++ {
		var m float64
		for i := 0; i < r; i++ {
			m += d.At(i, j)
		}
		m /= float64(r)
		for i := 0; i < r; i++ {
			out.Set(i, j, d.At(i, j)-m)
		}
	}
	return out
}

// refMinibatch follows the paper's recipe literally: per pass a fresh
// permutation from the documented stream, consecutive batches, unbiased HSIC
// per batch on float64 Grams, sums, then the ratio.
func refMinibatch(x, y Matrix, o MinibatchOptions) float64 {
	s := rng.New(o.Seed, ShufflePurpose)
	var kl, kk, ll float64
	for p := 0; p < o.Passes; p++ {
		perm := s.Perm(x.Rows)
		for b := 0; b+o.BatchSize <= x.Rows; b += o.BatchSize {
			xb, yb := subRows(x, perm[b:b+o.BatchSize]), subRows(y, perm[b:b+o.BatchSize])
			k, l := refGram(xb), refGram(yb)
			kl += refHSICUnbiased(k, l)
			kk += refHSICUnbiased(k, k)
			ll += refHSICUnbiased(l, l)
		}
	}
	return kl / math.Sqrt(kk*ll)
}

func subRows(x Matrix, rows []int) Matrix {
	out := Matrix{Rows: len(rows), Cols: x.Cols, Data: make([]float32, len(rows)*x.Cols)}
	for r, i := range rows {
		copy(out.Data[r*x.Cols:(r+1)*x.Cols], x.Data[i*x.Cols:(i+1)*x.Cols])
	}
	return out
}

// randomMatrix fills an n×d matrix with N(0,1) plus a per-column offset
// (features of real layers are not centred).
func randomMatrix(seed uint64, n, d int) Matrix {
	s := rng.New(seed, "cka-test/features")
	x := Matrix{Rows: n, Cols: d, Data: make([]float32, n*d)}
	s.FillNormal(x.Data, 1)
	for j := 0; j < d; j++ {
		off := s.Normal32(2)
		for i := 0; i < n; i++ {
			x.Data[i*d+j] += off
		}
	}
	return x
}

// related returns y = tanh(x W) + noise·N(0,1), an n×d matrix that shares
// structure with x, so CKA values are neither 0 nor 1.
func related(seed uint64, x Matrix, d int, noise float64) Matrix {
	s := rng.New(seed, "cka-test/related")
	w := make([]float32, x.Cols*d)
	s.FillNormal(w, 1/math.Sqrt(float64(x.Cols)))
	y := Matrix{Rows: x.Rows, Cols: d, Data: make([]float32, x.Rows*d)}
	for i := 0; i < x.Rows; i++ {
		for j := 0; j < d; j++ {
			var v float64
			for k := 0; k < x.Cols; k++ {
				v += float64(x.Data[i*x.Cols+k]) * float64(w[k*d+j])
			}
			y.Data[i*d+j] = float32(math.Tanh(v) + noise*s.NormFloat64())
		}
	}
	return y
}

// withBlocks runs f with the tile and column-block sizes set to rb and cb
// (restored afterwards), so small matrices exercise the tiling.
func withBlocks(t *testing.T, rb, cb int, f func()) {
	t.Helper()
	orb, ocb := rowBlock, colBlock
	rowBlock, colBlock = rb, cb
	defer func() { rowBlock, colBlock = orb, ocb }()
	f()
}

// withWorkers runs f with the estimators using n goroutines.
func withWorkers(n int, f func()) {
	old := workers
	workers = func() int { return n }
	defer func() { workers = old }()
	f()
}

func near(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) || math.Abs(got-want) > tol {
		t.Errorf("%s = %.12g, want %.12g (tolerance %g, off by %.3g)", what, got, want, tol, got-want)
	}
}
