//go:build !amd64 || purego

package nn

// usePassAsm is false: this build has no assembly.
const usePassAsm = false

// hasAVX2 is false: this build has no assembly.
const hasAVX2 = false

func im2col5Rows(dst, src *float32, ow, c, plane, wd int) { panic("unreachable") }

func poolWindowAVX2(pool *float32, arg *int32, r0, b *float32, oc, ow, q, base, p int) int {
	panic("unreachable")
}

func signDiffsAVX2(w, b *float32, n int) int { panic("unreachable") }
