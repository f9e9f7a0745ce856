package gemm

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/fabeam/fabeam/engine/internal/allocs"
	"github.com/fabeam/fabeam/engine/rng"
)

// eps32 is float32's unit roundoff, 2^-24.
const eps32 = 1.0 / (1 << 24)

// naive is the oracle: C = alpha*op(A)*op(B) + beta*C by direct loops in
// float64. It also returns, per element, the magnitude sum
// |alpha|*sum_p |op(A)[i][p]*op(B)[p][j]| + |beta*C[i][j]| that bounds the
// rounding error of any float32 evaluation order.
func naive(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) (want, mag []float64) {
	want = make([]float64, m*n)
	mag = make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s, sa float64
			for p := range k {
				var av, bv float64
				if transA {
					av = float64(a[p*lda+i])
				} else {
					av = float64(a[i*lda+p])
				}
				if transB {
					bv = float64(b[j*ldb+p])
				} else {
					bv = float64(b[p*ldb+j])
				}
				s += av * bv
				sa += math.Abs(av * bv)
			}
			cv := 0.0
			if beta != 0 {
				cv = float64(beta) * float64(c[i*ldc+j])
			}
			want[i*n+j] = float64(alpha)*s + cv
			mag[i*n+j] = math.Abs(float64(alpha))*sa + math.Abs(cv)
		}
	}
	return want, mag
}

// tolerance is the classic forward error bound for a length-k dot product
// evaluated in float32 in any order, gamma_{k+2} ≈ (k+2)·u times the
// magnitude sum, plus the alpha scaling and beta update (the +2), doubled for
// slack. A wrong index or a dropped term moves an element by about one
// whole |term|, far outside it.
func tolerance(k int, mag float64) float64 { return 2 * float64(k+3) * eps32 * mag }

// operands makes random A, B and C for the given shape with row strides
// padded by pad elements, so a kernel that confuses a stride with a length
// reads the wrong numbers. Padding of C holds a sentinel that must survive.
func operands(seed uint64, transA, transB bool, m, n, k, pad int) (a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	s := rng.New(seed, "gemm test operands")
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	lda, ldb, ldc = ac+pad, bc+pad, n+pad
	a = make([]float32, ar*lda)
	b = make([]float32, br*ldb)
	c = make([]float32, m*ldc)
	s.FillUniform(a, 1)
	s.FillUniform(b, 1)
	s.FillUniform(c, 1)
	for i := range m {
		for j := n; j < ldc; j++ {
			c[i*ldc+j] = sentinel
		}
	}
	return
}

const sentinel = -12345.5

// checkC compares every element of C against the oracle and checks the
// padding of C still holds the sentinel.
func checkC(t *testing.T, m, n, k int, c []float32, ldc int, want, mag []float64) {
	t.Helper()
	bad := 0
	for i := range m {
		for j := range ldc {
			got := c[i*ldc+j]
			if j >= n {
				if got != sentinel {
					t.Errorf("C[%d][%d] in the row padding changed to %v", i, j, got)
					bad++
				}
				continue
			}
			w := want[i*n+j]
			if d := math.Abs(float64(got) - w); !(d <= tolerance(k, mag[i*n+j])) {
				t.Errorf("C[%d][%d] = %v, want %v (diff %.3g > tol %.3g)", i, j, got, w, d, tolerance(k, mag[i*n+j]))
				bad++
			}
			if bad > 10 {
				t.Fatal("too many mismatches")
			}
		}
	}
}

// forEachKernel runs f with each micro-kernel this CPU can run forced in
// turn; kernels the CPU lacks are reported as skipped subtests.
func forEachKernel(t *testing.T, f func(t *testing.T)) {
	have := map[string]bool{}
	for _, n := range Kernels() {
		have[n] = true
	}
	for _, name := range []string{"avx512", "avx2", "generic"} {
		t.Run(name, func(t *testing.T) {
			if !have[name] {
				t.Skipf("CPU lacks the %s kernel (have %v)", name, Kernels())
			}
			defer SetKernel(name)()
			f(t)
		})
	}
}

