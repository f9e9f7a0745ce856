package transforms

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"

	"github.com/fabeam/fabeam/artifacts/format"
	"github.com/fabeam/fabeam/artifacts/store"
	"github.com/fabeam/fabeam/engine/cifar"
	"github.com/fabeam/fabeam/engine/rng"
)

func init() {
	register.DoFn3x1[context.Context, []byte, func(string), error](&PreprocessFn{})
	register.Emitter1[string]()
}

// Dataset artifact file names, under the dataset stage key.
const (
	DatasetFile     = "dataset.safetensors"
	DatasetMetaFile = "dataset.json"
)

// DatasetSpec is what a dataset artifact's key is computed from.
type DatasetSpec struct {
	Source         string `json:"source"` // "cifar10" or "synthetic"
	SyntheticTrain int    `json:"synthetic_train,omitempty"`
	SyntheticTest  int    `json:"synthetic_test,omitempty"`
	SyntheticSeed  uint64 `json:"synthetic_seed,omitempty"`
	// Split names the train/val rule: NumPy's permutation(n) with seed 42,
	// the last n/10 for validation.
	Split string `json:"split"`
}

// DatasetMeta is dataset.json: the sizes of the three sets and the wall
// clock the stage took (which reaches manifest.json, never results.json).
type DatasetMeta struct {
	Spec        DatasetSpec `json:"spec"`
	Train       int         `json:"train"`
	Val         int         `json:"val"`
	Test        int         `json:"test"`
	WallSeconds float64     `json:"wall_seconds"`
}

// DatasetSpecOf returns the dataset c asks for.
func DatasetSpecOf(c Config) DatasetSpec {
	if c.Synthetic {
		return DatasetSpec{Source: "synthetic", SyntheticTrain: c.SyntheticTrain, SyntheticTest: c.SyntheticTest,
			SyntheticSeed: c.SyntheticSeed, Split: "numpy-permutation-42-last-tenth"}
	}
	// The canonical CIFAR-10 files are identified by name: cifar.Load
	// validates them, and the archive's MD5 pins their content.
	return DatasetSpec{Source: "cifar10", Split: "numpy-permutation-42-last-tenth"}
}

// DatasetKey is the store key of the dataset artifact c asks for.
func DatasetKey(c Config) string { return StageKey("dataset", DatasetSpecOf(c)) }

// Preprocess writes the dataset artifact — train, validation and test images
// and labels as uint8 tensors in one safetensors file, split by the paper's
// rule — unless it already exists, and returns a PCollection<string> holding
// its key.
func Preprocess(s beam.Scope, c Config) beam.PCollection {
	s = s.Scope("transforms.Preprocess")
	return beam.ParDo(s, &PreprocessFn{Cfg: c}, beam.Impulse(s))
}

// PreprocessFn builds the dataset artifact. Cfg is its configuration.
type PreprocessFn struct {
	Cfg Config
}

// ProcessElement writes the dataset (or skips it if present) and emits its key.
func (f *PreprocessFn) ProcessElement(ctx context.Context, _ []byte, emit func(string)) error {
	st, err := openStore(ctx, f.Cfg.Out)
	if err != nil {
		return err
	}
	key := DatasetKey(f.Cfg)
	metaKey := store.Join(key, DatasetMetaFile)
	var done DatasetMeta
	if ok, err := loadDone(ctx, st, datasetCheck(key), &done); err != nil {
		return err
	} else if ok {
		log.Infof(ctx, "preprocess: dataset %s exists, skipped", key)
		emit(key)
		return nil
	}
	start := time.Now()
	var trainAll, test *cifar.Set
	if f.Cfg.Synthetic {
		trainAll = cifar.Synthetic(f.Cfg.SyntheticTrain, f.Cfg.SyntheticSeed)
		test = cifar.Synthetic(f.Cfg.SyntheticTest, f.Cfg.SyntheticSeed+1)
	} else if trainAll, test, err = loadCIFAR(ctx, f.Cfg.Data); err != nil {
		return err
	}
	tr, val := cifar.PaperSplit(trainAll)
	if mixUpTrainLabels {
		r := rng.New(0, "test/label mix-up")
		r.Shuffle(tr.Len(), func(i, j int) { tr.Labels[i], tr.Labels[j] = tr.Labels[j], tr.Labels[i] })
	}
	d, err := writeDataset(ctx, st, store.Join(key, DatasetFile), tr, val, test)
	if err != nil {
		return err
	}
	forgetDataset(f.Cfg.Out, key)
	if describesDataset(ctx, st, metaKey, d) {
		// Rebuilt byte for byte (the tensors were deleted, or a carried
		// study arrived without them): the record stays, and so do the
		// stages that name it as their input.
		log.Infof(ctx, "preprocess: dataset %s rebuilt, identical to its record; its stages stay valid", key)
		emit(key)
		return nil
	}
	meta := DatasetMeta{Spec: DatasetSpecOf(f.Cfg), Train: tr.Len(), Val: val.Len(), Test: test.Len(),
		WallSeconds: time.Since(start).Seconds()}
	if err := putDone(ctx, st, metaKey, meta, Integrity{Artifacts: map[string]store.Digest{DatasetFile: d}}); err != nil {
		return err
	}
	log.Infof(ctx, "preprocess: dataset %s written (train %d, val %d, test %d)", key, meta.Train, meta.Val, meta.Test)
	emit(key)
	return nil
}

