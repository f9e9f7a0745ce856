package train

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/engine/cifar"
	"github.com/fabeam/fabeam/engine/nn"
)

// tinyData is a small synthetic problem: 96 training images, 32 validation
// and 40 test images.
func tinyData(t testing.TB) *Data {
	t.Helper()
	all := cifar.Synthetic(168, 5)
	return NewData(all.Subset(span(0, 96)), all.Subset(span(96, 128)), all.Subset(span(128, 168)))
}

// span returns the indices lo, lo+1, ..., hi-1.
func span(lo, hi int) []int {
	v := make([]int, hi-lo)
	for i := range v {
		v[i] = lo + i
	}
	return v
}

func tinyConfig(rule string) Config {
	return Config{Rule: rule, Hyper: nn.Hyper{LR: 1e-3, WeightDecay: 1e-4, Sigma: 0.05}, Epochs: 2, BatchSize: 32,
		Seed: 3, StepMetrics: true, UpdateAngleEvery: 2}
}

func TestStepsPerEpochMatchesThePaper(t *testing.T) {
	// docs/paper.md: batch 128, 352 steps per epoch of 45,000, 17,600 in 50 epochs.
	if got := StepsPerEpoch(45000, 128); got != 352 {
		t.Fatalf("StepsPerEpoch(45000,128) = %d, want 352", got)
	}
	if got := 50 * StepsPerEpoch(45000, 128); got != 17600 {
		t.Fatalf("50 epochs = %d steps, want 17600", got)
	}
	if got := StepsPerEpoch(96, 32); got != 3 {
		t.Fatalf("StepsPerEpoch(96,32) = %d, want 3", got)
	}
}

func TestConfigValidateNamesTheField(t *testing.T) {
	base := tinyConfig("bp")
	cases := []struct {
		mutate func(*Config)
		field  string
	}{
		{func(c *Config) { c.Rule = "nope" }, "Rule"},
		{func(c *Config) { c.LR = 0 }, "LR"},
		{func(c *Config) { c.LR = math.NaN() }, "LR"},
		{func(c *Config) { c.WeightDecay = -1 }, "WeightDecay"},
		{func(c *Config) { c.Sigma = -0.1 }, "Sigma"},
		{func(c *Config) { c.Epochs = 0 }, "Epochs"},
		{func(c *Config) { c.BatchSize = -3 }, "BatchSize"},
		{func(c *Config) { c.UpdateAngleEvery = -1 }, "UpdateAngleEvery"},
	}
	for _, tc := range cases {
		c := base
		tc.mutate(&c)
		err := c.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.field) {
			t.Errorf("invalid %s: got error %v, want one naming the field", tc.field, err)
		}
	}
	if err := base.Validate(); err != nil {
		t.Fatalf("valid config rejected: %v", err)
	}
}

func TestRunIsDeterministic(t *testing.T) {
	data := tinyData(t)
	for _, rule := range []string{"bp", "fa_toeplitz"} {
		a, err := Run(context.Background(), tinyConfig(rule), data, Options{})
		if err != nil {
			t.Fatal(err)
		}
		b, err := Run(context.Background(), tinyConfig(rule), data, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a.History, b.History) {
			t.Errorf("%s: histories differ between two runs with the same seed", rule)
		}
		if !bitsEqual(a.Final.Params.Data, b.Final.Params.Data) || !bitsEqual(a.Best.Data, b.Best.Data) {
			t.Errorf("%s: weights differ between two runs with the same seed", rule)
		}
	}
}

