package transforms

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/engine/nn"
)

// The reference smoke run: every final run's history records the learning
// signal for every layer and epoch, grid histories do not (their keys and
// content stay as they were), results.knowledge is KnowledgeSummary of the
// rest of results.json, and the report shows both sections.
func TestSmokeRecordsTheSignalInFinalRunsAndSummarisesKnowledge(t *testing.T) {
	ref := referenceResults(t)
	dir := reference.dir
	var res results.Results
	if err := json.Unmarshal(ref, &res); err != nil {
		t.Fatal(err)
	}
	for rule, rr := range res.Rules {
		for _, s := range rr.Seeds {
			var h results.History
			b, err := os.ReadFile(filepath.Join(dir, s.History))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &h); err != nil {
				t.Fatal(err)
			}
			for _, e := range h.Epochs {
				for _, l := range nn.LayerNames {
					for what, m := range map[string]map[string]float64{"error": e.ErrorRMS, "grad": e.WeightGradRMS, "update": e.UpdateRMS} {
						if v, ok := m[l]; !ok || !(v > 0) || math.IsInf(v, 0) {
							t.Errorf("%s seed %d epoch %d: %s RMS of %s = %v (present %v), want a positive number", rule, s.Seed, e.Epoch, what, l, v, ok)
						}
					}
					// Each |m̂/(√v̂+ε)| is at most about 1 (|m̂| ≤ √v̂ up to β-weighting).
					if u := e.UpdateRMS[l]; u > 3 {
						t.Errorf("%s epoch %d %s update RMS / lr = %v, want at most a few", rule, e.Epoch, l, u)
					}
				}
			}
		}
	}
	grids, _ := filepath.Glob(filepath.Join(dir, StageGrid, "*", HistoryFile))
	if len(grids) == 0 {
		t.Fatal("no grid histories")
	}
	for _, g := range grids {
		b, err := os.ReadFile(g)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "error_rms") || strings.Contains(string(b), "update_rms") {
			t.Errorf("grid history %s records the learning signal; grid runs leave it off", g)
		}
	}
	want, err := KnowledgeSummary(&res)
	if err != nil {
		t.Fatal(err)
	}
	wb, _ := json.Marshal(want)
	gb, _ := json.Marshal(res.Knowledge)
	if string(wb) != string(gb) {
		t.Errorf("results.knowledge = %s\nwant KnowledgeSummary of results.json = %s", gb, wb)
	}
	if len(res.Knowledge.Rules) != len(res.Rules) || res.Knowledge.Rules[0].Rule != nn.Reference {
		t.Errorf("knowledge rows %+v, want every rule, bp first", res.Knowledge.Rules)
	}
	for _, r := range res.Knowledge.Rules[1:] {
		if r.CKA == nil || r.CKA.Mean.N != 1 {
			t.Errorf("%s has no diagonal CKA over its one seed: %+v", r.Rule, r.CKA)
		}
	}
	md, err := os.ReadFile(filepath.Join(dir, ReportMD))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"## Knowledge of W against accuracy and CKA", "## Learning signal and Adam's ε", "figures/signal.png", "figures/knowledge.png"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("report.md lacks %q", s)
		}
	}
}
