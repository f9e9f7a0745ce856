package compare

import (
	"math"
	"reflect"
	"testing"

	"github.com/fabeam/fabeam/engine/cifar"
	"github.com/fabeam/fabeam/engine/cka"
	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/engine/rng"
)

func TestSubsetsHandMadeExample(t *testing.T) {
	// image:     0  1  2  3  4  5  6
	labels := []uint8{1, 2, 3, 4, 5, 6, 7}
	ref := []int{1, 2, 0, 4, 0, 6, 7}  // correct on 0 1 3 5 6
	rule := []int{1, 0, 3, 9, 0, 6, 1} // correct on 0 2 5
	all, both, refOnly := Subsets(labels, ref, rule)
	// both: correct in both = {0, 5}; refOnly: ref correct, rule wrong =
	// {1, 3, 6}; image 2 (rule only) and 4 (neither) are in neither.
	if !reflect.DeepEqual(all, []int{0, 1, 2, 3, 4, 5, 6}) || !reflect.DeepEqual(both, []int{0, 5}) || !reflect.DeepEqual(refOnly, []int{1, 3, 6}) {
		t.Errorf("Subsets = %v %v %v; want [0..6] [0 5] [1 3 6]", all, both, refOnly)
	}
	_, both, refOnly = Subsets([]uint8{3}, []int{2}, []int{3})
	if both == nil || refOnly == nil || len(both)+len(refOnly) != 0 {
		t.Errorf("empty subsets should be empty non-nil slices, got %#v %#v", both, refOnly)
	}
}

// randomFeatures returns hand-made Features of n images with small random
// layers (widths 12, 9, 7, 5, 3) and the given predictions.
func randomFeatures(n int, pred []int, seed uint64) *Features {
	r := rng.New(seed, "compare-test/features")
	f := &Features{Pred: pred}
	for l, d := range []int{12, 9, 7, 5, 3} {
		data := make([]float32, n*d)
		r.FillNormal(data, 1)
		f.Layers[l] = cka.NewMatrix(n, d, data)
	}
	return f
}

// gather is the test's own row selection, a plain loop.
func gather(m cka.Matrix, idx []int) cka.Matrix {
	var data []float32
	for _, i := range idx {
		data = append(data, m.Data[i*m.Cols:(i+1)*m.Cols]...)
	}
	return cka.NewMatrix(len(idx), m.Cols, data)
}

// TestCKAMatricesSubsetsSizesAndOrientation builds two "models" with
// random features and chosen predictions on 200 images: labels are i%10;
// the reference is right on images i%10 < 8 (160), the rule on i%10 < 5 and
// i%10 == 9 (120). So both = i%10 < 5 (100 images) and bp_only =
// i%10 ∈ {5,6,7} (60 images). With batches of 64, bp_only is too small.
func TestCKAMatricesSubsetsSizesAndOrientation(t *testing.T) {
	const n = 200
	labels := make([]uint8, n)
	pr, pu := make([]int, n), make([]int, n)
	var wantBoth, wantRefOnly []int
	for i := range labels {
		y := i % 10
		labels[i] = uint8(y)
		pr[i], pu[i] = y, y
		if y >= 8 {
			pr[i] = (y + 1) % 10
		}
		if y >= 5 && y != 9 {
			pu[i] = (y + 3) % 10
		}
		switch {
		case y < 5:
			wantBoth = append(wantBoth, i)
		case y < 8:
			wantRefOnly = append(wantRefOnly, i)
		}
	}
	ref, rule := randomFeatures(n, pr, 1), randomFeatures(n, pu, 2)
	o := cka.MinibatchOptions{BatchSize: 64, Passes: 2, Seed: 9}
	pair := Pair{Seed: 3, Rule: "fa_random", Reference: "bp", ReferenceSeed: 3}
	got, err := CKAMatrices(ref, rule, labels, pair, o)
	if err != nil {
		t.Fatal(err)
	}
	all := make([]int, n)
	for i := range all {
		all[i] = i
	}
	want := []struct {
		subset   string
		idx      []int
		tooSmall bool
	}{{"all", all, false}, {"both_correct", wantBoth, false}, {"bp_only", wantRefOnly, true}}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want 3", len(got))
	}
	for k, w := range want {
		e := got[k]
		head := Entry{Seed: 3, Rule: "fa_random", Reference: "bp", ReferenceSeed: 3, Subset: w.subset, N: len(w.idx), TooSmall: w.tooSmall, Estimator: "minibatch_unbiased"}
		m := e.Matrix
		e.Matrix = nil
		if !reflect.DeepEqual(e, head) {
			t.Errorf("entry %d = %+v, want %+v", k, e, head)
		}
		if w.tooSmall {
			if m != nil {
				t.Errorf("%s: too small but has a matrix", w.subset)
			}
			continue
		}
		if len(m) != 5 {
			t.Fatalf("%s: %d rows", w.subset, len(m))
		}
		// Every element against a single-pair call on rows gathered by
		// the test: row i is the rule's layer i, column j the ref's layer j.
		for i := 0; i < 5; i++ {
			if len(m[i]) != 5 {
				t.Fatalf("%s: row %d has %d columns", w.subset, i, len(m[i]))
			}
			for j := 0; j < 5; j++ {
				v, err := cka.Minibatch(gather(rule.Layers[i], w.idx), gather(ref.Layers[j], w.idx), o)
				if err != nil {
					t.Fatal(err)
				}
				if m[i][j] != v {
					t.Errorf("%s [%d][%d] = %.17g, want CKA(rule %d, ref %d) = %.17g", w.subset, i, j, m[i][j], i, j, v)
				}
			}
		}
	}
	if _, err := CKAMatrices(ref, rule, labels, pair, cka.MinibatchOptions{BatchSize: 2, Passes: 1}); err == nil {
		t.Error("invalid options: no error")
	}
}

