package main

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/engine/train"
	"github.com/fabeam/fabeam/transforms"
)

// midRun is a training run caught between two epochs: its checkpoint
// (state.safetensors) records Epoch of Epochs completed.
type midRun struct {
	Dir           string // the run's folder, e.g. <out>/train/<key>
	Rule          string
	Epoch, Epochs int
}

func (m midRun) String() string {
	return fmt.Sprintf("%s %s (%s) after epoch %d of %d", filepath.Base(filepath.Dir(m.Dir)), m.Rule, filepath.Base(m.Dir), m.Epoch, m.Epochs)
}

// checkpoints maps the path of every run checkpoint under out (grid and
// train) to its modification time.
func checkpoints(out string) map[string]time.Time {
	m := map[string]time.Time{}
	for _, stage := range []string{transforms.StageGrid, transforms.StageTrain} {
		states, _ := filepath.Glob(filepath.Join(out, stage, "*", transforms.StateFile))
		for _, p := range states {
			if fi, err := os.Stat(p); err == nil {
				m[p] = fi.ModTime()
			}
		}
	}
	return m
}

// findMidRun returns a training run under out (grid or train) whose
// checkpoint holds fewer epochs than the run trains, if there is one,
// ignoring checkpoints listed in old with the same modification time (those
// a previous start left). Checkpoints are written atomically (temporary
// file, then rename), so a state.safetensors that exists is whole; one that
// cannot be decoded fails the test.
func findMidRun(t *testing.T, out string, old map[string]time.Time) (midRun, bool) {
	t.Helper()
	now := checkpoints(out)
	states := make([]string, 0, len(now))
	for p, mt := range now {
		if o, ok := old[p]; !ok || !o.Equal(mt) {
			states = append(states, p)
		}
	}
	sort.Strings(states)
	for _, p := range states {
		b, err := os.ReadFile(p)
		if err != nil {
			continue // deleted by the finished run since the glob
		}
		st, err := train.DecodeState(bytes.NewReader(b), int64(len(b)), p)
		if err != nil {
			t.Fatalf("a checkpoint on disk does not decode: %v", err)
		}
		if st.Epoch < st.Config.Epochs {
			return midRun{Dir: filepath.Dir(p), Rule: st.Config.Rule, Epoch: st.Epoch, Epochs: st.Config.Epochs}, true
		}
	}
	return midRun{}, false
}

// killMidTraining starts the command with args and SIGKILLs it as soon as a
// checkpoint it writes shows a run between two epochs, polling out every
// few milliseconds. It returns the run it interrupted and the child's log; ok
// is false if the command finished first (its error, if any, fails the
// test).
func killMidTraining(t *testing.T, out string, args []string) (hit midRun, log string, ok bool) {
	t.Helper()
	old := checkpoints(out)
	cmd, stderr, done := startChild(t, args)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("the run failed by itself: %v\n%s", err, tail(stderr.String()))
			}
			return midRun{}, stderr.String(), false
		case <-tick.C:
		}
		if m, found := findMidRun(t, out, old); found {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			<-done
			return m, stderr.String(), true
		}
	}
}

// lastTrainingLine returns the last per-epoch log line in a child's log
// ("<stage> <rule> seed s epoch e/n …"), which says what a kill
// interrupted, or "" if there is none.
func lastTrainingLine(log string) string {
	re := regexp.MustCompile(`(grid|train) +\S+ +seed \d+ epoch \d+/\d+`)
	m := re.FindAllString(log, -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1]
}

// fileStamps maps every file under dir (relative, slash-separated) to its
// size and modification time, to tell a reused file from a rewritten one.
func fileStamps(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		m[filepath.ToSlash(rel)] = fmt.Sprintf("%d bytes, %s", fi.Size(), fi.ModTime().Format(time.RFC3339Nano))
		return nil
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return m
}

