package nn

import (
	"fmt"
	"math"

	"github.com/fabeam/fabeam/engine/gemm"
)

// Geometry of Architecture 1 (doc.go): sizes per sample.
const (
	c1Out   = 64 * 20 * 20 // conv1 output (64,20,20)
	p1Out   = 64 * 10 * 10 // pool1 output (64,10,10)
	c2Out   = 64 * 6 * 6   // conv2 output (64,6,6)
	p2Out   = 64 * 3 * 3   // pool2 output, flattened (576)
	fc1Out  = 384
	fc2Out  = 192
	col1Row = 3 * 5 * 5  // conv1 im2col row length (75)
	col2Row = 64 * 5 * 5 // conv2 im2col row length (1600)
)

// Model runs Architecture 1 forward and backward on a batch under a Rule.
// All activation and gradient buffers are carved out of one allocation
// sized for maxBatch at NewModel; a training step (Forward, Loss, Backward)
// allocates nothing. A Model is not safe for concurrent use.
type Model struct {
	// P holds the weights; owned by the caller, may be shared with an
	// optimiser.
	P *Params
	// Grad receives the gradients; Backward zeroes and fills it.
	Grad *Params
	// Rule decides the error delivered to each layer's input (Conv2..FC3),
	// through its operators.
	Rule Rule
	// N is the current batch size, set by Forward.
	N int

	// Pre-ReLU outputs of the linear layers for the current batch, N
	// rows, valid after Forward (the convolutions' are laid out on demand
	// by PreActivation):
	FC1Out []float32 // (n,384)
	FC2Out []float32 // (n,192)
	Logits []float32 // (n,10)

	// Metrics, when true, makes Backward fill Step with the local alignment
	// angles and sign concordance. When false it costs nothing.
	Metrics bool
	// Step holds the metrics of the last Backward with Metrics on.
	Step StepMetrics

	maxBatch int

	// full-size buffers (maxBatch rows); the exported fields are views.
	conv1Buf, conv2Buf, fc1Buf, fc2Buf, logitsBuf []float32

	input  []float32 // (n,3,24,24) Forward's input, read again by conv1's weight gradient
	out1   []float32 // (n*400, 64) conv1's GEMM output (pre-activation without bias), position-major; written only by PreActivation
	nhwc   []float32 // (n*400, 64) scratch: conv errors, position-major
	pool1  []float32 // (n,64,10,10) relu(maxpool(conv1 pre-activation))
	arg1   []int32   // (n,64,10,10) argmax into the conv1 pre-activation (n,64,20,20)
	out2   []float32 // (n*36, 64) conv2's GEMM output, position-major
	pool2  []float32 // (n,576) relu(maxpool(conv2 pre-activation))
	arg2   []int32   // (n,576) argmax into the conv2 pre-activation (n,64,6,6)
	relu3  []float32 // (n,384)
	relu4  []float32 // (n,192)
	probs  []float32 // (n,10)
	labels []uint8   // (n)

	dLogits  []float32 // (n,10)
	dRelu4   []float32 // (n,192)
	dFC2Out  []float32 // (n,192)
	dRelu3   []float32 // (n,384)
	dFC1Out  []float32 // (n,384)
	dPool2   []float32 // (n,576)
	dConv2   []float32 // (n,64,6,6)
	dPool1   []float32 // (n,64,10,10)
	dConv1   []float32 // (n,64,20,20)
	dbPart   []float32 // (n,64) per-sample bias-gradient sums
	dwT      []float32 // (1600,64) a weight gradient, transposed (conv2dWeightGradT): conv1's always, conv2's where it pays
	fbBuf    [NumLayers][]float32
	haveGrad bool
	// dConv1Ready reports that dConv1 holds the transpose of the conv1
	// error Backward left in nhwc.
	dConv1Ready bool
	// convOutReady[i] reports that conv1Buf (i = 0) or conv2Buf (i = 1)
	// holds the pre-activation laid out from out1 or out2 since Forward;
	// convBias[i] is the bias that Forward added (an optimiser may change
	// P before PreActivation is called).
	convOutReady [2]bool
	convBias     [2][64]float32
	// conv1W is conv1's weight as Forward used it: the training step never
	// writes conv1's pre-activation (out1), and PreActivation recomputes
	// it from m.input with these weights.
	conv1W [64 * col1Row]float32

	// The convolutions' im2col matrices, as implicit GEMM operands
	// (implicit.go): conv1's over the input, conv2's over pool1. They are
	// never materialised.
	col1, col2 im2colSource

	// parallel kernels (parallel.go, fused.go)
	par      parallel
	conv1Fwd conv1ForwardTask
	conv2In  conv2InputTask
	// workersFree holds the per-worker states of conv1ForwardTask and
	// conv2InputTask not in use, one per thread that has run them (made on
	// first use).
	workersFree chan *convWorker
	conv2Epi    poolEpilogue // conv2's forward epilogue, handed to the GEMM
	poolBack    poolBackTask
	sigT        signalTask

	// buffers allocated on first use
	mTrue  []float32     // (n,6400): Wᵀδ for the local angle
	denseT []float32     // (6400,n): a dense conv2 operator's product, transposed (denseConv2InputT); on first use
	bpGrad *Params       // bp gradients for UpdateAngles
	bpErr  *errorBuffers // the errors of UpdateAngles' bp pass
}

