package nn

import (
	"testing"

	"github.com/fabeam/fabeam/engine/rng"
)

// BenchmarkTrainStep times one training step of Architecture 1 at the
// paper's batch size 128: Forward, Loss, Backward and Adam.Update, per rule,
// on fixed random inputs (seed 1). Compare runs with benchstat.
func BenchmarkTrainStep(b *testing.B) {
	const batch = 128
	r := rng.New(1, "bench")
	x := make([]float32, batch*inputSize)
	r.FillNormal(x, 1)
	labels := make([]uint8, batch)
	for i := range labels {
		labels[i] = uint8(r.IntN(NumClasses))
	}
	for _, name := range RuleNames() {
		b.Run(name, func(b *testing.B) {
			rule, err := NewRule(name, 0.01, 42)
			if err != nil {
				b.Fatal(err)
			}
			p := NewParams()
			p.InitPyTorch(42)
			m := NewModel(p, rule, batch)
			opt := NewAdam(NumParams, 1e-3, 0)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				m.Forward(x, batch)
				m.Loss(labels)
				m.Backward()
				opt.Update(p.Data, m.Grad.Data)
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
		})
	}
}
