package nn

import "math"

// This file holds the fused kernels the Model runs between GEMMs (doc.go,
// "Speed"). Each computes exactly what a chain of the plain kernels of
// layers.go computes — those stay as the readable definitions and as the
// tests' oracles — with fewer passes over memory and without
// data-dependent branches in the inner loops. They work on a range of
// samples [s0, s1) so that parallelFor can split a batch.

// im2colSamples is im2col for samples [s0, s1): the rows s*oh*ow ..
// (s+1)*oh*ow-1 of col. The Model never materialises the matrix (its GEMMs
// read it through im2colSource); this is the definition those are tested
// against.
func im2colSamples(col, inp []float32, s0, s1, c, h, wd, kh, kw int) {
	oh, ow := h-kh+1, wd-kw+1
	ckk := c * kh * kw
	for s := s0; s < s1; s++ {
		img := inp[s*c*h*wd : (s+1)*c*h*wd]
		r := s * oh * ow
		for y := 0; y < oh; y++ {
			for x := 0; x < ow; x++ {
				row := col[r*ckk : (r+1)*ckk]
				r++
				j := 0
				for ci := 0; ci < c; ci++ {
					for ky := 0; ky < kh; ky++ {
						off := ci*h*wd + (y+ky)*wd + x
						copy(row[j:j+kw], img[off:off+kw])
						j += kw
					}
				}
			}
		}
	}
}

// col2imSamples is col2im for samples [s0, s1): it overwrites their images
// in dinp (n,c,h,w) with the scatter-sum of their rows of dcol.
func col2imSamples(dinp, dcol []float32, s0, s1, c, h, wd, kh, kw int) {
	oh, ow := h-kh+1, wd-kw+1
	ckk := c * kh * kw
	for s := s0; s < s1; s++ {
		img := dinp[s*c*h*wd : (s+1)*c*h*wd]
		clear(img)
		r := s * oh * ow
		if kh == 5 && kw == 5 && ow == 6 {
			col2im5x6(img, dcol[r*ckk:(r+oh*ow)*ckk], c, h, wd, oh)
			continue
		}
		for y := 0; y < oh; y++ {
			for x := 0; x < ow; x++ {
				row := dcol[r*ckk : (r+1)*ckk]
				r++
				j := 0
				for ci := 0; ci < c; ci++ {
					for ky := 0; ky < kh; ky++ {
						off := ci*h*wd + (y+ky)*wd + x
						if kw == 5 {
							dst, src := (*[5]float32)(img[off:]), (*[5]float32)(row[j:])
							dst[0] += src[0]
							dst[1] += src[1]
							dst[2] += src[2]
							dst[3] += src[3]
							dst[4] += src[4]
						} else {
							dst := img[off : off+kw]
							for k, v := range row[j : j+kw] {
								dst[k] += v
							}
						}
						j += kw
					}
				}
			}
		}
	}
}