// StepMetrics are the per-step alignment measurements of docs/paper.md
// ("Gradient alignment", "Sign concordance").
type StepMetrics struct {
	// Angle is the local alignment angle in degrees for Conv2..FC3: per
	// sample, the angle between Wᵀδ and the signal the rule delivers to
	// the layer's input (Bᵀδ, or Bᵀe for a direct operator) for the same
	// error δ at the layer's output, averaged over the samples of the batch; a
	// sample where either vector is zero counts as 90° (its cosine is 0, as
	// in PyTorch's F.cosine_similarity). Conv1 is NaN. For bp it is exactly
	// 0.
	Angle [NumLayers]float64
	// Concordance is the fraction of weights with sign(W) == sign(B0)
	// (sign(0) = 0) for rules with a fixed operator (fa_random's linear
	// layers, all four layers of fa_toeplitz); NaN elsewhere, including
	// fa_random's dense Conv2 whose shape differs from W's.
	Concordance [NumLayers]float64
}

// NewModel returns a model for batches of up to maxBatch images, computing
// with p under rule. It panics if p or rule is nil or maxBatch < 1.
func NewModel(p *Params, rule Rule, maxBatch int) *Model {
	if p == nil || rule == nil {
		panic("nn: NewModel needs parameters and a rule")
	}
	if maxBatch < 1 {
		panic(fmt.Sprintf("nn: NewModel: maxBatch %d < 1", maxBatch))
	}
	n := maxBatch
	sizes := []int{
		n * c1Out, n * c2Out, n * fc1Out, n * fc2Out, n * NumClasses, // activations
		n * inputSize, n * 400 * 64, n * 400 * 64, n * p1Out, n * 36 * 64, n * p2Out, n * fc1Out, n * fc2Out, n * NumClasses, // forward
		n * NumClasses, n * fc2Out, n * fc2Out, n * fc1Out, n * fc1Out, n * p2Out, n * c2Out, n * p1Out, n * c1Out, n * 64, // backward
		col2Row * 64, // dwT (conv2's is the larger)
	}
	total := 0
	for _, s := range sizes {
		total += s
	}
	for l := Conv2; l < NumLayers; l++ {
		total += numel(weightShapes[l])
	}
	buf := make([]float32, total)
	take := func(k int) []float32 {
		s := buf[:k:k]
		buf = buf[k:]
		return s
	}
	m := &Model{P: p, Grad: NewParams(), Rule: rule, maxBatch: n, workersFree: make(chan *convWorker, 64)}
	m.conv1Buf, m.conv2Buf, m.fc1Buf, m.fc2Buf, m.logitsBuf = take(n*c1Out), take(n*c2Out), take(n*fc1Out), take(n*fc2Out), take(n*NumClasses)
	m.input, m.out1, m.nhwc, m.pool1 = take(n*inputSize), take(n*400*64), take(n*400*64), take(n*p1Out)
	m.out2, m.pool2, m.relu3, m.relu4, m.probs = take(n*36*64), take(n*p2Out), take(n*fc1Out), take(n*fc2Out), take(n*NumClasses)
	m.dLogits, m.dRelu4, m.dFC2Out, m.dRelu3, m.dFC1Out = take(n*NumClasses), take(n*fc2Out), take(n*fc2Out), take(n*fc1Out), take(n*fc1Out)
	m.dPool2, m.dConv2, m.dPool1, m.dConv1, m.dbPart = take(n*p2Out), take(n*c2Out), take(n*p1Out), take(n*c1Out), take(n*64)
	m.dwT = take(col2Row * 64)
	for l := Conv2; l < NumLayers; l++ {
		m.fbBuf[l] = take(numel(weightShapes[l]))
	}
	ints := make([]int32, n*p1Out+n*p2Out)
	m.arg1, m.arg2 = ints[:n*p1Out], ints[n*p1Out:]
	m.labels = make([]uint8, n)
	return m
}

