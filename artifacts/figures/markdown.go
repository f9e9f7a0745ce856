package figures

import (
	"bytes"
	"fmt"
	"strings"
)

// mdEscaper makes a string safe inside a Markdown table cell: pipes and
// Markdown punctuation are backslash-escaped, newlines become spaces, and
// <, >, & become HTML entities so that raw HTML is never passed through.
var mdEscaper = strings.NewReplacer(
	"&", "&amp;", "<", "&lt;", ">", "&gt;",
	"|", `\|`, "\\", `\\`, "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`,
	"\r\n", " ", "\n", " ", "\r", " ",
)

func md(s string) string { return mdEscaper.Replace(s) }

func mdTable(b *bytes.Buffer, header []string, rows [][]string) {
	esc := func(cells []string) string {
		out := make([]string, len(cells))
		for i, c := range cells {
			out[i] = md(c)
		}
		return "| " + strings.Join(out, " | ") + " |\n"
	}
	b.WriteString(esc(header))
	seps := make([]string, len(header))
	for i := range seps {
		seps[i] = "---"
	}
	b.WriteString("| " + strings.Join(seps, " | ") + " |\n")
	for _, r := range rows {
		b.WriteString(esc(r))
	}
	b.WriteString("\n")
}

func mdMatrix(b *bytes.Buffer, m ckaView) {
	fmt.Fprintf(b, "**%s**\n\n", md(m.Title))
	mdTable(b, m.Rows[0], m.Rows[1:])
}

// Markdown renders r as report.md: the same tables as HTML, with figures
// referenced as figures/<name>.png (relative to the report). Every string
// from outside is escaped for Markdown, and <, >, & become entities so that
// no raw HTML reaches a renderer.
func Markdown(r *Report) ([]byte, error) {
	v, err := buildView(r, false)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# %s\n\n", md(v.Title))
	if v.Preset != "" {
		fmt.Fprintf(&b, "Preset: %s\n\n", md(v.Preset))
	}
	for _, section := range []func(*bytes.Buffer, *pageView){
		mdTable1, mdVerdicts, mdGrid, mdFigures, mdCKA, mdEfficiency, mdAlignment,
		mdKnowledge, mdSignal, mdTiming, mdConfig, mdDifferences,
	} {
		section(&b, v)
	}
	return b.Bytes(), nil
}

// mdTable1 writes Table 1, best validation and test accuracy per rule
// beside the paper's, with the leading-records test column when the view
// has one.
func mdTable1(b *bytes.Buffer, v *pageView) {
	b.WriteString("## Table 1: best validation and test accuracy\n\n")
	b.WriteString("Accuracy in percent. Ours: mean ± 95% confidence half-width (Student t) over seeds, the bare value with one seed. Δ is ours minus the paper's.\n\n")
	var rows [][]string
	for _, t := range v.Table1 {
		row := []string{t.Name, t.HP, t.Seeds, t.Diverged, t.Val, t.PaperVal, t.DeltaVal, t.Test}
		if v.TestHead != "" {
			row = append(row, t.TestHead)
		}
		rows = append(rows, append(row, t.PaperTest, t.DeltaTest, t.Epoch, t.PaperEpoch))
	}
	head := []string{"rule", "hyper-parameters", "seeds", "diverged", "best val (ours)", "best val (paper)", "Δ val", "test (ours)"}
	if v.TestHead != "" {
		head = append(head, v.TestHead)
	}
	mdTable(b, append(head, "test (paper)", "Δ test", "best epoch (ours)", "best epoch (paper)"), rows)
}

// mdVerdicts writes the comparison with the paper: where ours and the
// paper's numbers disagree beyond the spread of our seeds, in words, then
// every comparison as a table; it writes nothing when there is none.
func mdVerdicts(b *bytes.Buffer, v *pageView) {
	if len(v.Verdicts.Rows) == 0 {
		return
	}
	mdVerdictLines(b, v.Verdicts)
	b.WriteString("\n")
	var rows [][]string
	for _, r := range v.Verdicts.Rows {
		rows = append(rows, []string{r.Name, r.Quantity, r.Ours, r.Range, r.Paper, r.Outcome})
	}
	mdTable(b, []string{"rule", "quantity", "ours (mean)", "95% of single runs of ours", "paper", "verdict"}, rows)
}

// mdGrid writes the grid-search table, one row per hyper-parameter point;
// it writes nothing when the study ran no grid.
func mdGrid(b *bytes.Buffer, v *pageView) {
	if len(v.Grid) == 0 {
		return
	}
	b.WriteString("## Grid search\n\n")
	b.WriteString("Every hyper-parameter point, validation accuracy in percent after its last epoch (the score the choice ranks by, as the study's authors scored points) and the best over its epochs. A diverged point (loss NaN or Inf) never wins; it shows the step at which it diverged and the last epoch it completed.\n\n")
	var rows [][]string
	for _, g := range v.Grid {
		rows = append(rows, []string{g.Name, g.HP, g.Val, g.BestVal, g.Status})
	}
	mdTable(b, []string{"rule", "hyper-parameters", "val (last epoch)", "best val", "outcome"}, rows)
}

// mdFigures writes every figure as an image reference with its caption.
func mdFigures(b *bytes.Buffer, v *pageView) {
	b.WriteString("## Figures\n\n")
	for _, f := range v.Figures {
		fmt.Fprintf(b, "![%s](%s)\n\n*%s*\n\n", md(f.Name), string(f.Src), md(f.Caption))
	}
}

