// Package gemm is fabeam's float32 matrix multiply.
//
// All matrices are row-major. Sgemm computes
//
//	C = alpha * op(A) * op(B) + beta * C
//
// where op(X) is X or X^T, op(A) is m×k, op(B) is k×n and C is m×n, with
// leading dimensions (row strides) lda, ldb, ldc.
//
// Determinism: for given inputs the result is bit-identical whatever the
// number of threads; work is split over M and N, never over K, so every
// element of C is summed in one fixed order.
package gemm
