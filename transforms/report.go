package transforms

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/fabeam/fabeam/artifacts/figures"
	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/artifacts/store"
	"github.com/fabeam/fabeam/engine/nn"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*Record)(nil)).Elem())
	register.Function1x1[RunResult, Record](gridRecord)
	register.Function1x1[RunResult, Record](runRecord)
	register.DoFn4x1[context.Context, int, func(*Record) bool, func(string), error](&ReportFn{})
	register.Emitter1[Record]()
	register.Emitter2[int, Record]()
	register.Iter1[Record]()
}

// Output file names at the root of the output store (see artifacts/README.md).
const (
	ResultsFile  = "results.json"
	ManifestFile = "manifest.json"
	ReportHTML   = "report.html"
	ReportMD     = "report.md"
	FiguresDir   = "figures"
	RunsDir      = "runs"
)

// Record kinds made by this package; analysis stages add their own.
const (
	KindGrid    = "grid"
	KindRun     = "run"
	KindExtract = "extract"
)

// Record is a small result on its way to Report: Kind names what it is and
// Payload holds its JSON. Every stage's results reach Report as Records so
// that new analysis stages need no change here.
type Record struct {
	Kind    string
	Payload string
}

// NewRecord wraps v (JSON-serialisable) as a Record of kind; it panics if v
// cannot be encoded (a programmer error).
func NewRecord(kind string, v any) Record {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("transforms: NewRecord(%q): %v", kind, err))
	}
	return Record{Kind: kind, Payload: string(b)}
}

func gridRecord(r RunResult) Record { return NewRecord(KindGrid, r) }
func runRecord(r RunResult) Record  { return NewRecord(KindRun, r) }

// Gathered is everything Report received, in canonical order: rules in
// nn.RuleNames order, grid points in grid order, seeds ascending.
type Gathered struct {
	Grid     []RunResult
	Runs     []RunResult
	Extracts []ExtractResult
	// Other holds the payloads of every other kind, sorted.
	Other map[string][]string
}

// ReportEnv is what an Analysis hook sees and fills.
type ReportEnv struct {
	Cfg      Config
	Store    store.Store
	Gathered *Gathered
	// Histories are the final runs' histories per rule, seeds ascending.
	Histories map[string][]results.History
	// Results is results.json being built: a hook adds its sections
	// (CKA, PerClass, Saliency, Alignment, …). It must stay a pure
	// function of configuration and seeds.
	Results *results.Results
	// Exemplars feed the report's exemplar figure; Figures are extra
	// figures; Differences are extra "differs from the paper" lines.
	Exemplars   []figures.ExemplarRow
	Figures     []figures.Figure
	Differences []string
	// Manifest receives wall-clock measurements (never results.json).
	Manifest map[string]any
}

// Analysis is a Report hook: it reads the gathered records and the store and
// adds results sections, figures or manifest entries to env.
type Analysis func(ctx context.Context, env *ReportEnv) error

var analyses struct {
	sync.Mutex
	names []string
	fns   map[string]Analysis
}

// RegisterAnalysis adds a Report hook; call it from an init function (so
// every worker binary has it). Hooks run in name order. It panics if name is
// taken.
func RegisterAnalysis(name string, a Analysis) {
	analyses.Lock()
	defer analyses.Unlock()
	if analyses.fns == nil {
		analyses.fns = map[string]Analysis{}
	}
	if _, dup := analyses.fns[name]; dup {
		panic(fmt.Sprintf("transforms: RegisterAnalysis: %q registered twice", name))
	}
	analyses.fns[name] = a
	analyses.names = append(analyses.names, name)
	sort.Strings(analyses.names)
}

// Report gathers every result and writes the study's outputs: results.json,
// runs/<rule>/seed<k>/{model.safetensors,history.json}, figures/*.png,
// report.html, report.md and manifest.json. grid may be a zero PCollection
// (no grid search). In: PCollection<RunResult> (grid, runs) and any number
// of PCollection<Record>; out: PCollection<string> holding the results.json
// key once it is written.
func Report(s beam.Scope, c Config, grid, runs beam.PCollection, records ...beam.PCollection) beam.PCollection {
	s = s.Scope("transforms.Report")
	cols := []beam.PCollection{beam.ParDo(s, runRecord, runs)}
	if grid.IsValid() {
		cols = append(cols, beam.ParDo(s, gridRecord, grid))
	}
	cols = append(cols, records...)
	all := beam.Flatten(s, cols...)
	return beam.ParDo(s, &ReportFn{Cfg: c}, beam.GroupByKey(s, beam.AddFixedKey(s, all)))
}

// ReportFn writes the study's outputs from all records.
type ReportFn struct {
	Cfg Config
}

