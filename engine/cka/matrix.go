package cka

import "fmt"

// Matrix is a row-major float32 feature matrix: Rows examples × Cols
// features. Row i is Data[i*Cols : (i+1)*Cols]. Two matrices compared by
// CKA must have the same Rows (the same examples in the same order); their
// Cols may differ.
type Matrix struct {
	Rows, Cols int
	Data       []float32
}

// NewMatrix wraps data as a rows×cols Matrix without copying. It panics if
// len(data) != rows*cols.
func NewMatrix(rows, cols int, data []float32) Matrix {
	m := Matrix{Rows: rows, Cols: cols, Data: data}
	m.check("NewMatrix")
	return m
}

// check panics unless m is a well-formed matrix with at least one feature.
func (m Matrix) check(where string) {
	if m.Rows < 0 || m.Cols < 1 {
		panic(fmt.Sprintf("cka: %s: bad shape %d×%d (need Rows ≥ 0, Cols ≥ 1)", where, m.Rows, m.Cols))
	}
	if len(m.Data) != m.Rows*m.Cols {
		panic(fmt.Sprintf("cka: %s: len(Data) = %d, want Rows*Cols = %d×%d = %d", where, len(m.Data), m.Rows, m.Cols, m.Rows*m.Cols))
	}
}

// sameMatrix reports whether a and b are the same view of the same memory,
// so a layer passed on both sides of a comparison is processed once.
func sameMatrix(a, b Matrix) bool {
	if a.Rows != b.Rows || a.Cols != b.Cols || len(a.Data) != len(b.Data) {
		return false
	}
	return len(a.Data) == 0 || &a.Data[0] == &b.Data[0]
}

// checkLayers validates xs and ys and returns their common number of rows.
func checkLayers(where string, xs, ys []Matrix) int {
	if len(xs) == 0 || len(ys) == 0 {
		panic(fmt.Sprintf("cka: %s: need at least one matrix on each side, got %d and %d", where, len(xs), len(ys)))
	}
	n := xs[0].Rows
	for i, x := range xs {
		x.check(fmt.Sprintf("%s: xs[%d]", where, i))
		if x.Rows != n {
			panic(fmt.Sprintf("cka: %s: xs[%d] has %d rows, xs[0] has %d; every matrix must hold the same examples", where, i, x.Rows, n))
		}
	}
	for j, y := range ys {
		y.check(fmt.Sprintf("%s: ys[%d]", where, j))
		if y.Rows != n {
			panic(fmt.Sprintf("cka: %s: ys[%d] has %d rows, xs[0] has %d; every matrix must hold the same examples", where, j, y.Rows, n))
		}
	}
	return n
}

// layerSet is the deduplicated list of matrices of a comparison together with
// the inner-product pairs it needs: every (x, y) cross pair and every self
// pair (for the normalisation).
type layerSet struct {
	layers []Matrix
	xi, yi []int          // xs[i] is layers[xi[i]], ys[j] is layers[yi[j]]
	pairs  [][2]int       // (a, b) with a ≤ b, indices into layers
	slot   map[[2]int]int // pair -> index into pairs
}

func newLayerSet(xs, ys []Matrix) *layerSet {
	s := &layerSet{slot: map[[2]int]int{}}
	add := func(m Matrix) int {
		for i, l := range s.layers {
			if sameMatrix(l, m) {
				return i
			}
		}
		s.layers = append(s.layers, m)
		return len(s.layers) - 1
	}
	for _, x := range xs {
		s.xi = append(s.xi, add(x))
	}
	for _, y := range ys {
		s.yi = append(s.yi, add(y))
	}
	need := func(a, b int) {
		if a > b {
			a, b = b, a
		}
		if _, ok := s.slot[[2]int{a, b}]; !ok {
			s.slot[[2]int{a, b}] = len(s.pairs)
			s.pairs = append(s.pairs, [2]int{a, b})
		}
	}
	for _, a := range s.xi {
		need(a, a)
	}
	for _, b := range s.yi {
		need(b, b)
	}
	for _, a := range s.xi {
		for _, b := range s.yi {
			need(a, b)
		}
	}
	return s
}

// pairIndex returns the slot of the pair (a, b) in either order.
func (s *layerSet) pairIndex(a, b int) int {
	if a > b {
		a, b = b, a
	}
	return s.slot[[2]int{a, b}]
}

// maxCols is the widest layer of the set.
func (s *layerSet) maxCols() int {
	d := 0
	for _, l := range s.layers {
		d = max(d, l.Cols)
	}
	return d
}
