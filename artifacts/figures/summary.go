package figures

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/engine/nn"
)

// Summary renders the few tables a reader of the project's README needs
// from a finished study's results alone: Table 1 beside the paper's (as
// report.md has it) and, per rule, the diagonal of its CKA matrix against
// BP on all images beside the paper's diagonal, with the BP-against-BP
// noise ceiling as the last row; then, in words, where ours and the
// paper's numbers disagree beyond the spread of our seeds. It fails when
// res holds no knowledge section (a study without CKA), since the second
// table would be empty.
func Summary(res results.Results) ([]byte, error) {
	if res.Knowledge == nil {
		return nil, errors.New("figures: results hold no knowledge section (no CKA), so there is no CKA diagonal to summarise")
	}
	v := &pageView{Table1: table1Rows(res)}
	if n := res.TestHead; n > 0 {
		v.TestHead = fmt.Sprintf("test, records 0–%d (ours)", n-1)
	}
	var b bytes.Buffer
	mdTable1(&b, v)
	mdDiagonals(&b, res.Knowledge)
	mdVerdictLines(&b, buildVerdicts(res))
	return b.Bytes(), nil
}

// mdDiagonals writes each rule's diagonal CKA against BP (mean ± 95%
// half-width over seeds) beside the paper's diagonal, then the noise
// ceiling.
func mdDiagonals(b *bytes.Buffer, k *results.Knowledge) {
	fmt.Fprintf(b, "## CKA with BP, layer by layer (subset %q)\n\n", k.Subset)
	b.WriteString("CKA of each layer of the rule's model with the same layer of the BP model of the same seed: ours (mean ± 95% half-width over seeds) / the paper's (one run, two decimals). The last row is the noise ceiling: BP against BP of another seed.\n\n")
	var rows [][]string
	for _, r := range k.Rules {
		if r.Rule == nn.Reference || r.CKA == nil {
			continue
		}
		paper, hasPaper := PaperCKA[r.Rule]
		row := []string{RuleName(r.Rule)}
		for i, l := range Layers {
			cell := meanCIText(r.CKA.Layers[l], "%.2f", 1)
			if hasPaper {
				cell += fmt.Sprintf(" / %.2f", paper[i][i])
			} else {
				cell += " / —"
			}
			row = append(row, cell)
		}
		rows = append(rows, append(row, meanCIText(r.CKA.Mean, "%.2f", 1)))
	}
	if c := k.NoiseCeiling; c != nil {
		row := []string{"BP vs BP (noise ceiling)"}
		for _, l := range Layers {
			row = append(row, meanCIText(c.Layers[l], "%.2f", 1)+" / —")
		}
		rows = append(rows, append(row, meanCIText(c.Mean, "%.2f", 1)))
	}
	mdTable(b, []string{"rule", "conv1", "conv2", "fc1", "fc2", "fc3", "mean of five (ours)"}, rows)
}

// mdVerdictLines writes the comparison with the paper in words: how it
// judges, the headline and each disagreement, without the report's table
// of every comparison.
func mdVerdictLines(b *bytes.Buffer, s verdictSection) {
	if len(s.Rows) == 0 {
		return
	}
	b.WriteString("## Against the paper: where the numbers disagree\n\n")
	b.WriteString(md(verdictIntro) + "\n\n" + md(s.Head) + "\n")
	if len(s.Lines) > 0 {
		b.WriteString("\n")
	}
	for _, l := range s.Lines {
		fmt.Fprintf(b, "- %s\n", md(l))
	}
}
