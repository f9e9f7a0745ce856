package figures

import (
	"errors"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/plot"

	"github.com/fabeam/fabeam/artifacts/results"
)

// signalHistory is a history whose epochs have weight-gradient RMS g[e]
// and update RMS u[e] at every layer.
func signalHistory(rule string, seed int, g, u []float64) results.History {
	h := results.History{Rule: rule, Seed: seed}
	for e := range g {
		ep := results.Epoch{Epoch: e + 1, ErrorRMS: map[string]float64{}, WeightGradRMS: map[string]float64{}, UpdateRMS: map[string]float64{}}
		for _, l := range Layers {
			ep.ErrorRMS[l], ep.WeightGradRMS[l], ep.UpdateRMS[l] = 1e-3, g[e], u[e]
		}
		h.Epochs = append(h.Epochs, ep)
	}
	return h
}

// Hand-worked: fa_random's two seeds have gradient RMS (3e-8, 1e-8, 4e-9)
// and (1e-8, 5e-9, 2e-9) per epoch: means 2e-8, 7.5e-9, 3e-9, so the mean
// falls below ε = 1e-8 at epoch 2 (each seed alone would say 3 and 2).
func TestSignalTableTakesTheMeanOverSeedsAndFlagsTheFirstEpochBelowEps(t *testing.T) {
	h := map[string][]results.History{
		"bp": {signalHistory("bp", 0, []float64{1e-3, 2e-3, 3e-3}, []float64{0.9, 0.8, 0.7})},
		"fa_random": {
			signalHistory("fa_random", 0, []float64{3e-8, 1e-8, 4e-9}, []float64{0.5, 0.4, 0.3}),
			signalHistory("fa_random", 1, []float64{1e-8, 5e-9, 2e-9}, []float64{0.3, 0.2, 0.1}),
		},
		"usf_sn": {{Rule: "usf_sn", Epochs: []results.Epoch{{Epoch: 1}}}}, // recorded no signal
	}
	rows := SignalTable(h)
	if len(rows) != 2 || rows[0].Rule != "bp" || rows[1].Rule != "fa_random" {
		t.Fatalf("rows %+v, want bp and fa_random", rows)
	}
	fa := rows[1]
	if fa.Epoch != 3 || math.Abs(fa.GradRMS["fc2"]-3e-9) > 1e-21 || math.Abs(fa.UpdateRMS["fc2"]-0.2) > 1e-12 {
		t.Errorf("fa_random last epoch %d, fc2 grad %v update %v; want 3, 3e-9, 0.2", fa.Epoch, fa.GradRMS["fc2"], fa.UpdateRMS["fc2"])
	}
	if fa.BelowEps["conv1"] != 2 || len(fa.BelowEps) != len(Layers) {
		t.Errorf("fa_random below ε at %v, want epoch 2 in every layer", fa.BelowEps)
	}
	if len(rows[0].BelowEps) != 0 {
		t.Errorf("bp flagged below ε: %v", rows[0].BelowEps)
	}
	views, notes := signalTableRows(h)
	if len(notes) != len(Layers) || !strings.Contains(notes[0], "FA (Random), conv1") || !strings.Contains(notes[0], "epoch 2") {
		t.Errorf("notes %q, want one per fa_random layer naming epoch 2", notes)
	}
	if got := views[1].Layers[0]; got != "3.00e-09 / 0.2 (< ε)" {
		t.Errorf("fa_random conv1 cell %q, want \"3.00e-09 / 0.2 (< ε)\"", got)
	}
}

func TestSignalAndKnowledgeFiguresNeedTheirData(t *testing.T) {
	if _, err := Signal(map[string][]results.History{"bp": {{Rule: "bp", Epochs: []results.Epoch{{Epoch: 1}}}}}); !errors.Is(err, ErrNoData) {
		t.Errorf("Signal without signal maps: err = %v, want ErrNoData", err)
	}
	if _, err := KnowledgeClaim(nil); !errors.Is(err, ErrNoData) {
		t.Errorf("KnowledgeClaim(nil): err = %v, want ErrNoData", err)
	}
	// A zero gradient cannot sit on a log axis; it is left out of the
	// figure but still counts as below ε in the table.
	h := map[string][]results.History{"bp": {signalHistory("bp", 0, []float64{0, 1e-3}, []float64{0, 0.5})}}
	if _, err := Signal(h); err != nil {
		t.Errorf("Signal with a zero gradient: %v", err)
	}
	if r := SignalTable(h); r[0].BelowEps["fc1"] != 1 {
		t.Errorf("a zero gradient at epoch 1 is not flagged: %v", r[0].BelowEps)
	}
}

// The knowledge table keeps results.knowledge's order, shows bp's noise
// ceiling in bp's CKA cells and formats mean ± half-width.
func TestKnowledgeRowsShowTheCeilingAtBP(t *testing.T) {
	k := fixtureResults(fixtureHistories(2, 3)).Knowledge
	rows := knowledgeRows(k)
	if len(rows) != 2 || !strings.HasPrefix(rows[0].Name, "BP (noise ceiling") || rows[1].Rank != "2" {
		t.Fatalf("rows %+v", rows)
	}
	if rows[0].Layers[0] != "0.98 ± 0.00" || rows[1].Layers[1] != "0.92 ± 0.01" || rows[1].Test != "73.50 ± 3.00" {
		t.Errorf("cells %q %q %q, want 0.98 ± 0.00, 0.92 ± 0.01, 73.50 ± 3.00", rows[0].Layers[0], rows[1].Layers[1], rows[1].Test)
	}
	k.NoiseCeiling = nil
	if rows = knowledgeRows(k); rows[0].Layers[0] != "—" || rows[0].MeanCKA != "—" {
		t.Errorf("without a ceiling bp's CKA cells are %q, %q; want —", rows[0].Layers[0], rows[0].MeanCKA)
	}
	if got := meanCIText(results.MeanCI{Mean: 0.5, CI95: 0.1, N: 1}, "%.2f", 1); got != "0.50" {
		t.Errorf("one seed prints %q, want the bare 0.50", got)
	}
}

func TestLogTicksLabelPowersOfTenWithoutResidue(t *testing.T) {
	label := func(ts []plot.Tick) []string {
		var out []string
		for _, x := range ts {
			out = append(out, x.Label)
		}
		return out
	}
	if got := label(logTicks{}.Ticks(3e-9, 2e-5)); strings.Join(got, " ") != "1e-8 1e-7 1e-6 1e-5" {
		t.Errorf("ticks over 3e-9..2e-5: %q", got)
	}
	if got := label(logTicks{}.Ticks(0.3, 0.7)); strings.Join(got, " ") != "0.5" {
		t.Errorf("ticks over 0.3..0.7: %q, want 0.5", got)
	}
	if got := label(logTicks{}.Ticks(0.004, 0.03)); strings.Join(got, " ") != "5e-3 0.01 0.02" {
		t.Errorf("ticks over 0.004..0.03: %q", got)
	}
}

func TestEpochTicksAreWholeEpochs(t *testing.T) {
	var got []string
	for _, x := range (epochTicks{}).Ticks(1, 2) {
		got = append(got, x.Label)
	}
	if strings.Join(got, " ") != "1 2" {
		t.Errorf("ticks over epochs 1..2: %q, want 1 2", got)
	}
	if n := len((epochTicks{}).Ticks(1, 50)); n < 5 || n > 9 {
		t.Errorf("%d ticks over 50 epochs, want about eight", n)
	}
}
