package cka

import "fmt"

// Linear returns the linear CKA of x and y with the biased HSIC estimator
// (Kornblith et al. 2019):
//
//	CKA = ‖Yᶜᵀ Xᶜ‖²_F / (‖Xᶜᵀ Xᶜ‖_F ‖Yᶜᵀ Yᶜ‖_F) = ⟨Kᶜ, Lᶜ⟩_F / (‖Kᶜ‖_F ‖Lᶜ‖_F)
//
// with Xᶜ, Yᶜ the column-centred features and Kᶜ = Xᶜ Xᶜᵀ = HKH. It is
// computed from the Gram matrices tile by tile without ever holding them (see
// the package doc for cost and memory). It returns NaN when x or y has no
// variance and panics if the matrices are malformed or have different Rows.
func Linear(x, y Matrix) float64 { return LinearMatrix([]Matrix{x}, []Matrix{y})[0][0] }

// LinearUnbiased returns the linear CKA of x and y with the unbiased HSIC
// estimator (Song et al. 2012; Nguyen, Raghu & Kornblith 2021) over all n
// examples at once; see UnbiasedGram for the formula. It returns NaN when a
// self term is not positive and panics if n < 4, or if the matrices are
// malformed or have different Rows.
func LinearUnbiased(x, y Matrix) float64 {
	return UnbiasedMatrix([]Matrix{x}, []Matrix{y})[0][0]
}

// LinearMatrix returns [i][j] = Linear(xs[i], ys[j]). Each distinct layer's
// Gram tiles are computed once and shared by every pair it takes part in, so
// the cost is that of the Grams alone, and memory stays bounded whatever n.
// It panics if any matrix is malformed or the Rows differ.
func LinearMatrix(xs, ys []Matrix) [][]float64 {
	lin, _ := exactMatrices("LinearMatrix", xs, ys, false)
	return lin
}

// UnbiasedMatrix returns [i][j] = LinearUnbiased(xs[i], ys[j]), sharing the
// Gram tiles of each layer across pairs like LinearMatrix. It panics if
// n < 4, if any matrix is malformed or the Rows differ.
func UnbiasedMatrix(xs, ys []Matrix) [][]float64 {
	_, unb := exactMatrices("UnbiasedMatrix", xs, ys, true)
	return unb
}

// ExactMatrices returns both LinearMatrix(xs, ys) and UnbiasedMatrix(xs, ys)
// for the cost of one: the two estimators need the same Gram tiles. It
// panics as UnbiasedMatrix does.
func ExactMatrices(xs, ys []Matrix) (linear, unbiased [][]float64) {
	return exactMatrices("ExactMatrices", xs, ys, true)
}

// tileSums is what one Gram tile contributes.
type tileSums struct {
	full, diag []float64   // per pair: Σ Ga∘Gb over the tile; Σ over its diagonal
	rowI, rowJ [][]float64 // per layer: off-diagonal row sums for the tile's rows / columns
}

func exactMatrices(where string, xs, ys []Matrix, unbiased bool) (lin, unb [][]float64) {
	n := checkLayers(where, xs, ys)
	if unbiased && n < 4 {
		panic(fmt.Sprintf("cka: %s: the unbiased HSIC needs at least 4 examples, got %d", where, n))
	}
	s := newLayerSet(xs, ys)
	full, diag, rows := gramSums(s, n)
	lin = pairMatrix(s, len(xs), len(ys), full)
	if !unbiased {
		return lin, nil
	}
	tot := make([]float64, len(s.layers))
	for l := range rows {
		for _, v := range rows[l] {
			tot[l] += v
		}
	}
	hsic := make([]float64, len(s.pairs))
	for p, ab := range s.pairs {
		a, b := ab[0], ab[1]
		var u float64
		for i := 0; i < n; i++ {
			u += rows[a][i] * rows[b][i]
		}
		hsic[p] = unbiasedHSIC(n, full[p]-diag[p], tot[a], tot[b], u)
	}
	return lin, pairMatrix(s, len(xs), len(ys), hsic)
}

// pairMatrix is the (nx, ny) matrix of ratio(v[ab], v[aa], v[bb]) over the
// layer pairs of s.
func pairMatrix(s *layerSet, nx, ny int, v []float64) [][]float64 {
	m := grid(nx, ny)
	for i, a := range s.xi {
		for j, b := range s.yi {
			m[i][j] = ratio(v[s.pairIndex(a, b)], v[s.pairIndex(a, a)], v[s.pairIndex(b, b)])
		}
	}
	return m
}