// col2im5x6 is col2imSamples' inner part for one sample of a 5×5 kernel
// with output rows six wide (conv2's 6×6 over 10×10): img (c,h,wd, ten
// wide) already cleared, dcol the sample's oh*6 rows. It loops kernel row
// by kernel row: the ten floats of the image row that kernel row ky of
// output row y touches are held in registers while the six positions x
// add their five values, and stored once. Every image element receives
// the same additions in the same order as in the general loop (output row
// y ascending, then x ascending: one kernel row of a given y reaches each
// image row), so the results are bit-identical, without the general
// loop's read-modify-write of each float five times over.
func col2im5x6(img, dcol []float32, c, h, wd, oh int) {
	ckk := c * 25
	if usePassAsm && hasAVX512 && wd == 10 && c > 0 && oh > 0 {
		_, _ = img[c*h*wd-1], img[(c-1)*h*wd+(oh+3)*wd+9] // every row written
		_ = dcol[oh*6*ckk-1]
		col2im5x6AVX512(&img[0], &dcol[0], c, h*wd, oh)
		return
	}
	for y := 0; y < oh; y++ {
		rows := dcol[y*6*ckk : (y+1)*6*ckk]
		for ci := 0; ci < c; ci++ {
			for ky := 0; ky < 5; ky++ {
				d := (*[10]float32)(img[ci*h*wd+(y+ky)*wd:])
				j := ci*25 + ky*5
				r0 := (*[5]float32)(rows[j:])
				r1 := (*[5]float32)(rows[ckk+j:])
				r2 := (*[5]float32)(rows[2*ckk+j:])
				r3 := (*[5]float32)(rows[3*ckk+j:])
				r4 := (*[5]float32)(rows[4*ckk+j:])
				r5 := (*[5]float32)(rows[5*ckk+j:])
				d0, d1, d2, d3, d4 := d[0], d[1], d[2], d[3], d[4]
				d5, d6, d7, d8, d9 := d[5], d[6], d[7], d[8], d[9]
				d0, d1, d2, d3, d4 = d0+r0[0], d1+r0[1], d2+r0[2], d3+r0[3], d4+r0[4]
				d1, d2, d3, d4, d5 = d1+r1[0], d2+r1[1], d3+r1[2], d4+r1[3], d5+r1[4]
				d2, d3, d4, d5, d6 = d2+r2[0], d3+r2[1], d4+r2[2], d5+r2[3], d6+r2[4]
				d3, d4, d5, d6, d7 = d3+r3[0], d4+r3[1], d5+r3[2], d6+r3[3], d7+r3[4]
				d4, d5, d6, d7, d8 = d4+r4[0], d5+r4[1], d6+r4[2], d7+r4[3], d8+r4[4]
				d5, d6, d7, d8, d9 = d5+r5[0], d6+r5[1], d7+r5[2], d8+r5[3], d9+r5[4]
				d[0], d[1], d[2], d[3], d[4] = d0, d1, d2, d3, d4
				d[5], d[6], d[7], d[8], d[9] = d5, d6, d7, d8, d9
			}
		}
	}
}

// biasReluPool is the epilogue of a convolution's forward GEMM fused
// with the ReLU and the 2×2 max-pool that follow it, for samples [s0, s1).
// It reads the GEMM's position-major output nhwc (n*oh*ow, oc) and writes
//
//	pool[s,o,py,px] = relu(max of nhwc+b[o] over the 2×2 window)   ((n,oc,oh/2,ow/2))
//	arg[s,o,py,px]  = flat index of that maximum into the pre-ReLU
//	                  output (n,oc,oh,ow) that biasToNCHW lays out
//
// It equals conv2dForward's transpose, reluForward and maxpoolForward(..,
// 2, 2) in sequence: relu is monotone, so the maximum of relu(out) is
// relu(max of out). The argmax is taken on the pre-activation; it differs
// from maxpoolForward's (on relu(out)) only when the window's maximum is
// <= 0, where it picks the first maximum of out instead of the first zero,
// and then poolReluBackward sends no gradient either way (relu' = 0 there).
// Ties keep the first maximum in row-major window order and a NaN wins, as
// in maxpoolForward. The maximum and the argmax are computed branch-free
// (max builtin, conditional moves); a window holding a NaN takes a slow
// exact path.
//
// A window's four positions are four rows of nhwc, each oc contiguous
// channels, so the pass reads the GEMM's output once, in order, and never
// writes the pre-activation: the Model lays that out (biasToNCHW) only
// when PreActivation asks for it. Each value is the same nhwc+b[o] the
// layout computes, so the two agree bit for bit.
func biasReluPool(pool []float32, arg []int32, nhwc, b []float32, s0, s1, oc, oh, ow int) {
	q := (oh / 2) * (ow / 2)
	for s := s0; s < s1; s++ {
		biasReluPoolWindows(pool, arg, nhwc, 0, b, s, 0, q, oc, oh, ow)
	}
}

