package nn

import (
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// TestRuleSpecsDeclareWhatTheRulesDo checks each spec's declared feedback
// counts against the rule itself: StoredFeedback against the tensors its
// Feedback() returns, DerivedFeedback against the operator values it
// writes into scratch storage in a backward pass; and that UsesSigma
// matches what sigma does: a rule that uses it holds B0, and its operators
// change with sigma; a rule that does not (frsf holds tensors but draws
// them from the layer's initialisation distribution) gives the same
// operators at any sigma.
func TestRuleSpecsDeclareWhatTheRulesDo(t *testing.T) {
	p := NewParams()
	p.InitPyTorch(1)
	for i, s := range Specs() {
		if s.Name != RuleNames()[i] {
			t.Fatalf("Specs()[%d] = %s, RuleNames()[%d] = %s", i, s.Name, i, RuleNames()[i])
		}
		r, err := NewRule(s.Name, 0.05, 3)
		if err != nil {
			t.Fatal(err)
		}
		if r.Name() != s.Name {
			t.Errorf("spec %s makes rule %s", s.Name, r.Name())
		}
		var stored int64
		fb, hasB0 := r.(FeedbackTensors)
		if hasB0 {
			for _, ts := range fb.Feedback() {
				stored += int64(len(ts.Data))
			}
		}
		if stored != s.StoredFeedback || (s.UsesSigma && !hasB0) {
			t.Errorf("%s: stores %d feedback values (B0: %v), spec declares %d (UsesSigma %v)", s.Name, stored, hasB0, s.StoredFeedback, s.UsesSigma)
		}
		other, err := NewRule(s.Name, 0.1, 3)
		if err != nil {
			t.Fatal(err)
		}
		sameOps := true
		for l := Conv2; l < NumLayers; l++ {
			w := p.Weight(l)
			a, b := r.Operator(l, w, make([]float32, len(w))).B, other.Operator(l, w, make([]float32, len(w))).B
			for i := range a {
				sameOps = sameOps && a[i] == b[i]
			}
		}
		if sameOps == s.UsesSigma {
			t.Errorf("%s: operators at sigma 0.05 and 0.1 equal: %v, but UsesSigma is %v", s.Name, sameOps, s.UsesSigma)
		}
		var derived int64
		for l := Conv2; l < NumLayers; l++ {
			w := p.Weight(l)
			scratch := make([]float32, len(w))
			op := r.Operator(l, w, scratch)
			if len(op.B) > 0 && unsafe.SliceData(op.B) == unsafe.SliceData(scratch) {
				derived += int64(len(w))
			}
		}
		if derived != s.DerivedFeedback {
			t.Errorf("%s: derives %d operator values per step, spec declares %d", s.Name, derived, s.DerivedFeedback)
		}
		if s.Display == "" || s.Family == "" || s.New == nil {
			t.Errorf("%s: spec lacks a display name, family or constructor: %+v", s.Name, s)
		}
		if err := s.CheckHyper(s.PaperChoice); err != nil {
			t.Errorf("%s: the paper's choice fails CheckHyper: %v", s.Name, err)
		}
		for _, h := range s.PaperGrid.Points() {
			if err := s.CheckHyper(h); err != nil {
				t.Errorf("%s: grid point fails CheckHyper: %v", s.Name, err)
			}
		}
	}
}

// The paper's grid: 6 points for bp, 9 for each of fa_random, fa_toeplitz
// and usf_init, 4 for usf_sn (37 in all), the learning rate slowest; the
// rules beyond the paper have grids of their own in its style: its five
// learning rates 1e-4 … 1e-2, times their own axis.
func TestPaperGridHas37PointsLearningRateSlowest(t *testing.T) {
	want := map[string]int{"bp": 6, "fa_random": 9, "fa_toeplitz": 9, "usf_init": 9, "usf_sn": 4, "usf": 5, "frsf": 5, "brsf": 5, "dfa": 15}
	inPaper := map[string]bool{"bp": true, "fa_random": true, "fa_toeplitz": true, "usf_init": true, "usf_sn": true}
	total := 0
	for _, s := range Specs() {
		pts := s.PaperGrid.Points()
		if s.InPaper != inPaper[s.Name] {
			t.Errorf("%s: InPaper = %v", s.Name, s.InPaper)
		}
		if s.InPaper {
			total += len(pts)
		} else {
			lrs := []float64{1e-4, 3e-4, 1e-3, 3e-3, 1e-2}
			if len(s.PaperGrid.LR) != len(lrs) || len(s.PaperGrid.WeightDecay) != 0 || !slices.Contains(lrs, s.PaperChoice.LR) ||
				(len(s.PaperGrid.Sigma) > 0 && !slices.Contains(s.PaperGrid.Sigma, s.PaperChoice.Sigma)) {
				t.Errorf("%s: grid %+v, choice %+v: want lr 1e-4 … 1e-2, no weight decay, and a choice on the grid", s.Name, s.PaperGrid, s.PaperChoice)
			}
			for i, lr := range lrs {
				if i < len(s.PaperGrid.LR) && s.PaperGrid.LR[i] != lr {
					t.Errorf("%s: grid lr[%d] = %g, want %g", s.Name, i, s.PaperGrid.LR[i], lr)
				}
			}
		}
		if len(pts) != want[s.Name] {
			t.Errorf("%s: %d grid points, want %d", s.Name, len(pts), want[s.Name])
		}
		for i := 1; i < len(pts); i++ {
			if pts[i].LR < pts[i-1].LR {
				t.Errorf("%s: point %d has lr %g after %g: the learning rate must vary slowest", s.Name, i, pts[i].LR, pts[i-1].LR)
			}
		}
	}
	if total != 37 {
		t.Errorf("%d grid points in all, want 37", total)
	}
	bp, _ := Spec("bp")
	if got := bp.PaperGrid.Points(); got[1] != (Hyper{LR: 5e-4, WeightDecay: 1e-4}) {
		t.Errorf("bp's second grid point = %+v, want lr 5e-4 wd 1e-4", got[1])
	}
}

func TestCheckHyperNamesTheField(t *testing.T) {
	fa, _ := Spec("fa_random")
	sn, _ := Spec("usf_sn")
	for _, tc := range []struct {
		s    *RuleSpec
		h    Hyper
		want string
	}{
		{fa, Hyper{LR: 0, Sigma: 0.1}, "lr"},
		{fa, Hyper{LR: 1e-3, WeightDecay: -1, Sigma: 0.1}, "weight_decay"},
		{fa, Hyper{LR: 1e-3}, "positive finite sigma"},
		{sn, Hyper{LR: 1e-3, Sigma: -1}, "sigma"},
	} {
		err := tc.s.CheckHyper(tc.h)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %+v: err %v, want one naming %q", tc.s.Name, tc.h, err, tc.want)
		}
	}
	if err := sn.CheckHyper(Hyper{LR: 1e-3}); err != nil {
		t.Errorf("usf_sn ignores sigma, so 0 is valid: %v", err)
	}
	if _, err := Spec("nope"); err == nil || !strings.Contains(err.Error(), "usf_sn") {
		t.Errorf("Spec of an unknown rule: %v, want an error listing the rules", err)
	}
}

