package nn

import (
	"math"

	"github.com/fabeam/fabeam/engine/gemm"
)

// This file holds the layers as free functions on flat buffers: destination
// first, then inputs, then shape. Shapes use the legend of doc.go. Each
// forward has its backward beside it. Backward functions accumulate into dw
// and db (the model zeroes gradients once per step) and overwrite dinp.

// conv2dForward computes a valid, stride-1 convolution with bias:
//
//	out[s,o,y,x] = b[o] + sum_{ci,ky,kx} w[o,ci,ky,kx] * inp[s,ci,y+ky,x+kx]
//
// out (n,oc,oh,ow), inp (n,c,h,w), w (oc,c,kh,kw), b (oc), with oh = h-kh+1 and
// ow = w-kw+1. col (n*oh*ow, c*kh*kw) receives the im2col matrix and is kept
// for conv2dBackward; nhwc (n*oh*ow, oc) is scratch. The product is one GEMM
// of shape (n*oh*ow) × oc × (c*kh*kw).
func conv2dForward(out, col, nhwc, inp, w, b []float32, n, c, h, wd, oc, kh, kw int) {
	oh, ow := h-kh+1, wd-kw+1
	p, ckk := oh*ow, c*kh*kw
	im2col(col, inp, n, c, h, wd, kh, kw)
	gemm.Sgemm(false, true, n*p, oc, ckk, 1, col, ckk, w, ckk, 0, nhwc, oc)
	for s := 0; s < n; s++ {
		for o := 0; o < oc; o++ {
			dst := out[(s*oc+o)*p : (s*oc+o+1)*p]
			bo := b[o]
			src := nhwc[s*p*oc+o:]
			for i := range dst {
				dst[i] = src[i*oc] + bo
			}
		}
	}
}

// conv2dBackward accumulates the weight and bias gradients of a convolution
// from dout (n,oc,oh,ow) and the forward's col (n*oh*ow, c*kh*kw):
//
//	dw[o,:] += sum_{s,y,x} dout[s,o,y,x] * col[(s,y,x),:]
//	db[o]   += sum_{s,y,x} dout[s,o,y,x]
//
// It leaves dout transposed to (n*oh*ow, oc) in dnhwc, which
// conv2dBackwardInput then reads.
func conv2dBackward(dw, db, dnhwc, dout, col []float32, n, c, h, wd, oc, kh, kw int) {
	oh, ow := h-kh+1, wd-kw+1
	p, ckk := oh*ow, c*kh*kw
	for s := 0; s < n; s++ {
		for o := 0; o < oc; o++ {
			src := dout[(s*oc+o)*p : (s*oc+o+1)*p]
			dst := dnhwc[s*p*oc+o:]
			var sum float32
			for i, v := range src {
				dst[i*oc] = v
				sum += v
			}
			db[o] += sum
		}
	}
	conv2dWeightGrad(dw, dnhwc, &denseSource{x: col, rows: n * p, cols: ckk}, n*p, oc, ckk)
}

// conv2dWeightGrad accumulates dw (oc, ckk) += dnhwcᵀ · col over rows
// positions: the weight-gradient GEMM of conv2dBackward, for callers that
// have already laid the error out position-major (poolReluBackward). col
// is the im2col matrix (rows, ckk) as a gemm.Source: a slice
// (denseSource) or the Model's implicit one (im2colSource), filled into
// the packed B panels.
func conv2dWeightGrad(dw, dnhwc []float32, col gemm.Source, rows, oc, ckk int) {
	gemm.SgemmSourceB(true, false, oc, ckk, rows, 1, dnhwc, oc, col, 1, dw, ckk)
}

// conv2dWeightGradT is conv2dWeightGrad computed as its transpose,
// t (ckk, oc) = colᵀ · dnhwc, then dw += tᵀ; t is scratch of ckk*oc floats.
// Each element is the same sum of the same products in the same order
// (a·b = b·a, and the GEMM's K blocking is the same), so when dw starts at
// zero, as in Model.Backward, the result is bit-identical to
// conv2dWeightGrad's; otherwise it differs only in the rounding of that
// last addition. It pays when ckk is not a multiple of 16 (conv1's 75):
// col is then filled as blocks of a transposed A, and δ (ldb = oc = 64)
// is read in place, where col as B panels of an odd width ran 1.3×
// slower; with oc = 64 columns it splits into two equal jobs on two
// threads. For conv2 (ckk = 1,600) it pays on most cores too; see
// transposedWeightGradPays.
func conv2dWeightGradT(dw, t, dnhwc []float32, col gemm.Source, rows, oc, ckk int) {
	t = t[:ckk*oc]
	gemm.SgemmSourceA(true, false, ckk, oc, rows, 1, col, dnhwc, oc, 0, t, oc)
	addTransposed(dw, t, oc, ckk)
}