var transNames = map[[2]bool]string{{false, false}: "NN", {false, true}: "NT", {true, false}: "TN", {true, true}: "TT"}

// shapes crosses every register block edge: 1, sizes just below, at and
// above mr ∈ {4, 6, 12} and nr ∈ {4, 16, 32}, and beyond the cache blocks
// (kcBlock = 256 so k = 300 takes two K blocks; mcBlock = 96, ncBlock = 512).
var shapes = []struct{ m, n, k int }{
	{1, 1, 1}, {1, 1, 7}, {1, 33, 5}, {13, 1, 9}, {2, 3, 4},
	{5, 15, 17}, {6, 16, 8}, {7, 17, 3}, {11, 31, 19}, {12, 32, 64},
	{13, 33, 65}, {25, 65, 10}, {24, 48, 1}, {97, 20, 300}, {37, 530, 29},
	{128, 10, 192},
}

func TestSgemmMatchesNaiveOracle(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		for si, sh := range shapes {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				for _, ab := range []struct{ alpha, beta float32 }{{1, 0}, {1, 1}, {-0.5, 2}} {
					name := fmt.Sprintf("%dx%dx%d/%s/a%v_b%v", sh.m, sh.n, sh.k, transNames[tr], ab.alpha, ab.beta)
					t.Run(name, func(t *testing.T) {
						a, lda, b, ldb, c, ldc := operands(uint64(si), tr[0], tr[1], sh.m, sh.n, sh.k, 3)
						want, mag := naive(tr[0], tr[1], sh.m, sh.n, sh.k, ab.alpha, a, lda, b, ldb, ab.beta, c, ldc)
						Sgemm(tr[0], tr[1], sh.m, sh.n, sh.k, ab.alpha, a, lda, b, ldb, ab.beta, c, ldc)
						checkC(t, sh.m, sh.n, sh.k, c, ldc, want, mag)
					})
				}
			}
		}
	})
}

// TestSgemmDirectBPanelsMatchNaive covers the path where full panels are
// read straight from B (B not transposed, ldb a multiple of 16): the
// oracle table above mostly has ldb = n+3, which packs B.
func TestSgemmDirectBPanelsMatchNaive(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		for _, sh := range []struct{ m, n, k int }{{25, 64, 300}, {13, 40, 17}, {100, 96, 513}, {7, 530, 9}} {
			for _, transA := range []bool{false, true} {
				pad := 16 + (16-sh.n%16)%16 // ldb = n + pad is a multiple of 16
				a, lda, b, ldb, c, ldc := operands(13, transA, false, sh.m, sh.n, sh.k, pad)
				if ldb%16 != 0 || !(&call{params: params{ldb: ldb}}).directB(32, 32) {
					t.Fatalf("ldb=%d does not take the direct path", ldb)
				}
				want, mag := naive(transA, false, sh.m, sh.n, sh.k, 1, a, lda, b, ldb, 1, c, ldc)
				Sgemm(transA, false, sh.m, sh.n, sh.k, 1, a, lda, b, ldb, 1, c, ldc)
				checkC(t, sh.m, sh.n, sh.k, c, ldc, want, mag)
			}
		}
	})
}

// TestSgemmLargeAlignedBIsPackedRowByRow covers an untransposed, aligned B
// too large to stay in cache (k·n above cacheFloats) with rows far apart
// (ldb above directStride), as conv2's im2col matrix is: it is packed row
// by row, not read in place, and the product still matches the float64
// sum, including a last panel narrower than the kernel.
func TestSgemmLargeAlignedBIsPackedRowByRow(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		for _, transA := range []bool{false, true} {
			m, n, k := 13, 520, 600                                           // 312,000 floats of B
			a, lda, b, ldb, c, ldc := operands(17, transA, false, m, n, k, 8) // ldb = 528
			cl := &call{params: params{transB: false, n: n, k: k, ldb: ldb}}
			if ldb%16 != 0 || cl.directB(32, 32) {
				t.Fatalf("ldb=%d, k·n=%d: want the packed path", ldb, k*n)
			}
			// conv1's weight gradient: as large, but rows 64 floats apart.
			if !(&call{params: params{n: 64, k: 51200, ldb: 64}}).directB(32, 32) {
				t.Fatal("a large B with close rows is packed")
			}
			want, mag := naive(transA, false, m, n, k, 1, a, lda, b, ldb, 1, c, ldc)
			Sgemm(transA, false, m, n, k, 1, a, lda, b, ldb, 1, c, ldc)
			checkC(t, m, n, k, c, ldc, want, mag)
		}
	})
}

