package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/engine/cifar"
	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/engine/rng"
)

// Config is one training run's settings.
type Config struct {
	// Rule is one of nn.RuleNames().
	Rule string
	// LR is Adam's learning rate; WeightDecay its coupled L2 coefficient.
	LR, WeightDecay float64
	// Sigma is the standard deviation of the feedback matrices B0.
	Sigma float64
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
}

// Validate reports the first invalid field of c.
func (c Config) Validate() error {
	if _, err := nn.NewRule(c.Rule, c.Sigma, c.Seed); err != nil {
		return fmt.Errorf("train: config field Rule: %w", err)
	}
	switch {
	case !(c.LR > 0) || math.IsInf(c.LR, 0):
		return fmt.Errorf("train: config field LR = %v: must be a positive finite learning rate", c.LR)
	case c.WeightDecay < 0 || math.IsNaN(c.WeightDecay):
		return fmt.Errorf("train: config field WeightDecay = %v: must be >= 0", c.WeightDecay)
	case c.Sigma < 0 || math.IsNaN(c.Sigma):
		return fmt.Errorf("train: config field Sigma = %v: must be >= 0", c.Sigma)
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

// Hyperparameters returns c's hyper-parameters in the results schema.
func (c Config) Hyperparameters() results.Hyperparameters {
	return results.Hyperparameters{LR: c.LR, WeightDecay: c.WeightDecay, Sigma: c.Sigma, Epochs: c.Epochs, BatchSize: c.BatchSize}
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
	History  results.History
}

// Outcome is a finished run.
type Outcome struct {
	// History is the full history, including best epoch and test accuracy.
	History results.History
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
// Backward and Update.
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
	nTrain := data.Train.Len()
	spe := StepsPerEpoch(nTrain, cfg.BatchSize)

	st := opt.Resume
	if st == nil {
		p := nn.NewParams()
		p.InitPyTorch(cfg.Seed)
		st = &State{
			Config: cfg,
			Params: p,
			Adam:   nn.NewAdam(len(p.Data), cfg.LR, cfg.WeightDecay),
			History: results.History{
				Rule: cfg.Rule, Seed: int(cfg.Seed),
				Hyperparameters: cfg.Hyperparameters(),
				StepsPerEpoch:   spe,
			},
		}
	} else if err := checkResume(cfg, st); err != nil {
		return nil, err
	}
	maxBatch := max(cfg.BatchSize, cfg.EvalBatch)
	m := nn.NewModel(st.Params, rule, maxBatch)
	if st.Feedback != nil {
		fb, ok := rule.(nn.FeedbackTensors)
		if !ok {
			return nil, fmt.Errorf("train: resume state holds feedback tensors but rule %q has none", cfg.Rule)
		}
		if err := fb.SetFeedback(st.Feedback); err != nil {
			return nil, fmt.Errorf("train: restoring feedback tensors: %w", err)
		}
	}
	m.Metrics = cfg.StepMetrics

	const in = nn.InputC * nn.InputH * nn.InputW
	x := make([]float32, cfg.BatchSize*in)
	y := make([]uint8, cfg.BatchSize)
	h := &st.History
	diverged := false
	var total Timing
	for epoch := st.Epoch + 1; epoch <= cfg.Epochs && !diverged; epoch++ {
		order := rng.New(cfg.Seed, "shuffle/"+strconv.Itoa(epoch)).Perm(nTrain)
		aug := rng.New(cfg.Seed, "augment/"+strconv.Itoa(epoch))
		var lossSum float64
		var correct, seen int
		acc := newEpochAcc()
		var tm Timing
		for b := 0; b < spe; b++ {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("train: %s seed %d stopped in epoch %d: %w", cfg.Rule, cfg.Seed, epoch, err)
			}
			lo, hi := b*cfg.BatchSize, min((b+1)*cfg.BatchSize, nTrain)
			n := hi - lo
			for i := 0; i < n; i++ {
				idx := order[lo+i]
				cifar.RandomCropFlip(x[i*in:(i+1)*in], data.Train.Image(idx), aug)
				y[i] = data.Train.Labels[idx]
			}
			t0 := time.Now()
			m.Forward(x[:n*in], n)
			loss := m.Loss(y[:n])
			t1 := time.Now()
			tm.Forward += t1.Sub(t0)
			st.Step++
			if math.IsNaN(loss) || math.IsInf(loss, 0) {
				h.Diverged = true
				h.DivergedStep = st.Step
				diverged = true
				break
			}
			correct += m.Correct(y[:n])
			seen += n
			lossSum += loss * float64(n)
			m.Backward()
			t2 := time.Now()
			tm.Backward += t2.Sub(t1)
			if cfg.StepMetrics {
				acc.addStep(h, cfg.Rule, m.Step)
			}
			if k := cfg.UpdateAngleEvery; k > 0 && st.Step%k == 0 {
				recordUpdateAngle(h, st.Step, m.UpdateAngles())
			}
			if cfg.StepMetrics {
				h.Steps.Loss = append(h.Steps.Loss, loss)
			}
			t3 := time.Now()
			tm.Metrics += t3.Sub(t2)
			st.Adam.Update(st.Params.Data, m.Grad.Data)
			tm.Update += time.Since(t3)
			tm.Steps++
		}
		total.add(tm)
		if diverged {
			break
		}
		valAcc, _ := evaluate(m, data.ValX, data.ValY, cfg.EvalBatch, nil)
		rec := results.Epoch{
			Epoch:     epoch,
			TrainLoss: lossSum / float64(seen),
			TrainAcc:  float64(correct) / float64(seen),
			ValAcc:    valAcc,
		}
		acc.fill(&rec)
		wb, ratio := nn.FeedbackStats(st.Params, rule)
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
		if fb, ok := rule.(nn.FeedbackTensors); ok && st.Feedback == nil {
			st.Feedback = fb.Feedback()
		}
		if opt.OnProgress != nil {
			opt.OnProgress(Progress{Rule: cfg.Rule, Seed: cfg.Seed, Epoch: epoch, Epochs: cfg.Epochs,
				Step: st.Step, TotalSteps: spe * cfg.Epochs, TrainLoss: rec.TrainLoss, TrainAcc: rec.TrainAcc, ValAcc: valAcc, Timing: tm})
		}
		if opt.OnEpoch != nil {
			if err := opt.OnEpoch(st); err != nil {
				return nil, err
			}
		}
	}
	out := &Outcome{Final: st, Timing: total}
	if fb, ok := rule.(nn.FeedbackTensors); ok {
		out.Feedback = fb.Feedback()
	}
	best := st.Best
	if best == nil {
		best = st.Params
	}
	out.Best = best
	testModel := nn.NewModel(best, rule, cfg.EvalBatch)
	perClass := make([]int, nn.NumClasses)
	testAcc, _ := evaluate(testModel, data.TestX, data.TestY, cfg.EvalBatch, perClass)
	h.TestAcc = testAcc
	h.PerClassTest = classAccuracy(perClass, data.TestY)
	out.History = *h
	return out, nil
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
// with labels y, evaluated in batches of batch. The rule plays no part in a
// forward pass, so bp is used.
func Evaluate(p *nn.Params, x []float32, y []uint8, batch int) float64 {
	rule, _ := nn.NewRule("bp", 0, 0)
	m := nn.NewModel(p, rule, batch)
	acc, _ := evaluate(m, x, y, batch, nil)
	return acc
}

// Predict returns the predicted class of every input in x (n,3,24,24).
func Predict(p *nn.Params, x []float32, batch int) []int {
	const in = nn.InputC * nn.InputH * nn.InputW
	rule, _ := nn.NewRule("bp", 0, 0)
	m := nn.NewModel(p, rule, batch)
	n := len(x) / in
	pred := make([]int, n)
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		m.Forward(x[lo*in:hi*in], hi-lo)
		m.Predict(pred[lo:hi])
	}
	return pred
}

// evaluate returns the accuracy of m on (x, y); perClass, when non-nil,
// receives the number of correct predictions per class.
func evaluate(m *nn.Model, x []float32, y []uint8, batch int, perClass []int) (float64, []int) {
	const in = nn.InputC * nn.InputH * nn.InputW
	n := len(y)
	if n == 0 {
		return 0, nil
	}
	pred := make([]int, batch)
	correct := 0
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		m.Forward(x[lo*in:hi*in], hi-lo)
		p := m.Predict(pred[:hi-lo])
		for i, c := range p {
			if c == int(y[lo+i]) {
				correct++
				if perClass != nil {
					perClass[c]++
				}
			}
		}
	}
	return float64(correct) / float64(n), perClass
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

func recordUpdateAngle(h *results.History, step int, a [nn.NumLayers]float64) {
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

func (a *epochAcc) addStep(h *results.History, rule string, s nn.StepMetrics) {
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

func (a *epochAcc) fill(rec *results.Epoch) {
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
