package train

import (
	"bytes"
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

// A run's state counts the wall clock of its completed epochs, and a
// resumed run goes on counting from the checkpoint's: after a resume the
// final state holds the seconds before the checkpoint (written into it
// and read back) plus those of the epochs run since, so a run that needed
// several starts still knows what all its epochs cost.
func TestStateSecondsSumTheEpochsOverResumes(t *testing.T) {
	data := tinyData(t)
	cfg := tinyConfig("bp")
	var saved []byte
	var atSave float64
	var perEpoch []float64
	prev := 0.0
	ctx, cancel := context.WithCancel(context.Background())
	_, err := Run(ctx, cfg, data, Options{OnEpoch: func(st *State) error {
		perEpoch = append(perEpoch, st.Seconds-prev)
		prev = st.Seconds
		if st.Epoch == 1 {
			var buf bytes.Buffer
			if err := EncodeState(&buf, st); err != nil {
				return err
			}
			saved, atSave = buf.Bytes(), st.Seconds
			cancel()
		}
		return nil
	}})
	if err == nil {
		t.Fatal("cancelled run returned no error")
	}
	if len(perEpoch) != 1 || !(perEpoch[0] > 0) {
		t.Fatalf("seconds after epoch 1 = %v, want one positive value", perEpoch)
	}
	st, err := DecodeState(bytes.NewReader(saved), int64(len(saved)), "state.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if st.Seconds != atSave {
		t.Fatalf("the checkpoint read back holds %v seconds, written with %v", st.Seconds, atSave)
	}
	// Pretend the first execution was slow: the resumed run must carry
	// whatever the checkpoint says, not re-measure it.
	st.Seconds = 1000
	var seen []float64
	out, err := Run(context.Background(), cfg, data, Options{Resume: st, OnEpoch: func(s *State) error {
		seen = append(seen, s.Seconds)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) != cfg.Epochs-1 {
		t.Fatalf("%d epochs after the resume, want %d", len(seen), cfg.Epochs-1)
	}
	last := 1000.0
	for i, s := range seen {
		if !(s > last && s-last < 1000) {
			t.Errorf("after epoch %d of the resumed run the state holds %v s, want a little more than %v", i+2, s, last)
		}
		last = s
	}
	if out.Final.Seconds != last {
		t.Errorf("final seconds %v, want the last checkpoint's %v", out.Final.Seconds, last)
	}
}
