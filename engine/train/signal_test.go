package train

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"github.com/fabeam/fabeam/engine/cifar"
	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/engine/rng"
)

// signalCase is a hand-sized run: 5 training images in batches of 3, so
// epoch 1 has a full step of 3 images and a partial one of 2.
func signalCase(t *testing.T, rule string) (Config, *Data) {
	t.Helper()
	all := cifar.Synthetic(13, 9)
	data := NewData(all.Subset(span(0, 5)), all.Subset(span(5, 9)), all.Subset(span(9, 13)))
	cfg := Config{Rule: rule, Hyper: nn.Hyper{LR: 1e-3, WeightDecay: 1e-4, Sigma: 0.05}, Epochs: 1, BatchSize: 3, Seed: 4, SignalMetrics: true}
	return cfg, data
}

// layerSums are per-layer sums of squares and element counts.
type layerSums struct {
	sq [nn.NumLayers]float64
	n  [nn.NumLayers]int
}

func (s *layerSums) add(l int, x []float64) {
	for _, v := range x {
		s.sq[l] += v * v
	}
	s.n[l] += len(x)
}

func (s *layerSums) rms(l int) float64 { return math.Sqrt(s.sq[l] / float64(s.n[l])) }

func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// replaySignal trains epoch 1 of cfg again, step by step as Run does, and
// measures the signal with naive loops: the error and weight gradient
// straight from the model's tensors, and Adam's update from the gradients
// alone (textbook Adam in float64, with its own moments). It returns each
// step's sums.
func replaySignal(t *testing.T, cfg Config, data *Data) (err, grad, upd []layerSums) {
	t.Helper()
	const in = nn.InputC * nn.InputH * nn.InputW
	rule, e := nn.NewRule(cfg.Rule, cfg.Sigma, cfg.Seed)
	if e != nil {
		t.Fatal(e)
	}
	p := nn.NewParams()
	p.InitPyTorch(cfg.Seed)
	m := nn.NewModel(p, rule, cfg.BatchSize)
	opt := nn.NewAdam(nn.NumParams, cfg.LR, cfg.WeightDecay)
	mom, vel := make([]float64, nn.NumParams), make([]float64, nn.NumParams)
	order := rng.New(cfg.Seed, "shuffle/1").Perm(data.Train.Len())
	aug := rng.New(cfg.Seed, "augment/1")
	x, y := make([]float32, cfg.BatchSize*in), make([]uint8, cfg.BatchSize)
	for step := 1; (step-1)*cfg.BatchSize < len(order); step++ {
		batch := order[(step-1)*cfg.BatchSize : min(step*cfg.BatchSize, len(order))]
		for i, k := range batch {
			cifar.RandomCropFlip(x[i*in:(i+1)*in], data.Train.Image(k), aug)
			y[i] = data.Train.Labels[k]
		}
		m.Forward(x[:len(batch)*in], len(batch))
		m.Loss(y[:len(batch)])
		m.Backward()
		var se, sg, su layerSums
		theta := f64(p.Data)
		bc1, bc2 := 1-math.Pow(0.9, float64(step)), 1-math.Pow(0.999, float64(step))
		for l := 0; l < nn.NumLayers; l++ {
			se.add(l, f64(m.PreActivationGrad(l)))
			g := f64(m.Grad.Weight(l))
			sg.add(l, g)
			lo, _ := nn.WeightRange(l)
			u := make([]float64, len(g))
			for i := range g {
				gi := g[i] + cfg.WeightDecay*theta[lo+i]
				mom[lo+i] = 0.9*mom[lo+i] + 0.1*gi
				vel[lo+i] = 0.999*vel[lo+i] + 0.001*gi*gi
				u[i] = (mom[lo+i] / bc1) / (math.Sqrt(vel[lo+i]/bc2) + 1e-8)
			}
			su.add(l, u)
		}
		opt.Update(p.Data, m.Grad.Data)
		err, grad, upd = append(err, se), append(grad, sg), append(upd, su)
	}
	return err, grad, upd
}

