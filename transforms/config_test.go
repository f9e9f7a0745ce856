package transforms

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/engine/nn"
)

func TestStageKeyIsSHA256OfTheCanonicalDocument(t *testing.T) {
	// Expected value from Python, independently of encoding/json:
	//   hashlib.sha256(b'{"stage":"train","config":{"lr":0.001},'
	//     b'"inputs":["dataset/0123456789abcdef"],"format_version":2}').hexdigest()[:16]
	if FormatVersion != 2 {
		t.Fatalf("FormatVersion is %d: recompute the expected key below with it", FormatVersion)
	}
	got := StageKey("train", map[string]float64{"lr": 0.001}, "dataset/0123456789abcdef")
	if want := "train/e59c2b0a03b1b33c"; got != want {
		t.Fatalf("StageKey = %q, want %q", got, want)
	}
}

func TestStageKeyChangesWithEveryInput(t *testing.T) {
	type cfg struct{ LR float64 }
	base := StageKey("train", cfg{1e-3}, "a", "b")
	for name, k := range map[string]string{
		"stage":        StageKey("grid", cfg{1e-3}, "a", "b"),
		"config":       StageKey("train", cfg{3e-3}, "a", "b"),
		"input":        StageKey("train", cfg{1e-3}, "a", "c"),
		"input order":  StageKey("train", cfg{1e-3}, "b", "a"),
		"fewer inputs": StageKey("train", cfg{1e-3}, "a"),
	} {
		if k == base {
			t.Errorf("changing the %s left the key %s unchanged", name, k)
		}
	}
	if again := StageKey("train", cfg{1e-3}, "a", "b"); again != base {
		t.Errorf("same inputs gave %s then %s", base, again)
	}
}

func TestRunKeyIgnoresTheOutputLocation(t *testing.T) {
	a, _ := PresetConfig("smoke", "/tmp/a", "")
	b, _ := PresetConfig("smoke", "gs://bucket/b", "")
	r := RunSpec{Stage: StageTrain, DatasetKey: DatasetKey(a), Rule: "bp", Point: a.Chosen["bp"], Seed: 0, Epochs: 2}
	if RunKey(a, r) != RunKey(b, r) || DatasetKey(a) != DatasetKey(b) {
		t.Fatal("keys depend on Config.Out")
	}
	b.BatchSize = 64
	if RunKey(a, r) == RunKey(b, r) {
		t.Fatal("run key ignores the batch size")
	}
}

func TestPaperGridHas37PointsAsInNotes(t *testing.T) {
	// docs/paper.md: bp 3 lr × 2 wd, three rules 3 lr × 3 sigma, usf_sn 4 lr.
	want := map[string]int{"bp": 6, "fa_random": 9, "fa_toeplitz": 9, "usf_init": 9, "usf_sn": 4}
	g := PaperGrid()
	total := 0
	for _, r := range PaperRules() {
		if len(g[r]) != want[r] {
			t.Errorf("%s: %d points, want %d", r, len(g[r]), want[r])
		}
		total += len(g[r])
	}
	if total != 37 {
		t.Errorf("grid has %d points, want 37", total)
	}
	if g["bp"][0] != (Point{LR: 5e-4}) || g["bp"][5] != (Point{LR: 3e-3, WeightDecay: 1e-4}) {
		t.Errorf("bp grid order: %+v", g["bp"])
	}
	if g["usf_init"][8] != (Point{LR: 1e-2, Sigma: 0.1}) {
		t.Errorf("usf_init last point %+v, want lr 1e-2 sigma 0.1", g["usf_init"][8])
	}
	c := PaperChoice()
	if c["bp"] != (Point{LR: 1e-3, WeightDecay: 1e-4}) || c["usf_init"].Sigma != 0.1 || c["fa_random"].Sigma != 0.01 {
		t.Errorf("paper choice %+v", c)
	}
}

