package cka

import (
	"fmt"

	"github.com/fabeam/fabeam/engine/rng"
)

// ShufflePurpose is the rng purpose string of the minibatch shuffle: pass p
// (0-based) visits the examples in the order of the (p+1)-th call to
// rng.New(seed, ShufflePurpose).Perm(n).
const ShufflePurpose = "cka/minibatch"

// MinibatchOptions configures the minibatch CKA estimator.
type MinibatchOptions struct {
	BatchSize int    // examples per batch; the paper used 256; at least 4
	Passes    int    // shuffled passes over the examples; the paper used 5
	Seed      uint64 // seed of the shuffle stream (the paper's was unseeded)
}

// DefaultMinibatch returns the paper's settings, batches of 256 and 5
// passes, with the given shuffle seed.
func DefaultMinibatch(seed uint64) MinibatchOptions {
	return MinibatchOptions{BatchSize: 256, Passes: 5, Seed: seed}
}

// Validate returns an error naming the field when o cannot be used.
func (o MinibatchOptions) Validate() error {
	if o.BatchSize < 4 {
		return fmt.Errorf("cka: MinibatchOptions.BatchSize = %d: the unbiased HSIC needs batches of at least 4 examples (the paper used 256)", o.BatchSize)
	}
	if o.Passes < 1 {
		return fmt.Errorf("cka: MinibatchOptions.Passes = %d: need at least 1 pass (the paper used 5)", o.Passes)
	}
	return nil
}

// Minibatch returns the minibatch linear CKA of x and y used by the paper
// (after Nguyen, Raghu & Kornblith 2021):
//
//	CKA = Σ_b HSIC₁(K_b, L_b) / sqrt(Σ_b HSIC₁(K_b, K_b) · Σ_b HSIC₁(L_b, L_b))
//
// where b runs over o.Passes passes of a seeded shuffle of the n examples,
// each pass cut into floor(n/o.BatchSize) batches (the last partial batch
// dropped), K_b, L_b are the batch's linear Grams, and HSIC₁ is the unbiased
// estimator (see UnbiasedGram). It returns an error when n < o.BatchSize or
// the options are invalid, NaN when a summed self term is not positive, and
// panics if the matrices are malformed or have different Rows.
func Minibatch(x, y Matrix, o MinibatchOptions) (float64, error) {
	m, err := minibatchMatrix("Minibatch", []Matrix{x}, []Matrix{y}, nil, o)
	if err != nil {
		return 0, err
	}
	return m[0][0], nil
}

// MinibatchMatrix returns [i][j] = Minibatch(xs[i], ys[j], o), bit for bit,
// with one shuffle for all pairs. Each batch's Gram of each distinct layer is
// computed once and shared by every pair it takes part in. Errors and panics
// are those of Minibatch.
func MinibatchMatrix(xs, ys []Matrix, o MinibatchOptions) ([][]float64, error) {
	return minibatchMatrix("MinibatchMatrix", xs, ys, nil, o)
}

// MinibatchMatrixRows is MinibatchMatrix on the examples rows of xs and ys
// (in that order), without copying them: it equals MinibatchMatrix on the
// gathered rows, bit for bit. The subset analyses use it to avoid holding a
// second copy of 15,000-row feature matrices.
func MinibatchMatrixRows(xs, ys []Matrix, rows []int, o MinibatchOptions) ([][]float64, error) {
	total := checkLayers("MinibatchMatrixRows", xs, ys)
	for _, r := range rows {
		if r < 0 || r >= total {
			panic(fmt.Sprintf("cka: MinibatchMatrixRows: row %d out of range [0,%d)", r, total))
		}
	}
	return minibatchMatrix("MinibatchMatrixRows", xs, ys, rows, o)
}

func minibatchMatrix(where string, xs, ys []Matrix, sub []int, o MinibatchOptions) ([][]float64, error) {
	n := checkLayers(where, xs, ys)
	if sub != nil {
		n = len(sub)
	}
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if n < o.BatchSize {
		return nil, fmt.Errorf("cka: %s: %d examples is too small for minibatch CKA with batches of %d; use at least %d examples or a smaller MinibatchOptions.BatchSize", where, n, o.BatchSize, o.BatchSize)
	}
	s := newLayerSet(xs, ys)
	nl, np, bs := len(s.layers), len(s.pairs), o.BatchSize

	// The batches: pass p, batch k holds perms[p][k*bs : (k+1)*bs].
	perBatch := n / bs
	stream := rng.New(o.Seed, ShufflePurpose)
	perms := make([][]int, o.Passes)
	for p := range perms {
		perms[p] = stream.Perm(n)
	}
	nb := o.Passes * perBatch

	// Each batch's HSIC values go to their own slot; the sums below run in
	// batch order, so the result does not depend on the worker count.
	hsic := make([]float64, nb*np)
	parallel(nb, newWorkspaces(), func(w *workspace, b int) {
		rows := perms[b/perBatch][(b%perBatch)*bs : (b%perBatch+1)*bs]
		if sub != nil {
			mapped := make([]int, len(rows))
			for i, r := range rows {
				mapped[i] = sub[r]
			}
			rows = mapped
		}
		gs := w.grams(nl, bs*bs)
		for l, m := range s.layers {
			// Centring on the batch mean leaves HSIC₁ unchanged (see doc.go)
			// and keeps the float32 products away from large offsets.
			w.gramTile(gs[l], m, columnMeans(m, rows), rows, rows, true)
		}
		batchHSIC(hsic[b*np:(b+1)*np], s, gs, bs)
	})
	tot := make([]float64, np)
	for b := 0; b < nb; b++ {
		for p := range tot {
			tot[p] += hsic[b*np+p]
		}
	}
	out := grid(len(xs), len(ys))
	for i, a := range s.xi {
		for j, b := range s.yi {
			out[i][j] = ratio(tot[s.pairIndex(a, b)], tot[s.pairIndex(a, a)], tot[s.pairIndex(b, b)])
		}
	}
	return out, nil
}

// batchHSIC sets dst[p] to HSIC₁ of pair p from the n×n batch Grams gs. It
// zeroes the Grams' diagonals.
func batchHSIC(dst []float64, s *layerSet, gs [][]float64, n int) {
	rows := make([][]float64, len(gs))
	tot := make([]float64, len(gs))
	for l, g := range gs {
		g = g[:n*n]
		r := make([]float64, n)
		for i := 0; i < n; i++ {
			g[i*n+i] = 0
			var sum float64
			for _, v := range g[i*n : (i+1)*n] {
				sum += v
			}
			r[i] = sum
			tot[l] += sum
		}
		rows[l] = r
	}
	for p, ab := range s.pairs {
		a, b := ab[0], ab[1]
		ga, gb := gs[a][:n*n], gs[b][:n*n]
		var tr, u float64
		for k, v := range ga {
			tr += v * gb[k]
		}
		for i := 0; i < n; i++ {
			u += rows[a][i] * rows[b][i]
		}
		dst[p] = unbiasedHSIC(n, tr, tot[a], tot[b], u)
	}
}