// Forward runs the network on x (n,3,24,24) and sets N and the activation
// fields. It panics if n is not in [1, maxBatch] or x is shorter than
// n*3*24*24.
func (m *Model) Forward(x []float32, n int) {
	if n < 1 || n > m.maxBatch {
		panic(fmt.Sprintf("nn: Forward: batch %d outside [1,%d]", n, m.maxBatch))
	}
	if len(x) < n*inputSize {
		panic(fmt.Sprintf("nn: Forward: input has %d values, batch %d needs %d", len(x), n, n*inputSize))
	}
	m.N, m.haveGrad, m.convOutReady = n, false, [2]bool{}
	copy(m.convBias[0][:], m.P.b[Conv1])
	copy(m.convBias[1][:], m.P.b[Conv2])
	m.FC1Out, m.FC2Out, m.Logits = m.fc1Buf[:n*fc1Out], m.fc2Buf[:n*fc2Out], m.logitsBuf[:n*NumClasses]
	p := m.P
	copy(m.input, x[:n*inputSize]) // the caller may change x before Backward
	m.col1 = im2colSource{inp: m.input[:n*inputSize], n: n, c: 3, h: 24, wd: 24, kh: 5, kw: 5}
	m.col2 = im2colSource{inp: m.pool1[:n*p1Out], n: n, c: 64, h: 10, wd: 10, kh: 5, kw: 5}
	copy(m.conv1W[:], p.w[Conv1]) // PreActivation recomputes conv1's product with it
	m.conv1Fwd = conv1ForwardTask{m: m, b: p.b[Conv1]}
	parallelFor(&m.par, n, conv1Chunk, &m.conv1Fwd)
	m.conv1Fwd = conv1ForwardTask{}
	m.convForward(m.out2, m.pool2, m.arg2, &m.col2, p.w[Conv2], p.b[Conv2])
	linearForwardRelu(m.FC1Out, m.relu3, m.pool2, p.w[FC1], p.b[FC1], n, p2Out, fc1Out)
	linearForwardRelu(m.FC2Out, m.relu4, m.relu3, p.w[FC2], p.b[FC2], n, fc1Out, fc2Out)
	linearForward(m.Logits, m.relu4, p.w[FC3], p.b[FC3], n, fc2Out, NumClasses)
}

// convForward runs a 5×5 valid convolution with 64 output channels
// followed by ReLU and 2×2 max-pool (conv2's; conv1's runs per worker,
// conv1ForwardTask), on the input whose im2col matrix is col: one GEMM into
// nhwc (position-major, without the bias) that fills its blocks of col
// from the input as it goes (an implicit GEMM) and hands each finished
// block of rows to the fused epilogue (poolEpilogue, biasReluPool), which
// writes the pooled activations and their argmax while the block is in
// cache. Equal to conv2dForward, reluForward, maxpoolForward;
// PreActivation lays out conv2dForward's out from nhwc.
func (m *Model) convForward(nhwc, pool []float32, arg []int32, col *im2colSource, w, b []float32) {
	const oc = 64
	rows, ckk := col.Dims()
	o := col.h - col.kh + 1
	m.conv2Epi = newPoolEpilogue(pool, arg, nhwc, b, 0, oc, o, o)
	gemm.SgemmSourceAFused(gemm.Fuse{Epilogue: &m.conv2Epi}, false, true, rows, oc, ckk, 1, col, w, ckk, 0, nhwc, oc)
	m.conv2Epi = poolEpilogue{} // drop references
}