// describesDataset reports whether the sealed record at metaKey describes
// a dataset file with digest d. The record names its stage's wall time, so
// rewriting it for a rebuilt, identical file would change its bytes and
// make every stage that read it look stale.
func describesDataset(ctx context.Context, st store.Store, metaKey string, d store.Digest) bool {
	raw, err := st.Get(ctx, metaKey)
	if err != nil {
		return false
	}
	var prev DatasetMeta
	in, legacy, err := decodeDone(st.URI(metaKey), raw, &prev)
	return err == nil && !legacy && in.Artifacts[DatasetFile] == d
}

// mixUpTrainLabels is a test hook: when set, Preprocess shuffles the
// training labels across images, the kind of image/label mix-up a bug
// would cause, so the learning test can show that it catches one.
var mixUpTrainLabels bool

// loadCIFAR reads the six CIFAR-10 files from a local folder or from a
// store URI (gs://…, mem://…), so Dataflow workers can read them from GCS.
func loadCIFAR(ctx context.Context, dir string) (train, test *cifar.Set, err error) {
	if !strings.Contains(dir, "://") {
		tr, te, err := cifar.Load(dir)
		if err != nil {
			return nil, nil, fmt.Errorf("reading CIFAR-10 from --data=%s: %w", dir, err)
		}
		return tr, te, nil
	}
	st, err := openStore(ctx, dir)
	if err != nil {
		return nil, nil, err
	}
	var parts []*cifar.Set
	for _, name := range cifar.AllFiles() {
		b, err := st.Get(ctx, name)
		if err != nil {
			return nil, nil, fmt.Errorf("reading CIFAR-10 file %s (--data): %w; copy the six files of cifar-10-batches-bin there", st.URI(name), err)
		}
		s, err := cifar.Read(bytes.NewReader(b), st.URI(name), int64(len(b)))
		if err != nil {
			return nil, nil, err
		}
		parts = append(parts, s)
	}
	return cifar.Concat(parts[:len(parts)-1]...), parts[len(parts)-1], nil
}

// testBatchMD5 returns the hex MD5 of the CIFAR-10 test batch in dir (a
// local folder or a store URI, as --data).
func testBatchMD5(ctx context.Context, dir string) (string, error) {
	var b []byte
	var err error
	if !strings.Contains(dir, "://") {
		b, err = os.ReadFile(filepath.Join(dir, cifar.TestFile))
	} else {
		var st store.Store
		if st, err = openStore(ctx, dir); err == nil {
			b, err = st.Get(ctx, cifar.TestFile)
		}
	}
	if err != nil {
		return "", err
	}
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:]), nil
}

// datasetCheck is how Preprocess checks the dataset at key before
// skipping: dataset.json's seal and the digest of dataset.safetensors; an
// old record without digests by the file's safetensors structure and its
// tensors' shapes against the sizes dataset.json gives.
func datasetCheck(key string) doneCheck {
	return doneCheck{
		What: "preprocess: dataset " + key, Redo: "building the dataset again",
		Key: key, Marker: DatasetMetaFile, Files: []string{DatasetFile},
		Legacy: func(ctx context.Context, st store.Store, v any) error {
			m := v.(*DatasetMeta)
			return checkSafetensors(ctx, st, store.Join(key, DatasetFile), map[string][]int{
				"train.images": {m.Train, cifar.Channels, cifar.Height, cifar.Width}, "train.labels": {m.Train},
				"val.images": {m.Val, cifar.Channels, cifar.Height, cifar.Width}, "val.labels": {m.Val},
				"test.images": {m.Test, cifar.Channels, cifar.Height, cifar.Width}, "test.labels": {m.Test},
			})
		},
	}
}