func TestPresetsValidateAndTotalEpochs(t *testing.T) {
	// The paper and quick presets run the paper's five rules, smoke every
	// rule, 2 grid points each.
	allRules := len(nn.RuleNames())
	if got := PaperRules(); strings.Join(got, ",") != "bp,fa_random,fa_toeplitz,usf_init,usf_sn" {
		t.Errorf("PaperRules() = %v, want the paper's five", got)
	}
	for _, preset := range Presets {
		c, _ := PresetConfig(preset, "out", "data")
		want := PaperRules()
		if preset == "smoke" {
			want = nn.RuleNames()
		}
		if !slices.Equal(c.Rules, want) {
			t.Errorf("%s runs rules %v, want %v", preset, c.Rules, want)
		}
		for _, r := range nn.RuleNames() {
			if len(c.GridPoints[r]) == 0 {
				t.Errorf("%s: no grid points for %s, so --rules=%s could not run", preset, r, r)
			}
			if _, ok := c.Chosen[r]; !ok {
				t.Errorf("%s: no chosen point for %s", preset, r)
			}
		}
	}
	for _, tc := range []struct {
		preset string
		epochs int // TotalEpochs: grid points × grid epochs + rules × seeds × epochs
	}{
		{"paper", 37*3 + 5*50},
		{"quick", 5 * 10},
		{"smoke", allRules*2*1 + allRules*2},
	} {
		c, err := PresetConfig(tc.preset, "out", "data")
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Errorf("%s: %v", tc.preset, err)
		}
		if got := c.TotalEpochs(); got != tc.epochs {
			t.Errorf("%s: TotalEpochs = %d, want %d", tc.preset, got, tc.epochs)
		}
	}
	if _, err := PresetConfig("fast", "out", "data"); err == nil || !strings.Contains(err.Error(), "paper, quick, smoke") {
		t.Errorf("unknown preset error %v does not list the presets", err)
	}
}

