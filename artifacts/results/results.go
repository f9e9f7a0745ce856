package results

// Results is results.json.
type Results struct {
	// FormatVersion is the version of this schema.
	FormatVersion int `json:"format_version"`
	// Preset names the preset the run started from ("paper", "quick", "smoke").
	Preset string `json:"preset"`
	// Rules holds, per learning rule, the hyper-parameters used for the final
	// runs and one entry per seed.
	Rules map[string]RuleResult `json:"rules"`
	// Grid holds every grid-search point (empty when the grid was skipped).
	Grid []GridPoint `json:"grid"`
	// CKA holds one 5×5 matrix per (seed, rule, subset).
	CKA []CKAEntry `json:"cka,omitempty"`
	// PerClass holds per-class test accuracy per rule.
	PerClass map[string]PerClass `json:"per_class,omitempty"`
	// Saliency holds channel importance and exemplars per rule and seed.
	Saliency map[string][]SaliencyResult `json:"saliency,omitempty"`
	// Alignment summarises gradient alignment and sign concordance per rule.
	Alignment map[string]AlignmentSummary `json:"alignment,omitempty"`
	// TestHead is the number of leading test records (records 0 to
	// TestHead-1 of the test file) whose accuracy each final run also
	// reports on its own, as SeedResult.TestHeadAcc; 0 when no run was
	// extracted.
	TestHead int `json:"test_head,omitempty"`
	// Knowledge sets each rule's knowledge of W against its CKA to bp and
	// its test accuracy (format version 2 on).
	Knowledge *Knowledge `json:"knowledge,omitempty"`
}

// FormatVersion is the current results.json schema version: 2 added
// test_head, each run's test_head_acc, and knowledge; a version 1 file is
// a version 2 file without them.
const FormatVersion = 2

// Hyperparameters are one rule's training settings.
type Hyperparameters struct {
	LR          float64 `json:"lr"`
	WeightDecay float64 `json:"weight_decay"`
	// Sigma is the standard deviation of B0 (ignored by bp and usf_sn).
	Sigma float64 `json:"sigma"`
	// Epochs is the number of training epochs.
	Epochs int `json:"epochs"`
	// BatchSize is the minibatch size.
	BatchSize int `json:"batch_size"`
}

// RuleResult is one rule's final runs.
type RuleResult struct {
	Hyperparameters Hyperparameters `json:"hyperparameters"`
	Seeds           []SeedResult    `json:"seeds"`
}

// SeedResult is one final training run.
type SeedResult struct {
	Seed       int     `json:"seed"`
	BestValAcc float64 `json:"best_val_acc"`
	TestAcc    float64 `json:"test_acc"`
	// TestHeadAcc is the accuracy of the same model on the first
	// Results.TestHead test records alone, from the Extract stage's
	// predictions; absent when the run was not extracted (it diverged in
	// its first epoch, or extraction was switched off).
	TestHeadAcc *float64 `json:"test_head_acc,omitempty"`
	// BestEpoch is 1-based: the epoch whose weights were kept.
	BestEpoch int  `json:"best_epoch"`
	Diverged  bool `json:"diverged"`
	// DivergedStep is the 1-based global step at which the loss became
	// NaN or Inf (0 when the run did not diverge).
	DivergedStep int `json:"diverged_step,omitempty"`
	// LastGoodEpoch is the last epoch completed before divergence.
	LastGoodEpoch int `json:"last_good_epoch,omitempty"`
	// Model and History are the keys (relative to the output root) of the
	// run's checkpoint and history.
	Model   string `json:"model"`
	History string `json:"history"`
}

// GridPoint is one hyper-parameter search point.
type GridPoint struct {
	Rule  string          `json:"rule"`
	Point Hyperparameters `json:"point"`
	// ValAcc is the validation accuracy after the point's last epoch: the
	// score SelectBest ranks points by, as the study's authors did.
	ValAcc float64 `json:"val_acc"`
	// BestValAcc is the best validation accuracy over the point's epochs.
	BestValAcc float64 `json:"best_val_acc"`
	// Diverged points never win SelectBest.
	Diverged bool `json:"diverged"`
	// DivergedStep is the 1-based global step at which the loss became
	// NaN or Inf (0 when the point did not diverge).
	DivergedStep int `json:"diverged_step,omitempty"`
	// LastGoodEpoch is the last epoch completed before divergence (absent,
	// i.e. 0, when the point diverged in its first epoch or not at all).
	LastGoodEpoch int `json:"last_good_epoch,omitempty"`
}

