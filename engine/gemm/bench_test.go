package gemm

import (
	"fmt"
	"runtime"
	"syscall"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// benchShape is one product of Architecture 1 at batch 128. Layouts follow
// STYLE.md: weights are (out, in) — conv (oc, c·kh·kw) — and activations
// are row-major (rows = batch × positions), so a forward pass is
// X·W^T (NT), the input gradient dOut·W (NN), the weight gradient
// dOut^T·X (TN). M, N, K are Architecture 1's (docs/paper.md): conv1 im2col
// 51,200×75 → 64, conv2 4,608×1,600 → 64, fc1 576 → 384, fc2 384 → 192,
// fc3 192 → 10, fa_random's dense feedback 2304 ↔ 6400. conv1_dWT is
// conv1's weight gradient as engine/nn computes it, transposed: colᵀ·δ.
type benchShape struct {
	name           string
	transA, transB bool
	m, n, k        int
}

var benchShapes = []benchShape{
	{"conv1_fwd_NT", false, true, 51200, 64, 75},
	{"conv1_dW_TN", true, false, 64, 75, 51200},
	{"conv1_dWT_TN", true, false, 75, 64, 51200}, // the transposed form engine/nn uses
	{"conv2_fwd_NT", false, true, 4608, 64, 1600},
	{"conv2_dX_NN", false, false, 4608, 1600, 64},
	{"conv2_dW_TN", true, false, 64, 1600, 4608},
	{"conv2_dWT_TN", true, false, 1600, 64, 4608}, // the same product transposed: colᵀ·δ
	{"fc1_fwd_NT", false, true, 128, 384, 576},
	{"fc1_dX_NN", false, false, 128, 576, 384},
	{"fc1_dW_TN", true, false, 384, 576, 128},
	{"fc2_fwd_NT", false, true, 128, 192, 384},
	{"fc2_dX_NN", false, false, 128, 384, 192},
	{"fc2_dW_TN", true, false, 192, 384, 128},
	{"fc3_fwd_NT", false, true, 128, 10, 192},
	{"fc3_dX_NN", false, false, 128, 192, 10},
	{"fc3_dW_TN", true, false, 10, 192, 128},
	{"farandom_dX_NN", false, false, 128, 6400, 2304},
	{"farandom_dXT_TT", true, true, 6400, 128, 2304}, // the same product transposed, as engine/nn computes it off Intel AVX-512
}

func (s benchShape) String() string {
	return fmt.Sprintf("%s_%dx%dx%d", s.name, s.m, s.n, s.k)
}

func benchOperands(s benchShape) (a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	return operands(1, s.transA, s.transB, s.m, s.n, s.k, 0)
}

func reportGFLOPS(b *testing.B, s benchShape) {
	flops := 2 * float64(s.m) * float64(s.n) * float64(s.k) * float64(b.N)
	b.ReportMetric(flops/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkGemm times Sgemm with the kernel this CPU chooses; run with
// -cpu=1 for one core (SetThreads follows GOMAXPROCS).
func BenchmarkGemm(b *testing.B) {
	for _, s := range benchShapes {
		b.Run(s.String(), func(b *testing.B) {
			a, lda, bb, ldb, c, ldc := benchOperands(s)
			b.ReportAllocs()
			b.ResetTimer()
			c0 := processCPU()
			for range b.N {
				Sgemm(s.transA, s.transB, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, ldc)
			}
			b.ReportMetric(float64(processCPU()-c0)/float64(b.N)/1e6, "cpu-ms/op")
			reportGFLOPS(b, s)
		})
	}
}

// processCPU is the process's user+system CPU time: on a shared machine
// cpu-ms/op (BenchmarkGemm) measures the work of a call, including what
// its helpers spend re-reading and re-packing operands, apart from the
// time spent waiting for a core.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGemmAVX2 is BenchmarkGemm with the AVX2 kernel forced.
func BenchmarkGemmAVX2(b *testing.B) { benchKernel(b, "avx2") }

// BenchmarkGemmGeneric is BenchmarkGemm with the portable kernel forced.
func BenchmarkGemmGeneric(b *testing.B) { benchKernel(b, "generic") }

func benchKernel(b *testing.B, name string) {
	found := false
	for _, k := range Kernels() {
		found = found || k == name
	}
	if !found {
		b.Skipf("CPU lacks the %s kernel", name)
	}
	defer SetKernel(name)()
	BenchmarkGemm(b)
}

// BenchmarkGonum times gonum's pure-Go Sgemm on the same shapes.
func BenchmarkGonum(b *testing.B) {
	var impl gonum.Implementation
	for _, s := range benchShapes {
		b.Run(s.String(), func(b *testing.B) {
			a, lda, bb, ldb, c, ldc := benchOperands(s)
			ta, tb := blas.NoTrans, blas.NoTrans
			if s.transA {
				ta = blas.Trans
			}
			if s.transB {
				tb = blas.Trans
			}
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				impl.Sgemm(ta, tb, s.m, s.n, s.k, 1, a, lda, bb, ldb, 0, c, ldc)
			}
			reportGFLOPS(b, s)
		})
	}
}

// BenchmarkPeakFMA measures one core's float32 FMA peak: independent
// chains of VFMADD231PS (more chains than latency × ports), 2 flops per
// lane; zmm with 24 chains of 16 lanes, ymm with 12 chains of 8 lanes.
func BenchmarkPeakFMA(b *testing.B) {
	const iters = 1 << 16
	for _, v := range []struct {
		name          string
		ok            bool
		f             func(int)
		chains, lanes int
	}{
		{"zmm", hasAVX512, peakFMA512, 24, 16},
		{"ymm", hasAVX2, peakFMA256, 12, 8},
	} {
		b.Run(v.name, func(b *testing.B) {
			if runtime.GOARCH != "amd64" || !v.ok {
				b.Skip("CPU lacks " + v.name + " FMA")
			}
			b.ResetTimer()
			for range b.N {
				v.f(iters)
			}
			b.ReportMetric(float64(b.N)*iters*float64(v.chains*v.lanes*2)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
