//go:build !amd64 || purego

package nn

import "testing"

// setIm2colAsm: this build has only the portable loop, which every test
// then checks.
func setIm2colAsm(t *testing.T, on bool) {}
