// Command reproduce runs the fabeam study as an Apache Beam pipeline:
// CIFAR-10 preprocessing, the hyper-parameter grid, the final training runs
// of the five learning rules, feature extraction, the analyses and the
// report, into --out (a local folder or gs://bucket/prefix).
//
//	go run ./pipelines/reproduce --runner=direct                 # the paper's protocol
//	go run ./pipelines/reproduce --runner=direct --preset=quick  # chosen hyper-parameters, 10 epochs
//	go run ./pipelines/reproduce --runner=direct --preset=smoke  # synthetic data, under a minute
//
// Flags --seeds, --rules and --epochs override the preset. Beam's own flags
// (--runner=direct|prism|dataflow|vet, --project, --region, …) are parsed by
// beam.Init. Every stage is content-addressed, so a re-run skips what is done
// and an interrupted run resumes from its last completed epoch; before it
// starts, the command removes the temporary files a killed run left in a
// local --out. ParseFlags is the flag parsing on its own (fuzzed by
// FuzzParseFlags); an explicit --seeds=0 or --epochs=0 is an error (leave
// the flag out for the preset's value) and --seeds is at most 1,000.
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
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
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

// options are the command's own flags (Beam's are parsed by beam.Init).
type options struct {
	out, preset, rules, data string
	seeds, epochs            int
}

// register defines the command's flags on fs, storing into o.
func (o *options) register(fs *flag.FlagSet) {
	fs.StringVar(&o.out, "out", "./out", "where outputs go: a local folder, gs://bucket/prefix or mem://name")
	fs.StringVar(&o.preset, "preset", "paper", "paper (grid search, 50 epochs), quick (chosen hyper-parameters, 10 epochs) or smoke (synthetic data, seconds)")
	fs.IntVar(&o.seeds, "seeds", 0, "number of seeds per rule, 0, 1, …, N-1 (0 keeps the preset's: 1)")
	fs.StringVar(&o.rules, "rules", "", "comma-separated learning rules (empty keeps all): "+strings.Join(nn.RuleNames(), ","))
	fs.IntVar(&o.epochs, "epochs", 0, "epochs of each final run (0 keeps the preset's)")
	fs.StringVar(&o.data, "data", "./data/cifar-10-batches-bin", "folder (or gs:// prefix) holding the CIFAR-10 binary files; a missing local folder is downloaded")
}

// cli holds the flags of the running command.
var cli options

func init() { cli.register(flag.CommandLine) }

// ParseFlags parses the command's own flags from args (without the program
// name, and without Beam's flags) and returns the validated configuration.
// Every error names the flag (or the Config field) and says what is allowed.
func ParseFlags(args []string) (transforms.Config, error) {
	var o options
	fs := flag.NewFlagSet("reproduce", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	o.register(fs)
	if err := fs.Parse(args); err != nil {
		return transforms.Config{}, fmt.Errorf("%w; run with -help for the flags", err)
	}
	if fs.NArg() > 0 {
		return transforms.Config{}, fmt.Errorf("unexpected argument %q: every setting is a flag (--out=DIR, --preset=NAME, …)", fs.Arg(0))
	}
	return o.config(explicitly(fs))
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

func main() {
	flag.Parse()
	beam.Init()
	ctx := context.Background()
	c, err := cli.config(explicitly(flag.CommandLine))
	if err != nil {
		fmt.Fprintln(os.Stderr, "reproduce:", err)
		os.Exit(2)
	}
	if beamRunner() != "vet" {
		if n, err := sweepTemps(c.Out); err != nil {
			fmt.Fprintln(os.Stderr, "reproduce: --out:", err)
			os.Exit(1)
		} else if n > 0 {
			log.Infof(ctx, "reproduce: removed %d temporary files left in %s by an interrupted run", n, c.Out)
		}
		if err := ensureData(ctx, c, http.DefaultClient, cifar.ArchiveURL); err != nil {
			fmt.Fprintln(os.Stderr, "reproduce:", err)
			os.Exit(1)
		}
	}
	p, s := beam.NewPipelineWithRoot()
	transforms.Study(s, c)
	log.Infof(ctx, "reproduce: preset %s, rules %v, seeds %v, %d epochs (%d in all), out %s",
		c.Preset, c.OrderedRules(), c.Seeds, c.Epochs, c.TotalEpochs(), c.Out)
	if err := beamx.Run(ctx, p); err != nil {
		fmt.Fprintln(os.Stderr, "reproduce:", err)
		os.Exit(1)
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
