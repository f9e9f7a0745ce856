package nn

import (
	"fmt"
	"math"

	"github.com/fabeam/fabeam/engine/rng"
)

// Rule is a learning rule. A rule decides the error that arrives at the
// output of each hidden layer — the post-activation tensor the layer above
// consumes: pool1 (64,10,10) for Conv1, pool2 (576) for Conv2, relu3 (384)
// for FC1, relu4 (192) for FC2 — and at FC3's input. It does so through the
// Operator it returns for each of Conv2, FC1, FC2 and FC3 (Conv1 sends
// nothing back): the operator of layer l delivers the error to layer l's
// input, which is layer l-1's output. An operator either chains, carrying
// the error at layer l's own (pre-activation) output back through a matrix
// used in place of l's weight (backprop and feedback alignment), or is
// direct, projecting the output error e = ∂L/∂logits (n,10) straight to
// layer l's input (direct feedback alignment). For FC3 both are the same
// thing, since the error at FC3's output is e. Weight and bias gradients
// are always the ordinary ones, computed from the error the rule delivered.
//
// Adding a rule means one file holding a type implementing Rule (plus
// FeedbackTensors if it holds fixed random tensors that a checkpoint must
// carry, StepRule if its operators change with the optimiser step) and its
// RuleSpec, one entry in the rules table below, and its tests.
type Rule interface {
	// Name returns the rule's name as accepted by NewRule.
	Name() string
	// Operator returns the operator of layer l (l in Conv2..FC3), which
	// delivers the error to l's input. scratch has len(w) for layer l's
	// weight w and belongs to the caller for the duration of one backward
	// pass; a rule whose operator is computed from w (uSF) or drawn afresh
	// (brsf) writes it there and returns it. The result must not be
	// modified by the caller.
	Operator(l int, w, scratch []float32) Operator
}

// StepRule is implemented by rules whose operators depend on the optimiser
// step (brsf redraws its random magnitudes every step). The training loop
// calls SetStep with the 1-based global step number before each backward
// pass; the operators are then a function of (seed, layer, step) alone, so
// a run resumed at step k draws exactly what an uninterrupted run draws.
// Such a rule holds the step, so one value must serve one training run at a
// time.
type StepRule interface {
	Rule
	// SetStep sets the optimiser step the next operators belong to.
	SetStep(step int)
}

// Operator is the matrix that delivers the error to a layer's input.
//
// Chained (Direct false): for a linear layer B has W's shape (out,in) and
// dinp = dout · B, dout the error at the layer's pre-activation output. For
// Conv2, B is a kernel of W's shape (oc,c,kh,kw) applied as a transposed
// convolution, unless Dense is set: then B is a dense (oc*oh*ow, c*h*w)
// matrix, (2304, 6400), and dinp = dout · B on the flattened (C,H,W)
// tensors.
//
// Direct (Direct true): B is a dense (10, size of the layer's input)
// matrix and dinp = e · B with e = ∂L/∂logits (n,10), the error at the
// network's output; for Conv2 the input is flattened (C,H,W), (10, 6400).
// For FC3 a direct operator is the same as a chained one of W's shape.
type Operator struct {
	// B is the operator's matrix (see above). B aliases w for bp.
	B []float32
	// Dense reports that B is Conv2's dense (2304, 6400) matrix.
	Dense bool
	// Direct reports that B multiplies the output error e rather than the
	// error at the layer's own output.
	Direct bool
	// Fixed reports that B does not change during training (the FA rules);
	// sign concordance with W is measured only for such operators, and
	// only where B has W's shape.
	Fixed bool
}

// FeedbackTensors is implemented by rules holding fixed random tensors B0,
// so checkpoints can save and restore them. Names are "feedback.conv2",
// "feedback.fc1", "feedback.fc2", "feedback.fc3".
type FeedbackTensors interface {
	// Feedback returns the rule's fixed tensors, views into its storage.
	Feedback() []Tensor
	// SetFeedback copies ts into the rule's tensors; every tensor of
	// Feedback() must be present, by name, with the same shape.
	SetFeedback(ts []Tensor) error
}

// rules is the table of known rules, in the order RuleNames reports them
// (and every table and figure shows them).
var rules = []*RuleSpec{&bpSpec, &faRandomSpec, &faToeplitzSpec, &usfInitSpec, &usfSNSpec, &usfSpec, &frsfSpec, &brsfSpec, &dfaSpec}

