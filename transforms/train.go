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

	"github.com/fabeam/fabeam/artifacts/results"
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

	StateFile = "state.safetensors"
	// StateDigestFile holds the Digest of StateFile, written after it.
	StateDigestFile = "state.json"
	ModelFile       = "model.safetensors"
	HistoryFile     = "history.json"
	ResultFile      = "result.json"
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
		Rule: r.Rule, Hyper: r.Point,
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
	if done, err := loadDone(ctx, st, runCheck(key, r), &res); err != nil {
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
	resume, err := loadState(ctx, st, stateKey, store.Join(key, StateDigestFile), fmt.Sprintf("%s %s seed %d", r.Stage, r.Rule, r.Seed))
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
	inputs, err := sumInputs(ctx, st, runInputs(r))
	if err != nil {
		return RunResult{}, err
	}
	if err := writeRun(ctx, st, key, r, out, res, inputs); err != nil {
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
		d, err := store.PutDigest(ctx, st, stateKey, buf.Bytes())
		if err != nil {
			return fmt.Errorf("writing checkpoint %s: %w", st.URI(stateKey), err)
		}
		if err := putJSON(ctx, st, stateDigestKey(stateKey), d); err != nil {
			return fmt.Errorf("writing checkpoint: %w", err)
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
// took (after resume, if any). A resumed run adds the seconds its earlier
// executions' completed epochs took (the checkpoint's train.State.Seconds),
// so WallSeconds and ImagesPerSec cover every epoch of the run however
// many starts it needed; a checkpoint written before those seconds were
// recorded leaves both to this execution alone.
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
		if resume.Seconds > 0 {
			res.WallSeconds += resume.Seconds
		} else {
			startEpoch = resume.Epoch
		}
	}
	if trained := out.Final.Epoch - startEpoch; trained > 0 && res.WallSeconds > 0 {
		res.ImagesPerSec = float64(trained*nTrain) / res.WallSeconds
	}
	res.BackwardShare = out.Timing.BackwardShare()
	return res
}

// writeRun writes a finished run's outputs under key — the model (final
// runs only: grid models are never used again), history.json, then
// result.json, whose presence marks the run done — and deletes the state.
func writeRun(ctx context.Context, st store.Store, key string, r RunSpec, out *train.Outcome, res RunResult,
	inputs map[string]store.Digest) error {
	h := out.History
	in := Integrity{Artifacts: map[string]store.Digest{}, Inputs: inputs}
	if r.Stage == StageTrain {
		var mb bytes.Buffer
		meta := train.ModelMeta{Rule: r.Rule, Sigma: r.Point.Sigma, Seed: uint64(r.Seed), Epoch: h.BestEpoch, BestValAcc: h.BestValAcc}
		if err := train.EncodeModel(&mb, out.Best, out.Feedback, meta); err != nil {
			return err
		}
		d, err := store.PutDigest(ctx, st, store.Join(key, ModelFile), mb.Bytes())
		if err != nil {
			return fmt.Errorf("writing %s: %w", st.URI(store.Join(key, ModelFile)), err)
		}
		in.Artifacts[ModelFile] = d
	}
	d, err := putJSONDigest(ctx, st, store.Join(key, HistoryFile), historyResult(h))
	if err != nil {
		return err
	}
	in.Artifacts[HistoryFile] = d
	if err := putDone(ctx, st, store.Join(key, ResultFile), res, in); err != nil {
		return err
	}
	if err := st.Delete(ctx, store.Join(key, StateFile)); err != nil {
		return err
	}
	return st.Delete(ctx, store.Join(key, StateDigestFile))
}

// stateDigestKey is the key of the digest of the checkpoint at stateKey.
func stateDigestKey(stateKey string) string {
	return stateKey[:len(stateKey)-len(StateFile)] + StateDigestFile
}

// runFiles are the artifacts a finished run's record describes: its
// history, and the model of a final run.
func runFiles(stage string) []string {
	if stage == StageTrain {
		return []string{ModelFile, HistoryFile}
	}
	return []string{HistoryFile}
}

// runInputs are the upstream records a run uses: its dataset's.
func runInputs(r RunSpec) []string {
	return []string{store.Join(r.DatasetKey, DatasetMetaFile)}
}

// runCheck is how a run is checked before it is skipped: result.json's
// seal, the digests of its history and model, and its dataset's record.
// An old record without digests is checked by its files' structure: the
// record is this run's, history.json is a history that agrees with it
// (rule, seed, best epoch, accuracies, divergence), and the model (final
// runs) decodes — header against size, every tensor's shape, finite
// weights — with the rule and best epoch of the record.
func runCheck(key string, r RunSpec) doneCheck {
	return doneCheck{
		What: fmt.Sprintf("%s %s seed %d", r.Stage, r.Rule, r.Seed), Redo: "training it again (and redoing what uses it)",
		Key: key, Marker: ResultFile, Files: runFiles(r.Stage), Inputs: runInputs(r),
		Legacy: func(ctx context.Context, st store.Store, v any) error {
			res := v.(*RunResult)
			if res.Key != key || res.Rule != r.Rule || res.Seed != r.Seed {
				return damaged("%s is the record of %s (%s seed %d), not of this run", st.URI(store.Join(key, ResultFile)), res.Key, res.Rule, res.Seed)
			}
			return checkRunFiles(ctx, st, key, r.Stage, res)
		},
	}
}

// checkRunFiles checks that a run's history (and model) agree with its
// record res.
func checkRunFiles(ctx context.Context, st store.Store, key, stage string, res *RunResult) error {
	hk := store.Join(key, HistoryFile)
	var h results.History
	if err := getJSON(ctx, st, hk, &h); err != nil {
		if isNotExist(err) {
			return &store.DamagedError{URI: st.URI(hk), Key: hk, Kind: store.Missing}
		}
		return err
	}
	if h.Rule != res.Rule || h.Seed != res.Seed || h.BestEpoch != res.BestEpoch || h.BestValAcc != res.BestValAcc ||
		h.TestAcc != res.TestAcc || h.Diverged != res.Diverged || h.DivergedStep != res.DivergedStep {
		return damaged("%s disagrees with its record (history: best epoch %d, best val %v, test %v, diverged %v; record: %d, %v, %v, %v)",
			st.URI(hk), h.BestEpoch, h.BestValAcc, h.TestAcc, h.Diverged, res.BestEpoch, res.BestValAcc, res.TestAcc, res.Diverged)
	}
	if n := len(h.Epochs); n > 0 && h.Epochs[n-1].ValAcc != res.LastValAcc {
		return damaged("%s ends at validation accuracy %v, its record says %v", st.URI(hk), h.Epochs[n-1].ValAcc, res.LastValAcc)
	}
	if stage != StageTrain {
		return nil
	}
	mk := store.Join(key, ModelFile)
	rd, err := st.Open(ctx, mk)
	if err != nil {
		if isNotExist(err) {
			return &store.DamagedError{URI: st.URI(mk), Key: mk, Kind: store.Missing}
		}
		return err
	}
	defer rd.Close()
	_, _, meta, err := train.DecodeModel(rd, rd.Size(), st.URI(mk))
	if err != nil {
		return damaged("%v", err)
	}
	if meta.Rule != res.Rule || meta.Epoch != res.BestEpoch {
		return damaged("%s holds %s epoch %d, its record says %s epoch %d", st.URI(mk), meta.Rule, meta.Epoch, res.Rule, res.BestEpoch)
	}
	return nil
}

// afterEpochHook, when set (by tests only), runs after each epoch's
// checkpoint is written.
var afterEpochHook func(r RunSpec, epoch int)

// loadState returns the saved state at key, or nil if there is none. The
// checkpoint is checked against the digest at digestKey, written after
// it; a checkpoint that does not match (damaged, or newer than its digest
// because the process died between the two writes) or does not decode is
// not resumed from: one warning line says so and the run trains from
// scratch. A checkpoint without a digest (written before digests
// existed) is checked by its structure only.
func loadState(ctx context.Context, st store.Store, key, digestKey, what string) (*train.State, error) {
	ok, err := st.Exists(ctx, key)
	if err != nil || !ok {
		return nil, err
	}
	scratch := func(err error) (*train.State, error) {
		damagedCounter.Inc(ctx, 1)
		log.Warnf(ctx, "%s: checkpoint %v; training from scratch", what, err)
		return nil, nil
	}
	var d store.Digest
	var data []byte
	switch err := getJSON(ctx, st, digestKey, &d); {
	case err == nil:
		if data, err = store.GetVerified(ctx, st, key, d); err != nil {
			if isDamage(err) {
				return scratch(err)
			}
			return nil, err
		}
	case isNotExist(err):
		if data, err = st.Get(ctx, key); err != nil {
			if isNotExist(err) {
				return nil, nil
			}
			return nil, err
		}
	case isDamage(err):
		return scratch(err)
	default:
		return nil, err
	}
	s, err := train.DecodeState(bytes.NewReader(data), int64(len(data)), st.URI(key))
	if err != nil {
		// Checkpoints are written atomically, so this is damage or a
		// layout from another version: start afresh rather than fail.
		return scratch(damaged("unreadable: %v", err))
	}
	return s, nil
}
