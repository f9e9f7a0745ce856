//go:build !purego

#include "textflag.h"

// func im2col5Block(dst, src *float32, nrows, ld, nseg, ky, plane, wd int)
//
// Fills nrows rows of an im2col block for a 5×5 kernel: row t (at dst +
// 4*t*ld) receives nseg five-float segments, segment u from src + 4*t
// advanced u kernel rows from kernel row ky: one image row (wd floats) per
// segment, and from kernel row 4 of a channel to row 0 of the next (plane
// - 4*wd floats). One 16-byte and one 4-byte move a segment, so nothing
// is read or written outside the segments (SSE, present on every amd64);
// from a channel's kernel row 0 on, whole channels are copied five
// segments at a time, which halves the loop's instructions. nrows and
// nseg must be at least 1; the caller checks the bounds.
TEXT ·im2col5Block(SB), NOSPLIT, $0-64
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nrows+16(FP), R8
	MOVQ ld+24(FP), R9
	MOVQ plane+48(FP), R10
	MOVQ wd+56(FP), R11
	SHLQ $2, R9
	SHLQ $2, R10
	SHLQ $2, R11
	MOVQ R11, R12
	IMULQ $4, R12
	MOVQ R10, R13
	SUBQ R12, R13 // R13: bytes from kernel row 4 of a channel to row 0 of the next
	MOVQ R11, R12
	IMULQ $3, R12 // R12: three image rows, bytes

rowloop:
	MOVQ SI, BX
	MOVQ DI, AX
	MOVQ nseg+32(FP), CX
	MOVQ ky+40(FP), DX
	TESTQ DX, DX
	JZ    chancheck

segloop:
	// One segment, then on to the next kernel row.
	MOVUPS (BX), X0
	MOVSS  16(BX), X1
	MOVUPS X0, (AX)
	MOVSS  X1, 16(AX)
	ADDQ   $20, AX
	DECQ   CX
	JZ     rowdone
	INCQ   DX
	CMPQ   DX, $5
	JEQ    nextchan
	ADDQ   R11, BX
	JMP    segloop

nextchan:
	XORQ DX, DX
	ADDQ R13, BX

chancheck:
	// At a channel's kernel row 0: whole channels, five segments at once.
	CMPQ CX, $5
	JLT  segloop

chanloop:
	MOVUPS (BX), X0
	MOVSS  16(BX), X1
	MOVUPS (BX)(R11*1), X2
	MOVSS  16(BX)(R11*1), X3
	MOVUPS (BX)(R11*2), X4
	MOVSS  16(BX)(R11*2), X5
	MOVUPS (BX)(R12*1), X6
	MOVSS  16(BX)(R12*1), X7
	MOVUPS (BX)(R11*4), X8
	MOVSS  16(BX)(R11*4), X9
	MOVUPS X0, (AX)
	MOVSS  X1, 16(AX)
	MOVUPS X2, 20(AX)
	MOVSS  X3, 36(AX)
	MOVUPS X4, 40(AX)
	MOVSS  X5, 56(AX)
	MOVUPS X6, 60(AX)
	MOVSS  X7, 76(AX)
	MOVUPS X8, 80(AX)
	MOVSS  X9, 96(AX)
	ADDQ   $100, AX
	ADDQ   R10, BX
	SUBQ   $5, CX
	JZ     rowdone
	CMPQ   CX, $5
	JGE    chanloop
	JMP    segloop

rowdone:
	ADDQ $4, SI
	ADDQ R9, DI
	DECQ R8
	JNZ  rowloop
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

// func col2im5x6AVX512(img, dcol *float32, c, plane, oh int)
//
// col2im5x6 for one sample in AVX-512: for each output row y, kernel row
// ky and channel ci (channels innermost, so consecutive stores are a plane
// apart and no load waits on the store before it; within one y each image
// row is touched by one ky only, so the order is free), the ten floats of
// image row (ci, y+ky) are loaded into Z0 (mask K1), and the five values
// of each of the six positions x (dcol row y*6+x, columns ci*25+ky*5 ..)
// are added into lanes x..x+4, x ascending, with merge masking (K2..K7),
// so each lane gets exactly the scalar loop's additions in its order and
// no other; then the ten floats are stored back. The loads of a
// position's five values start 4x bytes before them under a mask that
// skips those lanes (masked lanes do not fault); they zero the other
// lanes, so no load waits for the register's last value. Image rows are
// ten floats (wd = 10). MXCSR stays at Go's default. The caller checks
// the bounds.
TEXT ·col2im5x6AVX512(SB), NOSPLIT, $0-40
	MOVQ img+0(FP), DI
	MOVQ dcol+8(FP), SI
	MOVQ c+16(FP), R9
	MOVQ plane+24(FP), R10
	MOVQ oh+32(FP), R11
	SHLQ $2, R10   // plane, bytes
	MOVQ R9, R8
	IMULQ $100, R8 // ckk*4: bytes between positions' rows

	MOVQ  $0x3FF, AX
	KMOVW AX, K1
	MOVQ  $0x1F, AX
	KMOVW AX, K2
	MOVQ  $0x3E, AX
	KMOVW AX, K3
	MOVQ  $0x7C, AX
	KMOVW AX, K4
	MOVQ  $0xF8, AX
	KMOVW AX, K5
	MOVQ  $0x1F0, AX
	KMOVW AX, K6
	MOVQ  $0x3E0, AX
	KMOVW AX, K7

