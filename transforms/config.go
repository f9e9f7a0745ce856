package transforms

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/fabeam/fabeam/engine/nn"
)

// Presets lists the names accepted by PresetConfig, in the order the
// command line documents them.
var Presets = []string{"paper", "quick", "smoke"}

// Point is one hyper-parameter setting of a learning rule: the engine's
// nn.Hyper, from the preset through the grid and training to results.json.
type Point = nn.Hyper

// CKAConfig is the CKA estimator's settings, used by the analysis stages.
type CKAConfig struct {
	// BatchSize and Passes of the minibatch estimator (the paper: 256, 5).
	BatchSize int `json:"batch_size"`
	Passes    int `json:"passes"`
	// Seed of the shuffle (the paper's was unseeded).
	Seed uint64 `json:"seed"`
}

// Config is the resolved configuration of one study. It is plain data,
// JSON-serialisable, and travels to every DoFn as a field (never as a side
// input). Build one with PresetConfig, override fields, then Validate.
type Config struct {
	// Out is where artifacts go: a local folder, gs://bucket/prefix or
	// mem://name (see artifacts/store.Open).
	Out string `json:"out"`
	// Preset names the preset the configuration started from.
	Preset string `json:"preset"`
	// Data is the folder holding the six CIFAR-10 binary files; unused
	// when Synthetic is set.
	Data string `json:"data,omitempty"`
	// Synthetic replaces CIFAR-10 with cifar.Synthetic images:
	// SyntheticTrain training images (split 90/10 into train and val by the
	// paper's rule, cifar.SplitIndices) and SyntheticTest test images, drawn
	// with SyntheticSeed.
	Synthetic      bool   `json:"synthetic"`
	SyntheticTrain int    `json:"synthetic_train,omitempty"`
	SyntheticTest  int    `json:"synthetic_test,omitempty"`
	SyntheticSeed  uint64 `json:"synthetic_seed,omitempty"`
	// Rules are the learning rules to run, a subset of nn.RuleNames(); they
	// are always processed and reported in RuleNames order.
	Rules []string `json:"rules"`
	// Seeds of the final runs, ascending, distinct, >= 0.
	Seeds []int `json:"seeds"`
	// Epochs of each final run.
	Epochs int `json:"epochs"`
	// Grid switches the hyper-parameter search on; GridEpochs is each
	// point's budget and GridPoints the points per rule, in grid order.
	// The search always trains with the first seed.
	Grid       bool               `json:"grid"`
	GridEpochs int                `json:"grid_epochs"`
	GridPoints map[string][]Point `json:"grid_points"`
	// Chosen are the hyper-parameters used when the grid is off (the
	// paper's choices).
	Chosen map[string]Point `json:"chosen"`
	// BatchSize is the training minibatch (the paper: 128); EvalBatch the
	// batch for validation, test and feature extraction.
	BatchSize int `json:"batch_size"`
	EvalBatch int `json:"eval_batch"`
	// StepMetrics records local alignment angles and sign concordance every
	// step; UpdateAngleEvery > 0 records the end-to-end update angle every
	// that many steps.
	StepMetrics      bool `json:"step_metrics"`
	UpdateAngleEvery int  `json:"update_angle_every"`
	// Extract writes each final model's logits and pre-ReLU features on the
	// validation and test images.
	Extract bool `json:"extract"`
	// CKA is the analysis stages' CKA estimator.
	CKA CKAConfig `json:"cka"`
	// TestHead is the number of leading test records whose accuracy the
	// report gives on its own beside the full test accuracy (results.json
	// test_head_acc): records 0–999 by default. Some copies of the test
	// file hold exact images only in their first records; the README's
	// "Results" explains why the two accuracies can then differ. 0 switches
	// it off.
	TestHead int `json:"test_head"`
}

// PaperGrid returns the hyper-parameter grid per rule, as each rule
// declares it (nn.RuleSpec.PaperGrid; docs/paper.md, "Training protocol"):
// for the paper's rules 6 points for bp, 9 for each of fa_random,
// fa_toeplitz and usf_init, 4 for usf_sn: 37 in all; the other rules'
// grids are this project's, in the paper's style. Order: the learning rate
// varies slowest.
func PaperGrid() map[string][]Point {
	g := map[string][]Point{}
	for _, s := range nn.Specs() {
		g[s.Name] = s.PaperGrid.Points()
	}
	return g
}

