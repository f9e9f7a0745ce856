//go:build !amd64 || purego

package nn

// usePassAsm is false: this build has no assembly.
const usePassAsm = false

// hasAVX2 and hasAVX512 are false: this build has no assembly.
const (
	hasAVX2   = false
	hasAVX512 = false
)

func poolWindowAVX2(pool *float32, arg *int32, r0, b *float32, oc, ow, q, base, p int) int {
	panic("unreachable")
}

func signDiffsAVX2(w, b *float32, n int) int { panic("unreachable") }

func im2col5Block(dst, src *float32, nrows, ld, nseg, ky, plane, wd int) { panic("unreachable") }

func col2im5x6AVX512(img, dcol *float32, c, plane, oh int) { panic("unreachable") }

func updateSqAVX2(m, v *float32, n int, eps float32, acc *[4]float64) { panic("unreachable") }

func maskedSqAVX(x, keep *float32, n int, acc *[2]float64) { panic("unreachable") }
