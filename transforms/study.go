package transforms

import (
	"github.com/apache/beam/sdks/v2/go/pkg/beam"
)

// Study builds the whole study into s, every stage in order:
//
//	Preprocess  -> PCollection<string>         the dataset key
//	GridSearch  -> PCollection<RunResult>      rule × grid point
//	SelectBest  -> PCollection<Choice>         best point per rule
//	Train       -> PCollection<RunResult>      rule × seed
//	Extract     -> PCollection<ExtractResult>  features of each final model
//	Compare     -> PCollection<CompareResult>  CKA against bp, per seed
//	Saliency    -> PCollection<SaliencyRecord> channel importance per model
//	Report      -> results.json, runs/, figures/, report.*, manifest.json
//
// Without the grid (c.Grid off), Chosen replaces GridSearch and SelectBest;
// without extraction (c.Extract off), Extract and Compare do not run. c must
// be valid (Config.Validate); Study panics otherwise, as building a
// pipeline from an invalid configuration is a programmer error.
func Study(s beam.Scope, c Config) {
	if err := c.Validate(); err != nil {
		panic("transforms: Study: " + err.Error())
	}
	var in ReportInputs
	dataset := Preprocess(s, c)
	var choices beam.PCollection
	if c.Grid {
		in.Grid = GridSearch(s, c, dataset)
		choices = SelectBest(s, c, in.Grid)
	} else {
		choices = Chosen(s, c, dataset)
	}
	in.Runs = Train(s, c, choices)
	if c.Extract {
		in.Extracts = Extract(s, c, in.Runs)
		in.Comparisons = Compare(s, c, in.Extracts)
	}
	in.Saliency = Saliency(s, c, in.Runs)
	Report(s, c, in)
}
