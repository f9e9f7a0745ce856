//go:build !purego

package nn

import "golang.org/x/sys/cpu"

// im2col5Block writes nrows rows of an im2col block of a 5×5 kernel, row
// t at dst[t*ld:]: nseg segments of five floats, segment u read from
// src[t:] advanced u kernel rows from kernel row ky (an image row of wd
// floats for each, and plane-4*wd floats from kernel row 4 of a channel to
// row 0 of the next). nrows and nseg must be at least 1. The caller checks
// the bounds. SSE moves only.
//
//go:noescape
func im2col5Block(dst, src *float32, nrows, ld, nseg, ky, plane, wd int)

// col2im5x6AVX512 is col2im5x6 for one sample (c channels of planes
// plane floats, ten-float image rows, oh output rows of six), AVX-512F:
// each image row's additions in the loop's order, under masks. The caller
// checks the bounds and hasAVX512.
//
//go:noescape
func col2im5x6AVX512(img, dcol *float32, c, plane, oh int)

// hasAVX512 reports AVX-512F (and the OS's support for its state).
var hasAVX512 = cpu.X86.HasAVX512F

// poolWindowAVX2 is biasReluPool for one window and all oc channels (a
// multiple of 8), eight at a time, AVX2. r0 is the window's first row of
// the GEMM output (oc floats, the others follow at oc, ow*oc and
// (ow+1)*oc); pool[o*q] and arg[o*q] receive channel o's pooled value and
// argmax, base+o*p+offset. It returns non-zero when the window holds a
// NaN: its values must then be recomputed by the portable loop. The caller
// checks the bounds.
//
//go:noescape
func poolWindowAVX2(pool *float32, arg *int32, r0, b *float32, oc, ow, q, base, p int) (nan int)

// signDiffsAVX2 counts the i < n (n a multiple of 8) where sign32(w[i])
// and sign32(b[i]) differ, eight at a time, AVX2. The caller checks the
// bounds.
//
//go:noescape
func signDiffsAVX2(w, b *float32, n int) int

// updateSqAVX2 runs UpdateSumSq's loop on n elements (n a multiple of
// 8) of m and v, adding each u² to acc[i mod 4] in the Go loop's order,
// AVX2. The caller checks the bounds.
//
//go:noescape
func updateSqAVX2(m, v *float32, n int, eps float32, acc *[4]float64)

// maskedSqAVX runs maskedSumSquares' loop on n elements (n a multiple of
// 4), adding each kept x² to acc[i mod 2] in the Go loop's order, AVX.
// The caller checks the bounds.
//
//go:noescape
func maskedSqAVX(x, keep *float32, n int, acc *[2]float64)

// usePassAsm selects the assembly passes (tests turn it off to compare
// with the portable loops); the epilogue's also needs AVX2.
var usePassAsm = true