// TestKernelMatchesNaive drives each micro-kernel directly on one full
// register block, with A strided (row stride 301 floats), in both modes:
// add (C += alpha·A·B) and overwrite (C = alpha·A·B, C holding NaN that
// must not be read), against the float64 sum. Columns of C beyond the block
// must be left alone.
func TestKernelMatchesNaive(t *testing.T) {
	var kernels []*kernel
	for _, k := range kernelsAvailable() {
		kernels = append(kernels, k)
		if k.half != nil {
			kernels = append(kernels, k.half)
		}
	}
	for _, kern := range kernels {
		for _, add := range []int{1, 0} {
			t.Run(fmt.Sprintf("%s/add=%d", kern.name, add), func(t *testing.T) {
				mr, nr := kern.mr, kern.nr
				const lda, ldc = 301, 40 // ldc > nr for every kernel
				for _, np := range []int{1, 3} {
					for _, kc := range []int{0, 1, 2, 7, 256} {
						// np blocks of mr rows, one every mr+1 rows of A and
						// C, so the call must step by astep and cstep; the
						// rows between blocks must stay untouched.
						rows := np * (mr + 1)
						s := rng.New(uint64(kc), "kernel test")
						a := make([]float32, rows*lda)
						b := make([]float32, kc*nr+1)
						c := make([]float32, rows*ldc)
						s.FillUniform(a, 1)
						s.FillUniform(b, 1)
						s.FillUniform(c, 1)
						inBlock := func(r int) bool { return r%(mr+1) < mr }
						if add == 0 {
							for i := range rows {
								for j := range nr {
									if inBlock(i) {
										c[i*ldc+j] = float32(math.NaN())
									}
								}
							}
						}
						c0 := append([]float32(nil), c...)
						const alpha = 0.75
						kern.fn(kc, &a[0], 4*lda, 4, &b[0], 4*nr, &c[0], 4*ldc, add, alpha,
							np, 4*lda*(mr+1), 4*ldc*(mr+1))
						for i := range rows {
							for j := range ldc {
								got := c[i*ldc+j]
								if j >= nr || !inBlock(i) {
									if !(got == c0[i*ldc+j]) {
										t.Fatalf("np=%d kc=%d: C[%d][%d] outside the blocks changed", np, kc, i, j)
									}
									continue
								}
								var sum, sa float64
								for p := range kc {
									x := float64(a[i*lda+p]) * float64(b[p*nr+j])
									sum += x
									sa += math.Abs(x)
								}
								want, mag := alpha*sum, alpha*sa
								if add != 0 {
									want += float64(c0[i*ldc+j])
									mag += math.Abs(float64(c0[i*ldc+j]))
								}
								if d := math.Abs(float64(got) - want); !(d <= tolerance(kc, mag)) {
									t.Fatalf("np=%d kc=%d: C[%d][%d] = %v, want %v", np, kc, i, j, got, want)
								}
							}
						}
					}
				}
			})
		}
	}
}

func TestSgemmBetaZeroIgnoresC(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		m, n, k := 13, 35, 9
		a, lda, b, ldb, c, ldc := operands(7, false, false, m, n, k, 0)
		want, mag := naive(false, false, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
		for i := range c {
			c[i] = float32(math.NaN())
		}
		Sgemm(false, false, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
		checkC(t, m, n, k, c, ldc, want, mag)
	})
}

