//go:build !purego

package nn

import "testing"

// setPassAsm turns the assembly passes (im2col rows, the conv epilogue) on
// or off for one test and restores them when it ends.
func setPassAsm(t *testing.T, on bool) {
	prev := usePassAsm
	usePassAsm = on
	t.Cleanup(func() { usePassAsm = prev })
}
