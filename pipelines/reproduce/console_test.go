package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fabeam/fabeam/artifacts/figures"
	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/engine/cifar"
	"github.com/fabeam/fabeam/transforms"
)

func TestSeedRangesCollapseConsecutiveSeeds(t *testing.T) {
	thousand := make([]int, 1000)
	for i := range thousand {
		thousand[i] = i
	}
	for _, tc := range []struct {
		seeds []int
		want  string
	}{
		{[]int{0}, "0"},
		{[]int{0, 1}, "0,1"},
		{[]int{0, 1, 2}, "0…2"},
		{thousand, "0…999"},
		{[]int{0, 1, 2, 5, 7, 8}, "0…2,5,7,8"},
		{[]int{3, 10, 11, 12, 13, 40}, "3,10…13,40"},
	} {
		if got := seedRanges(tc.seeds); got != tc.want {
			t.Errorf("seedRanges(%v) = %q, want %q", tc.seeds, got, tc.want)
		}
	}
	cmd, err := ParseFlags([]string{"--preset=quick", "--seeds=1000", "--rules=bp"})
	if err != nil {
		t.Fatal(err)
	}
	if p := plan(cmd.Config, "direct"); !strings.Contains(p, "seeds 0…999,") || !strings.Contains(p, "10000 epochs in all") {
		t.Errorf("the plan of 1,000 seeds: %q", p)
	}
}

func TestEditDistance(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want int
	}{
		{"", "", 0}, {"out", "out", 0}, {"", "abc", 3}, {"rule", "rules", 1},
		{"kitten", "sitting", 3}, {"regoin", "region", 2}, {"épochs", "epochs", 1},
	} {
		if got := editDistance(tc.a, tc.b); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d", tc.a, tc.b, got, tc.want)
		}
		if got := editDistance(tc.b, tc.a); got != tc.want {
			t.Errorf("editDistance(%q, %q) = %d, want %d (symmetry)", tc.b, tc.a, got, tc.want)
		}
	}
}

// TestCommandLineMistakesAreExplained: each mistake is one line naming
// the word or flag at fault and what was probably meant, among the
// command's flags and Beam's.
func TestCommandLineMistakesAreExplained(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--rules", "bp", "usf_sn"}, `unexpected argument "usf_sn" after --rules bp: did you mean --rules=bp,usf_sn?`},
		{[]string{"--rules=bp", "usf_sn", "fa_random", "--out=x"}, "did you mean --rules=bp,usf_sn,fa_random?"},
		{[]string{"-rules", "bp,", "usf_sn"}, "did you mean --rules=bp,usf_sn?"},
		{[]string{"--preset=smoke", "quick"}, `unexpected argument "quick": did you mean --preset=quick?`},
		{[]string{"usf_sn"}, "did you mean --rules=usf_sn?"},
		{[]string{"out=/tmp/x"}, "did you mean --out=/tmp/x?"},
		{[]string{"hello"}, `unexpected argument "hello": every setting is a flag`},
		{[]string{"--", "--preset=smoke"}, `unexpected argument "--preset=smoke" after --`},
		{[]string{"--rule=bp"}, "unknown flag --rule: did you mean --rules? (run with --help for every flag)"},
		{[]string{"--ouput=/tmp/x"}, "unknown flag --ouput: did you mean --out?"},
		{[]string{"--Preset=smoke"}, "did you mean --preset?"},
		{[]string{"--regoin=europe-west4"}, "did you mean --region?"},
		{[]string{"--num_worker=3"}, "did you mean --num_workers?"},
		{[]string{"--stagin_location=gs://b/s"}, "did you mean --staging_location?"},
		{[]string{"--seeds=three"}, "--seeds: parse error; run with --help"},
		{[]string{"--learning_rate=1"}, "unknown flag --learning_rate: no flag of the command or of Beam is close (the closest is --"},
	} {
		_, err := ParseFlags(tc.args)
		if err == nil {
			t.Errorf("%q: accepted", tc.args)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: error %q, want one line containing %q", tc.args, err, tc.want)
		}
	}
}