// TestChangedEpochsRetrainOnlyTheFinalRunsAndKillsResume runs the smoke
// study (bp and one other rule), then runs it again on the same --out with --epochs=3 and kills
// that second run with SIGKILL each time a final run's checkpoint shows it
// between two epochs, twice, before letting it finish. It checks:
//
//   - a changed --epochs retrains only the final runs: the dataset and
//     every grid point's files are the same files (size and modification
//     time) after the second study, its log skips them all and trains no
//     grid epoch, and the first study's final runs stay in the cache;
//   - each kill hit mid-training (the checkpoint it left records fewer
//     epochs than the run trains), and a later start resumed that very
//     run from that checkpoint ("resuming after epoch k from …");
//   - the resumed study's results.json is byte-identical to that of an
//     uninterrupted --epochs=3 study.
func TestChangedEpochsRetrainOnlyTheFinalRunsAndKillsResume(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the smoke study three times: skipped with -short")
	}
	// Two rules keep it short: the reference and one other.
	rules := nn.Reference + "," + nn.RuleNames()[len(nn.RuleNames())-1]
	dir := t.TempDir()
	out := filepath.Join(dir, "study")
	cmd0, err := ParseFlags([]string{"--preset=smoke", "--rules=" + rules, "--out=" + out})
	if err != nil {
		t.Fatal(err)
	}
	if err := runPipeline(cmd0.Config); err != nil {
		t.Fatalf("first smoke study: %v", err)
	}
	before := fileStamps(t, out)
	oldTrain := fileStamps(t, filepath.Join(out, transforms.StageTrain))

	// The uninterrupted --epochs=3 study, in its own folder.
	refOut := filepath.Join(dir, "reference")
	cmdRef, err := ParseFlags([]string{"--preset=smoke", "--rules=" + rules, "--epochs=3", "--out=" + refOut})
	if err != nil {
		t.Fatal(err)
	}
	if err := runPipeline(cmdRef.Config); err != nil {
		t.Fatalf("uninterrupted --epochs=3 smoke study: %v", err)
	}

	args := []string{"--runner=direct", "--preset=smoke", "--rules=" + rules, "--epochs=3", "--out=" + out}
	var logs []string
	var hits []midRun
	for len(hits) < 2 {
		hit, log, ok := killMidTraining(t, out, args)
		logs = append(logs, log)
		if !ok {
			t.Fatalf("the --epochs=3 study finished after %d kill(s) without a run caught between epochs; kills so far: %v", len(hits), hits)
		}
		hits = append(hits, hit)
		t.Logf("kill %d: interrupted %s; last epoch line before the kill: %q", len(hits), hit, lastTrainingLine(log))
		if len(checkNoHalfWritten(t, out)) > 0 {
			// Temporary files of an interrupted write are allowed; the
			// final run must sweep them (checked below).
			t.Logf("kill %d left temporary files", len(hits))
		}
	}
	cmd := command(args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("the final resumed run failed: %v\n%s", err, tail(stderr.String()))
	}
	logs = append(logs, stderr.String())

	// Each kill was resumed from the checkpoint it left, by a later start:
	// the next one, or, when the next was itself killed in another run
	// before it reached this one (the runner need not train the runs in
	// the same order each start), one after it.
	for i, h := range hits {
		want := fmt.Sprintf("resuming after epoch %d from %s", h.Epoch, filepath.Join(h.Dir, transforms.StateFile))
		if !slices.ContainsFunc(logs[i+1:], func(l string) bool { return strings.Contains(l, want) }) {
			t.Errorf("kill %d interrupted %s, but no later start logged %q:\n%s", i+1, h, want, tail(logs[len(logs)-1]))
		}
	}

	// The dataset and the grid were reused, not recomputed.
	after := fileStamps(t, out)
	reused := 0
	for rel, stamp := range before {
		if !strings.HasPrefix(rel, "dataset/") && !strings.HasPrefix(rel, transforms.StageGrid+"/") {
			continue
		}
		reused++
		if after[rel] != stamp {
			t.Errorf("%s was rewritten by the --epochs=3 study (%s, was %s): a changed --epochs must reuse the dataset and the grid", rel, after[rel], stamp)
		}
	}
	if reused == 0 {
		t.Fatal("the first study wrote no dataset or grid files")
	}
	for i, log := range logs {
		if l := regexp.MustCompile(`grid +\S+ +seed \d+ epoch \d+/\d+`).FindString(log); l != "" {
			t.Errorf("start %d of the --epochs=3 study trained a grid epoch (%q)", i+1, l)
		}
	}
	if !strings.Contains(logs[0], "exists, skipped") {
		t.Errorf("the first start of the --epochs=3 study skipped nothing:\n%s", tail(logs[0]))
	}
	// The first study's final runs stay cached, untouched.
	for rel, stamp := range oldTrain {
		if got := fileStamps(t, filepath.Join(out, transforms.StageTrain))[rel]; got != stamp {
			t.Errorf("train/%s of the 2-epoch study changed (%s, was %s)", rel, got, stamp)
		}
	}

	if temps := checkNoHalfWritten(t, out); len(temps) > 0 {
		t.Errorf("temporary files remain after the final run: %v", temps)
	}
	got, err := os.ReadFile(filepath.Join(out, transforms.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	ref, err := os.ReadFile(filepath.Join(refOut, transforms.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, ref) {
		t.Fatalf("results.json of the killed and resumed --epochs=3 study differs from the uninterrupted one:\n%s", firstDiff(got, ref))
	}
}
