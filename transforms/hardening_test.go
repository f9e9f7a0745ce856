package transforms

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/artifacts/results"
)

// divergingLR makes fa_toeplitz diverge on the smoke data after its first
// epoch: Adam moves every weight by about the learning rate per step, so
// the logits grow by orders of magnitude each step until they overflow
// float32 (found by trying 30, 300, …, 3e5 on the smoke data with
// engine/train: only 3e5 diverged within 4 epochs, in its second).
const divergingLR = 3e5

// TestDivergingGridPointIsRecordedSkippedAndReported runs a smoke study of
// fa_toeplitz whose grid puts a diverging point first (so a SelectBest that
// did not skip it would choose it on grid order, and it keeps the
// validation accuracy of the epoch it completed). The pipeline must finish;
// results.json's grid must record the divergence with its step and last
// good epoch; the final run must use the sane point; and report.html and
// report.md must show "diverged at step N (last good epoch E)".
func TestDivergingGridPointIsRecordedSkippedAndReported(t *testing.T) {
	if testing.Short() {
		t.Skip("trains: skipped with -short")
	}
	out := t.TempDir()
	c := smokeConfig(t, out)
	c.Rules = []string{"fa_toeplitz"}
	c.GridEpochs, c.Epochs, c.Extract = 3, 1, false
	sane := Point{LR: 1e-3, Sigma: 0.01}
	c.GridPoints = map[string][]Point{"fa_toeplitz": {{LR: divergingLR, Sigma: 0.01}, sane}}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	runStudy(t, "direct", c) // fails the test if the pipeline fails

	b, err := os.ReadFile(filepath.Join(out, ResultsFile))
	if err != nil {
		t.Fatalf("the pipeline did not finish: %v", err)
	}
	var res results.Results
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Grid) != 2 {
		t.Fatalf("results.json grid has %d points, want 2", len(res.Grid))
	}
	bad, good := res.Grid[0], res.Grid[1]
	if bad.Point.LR != divergingLR || !bad.Diverged {
		t.Fatalf("grid[0] = %+v, want lr %g diverged", bad, divergingLR)
	}
	if good.Diverged {
		t.Fatalf("the sane point diverged too: %+v", good)
	}
	// 540 training images in batches of 128: 5 steps per epoch. The
	// divergence step must fall in the epoch after the last good one.
	const spe = 5
	if bad.LastGoodEpoch < 1 {
		t.Fatalf("grid[0] last_good_epoch = %d, diverged_step = %d: want a divergence after epoch 1, so the last good epoch is recorded (if the step is in epoch 1, divergingLR is too high for this data; if results.json lacks last_good_epoch, transforms/report.go must copy RunResult.LastGoodEpoch into results.GridPoint)", bad.LastGoodEpoch, bad.DivergedStep)
	}
	if lo, hi := spe*bad.LastGoodEpoch, spe*(bad.LastGoodEpoch+1); bad.DivergedStep <= lo || bad.DivergedStep > hi || bad.LastGoodEpoch >= c.GridEpochs {
		t.Errorf("grid[0] diverged at step %d with last good epoch %d: the step must be in (%d, %d] and the epoch below %d", bad.DivergedStep, bad.LastGoodEpoch, lo, hi, c.GridEpochs)
	}
	hp := res.Rules["fa_toeplitz"].Hyperparameters
	if hp.LR != sane.LR || hp.Sigma != sane.Sigma {
		t.Errorf("final run hyper-parameters %+v: SelectBest did not skip the diverged point", hp)
	}
	if s := res.Rules["fa_toeplitz"].Seeds; len(s) != 1 || s[0].Diverged {
		t.Errorf("final runs %+v, want one that did not diverge", s)
	}
	want := fmt.Sprintf("diverged at step %d (last good epoch %d)", bad.DivergedStep, bad.LastGoodEpoch)
	for _, f := range []string{ReportHTML, ReportMD} {
		page, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(page), want) {
			t.Errorf("%s does not show %q", f, want)
		}
	}
	t.Logf("grid[0]: %s", want)
}
