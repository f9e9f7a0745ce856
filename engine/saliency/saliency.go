package saliency

import (
	"fmt"
	"sort"

	"github.com/fabeam/fabeam/engine/nn"
)

// layerGeom is, per layer, the number of channels and the number of spatial
// positions per channel of its pre-ReLU output: conv1 (64,20,20), conv2
// (64,6,6); a linear layer's units are channels with one position each.
var layerGeom = [nn.NumLayers]struct{ channels, spatial int }{
	{64, 20 * 20},
	{64, 6 * 6},
	{384, 1},
	{192, 1},
	{10, 1},
}

// Channels returns the number of channels of layer l's pre-ReLU output
// (64 for conv1 and conv2, the unit count for a linear layer). It panics if l
// is not a layer index.
func Channels(l int) int { checkLayer("Channels", l); return layerGeom[l].channels }

// Spatial returns the number of spatial positions per channel of layer l's
// pre-ReLU output (400 for conv1, 36 for conv2, 1 for a linear layer). It
// panics if l is not a layer index.
func Spatial(l int) int { checkLayer("Spatial", l); return layerGeom[l].spatial }

func checkLayer(where string, l int) {
	if l < 0 || l >= nn.NumLayers {
		panic(fmt.Sprintf("saliency: %s: layer index %d out of range [0,%d)", where, l, nn.NumLayers))
	}
}

// checkInput panics unless x holds n images of (3,24,24) and batch ≥ 1.
func checkInput(where string, x []float32, n, batch int) {
	const size = nn.InputC * nn.InputH * nn.InputW
	if n < 0 {
		panic(fmt.Sprintf("saliency: %s: n = %d < 0", where, n))
	}
	if batch < 1 {
		panic(fmt.Sprintf("saliency: %s: batch = %d, need ≥ 1", where, batch))
	}
	if len(x) != n*size {
		panic(fmt.Sprintf("saliency: %s: len(x) = %d, want n*3*24*24 = %d*%d = %d", where, len(x), n, size, n*size))
	}
}

// bpModel returns a plain backprop model over p, so that every gradient it
// computes is the true gradient whatever rule trained p.
func bpModel(p *nn.Params, batch int) *nn.Model {
	rule, err := nn.NewRule(nn.Reference, 0, 0)
	if err != nil {
		panic("saliency: " + err.Error())
	}
	return nn.NewModel(p, rule, batch)
}

// spatialMeans writes into dst (n, channels) the float64 mean over the
// spatial positions of each channel of v (n, channels, spatial).
func spatialMeans(dst []float64, v []float32, n, channels, spatial int) {
	if len(v) < n*channels*spatial {
		panic(fmt.Sprintf("saliency: layer output holds %d values, want n*channels*spatial = %d*%d*%d", len(v), n, channels, spatial))
	}
	for i := 0; i < n*channels; i++ {
		var s float64
		for _, a := range v[i*spatial : (i+1)*spatial] {
			s += float64(a)
		}
		dst[i] = s / float64(spatial)
	}
}

// ChannelStats holds, for one layer and a set of images, the per-image,
// per-channel spatial means of the pre-ReLU activation and of the gradient
// of the image's own predicted-class logit with respect to it.
type ChannelStats struct {
	// Layer is the layer index (nn.Conv1 ... nn.FC3).
	Layer int
	// N is the number of images; Channels the number of channels.
	N, Channels int
	// Pred is each image's predicted class (argmax of the logits).
	Pred []int
	// Act and Grad are (N, Channels), row-major:
	//
	//	Act[i*Channels+c]  = mean_{h,w} a_i[c,h,w]
	//	Grad[i*Channels+c] = mean_{h,w} ∂z_i[pred_i] / ∂a_i[c,h,w]
	Act, Grad []float64
}

// Importance returns the mean over the images of |Grad × Act| per channel:
//
//	importance_c = (1/N) Σ_i | Grad[i,c] · Act[i,c] |
//
// summed in float64 in image order. It panics if N = 0.
func (s *ChannelStats) Importance() []float64 {
	if s.N == 0 {
		panic("saliency: Importance of zero images")
	}
	imp := make([]float64, s.Channels)
	for i := 0; i < s.N; i++ {
		for c := range imp {
			v := s.Grad[i*s.Channels+c] * s.Act[i*s.Channels+c]
			if v < 0 {
				v = -v
			}
			imp[c] += v
		}
	}
	for c := range imp {
		imp[c] /= float64(s.N)
	}
	return imp
}

