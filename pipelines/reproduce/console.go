package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"

	"github.com/fabeam/fabeam/artifacts/figures"
	"github.com/fabeam/fabeam/artifacts/results"
	"github.com/fabeam/fabeam/artifacts/store"
	"github.com/fabeam/fabeam/transforms"
)

// console prints the command's log lines through transforms.ConsoleLine
// (which keeps the progress bar below them). Without verbose it drops
// Beam's own messages and debug lines.
type console struct{ verbose bool }

// startConsole routes Beam's logging, and slog (which the prism runner
// uses, also for the lines it relays from the pipeline's workers), to the
// console; bar switches the live progress bar on.
func startConsole(verbose, bar bool) {
	c := &console{verbose: verbose}
	log.SetLogger(c)
	slog.SetDefault(slog.New(&slogHandler{c: c}))
	transforms.SetConsole(os.Stderr, bar)
}

// Log implements Beam's log.Logger. A message logged from Beam's own code
// (the direct runner's pipeline and plan dumps, for example) is Beam's.
func (c *console) Log(_ context.Context, sev log.Severity, calldepth int, msg string) {
	_, file, _, ok := runtime.Caller(calldepth + 1)
	c.print(sev, ok && isBeamSource(file), msg)
}

// isBeamSource reports whether file is part of the Beam SDK.
func isBeamSource(file string) bool { return strings.Contains(file, "/apache/beam/") }

// print writes one message: "15:04:05 message", with the severity for a
// warning or error.
func (c *console) print(sev log.Severity, fromBeam bool, msg string) {
	if !c.verbose && (fromBeam || sev == log.SevDebug) {
		return
	}
	prefix := time.Now().Format("15:04:05 ")
	switch {
	case sev >= log.SevError:
		prefix += "error: "
	case sev == log.SevWarn:
		prefix += "warning: "
	}
	transforms.ConsoleLine(prefix + strings.TrimRight(msg, "\n"))
}

// prismJob matches prism's name for a job ("job-001", also as
// "job-001[go-job-…]"). While prism runs the pipeline in this process, the
// SDK's logger carries Beam's own messages too, its job lifecycle
// ("stopping worker job-001[…]_go", "pipeline completed job-001[…]"), and
// they name the job. Once the SDK harness has started in this process it
// also relays the launcher's lines ("Submitted job: job-001",
// "Job[job-001] state: RUNNING") as the pipeline's; whether they come
// before or after it starts depends on scheduling. The pipeline's code
// never names a job.
var prismJob = regexp.MustCompile(`\bjob-\d+\b`)

// slogHandler sends slog records to the console. Prism relays each log
// line of the pipeline's code with the prefix "[SDK] "; every other record,
// and an SDK line that names prism's job (prismJob), is the runner's own.
type slogHandler struct {
	c     *console
	attrs []slog.Attr
}

func (h *slogHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *slogHandler) Handle(_ context.Context, r slog.Record) error {
	msg, fromSDK := strings.CutPrefix(r.Message, "[SDK] ")
	fromSDK = fromSDK && !prismJob.MatchString(msg)
	if h.c.verbose {
		var b strings.Builder
		b.WriteString(msg)
		add := func(a slog.Attr) bool { fmt.Fprintf(&b, " %s=%v", a.Key, a.Value); return true }
		for _, a := range h.attrs {
			add(a)
		}
		r.Attrs(add)
		msg = b.String()
	}
	sev := log.SevInfo
	switch {
	case r.Level >= slog.LevelError:
		sev = log.SevError
	case r.Level >= slog.LevelWarn:
		sev = log.SevWarn
	case r.Level < slog.LevelInfo:
		sev = log.SevDebug
	}
	h.c.print(sev, !fromSDK, msg)
	return nil
}

func (h *slogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &slogHandler{c: h.c, attrs: append(slices.Clone(h.attrs), as...)}
}

func (h *slogHandler) WithGroup(string) slog.Handler { return h }

// say prints one line of the command's own.
func say(format string, args ...any) {
	transforms.ConsoleLine(time.Now().Format("15:04:05 ") + fmt.Sprintf(format, args...))
}

// fail prints err as the last line, on one line, and exits with code.
func fail(code int, err error) {
	transforms.EndProgress()
	fmt.Fprintln(os.Stderr, "reproduce: "+oneLine(err))
	os.Exit(code)
}