func TestValidateNamesTheFieldAndWhatIsAllowed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   []string
	}{
		{"unknown rule", func(c *Config) { c.Rules = []string{"bp", "nope"} }, []string{"--rules", `"nope"`, strings.Join(nn.RuleNames(), ",")}},
		{"no rules", func(c *Config) { c.Rules = nil }, []string{"--rules", "usf_sn"}},
		{"duplicate rule", func(c *Config) { c.Rules = []string{"bp", "bp"} }, []string{"--rules", "twice"}},
		{"no seeds", func(c *Config) { c.Seeds = nil }, []string{"--seeds"}},
		{"seeds not ascending", func(c *Config) { c.Seeds = []int{1, 0} }, []string{"Seeds", "ascending"}},
		{"zero epochs", func(c *Config) { c.Epochs = 0 }, []string{"--epochs", "at least 1"}},
		{"no out", func(c *Config) { c.Out = "" }, []string{"--out", "gs://"}},
		{"no data", func(c *Config) { c.Synthetic, c.Data = false, "" }, []string{"--data", "data_batch_1.bin"}},
		{"bad preset", func(c *Config) { c.Preset = "x" }, []string{"--preset", "paper, quick, smoke"}},
		{"grid missing rule", func(c *Config) { delete(c.GridPoints, "usf_sn") }, []string{"GridPoints", "usf_sn"}},
		{"negative lr", func(c *Config) { c.GridPoints["bp"] = []Point{{LR: -1}} }, []string{"GridPoints[bp]", "positive finite learning rate"}},
		{"chosen missing without grid", func(c *Config) { c.Grid = false; delete(c.Chosen, "bp") }, []string{"Chosen", `"bp"`}},
		{"tiny CKA batch", func(c *Config) { c.CKA.BatchSize = 3 }, []string{"CKA", "n-3"}},
		{"too few synthetic", func(c *Config) { c.SyntheticTrain = 5 }, []string{"SyntheticTrain", "at least 20"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := PresetConfig("smoke", "out", "")
			tc.change(&c)
			err := c.Validate()
			if err == nil {
				t.Fatal("Validate accepted it")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}

func TestBestPointPrefersHighestValThenGridOrderAndDivergedLose(t *testing.T) {
	p := func(i int, acc float64, div bool) RunResult {
		return RunResult{Index: i, LastValAcc: acc, BestValAcc: acc, Diverged: div, Point: Point{LR: float64(i + 1)}}
	}
	// best returns a point whose best epoch (.9) beats its last one (acc).
	best := func(i int, acc float64) RunResult {
		r := p(i, acc, false)
		r.BestValAcc = .9
		return r
	}
	for _, tc := range []struct {
		name   string
		in     []RunResult
		want   int
		wantOK bool
	}{
		{"highest wins", []RunResult{p(0, .3, false), p(1, .5, false), p(2, .4, false)}, 1, true},
		{"tie goes to grid order, whatever the arrival order", []RunResult{p(2, .5, false), p(1, .5, false), p(0, .2, false)}, 1, true},
		{"diverged loses even with higher accuracy", []RunResult{p(0, .3, false), p(1, .9, true)}, 0, true},
		{"diverged loses to zero accuracy", []RunResult{p(0, .9, true), p(1, 0, false)}, 1, true},
		{"all diverged: first in grid order", []RunResult{p(1, .5, true), p(0, .1, true)}, 0, false},
		{"scored by the last epoch, not the best one", []RunResult{best(0, .3), p(1, .5, false)}, 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := BestPoint(tc.in)
			if got.Index != tc.want || ok != tc.wantOK {
				t.Fatalf("BestPoint = index %d ok %v, want %d %v", got.Index, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestGatheredSortsCanonically(t *testing.T) {
	g := &gathered{
		Runs: []RunResult{{Rule: "usf_sn", Seed: 1}, {Rule: "bp", Seed: 2}, {Rule: "usf_sn", Seed: 0}, {Rule: "bp", Seed: 0}},
		Grid: []RunResult{{Rule: "fa_random", Index: 1}, {Rule: "bp", Index: 1}, {Rule: "fa_random", Index: 0}, {Rule: "bp", Index: 0}},
		Comparisons: []CompareResult{
			{Seed: 1, Rule: "usf_sn", Reference: "bp"}, {Seed: 0, Rule: "bp", Reference: "bp", ReferenceSeed: 1},
			{Seed: 0, Rule: "usf_sn", Reference: "bp"}, {Seed: 0, Rule: "fa_random", Reference: "bp"}},
		Saliency: []SaliencyRecord{{Rule: "usf_sn", Seed: 0}, {Rule: "bp", Seed: 1}, {Rule: "bp", Seed: 0}},
	}
	g.sort()
	var runs, grid []string
	for _, r := range g.Runs {
		runs = append(runs, r.Rule+"/"+string(rune('0'+r.Seed)))
	}
	for _, r := range g.Grid {
		grid = append(grid, r.Rule+"/"+string(rune('0'+r.Index)))
	}
	if got, want := strings.Join(runs, " "), "bp/0 bp/2 usf_sn/0 usf_sn/1"; got != want {
		t.Errorf("runs order %q, want %q", got, want)
	}
	if got, want := strings.Join(grid, " "), "bp/0 bp/1 fa_random/0 fa_random/1"; got != want {
		t.Errorf("grid order %q, want %q", got, want)
	}
	var comps, sal []string
	for _, r := range g.Comparisons {
		comps = append(comps, fmt.Sprintf("%d/%s", r.Seed, r.Rule))
	}
	for _, r := range g.Saliency {
		sal = append(sal, fmt.Sprintf("%s/%d", r.Rule, r.Seed))
	}
	// Seeds ascending, the noise ceiling (bp against bp) after a seed's rules.
	if got, want := strings.Join(comps, " "), "0/fa_random 0/usf_sn 0/bp 1/usf_sn"; got != want {
		t.Errorf("comparisons order %q, want %q", got, want)
	}
	if got, want := strings.Join(sal, " "), "bp/0 bp/1 usf_sn/0"; got != want {
		t.Errorf("saliency order %q, want %q", got, want)
	}
}
