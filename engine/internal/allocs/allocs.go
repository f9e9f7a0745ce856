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

// Steady is the fewest allocations per run PerRun(warm, runs, f) counts in
// attempts tries. On a machine whose cores other processes take, a pool
// worker can sit runnable for many calls while each new call needs a
// record the worker still holds, so one try can count a pool's growth at
// every call; a try in which the workers kept up counts none. An
// allocation that f makes on every run is counted in every try.
func Steady(attempts, warm, runs int, f func()) float64 {
	best := PerRun(warm, runs, f)
	for i := 1; i < attempts && best > 0; i++ {
		best = min(best, PerRun(0, runs, f))
	}
	return best
}
