package nn

import (
	"runtime"
	"sync"
)

// This file runs the element-wise kernels (im2col, col2im, the fused
// conv epilogues, Adam) across cores. The GEMMs have their own pool in
// engine/gemm; this one serves the work between them, which at one thread
// would otherwise cap the speed-up on two cores (Amdahl).
//
// Determinism: a task splits its index range into contiguous pieces and
// every output element is computed by exactly one piece with the same
// arithmetic in the same order whatever the split, so results do not
// depend on GOMAXPROCS. Tasks that reduce (bias gradients) split over the
// reduced-into index (the output channel), never over the summed one.

// task is a piece of work over an index range [lo, hi).
type task interface {
	run(lo, hi int)
}

type parJob struct {
	t      task
	lo, hi int
	wg     *sync.WaitGroup
}

var parPool struct {
	mu      sync.Mutex
	ch      chan parJob
	workers int
}

// parWorkers returns the job channel with at least n workers behind it.
func parWorkers(n int) chan parJob {
	parPool.mu.Lock()
	defer parPool.mu.Unlock()
	if parPool.ch == nil {
		parPool.ch = make(chan parJob, 64)
	}
	for ; parPool.workers < n; parPool.workers++ {
		go func(ch <-chan parJob) {
			for j := range ch {
				j.t.run(j.lo, j.hi)
				j.wg.Done()
			}
		}(parPool.ch)
	}
	return parPool.ch
}

// parallelFor runs t over [0, n) in up to GOMAXPROCS contiguous pieces, the
// caller running the first and pool workers the others; it returns when all
// are done. wg is the caller's (a Model field), so a call allocates nothing.
// When the pool's queue is full (other models running), the caller runs the
// piece itself. Pieces of fewer than minChunk indices are not split off.
func parallelFor(wg *sync.WaitGroup, n, minChunk int, t task) {
	if n <= 0 {
		return
	}
	parts := min(runtime.GOMAXPROCS(0), max(n/max(minChunk, 1), 1))
	if parts <= 1 {
		t.run(0, n)
		return
	}
	ch := parWorkers(parts - 1)
	for k := 1; k < parts; k++ {
		lo, hi := k*n/parts, (k+1)*n/parts
		wg.Add(1)
		select {
		case ch <- parJob{t, lo, hi, wg}:
		default:
			t.run(lo, hi)
			wg.Done()
		}
	}
	t.run(0, n/parts)
	wg.Wait()
}