func TestSgemmAlphaZeroOrKZeroOnlyScalesC(t *testing.T) {
	m, n := 5, 7
	for _, tc := range []struct {
		name  string
		k     int
		alpha float32
	}{{"alpha=0", 4, 0}, {"k=0", 0, 1}} {
		t.Run(tc.name, func(t *testing.T) {
			a := make([]float32, m*max(tc.k, 1))
			b := make([]float32, max(tc.k, 1)*n)
			for i := range a {
				a[i] = float32(math.NaN()) // must not be read
			}
			for i := range b {
				b[i] = float32(math.Inf(1))
			}
			c := make([]float32, m*n)
			for i := range c {
				c[i] = float32(i)
			}
			Sgemm(false, false, m, n, tc.k, tc.alpha, a, max(tc.k, 1), b, n, 3, c, n)
			for i, v := range c {
				if v != 3*float32(i) {
					t.Fatalf("C[%d] = %v, want 3*%d = %v", i, v, i, 3*float32(i))
				}
			}
		})
	}
}

// TestSgemmThreadCountDoesNotChangeBits checks determinism: each kernel
// gives bit-identical C with 1, 2, 3 and 8 threads on shapes big enough to
// be split (2mnk above serialFlops) and with edges in both M and N.
func TestSgemmThreadCountDoesNotChangeBits(t *testing.T) {
	shapes := []struct{ m, n, k int }{{301, 70, 300}, {50, 530, 77}, {128, 384, 576}}
	forEachKernel(t, func(t *testing.T) {
		for _, sh := range shapes {
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}} {
				a, lda, b, ldb, c0, ldc := operands(11, tr[0], tr[1], sh.m, sh.n, sh.k, 1)
				var ref []float32
				for _, th := range []int{1, 2, 3, 8} {
					c := append([]float32(nil), c0...)
					prev := SetThreads(th)
					Sgemm(tr[0], tr[1], sh.m, sh.n, sh.k, 1.5, a, lda, b, ldb, 0.5, c, ldc)
					SetThreads(prev)
					if ref == nil {
						ref = c
						continue
					}
					for i := range c {
						if math.Float32bits(c[i]) != math.Float32bits(ref[i]) {
							t.Fatalf("%v %s: %d threads: C[%d] = %v, 1 thread gave %v", sh, transNames[tr], th, i, c[i], ref[i])
						}
					}
				}
			}
		}
	})
}

// TestAssemblyKernelsAgreeBitForBit checks that the AVX-512 and AVX2
// kernels give the same bits: each element is the same chain of fused
// multiply-adds over the same K blocks, so a study resumed on a machine of
// the other class continues exactly. Shapes cross the register and cache
// block edges of both kernels, in every transpose, with subnormal operands
// (flushed by both) among them.
func TestAssemblyKernelsAgreeBitForBit(t *testing.T) {
	have := map[string]bool{}
	for _, n := range Kernels() {
		have[n] = true
	}
	if !have["avx512"] || !have["avx2"] {
		t.Skipf("needs both assembly kernels; this CPU has %v", Kernels())
	}
	sizes := append([]struct{ m, n, k int }{{301, 70, 300}, {50, 530, 77}, {128, 384, 576}, {64, 75, 1200}}, shapes...)
	for si, sh := range sizes {
		for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
			a, lda, b, ldb, c0, ldc := operands(uint64(20+si), tr[0], tr[1], sh.m, sh.n, sh.k, 1)
			a[0], b[len(b)/2] = 1e-40, -3e-39 // subnormal
			var got [2][]float32
			for i, name := range []string{"avx512", "avx2"} {
				restore := SetKernel(name)
				got[i] = append([]float32(nil), c0...)
				Sgemm(tr[0], tr[1], sh.m, sh.n, sh.k, 1.5, a, lda, b, ldb, 0.5, got[i], ldc)
				restore()
			}
			for i := range got[0] {
				if math.Float32bits(got[0][i]) != math.Float32bits(got[1][i]) {
					t.Fatalf("%v %s: C[%d] = %v with avx512, %v with avx2", sh, transNames[tr], i, got[0][i], got[1][i])
				}
			}
		}
	}
}

