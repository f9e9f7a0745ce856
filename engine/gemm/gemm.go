package gemm

import "fmt"

// Cache blocking (see doc.go). They are constants of the package, never
// derived from the thread count, so the order of every sum is fixed.
const (
	kcBlock = 256 // depth of one packed B block (rows of op(B))
	ncBlock = 512 // width of one packed B block (columns of op(B)); multiple of every nr
	mcBlock = 96  // rows of A streamed against one packed B block; multiple of every mr

	// serialFlops: products below this many flops (2mnk) run on the caller's
	// goroutine; waking a helper costs more than it saves.
	serialFlops = 1 << 20

	// cacheFloats: an operand of more floats than this (1 MB) is assumed
	// to come from memory each time a job streams it (see split).
	cacheFloats = 1 << 18

	maxMR, maxNR = 12, 32
)

// Sgemm computes
//
//	C = alpha * op(A) * op(B) + beta * C
//
// for row-major float32 matrices: op(X) is X, or X^T when transX is true;
// op(A) is m×k, op(B) is k×n, C is m×n. A is stored m×k (k×m if transA) with
// row stride lda, B is stored k×n (n×k if transB) with row stride ldb, C has
// row stride ldc. As in BLAS, C is not read when beta == 0, and A and B are
// not read when alpha == 0 or k == 0.
//
// The result is bit-identical whatever the thread count (SetThreads,
// GOMAXPROCS): work is split over M and N only. It can differ in the last
// bits between micro-kernels (see Kernel and doc.go).
//
// Sgemm panics with a "gemm: " message if a dimension is negative, a leading
// dimension is smaller than its row length, or a slice is too short.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(sliceParams(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
}

