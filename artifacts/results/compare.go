package results

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
)

// Check is one comparison of a number, or a set of numbers, of one study
// with another's.
type Check struct {
	// What names what was compared, for example "bp seed 0" or "grid
	// fa_random lr=0.001 wd=0 sigma=0.1".
	What string
	// Same is true when every value is identical, bit for bit.
	Same bool
	// Detail shows the values: the numbers when they are the same, each
	// differing field with both values otherwise.
	Detail string
}

// Compare checks every result mine holds against the same result in
// published: each rule's hyper-parameters, each final run (seed), each
// grid point, each CKA matrix and each saliency result by its rule and
// seed, and the per-rule summaries over seeds (per-class accuracy,
// alignment, knowledge) and the noise ceiling where mine ran the same
// seeds of the rule as published did. A study run with fewer rules or
// seeds than the published one is compared on what it has: fabeam's
// results for one rule and seed do not depend on which other rules and
// seeds ran. A result of mine that published lacks is a failed check.
//
// Values are compared exactly: the same configuration on any machine and
// runner gives the same bits, so any difference is a real one.
func Compare(published, mine Results) []Check {
	var out []Check
	add := func(what string, same bool, detail string) {
		out = append(out, Check{What: what, Same: same, Detail: detail})
	}
	if published.FormatVersion != mine.FormatVersion {
		add("format version", false, fmt.Sprintf("published %d, mine %d: results of different format versions come from different stage keys and are not expected to agree", published.FormatVersion, mine.FormatVersion))
	}
	seedSets := map[string]bool{} // rules whose seed sets are equal
	for _, rule := range sortedRules(mine.Rules) {
		rr := mine.Rules[rule]
		pr, ok := published.Rules[rule]
		if !ok {
			add(rule, false, "not in the published results")
			continue
		}
		if pr.Hyperparameters != rr.Hyperparameters {
			add(rule+" hyper-parameters", false, fmt.Sprintf("published %s, mine %s", hpText(pr.Hyperparameters), hpText(rr.Hyperparameters)))
		} else {
			add(rule+" hyper-parameters", true, hpText(rr.Hyperparameters))
		}
		var mineSeeds, pubSeeds []int
		for _, s := range pr.Seeds {
			pubSeeds = append(pubSeeds, s.Seed)
		}
		for _, s := range rr.Seeds {
			mineSeeds = append(mineSeeds, s.Seed)
			what := fmt.Sprintf("%s seed %d", rule, s.Seed)
			i := slices.IndexFunc(pr.Seeds, func(p SeedResult) bool { return p.Seed == s.Seed })
			if i < 0 {
				add(what, false, "not in the published results")
				continue
			}
			diffs := fieldDiffs(pr.Seeds[i], s)
			if len(diffs) > 0 {
				add(what, false, strings.Join(diffs, "; "))
				continue
			}
			add(what, true, fmt.Sprintf("best val %.4f, test %.4f, best epoch %d", s.BestValAcc, s.TestAcc, s.BestEpoch))
		}
		sort.Ints(mineSeeds)
		sort.Ints(pubSeeds)
		seedSets[rule] = slices.Equal(mineSeeds, pubSeeds)
	}

	for _, g := range mine.Grid {
		what := fmt.Sprintf("grid %s %s", g.Rule, hpText(g.Point))
		i := slices.IndexFunc(published.Grid, func(p GridPoint) bool { return p.Rule == g.Rule && p.Point == g.Point })
		if i < 0 {
			add(what, false, "not in the published results")
			continue
		}
		if diffs := fieldDiffs(published.Grid[i], g); len(diffs) > 0 {
			add(what, false, strings.Join(diffs, "; "))
			continue
		}
		add(what, true, fmt.Sprintf("val %.4f (last epoch), best %.4f", g.ValAcc, g.BestValAcc))
	}

	for _, c := range mine.CKA {
		what := fmt.Sprintf("CKA %s seed %d against %s seed %d, subset %s", c.Rule, c.Seed, c.Reference, c.ReferenceSeed, c.Subset)
		i := slices.IndexFunc(published.CKA, func(p CKAEntry) bool {
			return p.Seed == c.Seed && p.Rule == c.Rule && p.Reference == c.Reference && p.ReferenceSeed == c.ReferenceSeed && p.Subset == c.Subset
		})
		if i < 0 {
			add(what, false, "not in the published results")
			continue
		}
		if diffs := fieldDiffs(published.CKA[i], c); len(diffs) > 0 {
			add(what, false, strings.Join(diffs, "; "))
			continue
		}
		add(what, true, fmt.Sprintf("%d images", c.N))
	}

	for _, rule := range sortedRules(mine.Saliency) {
		for _, s := range mine.Saliency[rule] {
			what := fmt.Sprintf("saliency %s seed %d", rule, s.Seed)
			i := slices.IndexFunc(published.Saliency[rule], func(p SaliencyResult) bool { return p.Seed == s.Seed })
			switch {
			case i < 0:
				add(what, false, "not in the published results")
			case !reflect.DeepEqual(published.Saliency[rule][i], s):
				add(what, false, "channel importances or exemplars differ")
			default:
				add(what, true, "channel importances and exemplars")
			}
		}
	}

	// Summaries over seeds compare only where the seeds are the same.
	summary := func(what, rule string, pub, m any, present bool) {
		switch {
		case !seedSets[rule]:
			return
		case !present:
			add(what, false, "not in the published results")
		case !reflect.DeepEqual(pub, m):
			add(what, false, "differs")
		default:
			add(what, true, "over the same seeds")
		}
	}
	for _, rule := range sortedRules(mine.PerClass) {
		p, ok := published.PerClass[rule]
		summary("per-class accuracy "+rule, rule, p, mine.PerClass[rule], ok)
	}
	for _, rule := range sortedRules(mine.Alignment) {
		p, ok := published.Alignment[rule]
		summary("alignment summary "+rule, rule, p, mine.Alignment[rule], ok)
	}
	if k := mine.Knowledge; k != nil {
		var pk Knowledge
		if published.Knowledge != nil {
			pk = *published.Knowledge
		}
		for _, r := range k.Rules {
			i := slices.IndexFunc(pk.Rules, func(p KnowledgeRule) bool { return p.Rule == r.Rule })
			var p KnowledgeRule
			if i >= 0 {
				p = pk.Rules[i]
			}
			summary("knowledge "+r.Rule, r.Rule, p, r, i >= 0 && pk.Subset == k.Subset)
		}
		if k.NoiseCeiling != nil {
			summary("noise ceiling (bp against bp)", "bp", pk.NoiseCeiling, k.NoiseCeiling, pk.NoiseCeiling != nil)
		}
	}
	return out
}

func hpText(h Hyperparameters) string {
	return fmt.Sprintf("lr=%g wd=%g sigma=%g epochs=%d batch=%d", h.LR, h.WeightDecay, h.Sigma, h.Epochs, h.BatchSize)
}

func sortedRules[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// fieldDiffs lists the exported fields of two values of one struct type
// that differ, each as "name: published P, mine M" (pointers compared by
// what they point to).
func fieldDiffs[T any](pub, mine T) []string {
	pv, mv := reflect.ValueOf(pub), reflect.ValueOf(mine)
	var out []string
	for i := range pv.NumField() {
		f := pv.Type().Field(i)
		if !f.IsExported() {
			continue
		}
		a, b := pv.Field(i).Interface(), mv.Field(i).Interface()
		if reflect.DeepEqual(a, b) {
			continue
		}
		out = append(out, fmt.Sprintf("%s: published %s, mine %s", f.Name, show(pv.Field(i)), show(mv.Field(i))))
	}
	return out
}

func show(v reflect.Value) string {
	if v.Kind() == reflect.Pointer {
		if v.IsNil() {
			return "absent"
		}
		v = v.Elem()
	}
	return fmt.Sprintf("%v", v.Interface())
}