// TestHalfKernelGivesFullKernelBits checks that a last column panel run by
// the half-width kernel (n = 40 = 32 + 8) gets the same bits as when the
// same columns sit in a full panel (n = 64), so edge handling never changes
// a result.
func TestHalfKernelGivesFullKernelBits(t *testing.T) {
	forEachKernel(t, func(t *testing.T) {
		const m, k, wide, narrow = 25, 300, 64, 40
		a, lda, b, ldb, _, _ := operands(9, false, false, m, wide, k, 0)
		cw := make([]float32, m*wide)
		cn := make([]float32, m*narrow)
		Sgemm(false, false, m, wide, k, 0.5, a, lda, b, ldb, 0, cw, wide)
		Sgemm(false, false, m, narrow, k, 0.5, a, lda, b, ldb, 0, cn, narrow)
		for i := range m {
			for j := range narrow {
				if math.Float32bits(cn[i*narrow+j]) != math.Float32bits(cw[i*wide+j]) {
					t.Fatalf("C[%d][%d]: n=%d gives %v, n=%d gives %v", i, j, narrow, cn[i*narrow+j], wide, cw[i*wide+j])
				}
			}
		}
	})
}

// TestSplitUsesSeveralJobs guards the determinism test above: it would be
// vacuous if those shapes were never cut into several jobs.
func TestSplitUsesSeveralJobs(t *testing.T) {
	for _, kern := range kernelsAvailable() {
		cl := &call{params: params{kern: kern, m: 301, n: 70, k: 300}}
		cl.split(2)
		if cl.jm*cl.jn < 2 || cl.helpers != 1 {
			t.Errorf("%s: 301×70×300 on 2 threads split into %d×%d jobs with %d helpers", kern.name, cl.jm, cl.jn, cl.helpers)
		}
		if cl.mchunk%kern.mr != 0 || cl.nchunk%kern.nr != 0 {
			t.Errorf("%s: chunks %d×%d not multiples of the %d×%d block", kern.name, cl.mchunk, cl.nchunk, kern.mr, kern.nr)
		}
		cl.split(1)
		if cl.jm*cl.jn != 1 {
			t.Errorf("%s: 1 thread split into %d jobs", kern.name, cl.jm*cl.jn)
		}
	}
}

// TestSplitCutsAlongTheSmallOperand checks split's traffic rule (gemm.go)
// on the network's batch-128 shapes at 2 threads, for every kernel: a
// weight gradient (small A, 29 MB B) is cut along N only, so each job
// streams a disjoint slice of B once; a forward or input-gradient product
// (large A, small B) along M only; conv1's transposed weight gradient
// (75×64, both operands large) into two equal column jobs. And every grid,
// for 2, 3 and 8 threads, has between min(threads, blocks) and 4·threads
// jobs, chunks that are multiples of the register block, and no more
// helpers than jobs-1.
func TestSplitCutsAlongTheSmallOperand(t *testing.T) {
	cases := []struct {
		m, n, k        int
		oneRow, oneCol bool // want jm == 1, jn == 1
	}{
		{64, 1600, 4608, true, false},  // conv2 dW
		{128, 6400, 2304, true, false}, // fa_random dense feedback
		{4608, 64, 1600, false, true},  // conv2 forward
		{4608, 1600, 64, false, true},  // conv2 input gradient
		{51200, 64, 75, false, true},   // conv1 forward
		{75, 64, 51200, true, false},   // conv1 dW, transposed (nn)
	}
	for _, kern := range kernelsAvailable() {
		for _, c := range cases {
			cl := &call{params: params{kern: kern, m: c.m, n: c.n, k: c.k}}
			cl.split(2)
			if c.oneRow && cl.jm != 1 || c.oneCol && cl.jn != 1 || cl.jm*cl.jn < 2 {
				t.Errorf("%s %d×%d×%d: 2 threads split into %d×%d jobs; want one job %s and at least 2 jobs",
					kern.name, c.m, c.n, c.k, cl.jm, cl.jn, map[bool]string{true: "row", false: "column"}[c.oneRow])
			}
			for _, th := range []int{2, 3, 8} {
				cl.split(th)
				jobs, blocks := cl.jm*cl.jn, ceilDiv(c.m, kern.mr)*ceilDiv(c.n, kern.nr)
				if jobs < min(th, blocks) || jobs > 4*th || cl.helpers > jobs-1 ||
					cl.mchunk%kern.mr != 0 || cl.nchunk%kern.nr != 0 {
					t.Errorf("%s %d×%d×%d on %d threads: %d×%d jobs of %d×%d, %d helpers",
						kern.name, c.m, c.n, c.k, th, cl.jm, cl.jn, cl.mchunk, cl.nchunk, cl.helpers)
				}
			}
		}
	}
}

