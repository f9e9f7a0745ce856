package train

import (
	"math"

	"github.com/fabeam/fabeam/engine/nn"
)

// signalAcc accumulates one epoch's learning signal per layer: sums of
// squares in float64 and the number of elements summed, so the epoch's
// value is sqrt(Σ x² / Σ count) over every element of every step (a
// partial last batch weighs by its elements, not as a whole step).
type signalAcc struct {
	errSq, gradSq, updSq [nn.NumLayers]float64
	errN, gradN, updN    [nn.NumLayers]int
}

// addStep adds the step just taken: the errors and weight gradients of
// m's last Backward and the update adam has just applied (nn's
// SignalSums, which spreads the sums over the threads).
func (a *signalAcc) addStep(m *nn.Model, adam *nn.Adam) {
	s := m.SignalSums(adam)
	for l := 0; l < nn.NumLayers; l++ {
		a.errSq[l] += s.ErrSq[l]
		a.errN[l] += s.ErrN[l]
		a.gradSq[l] += s.GradSq[l]
		a.gradN[l] += s.GradN[l]
		a.updSq[l] += s.UpdSq[l]
		a.updN[l] += s.UpdN[l]
	}
}

// fill sets rec's signal maps from the sums.
func (a *signalAcc) fill(rec *Epoch) {
	rms := func(sq [nn.NumLayers]float64, n [nn.NumLayers]int) map[string]float64 {
		var v [nn.NumLayers]float64
		for l := range v {
			v[l] = math.NaN()
			if n[l] > 0 {
				v[l] = math.Sqrt(sq[l] / float64(n[l]))
			}
		}
		return layerMap(v)
	}
	rec.ErrorRMS, rec.WeightGradRMS, rec.UpdateRMS = rms(a.errSq, a.errN), rms(a.gradSq, a.gradN), rms(a.updSq, a.updN)
}
