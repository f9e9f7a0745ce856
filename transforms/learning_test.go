package transforms

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/engine/nn"
)

// Learning thresholds for the smoke preset, derived rather than read off a
// run. The smoke test set has 200 synthetic images, 20 per class (engine/cifar
// Synthetic: each class has its own mean colour, 70 grey levels from the
// others', and its own stripe orientation, under noise of 20 grey levels).
// A model that has learnt nothing scores about 10%; on 200 images the
// standard deviation of that score is sqrt(0.1·0.9/200) = 2.1 points.
//
//   - aboveChance = 16%: 2.8 standard deviations above chance, which a model
//     that learnt nothing reaches with probability below 0.3%. Every rule,
//     the feedback-alignment ones included, must clear it: even a rule whose
//     conv layers learn nothing trains its last layer with the true error.
//   - farAboveChance = 50%: 19 standard deviations above chance. The mean
//     colour alone separates most classes (its offset is 3.5 noise standard
//     deviations per pixel, averaged over 576 pixels per channel), so a
//     correct pipeline under backprop or a sign-concordant rule separates
//     them within its first epoch; a pipeline that mixes images and labels
//     cannot get near this.
const (
	aboveChance    = 0.16
	farAboveChance = 0.50
)

// checkLearned returns an error naming every final run of res whose test
// accuracy is below its family's threshold.
func checkLearned(res results.Results) error {
	var bad []string
	for rule, rr := range res.Rules {
		spec, err := nn.Spec(rule)
		if err != nil {
			return err
		}
		want := farAboveChance
		if spec.Family == nn.FamilyRandomFeedback {
			want = aboveChance
		}
		for _, s := range rr.Seeds {
			if !(s.TestAcc >= want) {
				bad = append(bad, fmt.Sprintf("%s seed %d: test accuracy %.3f < %.2f", rule, s.Seed, s.TestAcc, want))
			}
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("the study did not learn: %s", strings.Join(bad, "; "))
	}
	return nil
}

// The smoke study, through Preprocess, GridSearch, SelectBest and Train
// (train.Run), learns: every rule's final run beats its threshold.
func TestSmokeStudyLearns(t *testing.T) {
	if testing.Short() {
		t.Skip("trains the smoke study")
	}
	var res results.Results
	if err := json.Unmarshal(referenceResults(t), &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Rules) != len(nn.RuleNames()) {
		t.Fatalf("%d rules in the smoke results, want %d", len(res.Rules), len(nn.RuleNames()))
	}
	if err := checkLearned(res); err != nil {
		t.Fatal(err)
	}
}

// The learning check can fail: with the training labels shuffled across
// images in Preprocess (mixUpTrainLabels), bp trained on the same smoke data
// stays near chance and checkLearned reports it.
func TestLearningCheckCatchesALabelMixUp(t *testing.T) {
	if testing.Short() {
		t.Skip("trains bp on the smoke data")
	}
	mixUpTrainLabels = true
	t.Cleanup(func() { mixUpTrainLabels = false })
	dir := t.TempDir()
	c := smokeConfig(t, dir)
	c.Rules, c.Grid, c.Extract = []string{"bp"}, false, false
	runStudy(t, "direct", c)
	b, err := os.ReadFile(filepath.Join(dir, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	var res results.Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	err = checkLearned(res)
	if err == nil {
		t.Fatalf("bp learnt from shuffled labels (test accuracy %v): the check cannot fail", res.Rules["bp"].Seeds)
	}
	t.Logf("as expected: %v", err)
}