// TestSplitDoesNotRepackASmallB: a product whose B must be packed (the
// linear layers' forward X·Wᵀ, B transposed) is cut along N when A is
// small, so W is packed once per call in all (each job packs its own
// columns), where cutting M had every job pack the same columns again;
// the same shapes with B read in place may still cut M.
func TestSplitDoesNotRepackASmallB(t *testing.T) {
	for _, kern := range kernelsAvailable() {
		for _, c := range [][3]int{{128, 384, 576}, {128, 192, 384}} { // fc1, fc2 forward
			m, n, k := c[0], c[1], c[2]
			cl := &call{params: params{kern: kern, transB: true, m: m, n: n, k: k, ldb: k}}
			cl.split(2)
			if cl.jm != 1 || cl.jn < 2 {
				t.Errorf("%s %d×%d×%d, B transposed, 2 threads: %d×%d jobs; want one row of at least 2", kern.name, m, n, k, cl.jm, cl.jn)
			}
			if cl.bInPlace() {
				t.Errorf("%s: a transposed B reported as read in place", kern.name)
			}
			cl = &call{params: params{kern: kern, m: m, n: n, k: k, ldb: n}}
			if !cl.bInPlace() {
				t.Errorf("%s %d×%d×%d: B with ldb %d not read in place", kern.name, m, n, k, n)
			}
		}
	}
}

// TestSplitAlwaysFindsAGrid sweeps small and large m, n (1..2,000, k large
// enough to be split) and 2..16 threads: every grid must have positive
// chunks that are multiples of the block, cover C, and have from
// min(threads, blocks) to 4·threads jobs.
func TestSplitAlwaysFindsAGrid(t *testing.T) {
	dims := []int{1, 5, 12, 13, 31, 32, 33, 64, 75, 97, 384, 577, 1600, 2000}
	for _, kern := range kernelsAvailable() {
		for _, m := range dims {
			for _, n := range dims {
				for th := 2; th <= 16; th++ {
					cl := &call{params: params{kern: kern, m: m, n: n, k: 1 << 20}}
					cl.split(th)
					jobs, blocks := cl.jm*cl.jn, ceilDiv(m, kern.mr)*ceilDiv(n, kern.nr)
					if cl.mchunk <= 0 || cl.nchunk <= 0 || cl.mchunk%kern.mr != 0 || cl.nchunk%kern.nr != 0 ||
						cl.jm*cl.mchunk < m || cl.jn*cl.nchunk < n || jobs < min(th, blocks) || jobs > 4*th {
						t.Fatalf("%s %d×%d on %d threads: %d×%d jobs of %d×%d", kern.name, m, n, th, cl.jm, cl.jn, cl.mchunk, cl.nchunk)
					}
				}
			}
		}
	}
}

// TestSgemmNSplitDoesNotChangeBits is the determinism check for a shape
// whose B (9,000×300, 10.8 MB) is large enough for split to cut only N
// (TestSplitCutsAlongTheSmallOperand), in the weight-gradient layout (TN):
// 1, 2, 3 and 8 threads give the same bits, for every kernel.
func TestSgemmNSplitDoesNotChangeBits(t *testing.T) {
	const m, n, k = 40, 300, 9000
	forEachKernel(t, func(t *testing.T) {
		a, lda, b, ldb, c0, ldc := operands(12, true, false, m, n, k, 0)
		var ref []float32
		for _, th := range []int{1, 2, 3, 8} {
			c := append([]float32(nil), c0...)
			prev := SetThreads(th)
			Sgemm(true, false, m, n, k, 1, a, lda, b, ldb, 1, c, ldc)
			SetThreads(prev)
			if ref == nil {
				ref = c
				continue
			}
			for i := range c {
				if math.Float32bits(c[i]) != math.Float32bits(ref[i]) {
					t.Fatalf("%d threads: C[%d] = %v, 1 thread gave %v", th, i, c[i], ref[i])
				}
			}
		}
	})
}

