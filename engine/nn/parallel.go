package nn

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// This file runs the element-wise kernels (the fused conv epilogues and
// pool backward) and the per-worker convolution chunks (conv1's forward,
// conv2's input gradient: a serial GEMM and its epilogue or col2im on a
// few samples in cache) across cores. The GEMMs have their own pool in
// engine/gemm; this one serves the work between them, which at one thread
// would otherwise cap the speed-up on two cores (Amdahl). So do Adam's
// step (Adam.Update, in pieces of 16 K parameters) and the learning
// signal's sums of squares (Model.SignalSums, each sum whole on one
// thread): run on the caller alone, they took 2.4 ms of every 30 ms step
// of a real two-thread run while the other core idled (AMD Zen 4).
//
// Determinism: a task splits its index range into contiguous pieces and
// every output element is computed by exactly one piece with the same
// arithmetic in the same order whatever the split and whichever thread
// takes the piece, so results depend neither on GOMAXPROCS nor on timing.
// Tasks that reduce (bias gradients) split over the reduced-into index
// (the output channel), never over the summed one.

// task is a piece of work over an index range [lo, hi).
type task interface {
	run(lo, hi int)
}

// piecesPerThread is how many pieces parallelFor cuts a range into per
// thread. The threads take pieces as they finish the last, so a thread
// that loses its core for a while (to another process) leaves its share
// to the others instead of holding every thread up at the end.
const piecesPerThread = 4

// parallel is one parallelFor call's shared state: the range, how it is
// cut, and the next piece to take. A Model owns one, so a call allocates
// nothing.
type parallel struct {
	wg        sync.WaitGroup
	next      atomic.Int64
	t         task
	n, pieces int
}

// runPieces takes pieces of p's range until none is left.
func (p *parallel) runPieces() {
	for {
		k := int(p.next.Add(1) - 1)
		if k >= p.pieces {
			return
		}
		p.t.run(k*p.n/p.pieces, (k+1)*p.n/p.pieces)
	}
}

var parPool struct {
	mu      sync.Mutex
	ch      chan *parallel
	workers int
}

// parWorkers returns the job channel with at least n workers behind it.
func parWorkers(n int) chan *parallel {
	parPool.mu.Lock()
	defer parPool.mu.Unlock()
	if parPool.ch == nil {
		parPool.ch = make(chan *parallel, 64)
	}
	for ; parPool.workers < n; parPool.workers++ {
		go func(ch <-chan *parallel) {
			for p := range ch {
				p.runPieces()
				p.wg.Done()
			}
		}(parPool.ch)
	}
	return parPool.ch
}

// parallelFor runs t over [0, n) with up to GOMAXPROCS threads, the caller
// and pool workers, and returns when all of it is done. The range is cut
// into up to piecesPerThread contiguous pieces per thread (none shorter
// than minChunk indices), which the threads take one at a time. When the
// pool's queue is full (other models running), the caller works with fewer
// helpers, or alone. p is the caller's (a Model field); a Model runs one
// parallelFor at a time.
func parallelFor(p *parallel, n, minChunk int, t task) {
	if n <= 0 {
		return
	}
	most := max(n/max(minChunk, 1), 1)
	threads := min(runtime.GOMAXPROCS(0), most)
	if threads <= 1 {
		t.run(0, n)
		return
	}
	p.t, p.n, p.pieces = t, n, min(piecesPerThread*threads, most)
	p.next.Store(0)
	ch := parWorkers(threads - 1)
	for k := 1; k < threads; k++ {
		p.wg.Add(1)
		select {
		case ch <- p:
		default:
			p.wg.Done()
		}
	}
	p.runPieces()
	p.wg.Wait()
	p.t = nil // drop the reference
}
