// Package saliency computes the paper's Grad-CAM-style channel importance
// and top-activating exemplars (docs/paper.md, "Channel importance and
// exemplars").
//
// # What it computes
//
// A model's weights, whatever rule trained them, are loaded into a plain bp
// network (nn.NewRule("bp")), so every gradient here is the true gradient.
// For an image i with logits z_i and predicted class k_i = argmax z_i, and a
// layer's pre-ReLU output a_i (C channels × S positions: conv2 64×36, conv1
// 64×400), the upstream gradient is one-hot at k_i — the logit itself, not
// the softmax or the loss — and
//
//	g_ic = (1/S) Σ_s ∂z_i[k_i] / ∂a_i[c,s]      (spatial mean of the gradient)
//	m_ic = (1/S) Σ_s a_i[c,s]                   (spatial mean of the activation)
//	importance_c = (1/N) Σ_i | g_ic · m_ic |    (over the N images of the class)
//
// Analyze takes the images of Options.Class (5, dog: the class where both FA
// rules lose most against bp), keeps the Options.TopChannels (3) most
// important channels per layer, and for each the Options.Exemplars (9)
// images of the whole test set with the highest m_ic (pre-ReLU, so negative
// values rank too). Stats exposes g and m per image; MeanActivations and
// TopActivating the forward-only part.
//
// Each image's gradient depends on that image only (BackwardFromLogits takes
// the one-hot directly, with no 1/batch factor), so the batch size changes
// nothing but speed; the hand-built test checks batches 1, 2, 3 and 128.
//
// # Decisions where the paper was silent
//
//   - Layers are reported in Options.Layers order; the default is conv2 (the
//     paper's figure) then conv1 (mentioned in its text).
//   - Ranking (channels and exemplars): descending, ties to the lower index,
//     NaN last (TopK). So the result is deterministic even for dead channels
//     whose importance is exactly 0.
//   - The predicted class is the argmax of the float32 logits, ties to the
//     lower class (nn.Model.Predict).
//   - All reductions are float64 in a fixed order (image, then position), so
//     results are bit-reproducible for a given gemm.
//   - Exemplars are chosen among all test images handed to Analyze (all
//     classes), as in the paper's figure, not only the dogs.
//
// # Memory and cost
//
// One nn.Model at the batch size (about 1 MB per image of batch: roughly
// 130 MB at 128), plus n×C float64 per layer for the activation means
// (10,000 × 64 × 8 B = 5 MB) and the dog images' copy (1,000 × 6.9 kB).
// Cost: one forward+backward over the class images and one forward over the
// test set.
//
// # Tests
//
// A hand-built network (most weights zero, exact dyadic values) whose
// predictions, gradients, activations, importances and exemplars are worked
// out in the test's comments, compared element by element; and a float64
// direct-loop re-derivation of the network, against which the spatial-mean
// gradients are checked by central finite differences on every channel of
// conv1 and conv2.
package saliency
