package transforms

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/direct"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/vet"
	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/fabeam/fabeam/artifacts/store"
	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/engine/train"
)

// smokeConfig is the smoke preset writing to out.
func smokeConfig(t *testing.T, out string) Config {
	t.Helper()
	c, err := PresetConfig("smoke", out, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("smoke preset does not validate: %v", err)
	}
	return c
}

// runStudy builds the study and runs it on the named runner, returning the
// pipeline's counters by name.
func runStudy(t *testing.T, runner string, c Config) map[string]int64 {
	t.Helper()
	if testing.Short() && runner != "vet" {
		t.Skip("trains a study: skipped with -short")
	}
	p, s := beam.NewPipelineWithRoot()
	Study(s, c)
	exec := map[string]func(context.Context, *beam.Pipeline) (beam.PipelineResult, error){
		"direct": direct.Execute, "prism": prism.Execute, "vet": vet.Execute,
	}[runner]
	pr, err := exec(context.Background(), p)
	if err != nil {
		t.Fatalf("smoke study on %s: %v", runner, err)
	}
	counters := map[string]int64{}
	if pr != nil && runner != "vet" {
		for _, cr := range pr.Metrics().AllMetrics().Counters() {
			counters[cr.Name()] += cr.Result()
			t.Logf("counter %s/%s in %s = %d", cr.Namespace(), cr.Name(), cr.Transform(), cr.Result())
		}
	}
	return counters
}

// cachedStudy is an uninterrupted study on direct, made once (by the first
// test that asks) and shared by the tests that compare against it.
type cachedStudy struct {
	name   string
	config func(t *testing.T, out string) Config
	once   sync.Once
	dir    string
	json   []byte
}