// RuleNames returns the names NewRule accepts:
// bp, fa_random, fa_toeplitz, usf_init, usf_sn.
func RuleNames() []string {
	names := make([]string, len(rules))
	for i, r := range rules {
		names[i] = r.Name
	}
	return names
}

// NewRule returns the rule called name. Rules with fixed random tensors draw
// B0 ~ N(0, sigma²) from rng.New(seed, "feedback/"+LayerNames[l]); rules
// without them ignore sigma and seed. An unknown name or a sigma that is not
// a positive finite number (for rules that use it) is an error.
func NewRule(name string, sigma float64, seed uint64) (Rule, error) {
	s, err := Spec(name)
	if err != nil {
		return nil, err
	}
	if s.UsesSigma && (!(sigma > 0) || math.IsInf(sigma, 0)) {
		return nil, fmt.Errorf("nn: rule %q needs a positive finite sigma for its feedback weights, got %v (the paper uses 0.01, 0.05 or 0.1)", name, sigma)
	}
	return s.New(sigma, seed), nil
}

// fixedFeedback holds the fixed random tensors B0 of the FA-family rules,
// for Conv2..FC3, and implements FeedbackTensors.
type fixedFeedback struct {
	b0     [NumLayers][]float32
	shapes [NumLayers][]int
}

// newFixedFeedback draws B0 ~ N(0, sigma²) for Conv2..FC3 with the given
// shapes, each layer from its own stream rng.New(seed, "feedback/<layer>").
func newFixedFeedback(sigma float64, seed uint64, conv2Shape []int) fixedFeedback {
	shapes := weightShapes
	shapes[Conv2] = conv2Shape
	return newFixedFeedbackShaped(sigma, seed, shapes)
}

// newFixedFeedbackShaped draws B0 ~ N(0, sigma²) for Conv2..FC3 in the
// given shapes, each layer from its own stream rng.New(seed,
// "feedback/<layer>").
func newFixedFeedbackShaped(sigma float64, seed uint64, shapes [NumLayers][]int) fixedFeedback {
	var f fixedFeedback
	for l := Conv2; l < NumLayers; l++ {
		f.shapes[l] = append([]int(nil), shapes[l]...)
		f.b0[l] = make([]float32, numel(shapes[l]))
		rng.New(seed, "feedback/"+LayerNames[l]).FillNormal(f.b0[l], sigma)
	}
	return f
}

// Feedback returns B0 for Conv2..FC3 as "feedback.<layer>" tensors, views
// into the rule's storage.
func (f *fixedFeedback) Feedback() []Tensor {
	ts := make([]Tensor, 0, NumLayers-1)
	for l := Conv2; l < NumLayers; l++ {
		ts = append(ts, Tensor{Name: "feedback." + LayerNames[l], Shape: append([]int(nil), f.shapes[l]...), Data: f.b0[l]})
	}
	return ts
}

// SetFeedback copies the "feedback.<layer>" tensors of ts into B0. It
// returns an error naming the tensor if one is missing or has another shape
// or length; nothing is changed then.
func (f *fixedFeedback) SetFeedback(ts []Tensor) error {
	var src [NumLayers][]float32
	for l := Conv2; l < NumLayers; l++ {
		name := "feedback." + LayerNames[l]
		found := false
		for _, t := range ts {
			if t.Name != name {
				continue
			}
			found = true
			if !equalShape(t.Shape, f.shapes[l]) || len(t.Data) != len(f.b0[l]) {
				return fmt.Errorf("nn: feedback tensor %q has shape %v and %d values, this rule needs shape %v; was the checkpoint written for another rule?", name, t.Shape, len(t.Data), f.shapes[l])
			}
			src[l] = t.Data
		}
		if !found {
			return fmt.Errorf("nn: feedback tensor %q missing; the checkpoint must hold every tensor the rule's Feedback() returns", name)
		}
	}
	for l := Conv2; l < NumLayers; l++ {
		copy(f.b0[l], src[l])
	}
	return nil
}

func equalShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// sign32 returns -1, 0 or +1; sign(0) = 0 (and sign(NaN) = 0).
func sign32(v float32) float32 {
	switch {
	case v > 0:
		return 1
	case v < 0:
		return -1
	}
	return 0
}

func checkFeedbackLayer(l int) {
	if l < Conv2 || l >= NumLayers {
		panic(fmt.Sprintf("nn: layer %d has no feedback operator (only conv2, fc1, fc2, fc3 send errors back)", l))
	}
}
