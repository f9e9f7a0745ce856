//go:build !amd64 || purego

package nn

import "testing"

// setPassAsm: this build has only the portable loops, which every test
// then checks.
func setPassAsm(t *testing.T, on bool) {}
