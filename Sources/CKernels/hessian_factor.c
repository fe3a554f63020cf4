// The Hessian factor's three O(n^3) steps (HessianFactor.swift's Cholesky enum is the plain
// twin; CholeskyKernelTests compares them bit for bit). Why the bits are the plain loops':
// each output element starts from the same value and takes the same terms in the same
// ascending order, each as a separate rounded multiply and subtract/add (explicit
// `contract(off)`, and no "fma" in the target), so only the schedule differs:
//  - Cholesky: right-looking by panels of 8 columns. The terms k < j0 of every element of a
//    panel are subtracted first (4 rows x 8 columns in registers, the panel's rows packed
//    transposed so the 8 columns are one vector), then the terms j0 <= k < j inside the panel.
//  - Inverse and M^T M: 8 columns at a time, one vector lane per column, all lanes starting at
//    the panel's first k. A lane whose column j starts later sees only products with the
//    lower-triangular operand's upper part, which is exactly 0, so its sum stays +0.0 until
//    k = j (0.0 - (+-0.0) and 0.0 + (+-0.0) are both +0.0), as the plain loop's `s = 0`.
// Scalar-and-vector arithmetic on a clang vector is per lane IEEE, as the Swift loops'.
#include "hessian_factor.h"
#include <math.h>
#include <string.h>

#pragma clang fp contract(off)

typedef double v4d __attribute__((ext_vector_type(4)));

enum { W = 8, R = 4 };

// Unaligned loads and stores as macros: a function taking or returning a 256-bit vector would
// have a different ABI in the AVX2 and the baseline instantiation.
#define load4(p) ({ v4d v_; memcpy(&v_, (p), sizeof v_); v_; })
#define store4(p, v) do { v4d w_ = (v); memcpy((p), &w_, sizeof w_); } while (0)
static inline int64_t min64(int64_t a, int64_t b) { return a < b ? a : b; }

