package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/runners/direct"
	"github.com/fsouza/fake-gcs-server/fakestorage"

	"github.com/fabeam/fabeam/artifacts/store"
	"github.com/fabeam/fabeam/engine/cifar"
	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/engine/train"
	"github.com/fabeam/fabeam/transforms"
)

// runPipeline builds the study for c and runs it on the direct runner, as
// main does with --runner=direct.
func runPipeline(c transforms.Config) error {
	p, s := beam.NewPipelineWithRoot()
	transforms.Study(s, c)
	_, err := direct.Execute(context.Background(), p)
	return err
}

// snapshot maps every file under dir (slash-separated relative path) to
// the SHA-256 of its content.
func snapshot(t *testing.T, dir string) map[string][32]byte {
	t.Helper()
	m := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		m[filepath.ToSlash(rel)] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// existingRun writes a small real study (smoke data, bp only, no grid, one
// epoch) into a fresh folder: the output every bad-input case must leave
// byte for byte as it was.
func existingRun(t *testing.T) string {
	t.Helper()
	out := t.TempDir()
	cmd, err := ParseFlags([]string{"--preset=smoke", "--rules=bp", "--epochs=1", "--out=" + out})
	if err != nil {
		t.Fatal(err)
	}
	c := cmd.Config
	c.Grid, c.Extract = false, false
	if err := runPipeline(c); err != nil {
		t.Fatalf("the pre-existing run failed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, transforms.ResultsFile)); err != nil {
		t.Fatalf("the pre-existing run wrote no results: %v", err)
	}
	return out
}

// dataDir writes six valid CIFAR-10 files of 20 synthetic records each and
// lets edit spoil one; it returns the folder.
func dataDir(t *testing.T, edit func(dir string)) string {
	t.Helper()
	dir := t.TempDir()
	if err := cifar.WriteSynthetic(dir, 20, 7); err != nil {
		t.Fatal(err)
	}
	edit(dir)
	return dir
}

// model returns a valid bp checkpoint (PyTorch initialisation, seed 1),
// with NaN at fc2.weight[5] when nan is set.
func model(t *testing.T, nan bool) []byte {
	t.Helper()
	p := nn.NewParams()
	p.InitPyTorch(1)
	if nan {
		p.Weight(3)[5] = float32(math.NaN())
	}
	var b bytes.Buffer
	if err := train.EncodeModel(&b, p, nil, train.ModelMeta{Rule: "bp", Seed: 1, Epoch: 1}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// fakeArchive is a gzipped tar of cifar-10-batches-bin/ holding the six
// files with 20 synthetic records each: the layout of the real archive, not
// its MD5.
func fakeArchive(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	if err := cifar.WriteSynthetic(dir, 20, 3); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for _, f := range cifar.AllFiles() {
		b, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		tw.WriteHeader(&tar.Header{Name: cifar.ArchiveDir + "/" + f, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// lie rewrites the header entry of tensor name in the safetensors file b
// (the data section is kept), re-padding the header to 8 bytes.
func lie(t *testing.T, b []byte, name string, edit func(e map[string]any)) []byte {
	t.Helper()
	n := binary.LittleEndian.Uint64(b[:8])
	var hdr map[string]any
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		t.Fatal(err)
	}
	e, ok := hdr[name].(map[string]any)
	if !ok {
		t.Fatalf("no tensor %s in the header", name)
	}
	edit(e)
	h, err := json.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	out := binary.LittleEndian.AppendUint64(nil, uint64(len(h)))
	out = append(out, h...)
	return append(out, b[8+n:]...)
}

// TestBadInput feeds the command every kind of bad input a researcher
// produces by hand. Each case must fail with an error that names the file,
// flag or field and says what to do (every substring in want, found in the
// one line the command prints, oneLine), and none
// may change a byte of an output folder written before (the same folder is
// passed as --out to every case). The GCS cases talk to fake-gcs-server
// behind a front that answers 503 on demand.
func TestBadInput(t *testing.T) {
	if testing.Short() {
		t.Skip("runs pipelines: skipped with -short")
	}
	ctx := context.Background()

	// GCS: one emulator for the process (store.Open's client is shared),
	// reached through a front that fails the next `fail` requests.
	srv, err := fakestorage.NewServerWithOptions(fakestorage.Options{
		Scheme: "http", Host: "127.0.0.1", Port: 0, PublicHost: "127.0.0.1", Writer: io.Discard,
	})
	if err != nil {
		t.Fatalf("starting fake GCS server: %v", err)
	}
	defer srv.Stop()
	srv.CreateBucketWithOpts(fakestorage.CreateBucketOpts{Name: "fabeam-bad-input"})
	var fail, served503 atomic.Int64
	inner := srv.HTTPHandler()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fail.Add(-1) >= 0 {
			served503.Add(1)
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":{"code":503,"message":"injected: service unavailable"}}`)
			return
		}
		fail.Store(0)
		inner.ServeHTTP(w, r)
	}))
	defer front.Close()
	t.Setenv("STORAGE_EMULATOR_HOST", strings.TrimPrefix(front.URL, "http://"))

	// An archive server answering bytes whose MD5 is not the archive's.
	// It is a well-formed .tar.gz holding the six files (20 synthetic
	// records each), so only the checksum gives it away.
	fake := fakeArchive(t)
	archive := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(fake)
	}))
	defer archive.Close()

	out := existingRun(t)
	before := snapshot(t, out)
	notDir := filepath.Join(t.TempDir(), "a-file")
	if err := os.WriteFile(notDir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}

	// quickOn is a command line reading CIFAR-10 from data into out.
	quickOn := func(data string) []string {
		return []string{"--preset=quick", "--rules=bp", "--epochs=1", "--data=" + data, "--out=" + out}
	}
	// cmd parses args and, if they pass, fetches data and runs the study.
	cmd := func(args []string) func(t *testing.T) error {
		return func(t *testing.T) error {
			cmd, err := ParseFlags(args)
			if err != nil {
				return err
			}
			c := cmd.Config
			if err := ensureData(ctx, c, http.DefaultClient, archive.URL); err != nil {
				return err
			}
			return runPipeline(c)
		}
	}
	// checkpoint decodes b as the model checkpoint "model.safetensors".
	checkpoint := func(b []byte) func(t *testing.T) error {
		return func(t *testing.T) error {
			_, _, _, err := train.DecodeModel(bytes.NewReader(b), int64(len(b)), "runs/bp/seed0/model.safetensors")
			return err
		}
	}
	truncate := func(name string, delta int64) func(string) {
		return func(dir string) {
			p := filepath.Join(dir, name)
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(p, fi.Size()+delta); err != nil {
				t.Fatal(err)
			}
		}
	}
	valid := model(t, false)

	for _, tc := range []struct {
		name string
		run  func(t *testing.T) error
		want []string
	}{
		{"truncated CIFAR file", cmd(quickOn(dataDir(t, truncate("data_batch_2.bin", -1)))),
			[]string{"--data", "data_batch_2.bin", "not a multiple of the 3073-byte record", "re-download"}},
		{"oversized CIFAR file (sparse, 3 GB)", cmd(quickOn(dataDir(t, truncate("test_batch.bin", 1<<20*3073)))),
			[]string{"--data", "test_batch.bin", "larger than", "not a CIFAR-10 binary batch"}},
		{"label byte 10", cmd(quickOn(dataDir(t, func(dir string) {
			p := filepath.Join(dir, "data_batch_4.bin")
			b, _ := os.ReadFile(p)
			b[3*3073] = 10 // record 3's label
			os.WriteFile(p, b, 0o644)
		}))), []string{"--data", "data_batch_4.bin", "record 3", "label 10", "re-download"}},
		{"missing batch file (download fails: wrong MD5)", cmd(quickOn(dataDir(t, func(dir string) {
			os.Remove(filepath.Join(dir, "data_batch_5.bin"))
		}))), []string{"--data", "missing data_batch_5.bin", "MD5 mismatch", "nothing was written", "put the six CIFAR-10 binary files"}},
		{"archive with the wrong MD5 into an empty folder", func(t *testing.T) error {
			dir := filepath.Join(t.TempDir(), "cifar")
			err := cmd(quickOn(dir))(t)
			if left := snapshot(t, dir); len(left) != 0 {
				t.Errorf("the rejected download left files in %s: %v", dir, left)
			}
			return err
		},
			[]string{"--data", archive.URL, "MD5 mismatch", cifar.ArchiveMD5, "download " + cifar.ArchiveURL}},
		{"checkpoint offsets past the end of the file", checkpoint(lie(t, valid, "fc3.bias", func(e map[string]any) {
			o := e["data_offsets"].([]any)
			e["data_offsets"] = []any{o[0], float64(len(valid) + 4096)}
		})), []string{"model.safetensors", "fc3.bias"}},
		{"checkpoint shape of 10^12 elements", checkpoint(lie(t, valid, "fc1.weight", func(e map[string]any) {
			e["shape"] = []any{1e6, 1e6}
		})), []string{"model.safetensors", "fc1.weight"}},
		{"checkpoint with the wrong dtype", checkpoint(lie(t, valid, "fc3.bias", func(e map[string]any) {
			e["dtype"] = "I32" // same 4 bytes per element, so only the dtype lies
		})), []string{"model.safetensors", "fc3.bias", "I32", "F32"}},
		{"checkpoint with NaN weights", checkpoint(model(t, true)),
			[]string{"model.safetensors", "fc2.weight", "non-finite", "index 5", "retrain it"}},
		{"unknown rule", cmd([]string{"--preset=smoke", "--rules=bp,nope", "--out=" + out}),
			[]string{"--rules", `"nope"`, strings.Join(nn.RuleNames(), ",")}},
		{"zero epochs", cmd([]string{"--preset=smoke", "--epochs=0", "--out=" + out}),
			[]string{"--epochs=0", "positive", "leave the flag out"}},
		{"negative epochs", cmd([]string{"--preset=smoke", "--epochs=-3", "--out=" + out}),
			[]string{"--epochs=-3", "positive"}},
		{"zero seeds", cmd([]string{"--preset=smoke", "--seeds=0", "--out=" + out}),
			[]string{"--seeds=0", "from 1 to 1000"}},
		{"negative seeds", cmd([]string{"--preset=smoke", "--seeds=-2", "--out=" + out}),
			[]string{"--seeds=-2", "from 1 to 1000"}},
		{"a negative seed in a Config built in code", func(t *testing.T) error {
			c, _ := transforms.PresetConfig("smoke", out, "")
			c.Seeds = []int{-1, 0}
			return c.Validate()
		}, []string{"config Seeds", ">= 0"}},
		{"zero epochs in a Config built in code", func(t *testing.T) error {
			c, _ := transforms.PresetConfig("smoke", out, "")
			c.Epochs = 0
			return c.Validate()
		}, []string{"config Epochs (--epochs) = 0", "at least 1"}},
		{"output folder that cannot be written (under a regular file)",
			cmd([]string{"--preset=smoke", "--rules=bp", "--epochs=1", "--out=" + filepath.Join(notDir, "sub")}),
			[]string{notDir, "choose another folder"}},
		{"stray words after a list flag", cmd([]string{"--runner=direct", "--preset=smoke", "--rules", "bp", "usf_sn", "--out=" + out}),
			[]string{`unexpected argument "usf_sn"`, "did you mean --rules=bp,usf_sn?"}},
		{"a stray word", cmd([]string{"--preset=smoke", "--out=" + out, "smoke"}),
			[]string{`unexpected argument "smoke"`, "did you mean --preset=smoke?"}},
		{"unknown flag", cmd([]string{"--preset=smoke", "--epoch=3", "--out=" + out}),
			[]string{"unknown flag --epoch", "did you mean --epochs", "--help"}},
		{"unknown flag close to one of Beam's", cmd([]string{"--preset=smoke", "--regoin=europe-west4", "--out=" + out}),
			[]string{"unknown flag --regoin", "did you mean --region", "--help"}},
		{"a flag the preset ignores (--data under smoke)", cmd([]string{"--preset=smoke", "--data=/data/cifar", "--out=" + out}),
			[]string{"--data=/data/cifar", "smoke preset", "synthetic data", "drop --data"}},
		{"an output in memory, gone at exit", cmd([]string{"--preset=smoke", "--out=mem://study"}),
			[]string{"--out=mem://study", "vanishes", "give a local folder or gs://"}},
		{"gs:// bucket that does not exist", func(t *testing.T) error {
			_, err := store.Open(ctx, "gs://no-such-bucket/run")
			return err
		}, []string{"gs://no-such-bucket", "does not exist", "create it"}},
		{"gs:// bucket that does not exist, through the pipeline",
			cmd([]string{"--preset=smoke", "--rules=bp", "--epochs=1", "--out=gs://no-such-bucket/run"}),
			[]string{"gs://no-such-bucket", "does not exist", "create it"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run(t)
			if err == nil {
				t.Fatal("accepted")
			}
			// What the command prints: one line (Beam's multi-line
			// wrapping of a DoFn's error removed).
			msg := oneLine(err)
			t.Logf("error: %s", msg)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error does not contain %q", w)
				}
			}
			checkUnchanged(t, out, before)
		})
	}

	// Transient errors: three 503s in a row, retried with backoff, then
	// the write and the read succeed.
	t.Run("transient GCS 503s are retried and succeed", func(t *testing.T) {
		st, err := store.Open(ctx, "gs://fabeam-bad-input/run")
		if err != nil {
			t.Fatal(err)
		}
		payload := bytes.Repeat([]byte("fabeam"), 1000)
		fail.Store(3)
		served503.Store(0)
		if err := st.Put(ctx, "results.json", payload); err != nil {
			t.Fatalf("Put after 503s: %v", err)
		}
		if got := served503.Load(); got != 3 {
			t.Errorf("front served %d 503s during Put, want 3", got)
		}
		fail.Store(2)
		got, err := st.Get(ctx, "results.json")
		if err != nil {
			t.Fatalf("Get after 503s: %v", err)
		}
		if !bytes.Equal(got, payload) {
			t.Errorf("read back %d bytes, not the %d written", len(got), len(payload))
		}
		if got := served503.Load(); got != 5 {
			t.Errorf("front served %d 503s in all, want 5", got)
		}
		checkUnchanged(t, out, before)
	})

	t.Run("damaged artifacts in a finished folder", func(t *testing.T) { damagedArtifacts(t) })
}

