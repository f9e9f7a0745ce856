package transforms

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/fabeam/fabeam/artifacts/figures"
	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/engine/cifar"
	"github.com/fabeam/fabeam/engine/nn"
)

// addAlignment is the part of Report that needs no stage of its own: the
// alignment summary (results.alignment) from the histories, and the
// differences from the paper that follow from the configuration.
func (rep *studyReport) addAlignment(ctx context.Context) {
	al, notes := AlignmentSummaries(rep.Histories)
	if len(al) > 0 {
		rep.Results.Alignment = al
	}
	rep.Differences = append(rep.Differences, notes...)
	if !rep.Cfg.Synthetic {
		rep.Differences = append(rep.Differences, testDataNote(ctx, rep.Cfg.Data)...)
	}
	rep.Differences = append(rep.Differences, analysisDifferences(rep.Cfg)...)
}

// testDataNote says, when the CIFAR-10 test batch in dir is not the
// official one (its MD5 is not cifar.TestFileMD5), what that means for the
// comparison with the paper; it is empty for the official file.
func testDataNote(ctx context.Context, dir string) []string {
	sum, err := testBatchMD5(ctx, dir)
	switch {
	case err != nil:
		return []string{fmt.Sprintf("The CIFAR-10 test batch could not be checksummed (%v), so whether it holds the official test images is unknown.", err)}
	case sum != cifar.TestFileMD5:
		return []string{fmt.Sprintf("The CIFAR-10 test batch (%s) has MD5 %s, not the official %s: it passed the format checks but does not hold exactly the official test images (for example, images decoded from JPEG), so test accuracy, per-class accuracy, the CKA images and the exemplars are not exactly comparable with the paper's.",
			cifar.TestFile, sum, cifar.TestFileMD5)}
	}
	return nil
}

// AlignmentSummaries summarises each rule's alignment metrics over its
// seeds (results.AlignmentSummary): per layer, the mean over seeds of
//
//   - LocalAngleFirst/Final, ConcordanceFirst/Final: the first and the last
//     epoch's means over their steps (history Epoch.LocalAngle and
//     Epoch.Concordance);
//   - UpdateAngleFinal: the mean of the update-angle samples taken during
//     the last epoch (global steps (E-1)·S+1 … E·S for last epoch E and S
//     steps per epoch); absent when none was taken then.
//
// A seed contributes to a layer only where its value exists and is finite
// (metrics that do not apply to a layer are absent); an empty map is left
// nil, and a rule with nothing to summarise is left out. Diverged runs are
// left out (the returned notes say so): their last epoch precedes the
// blow-up and would mix two regimes in one mean.
func AlignmentSummaries(hist map[string][]results.History) (map[string]results.AlignmentSummary, []string) {
	out := map[string]results.AlignmentSummary{}
	var notes []string
	rules := make([]string, 0, len(hist))
	for r := range hist {
		rules = append(rules, r)
	}
	sort.Slice(rules, func(i, j int) bool {
		if a, b := ruleIndex(rules[i]), ruleIndex(rules[j]); a != b {
			return a < b
		}
		return rules[i] < rules[j]
	})
	for _, rule := range rules {
		var lf, ll, cf, cl, ul layerMeans
		for _, h := range hist[rule] {
			if h.Diverged {
				notes = append(notes, fmt.Sprintf("Alignment summary of %s leaves out seed %d, which diverged at step %d.", rule, h.Seed, h.DivergedStep))
				continue
			}
			if len(h.Epochs) == 0 {
				continue
			}
			first, last := h.Epochs[0], h.Epochs[len(h.Epochs)-1]
			lf.add(first.LocalAngle)
			ll.add(last.LocalAngle)
			cf.add(first.Concordance)
			cl.add(last.Concordance)
			ul.add(lastEpochUpdateAngles(h, last.Epoch))
		}
		s := results.AlignmentSummary{LocalAngleFirst: lf.mean(), LocalAngleFinal: ll.mean(),
			ConcordanceFirst: cf.mean(), ConcordanceFinal: cl.mean(), UpdateAngleFinal: ul.mean()}
		if s.LocalAngleFirst != nil || s.LocalAngleFinal != nil || s.ConcordanceFirst != nil ||
			s.ConcordanceFinal != nil || s.UpdateAngleFinal != nil {
			out[rule] = s
		}
	}
	return out, notes
}

// lastEpochUpdateAngles returns, per layer, the mean of h's update-angle
// samples taken during epoch (1-based).
func lastEpochUpdateAngles(h results.History, epoch int) map[string]float64 {
	lo, hi := (epoch-1)*h.StepsPerEpoch, epoch*h.StepsPerEpoch
	var m layerMeans
	for i, step := range h.Steps.UpdateAngleSteps {
		if step <= lo || step > hi {
			continue
		}
		v := map[string]float64{}
		for layer, series := range h.Steps.UpdateAngle {
			if i < len(series) {
				v[layer] = series[i]
			}
		}
		m.add(v)
	}
	return m.mean()
}

