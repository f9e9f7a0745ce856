package allocs

import (
	"runtime"
	"sync"
	"testing"
)

var sink []byte

// TestPerRunCountsEveryGoroutine checks PerRun against known work: none,
// one allocation per run on the caller, and two per run on another
// goroutine (which testing.AllocsPerRun would also count, but at
// GOMAXPROCS 1), and that GOMAXPROCS is left as it was.
func TestPerRunCountsEveryGoroutine(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
	if n := PerRun(2, 50, func() {}); n != 0 {
		t.Errorf("nothing: %v allocations per run", n)
	}
	if n := PerRun(2, 50, func() { sink = make([]byte, 64) }); n != 1 {
		t.Errorf("one make: %v allocations per run", n)
	}
	var wg sync.WaitGroup
	ch := make(chan struct{})
	done := make(chan struct{})
	go func() {
		for range ch {
			sink = make([]byte, 100)
			sink = make([]byte, 200)
			wg.Done()
		}
		close(done)
	}()
	other := func() {
		wg.Add(1)
		ch <- struct{}{}
		wg.Wait()
		if p := runtime.GOMAXPROCS(0); p != 2 {
			t.Errorf("GOMAXPROCS %d inside PerRun, want 2", p)
		}
	}
	if n := PerRun(2, 50, other); n != 2 {
		t.Errorf("two makes on another goroutine: %v allocations per run", n)
	}
	close(ch)
	<-done
}
