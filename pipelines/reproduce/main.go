// Command reproduce runs the fabeam study as an Apache Beam pipeline:
// CIFAR-10 preprocessing, the hyper-parameter grid, the final training runs
// of the learning rules, feature extraction, the analyses and the
// report, into --out (a local folder or gs://bucket/prefix).
//
//	go run ./pipelines/reproduce --runner=direct                 # the paper's protocol
//	go run ./pipelines/reproduce --runner=direct --preset=quick  # chosen hyper-parameters, 10 epochs
//	go run ./pipelines/reproduce --runner=direct --preset=smoke  # synthetic data, under a minute
//
// Flags --seeds, --rules and --epochs override the preset. The command line
// is parsed once, by ParseFlags (fuzzed by FuzzParseFlags), which also
// knows Beam's own flags (--runner=direct|prism|dataflow|vet, --project,
// --region, worker flags, …): they are checked there and handed to Beam
// before beam.Init. Nothing on the command line is ignored: a word that is
// not a flag, an unknown flag (answered with the closest known one), a flag
// the preset does not use (--data under smoke) and a --out in memory
// (mem://, gone when the command exits) are errors. An explicit --seeds=0
// or --epochs=0 is an error too (leave the flag out for the preset's
// value), and --seeds is at most 1,000.
//
// The output is quiet by default: what will run, one line per epoch and
// per analysis stage, a progress bar on a terminal, and at the end Table 1
// and the path of report.html; Beam's own messages (pipeline plans, runner
// chatter) appear with --verbose. An error is the last line printed.
//
// Every stage is content-addressed, so a re-run skips what is done and an
// interrupted run resumes from its last completed epoch; before it starts,
// the command removes the temporary files a killed run left in a local
// --out.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/dataflow"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/direct"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/vet"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/x/beamx"

	"github.com/fabeam/fabeam/engine/cifar"
	"github.com/fabeam/fabeam/engine/nn"
	"github.com/fabeam/fabeam/transforms"
)

// maxSeeds bounds --seeds: each seed is a full set of final runs, and the
// bound keeps a typo (--seeds=1000000000) from allocating gigabytes before
// anything runs.
const maxSeeds = 1000

// options are the command's own flags.
type options struct {
	out, preset, rules, data string
	seeds, epochs            int
	verbose                  bool
}

// register defines the command's flags on fs, storing into o.
func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.out, "out", "./out", "where outputs go: a local folder or gs://bucket/prefix")
	fs.StringVar(&o.preset, "preset", "paper", "paper (grid search, 50 epochs), quick (chosen hyper-parameters, 10 epochs) or smoke (synthetic data, seconds)")
	fs.IntVar(&o.seeds, "seeds", 0, "number of seeds per rule, 0, 1, …, N-1 (left out: the preset's 1)")
	fs.StringVar(&o.rules, "rules", "", "comma-separated learning rules, no spaces (left out: the preset's; paper and quick run the paper's five, smoke all): "+strings.Join(nn.RuleNames(), ","))
	fs.IntVar(&o.epochs, "epochs", 0, "epochs of each final run (left out: the preset's)")
	fs.StringVar(&o.data, "data", "./data/cifar-10-batches-bin", "folder (or gs:// prefix) holding the CIFAR-10 binary files; a missing local folder is downloaded (not with --preset=smoke, which uses synthetic data)")
	fs.BoolVar(&o.verbose, "verbose", false, "also print Beam's own messages (pipeline plans, runner chatter) and debug lines")
}

// allowMemOut lets a test give --out=mem://name; the command refuses it,
// since a memory store's contents vanish when the command exits.
var allowMemOut = false

// Command is a parsed command line: the study's configuration, the
// console's verbosity and the Beam flags to hand to Beam.
type Command struct {
	Config  transforms.Config
	Verbose bool
	// Beam lists the Beam flags the command line set, in order, with
	// their values as given (checked against the flag's type).
	Beam []BeamSetting
}

// BeamSetting is one Beam flag set on the command line.
type BeamSetting struct{ Name, Value string }

// beamFlag stands in for one of Beam's flags (registered on the global
// flag set by Beam's packages) while ParseFlags parses: it checks the value
// against the flag's type and records it, leaving Beam's flag untouched
// until Command.applyBeam, so parsing has no side effects.
type beamFlag struct {
	name   string
	isBool bool
	check  func(string) error
	set    *[]BeamSetting
	value  string
}

