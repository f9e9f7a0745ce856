// Package nn is fabeam's neural-network engine: Architecture 1 of the study
// (docs/paper.md), its forward and backward passes in float32, the paper's
// five learning rules and four more, softmax cross-entropy, Adam, and the
// alignment metrics. It imports only engine/rng and engine/gemm; no Beam.
//
// # Architecture 1
//
//	input (3,24,24)
//	conv1 5×5 3→64 valid, bias   (64,20,20)           → ReLU → maxpool 2×2 → (64,10,10)
//	conv2 5×5 64→64 valid, bias  (64,6,6)             → ReLU → maxpool 2×2 → (64,3,3) → flatten (C,H,W) 576
//	fc1 576→384                  FC1Out   (384)       → ReLU
//	fc2 384→192                  FC2Out   (192)       → ReLU
//	fc3 192→10                   Logits   (10)
//
// 404,746 parameters (NumParams) in one []float32 in PyTorch state_dict
// order (Params). Initialisation is PyTorch's default, U(±1/sqrt(fan_in))
// for weights and biases, fan_in = 75, 1600, 576, 384, 192. The loss is
// softmax cross-entropy averaged over the batch.
//
// # Buffer shapes
//
// Every buffer is a flat row-major []float32; its shape is written in a
// comment with this legend:
//
//	n      batch            c      input channels    h, w    input height, width
//	oc     output channels  kh,kw  kernel size       oh,ow   output size (h-kh+1, w-kw+1)
//	k      classes (10)     in,out linear layer sizes
//
// Convolution weights are (oc,c,kh,kw), linear weights (out,in): PyTorch's
// layouts, so checkpoints load into PyTorch unchanged.
//
// # Kernels
//
// Layers are free functions, destination first (conv2dForward,
// conv2dBackward, conv2dBackwardInput, linearForward, linearBackward,
// linearBackwardInput, reluForward/Backward, maxpoolForward/Backward,
// softmaxCrossEntropy/Backward). Backward functions accumulate dw and db
// (the model zeroes Grad once per step) and overwrite dinp. Convolutions
// are defined as im2col + one gemm.Sgemm over the whole batch,
// position-major:
//
//	col (n*oh*ow, c*kh*kw) · wᵀ → (n*oh*ow, oc) → transposed to (n,oc,oh,ow)
//	dw  += doutᵀ(oc, n*oh*ow) · col
//	dcol = dout(n*oh*ow, oc) · B(oc, c*kh*kw) → col2im → dinp (n,c,h,w)
//
// so the GEMM shapes at batch 128 are 51,200×64×75 (conv1) and
// 4,608×64×1,600 (conv2). The Model never materialises col: its forward
// and weight-gradient GEMMs read it as an implicit operand (see Speed). A direct-loop float64 convolution in the tests is
// the oracle. Max-pool starts each window's running maximum at the window's
// first element (right for all-negative windows), keeps the first maximum on
// ties, lets NaN win (as PyTorch), and caches the argmax for backward.
//
// Model.Forward is a flat list of kernel calls; Model.Backward is the same
// list reversed. All activation buffers come from one allocation in
// NewModel; a training step allocates nothing (tested, also at batch 128
// and GOMAXPROCS 2). With Metrics on, a (maxBatch, 6400) buffer is
// allocated once, on first use.
//
// # Speed
//
// The Model runs fused versions of the kernels above (fused.go); the plain
// ones stay as the definitions and the tests' oracles, and every fused
// kernel is tested against them bit for bit (bias sums: to float32
// rounding):
//
//   - biasReluPool: the conv GEMM's epilogue (bias), ReLU and 2×2
//     max-pool in one pass that reads the GEMM's position-major output in
//     order, a window's four positions being four rows of 64 contiguous
//     channels. The NCHW pre-activation is not written by a training
//     step: PreActivation lays it out (biasToNCHW, the same nhwc+b) on
//     demand, which halved the epilogue's time. On amd64 with AVX2 each
//     window runs eight channels at a time in assembly (poolWindowAVX2,
//     three times faster again), with MXCSR at Go's default so every sum
//     rounds as the loop's; a sample with a NaN goes to the loop, whose
//     max propagates it. relu(max) = max(relu), so
//     the pool takes the maximum of the pre-activation; its argmax then
//     differs from the plain chain's only in windows whose maximum is <= 0,
//     where ReLU's derivative sends nothing back either way. No ReLU
//     output buffer exists for the convolutions.
//   - poolReluBackward: max-pool backward, ReLU backward (mask read from
//     the pooled output: pooled > 0 ⇔ pre[arg] > 0), and the transpose to
//     the position-major layout of the weight-gradient GEMM in one
//     scatter, with per-(sample,channel) bias sums added in sample order.
//     Conv1's NCHW pre-activation gradient is not needed by the step; it
//     is laid out from that copy by PreActivationGrad on demand.
//   - Implicit GEMM (implicit.go): the im2col matrices (15 MB for conv1,
//     29 MB for conv2 at batch 128) are never written. The forward
//     product and the weight gradient take col as a gemm.Source
//     (im2colSource), and the GEMM asks for each block it packs (at most
//     96 rows × 256 of K) to be filled from the input straight into a
//     buffer that stays in cache; the kernel then reads A from that
//     buffer instead of from memory. The filled values are im2col's and
//     the GEMM's blocking is unchanged, so every product has the same bits
//     as on the materialised matrix (tested at the network's shapes with
//     every kernel, at 1 and 2 threads). Each block fill copies a 5×5
//     kernel row with one 16-byte and one 4-byte move, in assembly on
//     amd64, for all positions of an output row at once, whole channels
//     five kernel rows a loop turn (im2col5Block, 1.1–1.5× faster than
//     one a turn;
//     portable: five moves in registers, since a [5]float32 assignment
//     compiles to a memmove call). The matrix is filled twice per step
//     (forward, weight gradient) where it used to be written once and
//     read twice from memory, and the kernel, reading A from cache, ran
//     faster: on AMD Zen 5 a one-thread bp step gained 10–20% in
//     alternated runs (with the AVX-512 col2im below), and the Model
//     holds 44 MB less at batch 128.
//     Forward keeps its own copy of the input (0.9 MB), since conv1's
//     weight gradient reads it again.
//   - The epilogues run inside the GEMMs (epilogue.go): a product given
//     a gemm.Epilogue hands it each block of output rows (at most 96) as
//     soon as the last K block has been added, so biasReluPool reads a
//     block while it is still in the core's cache, one pooled row (two
//     output rows) at a time (poolEpilogue), and conv2's col2im one
//     sample at a time (col2imEpilogue). The arithmetic is the pass's, so
//     the bits are too. conv2's forward is one such product over the
//     batch, its jobs cut into whole pooled rows.
//   - Conv1's forward runs four samples at a time per worker
//     (conv1ForwardTask): a serial implicit GEMM fills the chunk's im2col
//     blocks from the input, multiplies them into the worker's scratch
//     and pools each block of rows as it is finished. A product over the
//     whole batch wrote the 13 MB output to memory for the epilogue to
//     read back. A training step never writes conv1's pre-activation; PreActivation
//     recomputes that product over the batch from Forward's input and a
//     copy of its conv1 weights (the same bits: M cuts never change a
//     GEMM's result).
//   - conv2's col2im (six-wide output rows) holds the ten floats of
//     an image row in registers while the six positions add into it, in
//     the general loop's order (col2im5x6). With AVX-512 it is one vector
//     of ten lanes, to which each position's five values are added under
//     a mask of lanes x..x+4 (col2im5x6AVX512): each lane gets the same
//     additions in the same order, so the same bits, 4× faster in cache.
//     Its loop runs channels innermost: with kernel rows innermost each
//     image row's load waited for the previous row's masked store, whose
//     64-byte span overlaps it, and the vector form was no faster than
//     the scalar one. The error is carried back four samples at a time
//     per worker (conv2BackwardInput: a serial gemm.SgemmFused into the
//     worker's 0.9 MB dcol scratch, whose epilogue scatters each sample's
//     rows as they are finished: no separate col2im pass), where a
//     product over the whole batch wrote 29 MB to memory and col2im read
//     it back; the same bits (M cuts never change a GEMM's result), two
//     threads 10–20% faster a step on AMD Zen 5, and 29 MB less memory.
//     ReLU and its mask compile
//     branch-free (a data-dependent branch mispredicts on half of the
//     inputs: 8× slower).
//   - Conv1's weight gradient is computed transposed (conv2dWeightGradT):
//     colᵀ·δ (75×64) then added transposed into the zeroed gradient, bit
//     for bit the same as δᵀ·col (same products, same order). δ (ldb =
//     64) then needs no packing, and the implicit col1 is filled as a
//     transposed A block; as δᵀ·col the GEMM fills col1 as packed B
//     panels, 1.3× slower (BenchmarkConvProducts, Zen 5).
//     Conv2's is computed transposed too wherever that measured faster:
//     on every CPU but an Intel one running the AVX-512 kernel
//     (transposedWeightGradPays; 1.25× faster as a GEMM on AMD Zen 5
//     and 1.2× on AMD Zen 4 with the implicit col, 1.5–1.6× on Zen 5
//     with the materialised one; slower
//     on the Intel Xeon with the materialised one, not yet measured there
//     with the implicit). The choice changes no bit, so a study moved
//     between machines gets the same numbers.
//
// Between the GEMMs (which parallelise inside engine/gemm) these kernels
// run over samples on a small worker pool of our own (parallel.go),
// GOMAXPROCS pieces; every output element is computed by one piece with
// the same arithmetic, and reductions are split over the output channel,
// so results do not depend on GOMAXPROCS (tested at 1, 2, 5). fa_random's
// dense conv2 feedback is one (n,2304)·(2304,6400) GEMM, computed
// transposed (B0 read in place as a transposed A, then the result
// transposed back; the same bits) where that is faster
// (transposedDensePays: 1.2–1.4× on AMD Zen 5, 1.15–1.2× on Zen 4). Benchmarks:
// BenchmarkTrainStep (images/s and cpu-ms/op per rule; fresh,
// a generated trained state (TrainedState), and with the step metrics;
// engine/train's BenchmarkTrainStepCheckpoint starts from a real study's
// trained models, and its BenchmarkRunEpoch times whole epochs with
// everything a run does between the steps),
// BenchmarkKernels (each fused kernel at batch 128), BenchmarkConvProducts
// (the convolutions' GEMMs, implicit and materialised), BenchmarkEpoch (one
// 45,000-image epoch; FABEAM_BENCH_EPOCH=1); results in bench/RESULTS.md.
//
// # Learning rules
//
// A Rule decides only the error that arrives at each hidden layer's output
// — pool1 (64,10,10) for conv1, pool2 (576) for conv2, relu3 (384) for fc1,
// relu4 (192) for fc2 — and at fc3's input; weight and bias gradients are
// always the ordinary ones, computed from that error. It does so through
// one Operator per layer conv2..fc3, which delivers the error to that
// layer's input (conv1 sends nothing back). A chained operator carries the
// error at the layer's own pre-activation output back through a matrix used
// in place of W; a direct one (Operator.Direct) multiplies the output error
// e = ∂L/∂logits (n,10) by a dense (10, size of the layer's input) matrix,
// skipping every layer above. At fc3 the two coincide (its output error is
// e). The paper's five rules chain:
//
//	rule         conv2                                   fc1..fc3
//	bp           transposed conv with W                  Wᵀ
//	fa_random    dense B0 (2304, 6400), dinp = δ·B0      B0 (W's shape)
//	fa_toeplitz  transposed conv with kernel B0           B0
//	usf_init     transposed conv with |B0|⊙sign(W_t)      |B0|⊙sign(W_t)
//	usf_sn       transposed conv with sign(W_t)·‖W_t‖_F/(‖sign(W_t)‖_F+1e-8)   same
//
// Four rules beyond the paper, as BioTorch (github.com/jsalbert/biotorch)
// defines them, each documented with its maths in its file:
//
//	rule   conv2                                   fc1..fc3
//	usf    transposed conv with s·sign(W_t), s = 1/sqrt(3·fan_in)   same
//	frsf   transposed conv with |M0|⊙sign(W_t), M0 ~ U(±1/sqrt(fan_in)) fixed   same
//	brsf   transposed conv with |M_t|⊙sign(W_t), M_t ~ U(±1/sqrt(fan_in)) redrawn every step   same
//	dfa    direct: e·B (10, 6400) to pool1        direct: e·B (10, 576), (10, 384); fc3 e·B (10, 192) (= FA)
//
// so dfa delivers the output error to every hidden layer's output,
// conv1's included, skipping the layers above; usf, frsf and brsf scale
// sign(W) by the layer's initialisation distribution rather than by σ
// (usf_init) or ‖W‖ (usf_sn). brsf draws M_t from rng.New(seed,
// "feedback/<layer>/step/<t>") for the 1-based optimiser step t the
// training loop gives it (StepRule). RuleSpec.InPaper tells the paper's
// five from these; the paper and quick presets run the five by default.
//
// B0 ~ N(0, σ²) elementwise, drawn at NewRule from rng.New(seed,
// "feedback/"+layer) (so each layer's B0 is independent of the others and of
// creation order). sign(0) = 0. usf_sn uses the Frobenius norm of the whole
// weight tensor, as the authors' code does (their text says spectral). The
// uSF operators are recomputed from W at every backward pass, into a scratch
// buffer the model owns. Rules holding B0 implement FeedbackTensors for
// checkpoints. Rules keep no per-model state (uSF writes into the model's
// scratch), so one Rule value may serve several models concurrently —
// except a StepRule (brsf), which holds the optimiser step it was last
// given and so serves one training run at a time. The
// reference for every rule is the authors' autograd code (docs/paper.md,
// "Learning rules"), which bench/torch_arch1.py mirrors.
//
// # Metrics
//
// With Model.Metrics on, Backward fills Model.Step (docs/paper.md, "Gradient
// alignment", "Sign concordance"):
//
//   - Angle[l], l = conv2..fc3: for the error δ at layer l's output (which
//     itself came back through the rule's operators), per sample the angle
//     between Wᵀδ — what backprop's local step would send to l's input from
//     that δ — and the signal the rule actually delivers there: Bᵀδ for a
//     chained operator, Bᵀe for a direct one (dfa: how well the random
//     projection of the output error agrees with the layer-local backprop
//     step from the error dfa itself gave layer l), arccos of the float64
//     cosine clamped to
//     [-1,1], in degrees, averaged over the batch. A sample where either
//     vector is exactly zero (all-dead ReLUs) counts as 90°: the authors'
//     F.cosine_similarity clamps the norms at eps, which makes its cosine 0.
//     So every step has a value and the series stays aligned with the
//     steps. bp reports exactly 0 (the operator is
//     W itself, detected by identity, no extra work). conv1 is NaN. Cost:
//     one extra transposed conv or product per layer.
//   - Concordance[l]: fraction of entries with sign(W) == sign(B0) for fixed
//     operators of W's shape (fa_random's fc layers, all four of
//     fa_toeplitz); NaN elsewhere, including fa_random's dense conv2 and
//     every direct operator but fc3's (the only one of W's shape).
//
// Beyond the paper:
//
//   - Model.UpdateAngles: per layer (conv1 included), the angle between the
//     rule's gradient and true backprop's for the same batch and weights.
//     Decision: the vector is the layer's weight and bias gradients
//     concatenated (the layer's whole update direction before Adam). It runs
//     a bp backward into a second gradient buffer and a second set of error
//     buffers, so every observable state is as Backward left it (under bp
//     it runs none: the angle is 0 exactly); call it every K steps (the
//     caller chooses K).
//   - FeedbackStats: per layer, the angle between W and B and ‖B‖_F/‖W‖_F.
//     Decision for fa_random's dense conv2: W is compared as the dense
//     Toeplitz matrix T(W) (2304, 6400) of the convolution — the operator bp
//     uses in the same place — computed without building it
//     (‖T(W)‖² = 36‖W‖²).
//
// # Adam
//
// Adam is torch.optim.Adam: betas (0.9, 0.999), eps 1e-8, weight decay
// added to the gradient (L2, not AdamW), bias correction by the number of
// steps taken, arithmetic in float32 like PyTorch's CPU kernel, with 1-β
// taken in float64 and rounded once as torch does. On amd64 with AVX2 the
// step is an assembly kernel (adam_amd64.s), eight lanes at a time.
//
// # Subnormal numbers
//
// Nothing in a training step computes on subnormal floats (|x| < 2^-126).
// Adam's coupled weight decay drives the weights of dead units toward zero,
// and on x86 every multiply or add that reads or produces a subnormal takes
// a microcode assist tens of times slower than normal: a trained state's
// forward pass took six times as long as a fresh one's, Adam's step eight
// times. So the GEMM kernels (engine/gemm) and the Adam kernel run with
// MXCSR's flush-to-zero and denormals-are-zero flags set: a subnormal operand
// reads as zero and a subnormal result is stored as zero. Weights and
// moments therefore reach exactly zero rather than lingering as subnormals.
// The portable Adam step emulates this at its inputs and outputs. This
// departs from IEEE (and PyTorch's default) arithmetic only for values
// below 2^-126: each changes by less than 2^-126 in absolute terms, far
// below the float32 rounding of any value the study reports. PyTorch users
// get the same with torch.set_flush_denormal(True).
//
// # Determinism
//
// No global RNG; all draws come from engine/rng streams. For a given binary
// the same seeds give bit-identical weights (tested), given a deterministic
// gemm. Reductions feeding metrics accumulate in float64; bias gradients
// and the loss are summed in a fixed order.
//
// # Papers
//
// Lillicrap et al., "Random synaptic feedback weights support error
// backpropagation for deep learning", Nat. Commun. 2016 (FA); Liao, Leibo &
// Poggio, "How important is weight symmetry in backpropagation?", AAAI 2016
// (sign-concordant feedback: uSF, frSF, brSF); Nøkland, "Direct feedback
// alignment provides learning in deep neural networks", NeurIPS 2016 (DFA);
// Moskovitz, Litwin-Kumar & Abbott, "Feedback
// alignment in deep convolutional networks", 2018 (uSF variants); Kingma &
// Ba, "Adam", ICLR 2015.
package nn
