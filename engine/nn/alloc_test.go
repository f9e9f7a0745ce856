package nn

import (
	"runtime"
	"testing"

	"github.com/fabeam/fabeam/engine/gemm"
	"github.com/fabeam/fabeam/engine/internal/allocs"
)

// A training step (Forward, Loss, Backward with metrics on, Adam.Update)
// allocates nothing after NewModel and the first metrics step. The portable
// GEMM may allocate on its own; then the check cannot separate our
// allocations from its and is skipped.
func TestTrainStepDoesNotAllocate(t *testing.T) {
	a, b, c := make([]float32, 800*75), make([]float32, 75*64), make([]float32, 800*64)
	if n := testing.AllocsPerRun(3, func() { gemm.Sgemm(false, true, 800, 64, 75, 1, a, 75, b, 75, 0, c, 64) }); n > 0 {
		t.Skipf("gemm.Sgemm itself allocates %v times per call", n)
	}
	p := NewParams()
	p.InitPyTorch(1)
	x, y := testBatch(1, 2)
	m := NewModel(p, newTestRule(t, "usf_init"), 2)
	m.Metrics = true
	opt := NewAdam(NumParams, 1e-3, 0)
	step := func() {
		m.Forward(x, 2)
		m.Loss(y)
		m.Backward()
		opt.Update(p.Data, m.Grad.Data)
	}
	step()
	if n := testing.AllocsPerRun(3, step); n != 0 {
		t.Errorf("a training step allocates %v times", n)
	}
}

// At the benchmark's batch 128, with metrics off, a training step allocates
// nothing, on one thread and with the parallel kernels splitting work over
// GOMAXPROCS = 2 (parallel.go's pool, gemm's pool, the per-worker
// scratch of conv1's forward and conv2's input gradient): bp, and
// fa_random (the dense conv2 product) at 2. The other rules differ only
// in Operator, covered by TestTrainStepDoesNotAllocate.
// testing.AllocsPerRun would run the steps at GOMAXPROCS 1, so
// allocs.Steady counts instead, the fewest per step over five tries of
// twenty steps after ten: at two threads gemm's call records and packing
// buffers in circulation still grow now and then (a few allocations at
// once, when more goroutines than ever before hold them, and at every
// call while other processes keep a pool worker from running; see
// allocs.PerRun and allocs.Steady), never once a step in every try.
func TestTrainStepBatch128DoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("batch-128 steps of five rules take a few seconds")
	}
	a, b, c := make([]float32, 800*75), make([]float32, 75*64), make([]float32, 800*64)
	if n := testing.AllocsPerRun(3, func() { gemm.Sgemm(false, true, 800, 64, 75, 1, a, 75, b, 75, 0, c, 64) }); n > 0 {
		t.Skipf("gemm.Sgemm itself allocates %v times per call", n)
	}
	const batch = 128
	x, y := testBatch(3, batch)
	for _, c := range []struct {
		procs int
		name  string
	}{{1, "bp"}, {2, "bp"}, {2, "fa_random"}} {
		procs, name := c.procs, c.name
		prev := runtime.GOMAXPROCS(procs)
		{
			p := NewParams()
			p.InitPyTorch(1)
			m := NewModel(p, newTestRule(t, name), batch)
			opt := NewAdam(NumParams, 1e-3, 0)
			step := func() {
				m.Forward(x, batch)
				m.Loss(y)
				m.Backward()
				opt.Update(p.Data, m.Grad.Data)
			}
			if n := allocs.Steady(5, 10, 20, step); n != 0 {
				t.Errorf("%s at GOMAXPROCS %d: a batch-128 step allocates %v times", name, procs, n)
			}
		}
		runtime.GOMAXPROCS(prev)
	}
}
