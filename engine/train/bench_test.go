package train

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/fabeam/fabeam/engine/cifar"
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

// BenchmarkRunEpoch times whole training epochs as the study's final runs
// train them: Run with batch 128, the step metrics, the update angle every
// 50 steps, the learning signal and a validation pass of batch 500 after
// each epoch (the presets' settings), on synthetic images: 6,400 training
// images (50 steps, so one update angle an epoch, as in a real run) and
// 712 validation images, the paper split's nine to one. Beside engine/nn's BenchmarkTrainStep it sees what a run does
// besides the step itself; run it with -cpuprofile to see where that goes:
//
//	go test -run '^$' -bench RunEpoch -benchtime 3x -cpu 2 -cpuprofile /tmp/run.prof ./engine/train/
//
// Each iteration is a run of two epochs, and only the second is timed
// (from the end of the first to the end of the second, as the progress
// reports them): the run's setup and its final test pass happen once in
// a real run of 50 epochs. It reports that epoch's images/s, validation
// included, the milliseconds per step of each phase of Run's Timing
// (forward, backward, update, metrics) and of everything else
// (other-ms/step: the batch's augmentation, validation, the epoch's
// record). Threads follow GOMAXPROCS: run one process per -cpu value.
func BenchmarkRunEpoch(b *testing.B) {
	const nTrain, nVal, batch = 50 * 128, 712, 128
	all := cifar.Synthetic(nTrain+nVal, 7)
	data := NewData(all.Subset(span(0, nTrain)), all.Subset(span(nTrain, nTrain+nVal)), all.Subset(span(0, nVal)))
	for _, rule := range []string{"bp", "fa_random", "usf_sn"} {
		b.Run(rule, func(b *testing.B) {
			cfg := Config{Rule: rule, Hyper: nn.Hyper{LR: 1e-3, WeightDecay: 1e-4, Sigma: 0.01}, Epochs: 2, BatchSize: batch,
				Seed: 1, StepMetrics: true, UpdateAngleEvery: 50, EvalBatch: 500, SignalMetrics: true}
			var tm Timing
			var wall time.Duration
			var last time.Time
			opt := Options{OnProgress: func(p Progress) {
				now := time.Now()
				if p.Epoch == 2 {
					wall += now.Sub(last)
					tm.add(p.Timing)
				}
				last = now
			}}
			b.ResetTimer()
			for range b.N {
				if _, err := Run(context.Background(), cfg, data, opt); err != nil {
					b.Fatal(err)
				}
			}
			steps := float64(tm.Steps)
			ms := func(d time.Duration) float64 { return float64(d) / 1e6 / steps }
			b.ReportMetric(float64(b.N*nTrain)/wall.Seconds(), "images/s")
			b.ReportMetric(ms(tm.Forward), "forward-ms/step")
			b.ReportMetric(ms(tm.Backward), "backward-ms/step")
			b.ReportMetric(ms(tm.Update), "update-ms/step")
			b.ReportMetric(ms(tm.Metrics), "metrics-ms/step")
			b.ReportMetric(ms(wall-tm.Forward-tm.Backward-tm.Update-tm.Metrics), "other-ms/step")
		})
	}
}
