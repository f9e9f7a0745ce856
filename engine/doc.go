// Package engine is the root of fabeam's numerical core: the network and
// its learning rules (nn), matrix multiply (gemm), CIFAR-10 (cifar),
// training (train), CKA (cka), comparisons (compare), saliency (saliency)
// and random streams (rng); internal/allocs counts allocations for the
// tests. Engine packages import only the standard library and each other
// — never Beam, the output schema (artifacts/), the stages (transforms/)
// or the command (pipelines/) — so a Go program can train and analyse
// models with engine/... alone. The test in this package enforces it.
// What the study specifies is in docs/paper.md.
package engine
