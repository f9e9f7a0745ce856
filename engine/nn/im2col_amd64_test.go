//go:build !purego

package nn

import "testing"

// setIm2colAsm turns the assembly im2col rows on or off for one test and
// restores them when it ends.
func setIm2colAsm(t *testing.T, on bool) {
	prev := useIm2colAsm
	useIm2colAsm = on
	t.Cleanup(func() { useIm2colAsm = prev })
}
