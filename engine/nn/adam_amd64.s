//go:build !purego

#include "textflag.h"

// func adamAVX2(n int, p, grad, m, v *float32, c *adamCoef)
//
// For i < n (n a multiple of 8), eight lanes at a time:
//
//	g    = g[i] + wd*p[i]
//	m[i] = b1*m[i] + omb1*g
//	v[i] = b2*v[i] + (omb2*g)*g
//	p[i] = p[i] - step*(m[i] / (sqrt(v[i])/sqrtBC2 + eps))
//
// with no fused operations (each rounds as the Go code's does), under
// MXCSR FTZ|DAZ: subnormal inputs read as zero and subnormal results are
// stored as zero. The caller's MXCSR is restored before RET.
TEXT ·adamAVX2(SB), NOSPLIT, $8-48
	STMXCSR 0(SP)
	MOVL 0(SP), AX
	ORL $0x8040, AX // FTZ (bit 15) and DAZ (bit 6)
	MOVL AX, 4(SP)
	LDMXCSR 4(SP)
	MOVQ n+0(FP), CX
	MOVQ p+8(FP), DI
	MOVQ grad+16(FP), SI
	MOVQ m+24(FP), R8
	MOVQ v+32(FP), R9
	MOVQ c+40(FP), AX
	VBROADCASTSS 0(AX), Y8   // b1
	VBROADCASTSS 4(AX), Y9   // 1-b1
	VBROADCASTSS 8(AX), Y10  // b2
	VBROADCASTSS 12(AX), Y11 // 1-b2
	VBROADCASTSS 16(AX), Y12 // weight decay
	VBROADCASTSS 20(AX), Y13 // eps
	VBROADCASTSS 24(AX), Y14 // step size
	VBROADCASTSS 28(AX), Y15 // sqrt(1-b2^t)
	XORQ BX, BX
	SHRQ $3, CX
	JZ adamdone

adamloop:
	VMOVUPS (DI)(BX*1), Y1
	VMOVUPS (SI)(BX*1), Y0
	VMULPS Y12, Y1, Y2
	VADDPS Y2, Y0, Y0
	VMULPS (R8)(BX*1), Y8, Y3
	VMULPS Y9, Y0, Y4
	VADDPS Y4, Y3, Y3
	VMOVUPS Y3, (R8)(BX*1)
	VMULPS (R9)(BX*1), Y10, Y5
	VMULPS Y11, Y0, Y6
	VMULPS Y0, Y6, Y6
	VADDPS Y6, Y5, Y5
	VMOVUPS Y5, (R9)(BX*1)
	VSQRTPS Y5, Y5
	VDIVPS Y15, Y5, Y5
	VADDPS Y13, Y5, Y5
	VDIVPS Y5, Y3, Y3
	VMULPS Y14, Y3, Y3
	VSUBPS Y3, Y1, Y1
	VMOVUPS Y1, (DI)(BX*1)
	ADDQ $32, BX
	DECQ CX
	JNZ adamloop

adamdone:
	LDMXCSR 0(SP) // the caller's MXCSR: Go code runs with the default
	VZEROUPPER
	RET