// biasReluPoolWindows is biasReluPool for the windows [k0, k1) of sample s
// alone (window k is pooled row k/(ow/2), column k%(ow/2)), reading the
// GEMM's output from nhwc, whose first row is sample first's (a worker's
// chunk): the unit poolEpilogue runs as the GEMM finishes its rows.
func biasReluPoolWindows(pool []float32, arg []int32, nhwc []float32, first int, b []float32, s, k0, k1, oc, oh, ow int) {
	p := oh * ow
	pw := ow / 2
	q := (oh / 2) * pw
	b = b[:oc]
	src := nhwc[(s-first)*p*oc : (s-first+1)*p*oc]
	pl := pool[s*oc*q : (s+1)*oc*q]
	al := arg[s*oc*q : (s+1)*oc*q]
	if usePassAsm && hasAVX2 && oc%8 == 0 && k1 > k0 && poolWindowsAVX2(pl, al, src, b, s, oc, ow, p, q, pw, k0, k1) {
		return
	}
	for k := k0; k < k1; k++ {
		py, px := k/pw, k%pw
		i := 2*py*ow + 2*px
		r0 := src[i*oc : (i+1)*oc]
		r1 := src[(i+1)*oc : (i+2)*oc]
		r2 := src[(i+ow)*oc : (i+ow+1)*oc]
		r3 := src[(i+ow+1)*oc : (i+ow+2)*oc]
		r1, r2, r3 = r1[:len(r0)], r2[:len(r0)], r3[:len(r0)]
		base := s*oc*p + i
		for o, bo := range b {
			a, bb, c, d := r0[o]+bo, r1[o]+bo, r2[o]+bo, r3[o]+bo
			mx := max(max(a, bb), max(c, d))
			off := ow + 1
			if c == mx {
				off = ow
			}
			if bb == mx {
				off = 1
			}
			if a == mx {
				off = 0
			}
			if mx != mx { // a NaN: the first one wins
				switch {
				case a != a:
					off = 0
				case bb != bb:
					off = 1
				case c != c:
					off = ow
				}
			}
			pl[o*q+k] = max(mx, 0)
			al[o*q+k] = int32(base + o*p + off)
		}
	}
}

// poolWindowsAVX2 runs biasReluPool's windows [k0, k1) of sample s in
// assembly, window by window, eight channels at a time: the same
// additions (MXCSR at its default), the same maximum and the same
// first-maximum argmax as the loop. It reports false, leaving the windows
// to the loop, when a window held a NaN (the vector maximum does not
// propagate NaNs as max does).
func poolWindowsAVX2(pl []float32, al []int32, src, b []float32, s, oc, ow, p, q, pw, k0, k1 int) bool {
	_, _ = pl[(oc-1)*q+q-1], al[(oc-1)*q+q-1]
	for k := k0; k < k1; k++ {
		py, px := k/pw, k%pw
		i := 2*py*ow + 2*px
		_ = src[(i+ow+2)*oc-1] // the window's last row
		if poolWindowAVX2(&pl[k], &al[k], &src[i*oc], &b[0], oc, ow, q, s*oc*p+i, p) != 0 {
			return false
		}
	}
	return true
}

// biasToNCHW lays out the pre-ReLU output of a convolution for samples
// [s0, s1): out[s,o,y,x] = nhwc[(s,y,x),o] + b[o], out (n,oc,p), nhwc
// (n*p, oc).
func biasToNCHW(out, nhwc, b []float32, s0, s1, oc, p int) {
	b = b[:oc]
	for s := s0; s < s1; s++ {
		src := nhwc[s*p*oc : (s+1)*p*oc]
		dst := out[s*oc*p : (s+1)*oc*p]
		for i := 0; i < p; i++ {
			row := src[i*oc : (i+1)*oc]
			for o, v := range row {
				dst[o*p+i] = v + b[o]
			}
		}
	}
}

