#ifndef AIC_SGEMM_H
#define AIC_SGEMM_H
#include <stdint.h>

// Single-precision matrix product with one fixed arithmetic, whatever the CPU, the blocking or
// the thread split (AICompressTraining/BLAS.swift splits the work; BLASTests compares it bit for
// bit with a plain triple loop). Row-major:
//     C[m x n] = alpha * op(A) * op(B) + beta * C
// op(A) is m x k (A stored k x m, leading dimension lda, when transA), op(B) is k x n (B stored
// n x k when transB). Every element of C is computed as
//     c = beta == 0 ? 0 : beta == 1 ? c : beta * c          (C is not read when beta == 0)
//     for p in 0 ..< k ascending:  c = fmaf(a', op(B)[p][j], c),  a' = alpha == 1 ? op(A)[i][p] : alpha * op(A)[i][p]
// that is a fused multiply-add per term, in ascending p, from the scaled C: the same bits on
// every machine (an AVX2+FMA microkernel where the CPU has one, the same operations in portable
// C otherwise). k == 0 leaves the beta step only. C must not alias A or B.
void aic_sgemm(int transA, int transB, int64_t m, int64_t n, int64_t k, float alpha,
               const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
               float *c, int64_t ldc);

/// aic_sgemm with the portable C microkernel whatever the CPU (tests: it must give aic_sgemm's bits).
void aic_sgemm_portable(int transA, int transB, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc);

/// The plain twin: the triple loop of the formula above, one element at a time (tests only).
void aic_sgemm_reference(int transA, int transB, int64_t m, int64_t n, int64_t k, float alpha,
                         const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                         float *c, int64_t ldc);

#endif
