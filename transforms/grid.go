package transforms

import (
	"context"
	"fmt"
	"sort"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/log"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
)

func init() {
	register.DoFn2x0[string, func(RunSpec)](&GridSpecsFn{})
	register.DoFn2x0[string, func(Choice)](&ChosenFn{})
	register.DoFn3x1[context.Context, RunSpec, func(RunResult), error](&GridTrainFn{})
	register.Function1x2[RunResult, string, RunResult](keyByRule)
	register.DoFn4x1[context.Context, string, func(*RunResult) bool, func(Choice), error](&SelectBestFn{})
	register.Emitter1[Choice]()
	register.Emitter2[string, RunResult]()
	register.Iter1[RunResult]()
}

// GridSearch fans out every (rule, grid point) of the configuration, trains
// each for Config.GridEpochs with the first seed, and returns their results.
// In: PCollection<string> (the dataset key); out: PCollection<RunResult>.
func GridSearch(s beam.Scope, c Config, dataset beam.PCollection) beam.PCollection {
	s = s.Scope("transforms.GridSearch")
	specs := beam.ParDo(s, &GridSpecsFn{Cfg: c}, dataset)
	specs = beam.Reshuffle(s, specs)
	return beam.ParDo(s, &GridTrainFn{Cfg: c}, specs)
}

// GridTrainFn trains one grid point exactly as TrainFn trains a final run;
// it is a type of its own so the two stages' metrics stay apart.
type GridTrainFn struct {
	Cfg Config
}

// ProcessElement trains the grid run r and emits its result.
func (f *GridTrainFn) ProcessElement(ctx context.Context, r RunSpec, emit func(RunResult)) error {
	res, err := runTraining(ctx, f.Cfg, r)
	if err != nil {
		return err
	}
	emit(res)
	return nil
}

// GridSpecsFn emits one grid run per (rule, point), rules in RuleNames
// order, points in grid order.
type GridSpecsFn struct {
	Cfg Config
}

// ProcessElement emits the grid's runs for dataset key ds.
func (f *GridSpecsFn) ProcessElement(ds string, emit func(RunSpec)) {
	for _, rule := range f.Cfg.OrderedRules() {
		for i, p := range f.Cfg.GridPoints[rule] {
			emit(RunSpec{Stage: StageGrid, DatasetKey: ds, Rule: rule, Point: p, Index: i,
				Seed: f.Cfg.Seeds[0], Epochs: f.Cfg.GridEpochs})
		}
	}
}

// Chosen returns the configured hyper-parameters (Config.Chosen) as
// Choices, for a study without a grid search.
// In: PCollection<string> (the dataset key); out: PCollection<Choice>.
func Chosen(s beam.Scope, c Config, dataset beam.PCollection) beam.PCollection {
	s = s.Scope("transforms.Chosen")
	return beam.ParDo(s, &ChosenFn{Cfg: c}, dataset)
}

// ChosenFn emits Config.Chosen for each rule.
type ChosenFn struct {
	Cfg Config
}

// ProcessElement emits one Choice per rule.
func (f *ChosenFn) ProcessElement(ds string, emit func(Choice)) {
	for _, rule := range f.Cfg.OrderedRules() {
		emit(Choice{DatasetKey: ds, Rule: rule, Point: f.Cfg.Chosen[rule]})
	}
}

// SelectBest picks, per rule, the grid point with the highest validation
// accuracy. Diverged points lose to every point that did not diverge; ties
// go to the first point in grid order. If every point of a rule diverged,
// the first point in grid order is chosen (and a warning logged).
// In: PCollection<RunResult> (grid runs); out: PCollection<Choice>.
func SelectBest(s beam.Scope, c Config, grid beam.PCollection) beam.PCollection {
	s = s.Scope("transforms.SelectBest")
	keyed := beam.ParDo(s, keyByRule, grid)
	return beam.ParDo(s, &SelectBestFn{Cfg: c}, beam.GroupByKey(s, keyed))
}

func keyByRule(r RunResult) (string, RunResult) { return r.Rule, r }

// SelectBestFn chooses one rule's best grid point.
type SelectBestFn struct {
	Cfg Config
}

// ProcessElement chooses among rule's grid results.
func (f *SelectBestFn) ProcessElement(ctx context.Context, rule string, iter func(*RunResult) bool, emit func(Choice)) error {
	var rs []RunResult
	var r RunResult
	for iter(&r) {
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return fmt.Errorf("select best: rule %s has no grid results", rule)
	}
	best, ok := BestPoint(rs)
	if !ok {
		log.Warnf(ctx, "select best: every grid point of %s diverged; using the first point %+v", rule, best.Point)
	}
	emit(Choice{DatasetKey: best.DatasetKey, Rule: rule, Point: best.Point})
	return nil
}

// BestPoint returns the grid result with the highest validation accuracy
// after its last epoch (LastValAcc; the study's authors score a point by
// one evaluation after its epoch loop, not by its best epoch); diverged
// results lose, ties go to the lowest Index. ok is false when every
// result diverged (the first in grid order is returned). It panics on an
// empty slice.
func BestPoint(rs []RunResult) (best RunResult, ok bool) {
	if len(rs) == 0 {
		panic("transforms: BestPoint of no results")
	}
	rs = append([]RunResult(nil), rs...)
	sort.Slice(rs, func(i, j int) bool { return rs[i].Index < rs[j].Index })
	best = rs[0]
	for _, r := range rs {
		if r.Diverged {
			continue
		}
		if !ok || r.LastValAcc > best.LastValAcc {
			best, ok = r, true
		}
	}
	return best, ok
}
