package transforms

import (
	"slices"

	"github.com/fabeam/fabeam/artifacts/figures"
	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/engine/nn"
)

// KnowledgeSubset is the CKA subset results.knowledge takes its diagonals
// from.
const KnowledgeSubset = "all"

// KnowledgeSummary builds results.knowledge from the rules' final runs and
// the CKA entries of res: every rule run, in nn.ByKnowledge order, with its
// test accuracy over all its seeds and the diagonal of its CKA matrices
// against bp on KnowledgeSubset (the seeds the comparison kept), and the
// bp-vs-bp noise ceiling when there is one. Means and 95% half-widths are
// figures.MeanCI95's, as in Table 1. It returns nil when no rule ran.
func KnowledgeSummary(res *results.Results) (*results.Knowledge, error) {
	var names []string
	for r := range res.Rules {
		names = append(names, r)
	}
	if len(names) == 0 {
		return nil, nil
	}
	slices.SortFunc(names, func(a, b string) int { return compareRuleSeed(a, 0, b, 0) })
	ordered, err := nn.ByKnowledge(names)
	if err != nil {
		return nil, err
	}
	k := &results.Knowledge{Subset: KnowledgeSubset}
	for _, rule := range ordered {
		spec, _ := nn.Spec(rule)
		var test []float64
		for _, s := range res.Rules[rule].Seeds {
			test = append(test, s.TestAcc)
		}
		row := results.KnowledgeRule{Rule: rule, Knowledge: spec.Knowledge, TestAcc: meanCI(test)}
		if rule != nn.Reference {
			row.CKA = diagonalCKA(res.CKA, rule)
		}
		k.Rules = append(k.Rules, row)
	}
	k.NoiseCeiling = diagonalCKA(res.CKA, nn.Reference)
	return k, nil
}

// diagonalCKA gathers, over the CKA entries of rule against bp on
// KnowledgeSubset that hold a matrix (seed order, as res.CKA is), each
// layer's diagonal value and each seed's mean of the five; nil when there
// is none. For rule bp these are the noise ceiling's entries.
func diagonalCKA(entries []results.CKAEntry, rule string) *results.DiagonalCKA {
	perLayer := make([][]float64, nn.NumLayers)
	var means []float64
	for _, e := range entries {
		if e.Rule != rule || e.Reference != nn.Reference || e.Subset != KnowledgeSubset || e.TooSmall ||
			len(e.Matrix) != nn.NumLayers {
			continue
		}
		var sum float64
		for l := range nn.NumLayers {
			perLayer[l] = append(perLayer[l], e.Matrix[l][l])
			sum += e.Matrix[l][l]
		}
		means = append(means, sum/nn.NumLayers)
	}
	if len(means) == 0 {
		return nil
	}
	d := &results.DiagonalCKA{Layers: map[string]results.MeanCI{}, Mean: meanCI(means)}
	for l, vs := range perLayer {
		d.Layers[nn.LayerNames[l]] = meanCI(vs)
	}
	return d
}

// meanCI is figures.MeanCI95 of xs as the results schema holds it.
func meanCI(xs []float64) results.MeanCI {
	m, h := figures.MeanCI95(xs)
	return results.MeanCI{Mean: m, CI95: h, N: len(xs)}
}
