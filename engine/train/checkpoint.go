package train

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/engine/safetensors"
)

// CheckpointVersion is the version of the model and state checkpoint
// layouts written by this package.
const CheckpointVersion = 1

// ModelMeta is the metadata stored in a model checkpoint.
type ModelMeta struct {
	Rule       string
	Sigma      float64
	Seed       uint64
	Epoch      int
	BestValAcc float64
}

// EncodeModel writes a model checkpoint in safetensors: the PyTorch
// state_dict tensors of Architecture 1 (conv1.weight (64,3,5,5), conv1.bias,
// ..., fc3.bias), the rule's feedback tensors (feedback.conv2, ...), and
// metadata (rule, sigma, seed, epoch, format_version).
func EncodeModel(w io.Writer, p *nn.Params, feedback []nn.Tensor, meta ModelMeta) error {
	var ts []safetensors.Tensor
	for _, t := range p.Tensors() {
		ts = append(ts, safetensors.F32Tensor(t.Name, t.Shape, t.Data))
	}
	for _, t := range feedback {
		ts = append(ts, safetensors.F32Tensor(t.Name, t.Shape, t.Data))
	}
	md := map[string]string{
		"format":         "fabeam.model",
		"format_version": strconv.Itoa(CheckpointVersion),
		"rule":           meta.Rule,
		"sigma":          strconv.FormatFloat(meta.Sigma, 'g', -1, 64),
		"seed":           strconv.FormatUint(meta.Seed, 10),
		"epoch":          strconv.Itoa(meta.Epoch),
		"best_val_acc":   strconv.FormatFloat(meta.BestValAcc, 'g', -1, 64),
	}
	return safetensors.WriteSafetensors(w, ts, md)
}

// DecodeModel reads a model checkpoint written by EncodeModel, checking
// every tensor's presence, dtype and shape and rejecting non-finite weights.
// name is used in error messages.
func DecodeModel(r io.ReaderAt, size int64, name string) (*nn.Params, []nn.Tensor, ModelMeta, error) {
	var meta ModelMeta
	f, err := safetensors.ReadSafetensors(r, size, safetensors.Limits{})
	if err != nil {
		return nil, nil, meta, fmt.Errorf("checkpoint %s: %w; the file is damaged or not a safetensors checkpoint — delete it and re-run training to rewrite it", name, err)
	}
	if v := f.Meta["format_version"]; v != strconv.Itoa(CheckpointVersion) {
		return nil, nil, meta, fmt.Errorf("checkpoint %s: format_version %q, this build reads version %d; re-run training to rewrite it", name, v, CheckpointVersion)
	}
	meta.Rule = f.Meta["rule"]
	if meta.Sigma, err = strconv.ParseFloat(f.Meta["sigma"], 64); err != nil {
		return nil, nil, meta, fmt.Errorf("checkpoint %s: metadata sigma: %w", name, err)
	}
	if meta.Seed, err = strconv.ParseUint(f.Meta["seed"], 10, 64); err != nil {
		return nil, nil, meta, fmt.Errorf("checkpoint %s: metadata seed: %w", name, err)
	}
	if meta.Epoch, err = strconv.Atoi(f.Meta["epoch"]); err != nil {
		return nil, nil, meta, fmt.Errorf("checkpoint %s: metadata epoch: %w", name, err)
	}
	meta.BestValAcc, _ = strconv.ParseFloat(f.Meta["best_val_acc"], 64)
	p := nn.NewParams()
	if err := readInto(f, name, "", p.Tensors()); err != nil {
		return nil, nil, meta, err
	}
	fb, err := readFeedback(f, name, meta.Rule)
	if err != nil {
		return nil, nil, meta, err
	}
	return p, fb, meta, nil
}

// readInto fills each destination tensor from the file tensor prefix+name.
func readInto(f *safetensors.File, file, prefix string, dst []nn.Tensor) error {
	for _, d := range dst {
		t, err := f.Read(prefix + d.Name)
		if err != nil {
			return fmt.Errorf("checkpoint %s: tensor %s: %w", file, prefix+d.Name, err)
		}
		if !equalShape(t.Shape, d.Shape) {
			return fmt.Errorf("checkpoint %s: tensor %s has shape %v, want %v", file, prefix+d.Name, t.Shape, d.Shape)
		}
		v, err := t.Float32s()
		if err != nil {
			return fmt.Errorf("checkpoint %s: tensor %s: %w", file, prefix+d.Name, err)
		}
		for i, x := range v {
			if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
				return fmt.Errorf("checkpoint %s: tensor %s holds a non-finite value (%v at index %d); the run that wrote it diverged or the file is damaged — retrain it", file, prefix+d.Name, x, i)
			}
		}
		copy(d.Data, v)
	}
	return nil
}

