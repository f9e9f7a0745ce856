//go:build !amd64 || purego

package nn

import "testing"

// setAdamKernel is a no-op: this build has only the portable step.
func setAdamKernel(t *testing.T, on bool) {}
