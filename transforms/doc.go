// Package transforms holds fabeam's Apache Beam stages. It does no
// numerics of its own: every stage calls engine/ (training, features) or
// artifacts/ (storage, formats, figures), and only small records (keys and a
// few numbers) travel in PCollections; datasets, checkpoints and features
// live in the output store (artifacts/store) and are named by key.
//
// # The study
//
// Study(s, cfg) builds the whole pipeline:
//
//	Impulse -> Preprocess               PCollection<string>     dataset key
//	        -> GridSearch (fan-out)     PCollection<RunResult>  rule × grid point, GridEpochs each
//	        -> SelectBest (GBK by rule) PCollection<Choice>     best val acc per rule
//	        -> Train (fan-out)          PCollection<RunResult>  rule × seed, Epochs each
//	        -> Extract                  PCollection<ExtractResult>
//	        -> analysis stages          PCollection<Record>     (RegisterStage)
//	        -> Report (GBK on one key)  results.json, runs/, figures/, report.*, manifest.json
//
// Without the grid, Chosen replaces GridSearch and SelectBest. Every fan-out
// is followed by a Reshuffle, so prism and Dataflow run its elements in
// parallel. Configuration reaches DoFns as an exported field (Cfg Config,
// serialised as JSON), never as a side input: prism spins a core on long
// stages with side inputs. Every DoFn, function and element type is
// registered in its file's init.
//
// # Content addressing
//
// A stage's output lives under StageKey(stage, config, inputs...):
// "<stage>/" + the first 16 hex digits of the SHA-256 of the stage name, the
// canonical JSON of the part of the configuration the stage depends on, its
// input keys and FormatVersion. A training run's key hashes its
// train.Config and the dataset key; an extraction's the run key. A stage
// whose completion marker exists is skipped (counter "skipped"):
// dataset.json for Preprocess, result.json for a training run, extract.json
// for Extract. Markers are written last, after the outputs they vouch for,
// and every write is atomic (artifacts/store), so a crash never leaves a
// stage looking done. Changing a setting changes only the keys that depend
// on it. The output root is not part of any key.
//
// # Training, checkpoints and resuming
//
// A training run (grid point or final run) writes train.EncodeState to
// <key>/state.safetensors after every epoch. A restarted run finds it,
// resumes after the last completed epoch (counter "resumed"), and, since the
// engine derives every random stream from (seed, purpose, epoch), ends
// bit-identical to an uninterrupted run. At the end it writes
// model.safetensors (final runs only: grid models are never used again and
// fa_random's dense B0 makes each one 60 MB), history.json and result.json,
// then deletes the state. A run that diverges is a recorded outcome
// (RunResult.Diverged), never a pipeline failure.
//
// # Report and the analysis hooks
//
// Report gathers every Record on one key, orders them canonically (rules in
// nn.RuleNames order, grid points in grid order, seeds ascending), copies
// each final model and history to runs/<rule>/seed<k>/, runs the Analysis
// hooks (RegisterAnalysis, in name order) which add results sections and
// figures, and writes results.json, figures/*.png, report.html, report.md
// (through artifacts/figures) and manifest.json. results.json is a pure
// function of the configuration and the seeds; wall-clock measurements
// (stage timings, images/s) go only to manifest.json. The output contract is
// artifacts/README.md.
//
// The analysis stages (Compare, Saliency) plug in with two calls from their
// files' init functions: RegisterStage adds their transforms to Study (they
// receive the final runs and the extracted features and return
// PCollection<Record>), and RegisterAnalysis turns their gathered Records
// (Gathered.Other by kind) into results sections and figures.
//
// # Progress
//
// Each epoch logs rule, seed, epoch, loss, validation accuracy, images/s and
// the ETA of the run and of the pipeline (in this process); when stderr is a
// terminal a progress bar follows. Beam counters fabeam/steps, epochs,
// skipped, resumed and runs_trained show progress in tests and the Dataflow
// console.
//
// # Memory
//
// A worker holds the dataset once (LoadDataset caches it per process: 184
// MB of uint8 for CIFAR-10) plus, per concurrent training, the model, Adam
// state and the centre-cropped val/test inputs (15,000 × 1,728 float32 =
// 104 MB). Extract streams each layer in row blocks of EvalBatch images to
// its own safetensors file, so memory stays at one block even for conv1's
// 15,000 × 25,600 float32 (1.5 GB on disk).
//
// # Decisions where the spec was silent
//
//   - The grid search trains with the first configured seed.
//   - SelectBest: diverged points lose; ties go to the first point in grid
//     order; if all points of a rule diverged the first point is used and a
//     warning logged.
//   - bp and usf_sn ignore sigma; their points carry sigma 0.
//   - The CIFAR-10 dataset key names the canonical files (validated by
//     cifar.Load; the archive's MD5 pins their content) rather than hashing
//     180 MB on every run. --data may be a gs:// prefix so Dataflow workers
//     can read the files.
//   - Synthetic data (smoke): cifar.Synthetic(SyntheticTrain, seed) split
//     90/10 by cifar.SplitIndices (NumPy permutation, seed 42) and
//     cifar.Synthetic(SyntheticTest, seed+1).
//   - Extracted rows are the validation images (dataset order) followed by
//     the test images; labels and predictions are stored beside them.
package transforms
