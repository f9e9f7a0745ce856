// Package transforms holds fabeam's Apache Beam stages. It does no
// numerics of its own: every stage calls engine/ (training, the forward
// pass over a dataset, CKA, saliency) or artifacts/ (storage, formats,
// figures), and only small records (keys and a few numbers) travel in
// PCollections; datasets, checkpoints and features live in the output store
// (artifacts/store) and are named by key. What the study specifies — data
// split, architecture, rules, protocol, estimator — is in docs/paper.md.
//
// # The study
//
// Study(s, cfg) is the whole pipeline, one stage after another, each an
// exported composite whose doc comment gives its input and output:
//
//	Preprocess  Impulse                     -> PCollection<string>          dataset key
//	GridSearch  PCollection<string>         -> PCollection<RunResult>       rule × grid point, GridEpochs each
//	SelectBest  PCollection<RunResult>      -> PCollection<Choice>          best val acc per rule (GBK by rule)
//	Train       PCollection<Choice>         -> PCollection<RunResult>       rule × seed, Epochs each
//	Extract     PCollection<RunResult>      -> PCollection<ExtractResult>   features of each final model
//	Compare     PCollection<ExtractResult>  -> PCollection<CompareResult>   CKA against bp, per seed
//	Saliency    PCollection<RunResult>      -> PCollection<SaliencyRecord>  channel importance per model
//	Report      ReportInputs (CoGroupByKey) -> results.json, runs/, figures/, report.*, manifest.json
//
// Without the grid, Chosen replaces GridSearch and SelectBest; without
// extraction, Extract and Compare do not run. Every fan-out is followed by
// a Reshuffle, so prism and Dataflow run its elements in parallel.
// Configuration reaches DoFns as an exported field (Cfg Config, serialised
// as JSON), never as a side input: prism spins a core on long stages with
// side inputs. DoFns, emitters and iterators are registered with
// register.* in their file's init; element types with beam.RegisterType.
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
// # Artifacts that prove themselves
//
// A stage's completion record also holds the Digest (size, SHA-256,
// CRC-32C) of every file the stage wrote, taken as it was written, the
// Digest of every upstream record it used, and a seal (the SHA-256 of the
// record's canonical JSON) that finds a hand-edited number (Integrity).
// Before a stage is skipped its record is checked (loadDone): the seal,
// each artifact against its digest (models and histories byte for byte;
// large features and the dataset by size and header on a local folder, by
// the CRC-32C Cloud Storage keeps on gs://), and each input. A missing,
// truncated or altered file, or an input redone since, gives one warning
// line naming what was found and what is redone (counter "damaged"); the
// stage runs again, its rewritten record changes the inputs of the stages
// that used it, and they run again in turn. Report publishes only bytes
// checked against their digests. A record written before digests existed
// is accepted after a check of its files' structure (safetensors header
// against size and shapes, the history agreeing with the run's record,
// the model decoding) and rewritten with their digests (counter
// "upgraded"), without redoing the stage.
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
// (RunResult.Diverged), never a pipeline failure. Final runs also record
// the learning signal per epoch and layer (train.Config.SignalMetrics:
// RMS of the error, the weight gradient and Adam's update / lr); grid runs
// record what the selection and the report need and leave it off, so
// their configuration and stage keys are those of earlier versions.
//
// # Report
//
// Report receives every stage's typed results through one CoGroupByKey on
// a fixed key (ReportInputs), orders them canonically (rules in
// nn.RuleNames order, grid points in grid order, seeds ascending), copies
// each final model and history to runs/<rule>/seed<k>/, adds the analysis
// sections in a fixed order (the alignment summary, then Compare's CKA and
// per-class accuracy, then Saliency's results and exemplars, then
// KnowledgeSummary: rules in nn.ByKnowledge order against test accuracy and
// diagonal CKA, over seeds), and writes
// results.json, figures/*.png, report.html, report.md (through
// artifacts/figures) and manifest.json. results.json is a pure function of
// the configuration and the seeds; wall-clock measurements (stage timings,
// images/s) go only to manifest.json. The output contract is
// artifacts/README.md.
//
// # The analysis stages
//
// Compare (compare.go), per seed: the extractions are grouped into one
// CompareTask per seed that has a bp model (Reshuffled, so seeds run side
// by side); each rule's model (rows) is compared with that seed's bp model
// (columns) and, with two or more seeds, bp with bp of the next seed
// (compare.CeilingPairs: the noise ceiling). A comparison is
// content-addressed: CompareKey hashes the minibatch CKA options, the
// estimator and the subsets with both extraction keys; its compare.json
// marks it done. compare.CKAMatrices gives a 5×5 matrix per subset (all,
// both_correct, bp_only) with its size, or TooSmall when the subset holds
// fewer images than one CKA minibatch. The shuffle seed is Config.CKA.Seed +
// the row model's seed. Features are read per layer from the extraction's
// safetensors through a section reader straight into float32 storage, the
// bp model once per task: a task holds two models' features, n × 28,890 ×
// 4 B each (1.7 GB for 15,000 images; 3.5 GB in all at the paper's size).
// Report puts the entries into results.cka (seeds ascending,
// rules in RuleNames order, the ceiling last) and per-class test accuracy
// (compare.PerClass on the extractions' test-row predictions, mean over
// seeds, deficit against bp, worst class) into results.per_class.
//
// Saliency (saliency.go), per final model: its weights in a bp network,
// saliency.Analyze on the centre-cropped test set with the paper's settings
// (dog = class 5; top 3 channels of conv2, then conv1; 9 exemplars each),
// keyed by SaliencyKey (options without the batch size, run and dataset
// keys) and marked done by saliency.json. Report fills
// results.saliency and the exemplar grid: rows the rules, columns the top
// conv2 channels of each rule's lowest seed, cells its 9 exemplar test
// images read from the dataset artifact.
//
// analysis.go: the alignment summary (AlignmentSummaries: per rule and
// layer, the mean over seeds of the first and the last epoch's mean local
// angle and sign concordance, and of the update-angle samples taken in the
// last epoch), the efficiency table (FeedbackParams; images/s and the
// backward share of step time measured by engine/train and kept in
// manifest.json) and the analysis' differences from the paper.
//
// NaN never reaches results.json: a diverged model is left out of CKA,
// saliency and the alignment summary, a CKA matrix with an undefined cell
// (a layer without variance on a subset) is dropped whole, and a saliency
// result with a non-finite number is dropped; each omission is a line of
// the report's "differences from the paper". Per-class accuracy keeps
// diverged runs, as Table 1 does (their best checkpoint predates the
// divergence).
//
// # Progress
//
// Each epoch logs rule, seed, epoch, loss, validation accuracy, images/s and
// the ETA of the run and of the pipeline (in this process); on a terminal
// the command keeps a live progress bar below the lines (SetConsole). Beam counters fabeam/steps, epochs,
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
//   - The efficiency table's extra memory counts float32 bytes of the
//     stored feedback tensors plus, for usf_init and usf_sn, the operator
//     derived from W at every step (one value per weight of conv2..fc3);
//     usf_sn stores no parameters. The backward share is
//     Backward / (Forward+Loss + Backward + Adam) wall clock; with step
//     metrics on, Backward includes the alignment metrics nn computes
//     inside it (a second, bp, backward pass), so it reads high.
package transforms
