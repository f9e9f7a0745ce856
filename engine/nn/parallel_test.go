package nn

import (
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// countTask counts how often each index is run and how many pieces ran.
type countTask struct {
	hits   []atomic.Int32
	pieces atomic.Int32
	short  atomic.Int32 // pieces shorter than min
	min    int
}

func (c *countTask) run(lo, hi int) {
	c.pieces.Add(1)
	if hi-lo < c.min {
		c.short.Add(1)
	}
	for i := lo; i < hi; i++ {
		c.hits[i].Add(1)
	}
}

// Every index of the range is run exactly once, for any length, minimum
// piece and thread count, in no more than piecesPerThread pieces a thread
// and none shorter than the minimum (unless the range is).
func TestParallelForRunsEveryIndexOnce(t *testing.T) {
	var p parallel
	for _, procs := range []int{1, 2, 3, 5} {
		prev := runtime.GOMAXPROCS(procs)
		for n := 0; n <= 70; n++ {
			for _, mc := range []int{1, 3, 16} {
				c := &countTask{hits: make([]atomic.Int32, n), min: mc}
				parallelFor(&p, n, mc, c)
				for i := range c.hits {
					if h := c.hits[i].Load(); h != 1 {
						t.Fatalf("GOMAXPROCS %d, n %d, minChunk %d: index %d ran %d times", procs, n, mc, i, h)
					}
				}
				if got := int(c.pieces.Load()); got > piecesPerThread*procs {
					t.Errorf("GOMAXPROCS %d, n %d, minChunk %d: %d pieces, want at most %d", procs, n, mc, got, piecesPerThread*procs)
				}
				if n >= mc && c.short.Load() != 0 {
					t.Errorf("GOMAXPROCS %d, n %d, minChunk %d: %d pieces shorter than the minimum", procs, n, mc, c.short.Load())
				}
			}
		}
		runtime.GOMAXPROCS(prev)
	}
}

// stallTask holds up whichever thread takes the piece holding index 0
// (a thread that lost its core) until the other threads have run target
// indices, or a deadline passes.
type stallTask struct {
	n, target int
	done      atomic.Int32
	reached   atomic.Bool
}

func (s *stallTask) run(lo, hi int) {
	if lo == 0 {
		deadline := time.Now().Add(2 * time.Second)
		for time.Now().Before(deadline) {
			if int(s.done.Load()) >= s.target {
				s.reached.Store(true)
				break
			}
			time.Sleep(time.Millisecond)
		}
	}
	s.done.Add(int32(hi - lo))
}

// While one thread is held up, the other takes every remaining piece, not
// only a fixed half. Two threads cut 128 indices into 8 pieces of 16, so
// the other thread runs the 112 outside the stalled piece; with a static
// split into one piece per thread it would stop at 64.
func TestParallelForLeavesAStalledThreadsShareToTheOthers(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	var p parallel
	n := 128
	s := &stallTask{n: n, target: 112}
	parallelFor(&p, n, 1, s)
	if !s.reached.Load() {
		t.Errorf("while one thread held the first piece, the other ran only %d of the %d indices outside it", s.done.Load(), s.target)
	}
	if int(s.done.Load()) != n {
		t.Fatalf("%d of %d indices ran", s.done.Load(), n)
	}
}