// poolReluBackward is maxpoolBackward followed by reluBackward and the
// transpose of conv2dBackward, fused, for samples [s0, s1): with dpool
// (n,oc,oh/2,ow/2), and the pooled activations and argmax that
// biasReluPool wrote, it overwrites
//
//	dpre (n,oc,oh,ow)    = dpool routed to arg where pre[arg] > 0, zero elsewhere
//	dnhwc (n*oh*ow, oc)  = the same, position-major, for the weight-gradient GEMM
//	dbPart[s*oc+o]       = sum over the plane (s,o) of dpre, in pooled order
//
// The ReLU mask pre[arg] > 0 is read as pooled > 0: pooled = max(pre[arg],
// 0), so the two agree, NaN included (NaN > 0 is false: nothing is sent,
// as reluBackward), and the pre-activation is not read again. The mask is
// applied branch-free. dpre may be nil: then only dnhwc and dbPart are
// written (the Model materialises Conv1's dpre only when PreActivationGrad
// asks for it). Windows do not overlap, so every position receives at
// most one value.
func poolReluBackward(dpre, dnhwc, dbPart, dpool []float32, arg []int32, pooled []float32, s0, s1, oc, oh, ow int) {
	p := oh * ow
	q := (oh / 2) * (ow / 2)
	withPre := dpre != nil
	for s := s0; s < s1; s++ {
		if withPre {
			clear(dpre[s*oc*p : (s+1)*oc*p])
		}
		t := dnhwc[s*p*oc : (s+1)*p*oc]
		clear(t)
		for o := 0; o < oc; o++ {
			base := (s*oc + o) * p
			var plane []float32
			if withPre {
				plane = dpre[base : base+p]
			}
			k0 := (s*oc + o) * q
			dp := dpool[k0 : k0+q]
			ar := arg[k0 : k0+q]
			ar = ar[:len(dp)]
			pv := pooled[k0 : k0+q]
			pv = pv[:len(dp)]
			var sum float32
			for k, g := range dp {
				i := int(ar[k]) - base
				var mk uint32
				if pv[k] > 0 {
					mk = ^uint32(0)
				}
				v := math.Float32frombits(math.Float32bits(g) & mk)
				if withPre {
					plane[i] = v
				}
				t[i*oc+o] = v
				sum += v
			}
			dbPart[s*oc+o] = sum
		}
	}
}

// addBiasGrad adds to db (oc) the per-sample sums dbPart (n,oc), sample by
// sample in order (so the result does not depend on how poolReluBackward
// was split).
func addBiasGrad(db, dbPart []float32, n, oc int) {
	db = db[:oc]
	for s := 0; s < n; s++ {
		for o, v := range dbPart[s*oc : (s+1)*oc] {
			db[o] += v
		}
	}
}

// linearForwardRelu is linearForward followed by reluForward with the bias
// and the ReLU in one pass: out (n,out) = inp·wᵀ + b (pre-ReLU) and
// act = relu(out).
func linearForwardRelu(out, act, inp, w, b []float32, n, in, nout int) {
	linearForward(out, inp, w, b, n, in, nout)
	reluForward(act[:n*nout], out[:n*nout])
}

// Tasks: the fused kernels as parallelFor tasks over samples. Each Model
// owns one of each, so handing them to parallelFor allocates nothing.

type poolBackTask struct {
	dpre, dnhwc, dbPart, dpool []float32
	arg                        []int32
	pooled                     []float32
	oc, oh, ow                 int
}

func (t *poolBackTask) run(lo, hi int) {
	poolReluBackward(t.dpre, t.dnhwc, t.dbPart, t.dpool, t.arg, t.pooled, lo, hi, t.oc, t.oh, t.ow)
}

// nhwcToNCHW overwrites dst (n,oc,p) with the transpose of src (n*p, oc).
func nhwcToNCHW(dst, src []float32, n, oc, p int) {
	for s := 0; s < n; s++ {
		blk := src[s*p*oc : (s+1)*p*oc]
		d := dst[s*oc*p : (s+1)*oc*p]
		for i := 0; i < p; i++ {
			for o, v := range blk[i*oc : (i+1)*oc] {
				d[o*p+i] = v
			}
		}
	}
}
