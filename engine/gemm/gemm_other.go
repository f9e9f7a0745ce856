//go:build !amd64 || purego

package gemm

// kernelsAvailable lists the kernels this build can run: only the portable
// Go kernel off amd64 or under the purego build tag.
func kernelsAvailable() []*kernel { return []*kernel{genericKernel} }

// peakFMA512 and peakFMA256 are never called off amd64; BenchmarkPeakFMA skips there.
func peakFMA512(iters int) { panic("gemm: peakFMA512 needs amd64 assembly") }

func peakFMA256(iters int) { panic("gemm: peakFMA256 needs amd64 assembly") }

// hasAVX512 and hasAVX2 are false: this build has no assembly kernels.
const hasAVX512, hasAVX2 = false, false

// vendor is "": Vendor names no maker without the assembly's CPUID.
const vendor = ""
