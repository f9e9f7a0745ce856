// Package train is fabeam's training loop as a library function: no Beam,
// usable from any Go program.
//
// Run trains Architecture 1 (engine/nn) under one learning rule with Adam on
// the paper's protocol: shuffled minibatches of 128 (352 steps per epoch of
// 45,000 images, the last batch partial), random 24×24 crop and horizontal
// flip for training, centre crop for validation and test, validation
// accuracy after every epoch, the best-validation weights kept, and the test
// accuracy of that best model reported at the end.
//
// # Randomness and resuming
//
// Every random choice comes from a stream derived from (seed, purpose)
// (engine/rng): initial weights from (seed, "init") — the same for every
// rule, so all rules start from identical forward weights — feedback
// matrices from (seed, "feedback/<layer>"), and for epoch e the batch order
// from (seed, "shuffle/e") and the crops and flips from (seed, "augment/e").
// Because an epoch's streams depend only on the seed and the epoch number,
// the random state at an epoch boundary is fully described by the number of
// completed epochs; State therefore needs no generator state, and a run
// resumed from the State after epoch e is bit-identical to an uninterrupted
// run. A rule whose operators change with the optimiser step
// (nn.StepRule) is told the 1-based global step before every backward
// pass and draws from (seed, "feedback/<layer>/step/<k>"); since the step
// count is part of State, a resumed run draws exactly the same.
//
// # Outcomes
//
// A NaN or Inf training loss ends the run as a recorded outcome: the history
// says Diverged, the 1-based global step, and the last complete epoch; the
// best model so far (if any epoch completed) is kept and tested. Run returns
// an error only for bad configuration or data, or a cancelled context.
//
// # Metrics
//
// With Config.StepMetrics the local alignment angle (conv2, fc1, fc2, fc3)
// and, for fa_random and fa_toeplitz, the sign concordance with B0 are
// recorded every step; with Config.UpdateAngleEvery = K > 0 the angle between
// the rule's weight gradient and the true gradient is recorded every K steps;
// at every epoch end the angle between each W and its feedback operator B
// and the ratio ‖B‖/‖W‖ are recorded. Epoch summaries hold the means of the
// per-step values over the epoch.
//
// # Learning signal
//
// With Config.SignalMetrics every epoch records, per layer (conv1 … fc3),
// three root mean squares that show where a rule's learning signal fades
// or grows with depth:
//
//   - ErrorRMS: the error arriving at the layer's output, ∂L/∂(pre-ReLU
//     output) as the rule delivers it (nn.Model.PreActivationGrad; the
//     loss is the batch mean, so it carries the 1/n of the batch);
//   - WeightGradRMS: the layer's weight gradient under the rule
//     (nn.Model.Grad, biases excluded, before weight decay);
//   - UpdateRMS: Adam's update of the layer's weights divided by the
//     learning rate, m̂/(√v̂ + ε), from Adam's moments after the step
//     (nn.Adam.UpdateSumSq) — the update the step meant, even where it is
//     too small to change a float32 weight.
//
// Each is sqrt(Σ x² / N) over every element of every optimiser step of the
// epoch (N counts the elements, so the partial last batch weighs by its
// images), with the squares summed in float64 — not a mean of per-step
// RMS. A weight-gradient RMS below Adam's ε = 1e-8 marks a layer where
// √v̂ is dominated by ε and the update stops tracking the gradient's
// scale. Summing the squares costs one pass over the errors and
// gradients and one square root and division per weight per step.
//
// # Timing
//
// Run measures the wall clock of each step's phases (Timing: forward pass
// and loss, backward pass, Adam update, and the metrics bookkeeping between
// backward and update), per epoch in Progress.Timing and in all in
// Outcome.Timing, for the epochs this call trained. Timing.BackwardShare is
// Backward / (Forward + Backward + Update); Metrics also holds the
// SignalMetrics sums taken after the update. With StepMetrics on, Backward
// includes the metrics nn computes inside it (a second, bp, backward pass).
// Timings are measurements: they never enter the history or a checkpoint,
// so results stay a pure function of configuration and seed.
//
// BenchmarkTrainStepCheckpoint times nn's training step from the final
// models of a finished study (FABEAM_TRAINED_STUDY, its --out folder), the
// state a long run really reaches; results in bench/RESULTS.md.
// BenchmarkRunEpoch times a whole epoch of Run as the study's final runs
// train (the step metrics, update angles, learning signal and validation
// included) on synthetic data, and splits it into Timing's phases and the
// rest: what a run does besides the step, which nn's benchmarks never
// run. Profiled (-cpuprofile), it found the learning signal's sums and
// Adam's step running on one thread and the validation pass laying out
// features it never read.
package train
