package transforms

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/fabeam/fabeam/artifacts/figures"
	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/artifacts/store"
	"github.com/fabeam/fabeam/engine/cifar"
	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/engine/saliency"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*SaliencyRecord)(nil)).Elem())
	register.DoFn3x1[context.Context, RunResult, func(SaliencyRecord), error](&SaliencyFn{})
	register.Emitter1[SaliencyRecord]()
}

// Saliency stage names: the stage (key prefix) and the completion marker
// under a model's saliency key.
const (
	StageSaliency = "saliency"
	SaliencyFile  = "saliency.json"
)

// SaliencyRecord is one model's channel importance and exemplars
// (saliency.Analyze on the centre-cropped test set). Note, when set, says
// why Result was left out (a diverged model, no image of the class, a
// non-finite importance). It is stored as SaliencyFile under Key and
// travels to Report. WallSeconds goes to manifest.json only.
type SaliencyRecord struct {
	Key         string                 `json:"key"`
	RunKey      string                 `json:"run_key"`
	DatasetKey  string                 `json:"dataset_key"`
	Rule        string                 `json:"rule"`
	Seed        int                    `json:"seed"`
	Result      results.SaliencyResult `json:"result"`
	Note        string                 `json:"note,omitempty"`
	Skipped     bool                   `json:"skipped"`
	WallSeconds float64                `json:"wall_seconds"`
}

// SaliencyOptions are the analysis settings: the paper's (conv2 then conv1,
// top 3 channels, 9 exemplars, class 5 "dog") at the configuration's
// evaluation batch.
func SaliencyOptions(c Config) saliency.Options {
	o := saliency.DefaultOptions()
	o.Batch = c.EvalBatch
	return o
}

// SaliencyKey is the store key of run's saliency analysis. The batch size
// is left out of the key: it changes speed only (engine/saliency).
func SaliencyKey(c Config, run RunResult) string {
	o := SaliencyOptions(c)
	o.Batch = 0
	return StageKey(StageSaliency, o, run.Key, run.DatasetKey)
}

// Saliency finds, per final model, the channels most important for "dog"
// and their exemplar test images (saliency.Analyze with the paper's
// settings), one element per model, Reshuffled so the models run in
// parallel. In: PCollection<RunResult>; out: PCollection<SaliencyRecord>.
func Saliency(s beam.Scope, c Config, runs beam.PCollection) beam.PCollection {
	s = s.Scope("transforms.Saliency")
	return beam.ParDo(s, &SaliencyFn{Cfg: c}, beam.Reshuffle(s, runs))
}

// SaliencyFn analyses one model (or skips it if its SaliencyFile exists;
// counter "skipped").
type SaliencyFn struct {
	Cfg Config
}

// ProcessElement analyses run's model and emits its SaliencyRecord.
func (f *SaliencyFn) ProcessElement(ctx context.Context, run RunResult, emit func(SaliencyRecord)) error {
	r, err := runSaliency(ctx, f.Cfg, run)
	if err != nil {
		return err
	}
	emit(r)
	return nil
}

func runSaliency(ctx context.Context, c Config, run RunResult) (SaliencyRecord, error) {
	st, err := openStore(ctx, c.Out)
	if err != nil {
		return SaliencyRecord{}, err
	}
	key := SaliencyKey(c, run)
	marker := store.Join(key, SaliencyFile)
	var res SaliencyRecord
	inputKeys := []string{store.Join(run.Key, ResultFile), store.Join(run.DatasetKey, DatasetMetaFile)}
	check := doneCheck{What: fmt.Sprintf("saliency %s seed %d", run.Rule, run.Seed), Redo: "analysing it again",
		Key: key, Marker: SaliencyFile, Inputs: inputKeys}
	if done, err := loadDone(ctx, st, check, &res); err != nil || done {
		res.Skipped = done
		return res, err
	}
	start := time.Now()
	o := SaliencyOptions(c)
	res = SaliencyRecord{Key: key, RunKey: run.Key, DatasetKey: run.DatasetKey, Rule: run.Rule, Seed: run.Seed}
	what := fmt.Sprintf("Channel importance of %s seed %d", run.Rule, run.Seed)
	ds, err := LoadDataset(ctx, c.Out, run.DatasetKey)
	if err != nil {
		return res, err
	}
	switch {
	case run.Diverged:
		res.Note = fmt.Sprintf("%s left out: the run diverged at step %d.", what, run.DivergedStep)
	case ds.Test.ClassCounts()[o.Class] == 0:
		res.Note = fmt.Sprintf("%s left out: the test set has no image of class %d (%s).", what, o.Class, cifar.ClassNames[o.Class])
	default:
		p, err := loadModel(ctx, st, run.Key)
		if err != nil {
			return res, fmt.Errorf("saliency: %w", err)
		}
		sr, err := saliency.Analyze(p, cifar.CenterCropSet(ds.Test), ds.Test.Labels, o)
		if err != nil {
			return res, fmt.Errorf("saliency: %s seed %d: %w", run.Rule, run.Seed, err)
		}
		sr.Seed = run.Seed
		if r := saliencyResult(sr); finiteSaliency(r) {
			res.Result = r
		} else {
			res.Note = what + " left out: an importance or activation is NaN or infinite."
		}
	}
	res.WallSeconds = time.Since(start).Seconds()
	inputs, err := sumInputs(ctx, st, inputKeys)
	if err != nil {
		return res, err
	}
	if err := putDone(ctx, st, marker, res, Integrity{Inputs: inputs}); err != nil {
		return res, err
	}
	log.Infof(ctx, "%s", strings.TrimSpace(fmt.Sprintf("saliency %s seed %d: %.1fs %s", run.Rule, run.Seed, res.WallSeconds, res.Note)))
	return res, nil
}

