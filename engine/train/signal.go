package train

import (
	"math"

	"github.com/fabeam/fabeam/engine/nn"
)

// signalAcc accumulates one epoch's learning signal per layer: sums of
// squares in float64 and the number of elements summed, so the epoch's
// value is sqrt(Σ x² / Σ count) over every element of every step (a
// partial last batch weighs by its elements, not as a whole step).
type signalAcc struct{ nn.StepSignal }

// addStep adds the step just taken: the errors and weight gradients of
// m's last Backward and the update adam has just applied (nn's
// SignalSums, which spreads the sums over the threads).
func (a *signalAcc) addStep(m *nn.Model, adam *nn.Adam) { a.Add(m.SignalSums(adam)) }

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
	rec.ErrorRMS, rec.WeightGradRMS, rec.UpdateRMS = rms(a.ErrSq, a.ErrN), rms(a.GradSq, a.GradN), rms(a.UpdSq, a.UpdN)
}
