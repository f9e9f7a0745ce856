package transforms

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/direct"

	"github.com/fabeam/fabeam/artifacts/store/storetest"

	"github.com/fabeam/fabeam/artifacts/store"
)

func TestSealFindsAnEditedNumberButNotReformatting(t *testing.T) {
	rec := RunResult{Stage: StageTrain, Key: "train/x", Rule: "bp", TestAcc: 0.25, BestEpoch: 2}
	b, err := encodeDone(rec, Integrity{Artifacts: map[string]store.Digest{HistoryFile: store.Sum([]byte("h"))}})
	if err != nil {
		t.Fatal(err)
	}
	var got RunResult
	in, legacy, err := decodeDone("result.json", b, &got)
	if err != nil || legacy || got != rec || in.Artifacts[HistoryFile] != store.Sum([]byte("h")) {
		t.Fatalf("round trip: %+v legacy %v err %v, want %+v", got, legacy, err, rec)
	}
	// Re-indenting the record changes no field: still accepted.
	var compact bytes.Buffer
	json.Compact(&compact, b)
	if _, _, err := decodeDone("result.json", compact.Bytes(), &got); err != nil {
		t.Errorf("a re-formatted record was rejected: %v", err)
	}
	for name, edit := range map[string]func([]byte) []byte{
		"a number": func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"TestAcc": 0.25`), []byte(`"TestAcc": 0.75`), 1)
		},
		"an added field":      func(b []byte) []byte { return bytes.Replace(b, []byte(`{`), []byte(`{"testAcc": 0.75,`), 1) },
		"the seal removed":    func(b []byte) []byte { return bytes.Replace(b, []byte(`"seal"`), []byte(`"seaX"`), 1) },
		"not JSON":            func(b []byte) []byte { return b[:len(b)/2] },
		"an artifact dropped": func(b []byte) []byte { return bytes.Replace(b, []byte(`"history.json"`), []byte(`"history.jsoX"`), 1) },
	} {
		e := edit(bytes.Clone(b))
		if bytes.Equal(e, b) {
			t.Fatalf("%s: the edit changed nothing", name)
		}
		_, _, err := decodeDone("result.json", e, &got)
		if !isDamage(err) {
			t.Errorf("%s: decodeDone = %v, want damage", name, err)
		}
	}
	// A record from before digests is legacy, not damage.
	old, _ := json.Marshal(rec)
	if _, legacy, err := decodeDone("result.json", old, &got); err != nil || !legacy {
		t.Errorf("an old record: legacy %v err %v, want legacy", legacy, err)
	}
}

// integrityConfig is a small study with every stage that reads artifacts:
// smoke data, bp and usf_sn (so there is a comparison), one epoch, no grid.
func integrityConfig(t *testing.T, out string) Config {
	c := smokeConfig(t, out)
	c.Rules = []string{"bp", "usf_sn"}
	c.Grid, c.Epochs = false, 1
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	return c
}

// bpKeys are the keys of the bp run and its extraction in c's study.
func bpKeys(c Config) (run, extract string) {
	ds := DatasetKey(c)
	run = RunKey(c, RunSpec{Stage: StageTrain, DatasetKey: ds, Rule: "bp", Point: c.Chosen["bp"], Seed: c.Seeds[0], Epochs: c.Epochs})
	return run, ExtractKey(RunResult{Key: run, DatasetKey: ds})
}

// stripIntegrity rewrites the record at key as it was written before
// records held digests: the record's own fields only.
func stripIntegrity(t *testing.T, ctx context.Context, st store.Store, key string) {
	t.Helper()
	b, err := st.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if _, ok := m[fieldSeal]; !ok {
		t.Fatalf("%s has no seal to strip", key)
	}
	delete(m, fieldArtifacts)
	delete(m, fieldInputs)
	delete(m, fieldSeal)
	nb, _ := json.MarshalIndent(m, "", "  ")
	if err := st.Put(ctx, key, nb); err != nil {
		t.Fatal(err)
	}
}

// TestDamagedArtifactsAreRedoneNeverPublished damages a finished study's
// artifacts one way at a time, behind the pipeline's back, on a local
// folder and on the GCS emulator, and runs the study again on the same
// output. Each time the damage must be found (counter "damaged"), the
// damaged stage redone (a run retrained, or an extraction made again), and
// the outputs must come out byte-identical to the undamaged study's:
// results.json, the published model, and the repaired artifact itself.
// Old records without digests must be accepted without retraining and
// upgraded; an old record whose files are damaged must be redone.
func TestDamagedArtifactsAreRedoneNeverPublished(t *testing.T) {
	if testing.Short() {
		t.Skip("trains: skipped with -short")
	}
	ctx := context.Background()
	gcsEmulator(t, "fabeam-integrity")

	for _, where := range []struct{ name, out string }{
		{"local", t.TempDir()},
		{"gcs", "gs://fabeam-integrity/study"},
	} {
		t.Run(where.name, func(t *testing.T) {
			c := integrityConfig(t, where.out)
			runStudy(t, "direct", c)
			st, err := store.Open(ctx, where.out)
			if err != nil {
				t.Fatal(err)
			}
			get := func(key string) []byte {
				t.Helper()
				b, err := st.Get(ctx, key)
				if err != nil {
					t.Fatal(err)
				}
				return b
			}
			runKey, extractKey := bpKeys(c)
			model, hist, result := store.Join(runKey, ModelFile), store.Join(runKey, HistoryFile), store.Join(runKey, ResultFile)
			conv2, fc1 := store.Join(extractKey, "conv2.safetensors"), store.Join(extractKey, "fc1.safetensors")
			published := "runs/bp/seed0/" + ModelFile
			want := map[string][]byte{}
			for _, k := range []string{ResultsFile, published, model, hist, conv2, fc1} {
				want[k] = get(k)
			}
			put := func(key string, b []byte) {
				t.Helper()
				if err := st.Put(ctx, key, b); err != nil {
					t.Fatal(err)
				}
			}
			truncate := func(key string) func() { return func() { put(key, want[key][:len(want[key])*2/3]) } }
			remove := func(key string) func() {
				return func() {
					if err := st.Delete(ctx, key); err != nil {
						t.Fatal(err)
					}
				}
			}
			editResult := func() {
				b := get(result)
				var m map[string]any
				json.Unmarshal(b, &m)
				old, _ := json.Marshal(m["TestAcc"])
				nb := bytes.Replace(b, []byte(`"TestAcc": `+string(old)), []byte(`"TestAcc": 0.999`), 1)
				if bytes.Equal(nb, b) {
					t.Fatalf("could not edit TestAcc %s in %s", old, result)
				}
				put(result, nb)
			}
			legacy := func(then func()) func() {
				return func() {
					for _, k := range []string{store.Join(DatasetKey(c), DatasetMetaFile), result, store.Join(extractKey, ExtractMetaFile)} {
						stripIntegrity(t, ctx, st, k)
					}
					if then != nil {
						then()
					}
				}
			}
			for _, tc := range []struct {
				name             string
				damage           func()
				damaged, trained int64
				upgraded         bool
			}{
				{"truncated model.safetensors", truncate(model), 1, 1, false},
				{"deleted model.safetensors", remove(model), 1, 1, false},
				{"garbage history.json", func() { put(hist, []byte("{not json")) }, 1, 1, false},
				{"a hand-edited number in result.json", editResult, 1, 1, false},
				{"deleted extract file", remove(conv2), 1, 0, false},
				{"truncated extract file", truncate(fc1), 1, 0, false},
				{"old records without digests", legacy(nil), 0, 0, true},
				{"old records, truncated model.safetensors", legacy(truncate(model)), 1, 1, true},
				{"old records, garbage history.json", legacy(func() { put(hist, []byte("{not json")) }), 1, 1, true},
				{"old records, a hand-edited number in result.json", legacy(editResult), 1, 1, true},
			} {
				t.Run(tc.name, func(t *testing.T) {
					tc.damage()
					counters := runStudy(t, "direct", c)
					// One damaged file is one finding: the stages
					// downstream of it are redone because their input
					// changed, which is not damage of theirs.
					if counters["damaged"] != tc.damaged {
						t.Errorf("damaged = %d, want %d", counters["damaged"], tc.damaged)
					}
					if counters["runs_trained"] != tc.trained {
						t.Errorf("runs trained = %d, want %d", counters["runs_trained"], tc.trained)
					}
					if tc.upgraded && counters["upgraded"] == 0 {
						t.Error("no old record was upgraded")
					}
					for k, b := range want {
						if got := get(k); !bytes.Equal(got, b) {
							t.Errorf("%s differs from the undamaged study's after the re-run (%d bytes, want %d)", k, len(got), len(b))
						}
					}
					// Everything now checks out: a third run skips every stage.
					again := runStudy(t, "direct", c)
					if again["damaged"] != 0 || again["upgraded"] != 0 || again["runs_trained"] != 0 {
						t.Errorf("the run after the repair: counters %v, want nothing damaged, upgraded or trained", again)
					}
				})
			}
		})
	}
}

// snapshotStore maps every object in st to its SHA-256.
func snapshotStore(t *testing.T, st store.Store) map[string][32]byte {
	t.Helper()
	ctx := context.Background()
	keys, err := st.List(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][32]byte{}
	for _, k := range keys {
		b, err := st.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		m[k] = sha256.Sum256(b)
	}
	return m
}

// runStudyErr is runStudy that returns the pipeline's error.
func runStudyErr(c Config) error {
	p, s := beam.NewPipelineWithRoot()
	Study(s, c)
	_, err := direct.Execute(context.Background(), p)
	return err
}

// TestInjectedFailuresDamageNothingAndResume writes an earlier study (A:
// one epoch) into a folder, then runs another (B: two epochs) into the
// same folder through a store that fails on purpose: the first write of a
// training run's result.json (after its model, history and two
// checkpoints were written), and, separately, the second write of the
// Report's published files. After each failure every object of A is
// still there, byte for byte, except the published files the Report was
// replacing; B then resumes on the plain folder to a results.json
// byte-identical to an uninterrupted B. Before the first resume the
// checkpoint the failed run left is damaged (a byte flipped in its middle):
// it must be found (counter "damaged"), not resumed from, and the run
// trained from scratch to the same result.
func TestInjectedFailuresDamageNothingAndResume(t *testing.T) {
	if testing.Short() {
		t.Skip("trains: skipped with -short")
	}
	ctx := context.Background()
	dir := t.TempDir()
	a := integrityConfig(t, dir)
	runStudy(t, "direct", a)
	local, err := store.Open(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	before := snapshotStore(t, local)

	b := integrityConfig(t, t.TempDir())
	b.Epochs = 2
	runStudy(t, "direct", b)
	want, err := os.ReadFile(filepath.Join(b.Out, ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	b.Out = dir

	unchanged := func(t *testing.T, except func(key string) bool) {
		t.Helper()
		after := snapshotStore(t, local)
		for k, h := range before {
			if except != nil && except(k) {
				continue
			}
			if got, ok := after[k]; !ok {
				t.Errorf("%s of the earlier study was removed", k)
			} else if got != h {
				t.Errorf("%s of the earlier study was changed", k)
			}
		}
	}
	resume := func(t *testing.T) map[string]int64 {
		t.Helper()
		counters := runStudy(t, "direct", b)
		got, err := os.ReadFile(filepath.Join(dir, ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("results.json after the failure and resume differs from an uninterrupted run:\n%s", firstDiff(got, want))
		}
		return counters
	}

	t.Run("a failed write in Train, then a damaged checkpoint", func(t *testing.T) {
		f := storetest.FailFromWrite(local, 1).Only(func(k string) bool {
			return strings.HasPrefix(k, StageTrain+"/") && strings.HasSuffix(k, "/"+ResultFile)
		})
		bf := b
		bf.Out = storetest.Register("train-fails", f)
		err := runStudyErr(bf)
		if err == nil || !errors.Is(err, storetest.ErrInjected) && !strings.Contains(err.Error(), "injected failure") {
			t.Fatalf("the study with a failing store: %v, want the injected failure", err)
		}
		unchanged(t, nil)
		states, _ := filepath.Glob(filepath.Join(dir, StageTrain, "*", StateFile))
		if len(states) != 1 {
			t.Fatalf("the failed run left %d checkpoints %v, want 1", len(states), states)
		}
		st, err := os.ReadFile(states[0])
		if err != nil {
			t.Fatal(err)
		}
		st[len(st)/2] ^= 0x40
		if err := os.WriteFile(states[0], st, 0o644); err != nil {
			t.Fatal(err)
		}
		counters := resume(t)
		if counters["damaged"] < 1 || counters["resumed"] != 0 {
			t.Errorf("damaged = %d, resumed = %d: want the damaged checkpoint found and not resumed from", counters["damaged"], counters["resumed"])
		}
	})

	t.Run("the disk fills in the middle of a checkpoint", func(t *testing.T) {
		// Study A's folder, then a 3-epoch study (whose final runs nothing
		// has trained yet) on a disk that has room for everything but its
		// checkpoints, and for 64 KiB of those: the first checkpoint
		// (several MB) runs out of space part-way.
		runStudy(t, "direct", a)
		before = snapshotStore(t, local)
		c3 := b
		c3.Epochs = 3
		c3.Out = t.TempDir()
		runStudy(t, "direct", c3)
		want3, err := os.ReadFile(filepath.Join(c3.Out, ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		full := &checkpointsOnFullDisk{Store: local, full: storetest.NewDiskFull(local, 64<<10)}
		c3.Out = storetest.Register("disk-full", full)
		// Beam's runner reports the DoFn's error as text, so the chain to
		// ENOSPC is checked by its message.
		if err := runStudyErr(c3); err == nil || !strings.Contains(err.Error(), syscall.ENOSPC.Error()) || !strings.Contains(err.Error(), StateFile) {
			t.Fatalf("the study on a full disk: %v, want a failure with ENOSPC", err)
		}
		if full.full.Free() > 0 {
			t.Fatal("the checkpoint write did not run out of space")
		}
		unchanged(t, nil)
		if states, _ := filepath.Glob(filepath.Join(dir, StageTrain, "*", StateFile)); len(states) != 0 {
			t.Errorf("a checkpoint cut short by the full disk is visible: %v", states)
		}
		c3.Out = dir
		runStudy(t, "direct", c3)
		got, err := os.ReadFile(filepath.Join(dir, ResultsFile))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want3) {
			t.Errorf("results.json after the full disk and a resume differs from an uninterrupted run:\n%s", firstDiff(got, want3))
		}
	})

	t.Run("a failed write in Report", func(t *testing.T) {
		// Back to study A, then B again with the Report's second
		// published write failing.
		runStudy(t, "direct", a)
		before = snapshotStore(t, local)
		f := storetest.FailFromWrite(local, 2).Only(func(k string) bool {
			return strings.HasPrefix(k, RunsDir+"/") || !strings.Contains(k, "/") || strings.HasPrefix(k, FiguresDir+"/")
		})
		bf := b
		bf.Out = storetest.Register("report-fails", f)
		if err := runStudyErr(bf); err == nil {
			t.Fatal("the study with a failing Report store succeeded")
		}
		if got := f.Failed(); len(got) == 0 {
			t.Fatal("no Report write was made to fail")
		}
		// The Report was replacing the published files (one of them was
		// written before the failure); every stage artifact of A is intact.
		published := func(k string) bool {
			return strings.HasPrefix(k, RunsDir+"/") || strings.HasPrefix(k, FiguresDir+"/") || !strings.Contains(k, "/")
		}
		unchanged(t, published)
		if b, err := local.Get(ctx, ResultsFile); err != nil || sha256.Sum256(b) != before[ResultsFile] {
			t.Errorf("results.json is not the earlier study's after the Report failed (%v)", err)
		}
		resume(t)
	})
}

// checkpointsOnFullDisk sends the writes of training checkpoints to full
// (a disk that runs out of space) and every other write straight through.
type checkpointsOnFullDisk struct {
	store.Store
	full *storetest.DiskFull
}

func (s *checkpointsOnFullDisk) isCheckpoint(key string) bool {
	return strings.HasSuffix(key, "/"+StateFile)
}

// Put writes a checkpoint to the full disk, anything else through.
func (s *checkpointsOnFullDisk) Put(ctx context.Context, key string, data []byte) error {
	if s.isCheckpoint(key) {
		return s.full.Put(ctx, key, data)
	}
	return s.Store.Put(ctx, key, data)
}

// Create starts a checkpoint's write on the full disk, any other through.
func (s *checkpointsOnFullDisk) Create(ctx context.Context, key string) (store.Writer, error) {
	if s.isCheckpoint(key) {
		return s.full.Create(ctx, key)
	}
	return s.Store.Create(ctx, key)
}