// TestSgemmConcurrentCallers runs products from several goroutines at once
// through the shared pool; each must equal its single-caller result.
func TestSgemmConcurrentCallers(t *testing.T) {
	m, n, k := 100, 64, 200
	a, lda, b, ldb, c0, ldc := operands(3, false, true, m, n, k, 0)
	ref := append([]float32(nil), c0...)
	Sgemm(false, true, m, n, k, 1, a, lda, b, ldb, 1, ref, ldc)
	var wg sync.WaitGroup
	errs := make(chan string, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				c := append([]float32(nil), c0...)
				Sgemm(false, true, m, n, k, 1, a, lda, b, ldb, 1, c, ldc)
				for i := range c {
					if c[i] != ref[i] {
						errs <- fmt.Sprintf("goroutine %d: C[%d] = %v, want %v", g, i, c[i], ref[i])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestSgemmDoesNotAllocate(t *testing.T) {
	m, n, k := 256, 64, 300 // about 10 MFLOP: split across the pool
	a, lda, b, ldb, c, ldc := operands(5, false, false, m, n, k, 0)
	prev := SetThreads(2)
	defer SetThreads(prev)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	got := allocs.Steady(5, 10, 20, func() {
		Sgemm(false, false, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
	})
	if got != 0 {
		t.Errorf("Sgemm allocated %.1f times per call, want 0", got)
	}
}

func TestSgemmPanicsOnBadArguments(t *testing.T) {
	buf := make([]float32, 100)
	for _, tc := range []struct {
		name string
		f    func()
		msg  string
	}{
		{"negative m", func() { Sgemm(false, false, -1, 2, 2, 1, buf, 2, buf, 2, 0, buf, 2) }, "negative dimension"},
		{"lda too small", func() { Sgemm(false, false, 2, 2, 3, 1, buf, 2, buf, 2, 0, buf, 2) }, "lda=2"},
		{"ldb too small for transB", func() { Sgemm(false, true, 2, 2, 3, 1, buf, 3, buf, 2, 0, buf, 2) }, "ldb=2"},
		{"short A", func() { Sgemm(false, false, 20, 2, 10, 1, buf, 10, buf, 2, 0, buf, 2) }, "A has 100 elements, needs 200"},
		{"short C", func() { Sgemm(false, false, 2, 60, 1, 1, buf, 1, buf, 60, 0, buf, 60) }, "C has 100 elements"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				r := recover()
				s, _ := r.(string)
				if !strings.HasPrefix(s, "gemm: ") || !strings.Contains(s, tc.msg) {
					t.Errorf("panic %q, want a gemm: panic mentioning %q", r, tc.msg)
				}
			}()
			tc.f()
		})
	}
}

func TestSetKernelRestoresAndRejectsUnknown(t *testing.T) {
	before := Kernel()
	if before != Kernels()[0] {
		t.Errorf("Kernel() = %q, want the best available %q", before, Kernels()[0])
	}
	restore := SetKernel("generic")
	if Kernel() != "generic" {
		t.Errorf("after SetKernel(generic), Kernel() = %q", Kernel())
	}
	restore()
	if Kernel() != before {
		t.Errorf("restore left %q, want %q", Kernel(), before)
	}
	defer func() {
		if r := recover(); r == nil {
			t.Error("SetKernel(\"sse9\") did not panic")
		}
	}()
	SetKernel("sse9")
}

func TestKernelChoiceFollowsCPU(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("kernel choice by CPU features is amd64-only")
	}
	want := "generic"
	if hasAVX2 {
		want = "avx2"
	}
	if hasAVX512 {
		want = "avx512"
	}
	if got := Kernels()[0]; got != want {
		t.Errorf("best kernel %q, want %q for this CPU", got, want)
	}
}
