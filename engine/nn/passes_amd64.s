//go:build !purego

#include "textflag.h"

// func im2col5Rows(dst, src *float32, ow, c, plane, wd int)
//
// Writes ow consecutive im2col rows of a 5×5 kernel: row x (c*25 floats,
// at dst + x*c*25) holds, for each channel ci and kernel row ky, the five
// floats at src + ci*plane + ky*wd + x. Each segment is one 16-byte and one
// 4-byte move (SSE, present on every amd64), so nothing is read or written
// outside the segments themselves.
TEXT ·im2col5Rows(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ ow+16(FP), R8
	MOVQ c+24(FP), R9
	MOVQ plane+32(FP), R10
	MOVQ wd+40(FP), R11
	SHLQ $2, R10
	SHLQ $2, R11

xloop:
	MOVQ SI, AX
	MOVQ R9, CX

cloop:
	MOVQ   AX, BX
	MOVUPS (BX), X0
	MOVSS  16(BX), X1
	ADDQ   R11, BX
	MOVUPS (BX), X2
	MOVSS  16(BX), X3
	ADDQ   R11, BX
	MOVUPS (BX), X4
	MOVSS  16(BX), X5
	ADDQ   R11, BX
	MOVUPS (BX), X6
	MOVSS  16(BX), X7
	ADDQ   R11, BX
	MOVUPS (BX), X8
	MOVSS  16(BX), X9
	MOVUPS X0, (DI)
	MOVSS  X1, 16(DI)
	MOVUPS X2, 20(DI)
	MOVSS  X3, 36(DI)
	MOVUPS X4, 40(DI)
	MOVSS  X5, 56(DI)
	MOVUPS X6, 60(DI)
	MOVSS  X7, 76(DI)
	MOVUPS X8, 80(DI)
	MOVSS  X9, 96(DI)
	ADDQ   $100, DI
	ADDQ   R10, AX
	DECQ   CX
	JNZ    cloop

	ADDQ $4, SI
	DECQ R8
	JNZ  xloop
	RET

DATA lanes<>+0(SB)/4, $0
DATA lanes<>+4(SB)/4, $1
DATA lanes<>+8(SB)/4, $2
DATA lanes<>+12(SB)/4, $3
DATA lanes<>+16(SB)/4, $4
DATA lanes<>+20(SB)/4, $5
DATA lanes<>+24(SB)/4, $6
DATA lanes<>+28(SB)/4, $7
GLOBL lanes<>(SB), RODATA|NOPTR, $32

// func poolWindowAVX2(pool *float32, arg *int32, r0, b *float32, oc, ow, q, base, p int) (nan int)
//
// One 2×2 window of biasReluPool for all oc channels (oc a multiple of 8),
// eight at a time: the window's four rows start at r0, r0+oc, r0+ow*oc and
// r0+(ow+1)*oc; channel o's pooled value goes to pool[o*q] and its argmax
// to arg[o*q] (= base + o*p + the offset of the first maximum in the
// window). MXCSR is left at Go's default, so the additions round as the
// portable loop's. A window holding a NaN gives nan != 0 and values the
// caller must recompute (VMAXPS does not propagate NaNs as max does).
// PUTLANE stores lane i of the pooled values P to (DI) and of the argmax A
// to (BX), then steps both to the next channel's plane. The lanes go
// straight from the registers: bouncing them through the stack (a 32-byte
// store read back as 4-byte loads) stalls on store forwarding on Intel
// cores, which made this pass slower than the portable loop there.
#define PUTLANE(i, P, A) VEXTRACTPS i, P, (DI); VPEXTRD i, A, (BX); ADDQ R12, DI; ADDQ R12, BX

TEXT ·poolWindowAVX2(SB), NOSPLIT, $0-80
	MOVQ r0+16(FP), SI
	MOVQ oc+32(FP), CX
	MOVQ CX, R8
	SHLQ $2, R8            // oc in bytes
	LEAQ (SI)(R8*1), R9    // r1
	MOVQ ow+40(FP), AX
	IMULQ R8, AX
	LEAQ (SI)(AX*1), R10   // r2
	LEAQ (R10)(R8*1), R11  // r3
	MOVQ b+24(FP), DX
	MOVQ pool+0(FP), DI
	MOVQ arg+8(FP), BX
	MOVQ q+48(FP), R12
	SHLQ $2, R12           // channel stride of pool and arg in bytes
	SHRQ $3, CX            // groups of eight channels

	MOVQ ow+40(FP), AX
	VMOVQ AX, X9
	VPBROADCASTD X9, Y9    // ow
	INCQ AX
	VMOVQ AX, X8
	VPBROADCASTD X8, Y8    // ow+1
	MOVQ $1, AX
	VMOVQ AX, X10
	VPBROADCASTD X10, Y10  // 1
	VPXOR Y11, Y11, Y11    // 0 (and +0.0)
	MOVQ p+64(FP), AX
	VMOVQ AX, X12
	VPBROADCASTD X12, Y12
	VMOVDQU lanes<>(SB), Y13
	VPMULLD Y12, Y13, Y13  // lane*p
	SHLQ $3, AX
	VMOVQ AX, X12
	VPBROADCASTD X12, Y12  // 8p: the step from one group to the next
	MOVQ base+56(FP), AX
	VMOVQ AX, X14
	VPBROADCASTD X14, Y14
	VPADDD Y14, Y13, Y13   // base + lane*p
	VPXOR Y14, Y14, Y14    // NaN lanes seen

group:
	VMOVUPS (DX), Y0
	VADDPS (SI), Y0, Y1    // a
	VADDPS (R9), Y0, Y2    // b
	VADDPS (R10), Y0, Y3   // c
	VADDPS (R11), Y0, Y4   // d
	VCMPPS $3, Y2, Y1, Y5  // unordered
	VCMPPS $3, Y4, Y3, Y6
	VORPS Y5, Y6, Y5
	VORPS Y5, Y14, Y14
	VMAXPS Y2, Y1, Y5
	VMAXPS Y4, Y3, Y6
	VMAXPS Y6, Y5, Y5      // mx
	VMOVDQU Y8, Y6         // off = ow+1
	VCMPPS $0, Y5, Y3, Y7  // c == mx
	VBLENDVPS Y7, Y9, Y6, Y6
	VCMPPS $0, Y5, Y2, Y7  // b == mx
	VBLENDVPS Y7, Y10, Y6, Y6
	VCMPPS $0, Y5, Y1, Y7  // a == mx
	VBLENDVPS Y7, Y11, Y6, Y6
	VPADDD Y13, Y6, Y6     // arg
	VMAXPS Y11, Y5, Y7     // pool = mx > 0 ? mx : +0
	PUTLANE($0, X7, X6)
	PUTLANE($1, X7, X6)
	PUTLANE($2, X7, X6)
	PUTLANE($3, X7, X6)
	VEXTRACTF128 $1, Y7, X5
	VEXTRACTI128 $1, Y6, X2
	PUTLANE($0, X5, X2)
	PUTLANE($1, X5, X2)
	PUTLANE($2, X5, X2)
	PUTLANE($3, X5, X2)

	VPADDD Y12, Y13, Y13
	ADDQ $32, SI
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $32, DX
	DECQ CX
	JNZ group

	VMOVMSKPS Y14, AX
	MOVQ AX, nan+72(FP)
	VZEROUPPER
	RET

// func signDiffsAVX2(w, b *float32, n int) int
//
// The number of i < n (n a multiple of 8) where sign(w[i]) != sign(b[i]),
// the sign of a NaN and of ±0 being 0 (as sign32): w > 0 and w < 0 are
// ordered comparisons, false for NaN. Eight lanes a step; each lane counts
// its mismatches (at most n/8, far below 2^31).
TEXT ·signDiffsAVX2(SB), NOSPLIT, $0-32
	MOVQ w+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	VXORPS Y0, Y0, Y0      // 0.0
	VPXOR Y5, Y5, Y5       // mismatches per lane
	SHRQ $3, CX
	JZ signdone

signloop:
	VMOVUPS (SI), Y1
	VMOVUPS (DI), Y2
	VCMPPS $0x1e, Y0, Y1, Y3 // w > 0 (GT_OQ)
	VCMPPS $0x11, Y0, Y1, Y4 // w < 0 (LT_OQ)
	VCMPPS $0x1e, Y0, Y2, Y6 // b > 0
	VCMPPS $0x11, Y0, Y2, Y7 // b < 0
	VXORPS Y6, Y3, Y3
	VXORPS Y7, Y4, Y4
	VORPS Y4, Y3, Y3       // all ones where the signs differ
	VPSUBD Y3, Y5, Y5      // -(-1) = +1 per mismatch
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ signloop

signdone:
	VEXTRACTI128 $1, Y5, X6
	VPADDD X6, X5, X5
	VPSHUFD $0x4e, X5, X6
	VPADDD X6, X5, X5
	VPSHUFD $0xb1, X5, X6
	VPADDD X6, X5, X5
	VMOVD X5, AX
	MOVQ AX, ret+24(FP)
	VZEROUPPER
	RET
