package figures

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"math"
	"strconv"
	"strings"

	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/engine/nn"
)

// The page's view model: every cell pre-formatted as text, so the HTML and
// Markdown renderings show identical numbers.

type pageView struct {
	Title  string
	Preset string
	Table1 []table1View
	// Verdicts compares Table 1 and the CKA diagonals with the paper;
	// VerdictIntro says how.
	Verdicts     verdictSection
	VerdictIntro string
	// TestHead, when not empty, heads Table 1's column of accuracy on the
	// leading test records ("test, records 0–999 (ours)").
	TestHead    string
	Grid        []gridView
	CKAAll      []ckaPair
	CKAOther    []ckaView
	Efficiency  []effView
	Timing      []timingView
	TimingIntro string
	Alignment   []alignView
	Knowledge   []knowledgeView
	Signal      []signalView
	SignalNotes []string
	Config      []KV
	Figures     []figView
	Differences []string
}

type table1View struct {
	Rule, Name, HP, Seeds, Diverged string
	Val, Test, TestHead, Epoch      string
	PaperVal, PaperTest, PaperEpoch string
	DeltaVal, DeltaTest             string
}

// gridView is one grid-search point: Status is "chosen", "diverged at
// step N (last good epoch E)" or empty.
type gridView struct {
	Rule, Name, HP, Val, BestVal, Status string
}

type ckaView struct {
	Title string
	Rows  [][]string // header row first: "", conv1..fc3; then one per layer
}

type ckaPair struct {
	Ours, Paper ckaView
	HasPaper    bool
}

type effView struct {
	Name, Params, Derived, Bytes, IPS, Share string
}

type alignView struct {
	Name   string
	Layers []string // per layer: "first → final"
}

// knowledgeView is one line of the knowledge table: a rule (or the noise
// ceiling) with its rank, seeds, test accuracy and diagonal CKA.
type knowledgeView struct {
	Name, Rank, Seeds, Test, MeanCKA string
	Layers                           []string
}

// signalView is one rule's last-epoch learning signal: per layer
// "weight-gradient RMS / update RMS÷lr", flagged below Adam's ε.
type signalView struct {
	Name, Epoch string
	Layers      []string
}

type figView struct {
	Name, Caption string
	Src           template.URL
}

func pct(x float64) string {
	if math.IsNaN(x) {
		return "—"
	}
	return fmt.Sprintf("%.2f", 100*x)
}

func pctCI(m, h float64) string {
	if math.IsNaN(m) {
		return "not run"
	}
	if h == 0 {
		return pct(m)
	}
	return fmt.Sprintf("%.2f ± %.2f", 100*m, 100*h)
}

// thousands formats n with "," every three digits.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func bytesText(n int64) string {
	if n < 1<<10 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.2f MiB (%s B)", float64(n)/(1<<20), thousands(n))
}

func hpText(rule string, h results.Hyperparameters) string {
	if h.LR == 0 && h.Epochs == 0 {
		return ""
	}
	s := "lr " + fmtSci(h.LR)
	spec, err := nn.Spec(rule)
	// Weight decay is shown where it is non-zero or the rule's grid varies
	// it (bp); sigma for every rule that draws B0 (and unknown rules).
	if h.WeightDecay != 0 || (err == nil && len(spec.PaperGrid.WeightDecay) > 0) {
		s += ", wd " + fmtSci(h.WeightDecay)
	}
	if err != nil || spec.UsesSigma {
		s += ", σ " + strconv.FormatFloat(h.Sigma, 'g', -1, 64)
	}
	return s + fmt.Sprintf(", %d epochs, batch %d", h.Epochs, h.BatchSize)
}

func matrixView(title string, m [][]float64) ckaView {
	v := ckaView{Title: title}
	v.Rows = append(v.Rows, append([]string{""}, Layers...))
	for r, l := range Layers {
		row := []string{l}
		for c := range Layers {
			x := math.NaN()
			if m != nil {
				x = m[r][c]
			}
			if math.IsNaN(x) {
				row = append(row, "—")
			} else {
				row = append(row, fmt.Sprintf("%.2f", x))
			}
		}
		v.Rows = append(v.Rows, row)
	}
	return v
}

