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