func (b *beamFlag) String() string {
	if b == nil {
		return ""
	}
	return b.value
}

func (b *beamFlag) Set(s string) error {
	if err := b.check(s); err != nil {
		return err
	}
	b.value = s
	*b.set = append(*b.set, BeamSetting{b.name, s})
	return nil
}

func (b *beamFlag) IsBoolFlag() bool { return b != nil && b.isBool }

// valueCheck returns a parser of the values v's type accepts: the types of
// the standard flag package by their Get value; any string for others.
func valueCheck(v flag.Value) (check func(string) error, isBool bool) {
	g, ok := v.(flag.Getter)
	if !ok {
		return func(string) error { return nil }, false
	}
	switch g.Get().(type) {
	case bool:
		return func(s string) error { _, err := strconv.ParseBool(s); return err }, true
	case int:
		return func(s string) error { _, err := strconv.ParseInt(s, 0, strconv.IntSize); return err }, false
	case int64:
		return func(s string) error { _, err := strconv.ParseInt(s, 0, 64); return err }, false
	case uint:
		return func(s string) error { _, err := strconv.ParseUint(s, 0, strconv.IntSize); return err }, false
	case uint64:
		return func(s string) error { _, err := strconv.ParseUint(s, 0, 64); return err }, false
	case float64:
		return func(s string) error { _, err := strconv.ParseFloat(s, 64); return err }, false
	case time.Duration:
		return func(s string) error { _, err := time.ParseDuration(s); return err }, false
	}
	return func(string) error { return nil }, false
}

// isBeamFlag reports whether f, on the global flag set, is one of Beam's
// (the testing package's flags, in a test binary, are not).
func isBeamFlag(f *flag.Flag) bool { return !strings.HasPrefix(f.Name, "test.") }

// newFlagSet returns the command's flag set: its own flags into o and a
// stand-in for each of Beam's, recording into beam.
func newFlagSet(o *options, beam *[]BeamSetting) *flag.FlagSet {
	fs := flag.NewFlagSet("reproduce", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.register(fs)
	flag.CommandLine.VisitAll(func(f *flag.Flag) {
		if !isBeamFlag(f) || fs.Lookup(f.Name) != nil {
			return
		}
		check, isBool := valueCheck(f.Value)
		fs.Var(&beamFlag{name: f.Name, isBool: isBool, check: check, set: beam}, f.Name, f.Usage)
	})
	return fs
}

// ParseFlags parses the whole command line args (without the program
// name): the command's flags and Beam's. It is the only parser the command
// uses. Every error names the flag (or the Config field, or the word not
// understood) and says what to do; --help gives flag.ErrHelp.
func ParseFlags(args []string) (Command, error) {
	var o options
	var cmd Command
	fs := newFlagSet(&o, &cmd.Beam)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Command{}, err
		}
		return Command{}, flagError(fs, err)
	}
	if fs.NArg() > 0 {
		return Command{}, positionalError(args, fs.Args())
	}
	set := explicitly(fs)
	c, err := o.config(set)
	if err != nil {
		return Command{}, err
	}
	if c.Synthetic && set["data"] {
		return Command{}, fmt.Errorf("--data=%s: the %s preset trains on synthetic data and reads no files; drop --data, or choose --preset=quick or --preset=paper to read CIFAR-10 from it", o.data, c.Preset)
	}
	if strings.HasPrefix(c.Out, "mem://") && !allowMemOut {
		return Command{}, fmt.Errorf("--out=%s: a memory store vanishes when the command exits, so nothing would be kept; give a local folder or gs://bucket/prefix", c.Out)
	}
	cmd.Config, cmd.Verbose = c, o.verbose
	return cmd, nil
}

// explicitly returns the names of the flags fs's command line set.
func explicitly(fs *flag.FlagSet) map[string]bool {
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	return set
}

