package gemm

import "fmt"

// Epilogue finishes rows of a product's C while the product still has
// them in cache: a convolution's bias, ReLU and max-pool, or the col2im
// that scatters its input gradient, run on each block of output rows as
// soon as the block holds its final values, instead of in a pass over the
// whole of C afterwards.
//
// A product given an Epilogue (SgemmFused, SgemmSourceAFused) hands every
// row of C to Rows exactly once, in whole groups of Group rows, after the
// last K block has been added into it and beta applied: C is then what the
// same product without an epilogue leaves, bit for bit, and Rows may read
// and even overwrite it. Each job of the product hands its rows over in
// increasing order, as its row blocks of at most 96 rows are finished; the
// jobs of a parallel product call Rows on several goroutines at once, on
// disjoint rows.
type Epilogue interface {
	// Group returns how many consecutive rows Rows takes together (a
	// convolution's pooled row: two output rows of positions). It must be
	// at least 1 and must not change during the product.
	Group() int
	// Rows finishes rows [i0, i1) of C. i0 is a multiple of Group, and
	// so is i1 unless it is m, the product's last row.
	Rows(i0, i1 int)
}

// Fuse says how a fused product runs: the Epilogue its rows go to, and
// whether it runs on the calling goroutine alone (as SgemmSerial), for
// callers that run several products in parallel themselves.
type Fuse struct {
	// Epilogue receives C's rows as they are finished; it must not be nil.
	Epilogue Epilogue
	// Serial runs the product as one job on the calling goroutine.
	Serial bool
}

// SgemmFused is Sgemm that hands C's rows to f.Epilogue as they are
// finished (see Epilogue), on the caller alone when f.Serial. A parallel
// product is cut along M only, into jobs of whole groups, so that every
// job finishes whole rows; the cut never changes a result. It panics, as
// Sgemm does, on bad dimensions, and on a nil Epilogue or a Group below 1.
func SgemmFused(f Fuse, transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	p := sliceParams(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
	p.setFuse(f)
	sgemm(p)
}

// SgemmSourceAFused is SgemmSourceA that hands C's rows to f.Epilogue as
// they are finished, as SgemmFused does. It panics, as SgemmSourceA does,
// on bad dimensions, and on a nil Epilogue or a Group below 1.
func SgemmSourceAFused(f Fuse, transA, transB bool, m, n, k int, alpha float32, a Source, b []float32, ldb int, beta float32, c []float32, ldc int) {
	p := sourceAParams(transA, transB, m, n, k, alpha, a, b, ldb, beta, c, ldc)
	p.setFuse(f)
	sgemm(p)
}

// setFuse checks f and records it in p.
func (p *params) setFuse(f Fuse) {
	if f.Epilogue == nil {
		panic("gemm: a fused product needs an Epilogue")
	}
	g := f.Epilogue.Group()
	if g < 1 {
		panic(fmt.Sprintf("gemm: Epilogue.Group() = %d, must be at least 1", g))
	}
	p.epi, p.group, p.serial = f.Epilogue, g, f.Serial
}

// splitRows is split for a fused product: jobs of whole rows (jn = 1),
// each starting at a multiple of both the kernel's mr and the group, as
// many as split would prefer for a product cut along M (up to four per
// thread, so uneven progress balances), none shorter than one unit.
func (cl *call) splitRows(threads int) {
	mr, nr := cl.kern.mr, cl.kern.nr
	unit := mr * cl.group / gcd(mr, cl.group)
	units := ceilDiv(cl.m, unit)
	jobs := 1
	if threads > 1 && 2*float64(cl.m)*float64(cl.n)*float64(cl.k) >= serialFlops {
		jobs = min(units, 4*threads)
	}
	cl.mchunk = ceilDiv(units, jobs) * unit
	cl.nchunk = ceilDiv(cl.n, nr) * nr
	cl.jm, cl.jn = ceilDiv(cl.m, cl.mchunk), 1
	cl.helpers = min(threads, cl.jm) - 1
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// handOver gives the epilogue the rows of the job's rows [done, i1) that
// are finished: those below end, cut down to whole groups unless end is
// the job's last row (a job starts at a multiple of the group). It
// returns the new done.
func (cl *call) handOver(done, end, i1 int) int {
	if end < i1 {
		end -= end % cl.group
	}
	if end > done {
		cl.epi.Rows(done, end)
		done = end
	}
	return done
}
