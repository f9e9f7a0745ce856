package transforms

import (
	"fmt"
	"sort"
	"sync"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Stage is an analysis stage's pipeline builder: given the final runs
// (PCollection<RunResult>) and the extracted features
// (PCollection<ExtractResult>, zero when Config.Extract is off), it adds its
// transforms and returns a PCollection<Record> for Report.
type Stage func(s beam.Scope, c Config, runs, extracts beam.PCollection) beam.PCollection

var stages struct {
	sync.Mutex
	names []string
	fns   map[string]Stage
}

// RegisterStage adds an analysis stage to Study (Compare, Saliency, …); call
// it from an init function. Stages are built in name order. It panics if
// name is taken.
func RegisterStage(name string, st Stage) {
	stages.Lock()
	defer stages.Unlock()
	if stages.fns == nil {
		stages.fns = map[string]Stage{}
	}
	if _, dup := stages.fns[name]; dup {
		panic(fmt.Sprintf("transforms: RegisterStage: %q registered twice", name))
	}
	stages.fns[name] = st
	stages.names = append(stages.names, name)
	sort.Strings(stages.names)
}

// Study builds the whole study into s:
//
//	Preprocess -> GridSearch -> SelectBest -> Train -> Extract -> analyses -> Report
//
// (GridSearch and SelectBest replaced by Chosen when c.Grid is off). c must
// be valid (Config.Validate); Study panics otherwise, as building a pipeline
// from an invalid configuration is a programmer error.
func Study(s beam.Scope, c Config) {
	if err := c.Validate(); err != nil {
		panic("transforms: Study: " + err.Error())
	}
	ds := Preprocess(s, c)
	var grid, choices beam.PCollection
	if c.Grid {
		grid = GridSearch(s, c, ds)
		choices = SelectBest(s, c, grid)
	} else {
		choices = Chosen(s, c, ds)
	}
	runs := Train(s, c, choices)
	var records []beam.PCollection
	var extracts beam.PCollection
	if c.Extract {
		extracts = Extract(s, c, runs)
		records = append(records, beam.ParDo(s, extractRecord, extracts))
	}
	stages.Lock()
	names := append([]string(nil), stages.names...)
	stages.Unlock()
	for _, n := range names {
		records = append(records, stages.fns[n](s.Scope("transforms."+n), c, runs, extracts))
	}
	Report(s, c, grid, runs, records...)
}