// convBackward is the backward of convForward up to the weight and bias
// gradients: pool and ReLU backward fused with the transpose to m.nhwc
// (poolReluBackward, parallel over samples) writing dpre, then the bias
// sums and the weight-gradient GEMM, which reads the im2col matrix col
// through its blocks, as the forward did. m.nhwc keeps the error for
// conv2Feedback.
func (m *Model) convBackward(dw, db, dpre, dpool []float32, arg []int32, pooled []float32, col *im2colSource, n int) {
	const oc = 64
	rows, ckk := col.Dims()
	o := col.h - col.kh + 1
	m.poolBack = poolBackTask{dpre: dpre, dnhwc: m.nhwc, dbPart: m.dbPart, dpool: dpool, arg: arg, pooled: pooled, oc: oc, oh: o, ow: o}
	parallelFor(&m.par, n, 1, &m.poolBack)
	m.poolBack = poolBackTask{}
	addBiasGrad(db, m.dbPart, n, oc)
	if ckk%16 != 0 || transposedWeightGradPays() {
		conv2dWeightGradT(dw, m.dwT, m.nhwc, col, rows, oc, ckk) // always conv1 (ckk = 75)
	} else {
		conv2dWeightGrad(dw, m.nhwc, col, rows, oc, ckk)
	}
}

// transposedWeightGradPays reports whether conv2's weight gradient (ckk =
// 1,600, a multiple of 16) is faster computed transposed on this machine
// (colᵀ·δ, the implicit col as a transposed A, where δᵀ·col fills it as B
// panels). Both give the same bits (dw starts at zero), so the choice is
// speed alone. Measured one thread, batch 128: with the implicit operands
// on AMD Zen 5 (BenchmarkConvProducts), transposed 170–178 GFLOP/s
// against 134–143, on AMD Zen 4 88–93 against 76–77; before them (col materialised, bench/RESULTS.md)
// 148–187 against 92–106 there, 54 against 43 on an Intel Xeon with the
// AVX2 kernel, and only an Intel Xeon with the AVX-512 kernel slower
// transposed (50 against 72–74, untransposed packing B row by row from
// memory). That last case has not been measured with the implicit
// operands, which read neither form from memory; it keeps the old choice
// until it is. bench/choices times both forms, and transposedDensePays's,
// on any machine.
func transposedWeightGradPays() bool {
	return gemm.Kernel() != "avx512" || gemm.Vendor() != "Intel"
}

// Loss returns the mean softmax cross-entropy of the current batch against
// labels (at least N of them, each < 10), accumulated in float64, and
// caches the probabilities and labels for Backward.
func (m *Model) Loss(labels []uint8) float64 {
	if len(labels) < m.N {
		panic(fmt.Sprintf("nn: Loss: %d labels for a batch of %d", len(labels), m.N))
	}
	copy(m.labels, labels[:m.N])
	return softmaxCrossEntropy(m.probs, m.Logits, m.labels, m.N, NumClasses)
}

// Backward zeroes Grad and backpropagates the loss of the last Forward and
// Loss under m.Rule. With Metrics on it also fills Step.
func (m *Model) Backward() {
	softmaxCrossEntropyBackward(m.dLogits, m.probs, m.labels, m.N, NumClasses)
	m.backward()
}

