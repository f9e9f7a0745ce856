package train

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/fabeam/fabeam/engine/cifar"
	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/engine/rng"
)

// Config is one training run's settings.
type Config struct {
	// Rule is one of nn.RuleNames().
	Rule string
	// Hyper is the rule's hyper-parameters, the one type that carries a
	// grid point from the preset through training to the results: Adam's
	// learning rate LR and coupled L2 coefficient WeightDecay, and the
	// standard deviation Sigma of the feedback matrices B0. Its fields are
	// promoted (c.LR, …).
	nn.Hyper
	// Epochs is the number of passes over the training set.
	Epochs int
	// BatchSize is the minibatch size (the paper: 128).
	BatchSize int
	// Seed selects every random stream of the run.
	Seed uint64
	// StepMetrics records local alignment angles and sign concordance
	// every step.
	StepMetrics bool
	// UpdateAngleEvery, when > 0, records the angle between the rule's
	// weight gradient and the true gradient every that many steps.
	UpdateAngleEvery int
	// EvalBatch is the batch size used for validation and test (default
	// BatchSize).
	EvalBatch int
	// SignalMetrics records, per epoch and layer, the root mean square of
	// the error arriving at the layer's output, of its weight gradient and
	// of Adam's update divided by the learning rate (Epoch.ErrorRMS,
	// WeightGradRMS, UpdateRMS; see the package documentation). Off, it
	// leaves the configuration's JSON encoding as it was before the field
	// existed (it is omitted when false), so stage keys hashed from it stay.
	SignalMetrics bool
}

// configJSON is Config's JSON encoding, field for field: the
// hyper-parameters inline, under the names LR, WeightDecay and Sigma,
// between Rule and Epochs. Stage keys are hashed from this encoding and
// training checkpoints store it, so it stays as it was written before
// Config held an nn.Hyper (whose own encoding names its fields lr,
// weight_decay and sigma).
type configJSON struct {
	Rule              string
	LR, WeightDecay   float64
	Sigma             float64
	Epochs, BatchSize int
	Seed              uint64
	StepMetrics       bool
	UpdateAngleEvery  int
	EvalBatch         int
	SignalMetrics     bool `json:"SignalMetrics,omitempty"`
}

// MarshalJSON writes c as configJSON.
func (c Config) MarshalJSON() ([]byte, error) {
	return json.Marshal(configJSON{
		Rule: c.Rule, LR: c.LR, WeightDecay: c.WeightDecay, Sigma: c.Sigma,
		Epochs: c.Epochs, BatchSize: c.BatchSize, Seed: c.Seed, StepMetrics: c.StepMetrics,
		UpdateAngleEvery: c.UpdateAngleEvery, EvalBatch: c.EvalBatch, SignalMetrics: c.SignalMetrics,
	})
}

// UnmarshalJSON reads configJSON.
func (c *Config) UnmarshalJSON(b []byte) error {
	var j configJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = Config{
		Rule: j.Rule, Hyper: nn.Hyper{LR: j.LR, WeightDecay: j.WeightDecay, Sigma: j.Sigma},
		Epochs: j.Epochs, BatchSize: j.BatchSize, Seed: j.Seed, StepMetrics: j.StepMetrics,
		UpdateAngleEvery: j.UpdateAngleEvery, EvalBatch: j.EvalBatch, SignalMetrics: j.SignalMetrics,
	}
	return nil
}

// Validate reports the first invalid field of c. It checks the rule's
// hyper-parameters against its nn.RuleSpec and draws no random tensors.
func (c Config) Validate() error {
	spec, err := nn.Spec(c.Rule)
	if err != nil {
		return fmt.Errorf("train: config field Rule: %w", err)
	}
	if err := spec.CheckHyper(c.Hyper); err != nil {
		return fmt.Errorf("train: config fields LR, WeightDecay, Sigma: %w", err)
	}
	switch {
	case c.Epochs <= 0:
		return fmt.Errorf("train: config field Epochs = %d: must be at least 1", c.Epochs)
	case c.BatchSize <= 0:
		return fmt.Errorf("train: config field BatchSize = %d: must be at least 1", c.BatchSize)
	case c.UpdateAngleEvery < 0:
		return fmt.Errorf("train: config field UpdateAngleEvery = %d: must be >= 0 (0 switches it off)", c.UpdateAngleEvery)
	case c.EvalBatch < 0:
		return fmt.Errorf("train: config field EvalBatch = %d: must be >= 0 (0 means BatchSize)", c.EvalBatch)
	}
	return nil
}