// gramSums returns, per layer pair of s, the sum of the elementwise product
// of the centred Grams (full) and of their diagonals (diag), and per layer
// the row sums of its Gram (rows). Tiles are computed in parallel a chunk
// at a time and folded into the totals in tile order, so the sums do not
// depend on the worker count.
func gramSums(s *layerSet, n int) (full, diag []float64, rows [][]float64) {
	nl, np := len(s.layers), len(s.pairs)
	means := make([][]float64, nl)
	for l, m := range s.layers {
		means[l] = columnMeans(m, nil)
	}
	full, diag = make([]float64, np), make([]float64, np)
	rows = make([][]float64, nl)
	for l := range rows {
		rows[l] = make([]float64, n)
	}
	ts := upperTiles(n)
	chunk := make([]tileSums, max(1, 4*workers()))
	for c := range chunk {
		chunk[c] = tileSums{full: make([]float64, np), diag: make([]float64, np),
			rowI: make([][]float64, nl), rowJ: make([][]float64, nl)}
		for l := 0; l < nl; l++ {
			chunk[c].rowI[l] = make([]float64, rowBlock)
			chunk[c].rowJ[l] = make([]float64, rowBlock)
		}
	}
	ws := newWorkspaces()
	for t0 := 0; t0 < len(ts); t0 += len(chunk) {
		cn := min(len(chunk), len(ts)-t0)
		parallel(cn, ws, func(w *workspace, c int) {
			tl := ts[t0+c]
			ri, rj := rowsOf(tl.bi, n), rowsOf(tl.bj, n)
			onDiag := tl.bi == tl.bj
			gs := w.grams(nl, len(ri)*len(rj))
			for l, m := range s.layers {
				w.gramTile(gs[l], m, means[l], ri, rj, onDiag)
			}
			sumTile(&chunk[c], s, gs, len(ri), len(rj), onDiag)
		})
		for c := 0; c < cn; c++ {
			foldTile(full, diag, rows, ts[t0+c], &chunk[c], n)
		}
	}
	return full, diag, rows
}

// foldTile adds one tile's sums r into the totals.
func foldTile(full, diag []float64, rows [][]float64, tl tile, r *tileSums, n int) {
	weight := 2.0 // an off-diagonal tile stands for itself and its mirror
	if tl.bi == tl.bj {
		weight = 1
	}
	for p := range full {
		full[p] += weight * r.full[p]
		diag[p] += r.diag[p]
	}
	ri, rj := rowsOf(tl.bi, n), rowsOf(tl.bj, n)
	for l := range rows {
		for k, i := range ri {
			rows[l][i] += r.rowI[l][k]
		}
		if tl.bi != tl.bj {
			for k, j := range rj {
				rows[l][j] += r.rowJ[l][k]
			}
		}
	}
}

// sumTile fills r with the pair inner products and row sums of the ni×nj
// tiles gs (one per layer).
func sumTile(r *tileSums, s *layerSet, gs [][]float64, ni, nj int, onDiag bool) {
	size := ni * nj
	for p, ab := range s.pairs {
		ga, gb := gs[ab[0]][:size], gs[ab[1]][:size]
		var f float64
		for k, v := range ga {
			f += v * gb[k]
		}
		r.full[p] = f
		r.diag[p] = 0
		if onDiag {
			var d float64
			for k := 0; k < ni; k++ {
				d += ga[k*nj+k] * gb[k*nj+k]
			}
			r.diag[p] = d
		}
	}
	for l := range s.layers {
		g, ri, rj := gs[l], r.rowI[l][:ni], r.rowJ[l][:nj]
		clear(rj)
		for i := 0; i < ni; i++ {
			row := g[i*nj : (i+1)*nj]
			var sum float64
			for j, v := range row {
				rj[j] += v
				if !onDiag || j != i {
					sum += v
				}
			}
			ri[i] = sum
		}
	}
}

// grid allocates an r×c matrix.
func grid(r, c int) [][]float64 {
	g := make([][]float64, r)
	for i := range g {
		g[i] = make([]float64, c)
	}
	return g
}