// damagedArtifacts is TestBadInput's part for damage the user did not
// notice: a finished study's folder whose cached artifacts were truncated,
// deleted, overwritten with garbage or edited by hand. Unlike the cases
// above, these are not errors: the command (run as a child process, as a
// user runs it) must exit 0 without anything deleted by hand, print one
// warning line naming the damaged file and what it redoes, and publish
// exactly what the undamaged study published (results.json and every file
// under runs/, byte for byte) — never the damaged bytes.
func damagedArtifacts(t *testing.T) {
	base := filepath.Join(t.TempDir(), "base")
	args := func(out string) []string {
		return []string{"--runner=direct", "--preset=smoke", "--rules=bp", "--epochs=1", "--out=" + out}
	}
	if b, err := command(args(base)...).CombinedOutput(); err != nil {
		t.Fatalf("the undamaged study failed: %v\n%s", err, tail(string(b)))
	}
	published := func(dir string) map[string][32]byte {
		m := map[string][32]byte{}
		for k, h := range snapshot(t, dir) {
			if k == transforms.ResultsFile || strings.HasPrefix(k, "runs/") {
				m[k] = h
			}
		}
		return m
	}
	want := published(base)
	if len(want) < 3 {
		t.Fatalf("the undamaged study published only %v", want)
	}
	one := func(pattern string) string {
		t.Helper()
		m, _ := filepath.Glob(filepath.Join(base, pattern))
		if len(m) != 1 {
			t.Fatalf("%s matches %v, want one file", pattern, m)
		}
		rel, _ := filepath.Rel(base, m[0])
		return rel
	}
	model := one(filepath.Join(transforms.StageTrain, "*", transforms.ModelFile))
	hist := one(filepath.Join(transforms.StageTrain, "*", transforms.HistoryFile))
	result := one(filepath.Join(transforms.StageTrain, "*", transforms.ResultFile))
	feature := one(filepath.Join("extract", "*", "conv2.safetensors"))

	truncate := func(p string) error {
		fi, err := os.Stat(p)
		if err != nil {
			return err
		}
		return os.Truncate(p, fi.Size()*2/3)
	}
	editNumber := func(p string) error {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		i := bytes.Index(b, []byte(`"TestAcc": `))
		if i < 0 {
			return fmt.Errorf("no TestAcc in %s", p)
		}
		i += len(`"TestAcc": `)
		j := i + bytes.IndexAny(b[i:], ",\n}")
		return os.WriteFile(p, append(append(append([]byte{}, b[:i]...), "0.999"...), b[j:]...), 0o644)
	}
	for _, tc := range []struct {
		name, file string
		damage     func(p string) error
		redo       string // what the warning says is redone
	}{
		{"truncated model.safetensors", model, truncate, "training it again"},
		{"deleted model.safetensors", model, os.Remove, "training it again"},
		{"garbage history.json", hist, func(p string) error { return os.WriteFile(p, []byte("{not json"), 0o644) }, "training it again"},
		{"a hand-edited number in result.json", result, editNumber, "training it again"},
		{"deleted extract file", feature, os.Remove, "extracting its features again"},
		{"truncated extract file", feature, truncate, "extracting its features again"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out")
			copyTree(t, base, out)
			if err := tc.damage(filepath.Join(out, tc.file)); err != nil {
				t.Fatal(err)
			}
			b, err := command(args(out)...).CombinedOutput()
			if err != nil {
				t.Fatalf("the re-run on the damaged folder failed: %v\n%s", err, tail(string(b)))
			}
			var warnings []string
			for _, l := range strings.Split(string(b), "\n") {
				if strings.Contains(l, "warning: ") {
					warnings = append(warnings, l)
				}
			}
			if len(warnings) != 1 {
				t.Fatalf("%d warning lines, want 1 naming the damage:\n%s", len(warnings), strings.Join(warnings, "\n"))
			}
			t.Logf("%s", warnings[0])
			for _, w := range []string{filepath.Base(tc.file), tc.redo} {
				if !strings.Contains(warnings[0], w) {
					t.Errorf("the warning does not contain %q", w)
				}
			}
			if strings.Contains(warnings[0], "delete it") || strings.Contains(warnings[0], "by hand") {
				t.Error("the warning asks the user to delete something")
			}
			sameFiles(t, "the published files against the undamaged study's", published(out), want)
			// A record holds wall-clock times, so only the artifacts
			// themselves come back byte for byte (the record's numbers are
			// in results.json, compared above).
			if tc.file == result {
				return
			}
			if g, w := snapshot(t, out)[tc.file], snapshot(t, base)[tc.file]; g != w {
				t.Errorf("%s was not restored to the undamaged study's bytes", tc.file)
			}
		})
	}

	// The repair itself killed: SIGKILL the moment the command has
	// warned about the damage (it is then retraining), and start it again.
	// The second start must find the damage again (nothing was accepted
	// half-repaired) or the repair complete, and publish the undamaged
	// study's files.
	t.Run("truncated model.safetensors, the repair killed with SIGKILL", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out")
		copyTree(t, base, out)
		if err := truncate(filepath.Join(out, model)); err != nil {
			t.Fatal(err)
		}
		line, killed := killAtLine(t, args(out), func(l string) bool {
			return strings.Contains(l, "warning: ") && strings.Contains(l, transforms.ModelFile)
		})
		if line == "" {
			t.Fatal("the command never warned about the truncated model")
		}
		if !killed {
			t.Log("the repair finished before the kill landed")
		}
		if b, err := command(args(out)...).CombinedOutput(); err != nil {
			t.Fatalf("the start after the kill failed: %v\n%s", err, tail(string(b)))
		}
		sameFiles(t, "the published files against the undamaged study's", published(out), want)
	})
}

// copyTree copies the files under src to dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		q := filepath.Join(dst, rel)
		if err := os.MkdirAll(filepath.Dir(q), 0o755); err != nil {
			return err
		}
		return os.WriteFile(q, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkUnchanged fails unless dir holds exactly the files of before, byte
// for byte.
func checkUnchanged(t *testing.T, dir string, before map[string][32]byte) {
	t.Helper()
	sameFiles(t, "the pre-existing output folder", snapshot(t, dir), before)
}

// sameFiles fails for every file of want that got lacks or holds with
// other bytes, and for every file of got that want lacks.
func sameFiles(t *testing.T, what string, got, want map[string][32]byte) {
	t.Helper()
	for k, h := range want {
		if g, ok := got[k]; !ok {
			t.Errorf("%s: %s is missing", what, k)
		} else if g != h {
			t.Errorf("%s: %s was changed", what, k)
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: %s is new", what, k)
		}
	}
}
