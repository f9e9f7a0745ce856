package nn

import (
	"syscall"
	"testing"
	"time"

	"github.com/fabeam/fabeam/engine/gemm"
	"github.com/fabeam/fabeam/engine/rng"
)

// BenchmarkKernels times the element-wise kernels between the GEMMs at
// batch 128, one goroutine, so their share of a training step can be read
// off (ns/op per call; GB/s of the largest buffer each touches).
func BenchmarkKernels(b *testing.B) {
	const n = 128
	r := rng.New(3, "kbench")
	x := randn(r, n*inputSize)
	col1 := make([]float32, n*400*col1Row)
	pool1 := randn(r, n*p1Out)
	col2 := make([]float32, n*36*col2Row)
	nhwc := randn(r, n*400*64)
	bias := randn(r, 64)
	out := make([]float32, n*c1Out)
	pool := make([]float32, n*p1Out)
	arg := make([]int32, n*p1Out)
	dpre := make([]float32, n*c1Out)
	dnhwc := make([]float32, n*400*64)
	dbPart := make([]float32, n*64)
	dpool := randn(r, n*p1Out)
	dcol2 := randn(r, n*36*col2Row)
	dinp := make([]float32, n*p1Out)
	bytes := func(b *testing.B, floats int) {
		b.SetBytes(int64(4 * floats))
	}
	// fill_convN fills the whole im2col matrix through im2colSource in
	// the GEMM's blocks (96 rows × 256 columns), as the forward product
	// asks for it.
	for _, c := range []struct {
		name string
		src  im2colSource
		col  []float32
	}{
		{"fill_conv1", im2colSource{inp: x, n: n, c: 3, h: 24, wd: 24, kh: 5, kw: 5}, col1},
		{"fill_conv2", im2colSource{inp: pool1, n: n, c: 64, h: 10, wd: 10, kh: 5, kw: 5}, col2},
	} {
		b.Run(c.name, func(b *testing.B) {
			rows, cols := c.src.Dims()
			bytes(b, rows*cols)
			blk := make([]float32, 96*256)
			b.ResetTimer()
			c0 := processCPU()
			for range b.N {
				for r0 := 0; r0 < rows; r0 += 96 {
					for c0 := 0; c0 < cols; c0 += 256 {
						nr, nc := min(96, rows-r0), min(256, cols-c0)
						c.src.Fill(blk, nc, r0, nr, c0, nc)
					}
				}
			}
			cpuPerOp(b, c0)
		})
	}
	b.Run("col2im_conv2", func(b *testing.B) {
		bytes(b, len(dcol2))
		b.ResetTimer()
		c0 := processCPU()
		for range b.N {
			col2imSamples(dinp, dcol2, 0, n, 64, 10, 10, 5, 5)
		}
		cpuPerOp(b, c0)
	})
	b.Run("epilogue_conv1", func(b *testing.B) {
		bytes(b, len(nhwc))
		b.ResetTimer()
		c0 := processCPU()
		for range b.N {
			biasReluPool(pool, arg, nhwc, bias, 0, n, 64, 20, 20)
		}
		cpuPerOp(b, c0)
	})
	b.Run("layout_conv1", func(b *testing.B) {
		bytes(b, len(out))
		b.ResetTimer()
		c0 := processCPU()
		for range b.N {
			biasToNCHW(out, nhwc, bias, 0, n, 64, 400)
		}
		cpuPerOp(b, c0)
	})
	// poolback_conv1 also writes the NCHW gradient (as PreActivationGrad
	// needs); poolback_conv1_step does not, as the training step calls it.
	for _, c := range []struct {
		name string
		dpre []float32
	}{{"poolback_conv1", dpre}, {"poolback_conv1_step", nil}} {
		b.Run(c.name, func(b *testing.B) {
			biasReluPool(pool, arg, nhwc, bias, 0, n, 64, 20, 20)
			bytes(b, len(out))
			b.ResetTimer()
			c0 := processCPU()
			for range b.N {
				poolReluBackward(c.dpre, dnhwc, dbPart, dpool, arg, pool, 0, n, 64, 20, 20)
			}
			cpuPerOp(b, c0)
		})
	}
}

// processCPU returns the user+system CPU time this process has used. On a
// shared machine it measures work where wall time measures queueing.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// cpuPerOp reports the process CPU time per op, in ms, over the timed
// loop (b.N iterations; see BenchmarkTrainStep for why not b.Loop).
func cpuPerOp(b *testing.B, c0 time.Duration) {
	b.ReportMetric(float64(processCPU()-c0)/float64(b.N)/1e6, "cpu-ms/op")
}

// BenchmarkConvProducts times the convolutions' GEMMs at batch 128 as the
// Model runs them, on the implicit im2col matrix (im2colSource), beside
// the same products on the materialised matrix: the forward col·wᵀ, and
// the weight gradient both ways, δᵀ·col (col as B) and colᵀ·δ (col as a
// transposed A; Model.convBackward picks one, transposedWeightGradPays).
// The materialised forms do not count im2col itself. Threads follow
// GOMAXPROCS; GFLOP/s is reported.
func BenchmarkConvProducts(b *testing.B) {
	const n, oc = 128, 64
	r := rng.New(4, "convbench")
	for _, l := range []struct {
		name  string
		c, hw int
	}{{"conv1", 3, 24}, {"conv2", 64, 10}} {
		inp := randn(r, n*l.c*l.hw*l.hw)
		src := &im2colSource{inp: inp, n: n, c: l.c, h: l.hw, wd: l.hw, kh: 5, kw: 5}
		rows, ckk := src.Dims()
		col := make([]float32, rows*ckk)
		im2col(col, inp, n, l.c, l.hw, l.hw, 5, 5)
		w, dout := randn(r, oc*ckk), randn(r, rows*oc)
		out, dw := make([]float32, rows*oc), make([]float32, oc*ckk)
		flops := 2 * float64(rows) * float64(oc) * float64(ckk)
		for _, c := range []struct {
			name string
			f    func()
		}{
			{"forward/implicit", func() { gemm.SgemmSourceA(false, true, rows, oc, ckk, 1, src, w, ckk, 0, out, oc) }},
			{"forward/materialised", func() { gemm.Sgemm(false, true, rows, oc, ckk, 1, col, ckk, w, ckk, 0, out, oc) }},
			{"dW/implicit", func() { gemm.SgemmSourceB(true, false, oc, ckk, rows, 1, dout, oc, src, 0, dw, ckk) }},
			{"dW/materialised", func() { gemm.Sgemm(true, false, oc, ckk, rows, 1, dout, oc, col, ckk, 0, dw, ckk) }},
			{"dWT/implicit", func() { gemm.SgemmSourceA(true, false, ckk, oc, rows, 1, src, dout, oc, 0, dw, oc) }},
			{"dWT/materialised", func() { gemm.Sgemm(true, false, ckk, oc, rows, 1, col, ckk, dout, oc, 0, dw, oc) }},
		} {
			b.Run(l.name+"/"+c.name, func(b *testing.B) {
				b.ResetTimer()
				for range b.N {
					c.f()
				}
				b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