// The recorded RMS is sqrt(Σ x² / Σ count) over both steps of the epoch,
// over the right tensor of each layer, checked against a replay measured
// with naive loops; a mean of per-step RMS would fail it.
func TestSignalMetricsMatchANaiveReplayOfTheEpoch(t *testing.T) {
	for _, rule := range []string{nn.Reference, "fa_random"} {
		cfg, data := signalCase(t, rule)
		out, err := Run(context.Background(), cfg, data, Options{})
		if err != nil {
			t.Fatal(err)
		}
		rec := out.History.Epochs[0]
		es, gs, us := replaySignal(t, cfg, data)
		if len(es) != 2 {
			t.Fatalf("replay took %d steps, want 2 (3 + 2 images)", len(es))
		}
		pooled := func(steps []layerSums, l int) (rms, meanOfRMS float64) {
			var sq float64
			var n int
			for _, s := range steps {
				sq += s.sq[l]
				n += s.n[l]
				meanOfRMS += s.rms(l) / float64(len(steps))
			}
			return math.Sqrt(sq / float64(n)), meanOfRMS
		}
		for l, name := range nn.LayerNames {
			for _, c := range []struct {
				what  string
				got   map[string]float64
				steps []layerSums
				tol   float64
			}{
				{"error", rec.ErrorRMS, es, 1e-12},
				{"weight gradient", rec.WeightGradRMS, gs, 1e-12},
				{"update / lr", rec.UpdateRMS, us, 1e-5},
			} {
				want, alt := pooled(c.steps, l)
				got, ok := c.got[name]
				if !ok || math.Abs(got-want) > c.tol*want || !(want > 0) {
					t.Errorf("%s %s %s RMS = %v (present %v), want %v", rule, name, c.what, got, ok, want)
				}
				if c.what == "error" && name == "fc3" && math.Abs(alt-want) < 1e-3*want {
					t.Errorf("%s fc3: the mean of per-step RMS (%v) is too close to the pooled RMS (%v) to tell the two apart", rule, alt, want)
				}
			}
		}
		// bp: the update of step 1 alone is closed form, u = g/(|g|+ε)
		// elementwise (plus weight decay in g), and its RMS is near 1.
		if rule == nn.Reference {
			if u := us[0].rms(nn.FC1); math.Abs(u-1) > 0.05 {
				t.Errorf("step 1 fc1 update RMS %v, want ≈1 (each |u| = |g|/(|g|+ε) ≈ 1)", u)
			}
		}
	}
}

// Off, the history has no signal maps and the configuration encodes as it
// did before SignalMetrics existed (stage keys are hashed from it).
func TestSignalMetricsOffLeavesHistoryAndConfigEncodingAsBefore(t *testing.T) {
	cfg, data := signalCase(t, nn.Reference)
	cfg.SignalMetrics = false
	out, err := Run(context.Background(), cfg, data, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e := out.History.Epochs[0]; e.ErrorRMS != nil || e.WeightGradRMS != nil || e.UpdateRMS != nil {
		t.Errorf("signal maps recorded without SignalMetrics: %v %v %v", e.ErrorRMS, e.WeightGradRMS, e.UpdateRMS)
	}
	b, _ := json.Marshal(tinyConfig("bp"))
	const old = `{"Rule":"bp","LR":0.001,"WeightDecay":0.0001,"Sigma":0.05,"Epochs":2,"BatchSize":32,"Seed":3,"StepMetrics":true,"UpdateAngleEvery":2,"EvalBatch":0}`
	if string(b) != old {
		t.Errorf("config encodes as\n%s\nwant the encoding without the field\n%s", b, old)
	}
	on := tinyConfig("bp")
	on.SignalMetrics = true
	if b, _ := json.Marshal(on); string(b) != old[:len(old)-1]+`,"SignalMetrics":true}` {
		t.Errorf("config with SignalMetrics encodes as %s", b)
	}
}
