package transforms

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/fabeam/fabeam/artifacts/format"
	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/artifacts/store"
	"github.com/fabeam/fabeam/engine/cka"
	"github.com/fabeam/fabeam/engine/compare"
	"github.com/fabeam/fabeam/engine/nn"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*CompareTask)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*CompareResult)(nil)).Elem())
	register.DoFn3x0[int, func(*ExtractResult) bool, func(CompareTask)](&CompareTasksFn{})
	register.DoFn3x1[context.Context, CompareTask, func(CompareResult), error](&CompareFn{})
	register.Emitter1[CompareTask]()
	register.Emitter1[CompareResult]()
	register.Iter1[ExtractResult]()
}

// Compare stage names: the stage (key prefix) and the completion marker
// under a comparison's key.
const (
	StageCompare = "compare"
	CompareFile  = "compare.json"
)

// CompareTask is one seed's comparisons: every rule's model of Seed against
// the bp model of Seed (Ref), and, with two or more seeds, bp of Seed
// against bp of the next seed (Ceiling, zero or one entry; the noise
// ceiling of compare.CeilingPairs).
type CompareTask struct {
	Seed    int
	Ref     ExtractResult
	Rules   []ExtractResult
	Ceiling []ExtractResult
}

// CompareResult is one comparison (rule model of Seed, rows, against
// Reference of ReferenceSeed, columns): its CKA entries on the three
// subsets, free of NaN, and notes on whatever was left out and why. It is
// stored as CompareFile under Key and travels to Report. WallSeconds goes
// to manifest.json only.
type CompareResult struct {
	Key           string             `json:"key"`
	Seed          int                `json:"seed"`
	Rule          string             `json:"rule"`
	Reference     string             `json:"reference"`
	ReferenceSeed int                `json:"reference_seed"`
	Entries       []results.CKAEntry `json:"entries"`
	// Notes say why a model or a matrix was left out (a diverged model; a
	// matrix with an undefined value). They become report differences.
	Notes       []string `json:"notes,omitempty"`
	Skipped     bool     `json:"skipped"`
	WallSeconds float64  `json:"wall_seconds"`
}

// CKAOptions returns the minibatch CKA estimator's options for a
// comparison whose row model has seed: the configured batch size and
// passes, and the shuffle seed Config.CKA.Seed + seed, so each seed's
// comparisons shuffle differently and reproducibly.
func CKAOptions(c Config, seed int) cka.MinibatchOptions {
	return cka.MinibatchOptions{BatchSize: c.CKA.BatchSize, Passes: c.CKA.Passes, Seed: c.CKA.Seed + uint64(seed)}
}

// CompareKey is the store key of the comparison of the features row (the
// rule's) against col (the reference's).
func CompareKey(c Config, row, col ExtractResult) string {
	return StageKey(StageCompare, struct {
		CKA       cka.MinibatchOptions `json:"cka"`
		Estimator string               `json:"estimator"`
		Subsets   []string             `json:"subsets"`
	}{CKAOptions(c, row.Seed), compare.Estimator,
		[]string{compare.SubsetAll, compare.SubsetBothCorrect, compare.SubsetRefOnly}}, row.Key, col.Key)
}

// Compare measures how like bp each rule's representations are: the
// extractions are grouped into one CompareTask per seed that has a bp
// model (Reshuffled, so seeds run side by side), and CompareFn compares
// each rule's model of the seed with its bp model, and bp with bp of the
// next seed (the noise ceiling), by minibatch CKA on three subsets.
// In: PCollection<ExtractResult>; out: PCollection<CompareResult>.
func Compare(s beam.Scope, c Config, extracts beam.PCollection) beam.PCollection {
	s = s.Scope("transforms.Compare")
	grouped := beam.GroupByKey(s, beam.AddFixedKey(s, extracts))
	tasks := beam.Reshuffle(s, beam.ParDo(s, &CompareTasksFn{Cfg: c}, grouped))
	return beam.ParDo(s, &CompareFn{Cfg: c}, tasks)
}

// CompareTasksFn turns every extraction into one CompareTask per seed that
// has a bp model.
type CompareTasksFn struct {
	Cfg Config
}

// ProcessElement groups the extractions by seed.
func (f *CompareTasksFn) ProcessElement(_ int, iter func(*ExtractResult) bool, emit func(CompareTask)) {
	var all []ExtractResult
	var e ExtractResult
	for iter(&e) {
		all = append(all, e)
	}
	for _, t := range compareTasks(all) {
		emit(t)
	}
}