// TestModelAgainstItselfHasUnitDiagonal extracts the features of a random
// network on 300 synthetic images and compares the model with itself. The
// minibatch estimator of X against itself is Σ HSIC(K,K)/sqrt(Σ HSIC(K,K)²)
// = 1 up to rounding, and the matrix is symmetric. Labels are the model's
// own predictions except on every third image, so both_correct has 200
// images and bp_only none (too small).
func TestModelAgainstItselfHasUnitDiagonal(t *testing.T) {
	const n = 300
	set := cifar.Synthetic(n, 4)
	x := cifar.CenterCropSet(set)
	p := nn.NewParams()
	p.InitPyTorch(5)
	f := ExtractFeatures(p, x, n, 128)
	labels := make([]uint8, n)
	for i, k := range f.Pred {
		labels[i] = uint8(k)
		if i%3 == 0 {
			labels[i] = uint8((k + 1) % 10)
		}
	}
	got, err := CKAMatrices(f, f, labels, Pair{Seed: 1, Rule: "bp", Reference: "bp", ReferenceSeed: 1}, cka.MinibatchOptions{BatchSize: 64, Passes: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	sizes := []int{300, 200, 0}
	for k, e := range got {
		if e.N != sizes[k] {
			t.Errorf("%s: n = %d, want %d", e.Subset, e.N, sizes[k])
		}
		if k == 2 {
			if !e.TooSmall || e.Matrix != nil {
				t.Errorf("bp_only of a model with itself is empty and must be flagged too small: %+v", e)
			}
			continue
		}
		for i := 0; i < 5; i++ {
			if math.Abs(e.Matrix[i][i]-1) > 1e-9 {
				t.Errorf("%s: diagonal [%d] = %.17g, want 1", e.Subset, i, e.Matrix[i][i])
			}
			for j := 0; j < 5; j++ {
				if e.Matrix[i][j] != e.Matrix[j][i] {
					t.Errorf("%s: [%d][%d] = %g but [%d][%d] = %g", e.Subset, i, j, e.Matrix[i][j], j, i, e.Matrix[j][i])
				}
				if !(e.Matrix[i][j] > 0 && e.Matrix[i][j] <= 1+1e-9) {
					t.Errorf("%s: [%d][%d] = %g outside (0,1]", e.Subset, i, j, e.Matrix[i][j])
				}
			}
		}
	}
}

// TestExtractFeaturesCopiesEveryLayer checks every element of every layer
// and every prediction against a model run directly, image by image, and
// that the batch size (a partial last batch included) changes nothing.
func TestExtractFeaturesCopiesEveryLayer(t *testing.T) {
	const n, size = 7, nn.InputC * nn.InputH * nn.InputW
	x := cifar.CenterCropSet(cifar.Synthetic(n, 8))
	p := nn.NewParams()
	p.InitPyTorch(6)
	rule, _ := nn.NewRule("bp", 0, 0)
	m := nn.NewModel(p, rule, 1)
	for _, batch := range []int{1, 3, 7, 50} {
		f := ExtractFeatures(p, x, n, batch)
		for i := 0; i < n; i++ {
			m.Forward(x[i*size:(i+1)*size], 1)
			for l := 0; l < nn.NumLayers; l++ {
				want := m.PreActivation(l)
				d := f.Layers[l].Cols
				if d != len(want) || f.Layers[l].Rows != n {
					t.Fatalf("layer %d is %d×%d, want %d×%d", l, f.Layers[l].Rows, d, n, len(want))
				}
				for k, v := range want {
					if g := f.Layers[l].Data[i*d+k]; g != v {
						t.Fatalf("batch %d image %d layer %d [%d] = %g, want %g", batch, i, l, k, g, v)
					}
				}
			}
			// The prediction is the argmax of the fc3 row (ties: lower).
			logits := f.Layers[nn.FC3].Data[i*10 : (i+1)*10]
			best := 0
			for k, v := range logits {
				if v > logits[best] {
					best = k
				}
			}
			if f.Pred[i] != best {
				t.Errorf("batch %d image %d: Pred %d, argmax of logits %d", batch, i, f.Pred[i], best)
			}
		}
	}
}

func TestFeaturesRowsGathersInOrder(t *testing.T) {
	f := randomFeatures(5, []int{0, 1, 2, 3, 4}, 3)
	g := f.Rows([]int{4, 1, 1})
	if !reflect.DeepEqual(g.Pred, []int{4, 1, 1}) {
		t.Errorf("Pred = %v", g.Pred)
	}
	for l := range f.Layers {
		want := gather(f.Layers[l], []int{4, 1, 1})
		if !reflect.DeepEqual(g.Layers[l], want) {
			t.Errorf("layer %d: %v, want %v", l, g.Layers[l], want)
		}
	}
}

func TestCeilingPairs(t *testing.T) {
	p := func(s, r int) Pair { return Pair{Seed: s, Rule: "bp", Reference: "bp", ReferenceSeed: r} }
	for _, tc := range []struct {
		seeds []int
		want  []Pair
	}{
		{nil, nil},
		{[]int{4}, nil},
		{[]int{1, 2}, []Pair{p(1, 2), p(2, 1)}},
		{[]int{0, 5, 9}, []Pair{p(0, 5), p(5, 9), p(9, 0)}},
	} {
		if got := CeilingPairs(tc.seeds); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("CeilingPairs(%v) = %v, want %v", tc.seeds, got, tc.want)
		}
	}
}

// TestPerClassHandMadeExample: 20 test images, two per class (labels
// i%10). bp has two seeds, fa one, usf one.
func TestPerClassHandMadeExample(t *testing.T) {
	labels := make([]uint8, 20)
	for i := range labels {
		labels[i] = uint8(i % 10)
	}
	// right returns predictions correct exactly on the listed images.
	right := func(ok ...int) []int {
		p := make([]int, 20)
		for i := range p {
			p[i] = (i%10 + 1) % 10
		}
		for _, i := range ok {
			p[i] = i % 10
		}
		return p
	}
	every := []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}
	pred := map[string][][]int{
		// seed 1 all right; seed 2 wrong on image 5 (class 5) and 13
		// (class 3): bp = 1 except classes 3 and 5 at (1 + 0.5)/2 = 0.75.
		"bp": {right(every...), right(0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11, 12, 14, 15, 16, 17, 18, 19)},
		// fa: wrong on 5, 15 (class 5: 0), 3 (class 3: 0.5), 7 (class 7:
		// 0.5). Deficits: class 3 0.25, class 5 0.75, class 7 0.5 → dog.
		"fa": {right(0, 1, 2, 4, 6, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 19)},
		// usf: wrong on 0 (class 0: 0.5), 3 (class 3: 0.5), 7 (class 7:
		// 0.5); right on all of class 5 (1, better than bp's 0.75).
		// Deficits: class 0 0.5, class 3 0.25, class 5 −0.25, class 7 0.5:
		// a tie between classes 0 and 7, won by the lower (airplane).
		"usf": {right(1, 2, 4, 5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19)},
	}
	got, err := PerClass(labels, pred)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]ClassResult{
		"bp": {Accuracy: []float64{1, 1, 1, 0.75, 1, 0.75, 1, 1, 1, 1}, WorstClassIdx: -1},
		"fa": {Accuracy: []float64{1, 1, 1, 0.5, 1, 0, 1, 0.5, 1, 1},
			DeficitVsBP: []float64{0, 0, 0, 0.25, 0, 0.75, 0, 0.5, 0, 0},
			WorstClass:  "dog", WorstClassIdx: 5, WorstClassDrop: 0.75},
		"usf": {Accuracy: []float64{0.5, 1, 1, 0.5, 1, 1, 1, 0.5, 1, 1},
			DeficitVsBP: []float64{0.5, 0, 0, 0.25, 0, -0.25, 0, 0.5, 0, 0},
			WorstClass:  "airplane", WorstClassIdx: 0, WorstClassDrop: 0.5},
	}
	if !reflect.DeepEqual(got, want) {
		for r := range want {
			if !reflect.DeepEqual(got[r], want[r]) {
				t.Errorf("%s:\n got %+v\nwant %+v", r, got[r], want[r])
			}
		}
		if len(got) != len(want) {
			t.Errorf("%d rules, want %d", len(got), len(want))
		}
	}

	// Without bp there is nothing to compare against.
	got, err = PerClass(labels, map[string][][]int{"fa": pred["fa"]})
	if err != nil {
		t.Fatal(err)
	}
	if w := (ClassResult{Accuracy: want["fa"].Accuracy, WorstClassIdx: -1}); !reflect.DeepEqual(got["fa"], w) {
		t.Errorf("without bp: %+v, want %+v", got["fa"], w)
	}
}

func TestPerClassErrors(t *testing.T) {
	labels := []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 8} // no class 9
	if _, err := PerClass(labels, map[string][][]int{"bp": {make([]int, 10)}}); err == nil {
		t.Error("missing class: no error")
	} else {
		t.Log(err)
	}
	full := []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	if _, err := PerClass(full, map[string][][]int{"bp": {}}); err == nil {
		t.Error("rule without seeds: no error")
	} else {
		t.Log(err)
	}
}
