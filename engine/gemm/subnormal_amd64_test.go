//go:build !purego

package gemm

import (
	"math"
	"testing"
)

// The assembly kernels run with FTZ and DAZ (doc.go, "Subnormal numbers"):
// a product whose value is subnormal is stored as zero, and a subnormal
// operand counts as zero. The generic kernel keeps IEEE gradual underflow.
// Each case is a 1×1×1 product, so the expected value is exact arithmetic.
func TestSIMDKernelsFlushSubnormals(t *testing.T) {
	tiny := float32(1e-20) // normal; tiny*tiny = 1e-40 is subnormal
	sub := float32(1e-40)  // subnormal
	if !isSubnormal(tiny*tiny) || !isSubnormal(sub) || isSubnormal(tiny) {
		t.Fatal("test constants are not what they claim")
	}
	cases := []struct {
		name       string
		a, b       float32
		ieee, simd float32
	}{
		{"subnormal result (FTZ)", tiny, tiny, tiny * tiny, 0},
		{"subnormal operand (DAZ)", sub, 1e30, sub * 1e30, 0},
		{"normal operands and result", 3, 0.5, 1.5, 1.5},
	}
	for _, name := range Kernels() {
		t.Run(name, func(t *testing.T) {
			defer SetKernel(name)()
			for _, tc := range cases {
				want := tc.simd
				if name == "generic" {
					want = tc.ieee
				}
				c := []float32{7}
				Sgemm(false, false, 1, 1, 1, 1, []float32{tc.a}, 1, []float32{tc.b}, 1, 0, c, 1)
				if c[0] != want {
					t.Errorf("%s: %g·%g = %g, want %g", tc.name, tc.a, tc.b, c[0], want)
				}
			}
		})
	}
}

// A kernel sets FTZ and DAZ only for its own duration: MXCSR's mode bits
// (everything but the six sticky exception flags) are the same after
// Sgemm as before, on every kernel and on full and edge blocks.
func TestKernelsRestoreMXCSR(t *testing.T) {
	const flags = 0x3f
	before := mxcsr()
	if before&0x8040 != 0 {
		t.Fatalf("MXCSR = %#x before any kernel: FTZ or DAZ already set", before)
	}
	for _, name := range Kernels() {
		t.Run(name, func(t *testing.T) {
			defer SetKernel(name)()
			m, n, k := 50, 70, 300 // full blocks, edge rows and columns, two K blocks
			a, lda, b, ldb, c, ldc := operands(3, false, false, m, n, k, 1)
			Sgemm(false, false, m, n, k, 1, a, lda, b, ldb, 1, c, ldc)
			if got := mxcsr(); got&^flags != before&^flags {
				t.Fatalf("MXCSR = %#x after Sgemm, %#x before", got, before)
			}
			// Go arithmetic after the call keeps gradual underflow.
			if y := tinyVar * tinyVar; y == 0 {
				t.Fatal("Go code after Sgemm flushes subnormals: MXCSR leaked")
			}
		})
	}
}

func isSubnormal(x float32) bool {
	return x != 0 && math.Abs(float64(x)) < 0x1p-126
}

// tinyVar is a variable, so the compiler cannot fold tinyVar*tinyVar.
var tinyVar = float32(1e-20)