// checkSafetensors checks the structure of the safetensors file at key (its
// header against its size) and that it holds each tensor of want with that
// shape. A missing or malformed file is damage.
func checkSafetensors(ctx context.Context, st store.Store, key string, want map[string][]int) error {
	rd, err := st.Open(ctx, key)
	if err != nil {
		if isNotExist(err) {
			return &store.DamagedError{URI: st.URI(key), Key: key, Kind: store.Missing}
		}
		return err
	}
	defer rd.Close()
	f, err := format.ReadSafetensors(rd, rd.Size(), format.Limits{})
	if err != nil {
		return damaged("%s: %v", st.URI(key), err)
	}
	for name, shape := range want {
		ti, ok := f.Info(name)
		if !ok || !slices.Equal(ti.Shape, shape) {
			return damaged("%s: want tensor %q of shape %v, have %+v", st.URI(key), name, shape, ti)
		}
	}
	return nil
}

// forgetDataset drops the process's cached copy of the dataset at key, so
// a dataset built again is read again.
func forgetDataset(uri, key string) {
	datasets.Lock()
	defer datasets.Unlock()
	delete(datasets.m, uri+"\x00"+key)
}

func writeDataset(ctx context.Context, st store.Store, key string, tr, val, test *cifar.Set) (store.Digest, error) {
	var ts []format.Tensor
	for _, p := range []struct {
		name string
		s    *cifar.Set
	}{{"train", tr}, {"val", val}, {"test", test}} {
		n := p.s.Len()
		ts = append(ts,
			format.Tensor{Name: p.name + ".images", DType: "U8", Shape: []int{n, cifar.Channels, cifar.Height, cifar.Width}, Data: p.s.Images},
			format.Tensor{Name: p.name + ".labels", DType: "U8", Shape: []int{n}, Data: p.s.Labels})
	}
	w, err := store.CreateDigest(ctx, st, key)
	if err != nil {
		return store.Digest{}, err
	}
	defer w.Abort()
	if err := format.WriteSafetensors(w, ts, map[string]string{"format": "fabeam.dataset", "format_version": fmt.Sprint(FormatVersion)}); err != nil {
		return store.Digest{}, fmt.Errorf("writing %s: %w", st.URI(key), err)
	}
	if err := w.Commit(); err != nil {
		return store.Digest{}, err
	}
	return w.Digest(), nil
}

// Dataset is a loaded dataset artifact.
type Dataset struct {
	Train, Val, Test *cifar.Set
}

var datasets struct {
	sync.Mutex
	m map[string]*Dataset
}

// LoadDataset reads the dataset artifact at key from the store at uri. It
// is cached per process: every training run in a worker shares one copy.
func LoadDataset(ctx context.Context, uri, key string) (*Dataset, error) {
	datasets.Lock()
	defer datasets.Unlock()
	if d, ok := datasets.m[uri+"\x00"+key]; ok {
		return d, nil
	}
	st, err := openStore(ctx, uri)
	if err != nil {
		return nil, err
	}
	fk := store.Join(key, DatasetFile)
	r, err := st.Open(ctx, fk)
	if err != nil {
		return nil, fmt.Errorf("dataset %s: %w", st.URI(fk), err)
	}
	defer r.Close()
	f, err := format.ReadSafetensors(r, r.Size(), format.Limits{})
	if err != nil {
		return nil, damaged("dataset %s: %v; run again: Preprocess checks the dataset and builds it again", st.URI(fk), err)
	}
	d := &Dataset{}
	for _, p := range []struct {
		name string
		dst  **cifar.Set
	}{{"train", &d.Train}, {"val", &d.Val}, {"test", &d.Test}} {
		im, err := f.Read(p.name + ".images")
		if err != nil {
			return nil, fmt.Errorf("dataset %s: %w", st.URI(fk), err)
		}
		lb, err := f.Read(p.name + ".labels")
		if err != nil {
			return nil, fmt.Errorf("dataset %s: %w", st.URI(fk), err)
		}
		if len(im.Data) != len(lb.Data)*cifar.ImageBytes {
			return nil, fmt.Errorf("dataset %s: %s has %d image bytes for %d labels", st.URI(fk), p.name, len(im.Data), len(lb.Data))
		}
		*p.dst = &cifar.Set{Images: im.Data, Labels: lb.Data}
	}
	if datasets.m == nil {
		datasets.m = map[string]*Dataset{}
	}
	datasets.m[uri+"\x00"+key] = d
	return d, nil
}
