package nn

import (
	"syscall"
	"testing"
	"time"

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
	b.Run("im2col_conv1", func(b *testing.B) {
		bytes(b, len(col1))
		c0 := processCPU()
		for b.Loop() {
			im2colSamples(col1, x, 0, n, 3, 24, 24, 5, 5)
		}
		cpuPerOp(b, c0)
	})
	b.Run("im2col_conv2", func(b *testing.B) {
		bytes(b, len(col2))
		c0 := processCPU()
		for b.Loop() {
			im2colSamples(col2, pool1, 0, n, 64, 10, 10, 5, 5)
		}
		cpuPerOp(b, c0)
	})
	b.Run("col2im_conv2", func(b *testing.B) {
		bytes(b, len(dcol2))
		c0 := processCPU()
		for b.Loop() {
			col2imSamples(dinp, dcol2, 0, n, 64, 10, 10, 5, 5)
		}
		cpuPerOp(b, c0)
	})
	b.Run("epilogue_conv1", func(b *testing.B) {
		bytes(b, len(nhwc))
		c0 := processCPU()
		for b.Loop() {
			biasReluPool(pool, arg, nhwc, bias, 0, n, 64, 20, 20)
		}
		cpuPerOp(b, c0)
	})
	b.Run("layout_conv1", func(b *testing.B) {
		bytes(b, len(out))
		c0 := processCPU()
		for b.Loop() {
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
			c0 := processCPU()
			for b.Loop() {
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

// cpuPerOp reports the process CPU time per op, in ms, over the b.Loop.
func cpuPerOp(b *testing.B, c0 time.Duration) {
	b.ReportMetric(float64(processCPU()-c0)/float64(b.N)/1e6, "cpu-ms/op")
}
