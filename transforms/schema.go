package transforms

import (
	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/engine/compare"
	"github.com/fabeam/fabeam/engine/saliency"
	"github.com/fabeam/fabeam/engine/train"
)

// This file is the one place engine types become the results schema
// (artifacts/results): the engine owns its types, so renaming a field of
// results.json changes only the schema and these functions. Each keeps a
// nil slice nil, so the JSON is what the engine's values say.

// ckaEntries maps compare's CKA matrices to results.cka entries.
func ckaEntries(es []compare.Entry) []results.CKAEntry {
	if es == nil {
		return nil
	}
	out := make([]results.CKAEntry, len(es))
	for i, e := range es {
		out[i] = results.CKAEntry(e)
	}
	return out
}

// perClassResults maps compare's per-class accuracies to results.per_class.
func perClassResults(m map[string]compare.ClassResult) map[string]results.PerClass {
	if m == nil {
		return nil
	}
	out := make(map[string]results.PerClass, len(m))
	for rule, pc := range m {
		out[rule] = results.PerClass(pc)
	}
	return out
}

// saliencyResult maps one model's saliency analysis to a results.saliency
// entry.
func saliencyResult(r saliency.Result) results.SaliencyResult {
	out := results.SaliencyResult{Seed: r.Seed}
	if r.Layers != nil {
		out.Layers = make([]results.LayerChannel, len(r.Layers))
	}
	for i, l := range r.Layers {
		lc := results.LayerChannel{Layer: l.Layer, Importance: l.Importance}
		if l.Top != nil {
			lc.Top = make([]results.TopChannel, len(l.Top))
		}
		for j, t := range l.Top {
			lc.Top[j] = results.TopChannel(t)
		}
		out.Layers[i] = lc
	}
	return out
}

// historyResult maps a run's engine history to history.json's schema.
func historyResult(h train.History) results.History {
	out := results.History{Rule: h.Rule, Seed: h.Seed, Hyperparameters: hyperResult(h.Hyperparameters),
		StepsPerEpoch: h.StepsPerEpoch, Steps: results.Steps(h.Steps), BestEpoch: h.BestEpoch, BestValAcc: h.BestValAcc,
		TestAcc: h.TestAcc, Diverged: h.Diverged, DivergedStep: h.DivergedStep, PerClassTest: h.PerClassTest}
	if h.Epochs != nil {
		out.Epochs = make([]results.Epoch, len(h.Epochs))
	}
	for i, e := range h.Epochs {
		out.Epochs[i] = results.Epoch(e)
	}
	return out
}

// hyperResult maps a run's engine hyper-parameters to the schema's.
func hyperResult(h train.Hyperparameters) results.Hyperparameters {
	return results.Hyperparameters(h)
}