// BackwardFromLogits is Backward with the caller's gradient of the loss with
// respect to the logits, dlogits (N,10), instead of the cross-entropy's.
// Saliency uses it (with a one-hot dlogits and the bp rule) to get
// d logit / d activation from PreActivationGrad.
func (m *Model) BackwardFromLogits(dlogits []float32) {
	if len(dlogits) < m.N*NumClasses {
		panic(fmt.Sprintf("nn: BackwardFromLogits: %d values, batch %d needs %d", len(dlogits), m.N, m.N*NumClasses))
	}
	copy(m.dLogits, dlogits[:m.N*NumClasses])
	m.backward()
}

// backward is Forward reversed, line for line, starting from dLogits.
func (m *Model) backward() {
	n, g := m.N, m.Grad
	if n == 0 {
		panic("nn: Backward before Forward")
	}
	g.zero()
	dl := m.dLogits[:n*NumClasses]
	linearBackward(g.w[FC3], g.b[FC3], dl, m.relu4, n, fc2Out, NumClasses)
	m.linearFeedback(FC3, m.dRelu4, dl, n, fc2Out, NumClasses)
	reluBackward(m.dFC2Out[:n*fc2Out], m.dRelu4, m.FC2Out)
	linearBackward(g.w[FC2], g.b[FC2], m.dFC2Out[:n*fc2Out], m.relu3, n, fc1Out, fc2Out)
	m.linearFeedback(FC2, m.dRelu3, m.dFC2Out, n, fc1Out, fc2Out)
	reluBackward(m.dFC1Out[:n*fc1Out], m.dRelu3, m.FC1Out)
	linearBackward(g.w[FC1], g.b[FC1], m.dFC1Out[:n*fc1Out], m.pool2, n, p2Out, fc1Out)
	m.linearFeedback(FC1, m.dPool2, m.dFC1Out, n, p2Out, fc1Out)
	m.convBackward(g.w[Conv2], g.b[Conv2], m.dConv2, m.dPool2, m.arg2, m.pool2, &m.col2, n)
	m.conv2Feedback(n)
	// Conv1's pre-activation gradient is needed by no later step; it is
	// left position-major in m.nhwc and laid out by PreActivationGrad.
	m.convBackward(g.w[Conv1], g.b[Conv1], nil, m.dPool1, m.arg1, m.pool1, &m.col1, n)
	m.dConv1Ready = false
	m.haveGrad = true
	if m.Metrics {
		m.Step.Angle[Conv1] = math.NaN()
		m.Step.Concordance[Conv1] = math.NaN()
	}
}

// linearFeedback delivers the error to linear layer l's input dinp (n,in)
// under the rule — dout (n,out), the error at l's output, carried back
// through the rule's operator, or for a direct operator the output error —
// and measures the step metrics if asked: they always compare with Wᵀ·dout.
func (m *Model) linearFeedback(l int, dinp, dout []float32, n, in, nout int) {
	w := m.P.w[l]
	op := m.Rule.Operator(l, w, m.fbBuf[l])
	if op.Direct {
		linearBackwardInput(dinp, m.dLogits, op.B, n, in, NumClasses)
	} else {
		linearBackwardInput(dinp, dout, op.B, n, in, nout)
	}
	if !m.Metrics {
		return
	}
	m.Step.Concordance[l] = concordance(w, op)
	if aliases(op.B, w) {
		m.Step.Angle[l] = 0
		return
	}
	t := m.metricsBuf()
	linearBackwardInput(t, dout, w, n, in, nout)
	m.Step.Angle[l] = meanRowAngle(t, dinp, n, in)
}

// conv2Feedback delivers the error to Conv2's input dPool1 under the rule:
// dConv2 carried back through the rule's operator, or for a direct operator
// the output error; conv2dBackward has left dConv2 in m.nhwc, where the
// metrics read it.
func (m *Model) conv2Feedback(n int) {
	w := m.P.w[Conv2]
	op := m.Rule.Operator(Conv2, w, m.fbBuf[Conv2])
	if op.Direct {
		linearBackwardInput(m.dPool1, m.dLogits, op.B, n, p1Out, NumClasses)
	} else if op.Dense {
		m.denseConv2Input(m.dPool1, op.B, n)
	} else {
		m.conv2BackwardInput(m.dPool1, op.B, n)
	}
	if !m.Metrics {
		return
	}
	m.Step.Concordance[Conv2] = concordance(w, op)
	if aliases(op.B, w) {
		m.Step.Angle[Conv2] = 0
		return
	}
	t := m.metricsBuf()
	m.conv2BackwardInput(t, w, n)
	m.Step.Angle[Conv2] = meanRowAngle(t, m.dPool1, n, p1Out)
}