// Hyperparameters returns c's hyper-parameters as its history records them.
func (c Config) Hyperparameters() Hyperparameters {
	return Hyperparameters{LR: c.LR, WeightDecay: c.WeightDecay, Sigma: c.Sigma, Epochs: c.Epochs, BatchSize: c.BatchSize}
}

// Data is a run's data: raw training images (augmented on the fly) and
// centre-cropped, normalised validation and test inputs.
type Data struct {
	Train       *cifar.Set
	ValX, TestX []float32 // (n,3,24,24)
	ValY, TestY []uint8
}

// NewData prepares train, val and test sets for Run.
func NewData(trainSet, val, test *cifar.Set) *Data {
	return &Data{
		Train: trainSet,
		ValX:  cifar.CenterCropSet(val), ValY: val.Labels,
		TestX: cifar.CenterCropSet(test), TestY: test.Labels,
	}
}

func (d *Data) validate() error {
	const in = nn.InputC * nn.InputH * nn.InputW
	switch {
	case d == nil || d.Train == nil || d.Train.Len() == 0:
		return errors.New("train: no training images")
	case len(d.ValY) == 0 || len(d.ValX) != len(d.ValY)*in:
		return fmt.Errorf("train: validation set has %d labels and %d input values; want n labels and n*%d values, n > 0", len(d.ValY), len(d.ValX), in)
	case len(d.TestX) != len(d.TestY)*in:
		return fmt.Errorf("train: test set has %d labels and %d input values; want n*%d values", len(d.TestY), len(d.TestX), in)
	}
	return nil
}

// StepsPerEpoch is the number of optimiser steps per epoch: the last batch
// is partial, so ceil(n / batch).
func StepsPerEpoch(n, batch int) int { return (n + batch - 1) / batch }

// State is everything needed to continue a run after a completed epoch.
type State struct {
	Config Config
	// Epoch is the number of completed epochs; Step the number of
	// completed optimiser steps.
	Epoch, Step int
	Params      *nn.Params
	// Best holds the best-validation weights so far (nil before the first
	// epoch completes).
	Best       *nn.Params
	BestEpoch  int
	BestValAcc float64
	Adam       *nn.Adam
	// Feedback holds the rule's fixed feedback tensors (nil for rules
	// without any).
	Feedback []nn.Tensor
	History  History
	// Seconds is the wall clock the completed epochs took (training steps
	// and validation), summed over every execution that ran them, so a run
	// resumed across restarts still knows what its epochs cost. A
	// measurement: never part of the history. 0 in checkpoints written
	// before it was recorded.
	Seconds float64
}

// Outcome is a finished run.
type Outcome struct {
	// History is the full history, including best epoch and test accuracy.
	History History
	// Best is the best-validation model (the final weights if the run
	// diverged before completing an epoch, in which case History.BestEpoch
	// is 0).
	Best *nn.Params
	// Feedback holds the rule's fixed feedback tensors.
	Feedback []nn.Tensor
	// Final is the state after the last epoch.
	Final *State
	// Timing is the wall clock of the training steps run by this call
	// (not those before a resume). It is a measurement, never part of the
	// history or any checkpoint.
	Timing Timing
}

// Timing is the wall clock spent in the phases of training steps:
// Forward holds the forward pass and the loss, Backward the rule's
// backward pass (with Config.StepMetrics on it includes the local
// alignment metrics nn computes inside Backward), Update the Adam step,
// Metrics the bookkeeping of step metrics and update angles done between
// Backward and Update, and of the learning signal (SignalMetrics) after
// Update.
type Timing struct {
	Forward, Backward, Update, Metrics time.Duration
	// Steps is the number of optimiser steps measured.
	Steps int
}

