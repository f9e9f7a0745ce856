//go:build !purego

package nn

import "golang.org/x/sys/cpu"

// adamAVX2 runs Adam's step (see Adam) on n elements, n a multiple of 8,
// eight at a time with FTZ and DAZ set in MXCSR (restored on return).
//
//go:noescape
func adamAVX2(n int, p, grad, m, v *float32, c *adamCoef)

// hasAVX2 reports whether this CPU runs the assembly step; useAdamAVX2
// selects it (tests turn it off to compare with the portable step).
var (
	hasAVX2     = cpu.X86.HasAVX2
	useAdamAVX2 = hasAVX2
)

// adamStep applies one step to every element: the kernel on whole vectors
// of 8, and the kernel on a zero-padded copy for the last n mod 8, so every
// element gets the same arithmetic.
func adamStep(params, grads, m, v []float32, c *adamCoef) {
	if !useAdamAVX2 {
		adamGo(params, grads, m, v, c)
		return
	}
	n := len(params)
	body := n &^ 7
	if body > 0 {
		adamAVX2(body, &params[0], &grads[0], &m[0], &v[0], c)
	}
	if r := n - body; r > 0 {
		var tp, tg, tm, tv [8]float32
		copy(tp[:], params[body:])
		copy(tg[:], grads[body:])
		copy(tm[:], m[body:])
		copy(tv[:], v[body:])
		adamAVX2(8, &tp[0], &tg[0], &tm[0], &tv[0], c)
		copy(params[body:], tp[:r])
		copy(m[body:], tm[:r])
		copy(v[body:], tv[:r])
	}
}
