package nn

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/engine/rng"
)

// handOvers cuts rows [0, m) into consecutive pieces of whole groups (the
// last may end at m), of random lengths from one group to several
// samples', as a GEMM's jobs and row blocks hand them over.
func handOvers(r *rng.Stream, m, group int) [][2]int {
	var out [][2]int
	for i := 0; i < m; {
		e := min(m, i+group*(1+r.IntN(7)))
		out = append(out, [2]int{i, e})
		i = e
	}
	return out
}

// TestPoolEpilogueEqualsBiasReluPool hands the rows of a chunk of
// conv1's and conv2's GEMM output (samples 3.. of a batch, so the chunk's
// first row is not the batch's) to poolEpilogue in random pieces, with
// the assembly and with the portable loop, and with NaNs planted, and
// checks pool and arg against biasReluPool over the whole batch, bit for
// bit; pool and arg outside the chunk stay untouched.
func TestPoolEpilogueEqualsBiasReluPool(t *testing.T) {
	r := rng.New(11, "pool-epilogue")
	for _, sh := range []struct{ oc, oh, ow int }{{64, 20, 20}, {64, 6, 6}, {8, 4, 6}} {
		for _, asm := range []bool{true, false} {
			for _, nans := range []bool{false, true} {
				t.Run(fmt.Sprintf("%dx%dx%d/asm=%v/nans=%v", sh.oc, sh.oh, sh.ow, asm, nans), func(t *testing.T) {
					setPassAsm(t, asm)
					const n, first, k = 7, 3, 4 // the chunk: samples 3..6
					p, q := sh.oh*sh.ow, (sh.oh/2)*(sh.ow/2)
					nhwc := specialNHWC(r, n, sh.oc, sh.oh, sh.ow, nans)
					b := randn(r, sh.oc)
					wantPool, wantArg := make([]float32, n*sh.oc*q), make([]int32, n*sh.oc*q)
					biasReluPool(wantPool, wantArg, nhwc, b, 0, n, sh.oc, sh.oh, sh.ow)

					const poison = -7
					pool, arg := make([]float32, n*sh.oc*q), make([]int32, n*sh.oc*q)
					for i := range pool {
						pool[i], arg[i] = poison, poison
					}
					e := newPoolEpilogue(pool, arg, nhwc[first*p*sh.oc:], b, first, sh.oc, sh.oh, sh.ow)
					for _, h := range handOvers(r, k*p, e.Group()) {
						e.Rows(h[0], h[1])
					}
					for i := range pool {
						inChunk := i >= first*sh.oc*q && i < (first+k)*sh.oc*q
						wp, wa := wantPool[i], wantArg[i]
						if !inChunk {
							wp, wa = poison, poison
						}
						if math.Float32bits(pool[i]) != math.Float32bits(wp) || arg[i] != wa {
							t.Fatalf("pool[%d], arg[%d] = %v, %d; want %v, %d (in the chunk: %v)", i, i, pool[i], arg[i], wp, wa, inChunk)
						}
					}
				})
			}
		}
	}
}

// TestCol2imEpilogueEqualsCol2im hands conv2's dcol rows for four samples
// to col2imEpilogue in random pieces of whole samples and checks the
// images against col2imSamples over all four, bit for bit.
func TestCol2imEpilogueEqualsCol2im(t *testing.T) {
	r := rng.New(12, "col2im-epilogue")
	const k = 4
	dcol := randn(r, k*36*col2Row)
	want := make([]float32, k*p1Out)
	col2imSamples(want, dcol, 0, k, 64, 10, 10, 5, 5)
	got := randn(r, k*p1Out) // col2im clears each image it writes
	e := col2imEpilogue{dinp: got, dcol: dcol}
	for _, h := range handOvers(r, k*36, e.Group()) {
		e.Rows(h[0], h[1])
	}
	for i := range want {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("dinp[%d] = %v, want %v", i, got[i], want[i])
		}
	}
}

func TestPoolEpilogueRejectsAnOddOutput(t *testing.T) {
	for _, sh := range [][2]int{{5, 6}, {6, 5}} {
		func() {
			defer func() {
				if s, _ := recover().(string); !strings.Contains(s, "even output") {
					t.Errorf("%d×%d: panic %q, want one about an even output", sh[0], sh[1], s)
				}
			}()
			newPoolEpilogue(nil, nil, nil, nil, 0, 8, sh[0], sh[1])
		}()
	}
}
