package cka

import "testing"

// benchLayers are the paper's five layer widths (conv1 25,600, conv2 2,304,
// fc1 384, fc2 192, fc3 10) with conv1 cut to a tenth and conv2 to a half,
// so one iteration takes seconds, not minutes, with the portable GEMM.
var benchLayers = []int{2560, 1152, 384, 192, 10}

func benchModels(n int) (xs, ys []Matrix) {
	for i, d := range benchLayers {
		xs = append(xs, randomMatrix(uint64(200+i), n, d))
		ys = append(ys, randomMatrix(uint64(300+i), n, d))
	}
	return xs, ys
}

// gramFlops is the multiply-add count ×2 of n×n Grams of every layer of
// both models (full square; the exact path computes about half of it).
func gramFlops(n int) float64 {
	var d int
	for _, c := range benchLayers {
		d += c
	}
	return 2 * 2 * float64(n) * float64(n) * float64(d)
}

// BenchmarkMinibatchMatrix is the Compare stage's 5×5 matrix on 512
// examples: 2 batches of 256 per pass, 5 passes, so 10 batch Grams per layer.
func BenchmarkMinibatchMatrix(b *testing.B) {
	xs, ys := benchModels(512)
	o := DefaultMinibatch(1)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := MinibatchMatrix(xs, ys, o); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(10*gramFlops(256)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}

// BenchmarkExactMatrices is the same 5×5 matrix, exact (biased and
// unbiased at once), on 1,024 examples: 2×2 tiles of 512.
func BenchmarkExactMatrices(b *testing.B) {
	xs, ys := benchModels(1024)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ExactMatrices(xs, ys)
	}
	// 3 of the 4 tiles are computed (the fourth is a mirror).
	b.ReportMetric(0.75*gramFlops(1024)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