// BackwardShare is Backward / (Forward + Backward + Update): the backward
// pass's fraction of a step's time, metrics bookkeeping excluded; 0 when
// nothing was measured.
func (t Timing) BackwardShare() float64 {
	tot := t.Forward + t.Backward + t.Update
	if tot <= 0 {
		return 0
	}
	return float64(t.Backward) / float64(tot)
}

// add accumulates u into t.
func (t *Timing) add(u Timing) {
	t.Forward += u.Forward
	t.Backward += u.Backward
	t.Update += u.Update
	t.Metrics += u.Metrics
	t.Steps += u.Steps
}

// Progress is reported after every epoch.
type Progress struct {
	Rule             string
	Seed             uint64
	Epoch, Epochs    int
	Step, TotalSteps int
	TrainLoss        float64
	TrainAcc, ValAcc float64
	// Timing is this epoch's step timing (wall clock).
	Timing Timing
}

// Options are Run's optional hooks.
type Options struct {
	// Resume continues from a saved state instead of starting afresh.
	Resume *State
	// OnEpoch is called after each completed epoch with the state to save;
	// an error stops the run and is returned.
	OnEpoch func(*State) error
	// OnProgress is called after each epoch.
	OnProgress func(Progress)
}

// Run trains one model. See the package documentation.
func Run(ctx context.Context, cfg Config, data *Data, opt Options) (*Outcome, error) {
	r, err := newRun(cfg, data, opt.Resume)
	if err != nil {
		return nil, err
	}
	for epoch := r.st.Epoch + 1; epoch <= r.cfg.Epochs; epoch++ {
		t0 := time.Now()
		ep, err := r.trainEpoch(ctx, epoch)
		if err != nil {
			return nil, err
		}
		if ep.diverged {
			break
		}
		rec := r.endEpoch(epoch, ep)
		r.st.Seconds += time.Since(t0).Seconds()
		if opt.OnProgress != nil {
			opt.OnProgress(r.progress(rec, ep.tm))
		}
		if opt.OnEpoch != nil {
			if err := opt.OnEpoch(r.st); err != nil {
				return nil, err
			}
		}
	}
	return r.finish(), nil
}

// run is one training run in progress: its configuration and data, the
// rule and model, the state a checkpoint saves, and the step buffers.
type run struct {
	cfg   Config
	data  *Data
	rule  nn.Rule
	m     *nn.Model
	st    *State
	spe   int // steps per epoch
	x     []float32
	y     []uint8
	total Timing
}

// newRun validates cfg and data and sets up a run, afresh or from resume.
func newRun(cfg Config, data *Data, resume *State) (*run, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := data.validate(); err != nil {
		return nil, err
	}
	if cfg.EvalBatch == 0 {
		cfg.EvalBatch = cfg.BatchSize
	}
	rule, err := nn.NewRule(cfg.Rule, cfg.Sigma, cfg.Seed)
	if err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, data: data, rule: rule, spe: StepsPerEpoch(data.Train.Len(), cfg.BatchSize), st: resume}
	if r.st == nil {
		r.st = freshState(cfg, r.spe)
	} else if err := checkResume(cfg, r.st); err != nil {
		return nil, err
	}
	r.m = nn.NewModel(r.st.Params, rule, max(cfg.BatchSize, cfg.EvalBatch))
	if r.st.Feedback != nil {
		fb, ok := rule.(nn.FeedbackTensors)
		if !ok {
			return nil, fmt.Errorf("train: resume state holds feedback tensors but rule %q has none", cfg.Rule)
		}
		if err := fb.SetFeedback(r.st.Feedback); err != nil {
			return nil, fmt.Errorf("train: restoring feedback tensors: %w", err)
		}
	}
	r.m.Metrics = cfg.StepMetrics
	const in = nn.InputC * nn.InputH * nn.InputW
	r.x, r.y = make([]float32, cfg.BatchSize*in), make([]uint8, cfg.BatchSize)
	return r, nil
}

