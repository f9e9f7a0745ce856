package cka

import (
	"runtime"
	"sync"

	"github.com/fabeam/fabeam/engine/gemm"
)

// Block sizes. They are variables only so that tests can shrink them to
// exercise many tiles and column blocks on small matrices.
var (
	// colBlock is the number of features multiplied in one float32 GEMM
	// before the partial Gram is added into the float64 accumulator.
	colBlock = 512
	// rowBlock is the side of the square Gram tiles the exact estimators and
	// Gram work on.
	rowBlock = 512
)

// workers is the number of goroutines the estimators use; results do not
// depend on it (tests set it to check that).
var workers = func() int { return runtime.GOMAXPROCS(0) }

// workspace holds one goroutine's scratch buffers.
type workspace struct {
	pa, pb []float32 // packed panels: len(ri)×colBlock, len(rj)×colBlock
	t32    []float32 // one float32 partial Gram tile
	g64    [][]float64
}

// grams returns nl float64 tiles of size elements each, reused between calls.
func (w *workspace) grams(nl, size int) [][]float64 {
	for len(w.g64) < nl {
		w.g64 = append(w.g64, nil)
	}
	for l := 0; l < nl; l++ {
		if len(w.g64[l]) < size {
			w.g64[l] = make([]float64, size)
		}
	}
	return w.g64[:nl]
}

func (w *workspace) grow(ni, nj int) {
	if need := ni * colBlock; len(w.pa) < need {
		w.pa = make([]float32, need)
	}
	if need := nj * colBlock; len(w.pb) < need {
		w.pb = make([]float32, need)
	}
	if need := ni * nj; len(w.t32) < need {
		w.t32 = make([]float32, need)
	}
}

// pack copies rows rows, columns [k0, k0+kk) of x into dst (len(rows)×kk,
// row-major), subtracting mean[k0+c] in float64 first when mean is not nil.
func pack(dst []float32, x Matrix, rows []int, k0, kk int, mean []float64) {
	d := x.Cols
	for r, i := range rows {
		src := x.Data[i*d+k0 : i*d+k0+kk]
		out := dst[r*kk : r*kk+kk]
		if mean == nil {
			copy(out, src)
			continue
		}
		m := mean[k0 : k0+kk]
		for c, v := range src {
			out[c] = float32(float64(v) - m[c])
		}
	}
}

// gramTile sets g (len(ri)×len(rj), row-major float64) to the Gram tile
//
//	g[r][c] = Σ_k (x[ri[r]][k] - mean[k]) (x[rj[c]][k] - mean[k])
//
// (no centring when mean is nil). Features are taken colBlock at a time:
// each block's product is one float32 GEMM, and the blocks are summed in
// float64 in increasing column order. same says that ri and rj are the same
// rows, so one packed panel serves both sides.
func (w *workspace) gramTile(g []float64, x Matrix, mean []float64, ri, rj []int, same bool) {
	ni, nj := len(ri), len(rj)
	w.grow(ni, nj)
	clear(g[:ni*nj])
	t := w.t32[:ni*nj]
	for k0 := 0; k0 < x.Cols; k0 += colBlock {
		kk := min(colBlock, x.Cols-k0)
		pack(w.pa, x, ri, k0, kk, mean)
		pb := w.pa
		if !same {
			pack(w.pb, x, rj, k0, kk, mean)
			pb = w.pb
		}
		gemm.Sgemm(false, true, ni, nj, kk, 1, w.pa, kk, pb, kk, 0, t, nj)
		for i, v := range t {
			g[i] += float64(v)
		}
	}
}

// columnMeans returns the float64 mean of every column of x over rows
// (all rows when rows is nil).
func columnMeans(x Matrix, rows []int) []float64 {
	mean := make([]float64, x.Cols)
	n := x.Rows
	if rows != nil {
		n = len(rows)
	}
	for r := 0; r < n; r++ {
		i := r
		if rows != nil {
			i = rows[r]
		}
		for c, v := range x.Data[i*x.Cols : (i+1)*x.Cols] {
			mean[c] += float64(v)
		}
	}
	if n > 0 {
		for c := range mean {
			mean[c] /= float64(n)
		}
	}
	return mean
}

// span returns the row indices [lo, hi).
func span(lo, hi int) []int {
	s := make([]int, hi-lo)
	for i := range s {
		s[i] = lo + i
	}
	return s
}

// tile is one square-block tile (bi ≤ bj) of an n×n Gram matrix.
type tile struct{ bi, bj int }

// upperTiles lists the tiles on and above the diagonal, row by row.
func upperTiles(n int) []tile {
	nb := (n + rowBlock - 1) / rowBlock
	var ts []tile
	for bi := 0; bi < nb; bi++ {
		for bj := bi; bj < nb; bj++ {
			ts = append(ts, tile{bi, bj})
		}
	}
	return ts
}

// rowsOf returns the rows of block b of an n-row matrix.
func rowsOf(b, n int) []int { return span(b*rowBlock, min((b+1)*rowBlock, n)) }

// newWorkspaces returns one workspace per goroutine the estimators may use.
func newWorkspaces() []*workspace {
	ws := make([]*workspace, max(1, workers()))
	for i := range ws {
		ws[i] = new(workspace)
	}
	return ws
}

// parallel runs f(w, i) for i in [0, n) on up to len(ws) goroutines, the
// g-th using workspace ws[g]. f must write only to state owned by index i.
func parallel(n int, ws []*workspace, f func(w *workspace, i int)) {
	nw := min(len(ws), n)
	if nw <= 1 {
		for i := 0; i < n; i++ {
			f(ws[0], i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int)
	for g := 0; g < nw; g++ {
		wg.Add(1)
		go func(w *workspace) {
			defer wg.Done()
			for i := range next {
				f(w, i)
			}
		}(ws[g])
	}
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
}

// Gram returns the n×n linear Gram matrix K = X Xᵀ of x (not centred), as a
// row-major float64 slice:
//
//	K[i*n+j] = Σ_k x[i][k] x[j][k]
//
// It is built in 512×512 tiles; within a tile, features are multiplied 512
// at a time in float32 (gemm.Sgemm) and the blocks are summed in float64.
// Only tiles on and above the diagonal are computed; the rest is mirrored, so
// the result is exactly symmetric. The result takes n*n*8 bytes (1.8 GB for
// n = 15,000); scratch adds about 3 MB per goroutine. It panics if x is
// malformed.
func Gram(x Matrix) []float64 {
	x.check("Gram")
	n := x.Rows
	k := make([]float64, n*n)
	ts := upperTiles(n)
	parallel(len(ts), newWorkspaces(), func(w *workspace, t int) {
		ri, rj := rowsOf(ts[t].bi, n), rowsOf(ts[t].bj, n)
		g := w.grams(1, len(ri)*len(rj))[0]
		w.gramTile(g, x, nil, ri, rj, ts[t].bi == ts[t].bj)
		for r, i := range ri {
			for c, j := range rj {
				k[i*n+j] = g[r*len(rj)+c]
				k[j*n+i] = g[r*len(rj)+c]
			}
		}
	})
	return k
}