// TestBeamFlagsReachBeam: Beam's flags parse through ParseFlags, with no
// side effect until applied, and are then Beam's values.
func TestBeamFlagsReachBeam(t *testing.T) {
	cmd, err := ParseFlags([]string{"--runner=prism", "--preset=smoke", "--async", "--num_workers=4", "--out=x"})
	if err != nil {
		t.Fatal(err)
	}
	want := []BeamSetting{{"runner", "prism"}, {"async", "true"}, {"num_workers", "4"}}
	if fmt.Sprint(cmd.Beam) != fmt.Sprint(want) {
		t.Fatalf("Beam flags %v, want %v", cmd.Beam, want)
	}
	if got := beamRunner(); got == "prism" {
		t.Fatal("parsing changed Beam's --runner before it was applied")
	}
	if _, err := ParseFlags([]string{"--num_workers=many"}); err == nil || !strings.Contains(err.Error(), "num_workers") {
		t.Errorf("a non-number for Beam's int flag: %v", err)
	}
	// mem:// only when a test asks for it.
	if _, err := ParseFlags([]string{"--preset=smoke", "--out=mem://t"}); err == nil {
		t.Error("mem:// accepted for the command")
	}
	allowMemOut = true
	defer func() { allowMemOut = false }()
	if cmd, err := ParseFlags([]string{"--preset=smoke", "--out=mem://t"}); err != nil || cmd.Config.Out != "mem://t" {
		t.Errorf("mem:// with the test hook: %v", err)
	}
}

type wrapped struct {
	msg   string
	cause error
}

func (w wrapped) Error() string { return w.msg + "\n\tcaused by:\n" + w.cause.Error() }
func (w wrapped) Unwrap() error { return w.cause }

func TestOneLineKeepsTheErrorThatSaysWhatWentWrong(t *testing.T) {
	inner := fmt.Errorf("--data: data_batch_4.bin: record 3 has label 10: %w", errors.New("re-download it"))
	beamLike := wrapped{"while executing Process for Plan[plan]:\n2: ParDo[transforms.PreprocessFn] Out:[1]\n1: Discard", inner}
	if got := oneLine(beamLike); got != inner.Error() {
		t.Errorf("oneLine = %q, want %q", got, inner.Error())
	}
	text := errors.New("job failed:\nwhile executing\n\tcaused by:\nthe real reason\n")
	if got := oneLine(text); got != "the real reason" {
		t.Errorf("oneLine = %q, want the line after caused by", got)
	}
	doFn := errors.New("DoFn[UID:21, PID:transforms.PreprocessFn] failed:\n" + inner.Error())
	if got := oneLine(wrapped{"while executing Process for Plan[plan]:\n2: ParDo", doFn}); got != inner.Error() {
		t.Errorf("oneLine = %q, want %q (the line after the DoFn header)", got, inner.Error())
	}
	if got := oneLine(errors.New("plain")); got != "plain" {
		t.Errorf("oneLine = %q", got)
	}
}

