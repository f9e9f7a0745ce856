package figures

import (
	"bytes"
	"fmt"
	"strconv"
)

// TimingRow is the wall clock one kind of stage took for one rule, from
// the run's own measurements (the numbers manifest.json holds).
type TimingRow struct {
	// Stage is "dataset", "grid", "train", "extract", "cka" or
	// "saliency"; Rule is empty for the dataset.
	Stage, Rule string
	// Count is the number of stage executions (grid points, seeds,
	// comparisons) and Seconds their total wall clock. A stage that an
	// earlier start of the study completed counts with the time it took
	// then; Skipped says how many of Count did.
	Count, Skipped int
	Seconds        float64
}

// timingView is one row of the report's timing table.
type timingView struct {
	Stage, Name, Count, Total, Each string
}

// timingRows formats the timing table: one row per stage and rule, then
// the total.
func timingRows(ts []TimingRow) []timingView {
	if len(ts) == 0 {
		return nil
	}
	var out []timingView
	var total float64
	for _, t := range ts {
		name := "—"
		if t.Rule != "" {
			name = RuleName(t.Rule)
		}
		count := strconv.Itoa(t.Count)
		if t.Skipped > 0 {
			count += fmt.Sprintf(" (%d by an earlier start)", t.Skipped)
		}
		each := "—"
		if t.Count > 0 {
			each = FormatDuration(t.Seconds / float64(t.Count))
		}
		out = append(out, timingView{Stage: t.Stage, Name: name, Count: count, Total: FormatDuration(t.Seconds), Each: each})
		total += t.Seconds
	}
	return append(out, timingView{Stage: "all", Name: "", Count: "", Total: FormatDuration(total), Each: ""})
}

// FormatDuration writes s seconds as the report's timing table does:
// "9.9 s" under ten seconds, then "42 s", "12 min 5 s" or "3 h 4 min".
func FormatDuration(s float64) string {
	switch n := int(s + 0.5); {
	case s < 10:
		return fmt.Sprintf("%.1f s", s)
	case n < 60:
		return fmt.Sprintf("%d s", n)
	case n < 3600:
		return fmt.Sprintf("%d min %d s", n/60, n%60)
	default:
		return fmt.Sprintf("%d h %d min", n/3600, (n%3600)/60)
	}
}

// timingIntro explains the report's timing table.
const timingIntro = "Wall clock of every stage, summed per stage and rule: what a whole study costs, and where. A stage an earlier start of this study completed counts with the time it took then, on the machine it ran on. The machine's speed, the thread count and anything else running change these numbers; results.json holds none of them."

// mdTiming writes the timing table; nothing when the report has none.
func mdTiming(b *bytes.Buffer, v *pageView) {
	if len(v.Timing) == 0 {
		return
	}
	b.WriteString("## Where the time went\n\n" + md(timingIntro) + "\n\n")
	var rows [][]string
	for _, t := range v.Timing {
		rows = append(rows, []string{t.Stage, t.Name, t.Count, t.Total, t.Each})
	}
	mdTable(b, []string{"stage", "rule", "executions", "wall clock", "each"}, rows)
}
