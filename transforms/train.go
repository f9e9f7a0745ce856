package transforms

import (
	"bytes"
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/fabeam/fabeam/artifacts/store"
	"github.com/fabeam/fabeam/engine/train"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*RunSpec)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*RunResult)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*Choice)(nil)).Elem())
	register.DoFn3x1[context.Context, RunSpec, func(RunResult), error](&TrainFn{})
	register.DoFn2x0[Choice, func(RunSpec)](&SeedsFn{})
	register.Emitter1[RunSpec]()
	register.Emitter1[RunResult]()
}

// Training stage names and the files under a run's key.
const (
	StageGrid  = "grid"
	StageTrain = "train"

	StateFile   = "state.safetensors"
	ModelFile   = "model.safetensors"
	HistoryFile = "history.json"
	ResultFile  = "result.json"
)

// beam counters, visible in tests and the Dataflow console.
var (
	stepsCounter   = beam.NewCounter("fabeam", "steps")
	epochsCounter  = beam.NewCounter("fabeam", "epochs")
	skippedStages  = beam.NewCounter("fabeam", "skipped")
	resumedCounter = beam.NewCounter("fabeam", "resumed")
	runsCounter    = beam.NewCounter("fabeam", "runs_trained")
)

// Choice is a rule's hyper-parameters for the final runs, as chosen by
// SelectBest or taken from Config.Chosen.
type Choice struct {
	DatasetKey string
	Rule       string
	Point      Point
}

// RunSpec is one training run to do.
type RunSpec struct {
	// Stage is StageGrid or StageTrain.
	Stage      string
	DatasetKey string
	Rule       string
	Point      Point
	// Index is the point's position in the rule's grid (grid runs only).
	Index  int
	Seed   int
	Epochs int
}

// RunResult is a finished training run: its key in the store and a few
// numbers. WallSeconds and ImagesPerSec are wall clock and go to
// manifest.json only.
type RunResult struct {
	Stage, Key, DatasetKey, Rule string
	Point                        Point
	Index, Seed, Epochs          int
	BestValAcc, TestAcc          float64
	// LastValAcc is the validation accuracy after the last completed
	// epoch: a grid point's score.
	LastValAcc                  float64
	BestEpoch                   int
	Diverged                    bool
	DivergedStep, LastGoodEpoch int
	// Skipped is set when the run's outputs already existed.
	Skipped                   bool
	WallSeconds, ImagesPerSec float64
	// BackwardShare is the backward pass's fraction of step time in this
	// execution (train.Timing.BackwardShare; wall clock, manifest only).
	BackwardShare float64
}

// trainConfig is the engine configuration of a run. Final runs record the
// learning signal (train.Config.SignalMetrics); grid runs record what the
// selection and the report need and leave it off, so their configuration,
// and with it their stage keys, stay as they were before the signal was
// recorded.
func trainConfig(c Config, r RunSpec) train.Config {
	return train.Config{
		Rule: r.Rule, LR: r.Point.LR, WeightDecay: r.Point.WeightDecay, Sigma: r.Point.Sigma,
		Epochs: r.Epochs, BatchSize: c.BatchSize, Seed: uint64(r.Seed),
		StepMetrics: c.StepMetrics, UpdateAngleEvery: c.UpdateAngleEvery, EvalBatch: c.EvalBatch,
		SignalMetrics: r.Stage == StageTrain,
	}
}

// RunKey is the store key of a training run: a hash of the engine
// configuration and the dataset key.
func RunKey(c Config, r RunSpec) string {
	return StageKey(r.Stage, trainConfig(c, r), r.DatasetKey)
}

// Train fans out every Choice over the configured seeds and trains each
// (rule, seed) for Config.Epochs, keeping the best-validation checkpoint.
// In: PCollection<Choice>; out: PCollection<RunResult>.
func Train(s beam.Scope, c Config, choices beam.PCollection) beam.PCollection {
	s = s.Scope("transforms.Train")
	specs := beam.ParDo(s, &SeedsFn{Cfg: c}, choices)
	specs = beam.Reshuffle(s, specs)
	return beam.ParDo(s, &TrainFn{Cfg: c}, specs)
}

