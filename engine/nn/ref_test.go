package nn

import "math"

// This file is the test oracle: Architecture 1 re-derived in float64 with
// direct loops, sharing no code with the float32 engine.

// convNaive returns out (n,oc,oh,ow) of a valid stride-1 convolution in
// float64 by the definition.
func convNaive(inp, w, b []float64, n, c, h, wd, oc, kh, kw int) []float64 {
	oh, ow := h-kh+1, wd-kw+1
	out := make([]float64, n*oc*oh*ow)
	for s := 0; s < n; s++ {
		for o := 0; o < oc; o++ {
			for y := 0; y < oh; y++ {
				for x := 0; x < ow; x++ {
					sum := b[o]
					for ci := 0; ci < c; ci++ {
						for ky := 0; ky < kh; ky++ {
							wr := w[((o*c+ci)*kh+ky)*kw:][:kw]
							ir := inp[((s*c+ci)*h+y+ky)*wd+x:][:kw]
							for kx, wv := range wr {
								sum += wv * ir[kx]
							}
						}
					}
					out[((s*oc+o)*oh+y)*ow+x] = sum
				}
			}
		}
	}
	return out
}

// convBackwardNaive returns dinp (with kernel fb), dw and db of a valid
// convolution for the error dout, by the definition.
func convBackwardNaive(dout, inp, fb []float64, n, c, h, wd, oc, kh, kw int) (dinp, dw, db []float64) {
	oh, ow := h-kh+1, wd-kw+1
	dinp = make([]float64, n*c*h*wd)
	dw = make([]float64, oc*c*kh*kw)
	db = make([]float64, oc)
	for s := 0; s < n; s++ {
		for o := 0; o < oc; o++ {
			for y := 0; y < oh; y++ {
				for x := 0; x < ow; x++ {
					g := dout[((s*oc+o)*oh+y)*ow+x]
					db[o] += g
					for ci := 0; ci < c; ci++ {
						for ky := 0; ky < kh; ky++ {
							for kx := 0; kx < kw; kx++ {
								wi := ((o*c+ci)*kh+ky)*kw + kx
								ii := ((s*c+ci)*h+y+ky)*wd + x + kx
								dw[wi] += g * inp[ii]
								dinp[ii] += g * fb[wi]
							}
						}
					}
				}
			}
		}
	}
	return dinp, dw, db
}

func linearNaive(inp, w, b []float64, n, in, out int) []float64 {
	y := make([]float64, n*out)
	for s := 0; s < n; s++ {
		for o := 0; o < out; o++ {
			sum := b[o]
			for i := 0; i < in; i++ {
				sum += w[o*in+i] * inp[s*in+i]
			}
			y[s*out+o] = sum
		}
	}
	return y
}

func reluNaive(x []float64) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = math.Max(v, 0)
	}
	return y
}

// poolNaive is a 2×2 stride-2 max-pool over planes of h×w.
func poolNaive(x []float64, planes, h, w int) []float64 {
	oh, ow := h/2, w/2
	y := make([]float64, planes*oh*ow)
	for p := 0; p < planes; p++ {
		for i := 0; i < oh; i++ {
			for j := 0; j < ow; j++ {
				m := math.Inf(-1)
				for dy := 0; dy < 2; dy++ {
					for dx := 0; dx < 2; dx++ {
						m = math.Max(m, x[(p*h+2*i+dy)*w+2*j+dx])
					}
				}
				y[(p*oh+i)*ow+j] = m
			}
		}
	}
	return y
}

// refForward returns the float64 activations of Architecture 1 for params
// theta (layout of Params.Data) and input x (n,3,24,24): pre-ReLU outputs of
// the five layers.
func refForward(theta, x []float64, n int) [NumLayers][]float64 {
	var w, b [NumLayers][]float64
	off := 0
	for l := 0; l < NumLayers; l++ {
		nw := numel(weightShapes[l])
		w[l] = theta[off : off+nw]
		off += nw
		b[l] = theta[off : off+fanOut(l)]
		off += fanOut(l)
	}
	var a [NumLayers][]float64
	a[Conv1] = convNaive(x, w[Conv1], b[Conv1], n, 3, 24, 24, 64, 5, 5)
	h := poolNaive(reluNaive(a[Conv1]), n*64, 20, 20)
	a[Conv2] = convNaive(h, w[Conv2], b[Conv2], n, 64, 10, 10, 64, 5, 5)
	h = poolNaive(reluNaive(a[Conv2]), n*64, 6, 6)
	a[FC1] = linearNaive(h, w[FC1], b[FC1], n, 576, 384)
	a[FC2] = linearNaive(reluNaive(a[FC1]), w[FC2], b[FC2], n, 384, 192)
	a[FC3] = linearNaive(reluNaive(a[FC2]), w[FC3], b[FC3], n, 192, 10)
	return a
}

// refLoss is the mean softmax cross-entropy of refForward in float64.
func refLoss(theta, x []float64, labels []uint8, n int) float64 {
	z := refForward(theta, x, n)[FC3]
	var total float64
	for s := 0; s < n; s++ {
		row := z[s*10 : (s+1)*10]
		m := row[0]
		for _, v := range row {
			m = math.Max(m, v)
		}
		var sum float64
		for _, v := range row {
			sum += math.Exp(v - m)
		}
		total += m + math.Log(sum) - row[labels[s]]
	}
	return total / float64(n)
}

func to64(x []float32) []float64 {
	y := make([]float64, len(x))
	for i, v := range x {
		y[i] = float64(v)
	}
	return y
}

func to32(x []float64) []float32 {
	y := make([]float32, len(x))
	for i, v := range x {
		y[i] = float32(v)
	}
	return y
}
