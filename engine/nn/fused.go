package nn

import "math"

// This file holds the fused kernels the Model runs between GEMMs (doc.go,
// "Speed"). Each computes exactly what a chain of the plain kernels of
// layers.go computes — those stay as the readable definitions and as the
// tests' oracles — with fewer passes over memory and without
// data-dependent branches in the inner loops. They work on a range of
// samples [s0, s1) so that parallelFor can split a batch.

// im2colSamples is im2col for samples [s0, s1) of the batch: the rows
// s*oh*ow .. (s+1)*oh*ow-1 of col.
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
						if kw == 5 { // the network's 5×5 kernels: five moves in registers
							// (a [5]float32 assignment compiles to a memmove call)
							d, s := (*[5]float32)(row[j:]), (*[5]float32)(img[off:])
							d[0], d[1], d[2], d[3], d[4] = s[0], s[1], s[2], s[3], s[4]
						} else {
							copy(row[j:j+kw], img[off:off+kw])
						}
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

// convBiasReluPool is the epilogue of a convolution's forward GEMM fused
// with the ReLU and the 2×2 max-pool that follow it, for samples [s0, s1):
//
//	out[s,o,y,x] = nhwc[(s,y,x),o] + b[o]                         (pre-ReLU, (n,oc,oh,ow))
//	pool[s,o,py,px] = relu(max of out over the 2×2 window)          ((n,oc,oh/2,ow/2))
//	arg[s,o,py,px]  = flat index into out of that maximum
//
// It equals conv2dForward's transpose, reluForward and maxpoolForward(.., 2,
// 2) in sequence: relu is monotone, so the maximum of relu(out) is
// relu(max of out). The argmax is taken on the pre-activation; it differs
// from maxpoolForward's (on relu(out)) only when the window's maximum is
// <= 0, where it picks the first maximum of out instead of the first zero,
// and then poolReluBackward sends no gradient either way (relu' = 0 there).
// Ties keep the first maximum in row-major window order and a NaN wins, as
// in maxpoolForward. The maximum and the argmax are computed branch-free
// (max builtin, conditional moves); a window holding a NaN takes a slow
// exact path.
func convBiasReluPool(out, pool []float32, arg []int32, nhwc, b []float32, s0, s1, oc, oh, ow int) {
	p := oh * ow
	ph, pw := oh/2, ow/2
	q := ph * pw
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
		for o := 0; o < oc; o++ {
			base := (s*oc + o) * p
			plane := out[base : base+p]
			pl := pool[(s*oc+o)*q : (s*oc+o+1)*q]
			al := arg[(s*oc+o)*q : (s*oc+o+1)*q]
			for py := 0; py < ph; py++ {
				r0 := plane[2*py*ow : (2*py+1)*ow]
				r1 := plane[(2*py+1)*ow : (2*py+2)*ow]
				r1 = r1[:len(r0)]
				for px := 0; px < pw; px++ {
					a, bb, c, d := r0[2*px], r0[2*px+1], r1[2*px], r1[2*px+1]
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
					pl[py*pw+px] = max(mx, 0)
					al[py*pw+px] = int32(base + 2*py*ow + 2*px + off)
				}
			}
		}
	}
}

// poolReluBackward is maxpoolBackward followed by reluBackward and the
// transpose of conv2dBackward, fused, for samples [s0, s1): with dpool
// (n,oc,oh/2,ow/2), and the pooled activations and argmax that
// convBiasReluPool wrote, it overwrites
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

type im2colTask struct {
	col, inp           []float32
	c, h, wd, kh, kwid int
}

func (t *im2colTask) run(lo, hi int) {
	im2colSamples(t.col, t.inp, lo, hi, t.c, t.h, t.wd, t.kh, t.kwid)
}

type col2imTask struct {
	dinp, dcol         []float32
	c, h, wd, kh, kwid int
}

func (t *col2imTask) run(lo, hi int) {
	col2imSamples(t.dinp, t.dcol, lo, hi, t.c, t.h, t.wd, t.kh, t.kwid)
}

type epilogueTask struct {
	out, pool []float32
	arg       []int32
	nhwc, b   []float32
	oc, oh, o int
}

func (t *epilogueTask) run(lo, hi int) {
	convBiasReluPool(t.out, t.pool, t.arg, t.nhwc, t.b, lo, hi, t.oc, t.oh, t.o)
}

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
