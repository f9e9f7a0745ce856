package figures

import (
	"math"
	"math/rand/v2"

	"github.com/fabeam/fabeam/artifacts/results"
)

// The fixture: a small synthetic run with the shapes of a real one, so every
// figure and table has something to show. Values are made-up curves plus
// seeded noise (a local PCG stream, not the global RNG).

var fixtureRules = []string{"bp", "usf_init"}

// synthHistory returns a history of epochs×stepsPerEpoch steps whose curves
// resemble the paper's: accuracy rising towards top, local angles starting
// at start and settling at end.
func synthHistory(rule string, seed, epochs, stepsPerEpoch int) results.History {
	r := rand.New(rand.NewPCG(uint64(seed), uint64(len(rule))))
	top := map[string]float64{"bp": 0.76, "usf_init": 0.74}[rule]
	h := results.History{Rule: rule, Seed: seed, StepsPerEpoch: stepsPerEpoch,
		Hyperparameters: results.Hyperparameters{LR: 1e-3, WeightDecay: 1e-4, Sigma: 0.1, Epochs: epochs, BatchSize: 128}}
	best := 0.0
	for e := 1; e <= epochs; e++ {
		acc := top*(1-math.Exp(-float64(e)/2)) + 0.01*r.NormFloat64()
		h.Epochs = append(h.Epochs, results.Epoch{Epoch: e, TrainLoss: 2 * math.Exp(-float64(e)/3), ValAcc: acc,
			ErrorRMS: map[string]float64{}, WeightGradRMS: map[string]float64{}, UpdateRMS: map[string]float64{}})
		for li, l := range Layers {
			// usf_init's conv1 gradient decays below Adam's ε from epoch 3.
			depth := math.Pow(10, -float64(len(Layers)-1-li))
			g := 1e-3 * depth
			if rule == "usf_init" && l == "conv1" {
				g = 1e-7 * math.Exp(-float64(e))
			}
			h.Epochs[e-1].ErrorRMS[l] = 1e-2 * depth * (1 + 0.05*r.NormFloat64())
			h.Epochs[e-1].WeightGradRMS[l] = g * (1 + 0.05*r.NormFloat64())
			h.Epochs[e-1].UpdateRMS[l] = 0.5 + 0.05*r.NormFloat64()
		}
		if acc > best {
			best, h.BestEpoch = acc, e
		}
	}
	h.BestValAcc, h.TestAcc = best, best-0.005
	n := epochs * stepsPerEpoch
	h.Steps.LocalAngle = map[string][]float64{}
	h.Steps.Concordance = map[string][]float64{}
	h.Steps.UpdateAngle = map[string][]float64{}
	for li, l := range Layers[1:] {
		la := make([]float64, n)
		co := make([]float64, n)
		for i := range n {
			t := float64(i) / float64(n)
			if rule == "bp" {
				la[i] = 0
			} else {
				la[i] = 46 - 14*math.Sin(math.Pi*t) + 3*float64(li) + 4*r.NormFloat64()
			}
			co[i] = 0.5 - 0.02*t*float64(li)/3 + 0.01*r.NormFloat64()
		}
		h.Steps.LocalAngle[l] = la
		if rule != "bp" {
			h.Steps.Concordance[l] = co
		}
	}
	for s := 10; s <= n; s += 10 {
		h.Steps.UpdateAngleSteps = append(h.Steps.UpdateAngleSteps, s)
	}
	for li, l := range Layers {
		ua := make([]float64, len(h.Steps.UpdateAngleSteps))
		for i := range ua {
			if rule != "bp" {
				ua[i] = 40 + 5*float64(li) + 2*r.NormFloat64()
			}
		}
		h.Steps.UpdateAngle[l] = ua
	}
	return h
}

func fixtureHistories(epochs, stepsPerEpoch int) map[string][]results.History {
	out := map[string][]results.History{}
	for _, rule := range fixtureRules {
		for seed := range 2 {
			out[rule] = append(out[rule], synthHistory(rule, seed, epochs, stepsPerEpoch))
		}
	}
	return out
}

func fixtureMatrix(diag float64, seed int) [][]float64 {
	m := zeros(len(Layers))
	for i := range m {
		for j := range m[i] {
			m[i][j] = 0.3 / (1 + math.Abs(float64(i-j)))
			if i == j {
				m[i][j] = diag - 0.03*float64(i) + 0.01*float64(seed)
			}
		}
	}
	return m
}

// fixtureDiagonal is the diagonal of fixtureMatrix(diag, ·) with
// half-width half at every layer.
func fixtureDiagonal(diag, half float64) *results.DiagonalCKA {
	d := &results.DiagonalCKA{Layers: map[string]results.MeanCI{}}
	var sum float64
	for i, l := range Layers {
		v := diag - 0.03*float64(i)
		d.Layers[l] = results.MeanCI{Mean: v, CI95: half, N: 2}
		sum += v
	}
	d.Mean = results.MeanCI{Mean: sum / float64(len(Layers)), CI95: half, N: 2}
	return d
}

