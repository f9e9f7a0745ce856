package transforms

import (
	"context"
	"encoding/binary"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/fabeam/fabeam/artifacts/format"
	"github.com/fabeam/fabeam/artifacts/store"
	"github.com/fabeam/fabeam/engine/cifar"
	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/engine/train"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*ExtractResult)(nil)).Elem())
	register.DoFn3x1[context.Context, RunResult, func(ExtractResult), error](&ExtractFn{})
	register.Function1x1[ExtractResult, Record](extractRecord)
	register.Emitter1[ExtractResult]()
}

// Extract artifact files, under the extract stage key: one
// "<layer>.safetensors" per layer of nn.LayerNames, holding the tensor
// "features" (n, d) float32 of the layer's pre-ReLU output (fc3's is the
// logits); PredictionsFile holding "labels" (n) uint8 and "predictions" (n)
// int32; ExtractMetaFile (the ExtractResult) written last.
const (
	PredictionsFile = "predictions.safetensors"
	ExtractMetaFile = "extract.json"
)

// ExtractResult names one model's extracted features. Rows 0..Val-1 are the
// validation images in dataset order, rows Val..Val+Test-1 the test images.
type ExtractResult struct {
	Key, RunKey, DatasetKey, Rule string
	Seed                          int
	Val, Test                     int
	// Dims are the feature widths per layer, in nn.LayerNames order.
	Dims        []int
	Skipped     bool
	WallSeconds float64
}

// Extract runs every final model on the validation and test images
// (centre-cropped) and stores the five layers' pre-ReLU outputs and the
// predictions, streamed in row blocks so memory stays at one block.
// In: PCollection<RunResult>; out: PCollection<ExtractResult>.
func Extract(s beam.Scope, c Config, runs beam.PCollection) beam.PCollection {
	s = s.Scope("transforms.Extract")
	return beam.ParDo(s, &ExtractFn{Cfg: c}, beam.Reshuffle(s, runs))
}

func extractRecord(e ExtractResult) Record { return NewRecord(KindExtract, e) }

// ExtractFn extracts one model's features.
type ExtractFn struct {
	Cfg Config
}

// ExtractKey is the store key of run's features.
func ExtractKey(run RunResult) string {
	return StageKey("extract", struct {
		Layers []string `json:"layers"`
	}{nn.LayerNames[:]}, run.Key, run.DatasetKey)
}

