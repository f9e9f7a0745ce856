package gemm

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/fabeam/fabeam/engine/internal/allocs"
)

// recorder is an Epilogue that checks the hand-over contract: every call
// takes whole groups (i1 may be m), no row comes twice, and, as a proof
// that the rows were final, it copies them and then negates them in C, so
// that a product writing a row after handing it over leaves a value that
// is not the negated copy.
type recorder struct {
	group, m, n, ldc int
	c                []float32

	mu    sync.Mutex
	seen  []int     // how many times each row was handed over
	snap  []float32 // m×n: the rows as handed over
	calls int
	err   error
}

func newRecorder(group, m, n int, c []float32, ldc int) *recorder {
	return &recorder{group: group, m: m, n: n, ldc: ldc, c: c, seen: make([]int, m), snap: make([]float32, m*n)}
}

func (r *recorder) Group() int { return r.group }

func (r *recorder) Rows(i0, i1 int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if i0 < 0 || i1 > r.m || i0 >= i1 || i0%r.group != 0 || (i1%r.group != 0 && i1 != r.m) {
		if r.err == nil {
			r.err = fmt.Errorf("Rows(%d, %d) with group %d and m %d", i0, i1, r.group, r.m)
		}
		return
	}
	for i := i0; i < i1; i++ {
		r.seen[i]++
		if r.n == 0 {
			continue
		}
		row := r.c[i*r.ldc : i*r.ldc+r.n]
		copy(r.snap[i*r.n:], row)
		for j := range row {
			row[j] = -row[j]
		}
	}
}

// check reports the first breach of the contract, comparing the rows as
// handed over with want (m×n, stride ldc) bit for bit.
func (r *recorder) check(want []float32) error {
	if r.err != nil {
		return r.err
	}
	for i, s := range r.seen {
		if s != 1 {
			return fmt.Errorf("row %d handed over %d times", i, s)
		}
		for j := range r.n {
			w, got, after := want[i*r.ldc+j], r.snap[i*r.n+j], r.c[i*r.ldc+j]
			if math.Float32bits(got) != math.Float32bits(w) {
				return fmt.Errorf("C[%d][%d] handed over as %v, the product's value is %v", i, j, got, w)
			}
			if math.Float32bits(after) != math.Float32bits(-got) {
				return fmt.Errorf("C[%d][%d] = %v after the product, the epilogue left %v: written after it was handed over", i, j, after, -got)
			}
		}
	}
	return nil
}

// TestFusedProductsHandOverFinalRows checks SgemmFused and
// SgemmSourceAFused against Sgemm for every kernel: each row reaches the
// epilogue exactly once, in whole groups, holding Sgemm's final bits, and
// is never written again (see recorder). The shapes take several K blocks
// (k = 300, 700: a row handed over before the last one would hold a
// partial sum), several B blocks (n = 530, 1,600), several row blocks and
// jobs, and the network's two fused products (conv1's chunk, 1,600×64×75
// in pooled rows of 40; conv2's input-gradient chunk, 144×1,600×64 in
// samples of 36); groups that do and do not divide the row blocks; beta
// 0, 1 and 0.5; serial, and parallel on one and three threads.
func TestFusedProductsHandOverFinalRows(t *testing.T) {
	cases := []struct {
		m, n, k int
		groups  []int
	}{
		{1, 1, 1, []int{1, 3}},
		{97, 20, 300, []int{1, 12, 40}},
		{37, 530, 29, []int{7}},
		{301, 70, 700, []int{12, 40}},
		{1600, 64, 75, []int{40}},
		{144, 1600, 64, []int{36}},
	}
	forEachKernel(t, func(t *testing.T) {
		for _, tc := range cases {
			for _, g := range tc.groups {
				for _, beta := range []float32{0, 1, 0.5} {
					tr := [2]bool{false, beta == 1} // NT where beta is 1 (a transposed B), else NN
					a, lda, b, ldb, c0, ldc := operands(31, tr[0], tr[1], tc.m, tc.n, tc.k, 2)
					want := append([]float32(nil), c0...)
					Sgemm(tr[0], tr[1], tc.m, tc.n, tc.k, 0.75, a, lda, b, ldb, beta, want, ldc)
					for _, mode := range []struct {
						serial  bool
						threads int
					}{{true, 3}, {false, 1}, {false, 3}} {
						prev := SetThreads(mode.threads)
						for _, src := range []bool{false, true} {
							name := fmt.Sprintf("%dx%dx%d/%s/group=%d/beta=%v/serial=%v/threads=%d/source=%v",
								tc.m, tc.n, tc.k, transNames[tr], g, beta, mode.serial, mode.threads, src)
							c := append([]float32(nil), c0...)
							rec := newRecorder(g, tc.m, tc.n, c, ldc)
							f := Fuse{Epilogue: rec, Serial: mode.serial}
							if src {
								SgemmSourceAFused(f, tr[0], tr[1], tc.m, tc.n, tc.k, 0.75, &sliceSource{x: a, rows: tc.m, cols: tc.k, ld: lda}, b, ldb, beta, c, ldc)
							} else {
								SgemmFused(f, tr[0], tr[1], tc.m, tc.n, tc.k, 0.75, a, lda, b, ldb, beta, c, ldc)
							}
							if err := rec.check(want); err != nil {
								SetThreads(prev)
								t.Fatalf("%s: %v", name, err)
							}
							if mode.serial && rec.calls > ceilDiv(tc.m, mcBlock)+1 {
								t.Errorf("%s: %d hand-overs, want at most one per row block and one for the rest", name, rec.calls)
							}
						}
						SetThreads(prev)
					}
				}
			}
		}
	})
}

