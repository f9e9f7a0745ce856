package nn

import (
	"fmt"
	"math"

	"github.com/fabeam/fabeam/engine/rng"
)

// Layer indices of Architecture 1, in forward order. They index LayerNames,
// Params.Weight, Params.Bias, StepMetrics and the per-layer results of
// UpdateAngles and FeedbackStats.
const (
	Conv1 = iota
	Conv2
	FC1
	FC2
	FC3
	NumLayers
)

// LayerNames are the PyTorch module names of the five layers, as used in
// state_dict keys ("conv1.weight") and feedback tensor names ("feedback.conv2").
var LayerNames = [NumLayers]string{"conv1", "conv2", "fc1", "fc2", "fc3"}

// NumParams is the number of trainable parameters of Architecture 1.
const NumParams = 404746

// InputC, InputH and InputW are the shape of one input image, (3, 24, 24),
// normalised float32 in CHW order.
const InputC, InputH, InputW = 3, 24, 24

// NumClasses is the number of output classes (CIFAR-10).
const NumClasses = 10

// inputSize is the number of floats in one input image.
const inputSize = InputC * InputH * InputW

// weightShapes are the PyTorch shapes of the five weight tensors.
var weightShapes = [NumLayers][]int{
	{64, 3, 5, 5},
	{64, 64, 5, 5},
	{384, 576},
	{192, 384},
	{10, 192},
}

// fanIn returns the fan-in of layer l: the product of its weight shape
// without the leading (output) dimension: 75, 1600, 576, 384, 192.
func fanIn(l int) int {
	f := 1
	for _, d := range weightShapes[l][1:] {
		f *= d
	}
	return f
}

// initBound returns the bound 1/sqrt(fan_in) of layer l's initialisation
// distribution U(±bound) (InitPyTorch).
func initBound(l int) float64 { return 1 / math.Sqrt(float64(fanIn(l))) }

// initStd returns the standard deviation of layer l's initialisation
// distribution U(±1/sqrt(fan_in)): bound/sqrt(3) = 1/sqrt(3·fan_in).
func initStd(l int) float64 { return 1 / math.Sqrt(3*float64(fanIn(l))) }

// fanOut returns the number of outputs of layer l's weight (its first dim).
func fanOut(l int) int { return weightShapes[l][0] }

// Tensor is a named view with a PyTorch-layout shape. Data is row-major and
// has exactly the product of Shape elements.
type Tensor struct {
	Name  string
	Shape []int
	Data  []float32
}

// numel returns the product of shape.
func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

// Params holds every weight and bias of Architecture 1 in one []float32,
// in PyTorch state_dict order:
//
//	conv1.weight (64,3,5,5)   conv1.bias (64)
//	conv2.weight (64,64,5,5)  conv2.bias (64)
//	fc1.weight   (384,576)    fc1.bias   (384)
//	fc2.weight   (192,384)    fc2.bias   (192)
//	fc3.weight   (10,192)     fc3.bias   (10)
//
// Weight(l) and Bias(l) are views into Data, so an optimiser can update
// Data as one flat vector.
type Params struct {
	// Data holds all NumParams parameters.
	Data []float32
	w, b [NumLayers][]float32
}

// NewParams returns zeroed parameters.
func NewParams() *Params {
	p := &Params{Data: make([]float32, NumParams)}
	off := 0
	for l := 0; l < NumLayers; l++ {
		nw := numel(weightShapes[l])
		p.w[l] = p.Data[off : off+nw : off+nw]
		off += nw
		nb := fanOut(l)
		p.b[l] = p.Data[off : off+nb : off+nb]
		off += nb
	}
	if off != NumParams {
		panic(fmt.Sprintf("nn: parameter layout holds %d values, want %d", off, NumParams))
	}
	return p
}

// InitPyTorch sets every weight and bias the way PyTorch's nn.Conv2d and
// nn.Linear initialise them by default: uniform in ±1/sqrt(fan_in), where
// fan_in is 75, 1600, 576, 384, 192. Values are drawn from
// rng.New(seed, "init"), tensor by tensor in state_dict order (weight then
// bias of each layer), so the same seed gives the same initial network for
// every rule.
func (p *Params) InitPyTorch(seed uint64) {
	r := rng.New(seed, "init")
	for l := 0; l < NumLayers; l++ {
		bound := initBound(l)
		r.FillUniform(p.w[l], bound)
		r.FillUniform(p.b[l], bound)
	}
}

// Tensors returns the ten state_dict tensors, views into Data, in order.
func (p *Params) Tensors() []Tensor {
	ts := make([]Tensor, 0, 2*NumLayers)
	for l := 0; l < NumLayers; l++ {
		ts = append(ts,
			Tensor{Name: LayerNames[l] + ".weight", Shape: append([]int(nil), weightShapes[l]...), Data: p.w[l]},
			Tensor{Name: LayerNames[l] + ".bias", Shape: []int{fanOut(l)}, Data: p.b[l]})
	}
	return ts
}

// Weight returns layer l's weight, a view into Data in PyTorch layout
// ((oc,c,kh,kw) for convolutions, (out,in) for linear layers).
// It panics if l is not a layer index.
func (p *Params) Weight(l int) []float32 { checkLayer(l); return p.w[l] }

// Bias returns layer l's bias, a view into Data. It panics if l is not a
// layer index.
func (p *Params) Bias(l int) []float32 { checkLayer(l); return p.b[l] }

// CopyFrom copies q's values into p.
func (p *Params) CopyFrom(q *Params) { copy(p.Data, q.Data) }

// Clone returns a deep copy of p.
func (p *Params) Clone() *Params {
	c := NewParams()
	c.CopyFrom(p)
	return c
}

// zero sets every parameter to 0.
func (p *Params) zero() { clear(p.Data) }

func checkLayer(l int) {
	if l < 0 || l >= NumLayers {
		panic(fmt.Sprintf("nn: layer index %d out of range [0,%d)", l, NumLayers))
	}
}
