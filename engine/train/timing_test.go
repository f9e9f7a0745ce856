package train

import (
	"context"
	"testing"
	"time"
)

func TestTimingBackwardShareIsBackwardOverForwardBackwardUpdate(t *testing.T) {
	// Hand-worked: 1 s forward, 3 s backward, 1 s update -> 3/5; metrics
	// bookkeeping (7 s) is not part of a step's cost.
	tm := Timing{Forward: time.Second, Backward: 3 * time.Second, Update: time.Second, Metrics: 7 * time.Second}
	if got := tm.BackwardShare(); got != 0.6 {
		t.Errorf("BackwardShare = %v, want 0.6", got)
	}
	if got := (Timing{}).BackwardShare(); got != 0 {
		t.Errorf("BackwardShare of nothing measured = %v, want 0", got)
	}
}

func TestRunMeasuresEveryStepAndEpochTimingsSumToTheTotal(t *testing.T) {
	data := tinyData(t)
	cfg := tinyConfig("bp")
	var sum Timing
	var epochs int
	out, err := Run(context.Background(), cfg, data, Options{OnProgress: func(p Progress) {
		epochs++
		if p.Timing.Steps != StepsPerEpoch(96, cfg.BatchSize) {
			t.Errorf("epoch %d timed %d steps, want %d", p.Epoch, p.Timing.Steps, StepsPerEpoch(96, cfg.BatchSize))
		}
		sum.add(p.Timing)
	}})
	if err != nil {
		t.Fatal(err)
	}
	if epochs != cfg.Epochs {
		t.Fatalf("%d progress reports, want %d", epochs, cfg.Epochs)
	}
	if out.Timing != sum {
		t.Errorf("Outcome.Timing = %+v, want the sum of the epochs' %+v", out.Timing, sum)
	}
	if out.Timing.Steps != cfg.Epochs*StepsPerEpoch(96, cfg.BatchSize) {
		t.Errorf("Outcome.Timing.Steps = %d, want every step", out.Timing.Steps)
	}
	if out.Timing.Forward <= 0 || out.Timing.Backward <= 0 || out.Timing.Update <= 0 {
		t.Errorf("a phase was not timed: %+v", out.Timing)
	}
	if s := out.Timing.BackwardShare(); !(s > 0 && s < 1) {
		t.Errorf("BackwardShare = %v, want in (0, 1)", s)
	}
}
