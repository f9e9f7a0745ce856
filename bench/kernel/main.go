// Command kernel prints the GEMM micro-kernel fabeam chooses on this CPU
// and the ones it could run, for the benchmark harness (bench/compare).
package main

import (
	"fmt"
	"strings"

	"github.com/fabeam/fabeam/engine/gemm"
)

func main() {
	fmt.Printf("%s (available: %s)\n", gemm.Kernel(), strings.Join(gemm.Kernels(), ", "))
}
