// Package gemm is fabeam's float32 matrix multiply.
//
// # What it computes
//
// All matrices are row-major. Sgemm computes
//
//	C = alpha * op(A) * op(B) + beta * C
//
// where op(X) is X or X^T, op(A) is m×k, op(B) is k×n and C is m×n, with
// leading dimensions (row strides) lda, ldb, ldc. As in BLAS, beta == 0
// overwrites C without reading it (NaN in C does not survive), and
// alpha == 0 or k == 0 only scales C. The engine's three products of a
// layer are all plain calls: forward X·W^T (NT), input gradient dOut·W (NN),
// weight gradient dOut^T·X (TN); TT works too.
//
// # Design (Goto & van de Geijn 2008; BLIS, Van Zee & van de Geijn 2015)
//
// Three layers, as in every fast BLAS.
//
// Micro-kernel. It keeps an mr×nr block of C in vector registers and, for
// p = 0..kc-1, loads one row of a packed B panel (nr floats), broadcasts the
// mr values of column p of A, and does mr×nr/lanes FMAs. At the end it adds
// alpha times the block to C (or stores it without reading C, on the first
// K block when beta == 0). Kernels (gemm_amd64.s, kernel.go):
//
//	avx512      12×32  24 zmm accumulators, 2 zmm of B, 4 broadcast registers
//	avx512/16   12×16  its half, for a last column panel of at most 16
//	avx512/m4    4×32  its short form, for a last row panel of at most 4
//	avx2         6×16  12 ymm accumulators, 2 ymm of B, 2 broadcast registers
//	generic      4×4   portable Go, 16 scalar accumulators
//
// The 12×32 shape feeds the two 512-bit FMA ports of a Zen 4/5 or recent
// Intel core: 24 independent accumulators cover FMA latency × ports (4 × 2)
// three times over, and each step needs 14 loads for 24 FMAs. nr = 32
// divides the network's widths (64, 192, 384, 576, 1600, 6400); mr = 12
// divides 4608, 384 and 192 and wastes 3% at 128. The 12×16 half turns
// conv1's weight gradient (n = 75 = 2·32 + 11) from 78% to 94% useful
// work; per lane it does exactly the same operations as the full kernel.
// The 4×32 short form does the same for rows: the transposed conv1 weight
// gradient engine/nn computes (m = 75 = 6·12 + 3) ran its last three rows
// through the 12-row kernel with nine rows of zeros; with it that product
// runs 6–11% faster on Zen 4 (bench/raw/2026-12-04-amd-zen4-avx512-go-short-kernel-ab.txt).
//
// Packing. op(B) is copied, kcBlock×ncBlock at a time, into panels of nr
// columns (row p of a panel is nr contiguous floats, zero-padded past n),
// so the kernel streams B with unit stride whether B was transposed or not.
// An untransposed B is copied row by row, each stored row read once left to
// right, so the reads from memory stream. Exception: when B is not
// transposed and ldb is a multiple of 16 (rows keep 64-byte alignment),
// full panels are read straight from B (the kernel takes B's row stride),
// which saves the copy, unless B is both larger than cacheFloats and has
// rows more than directStride (512) floats apart. Such a B (conv2's
// 4,608×1,600 im2col matrix in its weight gradient, which meets only 64
// rows of A; fa_random's 2,304×6,400 feedback matrix) would reach the
// kernel from memory as 128-byte pieces 6–25 KiB apart, which no prefetcher
// follows: packed row by row, those products run 15–18% faster (on an
// Intel Xeon with AVX-512, bench/raw/2026-12-03-intel-avx512-go-packb-ab.txt).
// A is NOT packed: the kernel reads A(i,p) at a + i*rsa + p*csa (rsa, csa =
// 4·lda, 4 for A, or 4, 4·lda for A^T), which costs nothing for the skinny
// products here (conv1's A is 51,200×75 and would cost about as much to
// pack as to multiply against 64 columns). Only the last, partial row block
// of A (m not a multiple of mr) is copied into a zero-padded panel; a
// partial block of C is computed in a padded scratch tile by the same
// kernel and copied back.
//
// Implicit operands. SgemmSourceA and SgemmSourceB take op(A) or op(B) as
// a Source, a matrix that fills any block of itself on request (engine/nn's
// im2col matrices, which are never materialised). A Source A is filled
// one row block at a time (at most 96 rows × 256 of K) into the job's
// buffer, zero-padded to whole row panels, and the kernel reads it there
// with the block's strides; a Source B is filled straight into the packed
// panels. The kernel, the K blocks and every sum are those of Sgemm on the
// materialised matrix, so the bits are too (tested for every kernel,
// transpose and edge). The job grid counts a Source as large whatever its
// size, since every job that reads it fills it again.
//
// Fused epilogues. SgemmFused and SgemmSourceAFused take an Epilogue, to
// which each job hands its rows of C as soon as they are final: in the
// last K block and the last B block, after each row block (at most 96
// rows), cut down to whole groups of Epilogue.Group rows. engine/nn pools
// a convolution's output this way, two output rows at a time, and scatters
// conv2's input gradient (col2im) a sample at a time, while the rows are
// still in the core's cache. Nothing about the product changes but its job
// grid, which a fused product cuts along M only (splitRows), into jobs
// that start at multiples of both mr and the group; so the bits are
// Sgemm's, and the Epilogue, which may rewrite the rows, is never
// overwritten by the product (both tested with rows recorded and
// negated at the hand-over, over several K and B blocks and jobs).
//
// Loops (per job, see Threading): for each K block pc (kcBlock = 256), for
// each B block jc (ncBlock = 512 columns, packed once), for each row block
// ic (mcBlock = 96 rows), for each B panel jr, for each row panel ir: one
// kernel call. A B panel (256×32 floats = 32 KiB) stays in L1 while the row
// panels of A stream past it; a packed B block (512 KiB) stays in L2. The
// sizes were measured, not derived: kcBlock 256, 512, 1024 and 2048 came
// within noise of each other on the network's shapes (measured on this box), and
// 256 is the textbook choice. beta == 0 is folded into the first K block
// (the kernel stores instead of adding), which matters for conv1, whose C
// (51,200×64) would otherwise be cleared, re-read and re-written.
//
// # Threading
//
// One package-level pool of GOMAXPROCS worker goroutines, started on first
// use, serves every call in the process. A call cuts C into a grid of
// rectangles (threads to 4·threads of them, every cut at a multiple of mr
// or nr), hands up to threads-1 "helper" tokens to the pool
// without blocking, and takes jobs itself until none are left. A helper
// that arrives after the jobs are gone just leaves. So when several
// trainings multiply at once (prism runs bundles concurrently) the pool
// never adds more than GOMAXPROCS busy goroutines, and a busy pool only
// means the caller works alone. Products under 1 MFLOP (2mnk < 2^20) run
// on the caller's goroutine. SetThreads caps the goroutines per call.
//
// The grid follows memory traffic (decision of 2026-11-29). Each
// job streams all of K for its rows of A and its columns of B, and packs
// its columns of B when B needs packing, so a jm×jn grid reads A jn times
// and B jm times. split charges each extra read of an operand larger than
// 1 MB (cacheFloats), of a Source (filled again) and of a B that is
// packed rather than read in place (packed again: the linear layers'
// forward X·Wᵀ, cut 4×2 at two threads before this was counted, packed
// each half of W four times; cut 1×6 now, 1.3× faster, Zen 4), and takes
// the grid with the most jobs within 10% of
// one read of both operands of the cheapest; then the most even jobs.
// SgemmSerial runs a product as one job on the caller, for callers that
// parallelise over several small products themselves. The
// first version cut M first, always: at two threads the weight gradients
// (m = 64) became six jobs that each streamed the whole im2col matrix
// (29 MB for conv2) and, for conv1 (ldb = 75), each re-packed all of it,
// which made a two-thread training step cost ~40% more CPU than a
// one-thread one. Now those are cut along N only and every element of B is
// read, and packed, once per call. (Packing B once into a buffer shared by
// all jobs was the alternative; for these shapes it would write and re-read
// a 15–29 MB copy, where cutting N avoids the redundant reads outright.)
//
// Steady-state calls allocate nothing: call records and packing buffers
// (kcBlock·ncBlock + kcBlock·12 + 12·32 floats ≈ 0.5 MiB per worker, and
// 0.1 MiB more once it has filled a Source operand's blocks) are
// recycled through small channels (not sync.Pool, which misses whenever
// a helper returns an object on another P than the caller took it from).
//
// # Determinism
//
// Every element of C is computed by one kernel lane as
//
//	acc = 0; for p in K block, in order: acc = fma(A(i,p), B(p,j), acc)
//	C = alpha*acc (+ C)         once per K block, K blocks in order
//
// (with FTZ and DAZ in the assembly kernels, see Subnormal numbers), and
// nothing in that sequence depends on the thread count or on where the
// element's block sits: jobs only decide who computes which blocks, the
// block grid and kcBlock are constants, and edge blocks run the same kernel
// on padded copies. So results are bit-identical for any SetThreads or
// GOMAXPROCS (tested with 1, 2, 3 and 8 threads, for every kernel).
//
// Different kernels round differently: the assembly kernels use fused
// multiply-add (one rounding per step); the generic kernel rounds the
// product and the sum separately on amd64 (on arm64, ppc64 and s390x the Go
// compiler may fuse them). The kernel is chosen once, from the CPU features
// (golang.org/x/sys/cpu: AVX-512F; else AVX2 and FMA; else generic), so a
// given machine and binary always produce the same bits. The build tag
// purego, or any GOARCH but amd64, selects the generic kernel.
//
// # Subnormal numbers
//
// The assembly kernels run with the MXCSR flags flush-to-zero and
// denormals-are-zero set: a subnormal operand (|x| < 2^-126) is read as
// zero, and a result that would be subnormal is stored as zero. x86 cores
// compute on subnormals through microcode assists that are tens of times
// slower, and training makes them common: weights whose gradient has died
// decay toward zero under Adam's weight decay, and a dead unit's dot
// products then underflow at every step (a trained state's forward pass
// took six times as long before this). PyTorch users get the same
// behaviour from torch.set_flush_denormal(True).
//
// This deviates from IEEE gradual underflow, and so from PyTorch's default
// arithmetic, only where a value below 2^-126 (about 1.2e-38) appears: each
// flushed operand or result changes by less than 2^-126 in absolute terms,
// which is below the rounding error (2^-24 relative) of every element whose
// magnitude exceeds 2^-102. No accuracy, loss or metric the study reports
// can see it. The mode is deterministic, so bit-identity over thread counts
// is kept. Each kernel call saves MXCSR, sets both flags and restores it
// before returning (Go code assumes the default); one call covers every full
// row panel of a block, because writing MXCSR costs tens of cycles on some
// cores. The generic Go kernel keeps IEEE gradual underflow: it is the
// oracle, and it runs only where the assembly cannot, on cores (arm64 among
// them) that mostly handle subnormals at full speed.
//
// # Accuracy
//
// Each element is a float32 dot product of length k, so its error is
// bounded by about k·2^-24 · Σ|a·b| (the tests check exactly this against a
// float64 oracle).
//
// # Speed on each CPU
//
// Kernel follows the instruction set, but which of two ways of computing
// the same bits is faster can depend on the core itself: engine/nn's
// conv2 weight gradient as colᵀ·δ (a transposed A, read column by column)
// is 1.5× faster than δᵀ·col on AMD Zen 5 (1.2× on Zen 4) and slower on
// an Intel Xeon, all with the AVX-512 kernel. Vendor names the maker (CPUID) for such
// choices; they never change a result, only its speed.
//
// # Testing hooks
//
// SetKernel forces a kernel ("avx512", "avx2", "generic") for tests and
// benchmarks; Kernels lists those the CPU can run; Kernel names the one in
// use. BenchmarkGemm/<shape> (and BenchmarkGemmAVX2, BenchmarkGemmGeneric,
// BenchmarkGonum for gonum's pure-Go Sgemm) report GFLOP/s on the
// network's products at batch 128; BenchmarkPeakFMA measures one core's
// FMA peak. Results: bench/GEMM.md.
package gemm
