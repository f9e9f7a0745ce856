//go:build !purego

package nn

import "testing"

// setAdamKernel turns the assembly Adam step on or off for one test and
// restores the CPU's choice when it ends.
func setAdamKernel(t *testing.T, on bool) {
	prev := useAdamAVX2
	useAdamAVX2 = on && hasAVX2
	t.Cleanup(func() { useAdamAVX2 = prev })
}