// ProcessElement extracts run's features (or skips if present).
func (f *ExtractFn) ProcessElement(ctx context.Context, run RunResult, emit func(ExtractResult)) error {
	st, err := openStore(ctx, f.Cfg.Out)
	if err != nil {
		return err
	}
	if run.BestEpoch == 0 {
		// The run diverged before completing an epoch: it has no usable
		// weights (its checkpoint holds the non-finite ones), so there is
		// nothing to extract. The Report records the divergence.
		log.Infof(ctx, "extract: skipping %s seed %d: it diverged at step %d before completing an epoch", run.Rule, run.Seed, run.DivergedStep)
		return nil
	}
	key := ExtractKey(run)
	metaKey := store.Join(key, ExtractMetaFile)
	var res ExtractResult
	if done, err := loadDone(ctx, st, metaKey, &res); err != nil {
		return err
	} else if done {
		res.Skipped = true
		emit(res)
		return nil
	}
	start := time.Now()
	ds, err := LoadDataset(ctx, f.Cfg.Out, run.DatasetKey)
	if err != nil {
		return err
	}
	mk := store.Join(run.Key, ModelFile)
	rd, err := st.Open(ctx, mk)
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	p, _, _, err := train.DecodeModel(rd, rd.Size(), st.URI(mk))
	rd.Close()
	if err != nil {
		return err
	}
	bp, err := nn.NewRule("bp", 0, 0)
	if err != nil {
		return err
	}
	batch := f.Cfg.EvalBatch
	m := nn.NewModel(p, bp, batch)
	images := cifar.Concat(ds.Val, ds.Test)
	n := images.Len()

	res = ExtractResult{Key: key, RunKey: run.Key, DatasetKey: run.DatasetKey, Rule: run.Rule, Seed: run.Seed,
		Val: ds.Val.Len(), Test: ds.Test.Len()}
	var writers []*featureWriter
	defer func() {
		for _, w := range writers {
			w.abort()
		}
	}()
	meta := map[string]string{"format": "fabeam.features", "format_version": strconv.Itoa(FormatVersion),
		"rule": run.Rule, "seed": strconv.Itoa(run.Seed), "val": strconv.Itoa(res.Val), "test": strconv.Itoa(res.Test)}
	// One forward pass of a blank image gives each layer's width.
	m.Forward(make([]float32, nn.InputC*nn.InputH*nn.InputW), 1)
	for l := 0; l < nn.NumLayers; l++ {
		d := len(m.PreActivation(l))
		res.Dims = append(res.Dims, d)
		w, err := newFeatureWriter(ctx, st, store.Join(key, nn.LayerNames[l]+".safetensors"),
			[]format.TensorInfo{{Name: "features", DType: "F32", Shape: []int{n, d}}}, meta)
		if err != nil {
			return err
		}
		writers = append(writers, w)
	}
	const in = nn.InputC * nn.InputH * nn.InputW
	x := make([]float32, batch*in)
	labels := make([]byte, 0, n)
	preds := make([]byte, 0, 4*n)
	pred := make([]int, batch)
	for lo := 0; lo < n; lo += batch {
		hi := min(lo+batch, n)
		for i := lo; i < hi; i++ {
			cifar.CenterCrop(x[(i-lo)*in:(i-lo+1)*in], images.Image(i))
			labels = append(labels, images.Labels[i])
		}
		m.Forward(x[:(hi-lo)*in], hi-lo)
		for l, w := range writers {
			if err := w.writeFloats(m.PreActivation(l)); err != nil {
				return err
			}
		}
		for _, k := range m.Predict(pred)[:hi-lo] {
			preds = binary.LittleEndian.AppendUint32(preds, uint32(k))
		}
	}
	for _, w := range writers {
		if err := w.commit(); err != nil {
			return err
		}
	}
	pw, err := st.Create(ctx, store.Join(key, PredictionsFile))
	if err != nil {
		return err
	}
	defer pw.Abort()
	if err := format.WriteSafetensors(pw, []format.Tensor{
		{Name: "labels", DType: "U8", Shape: []int{n}, Data: labels},
		{Name: "predictions", DType: "I32", Shape: []int{n}, Data: preds},
	}, meta); err != nil {
		return err
	}
	if err := pw.Commit(); err != nil {
		return err
	}
	res.WallSeconds = time.Since(start).Seconds()
	if err := putJSON(ctx, st, metaKey, res); err != nil {
		return err
	}
	log.Infof(ctx, "extract %s seed %d: %d images in %.1fs, %s", run.Rule, run.Seed, n, res.WallSeconds, st.URI(key))
	emit(res)
	return nil
}

// featureWriter streams one tensor's rows into a store object.
type featureWriter struct {
	w  store.Writer
	sw *format.SafetensorsWriter
}

func newFeatureWriter(ctx context.Context, st store.Store, key string, infos []format.TensorInfo, meta map[string]string) (*featureWriter, error) {
	w, err := st.Create(ctx, key)
	if err != nil {
		return nil, err
	}
	sw, err := format.NewSafetensorsWriter(w, infos, meta)
	if err != nil {
		w.Abort()
		return nil, fmt.Errorf("extract: %s: %w", st.URI(key), err)
	}
	return &featureWriter{w: w, sw: sw}, nil
}

func (f *featureWriter) writeFloats(v []float32) error { return f.sw.WriteFloat32s(v) }

func (f *featureWriter) commit() error {
	if err := f.sw.Close(); err != nil {
		return err
	}
	return f.w.Commit()
}

func (f *featureWriter) abort() { f.w.Abort() }
