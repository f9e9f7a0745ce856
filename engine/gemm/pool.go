package gemm

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// The package runs every parallel product on one shared pool of worker
// goroutines (started lazily, GOMAXPROCS of them). A call hands its helpers
// to the pool without blocking: when the pool is busy with other products,
// the caller simply does more of its own jobs, so concurrent trainings in
// one process never run more than GOMAXPROCS + callers goroutines of GEMM.

// callSync is the per-call bookkeeping shared with helpers.
type callSync struct {
	next atomic.Int64   // next job index to take
	done sync.WaitGroup // one count per job
	refs atomic.Int32   // caller + helpers still holding the call
}

var threads atomic.Int64 // 0: use GOMAXPROCS

// SetThreads sets how many goroutines (the caller plus pool workers) one
// Sgemm call may use, and returns the previous setting; n <= 0 restores
// the default, runtime.GOMAXPROCS(0). Results do not depend on it.
func SetThreads(n int) (prev int) {
	if n < 0 {
		n = 0
	}
	return int(threads.Swap(int64(n)))
}

func threadCount() int {
	if t := int(threads.Load()); t > 0 {
		return t
	}
	return runtime.GOMAXPROCS(0)
}

var pool struct {
	mu      sync.Mutex
	work    chan *call
	workers int
}

// ensureWorkers starts workers until there are at least n.
func ensureWorkers(n int) chan *call {
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if pool.work == nil {
		pool.work = make(chan *call, 256)
	}
	for ; pool.workers < n; pool.workers++ {
		go worker(pool.work)
	}
	return pool.work
}

func worker(work <-chan *call) {
	for cl := range work {
		cl.runJobs()
		cl.release()
	}
}

// run executes all jobs of cl with up to cl.helpers pool workers beside the
// caller and returns when C is complete.
func run(cl *call) {
	njobs := cl.jm * cl.jn
	cl.sync.done.Add(njobs)
	cl.sync.refs.Store(int32(cl.helpers + 1))
	if cl.helpers > 0 {
		work := ensureWorkers(max(runtime.GOMAXPROCS(0), cl.helpers))
		for range cl.helpers {
			select {
			case work <- cl:
			default: // pool saturated: the caller does the job itself
				cl.release()
			}
		}
	}
	cl.runJobs()
	cl.sync.done.Wait()
	cl.release()
}

// runJobs takes jobs until none is left.
func (cl *call) runJobs() {
	njobs := int64(cl.jm * cl.jn)
	var buf *buffers
	for {
		idx := cl.sync.next.Add(1) - 1
		if idx >= njobs {
			break
		}
		if buf == nil {
			buf = getBuffers()
		}
		cl.job(int(idx), buf)
		cl.sync.done.Done()
	}
	if buf != nil {
		putBuffers(buf)
	}
}

// release drops one reference; the last one recycles the call.
func (cl *call) release() {
	if cl.sync.refs.Add(-1) == 0 {
		cl.params = params{}
		cl.sync.next.Store(0)
		putCall(cl)
	}
}
