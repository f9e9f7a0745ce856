package allocs

import "runtime"

// PerRun calls f warm times, then runs more times, and returns the heap
// allocations made meanwhile (by every goroutine) per run, truncated to
// an integer as testing.AllocsPerRun's is. The truncation tolerates what
// a pool does now and then: engine/gemm's call records in circulation
// grow by one when a helper has not yet released the last call as the
// next one starts, until they cover the longest such lag. That is not an
// allocation per call, which PerRun reports.
func PerRun(warm, runs int, f func()) float64 {
	for range warm {
		f()
	}
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&m1)
	return float64((m1.Mallocs - m0.Mallocs) / uint64(runs))
}