// freshState is the state before the first epoch: PyTorch's initial
// weights for cfg.Seed, a new Adam and an empty history.
func freshState(cfg Config, spe int) *State {
	p := nn.NewParams()
	p.InitPyTorch(cfg.Seed)
	return &State{
		Config: cfg,
		Params: p,
		Adam:   nn.NewAdam(len(p.Data), cfg.LR, cfg.WeightDecay),
		History: History{
			Rule: cfg.Rule, Seed: int(cfg.Seed),
			Hyperparameters: cfg.Hyperparameters(),
			StepsPerEpoch:   spe,
		},
	}
}

// epochStats are one epoch's sums over its training steps.
type epochStats struct {
	lossSum       float64
	correct, seen int
	acc           *epochAcc
	sig           *signalAcc
	tm            Timing
	// diverged is set when a step's loss was NaN or Inf.
	diverged bool
}

// trainEpoch runs the optimiser steps of epoch (1-based), stopping at the
// first step whose loss is not finite.
func (r *run) trainEpoch(ctx context.Context, epoch int) (*epochStats, error) {
	order := rng.New(r.cfg.Seed, "shuffle/"+strconv.Itoa(epoch)).Perm(r.data.Train.Len())
	aug := rng.New(r.cfg.Seed, "augment/"+strconv.Itoa(epoch))
	ep := &epochStats{acc: newEpochAcc()}
	if r.cfg.SignalMetrics {
		ep.sig = &signalAcc{}
	}
	for b := 0; b < r.spe && !ep.diverged; b++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("train: %s seed %d stopped in epoch %d: %w", r.cfg.Rule, r.cfg.Seed, epoch, err)
		}
		lo, hi := b*r.cfg.BatchSize, min((b+1)*r.cfg.BatchSize, r.data.Train.Len())
		r.step(ep, order[lo:hi], aug)
	}
	r.total.add(ep.tm)
	return ep, nil
}

// step trains on the images idx (augmented with aug): forward pass and
// loss, the rule's backward pass, the step metrics, the Adam update. A loss
// that is not finite marks the run diverged and skips the rest.
func (r *run) step(ep *epochStats, idx []int, aug *rng.Stream) {
	const in = nn.InputC * nn.InputH * nn.InputW
	m, st, h, n := r.m, r.st, &r.st.History, len(idx)
	for i, k := range idx {
		cifar.RandomCropFlip(r.x[i*in:(i+1)*in], r.data.Train.Image(k), aug)
		r.y[i] = r.data.Train.Labels[k]
	}
	t0 := time.Now()
	m.Forward(r.x[:n*in], n)
	loss := m.Loss(r.y[:n])
	t1 := time.Now()
	ep.tm.Forward += t1.Sub(t0)
	st.Step++
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		h.Diverged, h.DivergedStep, ep.diverged = true, st.Step, true
		return
	}
	ep.correct += m.Correct(r.y[:n])
	ep.seen += n
	ep.lossSum += loss * float64(n)
	if sr, ok := r.rule.(nn.StepRule); ok {
		sr.SetStep(st.Step)
	}
	m.Backward()
	t2 := time.Now()
	ep.tm.Backward += t2.Sub(t1)
	r.recordStep(ep.acc, loss)
	t3 := time.Now()
	ep.tm.Metrics += t3.Sub(t2)
	st.Adam.Update(st.Params.Data, m.Grad.Data)
	t4 := time.Now()
	ep.tm.Update += t4.Sub(t3)
	ep.tm.Steps++
	if ep.sig != nil {
		ep.sig.addStep(m, st.Adam)
		ep.tm.Metrics += time.Since(t4)
	}
}

// recordStep appends a step's metrics to the history: local angles and
// sign concordance (StepMetrics), the update angle every UpdateAngleEvery
// steps, and the loss (StepMetrics).
func (r *run) recordStep(acc *epochAcc, loss float64) {
	h := &r.st.History
	if r.cfg.StepMetrics {
		acc.addStep(h, r.cfg.Rule, r.m.Step)
	}
	if k := r.cfg.UpdateAngleEvery; k > 0 && r.st.Step%k == 0 {
		recordUpdateAngle(h, r.st.Step, r.m.UpdateAngles())
	}
	if r.cfg.StepMetrics {
		h.Steps.Loss = append(h.Steps.Loss, loss)
	}
}

