package train

import (
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/engine/rng"
)

// BenchmarkTrainStepCheckpoint is engine/nn's BenchmarkTrainStep (one
// Adam step at batch 128 on synthetic images) from the weights a real
// training run ended with, where nn's trained variant starts from a
// generated state (nn.TrainedState). It needs a study's output folder,
// as an absolute path (go test runs in this package's folder):
//
//	FABEAM_TRAINED_STUDY=$PWD/out/paper go test -run '^$' -bench TrainStepCheckpoint -cpu 1,2 ./engine/train/
//
// and times every rule whose seed-0 final model (runs/<rule>/seed0/
// model.safetensors, with its feedback tensors) the folder holds. Adam
// starts from zero moments: a final model keeps no optimiser state. It
// reports images/s and the share of the weights that are subnormal or
// tiny (|w| < 2^-100, where products underflow), which tells how much of
// what slowed long runs down the state holds.
func BenchmarkTrainStepCheckpoint(b *testing.B) {
	dir := os.Getenv("FABEAM_TRAINED_STUDY")
	if dir == "" {
		b.Skip("set FABEAM_TRAINED_STUDY to a study's --out folder to time steps from its trained models")
	}
	const batch = 128
	r := rng.New(1, "bench")
	x := make([]float32, batch*nn.InputC*nn.InputH*nn.InputW)
	r.FillNormal(x, 1)
	labels := make([]uint8, batch)
	for i := range labels {
		labels[i] = uint8(r.IntN(nn.NumClasses))
	}
	found := 0
	for _, name := range nn.RuleNames() {
		path := filepath.Join(dir, "runs", name, "seed0", "model.safetensors")
		f, err := os.Open(path)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			b.Fatal(err)
		}
		st, err := f.Stat()
		if err != nil {
			b.Fatal(err)
		}
		p, fb, meta, err := DecodeModel(f, st.Size(), path)
		f.Close()
		if err != nil {
			b.Fatal(err)
		}
		rule, err := nn.NewRule(name, meta.Sigma, meta.Seed)
		if err != nil {
			b.Fatal(err)
		}
		if fb != nil {
			if err := rule.(nn.FeedbackTensors).SetFeedback(fb); err != nil {
				b.Fatalf("%s: %v", path, err)
			}
		}
		found++
		subnormal, tiny := 0, 0
		for _, w := range p.Data {
			a := math.Abs(float64(w))
			if a != 0 && a < 0x1p-126 {
				subnormal++
			}
			if a != 0 && a < 0x1p-100 {
				tiny++
			}
		}
		b.Run(name, func(b *testing.B) {
			q := nn.NewParams()
			copy(q.Data, p.Data) // every sub-benchmark run starts from the checkpoint
			opt := nn.NewAdam(nn.NumParams, 1e-3, 0)
			m := nn.NewModel(q, rule, batch)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				m.Forward(x, batch)
				m.Loss(labels)
				m.Backward()
				opt.Update(q.Data, m.Grad.Data)
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "images/s")
			b.ReportMetric(float64(subnormal)/float64(len(p.Data)), "subnormal-share")
			b.ReportMetric(float64(tiny)/float64(len(p.Data)), "tiny-share")
		})
	}
	if found == 0 {
		b.Fatalf("FABEAM_TRAINED_STUDY=%s holds no runs/<rule>/seed0/model.safetensors: give a finished study's --out folder, as an absolute path", dir)
	}
}
