package cka_test

import (
	"fmt"

	"github.com/fabeam/fabeam/engine/cka"
)

// The hand-worked example of exact_test.go: 4 examples, 2 features against 1.
func Example() {
	x := cka.NewMatrix(4, 2, []float32{1, 0, 2, 1, 3, 0, 4, 1})
	y := cka.NewMatrix(4, 1, []float32{1, 3, 2, 4})
	fmt.Printf("biased   %.6f (2/√7)\n", cka.Linear(x, y))
	fmt.Printf("unbiased %.6f (√(3/52))\n", cka.LinearUnbiased(x, y))
	mb, err := cka.Minibatch(x, y, cka.MinibatchOptions{BatchSize: 4, Passes: 5, Seed: 1})
	fmt.Printf("minibatch of one batch %.6f %v\n", mb, err)
	// Output:
	// biased   0.755929 (2/√7)
	// unbiased 0.240192 (√(3/52))
	// minibatch of one batch 0.240192 <nil>
}