// endEpoch evaluates on the validation set, appends the epoch's record to
// the history, and keeps the weights if they are the best so far.
func (r *run) endEpoch(epoch int, ep *epochStats) Epoch {
	st, h := r.st, &r.st.History
	valAcc, _ := evaluate(r.m, r.data.ValX, r.data.ValY, r.cfg.EvalBatch, nil)
	rec := Epoch{
		Epoch:     epoch,
		TrainLoss: ep.lossSum / float64(ep.seen),
		TrainAcc:  float64(ep.correct) / float64(ep.seen),
		ValAcc:    valAcc,
	}
	ep.acc.fill(&rec)
	if ep.sig != nil {
		ep.sig.fill(&rec)
	}
	wb, ratio := nn.FeedbackStats(st.Params, r.rule)
	rec.WBAngle, rec.NormRatio = layerMap(wb), layerMap(ratio)
	h.Epochs = append(h.Epochs, rec)
	st.Epoch = epoch
	if st.Best == nil || valAcc > st.BestValAcc {
		if st.Best == nil {
			st.Best = st.Params.Clone()
		} else {
			st.Best.CopyFrom(st.Params)
		}
		st.BestEpoch, st.BestValAcc = epoch, valAcc
	}
	h.BestEpoch, h.BestValAcc = st.BestEpoch, st.BestValAcc
	if fb, ok := r.rule.(nn.FeedbackTensors); ok && st.Feedback == nil {
		st.Feedback = fb.Feedback()
	}
	return rec
}

// progress is the Progress report after the epoch rec, which took tm.
func (r *run) progress(rec Epoch, tm Timing) Progress {
	return Progress{Rule: r.cfg.Rule, Seed: r.cfg.Seed, Epoch: rec.Epoch, Epochs: r.cfg.Epochs,
		Step: r.st.Step, TotalSteps: r.spe * r.cfg.Epochs, TrainLoss: rec.TrainLoss, TrainAcc: rec.TrainAcc,
		ValAcc: rec.ValAcc, Timing: tm}
}

// finish tests the best weights (the last ones if no epoch completed) and
// returns the outcome.
func (r *run) finish() *Outcome {
	st, h := r.st, &r.st.History
	out := &Outcome{Final: st, Timing: r.total}
	if fb, ok := r.rule.(nn.FeedbackTensors); ok {
		out.Feedback = fb.Feedback()
	}
	out.Best = st.Best
	if out.Best == nil {
		out.Best = st.Params
	}
	testModel := nn.NewModel(out.Best, r.rule, r.cfg.EvalBatch)
	perClass := make([]int, nn.NumClasses)
	h.TestAcc, _ = evaluate(testModel, r.data.TestX, r.data.TestY, r.cfg.EvalBatch, perClass)
	h.PerClassTest = classAccuracy(perClass, r.data.TestY)
	out.History = *h
	return out
}

func checkResume(cfg Config, st *State) error {
	a, b := cfg, st.Config
	a.EvalBatch, b.EvalBatch = 0, 0
	a.Epochs, b.Epochs = 0, 0
	if a != b {
		return fmt.Errorf("train: resume state was written for config %+v, not %+v; delete the checkpoint or restore the settings", st.Config, cfg)
	}
	if st.Params == nil || st.Adam == nil {
		return errors.New("train: resume state has no parameters or optimiser state")
	}
	if st.Epoch > cfg.Epochs {
		return fmt.Errorf("train: resume state has %d epochs, more than the %d configured", st.Epoch, cfg.Epochs)
	}
	return nil
}

// Evaluate returns the accuracy of the weights p on inputs x (n,3,24,24)
// with labels y, evaluated in batches of batch.
func Evaluate(p *nn.Params, x []float32, y []uint8, batch int) float64 {
	correct := 0
	nn.ForwardDataset(p, x, batch, func(b *nn.Block) error {
		correct += countCorrect(b, y, nil)
		return nil
	})
	if len(y) == 0 {
		return 0
	}
	return float64(correct) / float64(len(y))
}