// ProcessElement gathers the records and writes every output.
func (f *ReportFn) ProcessElement(ctx context.Context, _ int, iter func(*Record) bool, emit func(string)) error {
	start := time.Now()
	var recs []Record
	var r Record
	for iter(&r) {
		recs = append(recs, r)
	}
	g, err := gather(recs)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, f.Cfg.Out)
	if err != nil {
		return err
	}
	env := &ReportEnv{Cfg: f.Cfg, Store: st, Gathered: g, Histories: map[string][]results.History{},
		Manifest: map[string]any{}}
	res := &results.Results{FormatVersion: results.FormatVersion, Preset: f.Cfg.Preset,
		Rules: map[string]results.RuleResult{}, Grid: []results.GridPoint{}}
	env.Results = res
	for _, p := range g.Grid {
		res.Grid = append(res.Grid, results.GridPoint{Rule: p.Rule, Point: hyper(f.Cfg, p), ValAcc: p.BestValAcc,
			Diverged: p.Diverged, DivergedStep: p.DivergedStep, LastGoodEpoch: p.LastGoodEpoch})
	}
	for _, run := range g.Runs {
		dir := store.Join(RunsDir, run.Rule, "seed"+strconv.Itoa(run.Seed))
		modelKey, histKey := store.Join(dir, ModelFile), store.Join(dir, HistoryFile)
		if err := copyObject(ctx, st, store.Join(run.Key, ModelFile), modelKey); err != nil {
			return err
		}
		var h results.History
		if err := getJSON(ctx, st, store.Join(run.Key, HistoryFile), &h); err != nil {
			return fmt.Errorf("report: history of %s seed %d: %w", run.Rule, run.Seed, err)
		}
		if err := putJSON(ctx, st, histKey, h); err != nil {
			return err
		}
		env.Histories[run.Rule] = append(env.Histories[run.Rule], h)
		rr := res.Rules[run.Rule]
		rr.Hyperparameters = hyper(f.Cfg, run)
		rr.Seeds = append(rr.Seeds, results.SeedResult{Seed: run.Seed, BestValAcc: run.BestValAcc, TestAcc: run.TestAcc,
			BestEpoch: run.BestEpoch, Diverged: run.Diverged, DivergedStep: run.DivergedStep,
			LastGoodEpoch: run.LastGoodEpoch, Model: modelKey, History: histKey})
		res.Rules[run.Rule] = rr
	}
	analyses.Lock()
	names := slices.Clone(analyses.names)
	analyses.Unlock()
	for _, name := range names {
		if err := analyses.fns[name](ctx, env); err != nil {
			return fmt.Errorf("report: analysis %s: %w", name, err)
		}
	}
	if err := putJSON(ctx, st, ResultsFile, res); err != nil {
		return err
	}
	if err := writeReport(ctx, env); err != nil {
		return err
	}
	man, err := manifest(ctx, env, start)
	if err != nil {
		return err
	}
	if err := putJSON(ctx, st, ManifestFile, man); err != nil {
		return err
	}
	log.Infof(ctx, "report: wrote %s in %.1fs", st.URI(ResultsFile), time.Since(start).Seconds())
	emit(ResultsFile)
	return nil
}

// hyper is a run's hyper-parameters in the results schema.
func hyper(c Config, r RunResult) results.Hyperparameters {
	return results.Hyperparameters{LR: r.Point.LR, WeightDecay: r.Point.WeightDecay, Sigma: r.Point.Sigma,
		Epochs: r.Epochs, BatchSize: c.BatchSize}
}

func copyObject(ctx context.Context, st store.Store, from, to string) error {
	b, err := st.Get(ctx, from)
	if err != nil {
		return fmt.Errorf("report: reading %s: %w", st.URI(from), err)
	}
	if err := st.Put(ctx, to, b); err != nil {
		return fmt.Errorf("report: writing %s: %w", st.URI(to), err)
	}
	return nil
}

// ruleIndex orders rules as nn.RuleNames does (unknown rules last).
func ruleIndex(rule string) int {
	if i := slices.Index(nn.RuleNames(), rule); i >= 0 {
		return i
	}
	return len(nn.RuleNames())
}

// gather decodes and orders the records.
func gather(recs []Record) (*Gathered, error) {
	g := &Gathered{Other: map[string][]string{}}
	for _, r := range recs {
		switch r.Kind {
		case KindGrid, KindRun:
			var rr RunResult
			if err := json.Unmarshal([]byte(r.Payload), &rr); err != nil {
				return nil, fmt.Errorf("report: decoding %s record: %w", r.Kind, err)
			}
			if r.Kind == KindGrid {
				g.Grid = append(g.Grid, rr)
			} else {
				g.Runs = append(g.Runs, rr)
			}
		case KindExtract:
			var e ExtractResult
			if err := json.Unmarshal([]byte(r.Payload), &e); err != nil {
				return nil, fmt.Errorf("report: decoding extract record: %w", err)
			}
			g.Extracts = append(g.Extracts, e)
		default:
			g.Other[r.Kind] = append(g.Other[r.Kind], r.Payload)
		}
	}
	less := func(a, b RunResult) int {
		if d := ruleIndex(a.Rule) - ruleIndex(b.Rule); d != 0 {
			return d
		}
		if a.Rule != b.Rule {
			if a.Rule < b.Rule {
				return -1
			}
			return 1
		}
		if d := a.Index - b.Index; d != 0 {
			return d
		}
		return a.Seed - b.Seed
	}
	slices.SortFunc(g.Grid, less)
	slices.SortFunc(g.Runs, less)
	slices.SortFunc(g.Extracts, func(a, b ExtractResult) int {
		if d := ruleIndex(a.Rule) - ruleIndex(b.Rule); d != 0 {
			return d
		}
		return a.Seed - b.Seed
	})
	for _, v := range g.Other {
		sort.Strings(v)
	}
	return g, nil
}