// denseSource is a row-major matrix held in a slice (rows × cols, no
// padding) as a gemm.Source, for the definitions above that take col as
// one.
type denseSource struct {
	x          []float32
	rows, cols int
}

// Dims returns the matrix's shape.
func (d *denseSource) Dims() (int, int) { return d.rows, d.cols }

// Fill copies the block [r0:r0+rows, c0:c0+cols] into dst, row i at
// dst[i*ld:].
func (d *denseSource) Fill(dst []float32, ld, r0, rows, c0, cols int) {
	for i := range rows {
		copy(dst[i*ld:i*ld+cols], d.x[(r0+i)*d.cols+c0:])
	}
}

// addTransposed adds tᵀ (t is ckk×oc) to dw (oc×ckk).
func addTransposed(dw, t []float32, oc, ckk int) {
	dw = dw[:oc*ckk]
	for j := 0; j < ckk; j++ {
		for o, v := range t[j*oc : (j+1)*oc] {
			dw[o*ckk+j] += v
		}
	}
}

// conv2dBackwardInput overwrites dinp (n,c,h,w) with the transposed
// convolution of the error with kernel fb (oc,c,kh,kw):
//
//	dinp[s,ci,y+ky,x+kx] = sum_{o,y,x} fb[o,ci,ky,kx] * dout[s,o,y,x]
//
// With fb = w this is the true input gradient. It reads dout in the
// (n*oh*ow, oc) layout conv2dBackward left in dnhwc; dcol (n*oh*ow, c*kh*kw)
// is scratch.
func conv2dBackwardInput(dinp, dcol, dnhwc, fb []float32, n, c, h, wd, oc, kh, kw int) {
	oh, ow := h-kh+1, wd-kw+1
	p, ckk := oh*ow, c*kh*kw
	gemm.Sgemm(false, false, n*p, ckk, oc, 1, dnhwc, oc, fb, ckk, 0, dcol, ckk)
	col2im(dinp, dcol, n, c, h, wd, kh, kw)
}

// im2col writes col (n*oh*ow, c*kh*kw): row (s,y,x) holds the receptive
// field of output position (y,x) of sample s, ordered (ci,ky,kx) like the
// weight's inner dimensions.
func im2col(col, inp []float32, n, c, h, wd, kh, kw int) {
	im2colSamples(col, inp, 0, n, c, h, wd, kh, kw)
}

// col2im overwrites dinp (n,c,h,w) with the sum of dcol's rows scattered
// back onto the positions im2col read them from.
func col2im(dinp, dcol []float32, n, c, h, wd, kh, kw int) {
	col2imSamples(dinp, dcol, 0, n, c, h, wd, kh, kw)
}

// linearForward computes out (n,out) = inp (n,in) · wᵀ + b, with w (out,in)
// and b (out).
func linearForward(out, inp, w, b []float32, n, in, nout int) {
	gemm.Sgemm(false, true, n, nout, in, 1, inp, in, w, in, 0, out, nout)
	for s := 0; s < n; s++ {
		row := out[s*nout : (s+1)*nout]
		for o := range row {
			row[o] += b[o]
		}
	}
}

// linearBackward accumulates dw (out,in) += doutᵀ · inp and
// db (out) += column sums of dout (n,out).
func linearBackward(dw, db, dout, inp []float32, n, in, nout int) {
	gemm.Sgemm(true, false, nout, in, n, 1, dout, nout, inp, in, 1, dw, in)
	for s := 0; s < n; s++ {
		row := dout[s*nout : (s+1)*nout]
		for o, v := range row {
			db[o] += v
		}
	}
}

// linearBackwardInput overwrites dinp (n,in) = dout (n,out) · fb, with fb
// (out,in); fb = w gives the true input gradient. It also serves fa_random's
// dense conv2 operator, with in = c*h*w and out = oc*oh*ow.
func linearBackwardInput(dinp, dout, fb []float32, n, in, nout int) {
	gemm.Sgemm(false, false, n, in, nout, 1, dout, nout, fb, in, 0, dinp, in)
}

