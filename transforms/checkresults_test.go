package transforms

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/artifacts/results"
)

// TestAStudyOfFewerRulesMatchesTheFullStudyBitForBit is what checking a
// published reproduction with a smaller study rests on: the results of a
// rule and seed do not depend on which other rules ran. The three-rule
// infrastructure study (bp, brsf, dfa) and the nine-rule reference study,
// both made by other tests, are compared with results.Compare: every run,
// grid point, CKA matrix, saliency result and per-rule summary the small
// study holds is in the large one, bit for bit.
func TestAStudyOfFewerRulesMatchesTheFullStudyBitForBit(t *testing.T) {
	var full, small results.Results
	if err := json.Unmarshal(referenceResults(t), &full); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(infraReference.results(t), &small); err != nil {
		t.Fatal(err)
	}
	checks := results.Compare(full, small)
	kinds := map[string]int{}
	for _, c := range checks {
		if !c.Same {
			t.Errorf("%s differs between the three-rule and the nine-rule study: %s", c.What, c.Detail)
		}
		kind, _, _ := strings.Cut(c.What, " ")
		switch {
		case strings.HasSuffix(c.What, " hyper-parameters"):
			kind = "hyper-parameters"
		case strings.Contains(c.What, " seed ") && !slices.Contains([]string{"CKA", "saliency"}, kind):
			kind = "seed"
		}
		kinds[kind]++
	}
	// 3 rules × 1 seed, 2 grid points each, CKA of brsf and dfa on three
	// subsets, and per rule its saliency, per-class accuracy, alignment
	// summary and knowledge line.
	want := map[string]int{"hyper-parameters": 3, "seed": 3, "grid": 6, "CKA": 6, "saliency": 3, "per-class": 3, "alignment": 3, "knowledge": 3}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("%d %s checks, want %d", kinds[k], k, n)
		}
	}
	if len(kinds) != len(want) {
		t.Errorf("checks of kinds %v, want %v", kinds, want)
	}
}
