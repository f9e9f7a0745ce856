package nn

import (
	"testing"

	"github.com/fabeam/fabeam/engine/gemm"
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
