package nn

import (
	"errors"
	"testing"

	"github.com/fabeam/fabeam/engine/rng"
)

// TestForwardDatasetMatchesImageByImage checks every element of every
// layer and every prediction of ForwardDataset against the model run
// directly, image by image, for several batch sizes (a partial last block
// included), and that the blocks tile the images in order.
func TestForwardDatasetMatchesImageByImage(t *testing.T) {
	const n, size = 7, InputC * InputH * InputW
	x := make([]float32, n*size)
	r := rng.New(8, "forward-dataset-test")
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	p := NewParams()
	p.InitPyTorch(6)
	rule, _ := NewRule("bp", 0, 0)
	m := NewModel(p, rule, 1)
	want := make([][NumLayers][]float32, n)
	for i := range n {
		m.Forward(x[i*size:(i+1)*size], 1)
		for l := range NumLayers {
			want[i][l] = append([]float32(nil), m.PreActivation(l)...)
			if len(want[i][l]) != FeatureDims[l] {
				t.Fatalf("layer %d has %d values per image, FeatureDims says %d", l, len(want[i][l]), FeatureDims[l])
			}
		}
	}
	for _, batch := range []int{1, 3, 7, 50} {
		next := 0
		err := ForwardDataset(p, x, batch, func(b *Block) error {
			if b.Lo != next || b.Hi <= b.Lo || b.Hi-b.Lo > batch || len(b.Pred) != b.Hi-b.Lo {
				t.Fatalf("batch %d: block [%d,%d) with %d predictions after image %d", batch, b.Lo, b.Hi, len(b.Pred), next)
			}
			next = b.Hi
			for i := b.Lo; i < b.Hi; i++ {
				for l := range NumLayers {
					d := FeatureDims[l]
					got := b.Feature(l)[(i-b.Lo)*d : (i-b.Lo+1)*d]
					for k, v := range want[i][l] {
						if got[k] != v {
							t.Fatalf("batch %d image %d layer %d [%d] = %g, want %g", batch, i, l, k, got[k], v)
						}
					}
				}
				logits, best := want[i][FC3], 0
				for k, v := range logits {
					if v > logits[best] {
						best = k
					}
				}
				if b.Pred[i-b.Lo] != best {
					t.Errorf("batch %d image %d: Pred %d, argmax of logits %d", batch, i, b.Pred[i-b.Lo], best)
				}
			}
			return nil
		})
		if err != nil || next != n {
			t.Fatalf("batch %d: err %v after %d of %d images", batch, err, next, n)
		}
	}
	stop := errors.New("stop")
	calls := 0
	if err := ForwardDataset(p, x, 2, func(*Block) error { calls++; return stop }); err != stop || calls != 1 {
		t.Errorf("an error from visit: got %v after %d calls, want it returned after 1", err, calls)
	}
	if err := ForwardDataset(p, nil, 4, func(*Block) error { t.Error("visit called on no images"); return nil }); err != nil {
		t.Error(err)
	}
}

// A pass that reads only the predictions lays out no convolution's
// pre-activation (a validation pass costs only the forward); asking a
// block for a feature lays out that layer alone.
func TestForwardDatasetLaysOutFeaturesOnDemand(t *testing.T) {
	const n, size = 6, InputC * InputH * InputW
	r := rng.New(3, "lazy")
	x := make([]float32, n*size)
	r.FillNormal(x, 1)
	p := NewParams()
	p.InitPyTorch(2)
	m := NewModel(p, BP{}, 4)
	m.ForwardDataset(x, 4, func(b *Block) error {
		if m.convOutReady != [2]bool{} {
			t.Errorf("block [%d,%d): a pass reading only Pred laid out %v", b.Lo, b.Hi, m.convOutReady)
		}
		return nil
	})
	m.ForwardDataset(x, 4, func(b *Block) error {
		b.Feature(Conv2)
		if m.convOutReady != [2]bool{false, true} {
			t.Errorf("block [%d,%d): after Feature(Conv2), laid out %v", b.Lo, b.Hi, m.convOutReady)
		}
		return nil
	})
}
