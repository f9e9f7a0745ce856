package nn

import "math"

// USFSN is uniform sign-concordant feedback with norm
// matching (Moskovitz, Litwin-Kumar & Abbott, "Feedback alignment in deep
// convolutional networks", 2018; the paper's "uSF (SN)"): the operator is
//
//	B_t = sign(W_t) · ‖W_t‖_F / (‖sign(W_t)‖_F + 1e-8)
//
// recomputed every step, per layer, with the Frobenius norm of the whole
// weight tensor (the paper's text says "spectral"; its code, which produced
// the published numbers, uses Frobenius — docs/paper.md). sign(0) = 0, so
// ‖sign(W)‖_F = sqrt(number of non-zero weights). Both norms are
// accumulated in float64. It has no random tensors.
type USFSN struct{}

var usfSNSpec = RuleSpec{
	Name: "usf_sn", Display: "uSF SN", Family: FamilySignConcordant, InPaper: true, Knowledge: 1,
	PaperGrid:   Grid{LR: []float64{1e-3, 3e-3, 1e-2, 3e-2}},
	PaperChoice: Hyper{LR: 1e-3},
	// No B0: the operator is derived from W at every step.
	DerivedFeedback: weightCount(Conv2),
	PaperDeparture:  "uSF SN normalises with the Frobenius norm of W (as the authors' code does), not the spectral norm the paper's text names.",
	Paper: &PaperNumbers{BestVal: 0.7522, Test: 0.7567, BestEpoch: 49,
		CKA: &[NumLayers][NumLayers]float64{
			{.99, .30, .30, .20, .19},
			{.24, .93, .57, .41, .26},
			{.31, .58, .83, .61, .44},
			{.22, .42, .67, .77, .60},
			{.20, .29, .56, .74, .87},
		},
		SubsetN: map[string]int{"both_correct": 10083, "bp_only": 1293}},
	New: func(float64, uint64) Rule { return USFSN{} },
}

// Name returns "usf_sn".
func (USFSN) Name() string { return "usf_sn" }

// Operator writes the norm-matched sign of w into scratch and returns it.
func (USFSN) Operator(l int, w, scratch []float32) Operator {
	checkFeedbackLayer(l)
	var ss float64
	nz := 0
	for _, v := range w {
		ss += float64(v) * float64(v)
		if v != 0 {
			nz++
		}
	}
	scale := float32(math.Sqrt(ss) / (math.Sqrt(float64(nz)) + 1e-8))
	scratch = scratch[:len(w)]
	for i, v := range w {
		scratch[i] = sign32(v) * scale
	}
	return Operator{B: scratch}
}
