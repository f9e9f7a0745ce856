package nn

import "fmt"

// The convolutions' epilogues as gemm.Epilogues: the GEMM hands them each
// block of its output rows (at most 96) as soon as the block is final, so
// the bias, ReLU and max-pool of a forward, and the col2im of conv2's
// input gradient, read the rows while they are still in the core's cache,
// inside the product, instead of in a pass over its output afterwards.
// Each runs the same element-wise arithmetic as the pass it replaces on
// the same values, so the results are those of the pass, bit for bit.

// poolEpilogue is biasReluPool run on a convolution's GEMM output as the
// GEMM finishes it: out is the product's C (position-major, oc columns),
// whose row 0 is sample first's first position. Its group is one pooled
// row, two output rows of ow positions; every window lies in one group,
// so each group is pooled on its own (pool and arg of its windows alone).
// Several goroutines may run it at once on disjoint rows. oh and ow must
// be even (newPoolEpilogue).
type poolEpilogue struct {
	pool       []float32
	arg        []int32
	out, b     []float32
	first      int
	oc, oh, ow int
}

// newPoolEpilogue returns the epilogue of a convolution with an oh×ow
// output of oc channels and bias b, whose GEMM writes out (row 0 at
// sample first), into pool and arg (n,oc,oh/2,ow/2). It panics on an odd
// oh or ow, whose last output row or column a 2×2 pool drops (a group of
// two output rows would then not line up with the samples).
func newPoolEpilogue(pool []float32, arg []int32, out, b []float32, first, oc, oh, ow int) poolEpilogue {
	if oh%2 != 0 || ow%2 != 0 {
		panic(fmt.Sprintf("nn: a fused 2×2 pool needs an even output, got %d×%d", oh, ow))
	}
	return poolEpilogue{pool: pool, arg: arg, out: out, b: b, first: first, oc: oc, oh: oh, ow: ow}
}

// Group is two output rows: one pooled row.
func (e *poolEpilogue) Group() int { return 2 * e.ow }

// Rows pools output rows [i0, i1) of out: pooled rows i0/(2ow) up to
// i1/(2ow), sample by sample.
func (e *poolEpilogue) Rows(i0, i1 int) {
	g, ph, pw := 2*e.ow, e.oh/2, e.ow/2
	for r := i0 / g; r < i1/g; {
		s, py := e.first+r/ph, r%ph
		py1 := min(ph, py+i1/g-r)
		biasReluPoolWindows(e.pool, e.arg, e.out, e.first, e.b, s, py*pw, py1*pw, e.oc, e.oh, e.ow)
		r += py1 - py
	}
}

// col2imEpilogue is conv2's col2im run on the GEMM's dcol as the GEMM
// finishes it, a sample's 36 rows at a time: dinp's first sample is dcol's
// first (col2imSamples clears each sample's image and adds its rows in
// the pass's order).
type col2imEpilogue struct {
	dinp, dcol []float32
}

// Group is one sample of conv2's 6×6 output positions.
func (e *col2imEpilogue) Group() int { return 36 }

// Rows scatters the samples of rows [i0, i1) into dinp.
func (e *col2imEpilogue) Rows(i0, i1 int) {
	col2imSamples(e.dinp, e.dcol, i0/36, i1/36, 64, 10, 10, 5, 5)
}
