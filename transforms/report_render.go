package transforms

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/fabeam/fabeam/artifacts/figures"
	"github.com/fabeam/fabeam/artifacts/store"
	"github.com/fabeam/fabeam/engine/nn"
)

// writeReport renders figures/*.png, report.html and report.md through
// artifacts/figures.
func writeReport(ctx context.Context, env *studyReport) error {
	st := env.Store
	rep := &figures.Report{
		Title:       "fabeam: feedback alignment in a small CNN on CIFAR-10 (preset " + env.Cfg.Preset + ")",
		Results:     *env.Results,
		Histories:   env.Histories,
		Config:      configKV(env.Cfg),
		Efficiency:  efficiencyRows(env),
		Timing:      timingRows(ctx, env),
		Differences: append(differences(env.Cfg), env.Differences...),
	}
	if err := figures.BuildFigures(rep, env.Exemplars); err != nil {
		return fmt.Errorf("report: figures: %w", err)
	}
	for _, f := range rep.Figures {
		if err := st.Put(ctx, store.Join(FiguresDir, f.Name+".png"), f.PNG); err != nil {
			return fmt.Errorf("report: writing figure %s: %w", f.Name, err)
		}
	}
	html, err := figures.HTML(rep)
	if err != nil {
		return fmt.Errorf("report: HTML: %w", err)
	}
	md, err := figures.Markdown(rep)
	if err != nil {
		return fmt.Errorf("report: Markdown: %w", err)
	}
	if err := st.Put(ctx, ReportHTML, html); err != nil {
		return err
	}
	return st.Put(ctx, ReportMD, md)
}

// timingRows sums the wall clock of the study's stages per stage and rule
// for the report's timing table: the dataset, then the grid points, the
// final runs, the extractions, the CKA comparisons and the saliency runs,
// each in rule order. A stage completed by an earlier start reports the
// time it took then (its record's). The dataset row is left out when its
// record cannot be read; the manifest step reports that error.
func timingRows(ctx context.Context, env *studyReport) []figures.TimingRow {
	var rows []figures.TimingRow
	var dm DatasetMeta
	if _, err := readRecord(ctx, env.Store, store.Join(DatasetKey(env.Cfg), DatasetMetaFile), &dm); err == nil {
		rows = append(rows, figures.TimingRow{Stage: "dataset", Count: 1, Seconds: dm.WallSeconds})
	}
	type key struct{ stage, rule string }
	sums := map[key]*figures.TimingRow{}
	add := func(stage, rule string, skipped bool, seconds float64) {
		k := key{stage, rule}
		r := sums[k]
		if r == nil {
			r = &figures.TimingRow{Stage: stage, Rule: rule}
			sums[k] = r
		}
		r.Count++
		r.Seconds += seconds
		if skipped {
			r.Skipped++
		}
	}
	g := env.Gathered
	for _, r := range g.Grid {
		add("grid", r.Rule, r.Skipped, r.WallSeconds)
	}
	for _, r := range g.Runs {
		add("train", r.Rule, r.Skipped, r.WallSeconds)
	}
	for _, e := range g.Extracts {
		add("extract", e.Rule, e.Skipped, e.WallSeconds)
	}
	for _, c := range g.Comparisons {
		add("cka", c.Rule, c.Skipped, c.WallSeconds)
	}
	for _, s := range g.Saliency {
		add("saliency", s.Rule, s.Skipped, s.WallSeconds)
	}
	for _, stage := range []string{"grid", "train", "extract", "cka", "saliency"} {
		for _, rule := range nn.RuleNames() {
			if r := sums[key{stage, rule}]; r != nil {
				rows = append(rows, *r)
			}
		}
	}
	return rows
}

// configKV flattens the configuration's JSON into sorted key/value rows.
func configKV(c Config) []figures.KV {
	b, _ := json.Marshal(c)
	var m map[string]json.RawMessage
	_ = json.Unmarshal(b, &m)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	kv := make([]figures.KV, 0, len(keys))
	for _, k := range keys {
		kv = append(kv, figures.KV{Key: k, Value: string(m[k])})
	}
	return kv
}

// differences lists where this configuration departs from the paper.
func differences(c Config) []string {
	var d []string
	if c.Synthetic {
		d = append(d, "Synthetic images (cifar.Synthetic), not CIFAR-10: this run checks the machinery, its accuracies mean nothing.")
	}
	if c.Epochs != 50 {
		d = append(d, "Final runs train "+strconv.Itoa(c.Epochs)+" epochs, not the paper's 50.")
	}
	if !c.Grid {
		d = append(d, "No hyper-parameter search: the paper's chosen values are used directly.")
	} else if c.GridEpochs != 3 {
		d = append(d, "Grid points train "+strconv.Itoa(c.GridEpochs)+" epochs, not the paper's 3.")
	}
	if len(c.Seeds) > 1 {
		d = append(d, "Several seeds per rule (the paper ran one): tables show the mean and a 95% interval.")
	}
	for _, r := range c.OrderedRules() {
		if s, err := nn.Spec(r); err == nil && s.PaperDeparture != "" {
			d = append(d, s.PaperDeparture)
		}
	}
	d = append(d,
		"Random streams are seeded per (seed, purpose), so B0, batch order and the CKA shuffle are reproducible, unlike the authors' device RNG and unseeded shuffle.")
	return d
}
