//go:build !purego

package gemm

import "golang.org/x/sys/cpu"

// kernAVX512 is the 12×32 AVX-512F micro-kernel in gemm_amd64.s.
//
//go:noescape
func kernAVX512(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, add int, alpha float32, np, astep, cstep int)

// kernAVX512N16 is the 12×16 AVX-512F kernel for a last column panel of at
// most 16 columns.
//
//go:noescape
func kernAVX512N16(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, add int, alpha float32, np, astep, cstep int)

// kernAVX512M4 is the 4×32 AVX-512F kernel for a last row panel of at most
// 4 rows.
//
//go:noescape
func kernAVX512M4(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, add int, alpha float32, np, astep, cstep int)

// kernAVX2 is the 6×16 AVX2+FMA micro-kernel in gemm_amd64.s.
//
//go:noescape
func kernAVX2(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, add int, alpha float32, np, astep, cstep int)

// cpuVendor returns the vendor registers of CPUID leaf 0.
//
//go:noescape
func cpuVendor() (ebx, ecx, edx uint32)

// vendor is Vendor's answer: the 12-byte vendor string is EBX, EDX, ECX.
var vendor = func() string {
	b, c, d := cpuVendor()
	var s [12]byte
	for i, r := range [3]uint32{b, d, c} {
		s[4*i], s[4*i+1], s[4*i+2], s[4*i+3] = byte(r), byte(r>>8), byte(r>>16), byte(r>>24)
	}
	switch string(s[:]) {
	case "AuthenticAMD":
		return "AMD"
	case "GenuineIntel":
		return "Intel"
	}
	return ""
}()

// mxcsr returns the MXCSR register, for tests that check a kernel
// restores it.
//
//go:noescape
func mxcsr() uint32

// peakFMA512 runs iters×24 independent 16-lane FMAs; see BenchmarkPeakFMA.
//
//go:noescape
func peakFMA512(iters int)

// peakFMA256 runs iters×12 independent 8-lane FMAs; see BenchmarkPeakFMA.
//
//go:noescape
func peakFMA256(iters int)

var (
	avx512Kernel = &kernel{name: "avx512", mr: 12, nr: 32, fn: kernAVX512,
		half:  &kernel{name: "avx512/16", mr: 12, nr: 16, fn: kernAVX512N16},
		short: &kernel{name: "avx512/m4", mr: 4, nr: 32, fn: kernAVX512M4}}
	avx2Kernel = &kernel{name: "avx2", mr: 6, nr: 16, fn: kernAVX2}
)

// hasAVX512 and hasAVX2 report what this CPU (and OS, through XSAVE state)
// supports; the kernels need nothing beyond AVX-512F, and AVX2 with FMA.
var (
	hasAVX512 = cpu.X86.HasAVX512F
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
)

// kernelsAvailable lists the kernels this CPU can run, best first.
func kernelsAvailable() []*kernel {
	var ks []*kernel
	if hasAVX512 {
		ks = append(ks, avx512Kernel)
	}
	if hasAVX2 {
		ks = append(ks, avx2Kernel)
	}
	return append(ks, genericKernel)
}