// Stats runs the n images of x (n,3,24,24) through p loaded into a plain bp
// network, batch images at a time, and for each image back-propagates the
// gradient of its own predicted-class logit (upstream gradient one-hot at the
// argmax of the logits; no softmax, no loss). It returns one ChannelStats per
// entry of layers, in that order. All layers come from the same forward and
// backward pass. It panics on malformed input or an unknown layer.
func Stats(p *nn.Params, x []float32, n, batch int, layers []int) []*ChannelStats {
	checkInput("Stats", x, n, batch)
	out := make([]*ChannelStats, len(layers))
	for k, l := range layers {
		checkLayer("Stats", l)
		c := layerGeom[l].channels
		out[k] = &ChannelStats{Layer: l, N: n, Channels: c, Pred: make([]int, n),
			Act: make([]float64, n*c), Grad: make([]float64, n*c)}
	}
	if n == 0 {
		return out
	}
	batch = min(batch, n)
	m := bpModel(p, batch)
	const size = nn.InputC * nn.InputH * nn.InputW
	pred := make([]int, batch)
	dlogits := make([]float32, batch*nn.NumClasses)
	for i0 := 0; i0 < n; i0 += batch {
		nb := min(batch, n-i0)
		m.Forward(x[i0*size:(i0+nb)*size], nb)
		pred = m.Predict(pred[:0])
		if len(pred) != nb {
			panic(fmt.Sprintf("saliency: Model.Predict returned %d predictions for a batch of %d", len(pred), nb))
		}
		clear(dlogits)
		for i, k := range pred {
			dlogits[i*nn.NumClasses+k] = 1
		}
		m.BackwardFromLogits(dlogits[:nb*nn.NumClasses])
		for _, s := range out {
			g := layerGeom[s.Layer]
			c := g.channels
			copy(s.Pred[i0:i0+nb], pred)
			spatialMeans(s.Act[i0*c:(i0+nb)*c], m.PreActivation(s.Layer), nb, c, g.spatial)
			spatialMeans(s.Grad[i0*c:(i0+nb)*c], m.PreActivationGrad(s.Layer), nb, c, g.spatial)
		}
	}
	return out
}

// ChannelImportance returns, for layer, the importance of every channel
// averaged over the n images of x (see ChannelStats.Importance). It panics
// if n = 0 or the input is malformed.
func ChannelImportance(p *nn.Params, x []float32, n, batch, layer int) []float64 {
	if n == 0 {
		panic("saliency: ChannelImportance of zero images")
	}
	return Stats(p, x, n, batch, []int{layer})[0].Importance()
}

// MeanActivations runs the n images of x through p (forward only, batch
// images at a time: nn.ForwardDataset) and returns, per entry of layers,
// the (n, channels) float64 spatial means of that layer's pre-ReLU output.
func MeanActivations(p *nn.Params, x []float32, n, batch int, layers []int) [][]float64 {
	checkInput("MeanActivations", x, n, batch)
	out := make([][]float64, len(layers))
	for k, l := range layers {
		checkLayer("MeanActivations", l)
		out[k] = make([]float64, n*layerGeom[l].channels)
	}
	nn.ForwardDataset(p, x, batch, func(b *nn.Block) error {
		for k, l := range layers {
			g := layerGeom[l]
			spatialMeans(out[k][b.Lo*g.channels:b.Hi*g.channels], b.Feature(l), b.Hi-b.Lo, g.channels, g.spatial)
		}
		return nil
	})
	return out
}

// TopK returns the indices of the k largest values, largest first; equal
// values are ordered by lower index first, so the result is deterministic.
// NaN values rank below every number. k is clipped to len(v). It panics if
// k < 0.
func TopK(v []float64, k int) []int {
	if k < 0 {
		panic(fmt.Sprintf("saliency: TopK: k = %d < 0", k))
	}
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	less := func(a, b int) bool { // a ranks before b
		va, vb := v[idx[a]], v[idx[b]]
		switch {
		case va != va && vb != vb:
			return idx[a] < idx[b]
		case va != va:
			return false
		case vb != vb:
			return true
		case va != vb:
			return va > vb
		}
		return idx[a] < idx[b]
	}
	sort.SliceStable(idx, less)
	return idx[:min(k, len(idx))]
}

// column returns column c of the row-major (n, channels) matrix m.
func column(m []float64, channels, c int) []float64 {
	n := len(m) / channels
	col := make([]float64, n)
	for i := range col {
		col[i] = m[i*channels+c]
	}
	return col
}

// TopActivating returns the k images of x (n,3,24,24) whose spatial-mean
// pre-ReLU activation of channel in layer is highest, highest first (ties:
// lower index first), with those activations.
func TopActivating(p *nn.Params, x []float32, n, batch, layer, channel, k int) (idx []int, act []float64) {
	checkLayer("TopActivating", layer)
	if channel < 0 || channel >= layerGeom[layer].channels {
		panic(fmt.Sprintf("saliency: TopActivating: channel %d out of range [0,%d) of %s", channel, layerGeom[layer].channels, nn.LayerNames[layer]))
	}
	means := MeanActivations(p, x, n, batch, []int{layer})[0]
	col := column(means, layerGeom[layer].channels, channel)
	idx = TopK(col, k)
	act = make([]float64, len(idx))
	for j, i := range idx {
		act[j] = col[i]
	}
	return idx, act
}

