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

// TestSteadyTakesTheCleanestTry: growth confined to the first try (here
// 25 allocations in the first 25 calls, a pool catching up) is not
// counted, an allocation in every call is, and nothing is nothing.
func TestSteadyTakesTheCleanestTry(t *testing.T) {
	calls := 0
	growing := func() {
		calls++
		if calls <= 25 {
			sink = make([]byte, 64)
		}
	}
	if n := PerRun(0, 20, growing); n != 1 {
		t.Fatalf("the growth itself: PerRun counts %v per run, want 1", n)
	}
	calls = 0
	if n := Steady(3, 0, 20, growing); n != 0 {
		t.Errorf("growth in the first try only: Steady = %v, want 0", n)
	}
	if n := Steady(3, 2, 20, func() { sink = make([]byte, 64) }); n != 1 {
		t.Errorf("one make a run: Steady = %v, want 1", n)
	}
	if n := Steady(3, 2, 20, func() {}); n != 0 {
		t.Errorf("nothing: Steady = %v, want 0", n)
	}
}
