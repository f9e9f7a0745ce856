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
// # Timing
//
// Run measures the wall clock of each step's phases (Timing: forward pass
// and loss, backward pass, Adam update, and the metrics bookkeeping between
// backward and update), per epoch in Progress.Timing and in all in
// Outcome.Timing, for the epochs this call trained. Timing.BackwardShare is
// Backward / (Forward + Backward + Update); with StepMetrics on, Backward
// includes the metrics nn computes inside it (a second, bp, backward pass).
// Timings are measurements: they never enter the history or a checkpoint,
// so results stay a pure function of configuration and seed.
package train
