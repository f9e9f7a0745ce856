package transforms

import (
	"context"
	"fmt"
	"reflect"
	"slices"
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
	if done, err := loadDone(ctx, st, extractCheck(key, run), &res); err != nil {
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
	p, err := loadModel(ctx, st, run.Key)
	if err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	res = ExtractResult{Key: key, RunKey: run.Key, DatasetKey: run.DatasetKey, Rule: run.Rule, Seed: run.Seed,
		Val: ds.Val.Len(), Test: ds.Test.Len(), Dims: slices.Clone(nn.FeatureDims[:])}
	meta := map[string]string{"format": "fabeam.features", "format_version": strconv.Itoa(FormatVersion),
		"rule": run.Rule, "seed": strconv.Itoa(run.Seed), "val": strconv.Itoa(res.Val), "test": strconv.Itoa(res.Test)}
	inputs, err := sumInputs(ctx, st, extractInputs(run))
	if err != nil {
		return err
	}
	digests, err := writeFeatures(ctx, st, key, p, ds, f.Cfg.EvalBatch, meta)
	if err != nil {
		return err
	}
	res.WallSeconds = time.Since(start).Seconds()
	if err := putDone(ctx, st, metaKey, res, Integrity{Artifacts: digests, Inputs: inputs}); err != nil {
		return err
	}
	log.Infof(ctx, "extract %s seed %d: %d images in %.1fs, %s", run.Rule, run.Seed, res.Val+res.Test, res.WallSeconds, st.URI(key))
	emit(res)
	return nil
}

// extractFiles are the files of an extraction: one per layer, then the
// predictions.
func extractFiles() []string {
	var fs []string
	for _, l := range nn.LayerNames {
		fs = append(fs, l+".safetensors")
	}
	return append(fs, PredictionsFile)
}

// extractInputs are the upstream records an extraction uses: its run's
// and its dataset's.
func extractInputs(run RunResult) []string {
	return []string{store.Join(run.Key, ResultFile), store.Join(run.DatasetKey, DatasetMetaFile)}
}

// extractCheck is how an extraction is checked before it is skipped:
// extract.json's seal, every feature file's and the predictions' digest,
// and its run's and dataset's records. An old record without digests is
// checked by the files' structure: each layer's "features" tensor is F32
// of shape (images, width) with its header consistent with the file's
// size, and the predictions hold one label and one prediction per image.
func extractCheck(key string, run RunResult) doneCheck {
	return doneCheck{
		What: fmt.Sprintf("extract %s seed %d", run.Rule, run.Seed), Redo: "extracting its features again (and redoing what uses them)",
		Key: key, Marker: ExtractMetaFile, Files: extractFiles(), Inputs: extractInputs(run),
		Legacy: func(ctx context.Context, st store.Store, v any) error {
			e := v.(*ExtractResult)
			n := e.Val + e.Test
			if e.Key != key || len(e.Dims) != nn.NumLayers {
				return damaged("%s is not a complete record of extraction %s", st.URI(store.Join(key, ExtractMetaFile)), key)
			}
			for l, name := range nn.LayerNames {
				if err := checkSafetensors(ctx, st, store.Join(key, name+".safetensors"), map[string][]int{"features": {n, e.Dims[l]}}); err != nil {
					return err
				}
			}
			return checkSafetensors(ctx, st, store.Join(key, PredictionsFile), map[string][]int{"labels": {n}, "predictions": {n}})
		},
	}
}

// loadModel reads the weights of the final run at runKey.
func loadModel(ctx context.Context, st store.Store, runKey string) (*nn.Params, error) {
	mk := store.Join(runKey, ModelFile)
	rd, err := st.Open(ctx, mk)
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	p, _, _, err := train.DecodeModel(rd, rd.Size(), st.URI(mk))
	return p, err
}

// writeFeatures runs p over the centre-cropped validation then test images
// of ds (nn.ForwardDataset, batch images at a time), streams each layer's
// pre-ReLU outputs to <key>/<layer>.safetensors, and writes the labels and
// predictions to <key>/PredictionsFile. It returns the files' digests by
// name.
func writeFeatures(ctx context.Context, st store.Store, key string, p *nn.Params, ds *Dataset, batch int, meta map[string]string) (map[string]store.Digest, error) {
	n := ds.Val.Len() + ds.Test.Len()
	var writers []*featureWriter
	defer func() {
		for _, w := range writers {
			w.abort()
		}
	}()
	for l, d := range nn.FeatureDims {
		w, err := newFeatureWriter(ctx, st, store.Join(key, nn.LayerNames[l]+".safetensors"),
			[]format.TensorInfo{{Name: "features", DType: "F32", Shape: []int{n, d}}}, meta)
		if err != nil {
			return nil, err
		}
		writers = append(writers, w)
	}
	preds := make([]int32, 0, n)
	images := cifar.CenterCropSet(cifar.Concat(ds.Val, ds.Test))
	err := nn.ForwardDataset(p, images, batch, func(b *nn.Block) error {
		for l, w := range writers {
			if err := w.writeFloats(b.Feature(l)); err != nil {
				return err
			}
		}
		for _, k := range b.Pred {
			preds = append(preds, int32(k))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	digests := map[string]store.Digest{}
	for l, w := range writers {
		if err := w.commit(); err != nil {
			return nil, err
		}
		digests[nn.LayerNames[l]+".safetensors"] = w.w.Digest()
	}
	labels := append(slices.Clone(ds.Val.Labels), ds.Test.Labels...)
	pw, err := store.CreateDigest(ctx, st, store.Join(key, PredictionsFile))
	if err != nil {
		return nil, err
	}
	defer pw.Abort()
	if err := format.WriteSafetensors(pw, []format.Tensor{
		format.U8Tensor("labels", []int{n}, labels),
		format.I32Tensor("predictions", []int{n}, preds),
	}, meta); err != nil {
		return nil, err
	}
	if err := pw.Commit(); err != nil {
		return nil, err
	}
	digests[PredictionsFile] = pw.Digest()
	return digests, nil
}

// featureWriter streams one tensor's rows into a store object.
type featureWriter struct {
	w  *store.DigestWriter
	sw *format.SafetensorsWriter
}

func newFeatureWriter(ctx context.Context, st store.Store, key string, infos []format.TensorInfo, meta map[string]string) (*featureWriter, error) {
	w, err := store.CreateDigest(ctx, st, key)
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