func fixtureResults(hs map[string][]results.History) results.Results {
	res := results.Results{FormatVersion: results.FormatVersion, Preset: "smoke", Rules: map[string]results.RuleResult{}}
	for rule, list := range hs {
		rr := results.RuleResult{Hyperparameters: list[0].Hyperparameters}
		for _, h := range list {
			rr.Seeds = append(rr.Seeds, results.SeedResult{Seed: h.Seed, BestValAcc: h.BestValAcc, TestAcc: h.TestAcc, BestEpoch: h.BestEpoch})
		}
		res.Rules[rule] = rr
	}
	for _, rule := range fixtureRules {
		for _, lr := range []float64{1e-3, 3e-3, 1e-2} {
			for _, x := range []float64{0.01, 0.1} {
				gp := results.GridPoint{Rule: rule, Point: results.Hyperparameters{LR: lr, Epochs: 3, BatchSize: 128}, ValAcc: 0.5 - 10*lr + x}
				if rule == "bp" {
					gp.Point.WeightDecay = x / 100
				} else {
					gp.Point.Sigma = x
				}
				if lr == 1e-2 && x == 0.1 {
					gp.Diverged, gp.ValAcc = true, 0.1
				}
				res.Grid = append(res.Grid, gp)
			}
		}
	}
	for seed := range 2 {
		for _, sub := range Subsets {
			n := map[string]int{"all": 15000, "both_correct": 10009 + seed, "bp_only": 1367 - seed}[sub]
			res.CKA = append(res.CKA, results.CKAEntry{Seed: seed, Rule: "usf_init", Reference: "bp", Subset: sub,
				N: n, Matrix: fixtureMatrix(0.95, seed), Estimator: "minibatch_unbiased"})
		}
	}
	res.CKA = append(res.CKA, results.CKAEntry{Seed: 0, Rule: "bp", Reference: "bp", ReferenceSeed: 1, Subset: "all",
		N: 15000, Matrix: fixtureMatrix(0.98, 0), Estimator: "minibatch_unbiased"})
	res.Knowledge = &results.Knowledge{Subset: "all", Rules: []results.KnowledgeRule{
		{Rule: "bp", Knowledge: 0, TestAcc: results.MeanCI{Mean: 0.755, CI95: 0.02, N: 2}},
		{Rule: "usf_init", Knowledge: 2, TestAcc: results.MeanCI{Mean: 0.735, CI95: 0.03, N: 2},
			CKA: fixtureDiagonal(0.95, 0.01)},
	}, NoiseCeiling: fixtureDiagonal(0.98, 0)}
	res.PerClass = map[string]results.PerClass{}
	for i, rule := range fixtureRules {
		acc := make([]float64, 10)
		for c := range acc {
			acc[c] = 0.6 + 0.03*float64(c%4) - 0.05*float64(i)
		}
		res.PerClass[rule] = results.PerClass{Accuracy: acc}
	}
	res.Alignment = map[string]results.AlignmentSummary{
		"usf_init": {LocalAngleFirst: map[string]float64{"conv2": 46, "fc1": 45, "fc2": 44, "fc3": 43},
			LocalAngleFinal: map[string]float64{"conv2": 41, "fc1": 40, "fc2": 39, "fc3": 38}},
	}
	return res
}

// fixtureExemplars makes rows of colour-gradient images: image k of cell j
// has red = x*8, green = y*8, blue = 28*k.
func fixtureExemplars() []ExemplarRow {
	var rows []ExemplarRow
	for _, rule := range fixtureRules {
		row := ExemplarRow{Rule: rule}
		for j := range 3 {
			cell := ExemplarCell{Layer: "conv2", Channel: 10*j + 7}
			for k := range 9 {
				im := make([]uint8, imgBytes)
				for y := range imgSide {
					for x := range imgSide {
						im[y*imgSide+x] = uint8(8 * x)
						im[1024+y*imgSide+x] = uint8(8 * y)
						im[2048+y*imgSide+x] = uint8(28 * k)
					}
				}
				cell.Images = append(cell.Images, im)
			}
			row.Channels = append(row.Channels, cell)
		}
		rows = append(rows, row)
	}
	return rows
}

func fixtureReport() *Report {
	hs := fixtureHistories(6, 30)
	return &Report{
		Title:     "fabeam test report",
		Results:   fixtureResults(hs),
		Histories: hs,
		Config: []KV{
			{"preset", "smoke"},
			{"out", "<script>alert(1)</script>"},
			{"seeds", "0,1"},
		},
		Efficiency: []EfficiencyRow{
			{Rule: "bp", ImagesPerSec: 812.4, BackwardShare: 0.61},
			{Rule: "usf_init", FeedbackParams: 1_000_000, ExtraBytes: 4_000_000, ImagesPerSec: 700, BackwardShare: 0.64},
		},
		Differences: []string{"Two seeds instead of one & a <b>shorter</b> schedule."},
	}
}