func TestTable1TextShowsMeanAndIntervalOverSeeds(t *testing.T) {
	res := results.Results{Rules: map[string]results.RuleResult{
		"bp":     {Seeds: []results.SeedResult{{Seed: 0, BestValAcc: 0.5, TestAcc: 0.4, BestEpoch: 2}}},
		"usf_sn": {Seeds: []results.SeedResult{{Seed: 0, BestValAcc: 0.6, TestAcc: 0.5, BestEpoch: 1}, {Seed: 1, BestValAcc: 0.7, TestAcc: 0.6, BestEpoch: 3}}},
	}}
	var b bytes.Buffer
	writeTable1(&b, figures.Table1(res))
	out := b.String()
	// usf_sn: mean 65%, s = 0.0707 (7.07 points), t_{0.975,1} = 12.706:
	// half-width 12.706 * 7.0711 / sqrt(2) = 63.53 points.
	half := 12.706 * 100 * math.Sqrt(0.005) / math.Sqrt(2)
	for _, w := range []string{"rule", "best val %", "test %", "best epoch",
		"bp ", "50.00", "40.00", fmt.Sprintf("65.00 ± %.2f", half), fmt.Sprintf("55.00 ± %.2f", half), "1–3"} {
		if !strings.Contains(out, w) {
			t.Errorf("table lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "fa_random") {
		t.Errorf("table shows a rule that did not run:\n%s", out)
	}
}

// TestTheSummarySaysWhereTheStudyDisagreesWithThePaper: three seeds of
// fa_random at 30, 31 and 32% validation accuracy put 95% of single runs
// within 31 ± 4.97 points, and the paper's 36.14% above them; bp at 75.5,
// 75.9 and 76.3% holds the paper's 75.92%. A smoke study is not compared.
func TestTheSummarySaysWhereTheStudyDisagreesWithThePaper(t *testing.T) {
	seeds := func(val ...float64) []results.SeedResult {
		var out []results.SeedResult
		for i, v := range val {
			out = append(out, results.SeedResult{Seed: i, BestValAcc: v, TestAcc: v, BestEpoch: 1})
		}
		return out
	}
	res := results.Results{Preset: "paper", Rules: map[string]results.RuleResult{
		"bp":        {Seeds: seeds(0.755, 0.759, 0.763)},
		"fa_random": {Seeds: seeds(0.30, 0.31, 0.32)},
	}}
	var b bytes.Buffer
	writeComparison(&b, res)
	want := "\nAgainst the paper: 1 of 4 comparisons with the paper disagree beyond the spread of our seeds:\n" +
		"  - FA (Random), best validation accuracy: the paper's 36.14% is above the range that holds 95% of single runs of ours (26.03%–35.97%; ours 31.00% over 3 seeds).\n"
	if b.String() != want {
		t.Errorf("comparison:\n%s\nwant:\n%s", b.String(), want)
	}
	res.Preset = "smoke"
	b.Reset()
	writeComparison(&b, res)
	if b.Len() != 0 {
		t.Errorf("a smoke study is compared with the paper:\n%s", b.String())
	}
}

// runCommand runs the command (this test binary in child mode) and returns
// its stdout, stderr and exit code.
func runCommand(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := command(args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		code = exit.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

// beamChatter are marks of Beam's own output: the direct runner's
// pipeline and plan dumps and slog's default format.
var beamChatter = []string{"Executing pipeline", "Pipeline:", "Nodes:", "Plan[", "Edges:", "level=INFO", "caused by"}

// TestQuietByDefaultLoudWhenAsked runs the command on the smoke preset
// (bp only, one epoch): without --verbose it prints what will run, the
// epochs and analysis stages (each with its time), Table 1 with the numbers
// of results.json and the report's path, and nothing of Beam's; with
// --verbose Beam's plan appears. Not on a terminal, no progress bar.
func TestQuietByDefaultLoudWhenAsked(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command: skipped with -short")
	}
	out := filepath.Join(t.TempDir(), "study")
	args := []string{"--runner=direct", "--preset=smoke", "--rules=bp", "--epochs=1", "--seeds=1", "--out=" + out}
	stdout, stderr, code := runCommand(t, args...)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, tail(stderr))
	}
	for _, c := range beamChatter {
		if strings.Contains(stderr+stdout, c) {
			t.Errorf("without --verbose the output contains Beam's %q:\n%s", c, tail(stderr))
		}
	}
	if strings.Contains(stderr, "\033[") {
		t.Errorf("escape codes (a progress bar?) on stderr that is not a terminal:\n%q", tail(stderr))
	}
	for _, w := range []string{"preset smoke on synthetic data", "rules bp, seeds 0, grid search of 2 points (1 epoch each), then 1 epoch per run (3 epochs in all)",
		"grid bp", "train bp          seed 0 epoch 1/1", "extract bp seed 0: 260 images in ", "saliency bp seed 0: ", "report: wrote "} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, stderr)
		}
	}
	if n := strings.Count(stderr, "\n"); n > 15 {
		t.Errorf("%d lines on stderr for a 3-epoch study; want a handful:\n%s", n, stderr)
	}
	// Table 1 against results.json, read independently.
	b, err := os.ReadFile(filepath.Join(out, transforms.ResultsFile))
	if err != nil {
		t.Fatal(err)
	}
	var res struct {
		Rules map[string]struct {
			Seeds []struct {
				BestValAcc float64 `json:"best_val_acc"`
				TestAcc    float64 `json:"test_acc"`
				BestEpoch  int     `json:"best_epoch"`
			} `json:"seeds"`
		} `json:"rules"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	s := res.Rules["bp"].Seeds[0]
	row := fmt.Sprintf("bp    %10.2f  %6.2f  %d", 100*s.BestValAcc, 100*s.TestAcc, s.BestEpoch)
	for _, w := range []string{"Table 1 (smoke preset", row, "report: " + filepath.Join(out, "report.html")} {
		if !strings.Contains(stdout, w) {
			t.Errorf("stdout lacks %q:\n%s", w, stdout)
		}
	}
	last := lastLine(stdout)
	if last != "report: "+filepath.Join(out, "report.html") {
		t.Errorf("the last line is %q, want the report's path", last)
	}

	// --verbose: the same (cached) study, now with Beam's plan.
	_, stderr, code = runCommand(t, append(args, "--verbose")...)
	if code != 0 {
		t.Fatalf("--verbose: exit %d:\n%s", code, tail(stderr))
	}
	for _, w := range []string{"Executing pipeline with the direct runner", "Plan["} {
		if !strings.Contains(stderr, w) {
			t.Errorf("with --verbose stderr lacks Beam's %q", w)
		}
	}
}

// On prism the quiet console holds the same lines: the pipeline's own,
// relayed by the runner, and nothing of the runner's (its job messages,
// "pipeline completed job-001[…]" and "terminating job-001[…]", reach
// the console from a goroutine of Beam's job-stream reader).
func TestQuietOnPrism(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command: skipped with -short")
	}
	out := filepath.Join(t.TempDir(), "study")
	_, stderr, code := runCommand(t, "--runner=prism", "--preset=smoke", "--rules=bp", "--epochs=1", "--out="+out)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, tail(stderr))
	}
	for _, c := range append(beamChatter, "pipeline completed", "terminating job", "job-001", "stopping worker") {
		if strings.Contains(stderr, c) {
			t.Errorf("without --verbose the output contains the runner's %q:\n%s", c, stderr)
		}
	}
	for _, w := range []string{"train bp          seed 0 epoch 1/1", "report: wrote "} {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr lacks the pipeline's %q:\n%s", w, stderr)
		}
	}
}

// TestAFailingRunEndsWithItsOneLineError: a run that fails inside the
// pipeline (a label byte of 10, found by Preprocess) and one that fails on
// its command line end with the error as their last line, on one line, and
// print nothing of Beam's.
func TestAFailingRunEndsWithItsOneLineError(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the command: skipped with -short")
	}
	data := t.TempDir()
	if err := cifar.WriteSynthetic(data, 20, 7); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(data, "data_batch_4.bin")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[3*3073] = 10
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"inside the pipeline", []string{"--runner=direct", "--preset=quick", "--rules=bp", "--epochs=1", "--data=" + data, "--out=" + t.TempDir()},
			1, []string{"reproduce: ", "data_batch_4.bin", "record 3", "label 10"}},
		{"on the command line", []string{"--runner=direct", "--preset=smoke", "--rules", "bp", "usf_sn", "--out=" + t.TempDir()},
			2, []string{"reproduce: ", "did you mean --rules=bp,usf_sn?"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout, stderr, code := runCommand(t, tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d:\n%s", code, tc.code, tail(stderr))
			}
			if stdout != "" {
				t.Errorf("a failed run printed on stdout: %q", stdout)
			}
			last := lastLine(stderr)
			if !strings.HasPrefix(last, "reproduce: ") {
				t.Errorf("the last line %q is not the error", last)
			}
			for _, w := range tc.want {
				if !strings.Contains(last, w) {
					t.Errorf("the last line %q lacks %q", last, w)
				}
			}
			for _, c := range beamChatter {
				if strings.Contains(stderr, c) {
					t.Errorf("the output contains Beam's %q:\n%s", c, tail(stderr))
				}
			}
		})
	}
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	return last
}

// The quiet console keeps, of what prism's slog carries, only the lines
// of the pipeline's own code: an "[SDK] " line that names a prism job is
// Beam's (the launcher's lines, relayed once the SDK harness runs in this
// process, and the job lifecycle), as is every line without the prefix.
// With --verbose everything is printed.
func TestQuietConsoleDropsPrismJobLinesRelayedAsTheSDKs(t *testing.T) {
	pipeline := "[SDK] train bp          seed 0 epoch 1/1 loss 1.7649 val 0.7667"
	records := []string{
		"[SDK] Submitted job: job-001",
		"[SDK] Job[job-001] state: RUNNING",
		"[SDK] stopping worker job-001[go-job-1-1764780971]_go",
		"[SDK] pipeline completed job-012[go-job-12-1764780971]",
		"Serving JobManagement on :8073",
		pipeline,
		"[SDK] report: wrote results.json (jobs-2 and job-x are not job names)",
	}
	for _, verbose := range []bool{false, true} {
		var buf bytes.Buffer
		transforms.SetConsole(&buf, false)
		h := &slogHandler{c: &console{verbose: verbose}}
		for _, m := range records {
			if err := h.Handle(context.Background(), slog.NewRecord(time.Now(), slog.LevelInfo, m, 0)); err != nil {
				t.Fatal(err)
			}
		}
		transforms.SetConsole(os.Stderr, false)
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
			got = append(got, l[len("15:04:05 "):]) // drop the time
		}
		want := []string{strings.TrimPrefix(pipeline, "[SDK] "), "report: wrote results.json (jobs-2 and job-x are not job names)"}
		if verbose {
			want = nil
			for _, m := range records {
				want = append(want, strings.TrimPrefix(m, "[SDK] "))
			}
		}
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("verbose=%v: the console printed\n%s\nwant\n%s", verbose, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}
