//go:build !purego

package nn

// im2col5Rows writes ow consecutive im2col rows of a 5×5 kernel over c
// channels of planes plane floats with rows wd floats apart: row x, at
// dst[x*c*25:], holds src[ci*plane+ky*wd+x:][:5] for ci, ky in order.
// ow and c must be at least 1. The caller checks the bounds. SSE moves
// only: it runs on every amd64 CPU.
//
//go:noescape
func im2col5Rows(dst, src *float32, ow, c, plane, wd int)

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

// usePassAsm selects the assembly passes (tests turn it off to compare
// with the portable loops); the epilogue's also needs AVX2.
var usePassAsm = true
