package transforms

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
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
	register.DoFn8x1[context.Context, int, func(*RunResult) bool, func(*RunResult) bool, func(*ExtractResult) bool,
		func(*CompareResult) bool, func(*SaliencyRecord) bool, func(string), error](&ReportFn{})
	register.Iter1[CompareResult]()
	register.Iter1[SaliencyRecord]()
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

// ReportInputs are Report's inputs, one typed PCollection per stage. A zero
// PCollection stands for a stage that did not run (Grid without a grid
// search; Extracts and Comparisons when Config.Extract is off).
type ReportInputs struct {
	Grid        beam.PCollection // PCollection<RunResult>: GridSearch
	Runs        beam.PCollection // PCollection<RunResult>: Train
	Extracts    beam.PCollection // PCollection<ExtractResult>: Extract
	Comparisons beam.PCollection // PCollection<CompareResult>: Compare
	Saliency    beam.PCollection // PCollection<SaliencyRecord>: Saliency
}

// Report gathers every stage's results on one key (a CoGroupByKey of the
// typed inputs) and writes the study's outputs: results.json,
// runs/<rule>/seed<k>/{model.safetensors,history.json}, figures/*.png,
// report.html, report.md and manifest.json.
// In: ReportInputs; out: PCollection<string> holding the results.json key
// once it is written.
func Report(s beam.Scope, c Config, in ReportInputs) beam.PCollection {
	s = s.Scope("transforms.Report")
	keyed := func(col beam.PCollection, empty any) beam.PCollection {
		if !col.IsValid() {
			col = beam.CreateList(s, empty)
		}
		return beam.AddFixedKey(s, col)
	}
	all := beam.CoGroupByKey(s,
		keyed(in.Grid, []RunResult{}),
		keyed(in.Runs, []RunResult{}),
		keyed(in.Extracts, []ExtractResult{}),
		keyed(in.Comparisons, []CompareResult{}),
		keyed(in.Saliency, []SaliencyRecord{}))
	return beam.ParDo(s, &ReportFn{Cfg: c}, all)
}

// ReportFn writes the study's outputs from everything gathered.
type ReportFn struct {
	Cfg Config
}

// ProcessElement gathers the stages' results and writes every output.
func (f *ReportFn) ProcessElement(ctx context.Context, _ int, grid, runs func(*RunResult) bool,
	extracts func(*ExtractResult) bool, comparisons func(*CompareResult) bool, sal func(*SaliencyRecord) bool,
	emit func(string)) error {
	start := time.Now()
	g := &gathered{Grid: collect(grid), Runs: collect(runs), Extracts: collect(extracts),
		Comparisons: collect(comparisons), Saliency: collect(sal)}
	g.sort()
	st, err := openStore(ctx, f.Cfg.Out)
	if err != nil {
		return err
	}
	rec := newRecordingStore(st)
	rep := newStudyReport(f.Cfg, rec, g)
	if err := rep.addRuns(ctx); err != nil {
		return err
	}
	rep.addAlignment(ctx)
	if err := rep.addComparisons(ctx); err != nil {
		return err
	}
	if err := rep.addSaliency(ctx); err != nil {
		return err
	}
	if rep.Results.Knowledge, err = KnowledgeSummary(rep.Results); err != nil {
		return fmt.Errorf("report: knowledge summary: %w", err)
	}
	if err := putJSON(ctx, st, ResultsFile, rep.Results); err != nil {
		return err
	}
	if err := writeReport(ctx, rep); err != nil {
		return err
	}
	man, err := manifest(ctx, rep, start)
	if err != nil {
		return err
	}
	if err := putJSON(ctx, st, ManifestFile, man); err != nil {
		return err
	}
	if err := prunePresentation(ctx, rec); err != nil {
		return err
	}
	log.Infof(ctx, "report: wrote %s in %.1fs", st.URI(ResultsFile), time.Since(start).Seconds())
	emit(ResultsFile)
	return nil
}

// collect drains a Beam iterator into a slice.
func collect[T any](iter func(*T) bool) []T {
	var out []T
	var v T
	for iter(&v) {
		out = append(out, v)
		v = *new(T)
	}
	return out
}

// studyReport is the report being built: what Report gathered, the final
// runs' histories, results.json and the report's extra content.
type studyReport struct {
	Cfg      Config
	Store    store.Store
	Gathered *gathered
	// Histories are the final runs' histories per rule, seeds ascending.
	Histories map[string][]results.History
	// Results is results.json being built. It must stay a pure function
	// of configuration and seeds.
	Results *results.Results
	// Exemplars feed the report's exemplar figure; Differences are extra
	// "differs from the paper" lines.
	Exemplars   []figures.ExemplarRow
	Differences []string
	// Manifest receives wall-clock measurements (never results.json).
	Manifest map[string]any
}

func newStudyReport(c Config, st store.Store, g *gathered) *studyReport {
	return &studyReport{Cfg: c, Store: st, Gathered: g, Histories: map[string][]results.History{},
		Manifest: map[string]any{},
		Results: &results.Results{FormatVersion: results.FormatVersion, Preset: c.Preset,
			Rules: map[string]results.RuleResult{}, Grid: []results.GridPoint{}}}
}

