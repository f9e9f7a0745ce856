package nn

import (
	"fmt"
	"math"
	"runtime"
	"testing"

	"github.com/fabeam/fabeam/engine/gemm"
	"github.com/fabeam/fabeam/engine/rng"
)

// TestIm2colSourceFillsBlocksOfIm2col checks im2colSource.Fill against
// im2col, with and without its assembly: blocks starting and ending
// anywhere in a kernel row (the GEMM's K blocks of 256 cut conv2's rows at
// arbitrary columns), spanning samples and output rows, written at a row
// stride wider than the block, and nothing outside the block touched.
func TestIm2colSourceFillsBlocksOfIm2col(t *testing.T) {
	for _, asm := range []bool{true, false} {
		setPassAsm(t, asm)
		for _, sh := range im2colShapes {
			r := rng.New(31, fmt.Sprint(sh))
			inp := randn(r, sh.n*sh.c*sh.h*sh.w)
			src := &im2colSource{inp: inp, n: sh.n, c: sh.c, h: sh.h, wd: sh.w, kh: sh.kh, kw: sh.kw}
			rows, cols := src.Dims()
			want := make([]float32, rows*cols)
			im2col(want, inp, sh.n, sh.c, sh.h, sh.w, sh.kh, sh.kw) // tested against its definition in fused_test.go
			blocks := [][4]int{{0, rows, 0, cols}, {rows - 1, 1, cols - 1, 1}}
			for range 40 {
				r0, c0 := r.IntN(rows), r.IntN(cols)
				blocks = append(blocks, [4]int{r0, 1 + r.IntN(rows-r0), c0, 1 + r.IntN(cols-c0)})
			}
			for _, b := range blocks {
				r0, nr, c0, nc := b[0], b[1], b[2], b[3]
				ld := nc + 3
				dst := make([]float32, nr*ld)
				for i := range dst {
					dst[i] = -7
				}
				src.Fill(dst, ld, r0, nr, c0, nc)
				for i := range nr {
					for j := range ld {
						got, w := dst[i*ld+j], float32(-7)
						if j < nc {
							w = want[(r0+i)*cols+c0+j]
						}
						if math.Float32bits(got) != math.Float32bits(w) {
							t.Fatalf("asm %v %v: block %v: dst[%d][%d] = %v, want %v", asm, sh, b, i, j, got, w)
						}
					}
				}
			}
		}
	}
}

// TestImplicitConvProductsGiveMaterialisedBits checks the Model's three
// uses of im2colSource at the network's shapes against the same GEMMs on
// the materialised im2col matrix, bit for bit, with every kernel this CPU
// runs and at one and two threads: the forward product col·wᵀ,
// the weight gradient δᵀ·col (col as B) and its transpose colᵀ·δ (col as
// a transposed A).
func TestImplicitConvProductsGiveMaterialisedBits(t *testing.T) {
	const n, oc = 5, 64
	for _, sh := range []struct{ c, hw int }{{3, 24}, {64, 10}} {
		r := rng.New(32, fmt.Sprint(sh))
		inp := randn(r, n*sh.c*sh.hw*sh.hw)
		src := &im2colSource{inp: inp, n: n, c: sh.c, h: sh.hw, wd: sh.hw, kh: 5, kw: 5}
		rows, ckk := src.Dims()
		col := make([]float32, rows*ckk)
		im2col(col, inp, n, sh.c, sh.hw, sh.hw, 5, 5)
		w, dout := randn(r, oc*ckk), randn(r, rows*oc)
		for _, kern := range gemm.Kernels() {
			for _, threads := range []int{1, 2} {
				t.Run(fmt.Sprintf("c=%d/%s/threads=%d", sh.c, kern, threads), func(t *testing.T) {
					defer gemm.SetKernel(kern)()
					defer gemm.SetThreads(gemm.SetThreads(threads))
					same := func(what string, got, want []float32) {
						t.Helper()
						for i := range want {
							if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
								t.Fatalf("%s[%d] = %v, materialised %v", what, i, got[i], want[i])
							}
						}
					}
					want, got := make([]float32, rows*oc), make([]float32, rows*oc)
					gemm.Sgemm(false, true, rows, oc, ckk, 1, col, ckk, w, ckk, 0, want, oc)
					gemm.SgemmSourceA(false, true, rows, oc, ckk, 1, src, w, ckk, 0, got, oc)
					same("forward", got, want)
					want, got = make([]float32, oc*ckk), make([]float32, oc*ckk)
					gemm.Sgemm(true, false, oc, ckk, rows, 1, dout, oc, col, ckk, 0, want, ckk)
					gemm.SgemmSourceB(true, false, oc, ckk, rows, 1, dout, oc, src, 0, got, ckk)
					same("δᵀ·col", got, want)
					want, got = make([]float32, ckk*oc), make([]float32, ckk*oc)
					gemm.Sgemm(true, false, ckk, oc, rows, 1, col, ckk, dout, oc, 0, want, oc)
					gemm.SgemmSourceA(true, false, ckk, oc, rows, 1, src, dout, oc, 0, got, oc)
					same("colᵀ·δ", got, want)
				})
			}
		}
	}
}

// TestConv2InputGradChunksGiveWholeBatchBits checks Model.conv2BackwardInput,
// which carries conv2's error back col2Chunk samples per worker, against
// conv2dBackwardInput (one GEMM over the whole batch, then col2im), bit
// for bit, for batches that are and are not multiples of the chunk, at
// GOMAXPROCS 1, 2 and 5.
func TestConv2InputGradChunksGiveWholeBatchBits(t *testing.T) {
	for _, n := range []int{1, 7, 2 * col2Chunk, 37} {
		r := rng.New(33, fmt.Sprint(n))
		fb := randn(r, 64*col2Row)
		dnhwc := randn(r, n*36*64)
		want := make([]float32, n*p1Out)
		conv2dBackwardInput(want, make([]float32, n*36*col2Row), dnhwc, fb, n, 64, 10, 10, 64, 5, 5)
		for _, procs := range []int{1, 2, 5} {
			func() {
				defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(procs))
				p := NewParams()
				m := NewModel(p, BP{}, n)
				copy(m.nhwc, dnhwc)
				got := make([]float32, n*p1Out)
				for i := range got {
					got[i] = 42 // overwritten
				}
				m.conv2BackwardInput(got, fb, n)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("batch %d, GOMAXPROCS %d: dinp[%d] = %v, whole batch %v", n, procs, i, got[i], want[i])
					}
				}
			}()
		}
	}
}