func TestHistoryHasEverySeries(t *testing.T) {
	data := tinyData(t)
	out, err := Run(context.Background(), tinyConfig("fa_random"), data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	h := out.History
	if len(h.Epochs) != 2 || h.StepsPerEpoch != 3 {
		t.Fatalf("%d epochs, %d steps per epoch; want 2 and 3", len(h.Epochs), h.StepsPerEpoch)
	}
	for _, layer := range []string{"conv2", "fc1", "fc2", "fc3"} {
		if n := len(h.Steps.LocalAngle[layer]); n != 6 {
			t.Errorf("local angle of %s has %d values, want one per step (6)", layer, n)
		}
	}
	if _, ok := h.Steps.LocalAngle["conv1"]; ok {
		t.Error("conv1 sends nothing back, yet has a local angle series")
	}
	// fa_random: concordance for fc layers only (conv2's B0 is dense).
	if _, ok := h.Steps.Concordance["conv2"]; ok {
		t.Error("fa_random conv2 has a concordance series; its B0 has another shape than W")
	}
	if n := len(h.Steps.Concordance["fc1"]); n != 6 {
		t.Errorf("fc1 concordance has %d values, want 6", n)
	}
	if !reflect.DeepEqual(h.Steps.UpdateAngleSteps, []int{2, 4, 6}) {
		t.Errorf("update angle steps %v, want [2 4 6]", h.Steps.UpdateAngleSteps)
	}
	// The epoch mean is the mean of that epoch's step values.
	var sum float64
	for _, v := range h.Steps.LocalAngle["fc2"][3:6] {
		sum += v
	}
	if got := h.Epochs[1].LocalAngle["fc2"]; math.Abs(got-sum/3) > 1e-12 {
		t.Errorf("epoch 2 fc2 angle %v, want mean of its steps %v", got, sum/3)
	}
	best := 0
	for i, e := range h.Epochs {
		if e.ValAcc > h.Epochs[best].ValAcc {
			best = i
		}
	}
	if h.BestEpoch != best+1 || h.BestValAcc != h.Epochs[best].ValAcc {
		t.Errorf("best epoch %d (%v), want %d (%v)", h.BestEpoch, h.BestValAcc, best+1, h.Epochs[best].ValAcc)
	}
	// The test accuracy is that of the best model, recomputed here.
	if got := Evaluate(out.Best, data.TestX, data.TestY, 7); got != h.TestAcc {
		t.Errorf("test accuracy %v, but the best model scores %v", h.TestAcc, got)
	}
	var mean float64
	for c, a := range h.PerClassTest {
		n := 0
		for _, y := range data.TestY {
			if int(y) == c {
				n++
			}
		}
		mean += a * float64(n)
	}
	if math.Abs(mean/float64(len(data.TestY))-h.TestAcc) > 1e-12 {
		t.Errorf("per-class accuracies weighted by class size give %v, want the test accuracy %v", mean/float64(len(data.TestY)), h.TestAcc)
	}
}

// Stopping after one epoch, saving the state through its safetensors
// encoding and resuming must give exactly the uninterrupted run.
func TestResumeIsBitIdentical(t *testing.T) {
	data := tinyData(t)
	for _, rule := range []string{"usf_init", "fa_random"} {
		cfg := tinyConfig(rule)
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
		if st.Epoch != 1 {
			t.Fatalf("saved state after epoch %d, want 1", st.Epoch)
		}
		resumed, err := Run(context.Background(), cfg, data, Options{Resume: st})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(full.History, resumed.History) {
			t.Errorf("%s: resumed history differs from the uninterrupted run", rule)
		}
		if !bitsEqual(full.Final.Params.Data, resumed.Final.Params.Data) {
			t.Errorf("%s: resumed weights differ from the uninterrupted run", rule)
		}
	}
}

func TestResumeRejectsAnotherConfig(t *testing.T) {
	data := tinyData(t)
	cfg := tinyConfig("bp")
	cfg.Epochs = 1
	out, err := Run(context.Background(), cfg, data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	other := cfg
	other.LR = 3e-3
	other.Epochs = 2
	if _, err := Run(context.Background(), other, data, Options{Resume: out.Final}); err == nil || !strings.Contains(err.Error(), "resume") {
		t.Fatalf("resuming with another learning rate: err = %v, want a resume error", err)
	}
}

// A learning rate of 1e8 makes Adam move every weight by about 1e8 in the
// first step, so the logits overflow and the loss becomes Inf or NaN.
func TestDivergenceIsAnOutcomeNotACrash(t *testing.T) {
	data := tinyData(t)
	cfg := tinyConfig("fa_random")
	cfg.LR = 1e8
	cfg.Epochs = 3
	out, err := Run(context.Background(), cfg, data, Options{})
	if err != nil {
		t.Fatalf("diverging run returned an error: %v", err)
	}
	h := out.History
	if !h.Diverged || h.DivergedStep < 2 {
		t.Fatalf("diverged=%v at step %d; want a recorded divergence after the first update", h.Diverged, h.DivergedStep)
	}
	if len(h.Epochs) >= 3 {
		t.Fatalf("run went on for %d epochs after diverging", len(h.Epochs))
	}
}

func TestModelCheckpointRoundTrip(t *testing.T) {
	data := tinyData(t)
	cfg := tinyConfig("fa_toeplitz")
	cfg.Epochs = 1
	out, err := Run(context.Background(), cfg, data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	meta := ModelMeta{Rule: cfg.Rule, Sigma: cfg.Sigma, Seed: cfg.Seed, Epoch: out.History.BestEpoch, BestValAcc: out.History.BestValAcc}
	if err := EncodeModel(&buf, out.Best, out.Feedback, meta); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	p, fb, gotMeta, err := DecodeModel(bytes.NewReader(b), int64(len(b)), "model.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	if gotMeta != meta {
		t.Errorf("metadata %+v, want %+v", gotMeta, meta)
	}
	if !bitsEqual(p.Data, out.Best.Data) {
		t.Error("weights changed in the round trip")
	}
	if len(fb) != len(out.Feedback) || len(fb) == 0 {
		t.Fatalf("%d feedback tensors back, want %d (> 0)", len(fb), len(out.Feedback))
	}
	for i := range fb {
		if fb[i].Name != out.Feedback[i].Name || !bitsEqual(fb[i].Data, out.Feedback[i].Data) {
			t.Errorf("feedback tensor %s changed in the round trip", fb[i].Name)
		}
	}
	// The same checkpoint with a NaN weight is refused.
	bad := out.Best.Clone()
	bad.Data[len(bad.Data)-1] = float32(math.NaN())
	buf.Reset()
	if err := EncodeModel(&buf, bad, out.Feedback, meta); err != nil {
		t.Fatal(err)
	}
	b = buf.Bytes()
	if _, _, _, err := DecodeModel(bytes.NewReader(b), int64(len(b)), "nan.safetensors"); err == nil ||
		!strings.Contains(err.Error(), "nan.safetensors") || !strings.Contains(err.Error(), "fc3.bias") {
		t.Fatalf("NaN weight: err = %v, want an error naming the file and the tensor", err)
	}
}

func TestTensorNamesArePyTorchStateDict(t *testing.T) {
	want := []string{"conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias",
		"fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"}
	var got []string
	n := 0
	for _, ts := range nn.NewParams().Tensors() {
		got = append(got, ts.Name)
		n += len(ts.Data)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("tensor names %v, want %v", got, want)
	}
	if n != 404746 {
		t.Fatalf("%d parameters, want 404,746 (docs/paper.md)", n)
	}
}

func bitsEqual(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
			return false
		}
	}
	return true
}

// Every rule starts from the same forward weights: the initial parameters
// depend on the seed alone (PyTorch's initialisation drawn from
// rng.New(seed, "init")), never on the rule, its sigma or its feedback draw.
// Checked on the state Run would start training from, for every rule, with
// each rule's own sigma, against bp's bit for bit; another seed must differ.
func TestEveryRuleStartsFromTheSameWeights(t *testing.T) {
	data := tinyData(t)
	start := func(rule string, sigma float64, seed uint64) []float32 {
		cfg := tinyConfig(rule)
		cfg.Sigma, cfg.Seed = sigma, seed
		r, err := newRun(cfg, data, nil)
		if err != nil {
			t.Fatal(err)
		}
		return append([]float32(nil), r.st.Params.Data...)
	}
	ref := start("bp", 0.05, 3)
	for i, rule := range nn.RuleNames() {
		got := start(rule, 0.01*float64(i+1), 3)
		for j := range ref {
			if math.Float32bits(got[j]) != math.Float32bits(ref[j]) {
				t.Fatalf("%s: initial parameter %d = %v, bp's = %v", rule, j, got[j], ref[j])
			}
		}
	}
	other := start("bp", 0.05, 4)
	same := 0
	for j := range ref {
		if other[j] == ref[j] {
			same++
		}
	}
	if same > len(ref)/100 {
		t.Fatalf("seed 4 shares %d of %d initial parameters with seed 3", same, len(ref))
	}
}

// Config's JSON is the encoding stage keys are hashed from and checkpoints
// store: the hyper-parameters inline under their Go names, in the place
// they had before Config held an nn.Hyper. Written out by hand here, so a
// change to the encoding (which would re-key every cached run) fails.
func TestConfigJSONIsTheFlatEncodingAndRoundTrips(t *testing.T) {
	c := Config{Rule: "usf_init", Hyper: nn.Hyper{LR: 0.003, WeightDecay: 1e-4, Sigma: 0.05}, Epochs: 50, BatchSize: 128,
		Seed: 2, StepMetrics: true, UpdateAngleEvery: 50, EvalBatch: 500}
	const want = `{"Rule":"usf_init","LR":0.003,"WeightDecay":0.0001,"Sigma":0.05,"Epochs":50,"BatchSize":128,` +
		`"Seed":2,"StepMetrics":true,"UpdateAngleEvery":50,"EvalBatch":500}`
	for _, signal := range []bool{false, true} {
		c.SignalMetrics = signal
		w := want
		if signal {
			w = strings.TrimSuffix(want, "}") + `,"SignalMetrics":true}`
		}
		b, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != w {
			t.Errorf("SignalMetrics %v: encoded\n%s\nwant\n%s", signal, b, w)
		}
		var back Config
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if back != c {
			t.Errorf("round trip: %+v, want %+v", back, c)
		}
	}
	// A field added to Config must be added to its encoding too.
	n := reflect.TypeOf(Config{}).NumField() - 1 + reflect.TypeOf(nn.Hyper{}).NumField()
	if m := reflect.TypeOf(configJSON{}).NumField(); m != n {
		t.Errorf("configJSON has %d fields, Config (its Hyper inline) %d", m, n)
	}
}
