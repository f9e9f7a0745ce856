// Package compare holds the numerics of the Compare stage (docs/paper.md, "CKA"):
// per seed, the bp model against each rule's model by linear CKA on three
// subsets of the images, the bp-against-bp noise ceiling, and per-class test
// accuracy with each rule's deficit against bp. Plain Go, no Beam: the
// pipeline's transforms/compare.go calls it.
//
// # What it computes
//
// ExtractFeatures runs one model over n images (the paper: the 5,000
// validation plus 10,000 test images, centre-cropped) and keeps the raw
// pre-ReLU, pre-pool output of every layer — conv1 25,600-d, conv2 2,304,
// fc1 384, fc2 192, fc3 10 — and the predicted classes.
//
// Subsets splits the images: "all"; "both_correct" (the reference and the
// rule model both right); "bp_only" (the reference right, the rule wrong).
// The paper's sizes (both/bp_only): fa_random 4838/6538, fa_toeplitz
// 5315/6061, usf_init 10009/1367, usf_sn 10083/1293.
//
// CKAMatrices returns, per subset, the subset size and the 5×5 matrix
//
//	M[i][j] = CKA_minibatch(rule layer i, reference layer j)
//
// (rows the rule's layers, columns bp's, as in the paper's figures) from
// cka.MinibatchMatrix: batches of 256, 5 passes, last partial batch dropped,
// unbiased HSIC (Nguyen, Raghu & Kornblith 2021), shuffled by the seeded
// stream of cka.MinibatchOptions.Seed. A subset with fewer images than one
// batch is returned with TooSmall set and no matrix, never dropped.
//
// CeilingPairs lists the noise-ceiling comparisons: with two or more seeds,
// each seed's bp model against bp of the next seed (cyclically); the caller
// runs CKAMatrices on them like any other pair. A rule's matrix is read
// against the ceiling: a value is only as low as two bp runs differing in
// their seed make it.
//
// PerClass returns each rule's per-class test accuracy (mean over seeds),
// the deficit bp − rule per class, and the class with the largest deficit:
// the paper's reason for studying "dog" (class 5) in the saliency analysis.
//
// # Decisions where the paper was silent
//
//   - The reference's predictions define the subsets; for the ceiling the
//     "bp_only" subset is "reference seed right, row seed wrong". The subset
//     name stays "bp_only" (Entry.Subset).
//   - The shuffle seed is the caller's (the pipeline derives it from the
//     run seed); the same options serve all three subsets, each shuffled
//     over its own size, so every subset's batches are reproducible.
//   - Ties for the worst class go to the lower class index. bp's own entry,
//     and every entry when no bp predictions are given, carries no deficit
//     and WorstClassIdx = -1. A class without test images is an error
//     (its accuracy is undefined), not a 0.
//   - Entries of a CKA matrix are NaN when a layer has zero variance on the
//     subset (dead or diverged model); JSON cannot hold NaN, so the stage
//     must drop or flag such entries (or skip diverged models beforehand).
//
// # Memory
//
// One model's features on 15,000 images take 15,000 × 28,890 float32 =
// 1.73 GB (1.54 GB of it conv1). ExtractFeatures holds exactly that plus
// one nn.Model at the batch size (about 1 MB per image of batch). A
// comparison holds two models' features (3.5 GB); the subsets are read in
// place through cka.MinibatchMatrixRows, never copied, so that is the peak.
//
// # Tests
//
// Subsets and PerClass on hand-made examples (deficits, worst class, ties,
// missing bp, missing class); CKAMatrices against single-pair cka.Minibatch
// calls on rows gathered by the test (every element, orientation, sizes,
// TooSmall); a random network against itself on 300 synthetic images gives
// a unit, symmetric diagonal; ExtractFeatures against a model run image by
// image, for several batch sizes.
package compare