// TestFusedProductsWithNothingToMultiply checks that the rows still reach
// the epilogue, once, when alpha or k is zero (C is only scaled by beta)
// or n is zero, and that a product of no rows calls nothing.
func TestFusedProductsWithNothingToMultiply(t *testing.T) {
	const m, n, k = 50, 20, 30
	a, lda, b, ldb, c0, ldc := operands(7, false, false, m, n, k, 0)
	for _, tc := range []struct {
		name     string
		alpha    float32
		n, k     int
		beta     float32
		scaled   float32 // C as handed over is c0 times this
		wantRows int
	}{
		{"alpha=0", 0, n, k, 0.5, 0.5, m},
		{"k=0", 1, n, 0, 2, 2, m},
	} {
		c := append([]float32(nil), c0...)
		rec := newRecorder(8, m, tc.n, c, ldc)
		SgemmFused(Fuse{Epilogue: rec}, false, false, m, tc.n, tc.k, tc.alpha, a, lda, b, ldb, tc.beta, c, ldc)
		want := append([]float32(nil), c0...)
		for i := range want {
			want[i] *= tc.scaled
		}
		if err := rec.check(want); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
	rec := newRecorder(8, m, 0, nil, 1)
	SgemmFused(Fuse{Epilogue: rec}, false, false, m, 0, k, 1, a, lda, nil, 1, 0, nil, 1)
	if err := rec.check(nil); err != nil || rec.calls != 1 {
		t.Errorf("n=0: %d calls (want 1), %v", rec.calls, err)
	}
	rec = newRecorder(8, 0, n, nil, n)
	SgemmFused(Fuse{Epilogue: rec}, false, false, 0, n, k, 1, nil, k, b, ldb, 0, nil, n)
	if rec.calls != 0 {
		t.Errorf("m=0: %d calls, want 0", rec.calls)
	}
}

// TestSplitRowsCutsWholeGroups checks the fused products' grid: on two
// and three threads the network's batch-128 conv2 forward (4,608×64×1,600
// in pooled rows of 12) and an awkward group (40, which no mr divides)
// get several jobs, all of whole rows, each a multiple of both the group
// and the register block, and no more helpers than jobs-1; on one thread,
// or serial, one job.
func TestSplitRowsCutsWholeGroups(t *testing.T) {
	for _, kern := range kernelsAvailable() {
		for _, tc := range []struct{ m, n, k, group int }{{4608, 64, 1600, 12}, {51200, 64, 75, 40}, {1000, 64, 300, 40}} {
			for _, threads := range []int{1, 2, 3} {
				cl := &call{params: params{kern: kern, m: tc.m, n: tc.n, k: tc.k, group: tc.group}}
				cl.splitRows(threads)
				name := fmt.Sprintf("%s/%dx%dx%d/group=%d/threads=%d", kern.name, tc.m, tc.n, tc.k, tc.group, threads)
				jobs := cl.jm * cl.jn
				switch {
				case cl.jn != 1 || cl.nchunk < tc.n:
					t.Errorf("%s: %d column jobs of %d, want one spanning all %d columns", name, cl.jn, cl.nchunk, tc.n)
				case cl.mchunk%kern.mr != 0 || cl.mchunk%tc.group != 0:
					t.Errorf("%s: jobs of %d rows, not whole groups of %d and row panels of %d", name, cl.mchunk, tc.group, kern.mr)
				case threads == 1 && jobs != 1:
					t.Errorf("%s: %d jobs on one thread", name, jobs)
				case threads > 1 && (jobs < threads || jobs > 4*threads):
					t.Errorf("%s: %d jobs, want %d to %d", name, jobs, threads, 4*threads)
				case cl.helpers != min(threads, jobs)-1:
					t.Errorf("%s: %d helpers for %d jobs", name, cl.helpers, jobs)
				}
			}
		}
	}
}

// countRows is an Epilogue that counts the rows it is handed, for the
// allocation test.
type countRows struct {
	group int
	mu    sync.Mutex
	rows  int
}

func (e *countRows) Group() int { return e.group }
func (e *countRows) Rows(i0, i1 int) {
	e.mu.Lock()
	e.rows += i1 - i0
	e.mu.Unlock()
}

func TestFusedProductsDoNotAllocate(t *testing.T) {
	const m, n, k = 256, 64, 300
	a, lda, b, ldb, c, ldc := operands(5, false, false, m, n, k, 0)
	sa := &sliceSource{x: a, rows: m, cols: k, ld: lda}
	epi := &countRows{group: 12}
	prev := SetThreads(2)
	defer SetThreads(prev)
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	for name, run := range map[string]func(){
		"SgemmFused": func() { SgemmFused(Fuse{Epilogue: epi}, false, false, m, n, k, 1, a, lda, b, ldb, 0, c, ldc) },
		"SgemmFused/serial": func() {
			SgemmFused(Fuse{Epilogue: epi, Serial: true}, false, false, m, n, k, 1, a, lda, b, ldb, 0, c, ldc)
		},
		"SgemmSourceAFused": func() { SgemmSourceAFused(Fuse{Epilogue: epi}, false, false, m, n, k, 1, sa, b, ldb, 0, c, ldc) },
		"SgemmSourceAFused/serial": func() {
			SgemmSourceAFused(Fuse{Epilogue: epi, Serial: true}, false, false, m, n, k, 1, sa, b, ldb, 0, c, ldc)
		},
	} {
		if got := allocs.Steady(5, 10, 20, run); got != 0 {
			t.Errorf("%s allocated %.1f times per call, want 0", name, got)
		}
	}
	if epi.rows%m != 0 || epi.rows == 0 {
		t.Errorf("the epilogue saw %d rows, not a whole number of %d-row products", epi.rows, m)
	}
}

func TestFusedProductsPanicOnABadEpilogue(t *testing.T) {
	c := make([]float32, 4)
	for _, tc := range []struct {
		name string
		f    Fuse
		msg  string
	}{
		{"nil", Fuse{}, "needs an Epilogue"},
		{"group 0", Fuse{Epilogue: &countRows{group: 0}}, "Group() = 0"},
	} {
		func() {
			defer func() {
				r := recover()
				if s, _ := r.(string); !strings.Contains(s, tc.msg) {
					t.Errorf("%s: panic %v, want one containing %q", tc.name, r, tc.msg)
				}
			}()
			SgemmFused(tc.f, false, false, 2, 2, 2, 1, c, 2, c, 2, 0, c, 2)
		}()
	}
}
