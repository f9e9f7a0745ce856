//go:build !amd64 || purego

package nn

// useIm2colAsm is false: this build has no assembly.
const useIm2colAsm = false

func im2col5Rows(dst, src *float32, ow, c, plane, wd int) { panic("unreachable") }
