package figures

import "github.com/fabeam/fabeam/engine/nn"

// PaperResult is one row of the paper's Table 1. Accuracies are fractions.
type PaperResult struct {
	BestVal, Test float64
	// BestEpoch is 1-based.
	BestEpoch int
}

// PaperTable1 is the paper's Table 1 (best validation accuracy, its test
// accuracy and epoch, one run per rule), as each rule declares it
// (nn.RuleSpec.Paper; docs/paper.md "Published results (Table 1)").
var PaperTable1 = func() map[string]PaperResult {
	m := map[string]PaperResult{}
	for _, s := range nn.Specs() {
		if p := s.Paper; p != nil {
			m[s.Name] = PaperResult{BestVal: p.BestVal, Test: p.Test, BestEpoch: p.BestEpoch}
		}
	}
	return m
}()

// PaperCKA holds the paper's CKA matrices for subset "all" (Fig. 8), rows
// the rule's layers and columns bp's, both conv1..fc3, as each rule
// declares them (docs/paper.md "Full matrices"). Values are printed to two
// decimals in the source.
var PaperCKA = func() map[string][5][5]float64 {
	m := map[string][5][5]float64{}
	for _, s := range nn.Specs() {
		if p := s.Paper; p != nil && p.CKA != nil {
			m[s.Name] = *p.CKA
		}
	}
	return m
}()

// PaperSubsetN is the paper's subset sizes for "both_correct" and "bp_only"
// (of 15,000 validation + test images), subset → rule → n, as each rule
// declares them (docs/paper.md "CKA").
var PaperSubsetN = func() map[string]map[string]int {
	m := map[string]map[string]int{}
	for _, s := range nn.Specs() {
		if p := s.Paper; p != nil {
			for sub, n := range p.SubsetN {
				if m[sub] == nil {
					m[sub] = map[string]int{}
				}
				m[sub][s.Name] = n
			}
		}
	}
	return m
}()
