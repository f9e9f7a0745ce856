package transforms

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/artifacts/figures"
	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/engine/cifar"
	"github.com/fabeam/fabeam/engine/compare"
	"github.com/fabeam/fabeam/engine/train"
)

func TestAlignmentSummariesAverageFirstAndLastEpochsOverSeeds(t *testing.T) {
	// Two seeds of fa_random, 3 steps per epoch, 2 epochs; update angles
	// at steps 2, 4, 6 (so steps 4 and 6 fall in the last epoch, 4..6).
	// conv2's concordance is absent in seed 1 (metrics that do not apply
	// are absent), so its mean is seed 0's alone.
	h0 := results.History{Rule: "fa_random", Seed: 0, StepsPerEpoch: 3,
		Epochs: []results.Epoch{
			{Epoch: 1, LocalAngle: map[string]float64{"conv2": 80, "fc1": 60}, Concordance: map[string]float64{"conv2": 0.5, "fc1": 0.52}},
			{Epoch: 2, LocalAngle: map[string]float64{"conv2": 70, "fc1": 40}, Concordance: map[string]float64{"conv2": 0.51, "fc1": 0.54}},
		},
		Steps: results.Steps{UpdateAngleSteps: []int{2, 4, 6}, UpdateAngle: map[string][]float64{"fc1": {90, 30, 50}}}}
	h1 := results.History{Rule: "fa_random", Seed: 1, StepsPerEpoch: 3,
		Epochs: []results.Epoch{
			{Epoch: 1, LocalAngle: map[string]float64{"conv2": 84, "fc1": 62}, Concordance: map[string]float64{"fc1": 0.48}},
			{Epoch: 2, LocalAngle: map[string]float64{"conv2": 74, "fc1": 44}, Concordance: map[string]float64{"fc1": 0.5}},
		},
		Steps: results.Steps{UpdateAngleSteps: []int{2, 4, 6}, UpdateAngle: map[string][]float64{"fc1": {10, 20, 60}}}}
	// A diverged seed is left out, whatever its numbers.
	h2 := results.History{Rule: "fa_random", Seed: 2, StepsPerEpoch: 3, Diverged: true, DivergedStep: 5,
		Epochs: []results.Epoch{{Epoch: 1, LocalAngle: map[string]float64{"conv2": 1000}}}}
	// bp: no metrics at all: left out of the summary.
	bp := results.History{Rule: "bp", StepsPerEpoch: 3, Epochs: []results.Epoch{{Epoch: 1}}}
	got, notes := AlignmentSummaries(map[string][]results.History{"fa_random": {h0, h1, h2}, "bp": {bp}})
	want := map[string]results.AlignmentSummary{"fa_random": {
		LocalAngleFirst:  map[string]float64{"conv2": 82, "fc1": 61},
		LocalAngleFinal:  map[string]float64{"conv2": 72, "fc1": 42},
		ConcordanceFirst: map[string]float64{"conv2": 0.5, "fc1": 0.5},
		ConcordanceFinal: map[string]float64{"conv2": 0.51, "fc1": 0.52},
		// seed 0: (30+50)/2 = 40; seed 1: (20+60)/2 = 40.
		UpdateAngleFinal: map[string]float64{"fc1": 40},
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("summary:\n got %+v\nwant %+v", got, want)
	}
	if len(notes) != 1 || !strings.Contains(notes[0], "seed 2") {
		t.Errorf("notes %q, want one naming the diverged seed 2", notes)
	}
}

func TestFeedbackParamsMatchTheOperatorSizes(t *testing.T) {
	// DESIGN.md's operator table: fa_random's conv2 is a dense 2304×6400
	// matrix; fa_toeplitz's a 64×64×5×5 kernel; fc1..fc3's B0 have W's
	// shapes 384×576, 192×384, 10×192; uSF derives one value per weight
	// of conv2..fc3 every step.
	const fc = 576*384 + 384*192 + 192*10
	const weights = 64*64*25 + fc
	for _, c := range []struct {
		rule            string
		stored, derived int64
	}{
		{"bp", 0, 0},
		{"fa_random", 2304*6400 + fc, 0},
		{"fa_toeplitz", 64*64*25 + fc, 0},
		{"usf_init", 64*64*25 + fc, weights},
		{"usf_sn", 0, weights},
	} {
		s, d, err := FeedbackParams(c.rule)
		if err != nil || s != c.stored || d != c.derived {
			t.Errorf("FeedbackParams(%s) = %d, %d, %v; want %d, %d", c.rule, s, d, err, c.stored, c.derived)
		}
	}
	if _, _, err := FeedbackParams("nope"); err == nil {
		t.Error("FeedbackParams(nope): no error for an unknown rule")
	}
}

// TestSmokeHasTheAnalysisSections checks the reference smoke run's analysis
// sections: shapes, ranges, and values recomputed independently (CKA from
// a fresh forward pass of the stored models; per-class accuracy against
// the training history; alignment against the history), plus the report's
// CKA heatmaps, exemplar grid and measured efficiency.
func TestSmokeHasTheAnalysisSections(t *testing.T) {
	ref := referenceResults(t)
	dir := reference.dir
	var res results.Results
	if err := json.Unmarshal(ref, &res); err != nil {
		t.Fatal(err)
	}
	c := smokeConfig(t, dir)
	rules := c.OrderedRules()
	ctx := context.Background()
	ds, err := LoadDataset(ctx, dir, DatasetKey(c))
	if err != nil {
		t.Fatal(err)
	}
	images := cifar.Concat(ds.Val, ds.Test)
	n := images.Len() // 60 validation + 200 test images
	if n != 260 {
		t.Fatalf("smoke has %d val+test images, want 260 (60 + 200)", n)
	}
	models := map[string]*compare.Features{}
	for _, r := range rules {
		b, err := os.ReadFile(filepath.Join(dir, RunsDir, r, "seed0", ModelFile))
		if err != nil {
			t.Fatal(err)
		}
		p, _, _, err := train.DecodeModel(bytes.NewReader(b), int64(len(b)), r)
		if err != nil {
			t.Fatal(err)
		}
		models[r] = compare.ExtractFeatures(p, cifar.CenterCropSet(images), n, c.EvalBatch)
	}

	// CKA: every rule but bp × 3 subsets against bp of seed 0; one seed,
	// no ceiling.
	if want := 3 * (len(rules) - 1); len(res.CKA) != want {
		t.Fatalf("results.cka has %d entries, want %d (%d rules × 3 subsets)", len(res.CKA), want, len(rules)-1)
	}
	for i, e := range res.CKA {
		rule := rules[1+i/3]
		subset := []string{"all", "both_correct", "bp_only"}[i%3]
		if e.Rule != rule || e.Subset != subset || e.Reference != "bp" || e.Seed != 0 || e.ReferenceSeed != 0 || e.Estimator != compare.Estimator {
			t.Errorf("cka[%d] = %s/%s against %s seed %d, want %s/%s against bp seed 0", i, e.Rule, e.Subset, e.Reference, e.ReferenceSeed, rule, subset)
			continue
		}
		all, both, bpOnly := compare.Subsets(images.Labels, models["bp"].Pred, models[rule].Pred)
		wantN := map[string]int{"all": len(all), "both_correct": len(both), "bp_only": len(bpOnly)}[subset]
		if e.N != wantN {
			t.Errorf("cka[%d] %s/%s n = %d, want %d from the models' predictions", i, rule, subset, e.N, wantN)
		}
		if e.TooSmall != (wantN < c.CKA.BatchSize) {
			t.Errorf("cka[%d] %s/%s n = %d: too_small = %v with CKA batch %d", i, rule, subset, e.N, e.TooSmall, c.CKA.BatchSize)
		}
		if e.TooSmall {
			if e.Matrix != nil {
				t.Errorf("cka[%d] too small but has a matrix", i)
			}
			continue
		}
		if len(e.Matrix) != 5 {
			t.Fatalf("cka[%d] matrix has %d rows, want 5", i, len(e.Matrix))
		}
		for r, row := range e.Matrix {
			if len(row) != 5 {
				t.Fatalf("cka[%d] row %d has %d values, want 5", i, r, len(row))
			}
			for _, v := range row {
				if !(v >= -1 && v <= 1) {
					t.Errorf("cka[%d] %s/%s value %v outside [-1, 1]", i, rule, subset, v)
				}
			}
		}
		if subset == "all" {
			// The stored features read back from the extract artifacts give
			// the same matrix as features from a fresh forward pass.
			want, err := compare.CKAMatrices(models["bp"], models[rule], images.Labels,
				compare.Pair{Seed: 0, Rule: rule, Reference: "bp"}, CKAOptions(c, 0))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(e.Matrix, want[0].Matrix) {
				t.Errorf("cka %s/all:\n got %v\nwant %v (recomputed)", rule, e.Matrix, want[0].Matrix)
			}
		}
	}

	// Per-class: every rule, 10 classes each; the extraction's predictions
	// on the test rows agree with the training history's per-class accuracy.
	if len(res.PerClass) != len(rules) {
		t.Errorf("per_class has %d rules, want %d", len(res.PerClass), len(rules))
	}
	for _, r := range rules {
		pc := res.PerClass[r]
		b, _ := os.ReadFile(filepath.Join(dir, RunsDir, r, "seed0", HistoryFile))
		var h results.History
		if err := json.Unmarshal(b, &h); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(pc.Accuracy, h.PerClassTest) {
			t.Errorf("per_class.%s.accuracy = %v, want the history's %v", r, pc.Accuracy, h.PerClassTest)
		}
		if r == "bp" {
			if pc.DeficitVsBP != nil || pc.WorstClassIdx != -1 {
				t.Errorf("per_class.bp has a deficit %v / worst %d", pc.DeficitVsBP, pc.WorstClassIdx)
			}
			continue
		}
		worst := 0
		for k := range 10 {
			if d := res.PerClass["bp"].Accuracy[k] - pc.Accuracy[k]; pc.DeficitVsBP[k] != d {
				t.Errorf("per_class.%s deficit[%d] = %v, want %v", r, k, pc.DeficitVsBP[k], d)
			}
			if pc.DeficitVsBP[k] > pc.DeficitVsBP[worst] {
				worst = k
			}
		}
		if pc.WorstClassIdx != worst || pc.WorstClass != cifar.ClassNames[worst] {
			t.Errorf("per_class.%s worst class %d %q, want %d", r, pc.WorstClassIdx, pc.WorstClass, worst)
		}
	}

	// Saliency: every rule, seed 0, conv2 then conv1, 64 importances,
	// top 3 channels × 9 exemplars, ranked.
	for _, r := range rules {
		ss := res.Saliency[r]
		if len(ss) != 1 || ss[0].Seed != 0 || len(ss[0].Layers) != 2 {
			t.Errorf("saliency.%s = %d results, want one for seed 0 with 2 layers", r, len(ss))
			continue
		}
		for li, l := range ss[0].Layers {
			if want := []string{"conv2", "conv1"}[li]; l.Layer != want || len(l.Importance) != 64 || len(l.Top) != 3 {
				t.Errorf("saliency.%s layer %d: %s with %d importances, %d top; want %s, 64, 3", r, li, l.Layer, len(l.Importance), len(l.Top), want)
				continue
			}
			for k, tc := range l.Top {
				if tc.Importance != l.Importance[tc.Channel] || (k > 0 && tc.Importance > l.Top[k-1].Importance) || tc.Importance < 0 {
					t.Errorf("saliency.%s %s top %d: channel %d importance %v not ranked", r, l.Layer, k, tc.Channel, tc.Importance)
				}
				if len(tc.Exemplars) != 9 || len(tc.Activation) != 9 {
					t.Errorf("saliency.%s %s channel %d: %d exemplars, want 9", r, l.Layer, tc.Channel, len(tc.Exemplars))
				}
				for j, x := range tc.Exemplars {
					if x < 0 || x >= ds.Test.Len() || (j > 0 && tc.Activation[j] > tc.Activation[j-1]) {
						t.Errorf("saliency.%s %s channel %d exemplar %d = %d (activation %v): out of range or not ranked", r, l.Layer, tc.Channel, j, x, tc.Activation[j])
					}
				}
			}
		}
	}

	// Alignment: one seed, so the final local angle is the history's
	// last epoch's value; angles in degrees, concordance a fraction.
	for _, r := range rules[1:] {
		a, ok := res.Alignment[r]
		if !ok || len(a.LocalAngleFinal) == 0 {
			t.Errorf("alignment.%s missing or without local angles", r)
			continue
		}
		b, _ := os.ReadFile(filepath.Join(dir, RunsDir, r, "seed0", HistoryFile))
		var h results.History
		json.Unmarshal(b, &h)
		if last := h.Epochs[len(h.Epochs)-1].LocalAngle; !reflect.DeepEqual(a.LocalAngleFinal, last) {
			t.Errorf("alignment.%s.local_angle_final = %v, want the last epoch's %v", r, a.LocalAngleFinal, last)
		}
		for l, v := range a.LocalAngleFirst {
			if v < 0 || v > 180 {
				t.Errorf("alignment.%s.local_angle_first[%s] = %v°", r, l, v)
			}
		}
		for l, v := range a.ConcordanceFinal {
			if v < 0 || v > 1 {
				t.Errorf("alignment.%s.concordance_final[%s] = %v", r, l, v)
			}
		}
	}

	// The report: a CKA heatmap per computed matrix, the exemplar grid, and
	// every figure embedded in report.html.
	html, err := os.ReadFile(filepath.Join(dir, ReportHTML))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.CKA {
		if e.TooSmall {
			continue
		}
		name := "cka_" + e.Rule + "_" + e.Subset
		if _, err := os.Stat(filepath.Join(dir, FiguresDir, name+".png")); err != nil {
			t.Errorf("figure %s: %v", name, err)
		}
		if !bytes.Contains(html, []byte(`id="fig-`+name+`"`)) {
			t.Errorf("report.html lacks the figure %s", name)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, FiguresDir, "exemplars.png")); err != nil || !bytes.Contains(html, []byte(`id="fig-exemplars"`)) {
		t.Errorf("exemplar grid missing from figures/ or report.html (%v)", err)
	}
	for _, d := range []string{"CKA shuffle of seed k", "No noise ceiling", "CKA minibatches of 50 images, 1 pass(es)"} {
		if !bytes.Contains(html, []byte(d)) {
			t.Errorf("report.html's differences lack %q", d)
		}
	}

	// manifest.json: every final run measured its backward share, and the
	// analysis stages' timings are under extra.
	var man Manifest
	b, _ := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	trained := 0
	for _, s := range man.Stages {
		if s.Stage == StageTrain {
			trained++
			if !(s.BackwardShare > 0 && s.BackwardShare < 1) {
				t.Errorf("manifest: %s seed %d backward_share = %v, want in (0, 1)", s.Rule, s.Seed, s.BackwardShare)
			}
		}
	}
	if trained != len(rules) {
		t.Errorf("manifest has %d training stages, want %d", trained, len(rules))
	}
	for _, k := range []string{"compare", "saliency"} {
		if _, ok := man.Extra[k]; !ok {
			t.Errorf("manifest.json extra lacks %q", k)
		}
	}
}

func TestTestDataNoteOnlyForANonOfficialTestBatch(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	b := []byte("not the official test batch")
	if err := os.WriteFile(filepath.Join(dir, cifar.TestFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(b)
	notes := testDataNote(ctx, dir)
	if len(notes) != 1 || !strings.Contains(notes[0], hex.EncodeToString(sum[:])) || !strings.Contains(notes[0], "not the official") {
		t.Errorf("a non-official test batch gives notes %q, want one naming its MD5 %x", notes, sum)
	}
	if notes := testDataNote(ctx, t.TempDir()); len(notes) != 1 || !strings.Contains(notes[0], "could not be checksummed") {
		t.Errorf("a missing test batch gives notes %q", notes)
	}
	// With the real data, the note appears exactly when its MD5 differs
	// from the official one.
	if real := os.Getenv("FABEAM_CIFAR10"); real != "" {
		b, err := os.ReadFile(filepath.Join(real, cifar.TestFile))
		if err != nil {
			t.Fatal(err)
		}
		sum := md5.Sum(b)
		official := hex.EncodeToString(sum[:]) == "803d5f7f4d78ea53de84dbe85f74fb6d"
		if notes := testDataNote(ctx, real); (len(notes) == 0) != official {
			t.Errorf("real data (official: %v) gives notes %q", official, notes)
		}
	}
}

// TestSmokeReportShowsWhereTheTimeWent checks the reference smoke study's
// timing table against its own records: one dataset row, and per rule its
// grid points (2), final run (1), extraction (1) and saliency run (1), and
// one CKA comparison per rule but bp, each row's wall clock the sum the
// manifest holds for those stages.
func TestSmokeReportShowsWhereTheTimeWent(t *testing.T) {
	referenceResults(t)
	dir := reference.dir
	md, err := os.ReadFile(filepath.Join(dir, ReportMD))
	if err != nil {
		t.Fatal(err)
	}
	var man Manifest
	b, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &man); err != nil {
		t.Fatal(err)
	}
	sum := map[string]float64{}
	for _, s := range man.Stages {
		sum[s.Stage+"/"+s.Rule] += s.WallSeconds
	}
	section := string(md)
	if i := strings.Index(section, "## Where the time went"); i < 0 {
		t.Fatalf("report.md has no timing section:\n%s", md)
	} else {
		section = section[i:]
		section = section[:strings.Index(section[1:], "\n## ")+1]
	}
	rows := 0
	for _, line := range strings.Split(section, "\n") {
		if strings.HasPrefix(line, "| ") && !strings.HasPrefix(line, "| stage") && !strings.HasPrefix(line, "| ---") {
			rows++
		}
	}
	c := smokeConfig(t, dir)
	n := len(c.Rules)
	// dataset + grid, train, extract, saliency per rule + cka per rule but bp + the total.
	if want := 1 + 4*n + (n - 1) + 1; rows != want {
		t.Errorf("the timing table has %d rows, want %d:\n%s", rows, want, section)
	}
	for _, stage := range []string{"grid", "train", "extract"} {
		for _, rule := range c.OrderedRules() {
			want := fmt.Sprintf("| %s | %s | %d | %s |", stage, figures.RuleName(rule), map[string]int{"grid": 2}[stage]+map[string]int{"train": 1, "extract": 1}[stage], figures.FormatDuration(sum[stage+"/"+rule]))
			if !strings.Contains(section, want) {
				t.Errorf("the timing table lacks %q:\n%s", want, section)
			}
		}
	}
}