// SgemmSerial is Sgemm computed entirely on the calling goroutine, for
// callers that run several products in parallel themselves (engine/nn
// does so through SgemmFused with Fuse.Serial, which hands the rows to an
// epilogue too). It gives Sgemm's bits: the thread count never changes a
// result.
func SgemmSerial(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	p := sliceParams(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	p.serial = true
	sgemm(p)
}

// sliceParams checks Sgemm's arguments and returns them as a product.
func sliceParams(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) params {
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	checkMatrix("A", ar, ac, a, lda)
	checkMatrix("B", br, bc, b, ldb)
	checkMatrix("C", m, n, c, ldc)
	return params{transA: transA, transB: transB, m: m, n: n, k: k,
		alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
}

// sgemm runs the checked product p (its kernel and job grid unset).
func sgemm(p params) {
	if p.m == 0 || p.n == 0 {
		if p.epi != nil && p.m > 0 {
			p.epi.Rows(0, p.m) // rows of no columns
		}
		return
	}
	if p.alpha == 0 || p.k == 0 {
		scaleC(p.c, p.ldc, 0, p.m, 0, p.n, p.beta)
		if p.epi != nil {
			p.epi.Rows(0, p.m)
		}
		return
	}
	p.kern = active.Load()
	cl := getCall()
	cl.params = p
	threads := threadCount()
	if p.serial {
		threads = 1
	}
	if p.epi != nil {
		cl.splitRows(threads)
	} else {
		cl.split(threads)
	}
	run(cl)
}

func checkMatrix(name string, rows, cols int, x []float32, ld int) {
	if ld < max(cols, 1) {
		panic(fmt.Sprintf("gemm: ld%s=%d is smaller than its row length %d", lower(name), ld, cols))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(x) < need {
		panic(fmt.Sprintf("gemm: %s has %d elements, needs %d for %d×%d with stride %d", name, len(x), need, rows, cols, ld))
	}
}

func lower(s string) string { return string(s[0] + 'a' - 'A') }

// scaleC sets C[i0:i1, j0:j1] = beta*C, writing zeros (not reading C) when
// beta == 0.
func scaleC(c []float32, ldc, i0, i1, j0, j1 int, beta float32) {
	if beta == 1 {
		return
	}
	for i := i0; i < i1; i++ {
		row := c[i*ldc+j0 : i*ldc+j1]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}

// call is one Sgemm invocation shared by the caller and its helpers.
type call struct {
	params
	sync callSync
}

// params are the operands of one call and its job grid.
type params struct {
	kern           *kernel
	transA, transB bool
	m, n, k        int
	alpha, beta    float32
	a, b, c        []float32
	lda, ldb, ldc  int
	asrc, bsrc     Source // set instead of a or b by SgemmSourceA, SgemmSourceB
	serial         bool   // SgemmSerial: one job, on the caller

	// epi, if set, receives C's rows in groups of group as they are
	// finished (SgemmFused, SgemmSourceAFused).
	epi   Epilogue
	group int

	// The job grid: C is cut into jm×jn rectangles, rows in chunks of
	// mchunk (a multiple of mr) and columns in chunks of nchunk (of nr).
	jm, jn, mchunk, nchunk int
	helpers                int
}

// split chooses the job grid for up to threads workers. The grid only
// decides who computes which block of C, never how a block is computed.
//
// Every job streams all K rows of its rows of op(A) and of its columns of
// op(B) (and packs those columns of B when B needs packing), so a grid of
// jm×jn jobs reads op(A) jn times and op(B) jm times. An operand larger
// than cacheFloats comes from memory each time, so split counts
//
//	cost = (jn-1)·m·k [A large] + (jm-1)·n·k [B large]
//
// (a Source operand counts as large whatever its size: each job that
// reads it fills it again, and so does a B that is packed, not read in
// place (directB): each job packs its columns of it again) and, among
// the grids of threads to 4·threads jobs (fewer when the matrix has fewer
// blocks), takes the one with the
// most jobs (they balance uneven progress) whose cost exceeds the
// cheapest by at most 10% of one read of both operands, m·k + n·k; then
// the one whose largest job is smallest, then the cheapest, then M first. For a weight gradient (m = 64,
// n = 1,600, k = 4,608) this cuts only N, so each job streams a disjoint
// slice of the 29 MB im2col matrix once, where cutting M first streamed all
// of it once per job (and for conv1, ldb = 75, packed all of it once per
// job); a forward product (m = 4,608, n = 64) is cut along M only, as
// before.
func (cl *call) split(threads int) {
	mr, nr := cl.kern.mr, cl.kern.nr
	tm, tn := ceilDiv(cl.m, mr), ceilDiv(cl.n, nr)
	if threads <= 1 || 2*float64(cl.m)*float64(cl.n)*float64(cl.k) < serialFlops {
		cl.jm, cl.jn, cl.mchunk, cl.nchunk, cl.helpers = 1, 1, tm*mr, tn*nr, 0
		return
	}
	var costA, costB float64 // cost of one more read of op(A), op(B)
	if fa := float64(cl.m) * float64(cl.k); fa > cacheFloats || cl.asrc != nil {
		costA = fa // a Source is filled again by every job that reads it
	}
	if fb := float64(cl.n) * float64(cl.k); fb > cacheFloats || !cl.bInPlace() {
		costB = fb // a packed B is packed again by every job that reads it
	}
	lo, hi := min(threads, tm*tn), 4*threads
	// grids calls f for every distinct grid of lo..hi jobs.
	grids := func(f func(jm, jn, pm, pn int, cost float64)) {
		for jm := 1; jm <= min(tm, hi); jm++ {
			pm := ceilDiv(tm, jm) // row panels per job
			if ceilDiv(tm, pm) != jm {
				continue // the same grid as a smaller jm
			}
			for jn := 1; jn <= min(tn, hi/jm); jn++ {
				pn := ceilDiv(tn, jn)
				if ceilDiv(tn, pn) != jn || jm*jn < lo {
					continue
				}
				f(jm, jn, pm, pn, float64(jn-1)*costA+float64(jm-1)*costB)
			}
		}
	}
	cheapest := -1.0
	grids(func(_, _, _, _ int, cost float64) {
		if cheapest < 0 || cost < cheapest {
			cheapest = cost
		}
	})
	bestJobs, bestJM, bestCost, bestBig := 0, 0, 0.0, 0
	grids(func(jm, jn, pm, pn int, cost float64) {
		if cost > cheapest+0.1*(float64(cl.m)+float64(cl.n))*float64(cl.k) {
			return
		}
		jobs, big := jm*jn, pm*pn // big: blocks in the largest job
		better := jobs > bestJobs
		if jobs == bestJobs {
			better = big < bestBig || big == bestBig && (cost < bestCost || cost == bestCost && jm > bestJM)
		}
		if better {
			bestJobs, bestJM, bestCost, bestBig = jobs, jm, cost, big
			cl.mchunk, cl.nchunk = pm*mr, pn*nr
		}
	})
	if bestJobs == 0 { // no grid in range (not seen; a guard): cut M only
		cl.mchunk, cl.nchunk = ceilDiv(tm, min(tm, hi))*mr, tn*nr
	}
	cl.jm, cl.jn = ceilDiv(cl.m, cl.mchunk), ceilDiv(cl.n, cl.nchunk)
	cl.helpers = min(threads, cl.jm*cl.jn) - 1
}

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// job computes the C rectangle of job index idx.
func (cl *call) job(idx int, buf *buffers) {
	i0 := (idx / cl.jn) * cl.mchunk
	j0 := (idx % cl.jn) * cl.nchunk
	i1 := min(i0+cl.mchunk, cl.m)
	j1 := min(j0+cl.nchunk, cl.n)
	// The first K block overwrites C when beta == 0 and adds to it when
	// beta == 1; any other beta is applied by a pass over C first.
	add := 1
	switch cl.beta {
	case 0:
		add = 0
	case 1:
	default:
		scaleC(cl.c, cl.ldc, i0, i1, j0, j1, cl.beta)
	}

	done := i0 // rows handed to the epilogue (a fused product's jobs span all columns)
	for pc := 0; pc < cl.k; pc += kcBlock {
		kc := min(kcBlock, cl.k-pc)
		if pc > 0 {
			add = 1
		}
		for jc := j0; jc < j1; jc += ncBlock {
			nc := min(ncBlock, j1-jc)
			if cl.bsrc != nil {
				cl.packSourceB(buf, pc, kc, jc, nc, cl.kern)
			} else {
				cl.packB(buf.b, pc, kc, jc, nc, cl.kern)
			}
			final := cl.epi != nil && pc+kc == cl.k && jc+nc == j1
			for ic := i0; ic < i1; ic += mcBlock {
				mc := min(mcBlock, i1-ic)
				cl.block(buf, ic, mc, pc, kc, jc, nc, add)
				if final {
					done = cl.handOver(done, ic+mc, i1)
				}
			}
		}
	}
}

// block adds op(A)[ic:ic+mc, pc:pc+kc] · B[pc:pc+kc, jc:jc+nc] into C
// (overwriting C when add is 0), B being packed in buf.b by packB, one
// column panel of kern.nr at a time.
func (cl *call) block(buf *buffers, ic, mc, pc, kc, jc, nc, add int) {
	kern := cl.kern
	mr, nr := kern.mr, kern.nr
	// Byte strides of op(A): element (i, p) sits at i*rsa + p*csa.
	rsa, csa := 4*cl.lda, 4
	if cl.transA {
		rsa, csa = 4, 4*cl.lda
	}
	ldc4 := 4 * cl.ldc
	// aAt returns op(A)[ic+ir][pc].
	aAt := func(ir int) *float32 { return &cl.a[cl.aIndex(ic+ir, pc)] }
	var av []float32
	if cl.asrc != nil {
		// A Source fills the whole block, zero-padded to full row panels.
		var ri, ci int
		av, ri, ci = cl.fillA(buf, ic, mc, pc, kc, mr)
		rsa, csa = 4*ri, 4*ci
		aAt = func(ir int) *float32 { return &av[ir*ri] }
	} else if rem := mc % mr; rem != 0 {
		// The last, partial row block of A is copied into a zero-padded
		// panel once for all the column panels.
		cl.packAEdge(buf.a, ic+mc-rem, rem, pc, kc, mr)
	}
	for jr := 0; jr < nc; jr += nr {
		w := min(nr, nc-jr)
		kw := kern.forWidth(w)
		bp, csb := &buf.b[(jr/nr)*kc*nr], 4*kw.nr
		if cl.directB(w, kw.nr) {
			bp, csb = &cl.b[pc*cl.ldb+jc+jr], 4*cl.ldb
		}
		ir := 0
		if full := mc / mr; w == kw.nr && full > 0 {
			// All full row panels of the block in one call.
			i, j := ic, jc+jr
			kw.fn(kc, aAt(0), rsa, csa, bp, csb, &cl.c[i*cl.ldc+j], ldc4, add, cl.alpha,
				full, mr*rsa, mr*ldc4)
			ir = full * mr
		}
		for ; ir < mc; ir += mr {
			h := min(mr, mc-ir)
			ap, ra, ca := &buf.a[0], 4, 4*mr
			if h == mr || av != nil {
				ap, ra, ca = aAt(ir), rsa, csa
			}
			// A short panel runs a short kernel where there is one: it
			// reads the panel's first rows the same way (the rows past h
			// are zero either way).
			cl.edge(buf, kw.forRows(h), kc, ap, ra, ca, bp, csb, ic+ir, jc+jr, h, w, add)
		}
	}
}

// edge computes the h×w corner of C at (i, j), narrower or shorter than
// the kernel, by running the same kernel on a padded copy of C, so each
// element gets the same arithmetic as in a full panel.
func (cl *call) edge(buf *buffers, kw *kernel, kc int, ap *float32, ra, ca int, bp *float32, csb, i, j, h, w, add int) {
	tw := kw.nr
	t := buf.c[:cl.kern.mr*tw]
	if add != 0 {
		clear(t)
		for ii := range h {
			copy(t[ii*tw:ii*tw+w], cl.c[(i+ii)*cl.ldc+j:])
		}
	}
	kw.fn(kc, ap, ra, ca, bp, csb, &t[0], 4*tw, add, cl.alpha, 1, 0, 0)
	for ii := range h {
		copy(cl.c[(i+ii)*cl.ldc+j:(i+ii)*cl.ldc+j+w], t[ii*tw:])
	}
}

// aIndex is the index in a of op(A)[i][p].
func (cl *call) aIndex(i, p int) int {
	if cl.transA {
		return p*cl.lda + i
	}
	return i*cl.lda + p
}

// packB copies op(B)[pc:pc+kc, jc:jc+nc] into dst as ceil(nc/nr) panels
// (panel q holds columns jc+q*nr..., at dst[q*kc*nr:]; row p of a panel is
// its width contiguous floats), padding columns past nc with zeros. Every
// panel is nr wide except a last one narrow enough for kern.half, which
// is packed half.nr wide.
//
// An untransposed B is copied row by row, each stored row read once from
// left to right, so the reads stream: read panel by panel instead (or
// straight from B by the kernel), the same rows come as 128-byte pieces
// ldb floats apart, which no hardware prefetcher follows, and the weight
// gradients (B is the 4,608×1,600 im2col matrix, used by only 64 rows of
// A) ran 15% slower, fa_random's dense feedback product 20%. Panels the
// kernel reads in place (directB) are not copied.
func (cl *call) packB(dst []float32, pc, kc, jc, nc int, kern *kernel) {
	b, ldb, nr := cl.b, cl.ldb, kern.nr
	if !cl.transB {
		// Full panels are all read in place or all packed (directB
		// depends on the operands alone); q0 is the first packed one.
		q0 := 0
		if cl.directB(nr, nr) {
			q0 = nc / nr // at most the last, partial panel
			if q0*nr == nc {
				return
			}
		}
		for p := range kc {
			src := b[(pc+p)*ldb+jc:][:nc]
			for q := q0; q*nr < nc; q++ {
				w := min(nr, nc-q*nr)
				pw := kern.forWidth(w).nr
				if cl.directB(w, pw) {
					continue
				}
				row := dst[q*kc*nr+p*pw:][:pw]
				copy(row[:w], src[q*nr:])
				clear(row[w:])
			}
		}
		return
	}
	for q := 0; q*nr < nc; q++ {
		w := min(nr, nc-q*nr)
		pw := kern.forWidth(w).nr
		panel := dst[q*kc*nr : q*kc*nr+kc*pw]
		j := jc + q*nr
		if w < pw {
			clear(panel)
		}
		// op(B)[p][j] = b[j*ldb + p]: each stored row j fills one column.
		// Eight rows at a time, so each step writes 32 contiguous bytes.
		jj := 0
		for ; jj+8 <= w; jj += 8 {
			r := (j + jj) * ldb
			r0, r1 := b[r+pc:][:kc], b[r+ldb+pc:][:kc]
			r2, r3 := b[r+2*ldb+pc:][:kc], b[r+3*ldb+pc:][:kc]
			r4, r5 := b[r+4*ldb+pc:][:kc], b[r+5*ldb+pc:][:kc]
			r6, r7 := b[r+6*ldb+pc:][:kc], b[r+7*ldb+pc:][:kc]
			for p := range kc {
				d := panel[p*pw+jj:][:8]
				d[0], d[1], d[2], d[3] = r0[p], r1[p], r2[p], r3[p]
				d[4], d[5], d[6], d[7] = r4[p], r5[p], r6[p], r7[p]
			}
		}
		for ; jj < w; jj++ {
			src := b[(j+jj)*ldb+pc:][:kc]
			for p, v := range src {
				panel[p*pw+jj] = v
			}
		}
	}
}

// directB reports whether the kernel reads a column panel w wide (of a
// kernel pw wide) straight from B instead of a packed copy. It can when B
// is not transposed and the panel is full (row p of the panel is then pw
// contiguous floats of B), and the rows of B keep the panel's cache-line
// alignment (ldb a multiple of 16 floats; with conv1's odd 75 every panel
// row would straddle three cache lines). It pays unless B comes from
// memory in pieces no prefetcher follows: a B of more than cacheFloats
// whose rows lie more than directStride floats apart (the 4,608×1,600
// im2col matrix of conv2's weight gradient, fa_random's 2,304×6,400
// feedback matrix) is packed row by row instead (see packB), which made
// those products 17–21% faster; a smaller B, or one whose rows are close
// (conv1's weight gradient reads 64-float rows), is read in place, which
// saves the copy (conv1's weight gradient ran 20% slower packed). The
// arithmetic is the same either way.
func (cl *call) directB(w, pw int) bool {
	return w == pw && cl.bInPlace()
}

// bInPlace reports whether the kernel reads op(B)'s full panels in place
// (directB) rather than from panels each job packs.
func (cl *call) bInPlace() bool {
	if cl.transB || cl.bsrc != nil || cl.ldb%16 != 0 {
		return false
	}
	return cl.ldb <= directStride || float64(cl.k)*float64(cl.n) <= cacheFloats
}

// directStride is the longest row stride of B, in floats (2 KiB), at
// which the kernel reads a large B in place: the hardware's stride
// prefetchers follow strides up to about 2 KiB.
const directStride = 512

// packAEdge copies op(A)[i:i+h, pc:pc+kc] (h < mr) into dst as one kc×mr
// panel (step p holds mr contiguous floats), padding rows past h with zeros.
func (cl *call) packAEdge(dst []float32, i, h, pc, kc, mr int) {
	panel := dst[:kc*mr]
	clear(panel)
	a, lda := cl.a, cl.lda
	if cl.transA { // op(A)[i+ii][p] = a[p*lda + i+ii]: h contiguous floats per step
		for p := range kc {
			copy(panel[p*mr:p*mr+h], a[(pc+p)*lda+i:])
		}
		return
	}
	for ii := range h {
		src := a[(i+ii)*lda+pc : (i+ii)*lda+pc+kc]
		for p, v := range src {
			panel[p*mr+ii] = v
		}
	}
}

// buffers is one worker's packing space, sized for the largest kernel.
type buffers struct {
	b []float32 // packed B block: kcBlock × ncBlock
	a []float32 // packed edge panel of A: kcBlock × maxMR
	c []float32 // padded edge block of C: maxMR × maxNR

	// av receives the blocks of a Source operand (fillA, packSourceB):
	// (mcBlock+maxMR) × kcBlock, allocated on first use.
	av []float32
}

// freeBuffers and freeCalls recycle packing buffers and call records. They
// are channels rather than sync.Pools: a helper often returns an object on
// another P than the caller took it from, which a sync.Pool only finds again
// after a new allocation.
var (
	freeBuffers = make(chan *buffers, 64)
	freeCalls   = make(chan *call, 64)
)

func getBuffers() *buffers {
	select {
	case b := <-freeBuffers:
		return b
	default:
		return &buffers{
			b: make([]float32, kcBlock*ncBlock),
			a: make([]float32, kcBlock*maxMR),
			c: make([]float32, maxMR*maxNR),
		}
	}
}

func putBuffers(b *buffers) {
	select {
	case freeBuffers <- b:
	default:
	}
}

func getCall() *call {
	select {
	case cl := <-freeCalls:
		return cl
	default:
		return new(call)
	}
}

func putCall(cl *call) {
	select {
	case freeCalls <- cl:
	default:
	}
}