// oneLine returns the message of err on one line. Beam wraps a failing
// DoFn's error in several lines of context (the plan it was running, a
// "caused by:" per level, a "DoFn[…] failed:" header); the error that says
// what went wrong is the outermost one in the chain whose message is a
// single line. Where the chain ends in a multi-line message (a runner's
// text, or a wrapper that does not unwrap), it is the first line after the
// last "caused by:" that is not a header ending in ":".
func oneLine(err error) string {
	e := err
	for {
		m := strings.TrimSpace(e.Error())
		if !strings.Contains(m, "\n") {
			return m
		}
		next := errors.Unwrap(e)
		if next == nil {
			break
		}
		e = next
	}
	var lines []string
	for _, l := range strings.Split(e.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	i := 0
	for j, l := range lines {
		if l == "caused by:" && j+1 < len(lines) {
			i = j + 1
		}
	}
	for i+1 < len(lines) && strings.HasSuffix(lines[i], ":") {
		i++
	}
	return lines[i]
}

// plan describes in one line what the study will run.
func plan(c transforms.Config, runner string) string {
	data := "CIFAR-10 from " + c.Data
	if c.Synthetic {
		data = fmt.Sprintf("synthetic data (%d training, %d test images)", c.SyntheticTrain, c.SyntheticTest)
	}
	grid := "no grid search"
	if c.Grid {
		n := 0
		for _, r := range c.Rules {
			n += len(c.GridPoints[r])
		}
		grid = fmt.Sprintf("grid search of %s (%s each)", plural(n, "point"), plural(c.GridEpochs, "epoch"))
	}
	if runner == "" {
		runner = "direct"
	}
	return fmt.Sprintf("preset %s on %s: rules %s, seeds %s, %s, then %s per run (%s in all); runner %s; out %s",
		c.Preset, data, strings.Join(c.OrderedRules(), ","), seedRanges(c.Seeds), grid, plural(c.Epochs, "epoch"), plural(c.TotalEpochs(), "epoch"), runner, c.Out)
}

// plural writes n and the noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// seedRanges writes ascending seeds with runs of consecutive values as
// ranges: [0 1 2 … 999] is "0…999", [0 1 2 5 7 8] is "0…2,5,7,8".
func seedRanges(seeds []int) string {
	var parts []string
	for i := 0; i < len(seeds); {
		j := i
		for j+1 < len(seeds) && seeds[j+1] == seeds[j]+1 {
			j++
		}
		switch {
		case j-i >= 2:
			parts = append(parts, strconv.Itoa(seeds[i])+"…"+strconv.Itoa(seeds[j]))
		case j > i:
			parts = append(parts, strconv.Itoa(seeds[i]), strconv.Itoa(seeds[j]))
		default:
			parts = append(parts, strconv.Itoa(seeds[i]))
		}
		i = j + 1
	}
	return strings.Join(parts, ",")
}

// summary reads the study's results.json from c.Out and writes Table 1 as
// text, where its numbers disagree with the paper's, and the report's
// location to w.
func summary(ctx context.Context, w io.Writer, c transforms.Config, took time.Duration) error {
	st, err := store.Open(ctx, c.Out)
	if err != nil {
		return err
	}
	b, err := st.Get(ctx, transforms.ResultsFile)
	if err != nil {
		return fmt.Errorf("reading %s after the run: %w", st.URI(transforms.ResultsFile), err)
	}
	var res results.Results
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("%s: %w", st.URI(transforms.ResultsFile), err)
	}
	fmt.Fprintf(w, "\nTable 1 (%s preset, %s):\n", res.Preset, took.Round(time.Second))
	writeTable1(w, figures.Table1(res))
	writeComparison(w, res)
	fmt.Fprintf(w, "\nreport: %s\n", st.URI(transforms.ReportHTML))
	return nil
}

// writeComparison writes, after Table 1, where the study's numbers and the
// paper's disagree beyond the spread of its seeds (figures.PaperComparison),
// or nothing when there is nothing to compare.
func writeComparison(w io.Writer, res results.Results) {
	head, lines := figures.PaperComparison(res)
	if head == "" {
		return
	}
	fmt.Fprintf(w, "\nAgainst the paper: %s\n", head)
	for _, l := range lines {
		fmt.Fprintf(w, "  - %s\n", l)
	}
}

// writeTable1 writes the rows of the rules that ran as a text table:
// accuracies in percent (mean ± 95% half-width with several seeds), the
// best epoch (its range over seeds with several).
func writeTable1(w io.Writer, rows []figures.Table1Row) {
	pct := func(m, half float64, seeds int) string {
		if math.IsNaN(m) {
			return "—"
		}
		if seeds > 1 {
			return fmt.Sprintf("%.2f ± %.2f", 100*m, 100*half)
		}
		return fmt.Sprintf("%.2f", 100*m)
	}
	type line struct{ rule, val, test, epoch string }
	lines := []line{{"rule", "best val %", "test %", "best epoch"}}
	for _, r := range rows {
		if r.Seeds == 0 {
			continue
		}
		epoch := strconv.Itoa(slices.Min(r.BestEpochs))
		if hi := slices.Max(r.BestEpochs); hi != slices.Min(r.BestEpochs) {
			epoch += "–" + strconv.Itoa(hi)
		}
		rule := r.Rule
		if r.Diverged > 0 {
			rule += fmt.Sprintf(" (%d of %d diverged)", r.Diverged, r.Seeds)
		}
		lines = append(lines, line{rule, pct(r.BestVal, r.BestValHalf, r.Seeds), pct(r.Test, r.TestHalf, r.Seeds), epoch})
	}
	var wr, wv, wt int
	for _, l := range lines {
		wr = max(wr, len([]rune(l.rule)))
		wv = max(wv, len([]rune(l.val)))
		wt = max(wt, len([]rune(l.test)))
	}
	pad := func(s string, n int) string { return s + strings.Repeat(" ", n-len([]rune(s))) }
	lpad := func(s string, n int) string { return strings.Repeat(" ", n-len([]rune(s))) + s }
	for i, l := range lines {
		fmt.Fprintf(w, "  %s  %s  %s  %s\n", pad(l.rule, wr), lpad(l.val, wv), lpad(l.test, wt), l.epoch)
		if i == 0 {
			fmt.Fprintf(w, "  %s\n", strings.Repeat("-", wr+wv+wt+6+len("best epoch")))
		}
	}
}