// config turns the flags into a validated configuration. set names the
// flags given on the command line: --seeds and --epochs left out keep the
// preset's, but an explicit 0 is a mistake.
func (o *options) config(set map[string]bool) (transforms.Config, error) {
	c, err := transforms.PresetConfig(o.preset, o.out, o.data)
	if err != nil {
		return c, fmt.Errorf("--preset: %w", err)
	}
	if o.seeds < 0 || o.seeds > maxSeeds || (o.seeds == 0 && set["seeds"]) {
		return c, fmt.Errorf("--seeds=%d: give a number of seeds from 1 to %d (leave the flag out for the preset's 1)", o.seeds, maxSeeds)
	}
	if o.seeds > 0 {
		c.Seeds = nil
		for i := 0; i < o.seeds; i++ {
			c.Seeds = append(c.Seeds, i)
		}
	}
	if o.rules != "" {
		c.Rules = nil
		for _, r := range strings.Split(o.rules, ",") {
			c.Rules = append(c.Rules, strings.TrimSpace(r))
		}
	}
	if o.epochs < 0 || (o.epochs == 0 && set["epochs"]) {
		return c, fmt.Errorf("--epochs=%d: give a positive number of epochs (leave the flag out for the preset's)", o.epochs)
	}
	if o.epochs > 0 {
		c.Epochs = o.epochs
	}
	return c, c.Validate()
}

// applyBeam sets the Beam flags of the command line on the global flag set,
// where Beam reads them, and marks it parsed.
func (cmd Command) applyBeam() error {
	for _, s := range cmd.Beam {
		if err := flag.CommandLine.Set(s.Name, s.Value); err != nil {
			return fmt.Errorf("--%s=%s: %v", s.Name, s.Value, err)
		}
	}
	return flag.CommandLine.Parse(nil)
}

func main() {
	cmd, err := ParseFlags(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		usage(os.Stdout)
		return
	}
	if err != nil {
		fail(2, err)
	}
	if err := cmd.applyBeam(); err != nil {
		fail(2, err)
	}
	beam.Init() // on a worker, this runs the worker and never returns
	c := cmd.Config
	startConsole(cmd.Verbose, isTerminal(os.Stderr))
	ctx := context.Background()
	if beamRunner() != "vet" {
		if n, err := sweepTemps(c.Out); err != nil {
			fail(1, fmt.Errorf("--out: %w", err))
		} else if n > 0 {
			say("removed %d temporary files left in %s by an interrupted run", n, c.Out)
		}
		if err := ensureData(ctx, c, http.DefaultClient, cifar.ArchiveURL); err != nil {
			fail(1, err)
		}
	}
	p, s := beam.NewPipelineWithRoot()
	transforms.Study(s, c)
	say("%s", plan(c, beamRunner()))
	transforms.StartProgress(c.TotalEpochs())
	start := time.Now()
	if err := beamx.Run(ctx, p); err != nil {
		fail(1, err)
	}
	transforms.EndProgress()
	if beamRunner() == "vet" {
		say("the pipeline's registration is sound (--runner=vet runs nothing)")
		return
	}
	if err := summary(ctx, os.Stdout, c, time.Since(start)); err != nil {
		fail(1, err)
	}
}

// ensureData downloads CIFAR-10 from url into c.Data when that local folder
// lacks it (and checks the archive's MD5); synthetic data and gs:// folders
// are left alone.
func ensureData(ctx context.Context, c transforms.Config, client *http.Client, url string) error {
	if c.Synthetic || strings.Contains(c.Data, "://") {
		return nil
	}
	if err := cifar.EnsureData(ctx, client, url, c.Data); err != nil {
		return fmt.Errorf("--data: %w", err)
	}
	return nil
}

// sweepTemps removes the temporary files (".tmp-*", artifacts/store.Local's
// prefix) that a killed run left in the local output folder out, and
// returns how many it removed. They are never read (List skips them), but
// a finished study should leave none. gs:// and mem:// outputs have none:
// an object exists only once its upload completed. Two pipelines must
// therefore not write the same local folder at once.
func sweepTemps(out string) (int, error) {
	if strings.Contains(out, "://") {
		return 0, nil
	}
	n := 0
	err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil // no output folder yet
		}
		if err != nil {
			return err
		}
		if strings.HasPrefix(d.Name(), ".tmp-") && d.Type().IsRegular() {
			if err := os.Remove(p); err != nil {
				return fmt.Errorf("removing the stray temporary file %s: %w; delete it by hand", p, err)
			}
			n++
		}
		return nil
	})
	return n, err
}

// beamRunner returns the --runner flag's value.
func beamRunner() string {
	if f := flag.Lookup("runner"); f != nil {
		return f.Value.String()
	}
	return ""
}