// compareTasks builds the per-seed tasks from all extractions: seeds
// ascending, rules in nn.RuleNames order; a seed without a bp model has
// nothing to compare against and gets no task.
func compareTasks(all []ExtractResult) []CompareTask {
	slices.SortFunc(all, func(a, b ExtractResult) int {
		if a.Seed != b.Seed {
			return a.Seed - b.Seed
		}
		return ruleIndex(a.Rule) - ruleIndex(b.Rule)
	})
	bp := map[int]ExtractResult{}
	var seeds []int
	for _, e := range all {
		if e.Rule == nn.Reference {
			bp[e.Seed] = e
			seeds = append(seeds, e.Seed)
		}
	}
	ceiling := map[int]int{}
	for _, p := range compare.CeilingPairs(seeds) {
		ceiling[p.Seed] = p.ReferenceSeed
	}
	var tasks []CompareTask
	for _, s := range seeds {
		t := CompareTask{Seed: s, Ref: bp[s]}
		for _, e := range all {
			if e.Seed == s && e.Rule != nn.Reference {
				t.Rules = append(t.Rules, e)
			}
		}
		if rs, ok := ceiling[s]; ok {
			t.Ceiling = []ExtractResult{bp[rs]}
		}
		tasks = append(tasks, t)
	}
	return tasks
}

// CompareFn runs one seed's comparisons, each content-addressed: a
// comparison whose CompareFile exists is skipped (counter "skipped"). The
// reference bp model's features are read once per task.
type CompareFn struct {
	Cfg Config
}

// ProcessElement compares every rule of the task's seed against its bp
// model, then bp against the ceiling's bp, emitting one result per pair.
func (f *CompareFn) ProcessElement(ctx context.Context, t CompareTask, emit func(CompareResult)) error {
	st, err := openStore(ctx, f.Cfg.Out)
	if err != nil {
		return err
	}
	// The bp model of the seed is the columns of every rule's matrices and
	// the rows of the ceiling's.
	var ref *modelFeatures
	loadRef := func() (*modelFeatures, error) {
		if ref == nil {
			ref, err = loadModelFeatures(ctx, st, t.Ref)
		}
		return ref, err
	}
	for _, e := range t.Rules {
		r, err := f.pair(ctx, st, e, t.Ref, nil, loadRef)
		if err != nil {
			return err
		}
		emit(r)
	}
	for _, e := range t.Ceiling {
		r, err := f.pair(ctx, st, t.Ref, e, loadRef, nil)
		if err != nil {
			return err
		}
		emit(r)
	}
	return nil
}

// pair compares row against col. loadRow or loadCol, when not nil, return
// already-loaded features (the task's bp model); otherwise they are read.
// A comparison already done is loaded instead (Skipped); one with a
// diverged run records a note and no matrices.
func (f *CompareFn) pair(ctx context.Context, st store.Store, row, col ExtractResult,
	loadRow, loadCol func() (*modelFeatures, error)) (CompareResult, error) {
	key := CompareKey(f.Cfg, row, col)
	marker := store.Join(key, CompareFile)
	var res CompareResult
	inputKeys := []string{store.Join(row.Key, ExtractMetaFile), store.Join(col.Key, ExtractMetaFile)}
	check := doneCheck{What: fmt.Sprintf("compare %s seed %d with %s seed %d", row.Rule, row.Seed, col.Rule, col.Seed),
		Redo: "comparing them again", Key: key, Marker: CompareFile, Inputs: inputKeys}
	if done, err := loadDone(ctx, st, check, &res); err != nil || done {
		res.Skipped = done
		return res, err
	}
	start := time.Now()
	res = CompareResult{Key: key, Seed: row.Seed, Rule: row.Rule, Reference: col.Rule, ReferenceSeed: col.Seed,
		Entries: []results.CKAEntry{}}
	what := fmt.Sprintf("CKA of %s seed %d against %s seed %d", row.Rule, row.Seed, col.Rule, col.Seed)
	inputs, err := sumInputs(ctx, st, inputKeys)
	if err != nil {
		return res, err
	}
	res.Notes, err = divergedNotes(ctx, st, what, row, col)
	if err != nil {
		return res, err
	}
	if len(res.Notes) == 0 {
		entries, notes, err := f.measure(ctx, st, what, row, col, loadRow, loadCol)
		if err != nil {
			return res, err
		}
		res.Entries, res.Notes = entries, notes
	}
	res.WallSeconds = time.Since(start).Seconds()
	if err := putDone(ctx, st, marker, res, Integrity{Inputs: inputs}); err != nil {
		return res, err
	}
	log.Infof(ctx, "%s: %d matrices in %.1fs", what, len(res.Entries), res.WallSeconds)
	return res, nil
}