// finiteSaliency reports whether every number of r can be written as JSON.
func finiteSaliency(r results.SaliencyResult) bool {
	ok := func(v []float64) bool {
		return !slices.ContainsFunc(v, func(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) })
	}
	for _, l := range r.Layers {
		if !ok(l.Importance) {
			return false
		}
		for _, t := range l.Top {
			if !ok([]float64{t.Importance}) || !ok(t.Activation) {
				return false
			}
		}
	}
	return true
}

// addSaliency is Saliency's part of Report: results into
// results.saliency (per rule, seeds ascending), notes into the report's
// differences, and the exemplar grid: one row per rule (nn.RuleNames
// order) from its lowest seed with a result, one column per top conv2
// channel, each cell the channel's exemplar test images from the dataset
// artifact.
func (env *studyReport) addSaliency(ctx context.Context) error {
	var timings []map[string]any
	rows := map[string]bool{}
	for _, r := range env.Gathered.Saliency {
		timings = append(timings, map[string]any{"rule": r.Rule, "seed": r.Seed, "key": r.Key,
			"skipped": r.Skipped, "wall_seconds": r.WallSeconds})
		if r.Note != "" {
			env.Differences = append(env.Differences, r.Note)
			continue
		}
		if env.Results.Saliency == nil {
			env.Results.Saliency = map[string][]results.SaliencyResult{}
		}
		env.Results.Saliency[r.Rule] = append(env.Results.Saliency[r.Rule], r.Result)
		if rows[r.Rule] {
			continue
		}
		rows[r.Rule] = true
		row, err := exemplarRow(ctx, env, r)
		if err != nil {
			return err
		}
		if len(row.Channels) > 0 {
			env.Exemplars = append(env.Exemplars, row)
		}
	}
	if len(timings) > 0 {
		env.Manifest["saliency"] = timings
	}
	return nil
}

// exemplarRow is r's row of the exemplar grid: its top conv2 channels.
func exemplarRow(ctx context.Context, env *studyReport, r SaliencyRecord) (figures.ExemplarRow, error) {
	row := figures.ExemplarRow{Rule: r.Rule}
	ds, err := LoadDataset(ctx, env.Cfg.Out, r.DatasetKey)
	if err != nil {
		return row, err
	}
	conv2 := nn.LayerNames[nn.Conv2]
	for _, l := range r.Result.Layers {
		if l.Layer != conv2 {
			continue
		}
		for _, t := range l.Top {
			cell := figures.ExemplarCell{Layer: l.Layer, Channel: t.Channel}
			for _, i := range t.Exemplars {
				if i < 0 || i >= ds.Test.Len() {
					return row, fmt.Errorf("saliency %s seed %d: exemplar %d outside the %d test images of dataset %s; delete %s so it is recomputed",
						r.Rule, r.Seed, i, ds.Test.Len(), r.DatasetKey, r.Key)
				}
				cell.Images = append(cell.Images, slices.Clone(ds.Test.Image(i)))
			}
			row.Channels = append(row.Channels, cell)
		}
	}
	return row, nil
}
