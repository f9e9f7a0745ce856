//go:build !amd64 || purego

package nn

// useAdamAVX2 is false: this build has no assembly.
const useAdamAVX2 = false

// adamStep applies one step to every element with the portable code.
func adamStep(params, grads, m, v []float32, c *adamCoef) { adamGo(params, grads, m, v, c) }