// layerMeans accumulates per-layer means of finite values, in float64.
type layerMeans struct {
	sum map[string]float64
	n   map[string]int
}

func (m *layerMeans) add(v map[string]float64) {
	for k, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			continue
		}
		if m.sum == nil {
			m.sum, m.n = map[string]float64{}, map[string]int{}
		}
		m.sum[k] += x
		m.n[k]++
	}
}

// mean returns the per-layer means, nil when nothing was added. Values
// are added in seed order, so the sums are deterministic.
func (m *layerMeans) mean() map[string]float64 {
	if len(m.sum) == 0 {
		return nil
	}
	out := make(map[string]float64, len(m.sum))
	for k, s := range m.sum {
		out[k] = s / float64(m.n[k])
	}
	return out
}

// FeedbackParams returns the feedback parameters rule stores beyond bp
// (its fixed tensors B0) and the operator values it derives from W at
// every step, as the rule declares them (nn.RuleSpec.StoredFeedback and
// DerivedFeedback). It returns an error for an unknown rule.
func FeedbackParams(rule string) (stored, derived int64, err error) {
	s, err := nn.Spec(rule)
	if err != nil {
		return 0, 0, err
	}
	return s.StoredFeedback, s.DerivedFeedback, nil
}

// efficiencyRows builds the efficiency table, one row per configured rule
// in nn.RuleNames order: feedback parameters stored (FeedbackParams), the
// extra memory as float32 bytes of the stored and the per-step derived
// operators, and, from the final runs' measurements (the same numbers
// manifest.json holds: each run's mean images/s and backward share of step
// time over the epochs it trained, skipped runs reporting the execution
// that trained them), their means over seeds.
func efficiencyRows(env *studyReport) []figures.EfficiencyRow {
	type acc struct {
		ips, share    float64
		nIPS, nShares int
	}
	m := map[string]*acc{}
	for _, r := range env.Gathered.Runs {
		a := m[r.Rule]
		if a == nil {
			a = &acc{}
			m[r.Rule] = a
		}
		if r.ImagesPerSec > 0 {
			a.ips += r.ImagesPerSec
			a.nIPS++
		}
		if r.BackwardShare > 0 {
			a.share += r.BackwardShare
			a.nShares++
		}
	}
	var rows []figures.EfficiencyRow
	for _, rule := range env.Cfg.OrderedRules() {
		row := figures.EfficiencyRow{Rule: rule}
		if stored, derived, err := FeedbackParams(rule); err == nil {
			row.FeedbackParams, row.DerivedFeedback, row.ExtraBytes = stored, derived, 4*(stored+derived)
		}
		if a := m[rule]; a != nil {
			if a.nIPS > 0 {
				row.ImagesPerSec, row.Runs = a.ips/float64(a.nIPS), a.nIPS
			}
			if a.nShares > 0 {
				row.BackwardShare = a.share / float64(a.nShares)
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// analysisDifferences lists where the analyses depart from the paper, given
// the configuration (the training differences are in differences).
func analysisDifferences(c Config) []string {
	var d []string
	seeds := make([]string, len(c.Seeds))
	for i, s := range c.Seeds {
		seeds[i] = fmt.Sprint(s)
	}
	d = append(d, "Seeds "+strings.Join(seeds, ", ")+" drive initial weights, B0, batch order and augmentation; the paper's seed is unknown, so single runs differ from its numbers by run-to-run noise.")
	if c.Extract {
		if c.CKA.BatchSize != 256 || c.CKA.Passes != 5 {
			d = append(d, fmt.Sprintf("CKA minibatches of %d images, %d pass(es), not the paper's 256 images, 5 passes.", c.CKA.BatchSize, c.CKA.Passes))
		}
		d = append(d, fmt.Sprintf("The CKA shuffle of seed k's comparisons is seeded with %d + k, so every matrix is reproducible (the paper's shuffle was unseeded); subsets smaller than one CKA minibatch are reported as too small.", c.CKA.Seed))
		if len(c.Seeds) < 2 {
			d = append(d, "No noise ceiling (bp against bp of another seed): it needs two or more seeds.")
		}
	}
	d = append(d,
		"Channel importance and exemplars are computed for every seed; the exemplar figure shows each rule's lowest seed.",
		"The backward share of step time is wall clock measured in the training loop; with step metrics on it includes the alignment metrics computed inside the backward pass.",
	)
	return d
}