// evaluate returns the accuracy of m on (x, y); perClass, when non-nil,
// receives the number of correct predictions per class.
func evaluate(m *nn.Model, x []float32, y []uint8, batch int, perClass []int) (float64, []int) {
	if len(y) == 0 {
		return 0, nil
	}
	correct := 0
	m.ForwardDataset(x, batch, func(b *nn.Block) error {
		correct += countCorrect(b, y, perClass)
		return nil
	})
	return float64(correct) / float64(len(y)), perClass
}

// countCorrect returns how many of b's predictions equal their labels in
// y, adding each correct one to perClass when it is not nil.
func countCorrect(b *nn.Block, y []uint8, perClass []int) int {
	correct := 0
	for i, c := range b.Pred {
		if c == int(y[b.Lo+i]) {
			correct++
			if perClass != nil {
				perClass[c]++
			}
		}
	}
	return correct
}

func classAccuracy(correct []int, labels []uint8) []float64 {
	total := make([]int, len(correct))
	for _, l := range labels {
		total[l]++
	}
	acc := make([]float64, len(correct))
	for c := range acc {
		if total[c] > 0 {
			acc[c] = float64(correct[c]) / float64(total[c])
		}
	}
	return acc
}

// layerMap turns a per-layer array into a map keyed by layer name, leaving
// out NaN entries (metrics that do not apply).
func layerMap(v [nn.NumLayers]float64) map[string]float64 {
	m := map[string]float64{}
	for l, x := range v {
		if !math.IsNaN(x) {
			m[nn.LayerNames[l]] = x
		}
	}
	if len(m) == 0 {
		return nil
	}
	return m
}

func recordUpdateAngle(h *History, step int, a [nn.NumLayers]float64) {
	if h.Steps.UpdateAngle == nil {
		h.Steps.UpdateAngle = map[string][]float64{}
	}
	h.Steps.UpdateAngleSteps = append(h.Steps.UpdateAngleSteps, step)
	for l, x := range a {
		if math.IsNaN(x) {
			continue
		}
		name := nn.LayerNames[l]
		h.Steps.UpdateAngle[name] = append(h.Steps.UpdateAngle[name], x)
	}
}

// epochAcc accumulates per-step metrics over one epoch.
type epochAcc struct {
	angleSum, concSum [nn.NumLayers]float64
	angleN, concN     [nn.NumLayers]int
}

func newEpochAcc() *epochAcc { return &epochAcc{} }

func (a *epochAcc) addStep(h *History, rule string, s nn.StepMetrics) {
	for l := 0; l < nn.NumLayers; l++ {
		name := nn.LayerNames[l]
		if x := s.Angle[l]; !math.IsNaN(x) {
			if h.Steps.LocalAngle == nil {
				h.Steps.LocalAngle = map[string][]float64{}
			}
			h.Steps.LocalAngle[name] = append(h.Steps.LocalAngle[name], x)
			a.angleSum[l] += x
			a.angleN[l]++
		}
		if x := s.Concordance[l]; !math.IsNaN(x) {
			if h.Steps.Concordance == nil {
				h.Steps.Concordance = map[string][]float64{}
			}
			h.Steps.Concordance[name] = append(h.Steps.Concordance[name], x)
			a.concSum[l] += x
			a.concN[l]++
		}
	}
}

func (a *epochAcc) fill(rec *Epoch) {
	var angle, conc [nn.NumLayers]float64
	for l := range angle {
		angle[l], conc[l] = math.NaN(), math.NaN()
		if a.angleN[l] > 0 {
			angle[l] = a.angleSum[l] / float64(a.angleN[l])
		}
		if a.concN[l] > 0 {
			conc[l] = a.concSum[l] / float64(a.concN[l])
		}
	}
	rec.LocalAngle, rec.Concordance = layerMap(angle), layerMap(conc)
}
