package cka

import (
	"math"
	"strings"
	"testing"

	"github.com/fabeam/fabeam/engine/rng"
)

func TestDefaultMinibatchIsThePapers(t *testing.T) {
	// docs/paper.md, CKA: batches of 256, 5 passes.
	if got, want := DefaultMinibatch(7), (MinibatchOptions{BatchSize: 256, Passes: 5, Seed: 7}); got != want {
		t.Errorf("DefaultMinibatch(7) = %+v, want %+v", got, want)
	}
}

func TestMinibatchMatchesNaiveReference(t *testing.T) {
	cases := []struct {
		name      string
		n, dx, dy int
		o         MinibatchOptions
	}{
		{"n divisible: 192 = 6×32", 192, 12, 5, MinibatchOptions{BatchSize: 32, Passes: 3, Seed: 1}},
		{"partial batch dropped: 203 = 6×32 + 11", 203, 12, 5, MinibatchOptions{BatchSize: 32, Passes: 2, Seed: 2}},
		{"tiny batches of 4", 50, 3, 8, MinibatchOptions{BatchSize: 4, Passes: 5, Seed: 3}},
		{"wide features, several column blocks", 64, 40, 30, MinibatchOptions{BatchSize: 16, Passes: 2, Seed: 4}},
	}
	withBlocks(t, 512, 16, func() {
		for i, c := range cases {
			x := randomMatrix(uint64(50+i), c.n, c.dx)
			y := related(uint64(60+i), x, c.dy, 0.7)
			got, err := Minibatch(x, y, c.o)
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			near(t, c.name, got, refMinibatch(x, y, c.o), 1e-5)
		}
	})
}

func TestMinibatchWithOneBatchOfAllExamplesIsTheFullUnbiasedValue(t *testing.T) {
	x := randomMatrix(70, 150, 10)
	y := related(71, x, 6, 1)
	full := LinearUnbiased(x, y)
	for _, passes := range []int{1, 5} {
		got, err := Minibatch(x, y, MinibatchOptions{BatchSize: 150, Passes: passes, Seed: 72})
		if err != nil {
			t.Fatal(err)
		}
		// The same estimator on the same examples in a permuted order. The
		// column means, summed in another order, can differ in the last bit,
		// which flips the float32 rounding of a few centred features: ~1e-8.
		near(t, "Minibatch(batch = n)", got, full, 1e-7)
	}
}

func TestMinibatchApproachesTheFullUnbiasedValueAsBatchesGrow(t *testing.T) {
	// n = 512 examples; batch sizes 8 … 512, 5 passes. The mean absolute
	// gap to LinearUnbiased over 6 data sets must shrink with every step up
	// in batch size and vanish when one batch holds everything.
	const n, sets = 512, 6
	sizes := []int{8, 32, 128, 512}
	gaps := make([]float64, len(sizes))
	for s := 0; s < sets; s++ {
		x := randomMatrix(uint64(80+s), n, 8)
		y := related(uint64(90+s), x, 4, 1.5)
		full := LinearUnbiased(x, y)
		for i, b := range sizes {
			v, err := Minibatch(x, y, MinibatchOptions{BatchSize: b, Passes: 5, Seed: uint64(s)})
			if err != nil {
				t.Fatal(err)
			}
			gaps[i] += math.Abs(v-full) / sets
		}
	}
	t.Logf("gaps %v", gaps)
	for i := 1; i < len(sizes); i++ {
		if !(gaps[i] < gaps[i-1]) {
			t.Errorf("mean |minibatch - full| = %v for batch sizes %v: not decreasing", gaps, sizes)
			break
		}
	}
	if gaps[len(gaps)-1] > 1e-7 {
		t.Errorf("batch = n: gap %g, want ~0", gaps[len(gaps)-1])
	}
	if gaps[0] < 1e-3 {
		t.Errorf("batch 8: gap %g is suspiciously small; the test data no longer tests convergence", gaps[0])
	}
}

