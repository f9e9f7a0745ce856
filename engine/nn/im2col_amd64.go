//go:build !purego

package nn

// im2col5Rows writes ow consecutive im2col rows of a 5×5 kernel over c
// channels of planes plane floats with rows wd floats apart: row x, at
// dst[x*c*25:], holds src[ci*plane+ky*wd+x:][:5] for ci, ky in order.
// ow and c must be at least 1. The caller checks the bounds.
//
//go:noescape
func im2col5Rows(dst, src *float32, ow, c, plane, wd int)

// useIm2colAsm selects the assembly rows (tests turn it off to compare
// with the portable loop).
var useIm2colAsm = true
