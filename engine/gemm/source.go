package gemm

import "fmt"

// Source is a matrix that SgemmSourceA and SgemmSourceB read block by
// block through Fill instead of from a slice: an implicit operand, such as
// a convolution's im2col matrix, which the GEMM then never needs
// materialised. The GEMM asks for each block when it packs it, so a
// source's values are produced into a buffer that stays in cache, once per
// use, in place of being written to memory by one pass and read back by
// the next.
//
// A product that reads a Source computes exactly what Sgemm computes on
// the materialised matrix, bit for bit: the same kernel sums the same
// products in the same order with the same K blocks. The Source must not
// change during the call, and Fill must be safe to call from several
// goroutines at once (the call's helpers fill their own blocks).
type Source interface {
	// Dims returns the stored matrix's rows and columns (before any
	// transpose the product applies).
	Dims() (rows, cols int)
	// Fill writes the block X[r0:r0+rows, c0:c0+cols] of the stored matrix
	// X into dst, its row i at dst[i*ld:i*ld+cols]. It must not write
	// anything else in dst. The block always lies inside Dims.
	Fill(dst []float32, ld, r0, rows, c0, cols int)
}

// SgemmSourceA is Sgemm with op(A) read from a Source: C = alpha *
// op(A)·op(B) + beta*C, where a's stored matrix is m×k (k×m if transA).
// Each job fills one row block of op(A) (at most 96 rows × 256 of K) at a
// time into its own buffer. It panics, as Sgemm does, on bad dimensions.
func SgemmSourceA(transA, transB bool, m, n, k int, alpha float32, a Source, b []float32, ldb int, beta float32, c []float32, ldc int) {
	sgemm(sourceAParams(transA, transB, m, n, k, alpha, a, b, ldb, beta, c, ldc))
}

// sourceAParams checks SgemmSourceA's arguments and returns them as a
// product.
func sourceAParams(transA, transB bool, m, n, k int, alpha float32, a Source, b []float32, ldb int, beta float32, c []float32, ldc int) params {
	checkSource("A", a, transA, m, k)
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMatrix("B", br, bc, b, ldb)
	checkMatrix("C", m, n, c, ldc)
	return params{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
		asrc: a, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc}
}

// SgemmSourceB is Sgemm with op(B) read from a Source, whose stored
// matrix is k×n (n×k if transB). Its blocks are filled straight into the
// packed panels, so a Source B costs no more copying than a slice B that
// needs packing. It panics, as Sgemm does, on bad dimensions.
func SgemmSourceB(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b Source, beta float32, c []float32, ldc int) {
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	checkMatrix("A", ar, ac, a, lda)
	checkSource("B", b, transB, k, n)
	checkMatrix("C", m, n, c, ldc)
	sgemm(params{transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
		a: a, lda: lda, bsrc: b, beta: beta, c: c, ldc: ldc})
}

// checkSource panics unless src is a matrix that op() turns into r×c.
func checkSource(name string, src Source, trans bool, r, c int) {
	if r < 0 || c < 0 {
		panic(fmt.Sprintf("gemm: negative dimension in a %d×%d op(%s)", r, c, name))
	}
	if src == nil {
		panic("gemm: Source " + name + " is nil")
	}
	if trans {
		r, c = c, r
	}
	if sr, sc := src.Dims(); sr != r || sc != c {
		panic(fmt.Sprintf("gemm: Source %s is %d×%d, the product needs %d×%d", name, sr, sc, r, c))
	}
}

// fillA fills op(A)[ic:ic+mc, pc:pc+kc] from cl.asrc into buf.av and
// returns where the kernel reads it: element (i, p) of the block at
// av[i*ri + p*ci] floats (so at byte strides 4*ri, 4*ci). Rows mc up to
// the next multiple of mr are zero, so the kernel may read whole row
// panels. Untransposed, the block is stored row-major, kc floats a row;
// transposed, it is the stored block A[pc:pc+kc, ic:ic+mc] row-major with
// rows padded to a multiple of mr.
func (cl *call) fillA(buf *buffers, ic, mc, pc, kc, mr int) (av []float32, ri, ci int) {
	mp := ceilDiv(mc, mr) * mr
	av = buf.sourceBlock()[:mp*kc]
	if !cl.transA {
		cl.asrc.Fill(av, kc, ic, mc, pc, kc)
		clear(av[mc*kc:])
		return av, kc, 1
	}
	cl.asrc.Fill(av, mp, pc, kc, ic, mc)
	if mp > mc {
		for p := range kc {
			clear(av[p*mp+mc : (p+1)*mp])
		}
	}
	return av, 1, mp
}

// packSourceB is packB for a Source B: each panel's block is filled in
// place (untransposed: row p of the panel is B[pc+p, j:j+w]) or, for a
// transposed B, filled into buf.av as B[j:j+w, pc:pc+kc] and transposed
// into the panel. Padding columns are zero.
func (cl *call) packSourceB(buf *buffers, pc, kc, jc, nc int, kern *kernel) {
	nr := kern.nr
	for q := 0; q*nr < nc; q++ {
		w := min(nr, nc-q*nr)
		pw := kern.forWidth(w).nr
		panel := buf.b[q*kc*nr : q*kc*nr+kc*pw]
		j := jc + q*nr
		if w < pw {
			clear(panel)
		}
		if !cl.transB {
			cl.bsrc.Fill(panel, pw, pc, kc, j, w)
			continue
		}
		t := buf.sourceBlock()[:w*kc]
		cl.bsrc.Fill(t, kc, j, w, pc, kc)
		for jj := range w {
			for p, v := range t[jj*kc : (jj+1)*kc] {
				panel[p*pw+jj] = v
			}
		}
	}
}

// sourceBlock returns the buffer a Source operand's blocks are filled
// into, (mcBlock+maxMR) × kcBlock floats, made on first use.
func (b *buffers) sourceBlock() []float32 {
	if b.av == nil {
		b.av = make([]float32, (mcBlock+maxMR)*kcBlock)
	}
	return b.av
}
