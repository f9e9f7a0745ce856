package nn

import (
	"math"
	"os"
	"testing"

	"github.com/fabeam/fabeam/engine/rng"
)

// BenchmarkTrainStep times one training step of Architecture 1 at the
// paper's batch size 128: Forward, Loss, Backward and Adam.Update, per
// rule, on fixed random inputs (seed 1), in three variants:
//
//	fresh    PyTorch's initialisation, Adam at step 0, metrics off
//	trained  the state of a long run (TrainedState): a sixth of fc1's and
//	         fc2's units dead with tiny and subnormal weights, 3% of conv2's
//	         weights tiny, moments tiny, Adam at step 7,040 (epoch 20)
//	metrics  fresh, with the step metrics on (Model.Metrics: the local
//	         angles and sign concordance), as the study's training stages
//	         run every step
//
// A trained state is where subnormal arithmetic used to slow a step several
// times over (see "Subnormal numbers" in the package documentation); the two
// variants should run at the same speed. It reports images/s (wall clock)
// and cpu-ms/op (process CPU time per step, which on a shared machine
// separates work from waiting for a core). Threads follow GOMAXPROCS:
// bench/compare runs one process per -cpu value. Compare runs with
// benchstat.
//
// The benchmarks that depend on the thread count loop over b.N, not
// b.Loop: Go's testing makes each benchmark's first call, for the first
// -cpu value, under the GOMAXPROCS the previous benchmark left (the last
// -cpu value), and with b.Loop that call is the whole measurement, so
// under -cpu 1,2 the "1 thread" sample of every benchmark ran on two. A
// b.N loop is measured in the calls testing makes after it has set
// GOMAXPROCS.
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
		for _, state := range []string{"fresh", "trained", "metrics"} {
			b.Run(name+"/"+state, func(b *testing.B) {
				rule, err := NewRule(name, 0.01, 42)
				if err != nil {
					b.Fatal(err)
				}
				p := NewParams()
				p.InitPyTorch(42)
				opt := NewAdam(NumParams, 1e-3, 0)
				if state == "trained" {
					TrainedState(p, opt, 42)
				}
				m := NewModel(p, rule, batch)
				m.Metrics = state == "metrics"
				b.ReportAllocs()
				b.ResetTimer()
				c0 := processCPU()
				for range b.N {
					m.Forward(x, batch)
					m.Loss(labels)
					m.Backward()
					opt.Update(p.Data, m.Grad.Data)
				}
				cpuPerOp(b, c0)
				b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
			})
		}
	}
}

// BenchmarkEpoch trains one epoch of the paper's protocol under bp: 45,000
// synthetic images (the training split's size) in shuffled batches of 128
// (351 full batches and one of 72), each step Forward, Loss, Backward,
// Adam.Update, and reports seconds per epoch. It takes tens of seconds and
// 140 MB of input, so it runs only with FABEAM_BENCH_EPOCH=1:
//
//	FABEAM_BENCH_EPOCH=1 go test -run '^$' -bench Epoch -benchtime 1x -cpu 2 ./engine/nn/
func BenchmarkEpoch(b *testing.B) {
	if os.Getenv("FABEAM_BENCH_EPOCH") == "" {
		b.Skip("set FABEAM_BENCH_EPOCH=1 to train one 45,000-image epoch")
	}
	const images, batch = 45000, 128
	r := rng.New(2, "epoch")
	x := make([]float32, images*inputSize)
	r.FillNormal(x, 1)
	y := make([]uint8, images)
	for i := range y {
		y[i] = uint8(r.IntN(NumClasses))
	}
	p := NewParams()
	p.InitPyTorch(42)
	m := NewModel(p, BP{}, batch)
	opt := NewAdam(NumParams, 1e-3, 0)
	xb := make([]float32, batch*inputSize)
	yb := make([]uint8, batch)
	b.ResetTimer()
	c0 := processCPU()
	for range b.N {
		perm := r.Perm(images)
		for s := 0; s < images; s += batch {
			n := min(batch, images-s)
			for i := 0; i < n; i++ { // gather the shuffled batch, as a loader would
				j := perm[s+i]
				copy(xb[i*inputSize:(i+1)*inputSize], x[j*inputSize:(j+1)*inputSize])
				yb[i] = y[j]
			}
			m.Forward(xb, n)
			m.Loss(yb)
			m.Backward()
			opt.Update(p.Data, m.Grad.Data)
		}
	}
	cpuPerOp(b, c0)
	b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/epoch")
	b.ReportMetric(float64(b.N*images)/b.Elapsed().Seconds(), "images/s")
}

// BenchmarkSignalSums times what recording the learning signal adds to a
// training step at batch 128 (engine/train's SignalMetrics), in parts:
// the error sums of squares of the five layers, the weight-gradient sums,
// Adam's update sums over each layer's weights, and all three, one after
// another; and SignalSums, the fifteen sums as a step takes them, spread
// over the threads. Compare with BenchmarkTrainStep (cpu-ms/op).
func BenchmarkSignalSums(b *testing.B) {
	const batch = 128
	x, y := testBatch(1, batch)
	p := NewParams()
	p.InitPyTorch(42)
	opt := NewAdam(NumParams, 1e-3, 0)
	m := NewModel(p, newTestRule(b, Reference), batch)
	m.Forward(x, batch)
	m.Loss(y)
	m.Backward()
	opt.Update(p.Data, m.Grad.Data)
	parts := []struct {
		name string
		f    func(l int) float64
	}{
		{"error", func(l int) float64 { s, _ := m.PreActivationGradSumSq(l); return s }},
		{"grad", func(l int) float64 { s, _ := m.WeightGradSumSq(l); return s }},
		{"update", func(l int) float64 { lo, hi := WeightRange(l); return opt.UpdateSumSq(lo, hi) }},
	}
	three := parts
	all := func(l int) float64 {
		var s float64
		for _, p := range three {
			s += p.f(l)
		}
		return s
	}
	parts = append(parts, struct {
		name string
		f    func(l int) float64
	}{"all", all})
	for _, part := range parts {
		b.Run(part.name, func(b *testing.B) {
			var sink float64
			b.ResetTimer()
			c0 := processCPU()
			for range b.N {
				for l := 0; l < NumLayers; l++ {
					sink += part.f(l)
				}
			}
			cpuPerOp(b, c0)
			if math.IsNaN(sink) {
				b.Fatal("NaN")
			}
		})
	}
	// SignalSums: all fifteen sums as a training step takes them, spread
	// over the threads.
	b.Run("SignalSums", func(b *testing.B) {
		var sink float64
		b.ResetTimer()
		c0 := processCPU()
		for range b.N {
			s := m.SignalSums(opt)
			sink += s.ErrSq[Conv1] + s.UpdSq[FC1]
		}
		cpuPerOp(b, c0)
		if math.IsNaN(sink) {
			b.Fatal("NaN")
		}
	})
}
