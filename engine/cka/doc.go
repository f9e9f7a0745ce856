// Package cka measures how alike two sets of neural representations are with
// linear centred kernel alignment (CKA), three ways.
//
// Inputs are feature matrices: n examples × d features, row-major float32
// (Matrix). Two matrices compared must hold the same examples in the same
// order; their widths may differ (conv1 25,600 against fc3 10).
//
// # The estimators
//
// With K = X Xᵀ and L = Y Yᵀ the linear Gram matrices and H = I - 11ᵀ/n:
//
// Linear, the exact biased form (Kornblith et al. 2019):
//
//	CKA = ⟨HKH, HLH⟩_F / (‖HKH‖_F ‖HLH‖_F)
//	    = ‖Yᶜᵀ Xᶜ‖²_F / (‖Xᶜᵀ Xᶜ‖_F ‖Yᶜᵀ Yᶜ‖_F)       (Xᶜ = HX: the feature form)
//
// LinearUnbiased, the exact form with the unbiased HSIC estimator (Song et
// al. 2012), as Nguyen, Raghu & Kornblith (2021) use for CKA, over all n:
//
//	HSIC₁(K,L) = [tr(K~L~) + (1ᵀK~1)(1ᵀL~1)/((n-1)(n-2)) - 2/(n-2) 1ᵀK~L~1] / (n(n-3))
//	CKA = HSIC₁(K,L) / sqrt(HSIC₁(K,K) HSIC₁(L,L))
//
// where K~, L~ are K, L with their diagonals set to zero (docs/paper.md, CKA).
//
// Minibatch, the paper's estimator: o.Passes passes over a seeded shuffle of
// the n examples, each cut into floor(n/o.BatchSize) batches of o.BatchSize
// (the last partial batch is dropped), and
//
//	CKA = Σ_b HSIC₁(K_b, L_b) / sqrt(Σ_b HSIC₁(K_b, K_b) · Σ_b HSIC₁(L_b, L_b))
//
// with K_b, L_b the batch Grams. The paper used batches of 256 and 5 passes
// (DefaultMinibatch); it is the default in the pipeline. Each batch term is
// unbiased, so as batches grow the estimate approaches LinearUnbiased and
// equals it (to rounding) when one batch holds every example.
//
// The *Matrix functions compute [i][j] = CKA(xs[i], ys[j]) for whole models
// (the Compare stage's 5×5 matrices). Each distinct layer's Grams (per tile,
// or per batch) are computed once and reused by every pair; a matrix passed
// twice (the same Data) is processed once. MinibatchMatrix uses one shuffle
// for all pairs, and its entries equal Minibatch's bit for bit.
// ExactMatrices returns the biased and unbiased exact matrices for the cost
// of one. LinearGram and UnbiasedGram apply the same formulas to Gram
// matrices you already have (any kernel); Gram builds a linear one.
//
// # How the Grams are computed, and precision
//
// Features are centred on their column means (float64 means, the centred
// value rounded to float32) before any product: over all n examples for the
// exact forms, over the batch for Minibatch. For Linear this is the H in HKH.
// For HSIC₁ it changes nothing: centring adds a_i + a_j to K_ij, and HSIC₁ is
// a U-statistic of the off-diagonal entries that is exactly invariant to
// K_ij → K_ij + a_i + a_j (every a-term cancels in its four-index kernel).
// Centring keeps large feature offsets out of the float32 products; tests
// check the invariance (adding a constant row vector leaves CKA unchanged).
//
// A Gram tile is built 512 features at a time: each block's product is one
// float32 gemm.Sgemm, and the blocks are summed in float64. So a Gram entry
// carries the float32 rounding of at most 512-term sums (relative error
// about √512·2⁻²⁴ ≈ 1e-6 typical, 512·2⁻²⁴ ≈ 3e-5 worst case relative to
// Σ|x_ik x_jk|), and no more than that however wide the layer. Everything
// downstream (inner products of Grams, row sums, HSIC, the ratio) is float64.
// Measured against a float64 reference, CKA agrees to better than 1e-5.
//
// The exact forms never hold an n×n matrix. The Gram is cut into 512×512
// tiles; only tiles on and above the diagonal are computed (an off-diagonal
// tile counts twice). Per tile and per layer the float64 Gram tile is formed
// once, and the tile's contribution to every pair's ⟨K_a, K_b⟩_F, to the
// diagonal products Σ_i K_a,ii K_b,ii and to each layer's off-diagonal row
// sums K~1 is taken. Those few sums are all the three exact quantities need:
// tr(K~_a K~_b) = ⟨K_a, K_b⟩_F - Σ_i K_a,ii K_b,ii, 1ᵀK~1 = Σ_i (K~1)_i,
// 1ᵀK~_a K~_b 1 = Σ_i (K~_a 1)_i (K~_b 1)_i. No d×d (25,600²) matrix is formed.
//
// # Memory and cost
//
// Beyond the inputs, with L distinct layers and W = GOMAXPROCS goroutines:
//
//   - exact (Linear*, Unbiased*, ExactMatrices): per goroutine L float64
//     tiles of 512² (2 MB each) plus 3 MB of packing; n·L·8 bytes of row
//     sums; 4W tile summaries of L·8 KB. For the Compare stage (n = 15,000,
//     L = 10, W = 2): about 45 MB. Cost: n²/2 · Σ d multiply-adds, e.g.
//     conv1 (d = 25,600) alone 2.9·10¹² (5.8 TFLOP), roughly a minute at
//     100 GFLOP/s, a quarter of an hour with a portable 6 GFLOP/s GEMM.
//   - Minibatch*: per goroutine L float64 Grams of BatchSize² (0.5 MB at 256)
//     plus 1 MB of packing; Passes·n ints of permutations. For the Compare
//     stage about 15 MB. Cost: Passes · floor(n/B) · B² · Σ d multiply-adds,
//     for conv1 at n = 15,000: 5·58·256²·25,600 ≈ 4.9·10¹¹ per model.
//   - Gram returns n²·8 bytes (1.8 GB at n = 15,000). LinearGram and
//     UnbiasedGram take such Grams; LinearGram allocates two more n×n
//     float64 matrices (centred copies). They are for small n and for kernels
//     other than linear; the pipeline does not need them.
//
// # Determinism
//
// Results are bit-identical for given inputs whatever GOMAXPROCS: tiles and
// batches are computed in parallel, but each writes only its own slot, and
// the slots are summed in a fixed order (tile order, batch order). The
// shuffle of pass p is the (p+1)-th Perm(n) of rng.New(o.Seed,
// ShufflePurpose). The authors' shuffle was unseeded (docs/paper.md), so their
// numbers cannot be reproduced to the digit; ours can.
//
// # Errors, panics, NaN
//
// Malformed matrices, differing row counts, empty lists and n < 4 for an
// unbiased exact form are programmer errors and panic with "cka: ".
// Minibatch* return an error when n < BatchSize ("too small") or the
// options are invalid (BatchSize < 4, Passes < 1), since subset sizes come
// from the data. A representation with no variance (constant features), or
// an unbiased self term that is not positive, gives NaN rather than a
// made-up number.
//
// # Papers
//
//   - S. Kornblith, M. Norouzi, H. Lee, G. Hinton. Similarity of Neural
//     Network Representations Revisited. ICML 2019.
//   - T. Nguyen, M. Raghu, S. Kornblith. Do Wide and Deep Networks Learn the
//     Same Things? ICLR 2021 (minibatch CKA with unbiased HSIC).
//   - L. Song, A. Smola, A. Gretton, J. Bedo, K. Borgwardt. Feature Selection
//     via Dependence Maximization. JMLR 2012 (the unbiased HSIC estimator).
package cka
