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
// and an interrupted run resumes from its last completed epoch.
package main

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"os"
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

var (
	out    = flag.String("out", "./out", "where outputs go: a local folder, gs://bucket/prefix or mem://name")
	preset = flag.String("preset", "paper", "paper (grid search, 50 epochs), quick (chosen hyper-parameters, 10 epochs) or smoke (synthetic data, seconds)")
	seeds  = flag.Int("seeds", 0, "number of seeds per rule, 0, 1, …, N-1 (0 keeps the preset's: 1)")
	rules  = flag.String("rules", "", "comma-separated learning rules (empty keeps all): "+strings.Join(nn.RuleNames(), ","))
	epochs = flag.Int("epochs", 0, "epochs of each final run (0 keeps the preset's)")
	data   = flag.String("data", "./data/cifar-10-batches-bin", "folder (or gs:// prefix) holding the CIFAR-10 binary files; a missing local folder is downloaded")
)

// config turns the flags into a validated configuration.
func config() (transforms.Config, error) {
	c, err := transforms.PresetConfig(*preset, *out, *data)
	if err != nil {
		return c, fmt.Errorf("--preset: %w", err)
	}
	if *seeds < 0 {
		return c, fmt.Errorf("--seeds=%d: give a positive number of seeds (or 0 for the preset's)", *seeds)
	}
	if *seeds > 0 {
		c.Seeds = nil
		for i := 0; i < *seeds; i++ {
			c.Seeds = append(c.Seeds, i)
		}
	}
	if *rules != "" {
		c.Rules = nil
		for _, r := range strings.Split(*rules, ",") {
			c.Rules = append(c.Rules, strings.TrimSpace(r))
		}
	}
	if *epochs < 0 {
		return c, fmt.Errorf("--epochs=%d: give a positive number of epochs (or 0 for the preset's)", *epochs)
	}
	if *epochs > 0 {
		c.Epochs = *epochs
	}
	return c, c.Validate()
}

func main() {
	flag.Parse()
	beam.Init()
	ctx := context.Background()
	c, err := config()
	if err != nil {
		fmt.Fprintln(os.Stderr, "reproduce:", err)
		os.Exit(2)
	}
	if !c.Synthetic && !strings.Contains(c.Data, "://") && beamRunner() != "vet" {
		if err := cifar.EnsureData(ctx, http.DefaultClient, cifar.ArchiveURL, c.Data); err != nil {
			fmt.Fprintln(os.Stderr, "reproduce: --data:", err)
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

// beamRunner returns the --runner flag's value.
func beamRunner() string {
	if f := flag.Lookup("runner"); f != nil {
		return f.Value.String()
	}
	return ""
}