// conv2BackwardInput is conv2dBackwardInput for Conv2 with kernel fb,
// reading the error from m.nhwc, parallel over samples (conv2InputTask):
// each worker multiplies a chunk of col2Chunk samples' errors into its own
// dcol scratch (gemm.SgemmFused, serial), and the GEMM hands each sample's
// finished rows to col2im (col2imEpilogue) while they are in cache, where
// the whole batch's dcol (29 MB at batch 128) went to memory and back.
// Each row of dcol is the same dot products whatever the chunk (K = 64 is
// one K block, and the GEMM's result never depends on how M is cut), and
// col2im adds each sample's rows in the same order, so the bits are those
// of one product over the batch followed by col2im.
func (m *Model) conv2BackwardInput(dinp, fb []float32, n int) {
	m.conv2In = conv2InputTask{m: m, dinp: dinp, fb: fb}
	parallelFor(&m.par, n, col2Chunk, &m.conv2In)
	m.conv2In = conv2InputTask{}
}

// col2Chunk is how many samples a worker of conv2BackwardInput carries
// back at a time: their dcol rows (col2Chunk × 36 × 1,600 floats, 0.9 MB)
// stay in cache between the GEMM that writes them and the col2im that
// reads them. On AMD Zen 5, 2 to 8 ran within noise of each other and 1
// was slower (bench/raw/2026-12-03-amd-avx512-go-col2chunk.txt).
const col2Chunk = 4

// conv2InputTask is conv2BackwardInput over a range of samples.
type conv2InputTask struct {
	m        *Model
	dinp, fb []float32
}

func (t *conv2InputTask) run(lo, hi int) {
	m := t.m
	w := m.getWorker()
	dcol := w.buf[:col2Chunk*36*col2Row]
	for s0 := lo; s0 < hi; s0 += col2Chunk {
		k := min(col2Chunk, hi-s0)
		w.col2im = col2imEpilogue{dinp: t.dinp[s0*p1Out:], dcol: dcol}
		gemm.SgemmFused(gemm.Fuse{Epilogue: &w.col2im, Serial: true}, false, false, k*36, col2Row, 64, 1, m.nhwc[s0*36*64:], 64, t.fb, col2Row, 0, dcol, col2Row)
	}
	w.col2im = col2imEpilogue{}
	m.putWorker(w)
}

// convWorker is one worker's state for the per-chunk convolution tasks:
// its scratch (conv2InputTask's dcol rows, or conv1ForwardTask's GEMM
// output) and the chunk's operand and epilogue, which live here rather
// than on the worker's stack so that handing them to the GEMM as
// interfaces allocates nothing.
type convWorker struct {
	buf    []float32
	col    im2colSource
	pool   poolEpilogue
	col2im col2imEpilogue
}

// scratchSize is the floats of one worker's scratch.
const scratchSize = max(col2Chunk*36*col2Row, conv1Chunk*400*64)

// getWorker returns a worker's state: a free one, or a new one when every
// one made so far is in use (at most one per thread that runs the tasks'
// pieces at once, so a steady state allocates nothing up to 64 threads).
func (m *Model) getWorker() *convWorker {
	select {
	case w := <-m.workersFree:
		return w
	default:
		return &convWorker{buf: make([]float32, scratchSize)}
	}
}

// putWorker returns a state that getWorker handed out.
func (m *Model) putWorker(w *convWorker) {
	select {
	case m.workersFree <- w:
	default: // more threads than the channel holds: let it go
	}
}