// PaperChoice returns the hyper-parameters the paper chose, as each rule
// declares them (nn.RuleSpec.PaperChoice): lr 1e-3 for all; bp weight
// decay 1e-4; sigma 0.01 for both FA rules and 0.1 for usf_init. For the
// rules not in the paper they are this project's defaults.
func PaperChoice() map[string]Point {
	c := map[string]Point{}
	for _, s := range nn.Specs() {
		c[s.Name] = s.PaperChoice
	}
	return c
}

// PaperRules returns the study's five rules (nn.RuleSpec.InPaper), in
// nn.RuleNames order: the rules the paper and quick presets run unless
// --rules says otherwise.
func PaperRules() []string {
	var out []string
	for _, s := range nn.Specs() {
		if s.InPaper {
			out = append(out, s.Name)
		}
	}
	return out
}

// PresetConfig returns the configuration of a preset, writing to out and
// reading CIFAR-10 from data (ignored by smoke):
//
//	paper  grid search (3 epochs a point), then 50 epochs, seed 0, all
//	       analyses, the paper's five rules (PaperRules)
//	quick  the paper's chosen hyper-parameters, no grid, 10 epochs, seed 0,
//	       the paper's five rules
//	smoke  synthetic data (600 training images split 540/60, 200 test),
//	       a 2-point grid per rule of 1 epoch, then 2 epochs, seed 0, every
//	       rule (nn.RuleNames)
//
// GridPoints and Chosen hold every rule's points under every preset, so
// Rules may name any rule.
func PresetConfig(preset, out, data string) (Config, error) {
	c := Config{
		Out: out, Preset: preset, Data: data,
		Rules: PaperRules(), Seeds: []int{0},
		Epochs: 50, Grid: true, GridEpochs: 3,
		GridPoints: PaperGrid(), Chosen: PaperChoice(),
		BatchSize: 128, EvalBatch: 500,
		StepMetrics: true, UpdateAngleEvery: 50, Extract: true,
		CKA:      CKAConfig{BatchSize: 256, Passes: 5, Seed: 0},
		TestHead: 1000,
	}
	switch preset {
	case "paper":
	case "quick":
		c.Grid, c.Epochs = false, 10
	case "smoke":
		c.Data = ""
		c.Rules = nn.RuleNames()
		c.Synthetic, c.SyntheticTrain, c.SyntheticTest, c.SyntheticSeed = true, 600, 200, 1
		c.Epochs, c.GridEpochs = 2, 1
		// Two points per rule: the paper's choice (or the rule's
		// SmokeChoice) and three times its learning rate, so SelectBest
		// has something to choose.
		c.GridPoints = map[string][]Point{}
		for _, s := range nn.Specs() {
			p := c.Chosen[s.Name]
			if s.SmokeChoice != (nn.Hyper{}) {
				p = s.SmokeChoice
				c.Chosen[s.Name] = p
			}
			q := p
			q.LR *= 3
			c.GridPoints[s.Name] = []Point{p, q}
		}
		c.EvalBatch = 100
		// 260 val+test images: minibatches of 50 so the matrices are
		// computed (256 would leave every subset too small), one pass to
		// keep the smoke tests fast (conv1's Grams dominate).
		c.CKA.BatchSize, c.CKA.Passes = 50, 1
		// Half of the 200 test images, so the head differs from the whole.
		c.TestHead = 100
	default:
		return Config{}, fmt.Errorf("unknown preset %q: use one of %s", preset, strings.Join(Presets, ", "))
	}
	return c, nil
}

// OrderedRules returns c.Rules in nn.RuleNames order.
func (c Config) OrderedRules() []string {
	var out []string
	for _, r := range nn.RuleNames() {
		if slices.Contains(c.Rules, r) {
			out = append(out, r)
		}
	}
	return out
}

// TotalEpochs is the number of training epochs the study runs in all, for
// progress and ETA.
func (c Config) TotalEpochs() int {
	n := len(c.Rules) * len(c.Seeds) * c.Epochs
	if c.Grid {
		for _, r := range c.Rules {
			n += len(c.GridPoints[r]) * c.GridEpochs
		}
	}
	return n
}

