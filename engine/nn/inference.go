package nn

import "fmt"

// FeatureDims are the widths of the five pre-ReLU outputs per image, in
// layer order: conv1 (64,20,20) = 25,600; conv2 (64,6,6) = 2,304; fc1 384;
// fc2 192; fc3 10 (the logits).
var FeatureDims = [NumLayers]int{c1Out, c2Out, fc1Out, fc2Out, NumClasses}

// Block is one batch of a forward pass over a dataset: images Lo..Hi-1.
type Block struct {
	Lo, Hi int
	// Pred is the argmax of each image's logits (ties to the lower class);
	// valid only during the callback.
	Pred []int

	m *Model
}

// Feature returns layer l's pre-ReLU outputs of the block: (Hi-Lo) rows
// of FeatureDims[l] values in the layer's (C,H,W) flattening; FC3's are
// the logits. A convolution's are laid out on the first call for the
// block (Model.PreActivation; conv1's product is computed again), so a
// pass that reads only Pred, such as a validation pass, costs only the
// forward. The slice aliases the model's buffers: valid only until the
// callback returns. It panics if l is not a layer index.
func (b *Block) Feature(l int) []float32 { return b.m.PreActivation(l) }

// ForwardDataset runs the images of x (n,3,24,24), n = len(x)/(3·24·24),
// through the weights p, batch images at a time, and calls visit with each
// block in order. Only the forward pass runs, and it is the same under
// every learning rule, so a bp model is used. An error from visit stops
// the pass and is returned. It panics if batch < 1 or len(x) is not a
// whole number of images.
func ForwardDataset(p *Params, x []float32, batch int, visit func(*Block) error) error {
	const in = InputC * InputH * InputW
	if batch < 1 || len(x)%in != 0 {
		panic(fmt.Sprintf("nn: ForwardDataset: batch %d, len(x) = %d; want batch ≥ 1 and a multiple of %d", batch, len(x), in))
	}
	n := len(x) / in
	if n == 0 {
		return nil
	}
	rule, err := NewRule(Reference, 0, 0)
	if err != nil {
		panic("nn: " + err.Error())
	}
	batch = min(batch, n)
	return NewModel(p, rule, batch).ForwardDataset(x, batch, visit)
}

// ForwardDataset runs the images of x (n,3,24,24) through m, batch images
// at a time, and calls visit with each block in order (see the function
// ForwardDataset). It leaves m's activations at the last block's. It
// panics if batch is not in [1, the model's maximum batch] or len(x) is not
// a whole number of images.
func (m *Model) ForwardDataset(x []float32, batch int, visit func(*Block) error) error {
	const in = InputC * InputH * InputW
	if batch < 1 || batch > m.maxBatch || len(x)%in != 0 {
		panic(fmt.Sprintf("nn: Model.ForwardDataset: batch %d, len(x) = %d; want batch in [1,%d] and a multiple of %d", batch, len(x), m.maxBatch, in))
	}
	n := len(x) / in
	pred := make([]int, min(batch, n))
	b := &Block{m: m}
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		m.Forward(x[lo*in:hi*in], hi-lo)
		b.Lo, b.Hi = lo, hi
		b.Pred = m.Predict(pred[:0])
		if err := visit(b); err != nil {
			return err
		}
	}
	return nil
}