// conv1ForwardTask is conv1's forward (convolution, bias, ReLU, 2×2
// max-pool into pool1 and arg1) over a range of samples, conv1Chunk
// samples at a time on each worker: a serial implicit GEMM fills its
// blocks of the chunk's im2col rows from the input (im2colSource.Fill),
// multiplies them by the weight into the worker's scratch, and hands each
// finished block of rows to the epilogue (poolEpilogue, biasReluPool)
// while it is in cache, where a product over the whole batch wrote
// conv1's 13 MB output to memory for the epilogue to read back. Each
// output element is the same dot product whatever the chunk (K = 75 is
// one K block, and M cuts never change a GEMM's result), so pool1 and
// arg1 have the bits of one product over the batch.
type conv1ForwardTask struct {
	m *Model
	b []float32
}

func (t *conv1ForwardTask) run(lo, hi int) {
	const oc, p = 64, 400
	m := t.m
	w := m.getWorker()
	out := w.buf[:conv1Chunk*p*oc]
	for s0 := lo; s0 < hi; s0 += conv1Chunk {
		k := min(conv1Chunk, hi-s0)
		w.col = im2colSource{inp: m.input[s0*inputSize : (s0+k)*inputSize], n: k, c: 3, h: 24, wd: 24, kh: 5, kw: 5}
		w.pool = newPoolEpilogue(m.pool1, m.arg1, out, t.b, s0, oc, 20, 20)
		gemm.SgemmSourceAFused(gemm.Fuse{Epilogue: &w.pool, Serial: true}, false, true, k*p, oc, col1Row, 1, &w.col, m.conv1W[:], col1Row, 0, out, oc)
	}
	w.col, w.pool = im2colSource{}, poolEpilogue{}
	m.putWorker(w)
}

// conv1Chunk is how many samples a worker of conv1ForwardTask computes at
// a time: their GEMM output (conv1Chunk × 400 × 64 floats, 0.4 MB) stays
// in cache.
const conv1Chunk = 4

// denseConv2Input is linearBackwardInput(dinp, m.dConv2, fb, n, p1Out,
// c2Out) for a dense conv2 operator (fa_random's B0, 2,304 × 6,400),
// computed transposed where that is faster (denseConv2InputT).
func (m *Model) denseConv2Input(dinp, fb []float32, n int) {
	if !transposedDensePays() {
		linearBackwardInput(dinp, m.dConv2, fb, n, p1Out, c2Out)
		return
	}
	if m.denseT == nil {
		m.denseT = make([]float32, p1Out*m.maxBatch)
	}
	denseConv2InputT(dinp, m.denseT, m.dConv2, fb, n)
}

// denseConv2InputT is linearBackwardInput(dinp, dout, fb, n, p1Out,
// c2Out) computed as its transpose: t (p1Out, n) = fbᵀ·doutᵀ, which reads
// the 59 MB fb in place as a transposed A where the plain product packs
// it as B, then dinp = tᵀ; t is scratch of p1Out*n floats. Each element
// is the same sum of the same products in the same order (a fused
// multiply-add's product commutes, and the K blocks are the same), and
// dinp is overwritten, so the bits are linearBackwardInput's.
func denseConv2InputT(dinp, t, dout, fb []float32, n int) {
	t = t[:p1Out*n]
	gemm.Sgemm(true, true, p1Out, n, c2Out, 1, fb, p1Out, dout, c2Out, 0, t, n)
	nhwcToNCHW(dinp, t, 1, n, p1Out) // (p1Out, n) → (n, p1Out)
}

// transposedDensePays reports whether denseConv2InputT is faster here
// than the plain product. On AMD Zen 5 with the AVX-512 kernel it runs at
// 145–170 GFLOP/s against 120–123 (one thread; bench/raw/
// 2026-12-03-amd-avx512-go-farandom-dxT.txt), on AMD Zen 4 at 92–94
// against 78–80 (BenchmarkGemm/farandom_*). On an Intel Xeon with the
// AVX-512 kernel a large matrix read in place as a transposed A was the
// slower form (conv2's weight gradient on the materialised im2col matrix,
// see transposedWeightGradPays), so there the plain product stays until
// this one is measured. Either way the bits are the same.
func transposedDensePays() bool {
	return gemm.Kernel() != "avx512" || gemm.Vendor() != "Intel"
}