yloop:
	MOVQ DI, R12 // image row (0, y+ky), ky = 0
	MOVQ SI, R15 // dcol row y*6, column ky*5, ky = 0
	MOVQ $5, R14

kyloop:
	MOVQ R12, DX
	MOVQ R15, CX
	MOVQ R9, R13

cloop:
	LEAQ      (CX)(R8*2), BX
	ADDQ      R8, BX // position 3's row
	VMOVUPS.Z (DX), K1, Z0
	VMOVUPS.Z (CX), K2, Z1
	VADDPS    Z1, Z0, K2, Z0
	VMOVUPS.Z -4(CX)(R8*1), K3, Z2
	VADDPS    Z2, Z0, K3, Z0
	VMOVUPS.Z -8(CX)(R8*2), K4, Z3
	VADDPS    Z3, Z0, K4, Z0
	VMOVUPS.Z -12(BX), K5, Z4
	VADDPS    Z4, Z0, K5, Z0
	VMOVUPS.Z -16(BX)(R8*1), K6, Z5
	VADDPS    Z5, Z0, K6, Z0
	VMOVUPS.Z -20(BX)(R8*2), K7, Z6
	VADDPS    Z6, Z0, K7, Z0
	VMOVUPS   Z0, K1, (DX)
	ADDQ      R10, DX  // the next channel's row
	ADDQ      $100, CX // the next channel's columns
	DECQ      R13
	JNZ       cloop

	ADDQ $40, R12
	ADDQ $20, R15
	DECQ R14
	JNZ  kyloop

	ADDQ $40, DI        // next output row: image rows shift by one
	LEAQ (SI)(R8*4), SI
	LEAQ (SI)(R8*2), SI // dcol advances six positions' rows
	DECQ R11
	JNZ  yloop
	VZEROUPPER
	RET


// func updateSqAVX2(m, v *float32, n int, eps float32, acc *[4]float64)
//
// UpdateSumSq's loop over n elements (n a multiple of 8), eight at a time:
// u = m / (sqrt(v) + eps) in float32 (VSQRTPS is the correctly rounded
// float32 square root, which float32(math.Sqrt(float64(v))) also is), then
// acc[j] += u*u in float64 for the elements i ≡ j (mod 4), the first four
// of each eight before the last four: the Go loop's four partial sums, in
// its order (u*u is exact in float64, so a separate multiply and add give
// what Go's do). MXCSR is left at Go's default.
TEXT ·updateSqAVX2(SB), NOSPLIT, $0-40
	MOVQ m+0(FP), SI
	MOVQ v+8(FP), DI
	MOVQ n+16(FP), CX
	VBROADCASTSS eps+24(FP), Y5
	MOVQ acc+32(FP), DX
	VMOVUPD (DX), Y4
	SHRQ $3, CX
	JZ   usqdone

usqloop:
	VSQRTPS (DI), Y0
	VADDPS  Y5, Y0, Y0
	VMOVUPS (SI), Y1
	VDIVPS  Y0, Y1, Y1      // u = m / (sqrt(v) + eps)
	VCVTPS2PD X1, Y2        // the first four
	VMULPD  Y2, Y2, Y2
	VADDPD  Y2, Y4, Y4
	VEXTRACTF128 $1, Y1, X3 // the last four
	VCVTPS2PD X3, Y3
	VMULPD  Y3, Y3, Y3
	VADDPD  Y3, Y4, Y4
	ADDQ $32, SI
	ADDQ $32, DI
	DECQ CX
	JNZ  usqloop

usqdone:
	VMOVUPD Y4, (DX)
	VZEROUPPER
	RET

// func maskedSqAVX(x, keep *float32, n int, acc *[2]float64)
//
// maskedSumSquares' loop over n elements (n a multiple of 4), four at a
// time: x[i] where keep[i] > 0 (an ordered compare, so a NaN keeps
// nothing), else +0, then acc[i mod 2] += x[i]² in float64, the first two
// of each four before the last two: the Go loop's two partial sums, in
// its order (the squares are exact). AVX. MXCSR is left at Go's default.
TEXT ·maskedSqAVX(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), SI
	MOVQ keep+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ acc+24(FP), DX
	VMOVUPD (DX), X4
	VXORPS  X5, X5, X5
	SHRQ $2, CX
	JZ   msqdone

msqloop:
	VMOVUPS (DI), X0
	VCMPPS  $0x1e, X5, X0, X0 // keep > 0 (GT_OQ)
	VANDPS  (SI), X0, X0
	VCVTPS2PD X0, X1          // the first two
	VMULPD  X1, X1, X1
	VADDPD  X1, X4, X4
	VMOVHLPS X0, X0, X2       // the last two
	VCVTPS2PD X2, X2
	VMULPD  X2, X2, X2
	VADDPD  X2, X4, X4
	ADDQ $16, SI
	ADDQ $16, DI
	DECQ CX
	JNZ  msqloop

msqdone:
	VMOVUPD X4, (DX)
	RET