// SeedsFn turns a Choice into one final-run spec per seed.
type SeedsFn struct {
	Cfg Config
}

// ProcessElement emits a RunSpec per seed, seeds ascending.
func (f *SeedsFn) ProcessElement(ch Choice, emit func(RunSpec)) {
	for _, seed := range f.Cfg.Seeds {
		emit(RunSpec{Stage: StageTrain, DatasetKey: ch.DatasetKey, Rule: ch.Rule, Point: ch.Point, Seed: seed, Epochs: f.Cfg.Epochs})
	}
}

// TrainFn trains one model, resuming from the last completed epoch if a
// state checkpoint exists and skipping the run if its result exists.
type TrainFn struct {
	Cfg Config
}

// ProcessElement trains the run r and emits its result.
func (f *TrainFn) ProcessElement(ctx context.Context, r RunSpec, emit func(RunResult)) error {
	res, err := runTraining(ctx, f.Cfg, r)
	if err != nil {
		return err
	}
	emit(res)
	return nil
}

// runTraining is the body of TrainFn: content-addressed, resumable.
func runTraining(ctx context.Context, c Config, r RunSpec) (RunResult, error) {
	st, err := openStore(ctx, c.Out)
	if err != nil {
		return RunResult{}, err
	}
	progress.setTotal(c.TotalEpochs())
	key := RunKey(c, r)
	var res RunResult
	if done, err := loadDone(ctx, st, store.Join(key, ResultFile), &res); err != nil {
		return RunResult{}, err
	} else if done {
		progress.skip(r.Epochs)
		log.Infof(ctx, "%s %s seed %d: %s exists, skipped", r.Stage, r.Rule, r.Seed, key)
		res.Skipped = true
		return res, nil
	}
	ds, err := LoadDataset(ctx, c.Out, r.DatasetKey)
	if err != nil {
		return RunResult{}, err
	}
	stateKey := store.Join(key, StateFile)
	resume, err := loadState(ctx, st, stateKey)
	if err != nil {
		return RunResult{}, err
	}
	if resume != nil {
		resumedCounter.Inc(ctx, 1)
		progress.skip(resume.Epoch)
		log.Infof(ctx, "%s %s seed %d: resuming after epoch %d from %s", r.Stage, r.Rule, r.Seed, resume.Epoch, st.URI(stateKey))
	}
	start := time.Now()
	opts := trainOptions(ctx, st, stateKey, r, resume, ds.Train.Len(), start)
	out, err := train.Run(ctx, trainConfig(c, r), train.NewData(ds.Train, ds.Val, ds.Test), opts)
	if err != nil {
		return RunResult{}, fmt.Errorf("%s %s seed %d: %w", r.Stage, r.Rule, r.Seed, err)
	}
	res = runResult(key, r, out, resume, ds.Train.Len(), time.Since(start).Seconds())
	if err := writeRun(ctx, st, key, r, out, res); err != nil {
		return RunResult{}, err
	}
	runsCounter.Inc(ctx, 1)
	return res, nil
}

// trainOptions are a run's hooks: after every epoch the state is
// checkpointed to stateKey and the counters advance; each epoch logs its
// progress and the ETAs.
func trainOptions(ctx context.Context, st store.Store, stateKey string, r RunSpec, resume *train.State,
	nTrain int, start time.Time) train.Options {
	opts := train.Options{Resume: resume}
	startEpoch, lastStep := 0, 0
	if resume != nil {
		startEpoch, lastStep = resume.Epoch, resume.Step
	}
	opts.OnEpoch = func(s *train.State) error {
		var buf bytes.Buffer
		if err := train.EncodeState(&buf, s); err != nil {
			return err
		}
		if err := st.Put(ctx, stateKey, buf.Bytes()); err != nil {
			return fmt.Errorf("writing checkpoint %s: %w", st.URI(stateKey), err)
		}
		stepsCounter.Inc(ctx, int64(s.Step-lastStep))
		lastStep = s.Step
		epochsCounter.Inc(ctx, 1)
		if afterEpochHook != nil {
			afterEpochHook(r, s.Epoch)
		}
		return nil
	}
	opts.OnProgress = func(p train.Progress) {
		elapsed := time.Since(start).Seconds()
		done := p.Epoch - startEpoch
		ips := float64(done*nTrain) / elapsed
		runETA := time.Duration(elapsed / float64(done) * float64(p.Epochs-p.Epoch) * float64(time.Second))
		pipeETA := progress.epoch()
		point := ""
		if r.Stage == StageGrid { // tell the grid's points apart
			point = fmt.Sprintf("  [point %d: lr %g, weight decay %g, σ %g]", r.Index, r.Point.LR, r.Point.WeightDecay, r.Point.Sigma)
		}
		log.Infof(ctx, "%s %-11s seed %d epoch %d/%d loss %.4f val %.4f  %.0f images/s (backward %.0f%% of step time)  ETA run %s, pipeline %s%s",
			r.Stage, r.Rule, r.Seed, p.Epoch, p.Epochs, p.TrainLoss, p.ValAcc, ips, 100*p.Timing.BackwardShare(), runETA.Round(time.Second), pipeETA, point)
	}
	return opts
}

