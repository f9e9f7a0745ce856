package gemm

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fabeam/fabeam/engine/internal/allocs"
)

// sliceSource is a Source over a materialised row-major matrix. Fill checks
// that every block lies inside the matrix and that the destination is long
// enough, and poisons nothing else; fills counts the floats it wrote.
type sliceSource struct {
	x          []float32
	rows, cols int
	ld         int
	fills      atomic.Int64
}

func (s *sliceSource) Dims() (int, int) { return s.rows, s.cols }

func (s *sliceSource) Fill(dst []float32, ld, r0, rows, c0, cols int) {
	if r0 < 0 || c0 < 0 || rows < 1 || cols < 1 || r0+rows > s.rows || c0+cols > s.cols || ld < cols {
		panic(fmt.Sprintf("sliceSource: block [%d:%d, %d:%d] ld %d outside %d×%d", r0, r0+rows, c0, c0+cols, ld, s.rows, s.cols))
	}
	for i := range rows {
		copy(dst[i*ld:i*ld+cols], s.x[(r0+i)*s.ld+c0:(r0+i)*s.ld+c0+cols])
	}
	s.fills.Add(int64(rows * cols))
}

// TestSourceOperandsGiveSgemmBits checks SgemmSourceA and SgemmSourceB
// against Sgemm on the same matrices, bit for bit, for every kernel, every
// transpose and shapes crossing the register and cache block edges (k = 300
// and 700 take two and three K blocks, n = 530 two B blocks, m = 97 and 301
// several row blocks with a partial last panel), with beta 0, 1 and 0.5, at
// one and three threads; and that the result also meets the float64
// oracle's error bound (so the bits compared are the right ones).
func TestSourceOperandsGiveSgemmBits(t *testing.T) {
	shapes := []struct{ m, n, k int }{
		{1, 1, 1}, {13, 33, 65}, {97, 20, 300}, {37, 530, 29}, {301, 70, 700}, {64, 75, 520}, {75, 64, 300},
	}
	forEachKernel(t, func(t *testing.T) {
		for _, sh := range shapes {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				for _, beta := range []float32{0, 1, 0.5} {
					for _, th := range []int{1, 3} {
						name := fmt.Sprintf("%dx%dx%d/%s/beta=%v/threads=%d", sh.m, sh.n, sh.k, transNames[tr], beta, th)
						a, lda, b, ldb, c0, ldc := operands(21, tr[0], tr[1], sh.m, sh.n, sh.k, 3)
						ar, ac := sh.m, sh.k
						if tr[0] {
							ar, ac = sh.k, sh.m
						}
						br, bc := sh.k, sh.n
						if tr[1] {
							br, bc = sh.n, sh.k
						}
						prev := SetThreads(th)
						want := append([]float32(nil), c0...)
						Sgemm(tr[0], tr[1], sh.m, sh.n, sh.k, 1.25, a, lda, b, ldb, beta, want, ldc)
						ca := append([]float32(nil), c0...)
						SgemmSourceA(tr[0], tr[1], sh.m, sh.n, sh.k, 1.25, &sliceSource{x: a, rows: ar, cols: ac, ld: lda}, b, ldb, beta, ca, ldc)
						cb := append([]float32(nil), c0...)
						SgemmSourceB(tr[0], tr[1], sh.m, sh.n, sh.k, 1.25, a, lda, &sliceSource{x: b, rows: br, cols: bc, ld: ldb}, beta, cb, ldc)
						SetThreads(prev)
						for i := range want {
							if math.Float32bits(ca[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%s: SgemmSourceA C[%d] = %v, Sgemm %v", name, i, ca[i], want[i])
							}
							if math.Float32bits(cb[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%s: SgemmSourceB C[%d] = %v, Sgemm %v", name, i, cb[i], want[i])
							}
						}
						wf, mag := naive(tr[0], tr[1], sh.m, sh.n, sh.k, 1.25, a, lda, b, ldb, beta, c0, ldc)
						checkC(t, sh.m, sh.n, sh.k, ca, ldc, wf, mag)
					}
				}
			}
		}
	})
}

// TestSourceAIsFilledOncePerUse checks the work a Source A costs: with
// n within one B block, each element of op(A) is filled exactly once per
// call whatever the thread count, so an implicit operand costs one pass,
// as materialising it would.
func TestSourceAIsFilledOncePerUse(t *testing.T) {
	const m, n, k = 301, 64, 700
	for _, th := range []int{1, 2, 3} {
		a, lda, b, ldb, c, ldc := operands(3, false, true, m, n, k, 0)
		src := &sliceSource{x: a, rows: m, cols: k, ld: lda}
		prev := SetThreads(th)
		SgemmSourceA(false, true, m, n, k, 1, src, b, ldb, 0, c, ldc)
		SetThreads(prev)
		if got := src.fills.Load(); got != m*k {
			t.Errorf("%d threads: filled %d floats of A, want %d", th, got, m*k)
		}
	}
}

func TestSourceOperandsDoNotAllocate(t *testing.T) {
	const m, n, k = 256, 64, 300
	a, lda, b, ldb, c, ldc := operands(5, false, false, m, n, k, 0)
	sa := &sliceSource{x: a, rows: m, cols: k, ld: lda}
	sb := &sliceSource{x: b, rows: k, cols: n, ld: ldb}
	prev := SetThreads(2)
	defer SetThreads(prev)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for name, run := range map[string]func(){
		"SgemmSourceA": func() { SgemmSourceA(false, false, m, n, k, 1, sa, b, ldb, 0, c, ldc) },
		"SgemmSourceB": func() { SgemmSourceB(false, false, m, n, k, 1, a, lda, sb, 0, c, ldc) },
	} {
		if n := allocs.Steady(5, 10, 20, run); n != 0 {
			t.Errorf("%s allocated %.1f times per call, want 0", name, n)
		}
	}
}

func TestSourcePanicsOnWrongDims(t *testing.T) {
	buf := make([]float32, 100)
	src := &sliceSource{x: buf, rows: 4, cols: 5, ld: 5}
	for _, tc := range []struct {
		name string
		f    func()
		msg  string
	}{
		{"A not m×k", func() { SgemmSourceA(false, false, 5, 2, 4, 1, src, buf, 2, 0, buf, 2) }, "Source A is 4×5, the product needs 5×4"},
		{"A transposed fits", func() { SgemmSourceA(true, false, 5, 2, 4, 1, src, buf, 2, 0, make([]float32, 10), 2) }, ""},
		{"B not k×n", func() { SgemmSourceB(false, false, 2, 4, 5, 1, buf, 5, src, 0, buf, 4) }, "Source B is 4×5, the product needs 5×4"},
		{"nil A", func() { SgemmSourceA(false, false, 2, 2, 2, 1, nil, buf, 2, 0, buf, 2) }, "Source A is nil"},
		{"short B", func() { SgemmSourceA(false, false, 4, 60, 5, 1, src, buf, 60, 0, buf, 60) }, "B has 100 elements"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				if tc.msg == "" {
					if r != nil {
						t.Errorf("panicked: %v", r)
					}
					return
				}
				s, _ := r.(string)
				if !strings.HasPrefix(s, "gemm: ") || !strings.Contains(s, tc.msg) {
					t.Errorf("panic %q, want a gemm: panic mentioning %q", r, tc.msg)
				}
			}()
			tc.f()
		})
	}
}

// TestSgemmSerialGivesSgemmBits checks SgemmSerial, the one-goroutine
// product, against Sgemm at three threads on shapes Sgemm splits into
// several jobs, for every kernel.
func TestSgemmSerialGivesSgemmBits(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		for _, sh := range []struct{ m, n, k int }{{144, 1600, 64}, {301, 70, 300}} {
			for _, tr := range [][2]bool{{false, false}, {true, true}} {
				a, lda, b, ldb, c0, ldc := operands(9, tr[0], tr[1], sh.m, sh.n, sh.k, 1)
				want := append([]float32(nil), c0...)
				prev := SetThreads(3)
				Sgemm(tr[0], tr[1], sh.m, sh.n, sh.k, 1, a, lda, b, ldb, 0.5, want, ldc)
				got := append([]float32(nil), c0...)
				SgemmSerial(tr[0], tr[1], sh.m, sh.n, sh.k, 1, a, lda, b, ldb, 0.5, got, ldc)
				SetThreads(prev)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("%v %s: C[%d] = %v, Sgemm %v", sh, transNames[tr], i, got[i], want[i])
					}
				}
			}
		}
	})
}