// addRuns fills results.grid and results.rules, and copies each final
// model and history to runs/<rule>/seed<k>/.
func (rep *studyReport) addRuns(ctx context.Context) error {
	c, st, res := rep.Cfg, rep.Store, rep.Results
	for _, p := range rep.Gathered.Grid {
		res.Grid = append(res.Grid, results.GridPoint{Rule: p.Rule, Point: hyper(c, p), ValAcc: p.LastValAcc, BestValAcc: p.BestValAcc,
			Diverged: p.Diverged, DivergedStep: p.DivergedStep, LastGoodEpoch: p.LastGoodEpoch})
	}
	for _, run := range rep.Gathered.Runs {
		dir := store.Join(RunsDir, run.Rule, "seed"+strconv.Itoa(run.Seed))
		modelKey, histKey := store.Join(dir, ModelFile), store.Join(dir, HistoryFile)
		// Publish only what the run's record vouches for: the model and
		// history are checked against its digests, byte for byte.
		var rec RunResult
		in, err := readRecord(ctx, st, store.Join(run.Key, ResultFile), &rec)
		if err != nil {
			return reportDamage(run, err)
		}
		model, err := getArtifact(ctx, st, run.Key, ModelFile, in)
		if err != nil {
			return reportDamage(run, err)
		}
		hb, err := getArtifact(ctx, st, run.Key, HistoryFile, in)
		if err != nil {
			return reportDamage(run, err)
		}
		var h results.History
		if err := json.Unmarshal(hb, &h); err != nil {
			return reportDamage(run, damaged("%s is not a history (%v)", st.URI(store.Join(run.Key, HistoryFile)), err))
		}
		if err := st.Put(ctx, modelKey, model); err != nil {
			return fmt.Errorf("report: writing %s: %w", st.URI(modelKey), err)
		}
		if err := putJSON(ctx, st, histKey, h); err != nil {
			return err
		}
		rep.Histories[run.Rule] = append(rep.Histories[run.Rule], h)
		rr := res.Rules[run.Rule]
		rr.Hyperparameters = hyper(c, run)
		rr.Seeds = append(rr.Seeds, results.SeedResult{Seed: run.Seed, BestValAcc: run.BestValAcc, TestAcc: run.TestAcc,
			BestEpoch: run.BestEpoch, Diverged: run.Diverged, DivergedStep: run.DivergedStep,
			LastGoodEpoch: run.LastGoodEpoch, Model: modelKey, History: histKey})
		res.Rules[run.Rule] = rr
	}
	return nil
}

// hyper is a run's hyper-parameters in the results schema: those of the
// engine configuration it was trained with, as its history records them.
func hyper(c Config, r RunResult) results.Hyperparameters {
	spec := RunSpec{Stage: r.Stage, DatasetKey: r.DatasetKey, Rule: r.Rule, Point: r.Point, Index: r.Index, Seed: r.Seed, Epochs: r.Epochs}
	return hyperResult(trainConfig(c, spec).Hyperparameters())
}

// reportDamage is the Report's error for a run whose artifacts are not
// what its record describes: nothing of it is published, and the next
// run of the command finds the same damage when it checks the run and
// trains it again.
func reportDamage(run RunResult, err error) error {
	return fmt.Errorf("report: %s seed %d: %w; nothing of it was published: run the command again and the run is checked and trained again", run.Rule, run.Seed, err)
}

// ruleIndex orders rules as nn.RuleNames does (unknown rules last).
func ruleIndex(rule string) int {
	if i := slices.Index(nn.RuleNames(), rule); i >= 0 {
		return i
	}
	return len(nn.RuleNames())
}

// gathered is everything Report received.
type gathered struct {
	Grid, Runs  []RunResult
	Extracts    []ExtractResult
	Comparisons []CompareResult
	Saliency    []SaliencyRecord
}

// sort puts g in canonical order: rules in nn.RuleNames order, grid points
// in grid order, seeds ascending; comparisons by seed with each seed's
// noise ceiling (bp against bp) after its rules.
func (g *gathered) sort() {
	slices.SortFunc(g.Grid, compareRuns)
	slices.SortFunc(g.Runs, compareRuns)
	slices.SortFunc(g.Extracts, func(a, b ExtractResult) int { return compareRuleSeed(a.Rule, a.Seed, b.Rule, b.Seed) })
	slices.SortFunc(g.Comparisons, compareComparisons)
	slices.SortFunc(g.Saliency, func(a, b SaliencyRecord) int { return compareRuleSeed(a.Rule, a.Seed, b.Rule, b.Seed) })
}

// compareRuns orders runs by rule (nn.RuleNames order, then name), grid
// index and seed.
func compareRuns(a, b RunResult) int {
	if d := ruleIndex(a.Rule) - ruleIndex(b.Rule); d != 0 {
		return d
	}
	if d := strings.Compare(a.Rule, b.Rule); d != 0 {
		return d
	}
	if d := a.Index - b.Index; d != 0 {
		return d
	}
	return a.Seed - b.Seed
}

// compareRuleSeed orders by rule (nn.RuleNames order), then seed.
func compareRuleSeed(ra string, sa int, rb string, sb int) int {
	if d := ruleIndex(ra) - ruleIndex(rb); d != 0 {
		return d
	}
	return sa - sb
}

// compareComparisons orders comparisons by seed, each seed's noise ceiling
// (a rule against itself) after its rules, rules in nn.RuleNames order.
func compareComparisons(a, b CompareResult) int {
	if a.Seed != b.Seed {
		return a.Seed - b.Seed
	}
	ca, cb := a.Rule == a.Reference, b.Rule == b.Reference
	if ca != cb { // the ceiling last
		if ca {
			return 1
		}
		return -1
	}
	if d := ruleIndex(a.Rule) - ruleIndex(b.Rule); d != 0 {
		return d
	}
	return a.ReferenceSeed - b.ReferenceSeed
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
	// Extra holds the analysis stages' measurements ("compare",
	// "saliency").
	Extra map[string]any `json:"extra,omitempty"`
}

func manifest(ctx context.Context, env *studyReport, start time.Time) (*Manifest, error) {
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
	if _, err := readRecord(ctx, env.Store, store.Join(dsKey, DatasetMetaFile), &dm); err != nil {
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
