#ifndef HESSIAN_FACTOR_H
#define HESSIAN_FACTOR_H
#include <stdint.h>

// Blocked, vectorised twins of the dense Double Cholesky arithmetic GPTQ and SparseGPT factor
// their Hessians with (Passes/Calibration/HessianFactor.swift, enum Cholesky). Every output
// element is computed with the plain loops' float operations in the plain loops' order (each
// sum accumulated term by term in ascending k, a separate multiply and subtract or add, no
// fused multiply-add), so the results are bit-identical to them; only the order in which
// elements are computed, and how many are computed at once, differ. Matrices are row-major
// n x n; outputs must not alias inputs. Single-threaded, so the result does not depend on
// the machine's thread count. AVX2 is used when the CPU has it (same bits either way).

/// L with L*L^T = a (lower triangular, upper part written as 0). Returns 1, or 0 when a pivot
/// is not positive and finite (then `l` holds no result). `scratch`: 8*n doubles.
int aic_cholesky_lower(const double *a, double *l, int64_t n, double *scratch);

/// The inverse of lower-triangular `l` (lower triangular, upper part written as 0).
/// `scratch`: 8*n doubles.
void aic_invert_lower(const double *l, double *inv, int64_t n, double *scratch);

/// M^T * M for lower-triangular `m` (upper part exactly 0), symmetric, both halves written.
/// `scratch`: 16*n + 32 doubles.
void aic_lower_transpose_times_lower(const double *m, double *r, int64_t n, double *scratch);

#endif