// reluForward sets out[i] = max(inp[i], 0). NaN propagates. The max
// builtin compiles branch-free (a data-dependent branch mispredicts on half
// of random inputs, 8× slower); it maps -0 to +0.
func reluForward(out, inp []float32) {
	for i, v := range inp[:len(out)] {
		out[i] = max(v, 0)
	}
}

// reluBackward overwrites dinp[i] = dout[i] where the pre-activation pre[i]
// is positive and 0 elsewhere (the derivative at 0 is taken as 0, as in
// PyTorch). dinp may alias dout. The mask is applied to the bits, so the
// compiler emits a conditional move rather than a branch.
func reluBackward(dinp, dout, pre []float32) {
	dout = dout[:len(dinp)]
	for i, v := range pre[:len(dinp)] {
		var mk uint32
		if v > 0 {
			mk = ^uint32(0)
		}
		dinp[i] = math.Float32frombits(math.Float32bits(dout[i]) & mk)
	}
}

// maxpoolForward computes a ph×pw max-pool with stride (ph,pw) over planes
// independent planes of h×w (planes = n*c): out (planes,oh,ow) with oh = h/ph
// and ow = w/pw (a remainder is dropped, as in PyTorch). arg (planes*oh*ow)
// receives, for each output, the flat index into inp of the maximum; the
// running maximum starts from the window's first element, so all-negative
// windows are right, and ties keep the first maximum in row-major window
// order (PyTorch's CPU kernel does the same). A NaN wins, as in PyTorch.
func maxpoolForward(out []float32, arg []int32, inp []float32, planes, h, w, ph, pw int) {
	oh, ow := h/ph, w/pw
	o := 0
	for pl := 0; pl < planes; pl++ {
		base := pl * h * w
		for y := 0; y < oh; y++ {
			for x := 0; x < ow; x++ {
				bi := base + y*ph*w + x*pw
				best := inp[bi]
				for dy := 0; dy < ph; dy++ {
					for dx := 0; dx < pw; dx++ {
						i := base + (y*ph+dy)*w + x*pw + dx
						if v := inp[i]; v > best || v != v {
							best, bi = v, i
							if v != v {
								goto done
							}
						}
					}
				}
			done:
				out[o] = best
				arg[o] = int32(bi)
				o++
			}
		}
	}
}

// maxpoolBackward overwrites dinp (planes,h,w) with dout (planes,oh,ow)
// routed to the argmax positions the forward recorded, zero elsewhere.
// size is len of the input region (planes*h*w).
func maxpoolBackward(dinp, dout []float32, arg []int32, size int) {
	clear(dinp[:size])
	for o, v := range dout {
		dinp[arg[o]] += v
	}
}

// softmaxCrossEntropy writes probs (n,k) = softmax(logits) and returns the
// mean over the n samples of -log softmax(logits)[label]. The log-sum-exp
// and the mean are accumulated in float64. It panics on a label >= k.
func softmaxCrossEntropy(probs, logits []float32, labels []uint8, n, k int) float64 {
	var total float64
	for s := 0; s < n; s++ {
		z := logits[s*k : (s+1)*k]
		pr := probs[s*k : (s+1)*k]
		mx := float64(z[0])
		for _, v := range z[1:] {
			mx = math.Max(mx, float64(v))
		}
		var sum float64
		for _, v := range z {
			sum += math.Exp(float64(v) - mx)
		}
		lse := mx + math.Log(sum)
		for i, v := range z {
			pr[i] = float32(math.Exp(float64(v) - lse))
		}
		y := int(labels[s])
		if y >= k {
			panic("nn: label out of range")
		}
		total += lse - float64(z[y])
	}
	return total / float64(n)
}

// softmaxCrossEntropyBackward overwrites dlogits (n,k) with the gradient of
// the mean cross-entropy: (probs - onehot(label)) / n.
func softmaxCrossEntropyBackward(dlogits, probs []float32, labels []uint8, n, k int) {
	inv := 1 / float32(n)
	for s := 0; s < n; s++ {
		for i := 0; i < k; i++ {
			g := probs[s*k+i]
			if i == int(labels[s]) {
				g--
			}
			dlogits[s*k+i] = g * inv
		}
	}
}
