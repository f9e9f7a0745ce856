package gemm_test

import (
	"fmt"

	"github.com/fabeam/fabeam/engine/gemm"
)

// A dense layer's forward pass, out = x·W^T, with W in (out, in) layout:
// x is 2×3 (batch 2, 3 inputs), W is 2×3 (2 outputs), out is 2×2.
func ExampleSgemm() {
	x := []float32{
		1, 2, 3,
		4, 5, 6,
	}
	w := []float32{
		1, 0, -1,
		0.5, 0.5, 0.5,
	}
	out := make([]float32, 2*2)
	gemm.Sgemm(false, true, 2, 2, 3, 1, x, 3, w, 3, 0, out, 2)
	fmt.Println(out)
	// Output: [-2 3 -2 7.5]
}