// Result is one model's channel importance and exemplars (Analyze).
type Result struct {
	// Seed is the model's seed (filled by the caller).
	Seed int
	// Layers are the analysed layers, in Options.Layers order.
	Layers []Layer
}

// Layer is one layer's analysis.
type Layer struct {
	// Layer is the layer's name (nn.LayerNames).
	Layer string
	// Importance is every channel's importance, averaged over the images
	// of Options.Class.
	Importance []float64
	// Top are the most important channels, most important first.
	Top []Top
}

// Top is one of a layer's most important channels.
type Top struct {
	Channel    int
	Importance float64
	// Exemplars are the indices of the test images with the highest
	// spatial-mean pre-ReLU activation of the channel, highest first, and
	// Activation those activations.
	Exemplars  []int
	Activation []float64
}

// Options configures Analyze.
type Options struct {
	// Layers are the layers to analyse, in the order they are reported
	// (the paper: nn.Conv2, and nn.Conv1 which its text mentions).
	Layers []int
	// TopChannels is the number of most important channels kept per layer (3).
	TopChannels int
	// Exemplars is the number of top-activating test images per channel (9).
	Exemplars int
	// Batch is the number of images per forward/backward pass.
	Batch int
	// Class is the class whose images define importance (5, "dog").
	Class int
}

// DefaultOptions returns the paper's settings: conv2 then conv1, top 3
// channels, 9 exemplars, class 5 (dog), batch 128.
func DefaultOptions() Options {
	return Options{Layers: []int{nn.Conv2, nn.Conv1}, TopChannels: 3, Exemplars: 9, Batch: 128, Class: 5}
}

// Validate reports a configuration error, naming the field.
func (o Options) Validate() error {
	if len(o.Layers) == 0 {
		return fmt.Errorf("saliency options: Layers is empty; give at least one layer index (conv2 = %d)", nn.Conv2)
	}
	for _, l := range o.Layers {
		if l < 0 || l >= nn.NumLayers {
			return fmt.Errorf("saliency options: Layers holds %d; layer indices are 0..%d (%v)", l, nn.NumLayers-1, nn.LayerNames)
		}
	}
	if o.TopChannels < 1 {
		return fmt.Errorf("saliency options: TopChannels = %d; need ≥ 1 (the paper keeps 3)", o.TopChannels)
	}
	if o.Exemplars < 1 {
		return fmt.Errorf("saliency options: Exemplars = %d; need ≥ 1 (the paper shows 9)", o.Exemplars)
	}
	if o.Batch < 1 {
		return fmt.Errorf("saliency options: Batch = %d; need ≥ 1 (e.g. 128)", o.Batch)
	}
	if o.Class < 0 || o.Class >= nn.NumClasses {
		return fmt.Errorf("saliency options: Class = %d; need 0..%d (dog = 5)", o.Class, nn.NumClasses-1)
	}
	return nil
}

// Analyze computes one model's channel importance and exemplars. testX
// (n,3,24,24) are the centre-cropped, normalised test images and testY their
// labels. For each layer of o.Layers: importance of every channel averaged
// over the images labelled o.Class; the o.TopChannels most important
// channels, most important first (ties: lower channel first); for each, the
// o.Exemplars test images (indices into testX, over all classes) with the
// highest spatial-mean pre-ReLU activation of that channel. The returned
// result's Seed is left 0 for the caller to fill. It returns an error if
// o is invalid or no image has label o.Class, and panics if testX and testY
// disagree in length.
func Analyze(p *nn.Params, testX []float32, testY []uint8, o Options) (Result, error) {
	if err := o.Validate(); err != nil {
		return Result{}, err
	}
	const size = nn.InputC * nn.InputH * nn.InputW
	n := len(testY)
	checkInput("Analyze", testX, n, o.Batch)
	var sel []int
	for i, y := range testY {
		if int(y) == o.Class {
			sel = append(sel, i)
		}
	}
	if len(sel) == 0 {
		return Result{}, fmt.Errorf("saliency: no test image has label %d, so channel importance is undefined; check the test labels or Options.Class", o.Class)
	}
	xc := make([]float32, len(sel)*size)
	for j, i := range sel {
		copy(xc[j*size:(j+1)*size], testX[i*size:(i+1)*size])
	}
	stats := Stats(p, xc, len(sel), o.Batch, o.Layers)
	means := MeanActivations(p, testX, n, o.Batch, o.Layers)
	res := Result{Layers: make([]Layer, len(o.Layers))}
	for k, l := range o.Layers {
		imp := stats[k].Importance()
		lc := Layer{Layer: nn.LayerNames[l], Importance: imp}
		for _, c := range TopK(imp, o.TopChannels) {
			col := column(means[k], layerGeom[l].channels, c)
			ex := TopK(col, o.Exemplars)
			act := make([]float64, len(ex))
			for j, i := range ex {
				act[j] = col[i]
			}
			lc.Top = append(lc.Top, Top{Channel: c, Importance: imp[c], Exemplars: ex, Activation: act})
		}
		res.Layers[k] = lc
	}
	return res, nil
}
