// Package allocs counts heap allocations for the engine's tests without
// changing GOMAXPROCS.
//
// testing.AllocsPerRun runs its function at GOMAXPROCS 1, so code that
// splits work over a pool of goroutines (engine/gemm's products,
// engine/nn's parallel kernels) is measured on its serial path only.
// PerRun counts at the caller's GOMAXPROCS instead, every goroutine's
// allocations included.
package allocs