// readFeedback returns the file's feedback tensors (named "feedback.*"), in
// file order, after checking that ruleName is a known rule. It does not
// build the rule (fa_random would draw a 59 MB B0 only to be overwritten);
// the rule's SetFeedback checks that every tensor it needs is present with
// its shape.
func readFeedback(f *safetensors.File, file, ruleName string) ([]nn.Tensor, error) {
	if !slices.Contains(nn.RuleNames(), ruleName) {
		return nil, fmt.Errorf("checkpoint %s: metadata rule %q is not one of %v; the file was written by another program or is damaged", file, ruleName, nn.RuleNames())
	}
	var out []nn.Tensor
	for _, n := range f.Names() {
		if !strings.HasPrefix(n, "feedback.") {
			continue
		}
		info, _ := f.Info(n)
		t := nn.Tensor{Name: n, Shape: append([]int(nil), info.Shape...), Data: make([]float32, info.Bytes()/4)}
		if err := readInto(f, file, "", []nn.Tensor{t}); err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
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

// stateMeta is the JSON document stored in a state checkpoint's metadata.
type stateMeta struct {
	Config     Config          `json:"config"`
	Epoch      int             `json:"epoch"`
	Step       int             `json:"step"`
	BestEpoch  int             `json:"best_epoch"`
	BestValAcc float64         `json:"best_val_acc"`
	AdamT      int             `json:"adam_t"`
	History    json.RawMessage `json:"history"`
	Seconds    float64         `json:"seconds,omitempty"`
}

// EncodeState writes a resumable training state in safetensors: the current
// weights (params.*), the best weights (best.*), Adam's moments (adam.m,
// adam.v), the feedback tensors, and the rest as JSON metadata.
func EncodeState(w io.Writer, st *State) error {
	var ts []safetensors.Tensor
	for _, t := range st.Params.Tensors() {
		ts = append(ts, safetensors.F32Tensor("params."+t.Name, t.Shape, t.Data))
	}
	if st.Best != nil {
		for _, t := range st.Best.Tensors() {
			ts = append(ts, safetensors.F32Tensor("best."+t.Name, t.Shape, t.Data))
		}
	}
	ts = append(ts,
		safetensors.F32Tensor("adam.m", []int{len(st.Adam.M)}, st.Adam.M),
		safetensors.F32Tensor("adam.v", []int{len(st.Adam.V)}, st.Adam.V))
	for _, t := range st.Feedback {
		ts = append(ts, safetensors.F32Tensor(t.Name, t.Shape, t.Data))
	}
	hist, err := json.Marshal(st.History)
	if err != nil {
		return fmt.Errorf("train: encoding history: %w", err)
	}
	sm, err := json.Marshal(stateMeta{Config: st.Config, Epoch: st.Epoch, Step: st.Step,
		BestEpoch: st.BestEpoch, BestValAcc: st.BestValAcc, AdamT: st.Adam.T, History: hist, Seconds: st.Seconds})
	if err != nil {
		return fmt.Errorf("train: encoding state: %w", err)
	}
	return safetensors.WriteSafetensors(w, ts, map[string]string{
		"format":         "fabeam.train_state",
		"format_version": strconv.Itoa(CheckpointVersion),
		"state":          string(sm),
	})
}

// DecodeState reads a state written by EncodeState. name is used in error
// messages.
func DecodeState(r io.ReaderAt, size int64, name string) (*State, error) {
	f, err := safetensors.ReadSafetensors(r, size, safetensors.Limits{})
	if err != nil {
		return nil, fmt.Errorf("training state %s: %w; the file is damaged — delete it and the run restarts from its first epoch", name, err)
	}
	if f.Meta["format"] != "fabeam.train_state" || f.Meta["format_version"] != strconv.Itoa(CheckpointVersion) {
		return nil, fmt.Errorf("training state %s: not a version %d fabeam training state (format %q, version %q); delete it to start the run afresh", name, CheckpointVersion, f.Meta["format"], f.Meta["format_version"])
	}
	var sm stateMeta
	if err := json.Unmarshal([]byte(f.Meta["state"]), &sm); err != nil {
		return nil, fmt.Errorf("training state %s: metadata: %w", name, err)
	}
	st := &State{Config: sm.Config, Epoch: sm.Epoch, Step: sm.Step, BestEpoch: sm.BestEpoch, BestValAcc: sm.BestValAcc, Seconds: sm.Seconds}
	dec := json.NewDecoder(bytes.NewReader(sm.History))
	if err := dec.Decode(&st.History); err != nil {
		return nil, fmt.Errorf("training state %s: history: %w", name, err)
	}
	st.Params = nn.NewParams()
	if err := readInto(f, name, "params.", st.Params.Tensors()); err != nil {
		return nil, err
	}
	if sm.BestEpoch > 0 {
		st.Best = nn.NewParams()
		if err := readInto(f, name, "best.", st.Best.Tensors()); err != nil {
			return nil, err
		}
	}
	st.Adam = nn.NewAdam(len(st.Params.Data), sm.Config.LR, sm.Config.WeightDecay)
	st.Adam.T = sm.AdamT
	mv := []nn.Tensor{
		{Name: "adam.m", Shape: []int{len(st.Adam.M)}, Data: st.Adam.M},
		{Name: "adam.v", Shape: []int{len(st.Adam.V)}, Data: st.Adam.V},
	}
	if err := readInto(f, name, "", mv); err != nil {
		return nil, err
	}
	if st.Feedback, err = readFeedback(f, name, sm.Config.Rule); err != nil {
		return nil, err
	}
	return st, nil
}
