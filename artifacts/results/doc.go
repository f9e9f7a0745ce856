// Package results defines the JSON documents a fabeam run writes: the
// run-level results.json and each training run's history.json.
//
// These types are the output contract (see artifacts/README.md). results.json
// is a pure function of the configuration and the seeds: it never holds
// wall-clock measurements (timings and images/s go to manifest.json).
// Accuracies are fractions in [0, 1]; angles are degrees; layer keys are the
// layer names conv1, conv2, fc1, fc2, fc3.
//
// NaN cannot be written in JSON, so metrics that do not apply to a layer (the
// local angle of conv1, fa_random's conv2 sign concordance) are simply absent
// from their maps, and a series that does not apply is omitted.
package results