func TestMinibatchMatrixMatchesPairwiseCallsBitForBit(t *testing.T) {
	x0 := randomMatrix(100, 100, 9)
	xs := []Matrix{x0, related(101, x0, 6, 0.5)}
	ys := []Matrix{related(102, x0, 4, 0.1), x0, randomMatrix(103, 100, 3)}
	o := MinibatchOptions{BatchSize: 16, Passes: 3, Seed: 104}
	m, err := MinibatchMatrix(xs, ys, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range xs {
		for j := range ys {
			v, err := Minibatch(xs[i], ys[j], o)
			if err != nil {
				t.Fatal(err)
			}
			if m[i][j] != v {
				t.Errorf("[%d][%d] = %v, Minibatch gives %v", i, j, m[i][j], v)
			}
		}
	}
	near(t, "xs[0] vs ys[1] (the same matrix)", m[0][1], 1, 1e-12)
}

func TestMinibatchIsDeterministicAndSeeded(t *testing.T) {
	x := randomMatrix(110, 120, 7)
	y := related(111, x, 5, 1.5)
	run := func(seed uint64, w int) (v float64) {
		withWorkers(w, func() {
			var err error
			v, err = Minibatch(x, y, MinibatchOptions{BatchSize: 16, Passes: 4, Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
		})
		return v
	}
	a, b, c := run(5, 1), run(5, 3), run(6, 2)
	if a != b {
		t.Errorf("seed 5: 1 worker %v, 3 workers %v; want bit-identical", a, b)
	}
	if a == c {
		t.Errorf("seeds 5 and 6 both give %v; the shuffle seems to ignore the seed", a)
	}
}

func TestMinibatchReportsBadInputsAsErrors(t *testing.T) {
	x := randomMatrix(120, 100, 3)
	cases := []struct {
		o    MinibatchOptions
		want string
	}{
		{DefaultMinibatch(1), "100 examples is too small"},
		{MinibatchOptions{BatchSize: 3, Passes: 5}, "BatchSize = 3"},
		{MinibatchOptions{BatchSize: 16, Passes: 0}, "Passes = 0"},
	}
	for _, c := range cases {
		_, err := Minibatch(x, x, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Minibatch with %+v: error %v, want one containing %q", c.o, err, c.want)
		}
		if _, err := MinibatchMatrix([]Matrix{x}, []Matrix{x}, c.o); err == nil {
			t.Errorf("MinibatchMatrix with %+v: no error", c.o)
		}
	}
}

// MinibatchMatrixRows on a subset of rows must equal MinibatchMatrix on the
// gathered rows, bit for bit.
func TestMinibatchMatrixRowsEqualsGathered(t *testing.T) {
	r := rng.New(11, "rows-test")
	mk := func(n, d int) Matrix {
		m := NewMatrix(n, d, make([]float32, n*d))
		r.FillNormal(m.Data, 1)
		return m
	}
	const n = 120
	xs := []Matrix{mk(n, 7), mk(n, 3)}
	ys := []Matrix{mk(n, 5), mk(n, 9)}
	var rows []int
	for i := n - 1; i >= 0; i -= 2 {
		rows = append(rows, i)
	}
	gather := func(m Matrix) Matrix {
		g := NewMatrix(len(rows), m.Cols, make([]float32, len(rows)*m.Cols))
		for i, row := range rows {
			copy(g.Data[i*m.Cols:(i+1)*m.Cols], m.Data[row*m.Cols:(row+1)*m.Cols])
		}
		return g
	}
	o := MinibatchOptions{BatchSize: 16, Passes: 3, Seed: 4}
	want, err := MinibatchMatrix([]Matrix{gather(xs[0]), gather(xs[1])}, []Matrix{gather(ys[0]), gather(ys[1])}, o)
	if err != nil {
		t.Fatal(err)
	}
	got, err := MinibatchMatrixRows(xs, ys, rows, o)
	if err != nil {
		t.Fatal(err)
	}
	for i := range want {
		for j := range want[i] {
			if math.Float64bits(got[i][j]) != math.Float64bits(want[i][j]) {
				t.Errorf("[%d][%d] = %v, want %v", i, j, got[i][j], want[i][j])
			}
		}
	}
	if _, err := MinibatchMatrixRows(xs, ys, rows[:10], o); err == nil {
		t.Error("10 rows with batches of 16 accepted")
	}
}