// Validate reports the first invalid field, naming the field (and the
// command-line flag that sets it) and what is allowed.
func (c Config) Validate() error {
	if c.Out == "" {
		return errors.New("config Out (--out) is empty: give a local folder, gs://bucket/prefix or mem://name")
	}
	// The configuration travels to every DoFn as JSON, which would silently
	// replace invalid UTF-8 and send the workers to another folder.
	for _, f := range []struct{ name, v string }{{"Out (--out)", c.Out}, {"Data (--data)", c.Data}} {
		if !utf8.ValidString(f.v) {
			return fmt.Errorf("config %s %q is not valid UTF-8: rename the folder, or give a path that is", f.name, f.v)
		}
	}
	if !slices.Contains(Presets, c.Preset) {
		return fmt.Errorf("config Preset (--preset) %q: use one of %s", c.Preset, strings.Join(Presets, ", "))
	}
	if c.Synthetic {
		if c.SyntheticTrain < 20 || c.SyntheticTest < 1 {
			return fmt.Errorf("config SyntheticTrain = %d, SyntheticTest = %d: need at least 20 training images (so the 10%% validation split is not empty) and 1 test image", c.SyntheticTrain, c.SyntheticTest)
		}
	} else if c.Data == "" {
		return errors.New("config Data (--data) is empty: give the folder holding the CIFAR-10 binary files (data_batch_1.bin … test_batch.bin)")
	}
	if err := c.validateRulesAndSeeds(); err != nil {
		return err
	}
	if c.TestHead < 0 {
		return fmt.Errorf("config TestHead = %d: must be >= 0 (0 switches the leading-records accuracy off)", c.TestHead)
	}
	if c.Epochs < 1 {
		return fmt.Errorf("config Epochs (--epochs) = %d: must be at least 1", c.Epochs)
	}
	if c.BatchSize < 1 || c.EvalBatch < 1 {
		return fmt.Errorf("config BatchSize = %d, EvalBatch = %d: both must be at least 1 (the paper trains with 128)", c.BatchSize, c.EvalBatch)
	}
	if c.UpdateAngleEvery < 0 {
		return fmt.Errorf("config UpdateAngleEvery = %d: must be >= 0 (0 switches it off)", c.UpdateAngleEvery)
	}
	if err := c.validatePoints(); err != nil {
		return err
	}
	if c.CKA.BatchSize < 4 || c.CKA.Passes < 1 {
		return fmt.Errorf("config CKA = %+v: batch_size must be at least 4 (the unbiased HSIC divides by n-3) and passes at least 1", c.CKA)
	}
	return nil
}

// validateRulesAndSeeds checks Rules and Seeds.
func (c Config) validateRulesAndSeeds() error {
	names := nn.RuleNames()
	if len(c.Rules) == 0 {
		return fmt.Errorf("config Rules (--rules) is empty: give a comma-separated subset of %s", strings.Join(names, ","))
	}
	seen := map[string]bool{}
	for _, r := range c.Rules {
		if !slices.Contains(names, r) {
			return fmt.Errorf("config Rules (--rules): unknown rule %q: allowed are %s", r, strings.Join(names, ","))
		}
		if seen[r] {
			return fmt.Errorf("config Rules (--rules): rule %q given twice", r)
		}
		seen[r] = true
	}
	if len(c.Seeds) == 0 {
		return errors.New("config Seeds (--seeds) is empty: give at least one seed")
	}
	if !sort.IntsAreSorted(c.Seeds) || c.Seeds[0] < 0 {
		return fmt.Errorf("config Seeds %v: seeds must be >= 0 and ascending", c.Seeds)
	}
	for i := 1; i < len(c.Seeds); i++ {
		if c.Seeds[i] == c.Seeds[i-1] {
			return fmt.Errorf("config Seeds %v: seed %d given twice", c.Seeds, c.Seeds[i])
		}
	}
	return nil
}

// validatePoints checks the hyper-parameters the study will train with
// (GridPoints with the grid on, Chosen with it off) against each rule's
// nn.RuleSpec. This is the one place a point is validated; it draws no
// random tensors.
func (c Config) validatePoints() error {
	checkPoint := func(field, rule string, p Point) error {
		spec, err := nn.Spec(rule)
		if err != nil {
			return err
		}
		if err := spec.CheckHyper(p); err != nil {
			return fmt.Errorf("config %s[%s] = %+v: %w", field, rule, p, err)
		}
		return nil
	}
	if c.Grid {
		if c.GridEpochs < 1 {
			return fmt.Errorf("config GridEpochs = %d: must be at least 1 when the grid is on", c.GridEpochs)
		}
		for _, r := range c.Rules {
			if len(c.GridPoints[r]) == 0 {
				return fmt.Errorf("config GridPoints has no points for rule %q: give at least one, or switch the grid off", r)
			}
			for _, p := range c.GridPoints[r] {
				if err := checkPoint("GridPoints", r, p); err != nil {
					return err
				}
			}
		}
	} else {
		for _, r := range c.Rules {
			p, ok := c.Chosen[r]
			if !ok {
				return fmt.Errorf("config Chosen has no hyper-parameters for rule %q: add them, or switch the grid on", r)
			}
			if err := checkPoint("Chosen", r, p); err != nil {
				return err
			}
		}
	}
	return nil
}