// StageTiming is one stage execution's wall clock, in manifest.json.
type StageTiming struct {
	Stage        string  `json:"stage"`
	Rule         string  `json:"rule,omitempty"`
	Seed         int     `json:"seed"`
	Point        *Point  `json:"point,omitempty"`
	Key          string  `json:"key"`
	Skipped      bool    `json:"skipped"`
	WallSeconds  float64 `json:"wall_seconds"`
	ImagesPerSec float64 `json:"images_per_sec,omitempty"`
	// BackwardShare is a training run's backward fraction of step time.
	BackwardShare float64 `json:"backward_share,omitempty"`
}

// Manifest is manifest.json: what ran, with which software, and how long
// it took. It is the only output holding wall-clock measurements.
type Manifest struct {
	FormatVersion int    `json:"format_version"`
	Config        Config `json:"config"`
	Seeds         []int  `json:"seeds"`
	GoVersion     string `json:"go_version"`
	GOOS          string `json:"goos"`
	GOARCH        string `json:"goarch"`
	NumCPU        int    `json:"num_cpu"`
	Module        string `json:"module"`
	ModuleVersion string `json:"module_version"`
	BeamVersion   string `json:"beam_version"`
	// Dependencies maps every module in the build to its version.
	Dependencies map[string]string `json:"dependencies,omitempty"`
	VCSRevision  string            `json:"vcs_revision,omitempty"`
	VCSModified  bool              `json:"vcs_modified,omitempty"`
	Stages       []StageTiming     `json:"stages"`
	// ImagesPerSec is the mean training throughput per rule over its final
	// runs trained in this execution (skipped runs report their first
	// execution's numbers).
	ImagesPerSec  map[string]float64 `json:"images_per_sec"`
	ReportSeconds float64            `json:"report_seconds"`
	WrittenAt     string             `json:"written_at"`
	// Extra holds analysis hooks' measurements.
	Extra map[string]any `json:"extra,omitempty"`
}

func manifest(ctx context.Context, env *ReportEnv, start time.Time) (*Manifest, error) {
	c := env.Cfg
	m := &Manifest{FormatVersion: FormatVersion, Config: c, Seeds: c.Seeds, GoVersion: runtime.Version(),
		GOOS: runtime.GOOS, GOARCH: runtime.GOARCH, NumCPU: runtime.NumCPU(), ImagesPerSec: map[string]float64{}}
	if bi, ok := debug.ReadBuildInfo(); ok {
		m.Module, m.ModuleVersion = bi.Main.Path, bi.Main.Version
		m.Dependencies = map[string]string{}
		for _, d := range bi.Deps {
			m.Dependencies[d.Path] = d.Version
			if d.Path == "github.com/apache/beam/sdks/v2" {
				m.BeamVersion = d.Version
			}
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				m.VCSRevision = s.Value
			case "vcs.modified":
				m.VCSModified = s.Value == "true"
			}
		}
	}
	dsKey := DatasetKey(c)
	var dm DatasetMeta
	if err := getJSON(ctx, env.Store, store.Join(dsKey, DatasetMetaFile), &dm); err != nil {
		return nil, fmt.Errorf("report: dataset metadata: %w", err)
	}
	m.Stages = append(m.Stages, StageTiming{Stage: "dataset", Key: dsKey, WallSeconds: dm.WallSeconds})
	add := func(rs []RunResult) {
		for _, r := range rs {
			p := r.Point
			m.Stages = append(m.Stages, StageTiming{Stage: r.Stage, Rule: r.Rule, Seed: r.Seed, Point: &p, Key: r.Key,
				Skipped: r.Skipped, WallSeconds: r.WallSeconds, ImagesPerSec: r.ImagesPerSec, BackwardShare: r.BackwardShare})
		}
	}
	add(env.Gathered.Grid)
	add(env.Gathered.Runs)
	for _, e := range env.Gathered.Extracts {
		m.Stages = append(m.Stages, StageTiming{Stage: "extract", Rule: e.Rule, Seed: e.Seed, Key: e.Key,
			Skipped: e.Skipped, WallSeconds: e.WallSeconds})
	}
	n := map[string]int{}
	for _, r := range env.Gathered.Runs {
		if r.ImagesPerSec > 0 {
			m.ImagesPerSec[r.Rule] += r.ImagesPerSec
			n[r.Rule]++
		}
	}
	for k := range m.ImagesPerSec {
		m.ImagesPerSec[k] /= float64(n[k])
	}
	if len(env.Manifest) > 0 {
		m.Extra = env.Manifest
	}
	m.ReportSeconds = time.Since(start).Seconds()
	m.WrittenAt = time.Now().UTC().Format(time.RFC3339)
	return m, nil
}