// buildView formats r into the page's view model, every cell as text; with
// withImages the figures are embedded as data URLs, otherwise they are
// referenced as figures/<name>.png.
func buildView(r *Report, withImages bool) (*pageView, error) {
	v := &pageView{Title: r.Title, Preset: r.Results.Preset, Config: r.Config, Differences: r.Differences}
	if v.Title == "" {
		v.Title = "fabeam report"
	}
	v.Table1 = table1Rows(r.Results)
	v.Verdicts, v.VerdictIntro = buildVerdicts(r.Results), verdictIntro
	if n := r.Results.TestHead; n > 0 {
		v.TestHead = fmt.Sprintf("test, records 0–%d (ours)", n-1)
	}
	groups, err := GroupCKA(r.Results.CKA)
	if err != nil {
		return nil, err
	}
	v.CKAAll, v.CKAOther = ckaViews(groups)
	v.Efficiency = efficiencyRows(r.Efficiency)
	v.Timing, v.TimingIntro = timingRows(r.Timing), timingIntro
	v.Alignment = alignmentRows(r.Results.Alignment)
	v.Grid = gridRows(r.Results)
	v.Knowledge = knowledgeRows(r.Results.Knowledge)
	v.Signal, v.SignalNotes = signalTableRows(r.Histories)
	v.Figures = figureViews(r.Figures, withImages)
	return v, nil
}

// table1Rows formats Table 1: per rule its hyper-parameters, seed and
// divergence counts, our accuracies with their intervals, the best epochs,
// and the paper's numbers with our difference from them ("—" where absent).
func table1Rows(res results.Results) []table1View {
	var rows []table1View
	for _, row := range Table1(res) {
		t := table1View{Rule: row.Rule, Name: RuleName(row.Rule), HP: hpText(row.Rule, row.Hyperparameters),
			Seeds: strconv.Itoa(row.Seeds), Diverged: strconv.Itoa(row.Diverged),
			Val: pctCI(row.BestVal, row.BestValHalf), Test: pctCI(row.Test, row.TestHalf), TestHead: pctCI(row.TestHead, row.TestHeadHalf),
			PaperVal: "—", PaperTest: "—", PaperEpoch: "—", DeltaVal: "—", DeltaTest: "—", Epoch: "—"}
		if len(row.BestEpochs) > 0 {
			es := make([]string, len(row.BestEpochs))
			for i, e := range row.BestEpochs {
				es[i] = strconv.Itoa(e)
			}
			t.Epoch = strings.Join(es, ", ")
		}
		if p := row.Paper; p != nil {
			t.PaperVal, t.PaperTest, t.PaperEpoch = pct(p.BestVal), pct(p.Test), strconv.Itoa(p.BestEpoch)
			if !math.IsNaN(row.BestVal) {
				t.DeltaVal = fmt.Sprintf("%+.2f", 100*(row.BestVal-p.BestVal))
				t.DeltaTest = fmt.Sprintf("%+.2f", 100*(row.Test-p.Test))
			}
		}
		rows = append(rows, t)
	}
	return rows
}

