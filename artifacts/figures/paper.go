package figures

// PaperResult is one row of the paper's Table 1. Accuracies are fractions.
type PaperResult struct {
	BestVal, Test float64
	// BestEpoch is 1-based.
	BestEpoch int
}

// PaperTable1 is the paper's Table 1 (best validation accuracy, its test
// accuracy and epoch, one run per rule), from docs/paper.md "Published
// results (Table 1)".
var PaperTable1 = map[string]PaperResult{
	"bp":          {BestVal: 0.7592, Test: 0.7580, BestEpoch: 45},
	"fa_random":   {BestVal: 0.3614, Test: 0.3577, BestEpoch: 41},
	"fa_toeplitz": {BestVal: 0.4002, Test: 0.4007, BestEpoch: 43},
	"usf_init":    {BestVal: 0.7478, Test: 0.7430, BestEpoch: 50},
	"usf_sn":      {BestVal: 0.7522, Test: 0.7567, BestEpoch: 49},
}

// PaperCKA holds the paper's CKA matrices for subset "all" (Fig. 8), rows
// the rule's layers and columns bp's, both conv1..fc3, from docs/paper.md
// "Full matrices". Values are printed to two decimals in the source.
var PaperCKA = map[string][5][5]float64{
	"fa_random": {
		{.60, .17, .18, .12, .11},
		{.58, .24, .22, .15, .13},
		{.39, .27, .22, .18, .12},
		{.25, .22, .18, .16, .09},
		{.09, .16, .10, .11, .05},
	},
	"fa_toeplitz": {
		{.72, .21, .22, .15, .13},
		{.63, .31, .28, .20, .17},
		{.38, .36, .29, .25, .20},
		{.29, .40, .31, .29, .23},
		{.06, .31, .25, .23, .15},
	},
	"usf_init": {
		{.99, .30, .30, .20, .18},
		{.35, .94, .62, .46, .33},
		{.29, .63, .86, .67, .51},
		{.21, .47, .71, .76, .59},
		{.19, .32, .60, .75, .86},
	},
	"usf_sn": {
		{.99, .30, .30, .20, .19},
		{.24, .93, .57, .41, .26},
		{.31, .58, .83, .61, .44},
		{.22, .42, .67, .77, .60},
		{.20, .29, .56, .74, .87},
	},
}

// PaperSubsetN is the paper's subset sizes for "both_correct" and "bp_only"
// (of 15,000 validation + test images), from docs/paper.md "CKA".
var PaperSubsetN = map[string]map[string]int{
	"both_correct": {"fa_random": 4838, "fa_toeplitz": 5315, "usf_init": 10009, "usf_sn": 10083},
	"bp_only":      {"fa_random": 6538, "fa_toeplitz": 6061, "usf_init": 1367, "usf_sn": 1293},
}
