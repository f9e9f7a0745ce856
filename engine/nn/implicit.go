package nn

// im2colSource is the im2col matrix of a batch (layers.go, im2col) as a
// gemm.Source: row (s,y,x) of the stored (n*oh*ow, c*kh*kw) matrix,
// column (ci,ky,kx), is inp[s,ci,y+ky,x+kx]. The GEMMs that would read the
// materialised matrix (a convolution's forward product and its weight
// gradient) read it through Fill instead, one cache-sized block at a
// time, so the matrix — 15 MB for conv1 and 29 MB for conv2 at batch 128
// — is never written to memory and read back, and the Model keeps no
// copy of it. The values, and so every product's bits, are those of
// im2col.
type im2colSource struct {
	inp                 []float32 // (n,c,h,wd)
	n, c, h, wd, kh, kw int
}

// Dims returns the im2col matrix's shape, (n*oh*ow, c*kh*kw).
func (s *im2colSource) Dims() (rows, cols int) {
	return s.n * (s.h - s.kh + 1) * (s.wd - s.kw + 1), s.c * s.kh * s.kw
}

// Fill writes rows [r0, r0+rows) and columns [c0, c0+cols) of the im2col
// matrix into dst, row i at dst[i*ld:]. Rows of one sample and one output
// row y (consecutive x) read the same kernel segments one float apart, so
// they are filled as a group: the columns split into a leading part of a
// kernel row (when c0 is not at a kernel row's start), whole kernel rows,
// and a trailing part, the same for every row; for a 5×5 kernel the whole
// kernel rows of a group are copied by assembly on amd64 (im2col5Block).
func (s *im2colSource) Fill(dst []float32, ld, r0, rows, c0, cols int) {
	oh, ow := s.h-s.kh+1, s.wd-s.kw+1
	p, kk, plane := oh*ow, s.kh*s.kw, s.h*s.wd
	// The column range, as kernel segments: lead floats from (ci0, ky0,
	// kx0), then nseg whole kernel rows from (ci1, ky1), then tail floats
	// from the start of (ci2, ky2).
	ci0, ky0, kx0 := c0/kk, c0%kk/s.kw, c0%s.kw
	lead := 0
	if kx0 > 0 {
		lead = min(s.kw-kx0, cols)
	}
	ci1, ky1 := ci0, ky0
	if lead > 0 {
		ci1, ky1 = advanceRow(ci0, ky0, 1, s.kh)
	}
	nseg := (cols - lead) / s.kw
	tail := cols - lead - nseg*s.kw
	ci2, ky2 := advanceRow(ci1, ky1, nseg, s.kh)
	for i := 0; i < rows; {
		r := r0 + i
		smp, pos := r/p, r%p
		y, x := pos/ow, pos%ow
		g := min(ow-x, rows-i) // rows i..i+g-1 are (smp, y, x..x+g-1)
		img := s.inp[smp*s.c*plane : (smp+1)*s.c*plane]
		d := dst[i*ld : (i+g-1)*ld+cols]
		org := y*s.wd + x // the receptive field's origin in a channel plane
		if lead > 0 {
			partRows(d, img[ci0*plane+ky0*s.wd+org+kx0:], ld, g, lead)
		}
		if nseg > 0 {
			s.wholeRows(d[lead:], img, ld, g, nseg, ci1, ky1, org, plane)
		}
		if tail > 0 {
			partRows(d[lead+nseg*s.kw:], img[ci2*plane+ky2*s.wd+org:], ld, g, tail)
		}
		i += g
	}
}

// wholeRows copies nseg whole kernel rows, from (ci, ky) on, for g rows
// of a group whose receptive field starts at org in each channel plane:
// row t at d[t*ld:], reading img one float further per row.
func (s *im2colSource) wholeRows(d, img []float32, ld, g, nseg, ci, ky, org, plane int) {
	kw := s.kw
	if usePassAsm && kw == 5 && s.kh == 5 {
		ciL, kyL := advanceRow(ci, ky, nseg-1, 5)
		_ = img[ciL*plane+kyL*s.wd+org+g-1+4] // the last row's last float
		_ = d[(g-1)*ld+5*nseg-1]
		im2col5Block(&d[0], &img[ci*plane+ky*s.wd+org], g, ld, nseg, ky, plane, s.wd)
		return
	}
	for t := range g {
		row := d[t*ld : t*ld+nseg*kw]
		c, k := ci, ky
		for u := range nseg {
			src := img[c*plane+k*s.wd+org+t:]
			if kw == 5 { // five moves in registers (a [5]float32 copy is a memmove call)
				dd, ss := (*[5]float32)(row[5*u:]), (*[5]float32)(src)
				dd[0], dd[1], dd[2], dd[3], dd[4] = ss[0], ss[1], ss[2], ss[3], ss[4]
			} else {
				copy(row[u*kw:(u+1)*kw], src[:kw])
			}
			if k++; k == s.kh {
				c, k = c+1, 0
			}
		}
	}
}

// partRows copies k floats (fewer than a kernel row) into each of g rows,
// row t at d[t*ld:] from src[t:]: a loop, as a copy call costs more than
// the few floats it moves.
func partRows(d, src []float32, ld, g, k int) {
	for t := range g {
		row, s := d[t*ld:t*ld+k], src[t:t+k]
		for i := range row {
			row[i] = s[i]
		}
	}
}

// advanceRow returns the kernel row n rows after (ci, ky), kh rows a
// channel.
func advanceRow(ci, ky, n, kh int) (int, int) {
	ky += n
	return ci + ky/kh, ky % kh
}
