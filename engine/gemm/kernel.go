package gemm

import (
	"sync/atomic"
	"unsafe"
)

// kernel is one register-blocked micro-kernel and its block shape.
//
// fn computes np blocks: block q is the mr×nr block of C at c + q*cstep
// bytes, from A at a + q*astep bytes and the same B panel; for each,
//
//	C[i][j] = alpha * sum_{p<kc} A(i,p)*B(p,j) + C[i][j]   (add != 0)
//	C[i][j] = alpha * sum_{p<kc} A(i,p)*B(p,j)             (add == 0; C not read)
//
// where A(i,p) is the float32 at byte offset i*rsa + p*csa from a, B(p,j) is
// the float32 at byte offset p*csb + 4*j from b (a packed panel, csb = 4*nr,
// or B itself, csb = 4*ldb), and C row i starts
// at byte offset i*ldc from c. Every lane sums p = 0, 1, ..., kc-1 in order
// into one accumulator that starts at zero, so an element's value does not
// depend on where its block sits in C.
type kernel struct {
	name   string
	mr, nr int
	fn     func(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, add int, alpha float32, np, astep, cstep int)

	// half, if set, is a kernel with the same mr, nr/2 columns and the
	// same per-lane arithmetic, used for a last column panel that fits in
	// it (n mod nr <= nr/2), where the full kernel would mostly multiply
	// zero padding.
	half *kernel

	// short, if set, is a kernel with the same nr, fewer rows and the same
	// per-lane arithmetic, used for a last row panel that fits in it
	// (m mod mr <= short.mr), where the full kernel would mostly multiply
	// zero padding (conv1's weight gradient: 3 rows of 12).
	short *kernel
}

// forWidth returns the kernel for a column panel w columns wide.
func (k *kernel) forWidth(w int) *kernel {
	if k.half != nil && w <= k.half.nr {
		return k.half
	}
	return k
}

// forRows returns the kernel for a row panel h rows high (h <= k.mr) of
// a column panel k serves.
func (k *kernel) forRows(h int) *kernel {
	if k.short != nil && h <= k.short.mr {
		return k.short
	}
	return k
}

// genericKernel is the portable 4×4 Go micro-kernel: the fallback on CPUs
// without AVX2+FMA, off amd64, and under the purego build tag.
var genericKernel = &kernel{name: "generic", mr: 4, nr: 4, fn: kernGeneric}

// active is the kernel Sgemm uses; chosen once from the CPU features.
var active atomic.Pointer[kernel]

func init() { active.Store(kernelsAvailable()[0]) }

// Kernel returns the name of the micro-kernel Sgemm uses on this machine:
// "avx512", "avx2" or "generic".
func Kernel() string { return active.Load().name }

// Vendor returns this CPU's maker as CPUID reports it, "AMD" or "Intel",
// or "" for any other, off amd64 and under the purego build tag. Callers
// that choose between two ways of computing the same bits (engine/nn's
// weight gradients) use it where the faster way depends on the core, not
// on the instruction set (doc.go, "Speed on each CPU").
func Vendor() string { return vendor }

// Kernels returns the names of the micro-kernels this CPU can run, fastest
// first; the first is the one Sgemm chooses.
func Kernels() []string {
	var names []string
	for _, k := range kernelsAvailable() {
		names = append(names, k.name)
	}
	return names
}

// SetKernel forces the micro-kernel named name ("avx512", "avx2" or
// "generic") and returns a function that restores the previous one. It is a
// hook for tests and benchmarks; do not call it while Sgemm runs on another
// goroutine. It panics if this CPU cannot run the kernel (see Kernels).
func SetKernel(name string) (restore func()) {
	for _, k := range kernelsAvailable() {
		if k.name == name {
			prev := active.Swap(k)
			return func() { active.Store(prev) }
		}
	}
	panic("gemm: kernel " + name + " not available on this CPU (have " + joinNames(Kernels()) + ")")
}

func joinNames(ns []string) string {
	s := ""
	for i, n := range ns {
		if i > 0 {
			s += ", "
		}
		s += n
	}
	return s
}

// kernGeneric is the 4×4 portable micro-kernel (see kernel for the contract).
// Accumulation is acc += a*b, rounded after the multiply and after the add
// on amd64 (the Go compiler does not fuse there); on arm64, ppc64 and s390x
// the compiler may fuse it into an FMA, which changes the last bits but not
// the determinism on a given machine.
func kernGeneric(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, add int, alpha float32, np, astep, cstep int) {
	for q := range np {
		if q > 0 {
			a = (*float32)(unsafe.Add(unsafe.Pointer(a), astep))
			c = (*float32)(unsafe.Add(unsafe.Pointer(c), cstep))
		}
		kernGeneric1(kc, a, rsa, csa, b, csb, c, ldc, add, alpha)
	}
}

// kernGeneric1 computes one 4×4 block (see kernGeneric).
func kernGeneric1(kc int, a *float32, rsa, csa int, b *float32, csb int, c *float32, ldc int, add int, alpha float32) {
	var (
		c00, c01, c02, c03 float32
		c10, c11, c12, c13 float32
		c20, c21, c22, c23 float32
		c30, c31, c32, c33 float32
	)
	pa := unsafe.Pointer(a)
	pb := unsafe.Pointer(b)
	for p := 0; p < kc; p++ {
		bv := (*[4]float32)(pb)
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		a0 := *(*float32)(pa)
		a1 := *(*float32)(unsafe.Add(pa, rsa))
		a2 := *(*float32)(unsafe.Add(pa, 2*rsa))
		a3 := *(*float32)(unsafe.Add(pa, 3*rsa))
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
		if p+1 < kc { // never form a pointer past the operands
			pa = unsafe.Add(pa, csa)
			pb = unsafe.Add(pb, csb)
		}
	}
	pc := unsafe.Pointer(c)
	store := func(row unsafe.Pointer, x0, x1, x2, x3 float32) {
		r := (*[4]float32)(row)
		if add == 0 {
			r[0], r[1], r[2], r[3] = alpha*x0, alpha*x1, alpha*x2, alpha*x3
			return
		}
		r[0] += alpha * x0
		r[1] += alpha * x1
		r[2] += alpha * x2
		r[3] += alpha * x3
	}
	store(pc, c00, c01, c02, c03)
	store(unsafe.Add(pc, ldc), c10, c11, c12, c13)
	store(unsafe.Add(pc, 2*ldc), c20, c21, c22, c23)
	store(unsafe.Add(pc, 3*ldc), c30, c31, c32, c33)
}