// ckaViews formats the CKA groups as titled matrices. A rule's all-images
// matrix goes into all, paired with the paper's matrix when the paper
// published one against BP; every other subset, and the noise ceiling,
// goes into other, titled with the paper's n for that subset where known.
func ckaViews(groups []CKAGroup) (all []ckaPair, other []ckaView) {
	for _, g := range groups {
		title := fmt.Sprintf("%s vs %s — %s (%s)", RuleName(g.Rule), RuleName(g.Reference), SubsetName(g.Subset), g.NLabel())
		if g.NoiseCeiling() {
			title = fmt.Sprintf("Noise ceiling: BP vs BP of another seed — %s (%s)", SubsetName(g.Subset), g.NLabel())
		}
		if g.TooSmall > 0 {
			title += fmt.Sprintf("; %d seed(s) too small for CKA", g.TooSmall)
		}
		ours := matrixView(title, g.Matrix)
		if g.Subset == "all" && !g.NoiseCeiling() {
			all = append(all, paperPair(g, ours))
			continue
		}
		if n, ok := PaperSubsetN[g.Subset][g.Rule]; ok && !g.NoiseCeiling() {
			ours.Title += fmt.Sprintf("; paper n = %d", n)
		}
		other = append(other, ours)
	}
	return all, other
}

// paperPair pairs our all-images matrix for g with the paper's matrix for
// the same rule, when the paper published one and g's reference is BP.
func paperPair(g CKAGroup, ours ckaView) ckaPair {
	pair := ckaPair{Ours: ours}
	if pm, ok := PaperCKA[g.Rule]; ok && g.Reference == nn.Reference {
		m := make([][]float64, len(pm))
		for i := range pm {
			m[i] = pm[i][:]
		}
		pair.Paper = matrixView(fmt.Sprintf("Paper: %s vs BP — all images (n = 15000)", RuleName(g.Rule)), m)
		pair.HasPaper = true
	}
	return pair
}

// efficiencyRows formats one efficiency row per rule run: feedback storage,
// derived values and extra memory, and the measured images/s and backward
// share ("not measured" and "—" when the run measured no throughput).
func efficiencyRows(effs []EfficiencyRow) []effView {
	var rows []effView
	for _, e := range effs {
		ev := effView{Name: RuleName(e.Rule), Params: thousands(e.FeedbackParams), Derived: thousands(e.DerivedFeedback),
			Bytes: bytesText(e.ExtraBytes), IPS: "not measured", Share: "—"}
		if e.ImagesPerSec > 0 {
			ev.IPS = fmt.Sprintf("%.0f", e.ImagesPerSec)
			if e.Runs > 1 {
				ev.IPS += fmt.Sprintf(" (mean of %d runs)", e.Runs)
			}
			ev.Share = fmt.Sprintf("%.1f%%", 100*e.BackwardShare)
		}
		rows = append(rows, ev)
	}
	return rows
}

// alignmentRows formats, per rule in name order, the local alignment angle
// of every layer after conv1 as "first → final" degrees.
func alignmentRows(alignment map[string]results.AlignmentSummary) []alignView {
	var rows []alignView
	for _, rule := range sortedKeys(alignment) {
		a := alignment[rule]
		av := alignView{Name: RuleName(rule)}
		for _, l := range Layers[1:] {
			av.Layers = append(av.Layers, firstFinal(a.LocalAngleFirst, a.LocalAngleFinal, l, "%.1f°"))
		}
		rows = append(rows, av)
	}
	return rows
}

// figureViews lists the figures with their captions, each image either
// embedded as a base64 data URL (withImages) or referenced as
// figures/<name>.png.
func figureViews(figs []Figure, withImages bool) []figView {
	var views []figView
	for _, f := range figs {
		fv := figView{Name: f.Name, Caption: f.Caption, Src: template.URL("figures/" + f.Name + ".png")}
		if withImages {
			// The data URL is built here from our own PNG bytes, so it is
			// safe to mark as a URL for html/template.
			fv.Src = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(f.PNG))
		}
		views = append(views, fv)
	}
	return views
}