// CKAEntry is one CKA matrix: rows the rule model's layers, columns the
// reference model's layers, both in the order conv1, conv2, fc1, fc2, fc3.
type CKAEntry struct {
	Seed int    `json:"seed"`
	Rule string `json:"rule"`
	// Reference is the rule of the column model, "bp" unless this is the
	// noise ceiling (bp of another seed), which also sets ReferenceSeed.
	Reference     string `json:"reference"`
	ReferenceSeed int    `json:"reference_seed"`
	// Subset is "all", "both_correct" or "bp_only".
	Subset string `json:"subset"`
	N      int    `json:"n"`
	// TooSmall is set, and Matrix omitted, when the subset has fewer
	// examples than one CKA minibatch.
	TooSmall bool        `json:"too_small,omitempty"`
	Matrix   [][]float64 `json:"matrix,omitempty"`
	// Estimator names the estimator ("minibatch_unbiased", ...).
	Estimator string `json:"estimator"`
}

// PerClass is one rule's per-class test accuracy (class order of CIFAR-10),
// mean over seeds, and its deficit against bp (bp minus rule).
type PerClass struct {
	Accuracy       []float64 `json:"accuracy"`
	DeficitVsBP    []float64 `json:"deficit_vs_bp,omitempty"`
	WorstClass     string    `json:"worst_class,omitempty"`
	WorstClassIdx  int       `json:"worst_class_index"`
	WorstClassDrop float64   `json:"worst_class_deficit"`
}

// SaliencyResult is one model's channel importance on the dog test images.
type SaliencyResult struct {
	Seed   int            `json:"seed"`
	Layers []LayerChannel `json:"layers"`
}

// LayerChannel holds one layer's top channels.
type LayerChannel struct {
	Layer string `json:"layer"`
	// Importance is the mean importance of every channel (length = channels).
	Importance []float64 `json:"importance"`
	// Top are the most important channels, most important first.
	Top []TopChannel `json:"top"`
}

// TopChannel is one top channel and the test images that excite it most.
type TopChannel struct {
	Channel    int     `json:"channel"`
	Importance float64 `json:"importance"`
	// Exemplars are test-set indices, highest activation first.
	Exemplars  []int     `json:"exemplars"`
	Activation []float64 `json:"activation"`
}

// AlignmentSummary summarises one rule's alignment metrics over its seeds:
// per layer, the mean over the last epoch's steps (Final) and over the first
// epoch's steps (First).
type AlignmentSummary struct {
	LocalAngleFirst  map[string]float64 `json:"local_angle_first,omitempty"`
	LocalAngleFinal  map[string]float64 `json:"local_angle_final,omitempty"`
	UpdateAngleFinal map[string]float64 `json:"update_angle_final,omitempty"`
	ConcordanceFirst map[string]float64 `json:"concordance_first,omitempty"`
	ConcordanceFinal map[string]float64 `json:"concordance_final,omitempty"`
}

// Knowledge is the study's central question as numbers: each rule, ordered
// by how much its feedback knows about the forward weights W (the engine's
// rank, nn.RuleSpec.Knowledge: 0 for bp, which uses W itself, up to random
// feedback that skips the layers above), with its test accuracy and how
// closely each of its layers represents what bp's same layer does (the
// diagonal of the CKA matrix on Subset), over seeds.
type Knowledge struct {
	// Subset is the CKA subset the diagonals come from ("all").
	Subset string `json:"subset"`
	// Rules are in knowledge order, most knowledge of W first; rules of
	// equal rank in the engine's rule order.
	Rules []KnowledgeRule `json:"rules"`
	// NoiseCeiling is the diagonal of bp against bp of another seed (two or
	// more seeds): how alike two bp runs are, the most a rule can reach.
	NoiseCeiling *DiagonalCKA `json:"noise_ceiling,omitempty"`
}

// KnowledgeRule is one rule's line of Knowledge.
type KnowledgeRule struct {
	Rule string `json:"rule"`
	// Knowledge is the rule's rank (0: W itself; larger: less about W).
	Knowledge int `json:"knowledge"`
	// TestAcc is over every seed, as Table 1 counts them.
	TestAcc MeanCI `json:"test_acc"`
	// CKA is absent for bp (its own reference) and for a rule without a
	// CKA matrix on Subset (analyses off, or every seed left out).
	CKA *DiagonalCKA `json:"cka,omitempty"`
}

// DiagonalCKA is the diagonal of CKA matrices over seeds.
type DiagonalCKA struct {
	// Layers maps each layer to CKA(layer of the rule, same layer of bp).
	Layers map[string]MeanCI `json:"layers"`
	// Mean is each seed's mean of its five diagonal values, over seeds.
	Mean MeanCI `json:"mean"`
}

// MeanCI is a mean over N values (seeds) and the half-width of its
// two-sided 95% Student-t interval, t(0.975, N-1)·s/√N (0 when N < 2).
type MeanCI struct {
	Mean float64 `json:"mean"`
	CI95 float64 `json:"ci95"`
	N    int     `json:"n"`
}