// results runs the study the first time and returns its results.json.
func (s *cachedStudy) results(t *testing.T) []byte {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the " + s.name + " study, which trains: skipped with -short")
	}
	s.once.Do(func() {
		dir, err := os.MkdirTemp("", "fabeam-"+s.name+"-")
		if err != nil {
			t.Fatal(err)
		}
		s.dir = dir
		runStudy(t, "direct", s.config(t, dir))
		s.json, err = os.ReadFile(filepath.Join(dir, ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
	})
	if s.json == nil {
		t.Fatalf("the %s study failed (see the first test that ran it)", s.name)
	}
	return s.json
}

// reference is the smoke preset with every rule: the study the golden,
// contract, learning and analysis tests read.
var reference = &cachedStudy{name: "reference", config: smokeConfig}

func referenceResults(t *testing.T) []byte { return reference.results(t) }

// infraRules are the rules of the tests of the machinery around the
// numbers: another runner, a second run, the GCS emulator, a kill and a
// resume. Those properties do not depend on which rules train, so three
// rules stand for the nine and keep the suite inside its time budget: bp
// (the reference every comparison needs), brsf (feedback redrawn from the
// step number, so resuming must restore the step) and dfa (fixed random
// matrices drawn from the seed, feeding the output error straight to every
// layer). The nine-rule study is still run once, as reference. In
// nn.RuleNames order, as results.json lists them.
var infraRules = []string{nn.Reference, "brsf", "dfa"}

// infraConfig is the smoke preset with infraRules.
func infraConfig(t *testing.T, out string) Config {
	t.Helper()
	c := smokeConfig(t, out)
	c.Rules = infraRules
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// infraReference is the uninterrupted infraConfig study.
var infraReference = &cachedStudy{name: "infra-reference", config: infraConfig}

func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init() // prism needs it, as ptest.Main does
	if os.Getenv(childEnv) != "" {
		os.Exit(childStudy())
	}
	code := m.Run()
	for _, s := range []*cachedStudy{reference, infraReference} {
		if s.dir != "" {
			os.RemoveAll(s.dir)
		}
	}
	os.Exit(code)
}

func TestStudyPassesTheVetRunner(t *testing.T) {
	c := smokeConfig(t, t.TempDir())
	c.Grid = false
	runStudy(t, "vet", c)
	// Also the paper preset: the full graph with the grid.
	p, err := PresetConfig("paper", t.TempDir(), "/nonexistent")
	if err != nil {
		t.Fatal(err)
	}
	runStudy(t, "vet", p)
}

func TestSmokeOnDirectWritesTheOutputContract(t *testing.T) {
	ref := referenceResults(t)
	checkContract(t, reference.dir, ref, nn.RuleNames())
}

func TestSmokeOnPrismWritesTheOutputContractAndTheSameResults(t *testing.T) {
	ref := infraReference.results(t)
	dir := t.TempDir()
	runStudy(t, "prism", infraConfig(t, dir))
	got, err := os.ReadFile(filepath.Join(dir, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	checkContract(t, dir, got, infraRules)
	if !bytes.Equal(got, ref) {
		t.Fatalf("results.json on prism differs from direct:\n%s", firstDiff(got, ref))
	}
}

func TestSmokeTwiceGivesByteIdenticalResults(t *testing.T) {
	ref := infraReference.results(t)
	dir := t.TempDir()
	runStudy(t, "direct", infraConfig(t, dir))
	got, err := os.ReadFile(filepath.Join(dir, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, ref) {
		t.Fatalf("second smoke run's results.json differs:\n%s", firstDiff(got, ref))
	}
}

func TestRerunSkipsEveryStage(t *testing.T) {
	ref := referenceResults(t)
	c := smokeConfig(t, reference.dir)
	counters := runStudy(t, "direct", c)
	// dataset + 2 grid points per rule + a run, an extract and a saliency
	// analysis per rule + a comparison per rule but bp (one seed, so no
	// noise ceiling), all found done.
	n := int64(len(c.Rules))
	if got, want := counters["skipped"], 1+2*n+3*n+(n-1); got != want {
		t.Errorf("skipped = %d, want %d (every stage); counters %v", got, want, counters)
	}
	if counters["epochs"] != 0 || counters["runs_trained"] != 0 {
		t.Errorf("re-run trained: counters %v", counters)
	}
	got, _ := os.ReadFile(filepath.Join(reference.dir, ResultsFile))
	if !bytes.Equal(got, ref) {
		t.Fatalf("re-run rewrote results.json differently:\n%s", firstDiff(got, ref))
	}
}

// childEnv, when set, makes the test binary run the smoke study into the
// folder it names, blocking forever after the first final-training
// checkpoint (after writing childMarker) so the parent can SIGKILL it there.
const (
	childEnv    = "FABEAM_TRANSFORMS_CHILD_OUT"
	childMarker = "child-checkpointed"
)

func childStudy() int {
	dir := os.Getenv(childEnv)
	c, err := PresetConfig("smoke", filepath.Join(dir, "out"), "")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 3
	}
	c.Rules = infraRules
	afterEpochHook = func(r RunSpec, epoch int) {
		if r.Stage == StageTrain && r.Rule == "brsf" && epoch == 1 {
			os.WriteFile(filepath.Join(dir, childMarker), nil, 0o644)
			select {} // wait for SIGKILL
		}
	}
	p, s := beam.NewPipelineWithRoot()
	Study(s, c)
	if _, err := direct.Execute(context.Background(), p); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func TestSmokeKilledMidTrainingResumesToTheSameResults(t *testing.T) {
	ref := infraReference.results(t)
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+dir)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	deadline := time.After(4 * time.Minute)
	for marked := false; !marked; {
		select {
		case err := <-done:
			t.Fatalf("child ended before its checkpoint (%v):\n%s", err, tail(stderr.String()))
		case <-deadline:
			cmd.Process.Kill()
			t.Fatalf("child wrote no checkpoint within 4 minutes:\n%s", tail(stderr.String()))
		case <-time.After(50 * time.Millisecond):
			_, err := os.Stat(filepath.Join(dir, childMarker))
			marked = err == nil
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-done
	out := filepath.Join(dir, "out")
	states, _ := filepath.Glob(filepath.Join(out, StageTrain, "*", StateFile))
	if len(states) != 1 {
		t.Fatalf("after the kill: %d training checkpoints %v, want exactly 1 (the run killed mid-training)", len(states), states)
	}
	if _, err := os.Stat(filepath.Join(out, ResultsFile)); err == nil {
		t.Fatal("results.json exists after a kill during training")
	}
	finished, _ := filepath.Glob(filepath.Join(out, StageTrain, "*", ResultFile))
	b, err := os.ReadFile(states[0])
	if err != nil {
		t.Fatal(err)
	}
	killed, err := train.DecodeState(bytes.NewReader(b), int64(len(b)), states[0])
	if err != nil {
		t.Fatal(err)
	}
	counters := runStudy(t, "direct", infraConfig(t, out))
	if counters["resumed"] != 1 {
		t.Errorf("resumed = %d, want 1", counters["resumed"])
	}
	// The resumed run's wall clock covers the epoch trained before the
	// kill (the checkpoint's seconds) as well as the one after it.
	var rec RunResult
	if b, err := os.ReadFile(filepath.Join(filepath.Dir(states[0]), ResultFile)); err != nil || json.Unmarshal(b, &rec) != nil {
		t.Fatalf("the resumed run's record: %v", err)
	}
	if !(killed.Seconds > 0 && rec.WallSeconds > killed.Seconds) {
		t.Errorf("the resumed run records %v s of wall clock; the epoch before the kill alone took %v s", rec.WallSeconds, killed.Seconds)
	}
	if want := float64(2*540) / rec.WallSeconds; math.Abs(rec.ImagesPerSec-want) > 1e-9*want {
		t.Errorf("the resumed run's images/s = %v, want both epochs' 1080 images over its %v s (%v)", rec.ImagesPerSec, rec.WallSeconds, want)
	}
	// The restart trains the killed run's second epoch and the 2 epochs of
	// every final run not finished at the kill (direct's order of the runs
	// after SelectBest's GroupByKey is not fixed).
	if want := int64(1 + 2*(len(infraRules)-len(finished)-1)); counters["epochs"] != want {
		t.Errorf("epochs trained after the restart = %d, want %d (%d runs had finished)", counters["epochs"], want, len(finished))
	}
	got, err := os.ReadFile(filepath.Join(out, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, ref) {
		t.Fatalf("results.json after kill and resume differs from an uninterrupted run:\n%s", firstDiff(got, ref))
	}
}

func TestSmokeWithOutputOnTheGCSEmulator(t *testing.T) {
	ref := infraReference.results(t)
	gcsEmulator(t, "fabeam-test")
	uri := "gs://fabeam-test/smoke"
	runStudy(t, "direct", infraConfig(t, uri))
	st, err := store.Open(context.Background(), uri)
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.Get(context.Background(), ResultsFile)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, ref) {
		t.Fatalf("results.json on GCS differs from the local run:\n%s", firstDiff(got, ref))
	}
	for _, k := range contractFiles(infraRules) {
		if ok, err := st.Exists(context.Background(), k); err != nil || !ok {
			t.Errorf("gs object %s missing (%v)", k, err)
		}
	}
}

// emulator is the process's fake-gcs-server: store.Open's Cloud Storage
// client is made once per process, with the STORAGE_EMULATOR_HOST of its
// first use, so every test that writes gs:// shares one server.
var emulator struct {
	once sync.Once
	srv  *fakestorage.Server
	err  error
}

// gcsEmulator starts the process's emulator (once), points
// STORAGE_EMULATOR_HOST at it and creates bucket.
func gcsEmulator(t *testing.T, bucket string) {
	t.Helper()
	emulator.once.Do(func() {
		emulator.srv, emulator.err = fakestorage.NewServerWithOptions(fakestorage.Options{
			Scheme: "http", Host: "127.0.0.1", Port: 0, PublicHost: "127.0.0.1", Writer: io.Discard,
		})
	})
	if emulator.err != nil {
		t.Fatalf("starting fake GCS server: %v", emulator.err)
	}
	emulator.srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: bucket})
	os.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(emulator.srv.URL(), "http://"))
}

// contractFiles are the files artifacts/README.md promises for the smoke
// preset run with rules (figures checked separately).
func contractFiles(rules []string) []string {
	files := []string{ManifestFile, ResultsFile, ReportHTML, ReportMD}
	for _, r := range rules {
		files = append(files, "runs/"+r+"/seed0/"+ModelFile, "runs/"+r+"/seed0/"+HistoryFile)
	}
	return files
}

// checkContract checks the output folder dir of the smoke preset run with
// rules (in nn.RuleNames order) against artifacts/README.md.
func checkContract(t *testing.T, dir string, resultsJSON []byte, rules []string) {
	t.Helper()
	for _, f := range contractFiles(rules) {
		if fi, err := os.Stat(filepath.Join(dir, f)); err != nil || fi.Size() == 0 {
			t.Errorf("output %s missing or empty (%v)", f, err)
		}
	}
	pngs, _ := filepath.Glob(filepath.Join(dir, FiguresDir, "*.png"))
	if len(pngs) == 0 {
		t.Error("no figures/*.png")
	}
	for _, p := range pngs {
		b, _ := os.ReadFile(p)
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Errorf("%s is not a PNG", p)
		}
	}
	checkResultsSchema(t, resultsJSON, rules)
	var man map[string]any
	b, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	for _, k := range []string{"config", "seeds", "go_version", "beam_version", "stages", "images_per_sec"} {
		if _, ok := man[k]; !ok {
			t.Errorf("manifest.json lacks %q", k)
		}
	}
}

// checkResultsSchema checks results.json's required fields and types
// (artifacts/README.md) for the smoke preset run with rules (in
// nn.RuleNames order): seed 0, a 2-point grid per rule, accuracies as
// fractions.
func checkResultsSchema(t *testing.T, b []byte, rules []string) {
	t.Helper()
	var doc struct {
		FormatVersion *int   `json:"format_version"`
		Preset        string `json:"preset"`
		Rules         map[string]struct {
			Hyperparameters map[string]float64 `json:"hyperparameters"`
			Seeds           []map[string]any   `json:"seeds"`
		} `json:"rules"`
		Grid []map[string]any `json:"grid"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("results.json: %v", err)
	}
	if doc.FormatVersion == nil || doc.Preset != "smoke" {
		t.Errorf("results.json format_version %v preset %q", doc.FormatVersion, doc.Preset)
	}
	if len(doc.Rules) != len(rules) {
		t.Errorf("results.json has %d rules, want %d", len(doc.Rules), len(rules))
	}
	frac := func(where string, v any) {
		f, ok := v.(float64)
		if !ok || f < 0 || f > 1 {
			t.Errorf("%s = %v, want a fraction in [0, 1]", where, v)
		}
	}
	for _, r := range rules {
		rr, ok := doc.Rules[r]
		if !ok {
			t.Errorf("results.json lacks rule %s", r)
			continue
		}
		for _, k := range []string{"lr", "weight_decay", "sigma", "epochs", "batch_size"} {
			if _, ok := rr.Hyperparameters[k]; !ok {
				t.Errorf("rules.%s.hyperparameters lacks %q", r, k)
			}
		}
		if len(rr.Seeds) != 1 {
			t.Fatalf("rules.%s.seeds has %d entries, want 1", r, len(rr.Seeds))
		}
		s := rr.Seeds[0]
		for _, k := range []string{"seed", "best_val_acc", "test_acc", "best_epoch", "diverged", "model", "history"} {
			if _, ok := s[k]; !ok {
				t.Errorf("rules.%s.seeds[0] lacks %q", r, k)
			}
		}
		frac("rules."+r+".best_val_acc", s["best_val_acc"])
		frac("rules."+r+".test_acc", s["test_acc"])
		if s["model"] != "runs/"+r+"/seed0/model.safetensors" || s["history"] != "runs/"+r+"/seed0/history.json" {
			t.Errorf("rules.%s.seeds[0] model %v history %v", r, s["model"], s["history"])
		}
	}
	if len(doc.Grid) != 2*len(rules) {
		t.Fatalf("grid has %d points, want 2 per rule", len(doc.Grid))
	}
	for i, g := range doc.Grid {
		want := rules[i/2]
		if g["rule"] != want {
			t.Errorf("grid[%d].rule = %v, want %s (rules in RuleNames order, then grid order)", i, g["rule"], want)
		}
		if _, ok := g["point"].(map[string]any); !ok {
			t.Errorf("grid[%d].point = %v", i, g["point"])
		}
		if _, ok := g["diverged"].(bool); !ok {
			t.Errorf("grid[%d].diverged = %v", i, g["diverged"])
		}
		frac(fmt.Sprintf("grid[%d].val_acc", i), g["val_acc"])
	}
}

func firstDiff(a, b []byte) string {
	la, lb := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	for i := 0; i < min(len(la), len(lb)); i++ {
		if la[i] != lb[i] {
			return fmt.Sprintf("line %d: got %q, want %q", i+1, la[i], lb[i])
		}
	}
	return fmt.Sprintf("lengths differ: %d vs %d lines", len(la), len(lb))
}

func tail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}