// gridRows lists every grid point in results order. A point is "chosen"
// when its learning rate, weight decay and sigma are its rule's final
// hyper-parameters; a diverged point says at which step and after which
// completed epoch (its validation accuracy, from the epochs before, is
// shown as "—" when there were none).
func gridRows(res results.Results) []gridView {
	var rows []gridView
	for _, g := range res.Grid {
		gv := gridView{Rule: g.Rule, Name: RuleName(g.Rule), HP: hpText(g.Rule, g.Point),
			Val: pct(g.ValAcc), BestVal: pct(g.BestValAcc)}
		fin, ok := res.Rules[g.Rule]
		switch {
		case g.Diverged:
			gv.Status = fmt.Sprintf("diverged at step %d (last good epoch %d)", g.DivergedStep, g.LastGoodEpoch)
			if g.LastGoodEpoch == 0 {
				gv.Val, gv.BestVal = "—", "—"
			}
		case ok && fin.Hyperparameters.LR == g.Point.LR && fin.Hyperparameters.WeightDecay == g.Point.WeightDecay &&
			fin.Hyperparameters.Sigma == g.Point.Sigma:
			gv.Status = "chosen"
		}
		rows = append(rows, gv)
	}
	return rows
}

func firstFinal(first, final map[string]float64, l, f string) string {
	a, okA := first[l]
	b, okB := final[l]
	switch {
	case okA && okB:
		return fmt.Sprintf(f+" → "+f, a, b)
	case okB:
		return fmt.Sprintf(f, b)
	}
	return "—"
}

// meanCIText formats a MeanCI with f ("%.2f"), scaled by k: the bare mean
// with one value, "mean ± half" with more, "—" with none.
func meanCIText(m results.MeanCI, f string, k float64) string {
	switch {
	case m.N == 0 || math.IsNaN(m.Mean):
		return "—"
	case m.N == 1:
		return fmt.Sprintf(f, k*m.Mean)
	}
	return fmt.Sprintf(f+" ± "+f, k*m.Mean, k*m.CI95)
}

// knowledgeRows lists results.knowledge's rules in order, bp's CKA cells
// holding the noise ceiling when there is one.
func knowledgeRows(k *results.Knowledge) []knowledgeView {
	if k == nil {
		return nil
	}
	var rows []knowledgeView
	for _, r := range k.Rules {
		kv := knowledgeView{Name: RuleName(r.Rule), Rank: strconv.Itoa(r.Knowledge), Seeds: strconv.Itoa(r.TestAcc.N),
			Test: meanCIText(r.TestAcc, "%.2f", 100), MeanCKA: "—"}
		d := r.CKA
		if r.Rule == nn.Reference && k.NoiseCeiling != nil {
			d = k.NoiseCeiling
			kv.Name += " (noise ceiling: vs BP of another seed)"
		}
		for _, l := range Layers {
			cell := "—"
			if d != nil {
				cell = meanCIText(d.Layers[l], "%.2f", 1)
			}
			kv.Layers = append(kv.Layers, cell)
		}
		if d != nil {
			kv.MeanCKA = meanCIText(d.Mean, "%.2f", 1)
		}
		rows = append(rows, kv)
	}
	return rows
}

// signalTableRows lists SignalTable's rows and one note per layer whose
// weight-gradient RMS fell below Adam's ε.
func signalTableRows(h map[string][]results.History) ([]signalView, []string) {
	var rows []signalView
	var notes []string
	for _, r := range SignalTable(h) {
		sv := signalView{Name: RuleName(r.Rule), Epoch: strconv.Itoa(r.Epoch)}
		for _, l := range Layers {
			g, ok := r.GradRMS[l]
			if !ok {
				sv.Layers = append(sv.Layers, "—")
				continue
			}
			cell := fmt.Sprintf("%.2e / %.3g", g, r.UpdateRMS[l])
			if g < AdamEps {
				cell += " (< ε)"
			}
			sv.Layers = append(sv.Layers, cell)
			if e, below := r.BelowEps[l]; below {
				notes = append(notes, fmt.Sprintf("%s, %s: the weight-gradient RMS is below Adam's ε = 1e-8 from epoch %d on.", RuleName(r.Rule), l, e))
			}
		}
		rows = append(rows, sv)
	}
	return rows, notes
}

