package transforms

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/engine/cifar"
	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/engine/train"
)

// TestTestHeadAccuracyIsTheModelsAccuracyOnTheLeadingRecords recomputes,
// for every final run of the smoke study, the published model's accuracy
// on the first Config.TestHead test records and on all of them, straight
// from runs/<rule>/seed<k>/model.safetensors and the dataset artifact with
// a fresh nn.Model (not through Extract or the report), and checks
// results.json's test_head_acc and test_acc against them. The smoke preset
// scores the first 100 of its 200 test images, so a head taken from the
// wrong rows or the whole set would differ.
func TestTestHeadAccuracyIsTheModelsAccuracyOnTheLeadingRecords(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the reference smoke study")
	}
	b := referenceResults(t)
	var res results.Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	c := smokeConfig(t, reference.dir)
	if c.TestHead != 100 || c.SyntheticTest != 200 {
		t.Fatalf("the smoke preset scores the first %d of %d test images; this test expects 100 of 200", c.TestHead, c.SyntheticTest)
	}
	if res.TestHead != c.TestHead {
		t.Fatalf("results.json test_head = %d, want %d", res.TestHead, c.TestHead)
	}
	ds, err := LoadDataset(context.Background(), reference.dir, DatasetKey(c))
	if err != nil {
		t.Fatal(err)
	}
	x := cifar.CenterCropSet(ds.Test)
	bp, err := nn.NewRule(nn.Reference, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	// accuracy runs the model on test images [0, n) in one batch.
	accuracy := func(p *nn.Params, n int) float64 {
		m := nn.NewModel(p, bp, n)
		m.Forward(x, n)
		return float64(m.Correct(ds.Test.Labels)) / float64(n)
	}
	differs := false
	for _, rule := range c.OrderedRules() {
		for _, s := range res.Rules[rule].Seeds {
			path := filepath.Join(reference.dir, filepath.FromSlash(s.Model))
			mb, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			p, _, _, err := train.DecodeModel(bytes.NewReader(mb), int64(len(mb)), path)
			if err != nil {
				t.Fatal(err)
			}
			head, all := accuracy(p, c.TestHead), accuracy(p, ds.Test.Len())
			if s.TestHeadAcc == nil {
				t.Errorf("%s seed %d: no test_head_acc", rule, s.Seed)
				continue
			}
			if *s.TestHeadAcc != head || s.TestAcc != all {
				t.Errorf("%s seed %d: test_head_acc %v, test_acc %v; the model scores %v on the first %d test images and %v on all %d",
					rule, s.Seed, *s.TestHeadAcc, s.TestAcc, head, c.TestHead, all, ds.Test.Len())
			}
			differs = differs || head != all
		}
	}
	if !differs {
		t.Error("every model scores the same on the head as on the whole test set: the check cannot tell the rows apart")
	}
}

// TestTestHeadRefusesPredictionsOfAnotherRun checks the report's
// consistency check: predictions whose accuracy is not the run's recorded
// test accuracy are an error naming the extraction, and a head longer
// than the test set is the whole set.
func TestTestHeadRefusesPredictionsOfAnotherRun(t *testing.T) {
	env := &studyReport{Cfg: Config{TestHead: 1000}, Results: &results.Results{Rules: map[string]results.RuleResult{
		"bp": {Seeds: []results.SeedResult{{Seed: 0, TestAcc: 0.75}}},
	}}}
	e := ExtractResult{Key: "extract/0123456789abcdef", Rule: "bp", Seed: 0}
	labels := []uint8{1, 2, 3, 4}
	if err := env.setTestHead(e, labels, []int{1, 2, 3, 0}); err != nil {
		t.Fatalf("3 of 4 correct against a recorded 0.75: %v", err)
	}
	if got := env.Results.Rules["bp"].Seeds[0].TestHeadAcc; got == nil || *got != 0.75 || env.Results.TestHead != 4 {
		t.Errorf("head of 1000 over 4 records: test_head_acc %v, test_head %d; want 0.75 over 4", got, env.Results.TestHead)
	}
	err := env.setTestHead(e, labels, []int{1, 2, 0, 0})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(e.Key)) {
		t.Errorf("2 of 4 correct against a recorded 0.75: err = %v, want one naming %s", err, e.Key)
	}
	if err := env.setTestHead(ExtractResult{Rule: "bp", Seed: 7}, labels, []int{1, 2, 3, 4}); err == nil {
		t.Error("an extraction without a final run was accepted")
	}
}