// mdCKA writes the CKA matrices: each all-images matrix followed by the
// paper's where there is one, then the other subsets and noise ceilings.
func mdCKA(b *bytes.Buffer, v *pageView) {
	b.WriteString("## CKA matrices\n\nRows: the rule model's layers; columns: the BP model's layers. Ours is the mean over seeds.\n\n")
	for _, p := range v.CKAAll {
		mdMatrix(b, p.Ours)
		if p.HasPaper {
			mdMatrix(b, p.Paper)
		}
	}
	for _, m := range v.CKAOther {
		mdMatrix(b, m)
	}
}

// mdEfficiency writes the efficiency table: feedback storage, derived
// operator values and extra memory per rule, with this run's measured
// throughput.
func mdEfficiency(b *bytes.Buffer, v *pageView) {
	b.WriteString("## Efficiency\n\n")
	b.WriteString("One row per rule run. Feedback parameters stored and operator values derived from W at every step, and the memory both take (float32), beyond what BP needs. Training images/s and the backward share of step time are wall clock measured in this run's final runs (the numbers manifest.json holds; results.json holds no wall clock).\n\n")
	var rows [][]string
	for _, e := range v.Efficiency {
		rows = append(rows, []string{e.Name, e.Params, e.Derived, e.Bytes, e.IPS, e.Share})
	}
	mdTable(b, []string{"rule", "feedback parameters stored", "operator values derived per step", "extra memory", "training images/s", "backward share of step time"}, rows)
}

// mdAlignment writes the local-alignment summary (first → last epoch per
// layer); it writes nothing when no rule recorded alignment.
func mdAlignment(b *bytes.Buffer, v *pageView) {
	if len(v.Alignment) == 0 {
		return
	}
	b.WriteString("## Alignment summary\n\nLocal alignment angle, first epoch → last epoch (mean over seeds).\n\n")
	var rows [][]string
	for _, a := range v.Alignment {
		rows = append(rows, append([]string{a.Name}, a.Layers...))
	}
	mdTable(b, []string{"rule", "conv2", "fc1", "fc2", "fc3"}, rows)
}

// mdKnowledge writes the knowledge-of-W table (rank, test accuracy and
// diagonal CKA per rule); it writes nothing when the results hold none.
func mdKnowledge(b *bytes.Buffer, v *pageView) {
	if len(v.Knowledge) == 0 {
		return
	}
	b.WriteString("## Knowledge of W against accuracy and CKA\n\nRules ordered by how much their feedback knows about the forward weights W (rank 0: W itself; larger: less). Test accuracy in percent; CKA of each layer with the same layer of BP on all images, and the mean of the five; mean ± 95% half-width over seeds. BP's CKA cells hold the noise ceiling (BP against BP of another seed) when there are two or more seeds.\n\n")
	var rows [][]string
	for _, k := range v.Knowledge {
		rows = append(rows, append([]string{k.Name, k.Rank, k.Seeds, k.Test, k.MeanCKA}, k.Layers...))
	}
	mdTable(b, []string{"rule", "rank", "seeds", "test accuracy", "mean diagonal CKA", "conv1", "conv2", "fc1", "fc2", "fc3"}, rows)
}

// mdSignal writes the last-epoch learning-signal table and a list of the
// layers whose weight gradient fell below Adam's ε; it writes nothing when
// no history recorded the signal.
func mdSignal(b *bytes.Buffer, v *pageView) {
	if len(v.Signal) == 0 {
		return
	}
	b.WriteString("## Learning signal and Adam's ε\n\nLast epoch of the final runs, mean over seeds, per layer: RMS of the weight gradient / RMS of Adam's update divided by the learning rate. Where a gradient's RMS falls below Adam's ε = 1e-8 the update stops tracking the gradient's scale (marked \"< ε\").\n\n")
	var rows [][]string
	for _, sg := range v.Signal {
		rows = append(rows, append([]string{sg.Name, sg.Epoch}, sg.Layers...))
	}
	mdTable(b, []string{"rule", "epoch", "conv1", "conv2", "fc1", "fc2", "fc3"}, rows)
	if len(v.SignalNotes) == 0 {
		b.WriteString("- No layer's weight-gradient RMS fell below ε in any epoch.\n")
	}
	for _, n := range v.SignalNotes {
		fmt.Fprintf(b, "- %s\n", md(n))
	}
	b.WriteString("\n")
}

// mdConfig writes the resolved configuration as a setting/value table.
func mdConfig(b *bytes.Buffer, v *pageView) {
	b.WriteString("## Configuration\n\n")
	var rows [][]string
	for _, kv := range v.Config {
		rows = append(rows, []string{kv.Key, kv.Value})
	}
	mdTable(b, []string{"setting", "value"}, rows)
}

// mdDifferences writes the list of ways this run differs from the paper,
// or a line saying none were recorded.
func mdDifferences(b *bytes.Buffer, v *pageView) {
	b.WriteString("## Where this run differs from the paper\n\n")
	if len(v.Differences) == 0 {
		b.WriteString("- No differences recorded.\n")
	}
	for _, d := range v.Differences {
		fmt.Fprintf(b, "- %s\n", md(d))
	}
}