static inline __attribute__((always_inline)) int cholesky_body(const double *a, double *l, int64_t n, double *pack) {
    memset(l, 0, (size_t)(n * n) * sizeof(double));
    for (int64_t j0 = 0; j0 < n; j0 += W) {
        const int64_t w = min64(W, n - j0);
        // pack[k*W + t] = l[j0+t][k] for k < j0 (rows past the matrix: 0).
        for (int t = 0; t < W; t++) {
            for (int64_t k = 0; k < j0; k++) pack[k * W + t] = t < w ? l[(j0 + t) * n + k] : 0.0;
        }
        // a[i][j] minus the terms k < j0, for every i >= j0 and j in the panel (j <= i kept).
        for (int64_t i = j0; i < n; i += R) {
            const double *row[R];
            v4d acc[R][2];
            for (int r = 0; r < R; r++) {
                double init[W] = {0};
                const int64_t ir = i + r < n ? i + r : i;
                row[r] = l + ir * n;
                if (i + r < n) {
                    for (int64_t t = 0; t < w; t++) init[t] = a[(i + r) * n + j0 + t];
                }
                acc[r][0] = load4(init);
                acc[r][1] = load4(init + 4);
            }
            for (int64_t k = 0; k < j0; k++) {
                const v4d p0 = load4(pack + k * W), p1 = load4(pack + k * W + 4);
                for (int r = 0; r < R; r++) {
                    const double x = row[r][k];
                    acc[r][0] -= x * p0;
                    acc[r][1] -= x * p1;
                }
            }
            for (int r = 0; r < R && i + r < n; r++) {
                double out[W];
                store4(out, acc[r][0]);
                store4(out + 4, acc[r][1]);
                for (int64_t t = 0; t < w && j0 + t <= i + r; t++) l[(i + r) * n + j0 + t] = out[t];
            }
        }
        // The panel's own terms j0 <= k < j: its diagonal block column by column, then the rows below.
        for (int64_t j = j0; j < j0 + w; j++) {
            double d = l[j * n + j];
            for (int64_t k = j0; k < j; k++) d -= l[j * n + k] * l[j * n + k];
            if (!(d > 0) || !isfinite(d)) return 0;
            const double ljj = sqrt(d);
            l[j * n + j] = ljj;
            for (int64_t i = j + 1; i < j0 + w; i++) {
                double s = l[i * n + j];
                for (int64_t k = j0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
                l[i * n + j] = s / ljj;
            }
        }
        for (int64_t i = j0 + w; i < n; i++) {
            double *li = l + i * n;
            for (int64_t j = j0; j < j0 + w; j++) {
                const double *lj = l + j * n;
                double s = li[j];
                for (int64_t k = j0; k < j; k++) s -= li[k] * lj[k];
                li[j] = s / lj[j];
            }
        }
    }
    return 1;
}

static inline __attribute__((always_inline)) void invert_lower_body(const double *l, double *inv, int64_t n, double *q) {
    memset(inv, 0, (size_t)(n * n) * sizeof(double));
    for (int64_t j0 = 0; j0 < n; j0 += W) {
        const int64_t w = min64(W, n - j0);
        // q[(k-j0)*W + t] = inv[k][j0+t], row k written once all its terms are in.
        for (int64_t i = j0; i < n; i += R) {
            const double *row[R];
            v4d acc[R][2];
            for (int r = 0; r < R; r++) {
                row[r] = l + (i + r < n ? i + r : i) * n;
                acc[r][0] = acc[r][1] = (v4d){0, 0, 0, 0};
            }
            for (int64_t k = j0; k < i; k++) {
                const v4d q0 = load4(q + (k - j0) * W), q1 = load4(q + (k - j0) * W + 4);
                for (int r = 0; r < R; r++) {
                    const double x = row[r][k];
                    acc[r][0] -= x * q0;
                    acc[r][1] -= x * q1;
                }
            }
            for (int r = 0; r < R && i + r < n; r++) {
                const int64_t ir = i + r;
                for (int64_t k = i; k < ir; k++) {
                    const double x = row[r][k];
                    acc[r][0] -= x * load4(q + (k - j0) * W);
                    acc[r][1] -= x * load4(q + (k - j0) * W + 4);
                }
                double out[W];
                store4(out, acc[r][0]);
                store4(out + 4, acc[r][1]);
                const double lii = l[ir * n + ir];
                double *qi = q + (ir - j0) * W;
                for (int64_t t = 0; t < W; t++) {
                    const int64_t col = j0 + t;
                    qi[t] = (t >= w || ir < col) ? 0.0 : ir == col ? 1 / lii : out[t] / lii;
                }
            }
        }
        for (int64_t k = j0; k < n; k++) {
            for (int64_t t = 0; t < w; t++) inv[k * n + j0 + t] = q[(k - j0) * W + t];
        }
    }
}

// Rows k are taken in blocks of KB, each block over every i tile before the next: the tiles
// then share the cache lines of m's rows, and a tile's partial sums wait in `part` between
// blocks (a store and a load, exact), so each element still sums its k terms in order.
enum { KB = 128 };

static inline __attribute__((always_inline)) void transpose_times_body(const double *m, double *res, int64_t n, double *pack,
                                                                       double *part) {
    for (int64_t j0 = 0; j0 < n; j0 += W) {
        const int64_t w = min64(W, n - j0), iEnd = j0 + w;
        for (int64_t k = j0; k < n; k++) {
            for (int64_t t = 0; t < W; t++) pack[(k - j0) * W + t] = t < w ? m[k * n + j0 + t] : 0.0;
        }
        memset(part, 0, (size_t)(iEnd + R) * W * sizeof(double));
        for (int64_t k0 = j0; k0 < n; k0 += KB) {
            const int64_t k1 = min64(n, k0 + KB);
            for (int64_t i = 0; i < iEnd; i += R) {
                int64_t col[R];
                v4d acc[R][2];
                for (int r = 0; r < R; r++) {
                    col[r] = i + r < iEnd ? i + r : i;
                    acc[r][0] = load4(part + (i + r) * W);
                    acc[r][1] = load4(part + (i + r) * W + 4);
                }
                for (int64_t k = k0; k < k1; k++) {
                    const double *mk = m + k * n;
                    const v4d p0 = load4(pack + (k - j0) * W), p1 = load4(pack + (k - j0) * W + 4);
                    for (int r = 0; r < R; r++) {
                        const double x = mk[col[r]];
                        acc[r][0] += x * p0;
                        acc[r][1] += x * p1;
                    }
                }
                for (int r = 0; r < R; r++) {
                    store4(part + (i + r) * W, acc[r][0]);
                    store4(part + (i + r) * W + 4, acc[r][1]);
                }
            }
        }
        for (int64_t i = 0; i < iEnd; i++) {
            for (int64_t t = 0; t < w; t++) {
                const int64_t j = j0 + t;
                if (i <= j) { res[i * n + j] = part[i * W + t]; res[j * n + i] = part[i * W + t]; }
            }
        }
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static int cholesky_avx2(const double *a, double *l, int64_t n, double *s) { return cholesky_body(a, l, n, s); }
__attribute__((target("avx2"))) static void invert_lower_avx2(const double *l, double *inv, int64_t n, double *s) { invert_lower_body(l, inv, n, s); }
__attribute__((target("avx2"))) static void transpose_times_avx2(const double *m, double *r, int64_t n, double *s) { transpose_times_body(m, r, n, s, s + 8 * n); }
#define HAVE_AVX2() __builtin_cpu_supports("avx2")
#endif

int aic_cholesky_lower(const double *a, double *l, int64_t n, double *scratch) {
#if defined(__x86_64__)
    if (HAVE_AVX2()) return cholesky_avx2(a, l, n, scratch);
#endif
    return cholesky_body(a, l, n, scratch);
}

void aic_invert_lower(const double *l, double *inv, int64_t n, double *scratch) {
#if defined(__x86_64__)
    if (HAVE_AVX2()) { invert_lower_avx2(l, inv, n, scratch); return; }
#endif
    invert_lower_body(l, inv, n, scratch);
}

void aic_lower_transpose_times_lower(const double *m, double *r, int64_t n, double *scratch) {
#if defined(__x86_64__)
    if (HAVE_AVX2()) { transpose_times_avx2(m, r, n, scratch); return; }
#endif
    transpose_times_body(m, r, n, scratch, scratch + 8 * n);
}