var page = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; max-width: 1200px; margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #bbb; }
table { border-collapse: collapse; margin: .8em 0; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #ccc; padding: .25em .6em; text-align: right; }
th { background: #f0f3f7; }
td.l, th.l { text-align: left; }
caption { caption-side: top; text-align: left; font-weight: bold; padding: .3em 0; }
.pair { display: flex; flex-wrap: wrap; gap: 2em; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #ddd; }
figcaption { font-size: .92em; color: #444; margin-top: .3em; }
nav ul { columns: 2; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<p>Reproduction of <em>Biological Plausibility and Representational Alignment of Feedback Alignment in Convolutional Networks</em>{{if .Preset}}; preset <code>{{.Preset}}</code>{{end}}.</p>
<nav><ul>
<li><a href="#table1">Table 1: accuracy</a></li>
{{- if .Verdicts.Rows}}
<li><a href="#verdicts">Against the paper</a></li>{{end}}
{{- if .Grid}}
<li><a href="#grid">Grid search</a></li>{{end}}
<li><a href="#figures">Figures</a></li>
<li><a href="#cka">CKA matrices</a></li>
<li><a href="#efficiency">Efficiency</a></li>
{{- if .Alignment}}
<li><a href="#alignment">Alignment summary</a></li>{{end}}
{{- if .Knowledge}}
<li><a href="#knowledge">Knowledge of W against accuracy and CKA</a></li>{{end}}
{{- if .Signal}}
<li><a href="#signal">Learning signal and Adam's ε</a></li>{{end}}
{{- if .Timing}}
<li><a href="#timing">Where the time went</a></li>{{end}}
<li><a href="#config">Configuration</a></li>
<li><a href="#differences">Differences from the paper</a></li>
</ul></nav>

<section id="table1">
<h2>Table 1: best validation and test accuracy</h2>
<p>Accuracy in percent. Ours: mean ± 95% confidence half-width (Student t) over seeds, the bare value with one seed; test accuracy is that of the best-validation checkpoint. Δ is ours minus the paper's.</p>
<table id="table1-table">
<thead><tr><th class="l">rule</th><th class="l">hyper-parameters</th><th>seeds</th><th>diverged</th><th>best val (ours)</th><th>best val (paper)</th><th>Δ val</th><th>test (ours)</th>{{if .TestHead}}<th>{{.TestHead}}</th>{{end}}<th>test (paper)</th><th>Δ test</th><th>best epoch (ours)</th><th>best epoch (paper)</th></tr></thead>
<tbody>
{{- range .Table1}}
<tr data-rule="{{.Rule}}"><td class="l">{{.Name}}</td><td class="l">{{.HP}}</td><td>{{.Seeds}}</td><td>{{.Diverged}}</td><td>{{.Val}}</td><td>{{.PaperVal}}</td><td>{{.DeltaVal}}</td><td>{{.Test}}</td>{{if $.TestHead}}<td>{{.TestHead}}</td>{{end}}<td>{{.PaperTest}}</td><td>{{.DeltaTest}}</td><td>{{.Epoch}}</td><td>{{.PaperEpoch}}</td></tr>
{{- end}}
</tbody>
</table>
</section>
{{- if .Verdicts.Rows}}

<section id="verdicts">
<h2>Against the paper: where the numbers disagree</h2>
<p>{{.VerdictIntro}}</p>
<p>{{.Verdicts.Head}}</p>
{{- if .Verdicts.Lines}}
<ul>
{{- range .Verdicts.Lines}}
<li>{{.}}</li>
{{- end}}
</ul>
{{- end}}
<table id="verdicts-table">
<thead><tr><th class="l">rule</th><th class="l">quantity</th><th>ours (mean)</th><th>95% of single runs of ours</th><th>paper</th><th class="l">verdict</th></tr></thead>
<tbody>
{{- range .Verdicts.Rows}}
<tr data-rule="{{.Rule}}"><td class="l">{{.Name}}</td><td class="l">{{.Quantity}}</td><td>{{.Ours}}</td><td>{{.Range}}</td><td>{{.Paper}}</td><td class="l">{{.Outcome}}</td></tr>
{{- end}}
</tbody>
</table>
</section>
{{- end}}
{{- if .Grid}}

<section id="grid">
<h2>Grid search</h2>
<p>Every hyper-parameter point, validation accuracy in percent after its last epoch (the score the choice ranks by, as the study's authors scored points) and the best over its epochs. A diverged point (loss NaN or Inf) never wins; it shows the step at which it diverged and the last epoch it completed.</p>
<table id="grid-table">
<thead><tr><th class="l">rule</th><th class="l">hyper-parameters</th><th>val (last epoch)</th><th>best val</th><th class="l">outcome</th></tr></thead>
<tbody>
{{- range .Grid}}
<tr data-rule="{{.Rule}}"><td class="l">{{.Name}}</td><td class="l">{{.HP}}</td><td>{{.Val}}</td><td>{{.BestVal}}</td><td class="l">{{.Status}}</td></tr>
{{- end}}
</tbody>
</table>
</section>
{{- end}}

<section id="figures">
<h2>Figures</h2>
{{- range .Figures}}
<figure id="fig-{{.Name}}">
<img src="{{.Src}}" alt="{{.Caption}}">
<figcaption>{{.Caption}}</figcaption>
</figure>
{{- else}}
<p>No figures were rendered.</p>
{{- end}}
</section>

<section id="cka">
<h2>CKA matrices</h2>
<p>Rows: the rule model's layers; columns: the BP model's layers. Subset “all images”: ours beside the paper's (Fig. 8). Ours is the mean over seeds.</p>
{{- range .CKAAll}}
<div class="pair">
{{template "matrix" .Ours}}
{{- if .HasPaper}}
{{template "matrix" .Paper}}
{{- end}}
</div>
{{- end}}
{{- range .CKAOther}}
{{template "matrix" .}}
{{- end}}
{{- if not (or .CKAAll .CKAOther)}}
<p>No CKA results in this run.</p>
{{- end}}
</section>

<section id="efficiency">
<h2>Efficiency</h2>
<p>One row per rule run. Feedback parameters stored (fixed tensors, saved in checkpoints) and operator values derived from W at every step, and the memory both take (float32), beyond what BP needs. Training images/s and the backward share of step time are wall clock measured in this run's final runs (the numbers manifest.json holds; results.json holds no wall clock).</p>
<table id="efficiency-table">
<thead><tr><th class="l">rule</th><th>feedback parameters stored</th><th>operator values derived per step</th><th>extra memory</th><th>training images/s</th><th>backward share of step time</th></tr></thead>
<tbody>
{{- range .Efficiency}}
<tr><td class="l">{{.Name}}</td><td>{{.Params}}</td><td>{{.Derived}}</td><td>{{.Bytes}}</td><td>{{.IPS}}</td><td>{{.Share}}</td></tr>
{{- end}}
</tbody>
</table>
</section>
{{- if .Alignment}}

<section id="alignment">
<h2>Alignment summary</h2>
<p>Local alignment angle, mean over the first epoch’s steps → mean over the last epoch’s steps (mean over seeds).</p>
<table id="alignment-table">
<thead><tr><th class="l">rule</th><th>conv2</th><th>fc1</th><th>fc2</th><th>fc3</th></tr></thead>
<tbody>
{{- range .Alignment}}
<tr><td class="l">{{.Name}}</td>{{range .Layers}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
</section>
{{- end}}

{{- if .Knowledge}}
<section id="knowledge">
<h2>Knowledge of W against accuracy and CKA</h2>
<p>Rules ordered by how much their feedback knows about the forward weights W (rank 0: W itself; larger: less). Test accuracy in percent; CKA of each layer with the same layer of BP on all images, and the mean of the five; mean ± 95% confidence half-width (Student t) over seeds, the bare value with one seed. BP's CKA cells hold the noise ceiling (BP against BP of another seed) when there are two or more seeds.</p>
<table id="knowledge-table">
<thead><tr><th class="l">rule</th><th>rank</th><th>seeds</th><th>test accuracy</th><th>mean diagonal CKA</th><th>conv1</th><th>conv2</th><th>fc1</th><th>fc2</th><th>fc3</th></tr></thead>
<tbody>
{{- range .Knowledge}}
<tr><td class="l">{{.Name}}</td><td>{{.Rank}}</td><td>{{.Seeds}}</td><td>{{.Test}}</td><td>{{.MeanCKA}}</td>{{range .Layers}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
</section>
{{- end}}
{{- if .Signal}}

<section id="signal">
<h2>Learning signal and Adam's ε</h2>
<p>Last epoch of the final runs, mean over seeds, per layer: RMS of the weight gradient / RMS of Adam's update divided by the learning rate (history.json <code>weight_grad_rms</code>, <code>update_rms</code>). Where a gradient's RMS falls below Adam's ε = 1e-8, √v̂ is about ε or smaller and the update stops tracking the gradient's scale (marked “&lt; ε”).</p>
<table id="signal-table">
<thead><tr><th class="l">rule</th><th>epoch</th><th>conv1</th><th>conv2</th><th>fc1</th><th>fc2</th><th>fc3</th></tr></thead>
<tbody>
{{- range .Signal}}
<tr><td class="l">{{.Name}}</td><td>{{.Epoch}}</td>{{range .Layers}}<td>{{.}}</td>{{end}}</tr>
{{- end}}
</tbody>
</table>
<ul>
{{- range .SignalNotes}}
<li>{{.}}</li>
{{- else}}
<li>No layer's weight-gradient RMS fell below ε in any epoch.</li>
{{- end}}
</ul>
</section>
{{- end}}

{{- if .Timing}}
<section id="timing">
<h2>Where the time went</h2>
<p>{{.TimingIntro}}</p>
<table id="timing-table">
<thead><tr><th class="l">stage</th><th class="l">rule</th><th>executions</th><th>wall clock</th><th>each</th></tr></thead>
<tbody>
{{- range .Timing}}
<tr><td class="l">{{.Stage}}</td><td class="l">{{.Name}}</td><td>{{.Count}}</td><td>{{.Total}}</td><td>{{.Each}}</td></tr>
{{- end}}
</tbody>
</table>
</section>
{{- end}}

<section id="config">
<h2>Configuration</h2>
<table id="config-table">
<thead><tr><th class="l">setting</th><th class="l">value</th></tr></thead>
<tbody>
{{- range .Config}}
<tr><td class="l"><code>{{.Key}}</code></td><td class="l"><code>{{.Value}}</code></td></tr>
{{- end}}
</tbody>
</table>
</section>

<section id="differences">
<h2>Where this run differs from the paper</h2>
<ul>
{{- range .Differences}}
<li>{{.}}</li>
{{- else}}
<li>No differences recorded.</li>
{{- end}}
</ul>
</section>
</body>
</html>
{{define "matrix"}}<table class="cka">
<caption>{{.Title}}</caption>
{{- range $i, $row := .Rows}}
<tr>{{range $j, $c := $row}}{{if or (eq $i 0) (eq $j 0)}}<th>{{$c}}</th>{{else}}<td>{{$c}}</td>{{end}}{{end}}</tr>
{{- end}}
</table>{{end}}`))

// HTML renders r as one self-contained HTML page: every figure embedded as
// a data:image/png;base64 URL, no external style sheets, scripts or fonts.
// Every string from outside (title, configuration, differences, captions,
// rule names) is escaped by html/template.
func HTML(r *Report) ([]byte, error) {
	v, err := buildView(r, true)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := page.Execute(&buf, v); err != nil {
		return nil, fmt.Errorf("figures: HTML: %w", err)
	}
	return buf.Bytes(), nil
}