// divergedNotes reads the training result behind each of row and col and
// returns a note, for the comparison what, for each whose run diverged
// (such a comparison is left out); with an error it returns the notes so
// far.
func divergedNotes(ctx context.Context, st store.Store, what string, row, col ExtractResult) ([]string, error) {
	var notes []string
	for _, e := range []ExtractResult{row, col} {
		var run RunResult
		if _, err := readRecord(ctx, st, store.Join(e.RunKey, ResultFile), &run); err != nil {
			return notes, fmt.Errorf("compare: result of the run behind %s: %w", e.Key, err)
		}
		if run.Diverged {
			notes = append(notes, fmt.Sprintf("%s left out: %s seed %d diverged at step %d.",
				what, run.Rule, run.Seed, run.DivergedStep))
		}
	}
	return notes, nil
}

// measure loads both models' features (through loadRow and loadCol when
// not nil), checks that they hold the same images, and computes the CKA
// matrices of row's layers against col's on every subset, keeping the
// finite ones and a note for each left out.
func (f *CompareFn) measure(ctx context.Context, st store.Store, what string, row, col ExtractResult,
	loadRow, loadCol func() (*modelFeatures, error)) ([]results.CKAEntry, []string, error) {
	rf, err := featuresOf(ctx, st, loadRow, row)
	if err != nil {
		return nil, nil, err
	}
	cf, err := featuresOf(ctx, st, loadCol, col)
	if err != nil {
		return nil, nil, err
	}
	if !slices.Equal(rf.labels, cf.labels) {
		return nil, nil, fmt.Errorf("compare: %s and %s hold different images (labels differ); both must come from dataset %s — delete them so Extract runs again",
			st.URI(row.Key), st.URI(col.Key), row.DatasetKey)
	}
	pair := compare.Pair{Seed: row.Seed, Rule: row.Rule, Reference: col.Rule, ReferenceSeed: col.Seed}
	entries, err := compare.CKAMatrices(&cf.Features, &rf.Features, rf.labels, pair, CKAOptions(f.Cfg, row.Seed))
	if err != nil {
		return nil, nil, fmt.Errorf("compare: %w (check the cka settings of the configuration)", err)
	}
	kept, notes := finiteEntries(ckaEntries(entries), what)
	return kept, notes, nil
}

// featuresOf returns e's features: from load when it is not nil (features
// already loaded), else read from e's extraction.
func featuresOf(ctx context.Context, st store.Store, load func() (*modelFeatures, error), e ExtractResult) (*modelFeatures, error) {
	if load != nil {
		return load()
	}
	return loadModelFeatures(ctx, st, e)
}

// finiteEntries drops the entries whose matrix holds NaN or ±Inf (a layer
// without variance on the subset: JSON cannot hold NaN, and a partial
// matrix would read as a measurement) and returns a note for each, naming
// the layers whose row or column is undefined.
func finiteEntries(entries []results.CKAEntry, what string) ([]results.CKAEntry, []string) {
	out := []results.CKAEntry{}
	var notes []string
	for _, e := range entries {
		var bad []string
		for i, row := range e.Matrix {
			for j, v := range row {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					bad = append(bad, nn.LayerNames[i]+"×"+nn.LayerNames[j])
				}
			}
		}
		if len(bad) > 0 {
			notes = append(notes, fmt.Sprintf("%s on subset %s (n = %d) left out: undefined (no variance) at %s.",
				what, e.Subset, e.N, strings.Join(bad, ", ")))
			continue
		}
		out = append(out, e)
	}
	return out, notes
}

// modelFeatures are one model's features and predictions with the images'
// labels, read from an extraction.
type modelFeatures struct {
	compare.Features
	labels []uint8
}

