package train

import (
	"bytes"
	"context"
	"reflect"
	"testing"

	"github.com/fabeam/fabeam/engine/nn"
)

// The rules beyond the paper (a step-dependent one among them, and ones
// whose fixed tensors come from the initialisation distribution or are
// direct projections) resume bit-identically from a checkpoint written
// after epoch 1: the resumed run's history and weights equal an
// uninterrupted run's.
func TestResumeIsBitIdenticalForTheRulesBeyondThePaper(t *testing.T) {
	data := tinyData(t)
	n := 0
	for _, s := range nn.Specs() {
		if s.InPaper {
			continue
		}
		n++
		cfg := tinyConfig(s.Name)
		full, err := Run(context.Background(), cfg, data, Options{})
		if err != nil {
			t.Fatal(err)
		}
		var saved []byte
		ctx, cancel := context.WithCancel(context.Background())
		_, err = Run(ctx, cfg, data, Options{OnEpoch: func(st *State) error {
			var buf bytes.Buffer
			if err := EncodeState(&buf, st); err != nil {
				return err
			}
			saved = buf.Bytes()
			cancel()
			return nil
		}})
		if err == nil {
			t.Fatal("cancelled run returned no error")
		}
		st, err := DecodeState(bytes.NewReader(saved), int64(len(saved)), "state.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		resumed, err := Run(context.Background(), cfg, data, Options{Resume: st})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(full.History, resumed.History) {
			t.Errorf("%s: resumed history differs from the uninterrupted run", s.Name)
		}
		if !bitsEqual(full.Final.Params.Data, resumed.Final.Params.Data) {
			t.Errorf("%s: resumed weights differ from the uninterrupted run", s.Name)
		}
	}
	if n == 0 {
		t.Fatal("no rule beyond the paper's to test")
	}
}

// The training loop tells a StepRule the 1-based global step before every
// backward pass: after epoch 1's three steps the rule's operators are step
// 3's (as a fresh rule set to step 3 gives them), not step 0's.
func TestTheLoopGivesStepRulesTheGlobalStep(t *testing.T) {
	data := tinyData(t)
	found := false
	for _, s := range nn.Specs() {
		cfg := tinyConfig(s.Name)
		if _, ok := s.New(cfg.Sigma, cfg.Seed).(nn.StepRule); !ok {
			continue
		}
		found = true
		r, err := newRun(cfg, data, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.trainEpoch(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
		if r.st.Step != 3 {
			t.Fatalf("%s: %d steps in epoch 1, want 3", s.Name, r.st.Step)
		}
		at := func(step int) [nn.NumLayers]float64 {
			fresh := s.New(cfg.Sigma, cfg.Seed).(nn.StepRule)
			fresh.SetStep(step)
			a, _ := nn.FeedbackStats(r.st.Params, fresh)
			return a
		}
		got, _ := nn.FeedbackStats(r.st.Params, r.rule)
		if step3, step0 := at(3), at(0); !reflect.DeepEqual(got[1:], step3[1:]) || reflect.DeepEqual(got[1:], step0[1:]) {
			t.Errorf("%s: after 3 steps the operators' angles to W are %v; step 3's are %v, step 0's %v", s.Name, got, step3, step0)
		}
	}
	if !found {
		t.Fatal("no rule implements nn.StepRule")
	}
}
