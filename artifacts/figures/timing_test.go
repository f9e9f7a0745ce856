package figures

import (
	"strings"
	"testing"
)

// TestTimingTableSumsPerStageAndRule checks the report's timing table
// against values worked by hand: bp's three final runs of 608, 678 and 708
// s total 1,994 s = 33 min 14 s, 664.7 s = 11 min 5 s each; the total of
// every row is 9.94 + 1,994 + 42.4 + 9,000.6 = 11,046.94 s = 3 h 4 min.
func TestTimingTableSumsPerStageAndRule(t *testing.T) {
	r := &Report{Timing: []TimingRow{
		{Stage: "dataset", Count: 1, Seconds: 9.94},
		{Stage: "train", Rule: "bp", Count: 3, Skipped: 1, Seconds: 608 + 678 + 708},
		{Stage: "cka", Rule: "usf_sn", Count: 9, Seconds: 42.4},
		{Stage: "train", Rule: "fa_random", Count: 6, Seconds: 9000.6},
	}}
	md, err := Markdown(r)
	if err != nil {
		t.Fatal(err)
	}
	html, err := HTML(r)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"## Where the time went",
		"| dataset | — | 1 | 9.9 s | 9.9 s |",
		"| train | BP | 3 (1 by an earlier start) | 33 min 14 s | 11 min 5 s |",
		"| cka | uSF SN | 9 | 42 s | 4.7 s |",
		"| train | FA (Random) | 6 | 2 h 30 min | 25 min 0 s |",
		"| all |  |  | 3 h 4 min |  |",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q:\n%s", want, md)
		}
	}
	if !strings.Contains(string(html), `<section id="timing">`) || !strings.Contains(string(html), "<td>33 min 14 s</td><td>11 min 5 s</td>") {
		t.Errorf("report.html lacks the timing table")
	}
	md, err = Markdown(&Report{})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(md), "Where the time went") {
		t.Error("a report without timings shows a timing table")
	}
}
