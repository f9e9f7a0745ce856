// Package rng derives independent, reproducible random streams from a run
// seed and a purpose string.
//
// fabeam never uses a global random number generator. Every consumer of
// randomness (weight initialisation, each layer's feedback matrix B0, the
// training shuffle, augmentation, CKA minibatch shuffles, ...) asks for its
// own stream with
//
//	r := rng.New(seed, "init")
//	r := rng.New(seed, "feedback/conv2")
//
// The stream is a PCG-DXSM generator (math/rand/v2) whose two 64-bit state
// words are derived from the seed and the purpose through SplitMix64 and
// FNV-1a, so streams for different purposes are unrelated and a stream does
// not depend on which other streams were created or in which order. Streams
// are pure Go and give bit-identical sequences on every platform.
//
// A Stream's state can be saved with MarshalBinary and restored with
// UnmarshalBinary, which is how training resumes mid-run with exactly the
// random sequence an uninterrupted run would have seen.
package rng