// runResult summarises a finished run; wall is the seconds this execution
// trained (after resume, if any).
func runResult(key string, r RunSpec, out *train.Outcome, resume *train.State, nTrain int, wall float64) RunResult {
	h := out.History
	res := RunResult{
		Stage: r.Stage, Key: key, DatasetKey: r.DatasetKey, Rule: r.Rule, Point: r.Point,
		Index: r.Index, Seed: r.Seed, Epochs: r.Epochs,
		BestValAcc: h.BestValAcc, TestAcc: h.TestAcc, BestEpoch: h.BestEpoch,
		Diverged: h.Diverged, DivergedStep: h.DivergedStep,
		WallSeconds: wall,
	}
	if len(h.Epochs) > 0 {
		res.LastValAcc = h.Epochs[len(h.Epochs)-1].ValAcc
	}
	if h.Diverged {
		res.LastGoodEpoch = len(h.Epochs)
	}
	startEpoch := 0
	if resume != nil {
		startEpoch = resume.Epoch
	}
	if trained := out.Final.Epoch - startEpoch; trained > 0 && wall > 0 {
		res.ImagesPerSec = float64(trained*nTrain) / wall
	}
	res.BackwardShare = out.Timing.BackwardShare()
	return res
}

// writeRun writes a finished run's outputs under key — the model (final
// runs only: grid models are never used again), history.json, then
// result.json, whose presence marks the run done — and deletes the state.
func writeRun(ctx context.Context, st store.Store, key string, r RunSpec, out *train.Outcome, res RunResult) error {
	h := out.History
	if r.Stage == StageTrain {
		var mb bytes.Buffer
		meta := train.ModelMeta{Rule: r.Rule, Sigma: r.Point.Sigma, Seed: uint64(r.Seed), Epoch: h.BestEpoch, BestValAcc: h.BestValAcc}
		if err := train.EncodeModel(&mb, out.Best, out.Feedback, meta); err != nil {
			return err
		}
		if err := st.Put(ctx, store.Join(key, ModelFile), mb.Bytes()); err != nil {
			return err
		}
	}
	if err := putJSON(ctx, st, store.Join(key, HistoryFile), historyResult(h)); err != nil {
		return err
	}
	if err := putJSON(ctx, st, store.Join(key, ResultFile), res); err != nil {
		return err
	}
	return st.Delete(ctx, store.Join(key, StateFile))
}

// afterEpochHook, when set (by tests only), runs after each epoch's
// checkpoint is written.
var afterEpochHook func(r RunSpec, epoch int)

// loadState returns the saved state at key, or nil if there is none.
func loadState(ctx context.Context, st store.Store, key string) (*train.State, error) {
	rd, err := st.Open(ctx, key)
	if isNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	s, err := train.DecodeState(rd, rd.Size(), st.URI(key))
	if err != nil {
		// Checkpoints are written atomically, so this is a layout from
		// another version: start the run afresh rather than fail.
		log.Warnf(ctx, "ignoring unreadable checkpoint, training from scratch: %v", err)
		return nil, nil
	}
	return s, nil
}