func (m *Model) metricsBuf() []float32 {
	if m.mTrue == nil {
		m.mTrue = make([]float32, m.maxBatch*p1Out)
	}
	return m.mTrue
}

// PreActivation returns the N rows of layer l's pre-ReLU output: for the
// convolutions (N,64,20,20) and (N,64,6,6), laid out from the forward's
// position-major copy on the first call after each Forward (a training
// step does not need them); for the linear layers the exported FC1Out,
// FC2Out and Logits. Valid after Forward; the slice is the Model's and
// changes with the next Forward.
func (m *Model) PreActivation(l int) []float32 {
	switch l {
	case Conv1:
		if m.N > 0 && !m.convOutReady[0] {
			// The product Forward computed chunk by chunk, again over the
			// batch (the same bits): Forward kept its input and weights.
			gemm.SgemmSourceA(false, true, m.N*400, 64, col1Row, 1, &m.col1, m.conv1W[:], col1Row, 0, m.out1, 64)
		}
		return m.convOut(0, m.conv1Buf, m.out1, 400)
	case Conv2:
		return m.convOut(1, m.conv2Buf, m.out2, 36)
	case FC1:
		return m.FC1Out
	case FC2:
		return m.FC2Out
	case FC3:
		return m.Logits
	}
	panic(fmt.Sprintf("nn: PreActivation: layer %d out of range", l))
}

// convOut lays out convolution i's pre-activation (N,64,p) in dst from its
// GEMM output nhwc and the bias of the Forward, once per Forward.
func (m *Model) convOut(i int, dst, nhwc []float32, p int) []float32 {
	if m.N == 0 {
		panic("nn: PreActivation before Forward")
	}
	dst = dst[:m.N*64*p]
	if !m.convOutReady[i] {
		biasToNCHW(dst, nhwc, m.convBias[i][:], 0, m.N, 64, p)
		m.convOutReady[i] = true
	}
	return dst
}

// PreActivationGrad returns the gradient with respect to layer l's pre-ReLU
// output, N rows of the same shape as PreActivation(l), as carried back by
// the rule. Valid after Backward or BackwardFromLogits. It panics before.
// Conv1's is laid out from the position-major copy Backward keeps on the
// first call after each Backward (a training step does not need it).
func (m *Model) PreActivationGrad(l int) []float32 {
	if !m.haveGrad {
		panic("nn: PreActivationGrad before Backward")
	}
	n := m.N
	switch l {
	case Conv1:
		if !m.dConv1Ready {
			nhwcToNCHW(m.dConv1, m.nhwc, n, 64, 400)
			m.dConv1Ready = true
		}
		return m.dConv1[:n*c1Out]
	case Conv2:
		return m.dConv2[:n*c2Out]
	case FC1:
		return m.dFC1Out[:n*fc1Out]
	case FC2:
		return m.dFC2Out[:n*fc2Out]
	case FC3:
		return m.dLogits[:n*NumClasses]
	}
	panic(fmt.Sprintf("nn: PreActivationGrad: layer %d out of range", l))
}

// Predict writes the argmax of each of the N rows of logits into dst
// (reusing its storage when large enough; ties go to the lower class) and
// returns it.
func (m *Model) Predict(dst []int) []int {
	if cap(dst) < m.N {
		dst = make([]int, m.N)
	}
	dst = dst[:m.N]
	for s := range dst {
		row := m.Logits[s*NumClasses : (s+1)*NumClasses]
		best := 0
		for k, v := range row {
			if v > row[best] {
				best = k
			}
		}
		dst[s] = best
	}
	return dst
}

// Correct returns how many of the N samples' argmax logits equal labels.
func (m *Model) Correct(labels []uint8) int {
	c := 0
	for s := 0; s < m.N; s++ {
		row := m.Logits[s*NumClasses : (s+1)*NumClasses]
		best := 0
		for k, v := range row {
			if v > row[best] {
				best = k
			}
		}
		if best == int(labels[s]) {
			c++
		}
	}
	return c
}