// TestByKnowledgeOrdersRulesByWhatTheyKnowOfW checks the paper's five rules
// come out in the order of its central question (W itself; sign and norm;
// sign with random magnitudes; a random kernel; a random dense matrix),
// that the ranks agree with the families, and that an unknown name fails.
func TestByKnowledgeOrdersRulesByWhatTheyKnowOfW(t *testing.T) {
	got, err := ByKnowledge([]string{"fa_random", "usf_init", "bp", "fa_toeplitz", "usf_sn"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"bp", "usf_sn", "usf_init", "fa_toeplitz", "fa_random"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("ByKnowledge = %v, want %v", got, want)
	}
	for _, s := range Specs() {
		ok := false
		switch s.Family {
		case FamilyBackprop:
			ok = s.Knowledge == 0
		case FamilySignConcordant:
			ok = s.Knowledge == 1 || s.Knowledge == 2
		case FamilyRandomFeedback:
			ok = s.Knowledge >= 3
		}
		if !ok {
			t.Errorf("%s: Knowledge %d does not fit its family %q", s.Name, s.Knowledge, s.Family)
		}
	}
	if _, err := ByKnowledge([]string{"bp", "nope"}); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("unknown rule: err = %v, want one naming it", err)
	}
}

// TestPaperNumbersBelongToThePapersRules checks that exactly the rules of
// the paper carry its published numbers, that every one but bp has a CKA
// matrix against bp and both subset sizes, and that the sizes of the two
// disjoint subsets fit in the 15,000 images the paper compared.
func TestPaperNumbersBelongToThePapersRules(t *testing.T) {
	for _, s := range Specs() {
		if (s.Paper != nil) != s.InPaper {
			t.Errorf("%s: InPaper %v but published numbers %v", s.Name, s.InPaper, s.Paper != nil)
			continue
		}
		if s.Paper == nil {
			continue
		}
		p := s.Paper
		if !(p.BestVal > 0 && p.BestVal < 1 && p.Test > 0 && p.Test < 1 && p.BestEpoch >= 1 && p.BestEpoch <= 50) {
			t.Errorf("%s: Table 1 row %+v out of range", s.Name, *p)
		}
		if s.Name == Reference {
			if p.CKA != nil || p.SubsetN != nil {
				t.Errorf("bp carries a CKA matrix against itself")
			}
			continue
		}
		both, only := p.SubsetN["both_correct"], p.SubsetN["bp_only"]
		if p.CKA == nil || both <= 0 || only <= 0 || both+only > 15000 {
			t.Errorf("%s: CKA %v, subsets both_correct %d, bp_only %d", s.Name, p.CKA != nil, both, only)
		}
	}
}