// loadModelFeatures reads an extraction: each layer's "features" tensor
// straight into float32 storage through a section reader (no second copy
// of conv1's 15,000 × 25,600 values), then labels and predictions.
func loadModelFeatures(ctx context.Context, st store.Store, e ExtractResult) (*modelFeatures, error) {
	n := e.Val + e.Test
	if len(e.Dims) != nn.NumLayers {
		return nil, fmt.Errorf("compare: extraction %s lists %d layer widths, want %d; delete it so Extract runs again", st.URI(e.Key), len(e.Dims), nn.NumLayers)
	}
	m := &modelFeatures{}
	for l, name := range nn.LayerNames {
		key := store.Join(e.Key, name+".safetensors")
		data, err := readFeatures(ctx, st, key, n, e.Dims[l])
		if err != nil {
			return nil, err
		}
		m.Layers[l] = cka.NewMatrix(n, e.Dims[l], data)
	}
	key := store.Join(e.Key, PredictionsFile)
	rd, err := st.Open(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	defer rd.Close()
	f, err := format.ReadSafetensors(rd, rd.Size(), format.Limits{})
	if err != nil {
		return nil, fmt.Errorf("compare: %s: %w", st.URI(key), err)
	}
	lt, err := f.Read("labels")
	if err != nil {
		return nil, fmt.Errorf("compare: %s: %w", st.URI(key), err)
	}
	pt, err := f.Read("predictions")
	if err != nil {
		return nil, fmt.Errorf("compare: %s: %w", st.URI(key), err)
	}
	preds, err := pt.Int32s()
	if err != nil || lt.DType != "U8" || len(lt.Data) != n || len(preds) != n {
		return nil, fmt.Errorf("compare: %s: want labels U8 (%d) and predictions I32 (%d); delete the extraction so Extract runs again", st.URI(key), n, n)
	}
	m.labels = lt.Data
	m.Pred = make([]int, n)
	for i, p := range preds {
		if p < 0 || int(p) >= nn.NumClasses {
			return nil, fmt.Errorf("compare: %s: prediction %d of image %d is not a class", st.URI(key), p, i)
		}
		m.Pred[i] = int(p)
	}
	return m, nil
}

// readFeatures reads the (n, d) F32 tensor "features" of key.
func readFeatures(ctx context.Context, st store.Store, key string, n, d int) ([]float32, error) {
	rd, err := st.Open(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("compare: %w", err)
	}
	defer rd.Close()
	f, err := format.ReadSafetensors(rd, rd.Size(), format.Limits{})
	if err != nil {
		return nil, fmt.Errorf("compare: %s: %w", st.URI(key), err)
	}
	ti, ok := f.Info("features")
	if !ok || ti.DType != "F32" || !slices.Equal(ti.Shape, []int{n, d}) {
		return nil, fmt.Errorf("compare: %s: want tensor \"features\" F32 (%d, %d), have %+v; delete the extraction so Extract runs again", st.URI(key), n, d, ti)
	}
	sec, err := f.Section("features")
	if err != nil {
		return nil, fmt.Errorf("compare: %s: %w", st.URI(key), err)
	}
	// Read in 1 MiB chunks decoded by artifacts/format, so conv1's 1.5 GB
	// never exists twice.
	out := make([]float32, n*d)
	buf := make([]byte, 1<<20)
	for i := 0; i < len(out); {
		k := min(len(buf)/4, len(out)-i)
		if _, err := io.ReadFull(sec, buf[:4*k]); err != nil {
			return nil, fmt.Errorf("compare: reading %s: %w", st.URI(key), err)
		}
		v, err := format.Tensor{Name: "features", DType: "F32", Shape: []int{k}, Data: buf[:4*k]}.Float32s()
		if err != nil {
			return nil, fmt.Errorf("compare: reading %s: %w", st.URI(key), err)
		}
		i += copy(out[i:], v)
	}
	return out, nil
}

// addComparisons is Compare's part of Report: the CKA entries into
// results.cka (in gathered order: seeds ascending, rules in nn.RuleNames
// order, each seed's noise ceiling after its rules), notes into the
// report's differences, per-class test accuracy into results.per_class,
// and each comparison's wall clock into manifest.json.
func (env *studyReport) addComparisons(ctx context.Context) error {
	var timings []map[string]any
	for _, r := range env.Gathered.Comparisons {
		env.Results.CKA = append(env.Results.CKA, r.Entries...)
		env.Differences = append(env.Differences, r.Notes...)
		timings = append(timings, map[string]any{"seed": r.Seed, "rule": r.Rule, "reference": r.Reference,
			"reference_seed": r.ReferenceSeed, "key": r.Key, "skipped": r.Skipped, "wall_seconds": r.WallSeconds})
	}
	if len(timings) > 0 {
		env.Manifest["compare"] = timings
	}
	pc, err := perClass(ctx, env)
	if err != nil {
		return err
	}
	if len(pc) > 0 {
		env.Results.PerClass = pc
	}
	return nil
}

// perClass computes each rule's per-class test accuracy (mean over seeds)
// and deficit against bp from the extractions' predictions on the test
// rows (the best-validation checkpoint, as Table 1), and sets each run's
// accuracy on the leading test records (setTestHead).
func perClass(ctx context.Context, env *studyReport) (map[string]results.PerClass, error) {
	if len(env.Gathered.Extracts) == 0 {
		return nil, nil
	}
	pred := map[string][][]int{}
	var labels []uint8
	for _, e := range env.Gathered.Extracts {
		key := store.Join(e.Key, PredictionsFile)
		var rec ExtractResult
		in, err := readRecord(ctx, env.Store, store.Join(e.Key, ExtractMetaFile), &rec)
		if err != nil {
			return nil, fmt.Errorf("per-class accuracy: %w", err)
		}
		b, err := getArtifact(ctx, env.Store, e.Key, PredictionsFile, in)
		if err != nil {
			return nil, fmt.Errorf("per-class accuracy: %w; run the command again and the extraction is checked and made again", err)
		}
		f, err := format.ReadSafetensors(bytes.NewReader(b), int64(len(b)), format.Limits{})
		var lt, pt format.Tensor
		if err == nil {
			lt, err = f.Read("labels")
		}
		if err == nil {
			pt, err = f.Read("predictions")
		}
		if err != nil {
			return nil, fmt.Errorf("per-class accuracy: %s: %w", env.Store.URI(key), err)
		}
		p32, err := pt.Int32s()
		n := e.Val + e.Test
		if err != nil || len(lt.Data) != n || len(p32) != n {
			return nil, fmt.Errorf("per-class accuracy: %s holds %d labels and %d predictions, want %d; delete the extraction so Extract runs again",
				env.Store.URI(key), len(lt.Data), len(p32), n)
		}
		test := lt.Data[e.Val:]
		if labels == nil {
			labels = test
		} else if !slices.Equal(labels, test) {
			return nil, fmt.Errorf("per-class accuracy: %s has other test labels than the first extraction", env.Store.URI(key))
		}
		p := make([]int, e.Test)
		for i, v := range p32[e.Val:] {
			p[i] = int(v)
		}
		pred[e.Rule] = append(pred[e.Rule], p)
		if err := env.setTestHead(e, test, p); err != nil {
			return nil, fmt.Errorf("per-class accuracy: %s: %w", env.Store.URI(key), err)
		}
	}
	pc, err := compare.PerClass(labels, pred)
	if err != nil { // a class without test images: a data limit, not a failure
		env.Differences = append(env.Differences, "Per-class accuracy left out: "+err.Error()+".")
		return nil, nil
	}
	return perClassResults(pc), nil
}

// setTestHead checks that the extraction's test predictions p (against
// labels) reproduce the test accuracy its run's history reports, and sets
// that run's TestHeadAcc: its accuracy on the first Config.TestHead test
// records (all of them if there are fewer). A disagreement means the
// extraction and the run do not belong together, and is an error.
func (env *studyReport) setTestHead(e ExtractResult, labels []uint8, p []int) error {
	rr, ok := env.Results.Rules[e.Rule]
	i := slices.IndexFunc(rr.Seeds, func(s results.SeedResult) bool { return s.Seed == e.Seed })
	if !ok || i < 0 {
		return fmt.Errorf("extraction of %s seed %d has no final run in the report", e.Rule, e.Seed)
	}
	correct := func(n int) int {
		k := 0
		for j := range n {
			if p[j] == int(labels[j]) {
				k++
			}
		}
		return k
	}
	n := len(p)
	if all := correct(n); float64(all)/float64(n) != rr.Seeds[i].TestAcc {
		return fmt.Errorf("the predictions give %s seed %d a test accuracy of %d/%d = %.4f, but its run recorded %.4f: the extraction does not belong to this run; delete %s so Extract runs again",
			e.Rule, e.Seed, all, n, float64(all)/float64(n), rr.Seeds[i].TestAcc, e.Key)
	}
	head := min(env.Cfg.TestHead, n)
	if head < 1 {
		return nil
	}
	acc := float64(correct(head)) / float64(head)
	rr.Seeds[i].TestHeadAcc = &acc
	env.Results.TestHead = head
	return nil
}
