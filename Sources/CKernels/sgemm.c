// aic_sgemm (include/sgemm.h): the Goto/BLIS blocking of a matrix product with C itself as the
// running sum. Why the bits do not depend on the blocking, the thread split or the CPU: every
// element of C is scaled by beta once, before any term, and then takes its k terms one fused
// multiply-add at a time in ascending p (the k blocks run in ascending order and each adds its
// terms into C); packing copies values unchanged (alpha folded as one rounded multiply, as the
// reference does), the zero padding of edge panels only feeds lanes that are thrown away, and
// the AVX2+FMA microkernel's vfmadd231ps rounds once per lane exactly as fmaf.
// The microkernel is inline assembly so that debug builds (C at -O0) run it at full speed too.
#include "sgemm.h"
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#pragma clang fp contract(off)

enum { MR = 6, NR = 16, KC = 384, MC = 96, NC = 1024 };

typedef void (*kernel_fn)(int64_t kc, const float *pa, const float *pb, float *c, int64_t ldc);

// ---- microkernels: C[6 x 16] (row stride ldc) += packed A panel (kc x 6) * packed B panel (kc x 16)

typedef float v8f __attribute__((ext_vector_type(8)));
#define load8(p) ({ v8f v_; memcpy(&v_, (p), sizeof v_); v_; })
#define store8(p, v) do { v8f w_ = (v); memcpy((p), &w_, sizeof w_); } while (0)

static void kernel_portable(int64_t kc, const float *pa, const float *pb, float *c, int64_t ldc) {
    v8f acc[2 * MR];
    for (int t = 0; t < MR; t++) {
        acc[2 * t] = load8(c + t * ldc);
        acc[2 * t + 1] = load8(c + t * ldc + 8);
    }
    for (int64_t p = 0; p < kc; p++) {
        const v8f b0 = load8(pb), b1 = load8(pb + 8);
        for (int t = 0; t < MR; t++) {
            const v8f av = pa[t];
            acc[2 * t] = __builtin_elementwise_fma(av, b0, acc[2 * t]);
            acc[2 * t + 1] = __builtin_elementwise_fma(av, b1, acc[2 * t + 1]);
        }
        pa += MR;
        pb += NR;
    }
    for (int t = 0; t < MR; t++) {
        store8(c + t * ldc, acc[2 * t]);
        store8(c + t * ldc + 8, acc[2 * t + 1]);
    }
}

#if defined(__x86_64__)
#define FMA_ROW(off, bc, r0, r1) \
    "vbroadcastss " #off "(%[a]), %%" #bc "\n\t" \
    "vfmadd231ps %%ymm12, %%" #bc ", %%" #r0 "\n\t" \
    "vfmadd231ps %%ymm13, %%" #bc ", %%" #r1 "\n\t"
#define FMA_STEP(aoff, boff) \
    "vmovups " #boff "(%[b]), %%ymm12\n\t" \
    "vmovups " #boff "+32(%[b]), %%ymm13\n\t" \
    FMA_ROW(aoff, ymm14, ymm0, ymm1) FMA_ROW(aoff+4, ymm15, ymm2, ymm3) \
    FMA_ROW(aoff+8, ymm14, ymm4, ymm5) FMA_ROW(aoff+12, ymm15, ymm6, ymm7) \
    FMA_ROW(aoff+16, ymm14, ymm8, ymm9) FMA_ROW(aoff+20, ymm15, ymm10, ymm11)

// Requires AVX2 and FMA (checked once by the dispatch below).
static void kernel_avx2_fma(int64_t kc, const float *pa, const float *pb, float *c, int64_t ldc) {
    const int64_t ldcb = ldc * (int64_t)sizeof(float);
    float *c3 = c + 3 * ldc;
    int64_t pairs = kc >> 1, odd = kc & 1;
    __asm__ volatile(
        "vmovups (%[c]), %%ymm0\n\t"
        "vmovups 32(%[c]), %%ymm1\n\t"
        "vmovups (%[c],%[ldc]), %%ymm2\n\t"
        "vmovups 32(%[c],%[ldc]), %%ymm3\n\t"
        "vmovups (%[c],%[ldc],2), %%ymm4\n\t"
        "vmovups 32(%[c],%[ldc],2), %%ymm5\n\t"
        "vmovups (%[c3]), %%ymm6\n\t"
        "vmovups 32(%[c3]), %%ymm7\n\t"
        "vmovups (%[c3],%[ldc]), %%ymm8\n\t"
        "vmovups 32(%[c3],%[ldc]), %%ymm9\n\t"
        "vmovups (%[c3],%[ldc],2), %%ymm10\n\t"
        "vmovups 32(%[c3],%[ldc],2), %%ymm11\n\t"
        "test %[pairs], %[pairs]\n\t"
        "jz 2f\n\t"
        "1:\n\t"
        FMA_STEP(0, 0)
        FMA_STEP(24, 64)
        "add $48, %[a]\n\t"
        "add $128, %[b]\n\t"
        "dec %[pairs]\n\t"
        "jnz 1b\n\t"
        "2:\n\t"
        "test %[odd], %[odd]\n\t"
        "jz 3f\n\t"
        FMA_STEP(0, 0)
        "3:\n\t"
        "vmovups %%ymm0, (%[c])\n\t"
        "vmovups %%ymm1, 32(%[c])\n\t"
        "vmovups %%ymm2, (%[c],%[ldc])\n\t"
        "vmovups %%ymm3, 32(%[c],%[ldc])\n\t"
        "vmovups %%ymm4, (%[c],%[ldc],2)\n\t"
        "vmovups %%ymm5, 32(%[c],%[ldc],2)\n\t"
        "vmovups %%ymm6, (%[c3])\n\t"
        "vmovups %%ymm7, 32(%[c3])\n\t"
        "vmovups %%ymm8, (%[c3],%[ldc])\n\t"
        "vmovups %%ymm9, 32(%[c3],%[ldc])\n\t"
        "vmovups %%ymm10, (%[c3],%[ldc],2)\n\t"
        "vmovups %%ymm11, 32(%[c3],%[ldc],2)\n\t"
        "vzeroupper\n\t"
        : [a] "+r"(pa), [b] "+r"(pb), [pairs] "+r"(pairs)
        : [c] "r"(c), [c3] "r"(c3), [ldc] "r"(ldcb), [odd] "r"(odd)
        : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
          "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
}
#endif

static kernel_fn chosen_kernel(void) {
#if defined(__x86_64__)
    static int probed = -1;  // racy but idempotent: every thread computes the same answer
    if (probed < 0) probed = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (probed) return kernel_avx2_fma;
#endif
    return kernel_portable;
}

// ---- packing

static inline float elem_a(int transA, const float *a, int64_t lda, int64_t i, int64_t p) {
    return transA ? a[p * lda + i] : a[i * lda + p];
}
static inline float elem_b(int transB, const float *b, int64_t ldb, int64_t p, int64_t j) {
    return transB ? b[j * ldb + p] : b[p * ldb + j];
}

// Rows i0 ..< i0+mc, columns p0 ..< p0+kc of alpha*op(A) as panels of MR rows: dst[r][p][t].
static void pack_a(int transA, const float *a, int64_t lda, int64_t i0, int64_t mc, int64_t p0, int64_t kc,
                   float alpha, float *dst) {
    for (int64_t r = 0; r < mc; r += MR) {
        const int64_t rows = mc - r < MR ? mc - r : MR;
        float *panel = dst + (r / MR) * kc * MR;
        if (rows < MR) memset(panel, 0, (size_t)(kc * MR) * sizeof(float));
        if (transA) {  // op(A)[i][p] = a[p][i]: MR contiguous values per p
            for (int64_t p = 0; p < kc; p++) {
                const float *src = a + (p0 + p) * lda + i0 + r;
                if (rows == MR) memcpy(panel + p * MR, src, MR * sizeof(float));
                else for (int64_t t = 0; t < rows; t++) panel[p * MR + t] = src[t];
            }
        } else {
            for (int64_t t = 0; t < rows; t++) {
                const float *src = a + (i0 + r + t) * lda + p0;
                for (int64_t p = 0; p < kc; p++) panel[p * MR + t] = src[p];
            }
        }
        if (alpha != 1.0f) {
            for (int64_t q = 0; q < kc * MR; q++) panel[q] = alpha * panel[q];
        }
    }
}

// dst[c * lddst + r] = src[r * ldsrc + c] for r, c < 8 (values moved, not changed).
static inline void transpose8(const float *src, int64_t ldsrc, float *dst, int64_t lddst) {
    const v8f r0 = load8(src), r1 = load8(src + ldsrc), r2 = load8(src + 2 * ldsrc), r3 = load8(src + 3 * ldsrc);
    const v8f r4 = load8(src + 4 * ldsrc), r5 = load8(src + 5 * ldsrc), r6 = load8(src + 6 * ldsrc), r7 = load8(src + 7 * ldsrc);
    const v8f t0 = __builtin_shufflevector(r0, r1, 0, 8, 1, 9, 4, 12, 5, 13);
    const v8f t1 = __builtin_shufflevector(r0, r1, 2, 10, 3, 11, 6, 14, 7, 15);
    const v8f t2 = __builtin_shufflevector(r2, r3, 0, 8, 1, 9, 4, 12, 5, 13);
    const v8f t3 = __builtin_shufflevector(r2, r3, 2, 10, 3, 11, 6, 14, 7, 15);
    const v8f t4 = __builtin_shufflevector(r4, r5, 0, 8, 1, 9, 4, 12, 5, 13);
    const v8f t5 = __builtin_shufflevector(r4, r5, 2, 10, 3, 11, 6, 14, 7, 15);
    const v8f t6 = __builtin_shufflevector(r6, r7, 0, 8, 1, 9, 4, 12, 5, 13);
    const v8f t7 = __builtin_shufflevector(r6, r7, 2, 10, 3, 11, 6, 14, 7, 15);
    const v8f u0 = __builtin_shufflevector(t0, t2, 0, 1, 8, 9, 4, 5, 12, 13);
    const v8f u1 = __builtin_shufflevector(t0, t2, 2, 3, 10, 11, 6, 7, 14, 15);
    const v8f u2 = __builtin_shufflevector(t1, t3, 0, 1, 8, 9, 4, 5, 12, 13);
    const v8f u3 = __builtin_shufflevector(t1, t3, 2, 3, 10, 11, 6, 7, 14, 15);
    const v8f u4 = __builtin_shufflevector(t4, t6, 0, 1, 8, 9, 4, 5, 12, 13);
    const v8f u5 = __builtin_shufflevector(t4, t6, 2, 3, 10, 11, 6, 7, 14, 15);
    const v8f u6 = __builtin_shufflevector(t5, t7, 0, 1, 8, 9, 4, 5, 12, 13);
    const v8f u7 = __builtin_shufflevector(t5, t7, 2, 3, 10, 11, 6, 7, 14, 15);
    store8(dst, __builtin_shufflevector(u0, u4, 0, 1, 2, 3, 8, 9, 10, 11));
    store8(dst + lddst, __builtin_shufflevector(u1, u5, 0, 1, 2, 3, 8, 9, 10, 11));
    store8(dst + 2 * lddst, __builtin_shufflevector(u2, u6, 0, 1, 2, 3, 8, 9, 10, 11));
    store8(dst + 3 * lddst, __builtin_shufflevector(u3, u7, 0, 1, 2, 3, 8, 9, 10, 11));
    store8(dst + 4 * lddst, __builtin_shufflevector(u0, u4, 4, 5, 6, 7, 12, 13, 14, 15));
    store8(dst + 5 * lddst, __builtin_shufflevector(u1, u5, 4, 5, 6, 7, 12, 13, 14, 15));
    store8(dst + 6 * lddst, __builtin_shufflevector(u2, u6, 4, 5, 6, 7, 12, 13, 14, 15));
    store8(dst + 7 * lddst, __builtin_shufflevector(u3, u7, 4, 5, 6, 7, 12, 13, 14, 15));
}

// Rows p0 ..< p0+kc, columns j0 ..< j0+nc of op(B) as panels of NR columns: dst[q][p][t].
static void pack_b(int transB, const float *b, int64_t ldb, int64_t p0, int64_t kc, int64_t j0, int64_t nc, float *dst) {
    for (int64_t q = 0; q < nc; q += NR) {
        const int64_t cols = nc - q < NR ? nc - q : NR;
        float *panel = dst + (q / NR) * kc * NR;
        if (cols < NR) memset(panel, 0, (size_t)(kc * NR) * sizeof(float));
        if (transB) {  // op(B)[p][j] = b[j][p]: 8 x 8 transposes where whole, then one by one
            int64_t done = 0;
            if (cols == NR) {
                for (; done + 8 <= kc; done += 8) {
                    transpose8(b + (j0 + q) * ldb + p0 + done, ldb, panel + done * NR, NR);
                    transpose8(b + (j0 + q + 8) * ldb + p0 + done, ldb, panel + done * NR + 8, NR);
                }
            }
            for (int64_t t = 0; t < cols; t++) {
                const float *src = b + (j0 + q + t) * ldb + p0;
                for (int64_t p = done; p < kc; p++) panel[p * NR + t] = src[p];
            }
        } else {
            for (int64_t p = 0; p < kc; p++) {
                const float *src = b + (p0 + p) * ldb + j0 + q;
                if (cols == NR) memcpy(panel + p * NR, src, NR * sizeof(float));
                else for (int64_t t = 0; t < cols; t++) panel[p * NR + t] = src[t];
            }
        }
    }
}

// ---- per-thread packing buffers (freed when the thread ends)

typedef struct { float *a, *b; } buffers;
static pthread_key_t buffers_key;
static pthread_once_t buffers_once = PTHREAD_ONCE_INIT;
static void free_buffers(void *p) {
    buffers *bf = p;
    free(bf->a);
    free(bf->b);
    free(bf);
}
static void make_key(void) { (void)pthread_key_create(&buffers_key, free_buffers); }

// MC*KC and KC*NC floats (1.7 MB) per thread that ever multiplied, or NULL when out of memory.
static buffers *thread_buffers(void) {
    (void)pthread_once(&buffers_once, make_key);
    buffers *bf = pthread_getspecific(buffers_key);
    if (bf) return bf;
    bf = calloc(1, sizeof *bf);
    if (!bf) return NULL;
    bf->a = aligned_alloc(64, (size_t)MC * KC * sizeof(float));
    bf->b = aligned_alloc(64, (size_t)KC * NC * sizeof(float));
    if (!bf->a || !bf->b || pthread_setspecific(buffers_key, bf) != 0) {
        free_buffers(bf);
        return NULL;
    }
    return bf;
}

// ---- the product

static void scale_c(int64_t m, int64_t n, float beta, float *c, int64_t ldc) {
    if (beta == 1.0f) return;
    for (int64_t i = 0; i < m; i++) {
        float *row = c + i * ldc;
        if (beta == 0.0f) memset(row, 0, (size_t)n * sizeof(float));
        else for (int64_t j = 0; j < n; j++) row[j] = beta * row[j];
    }
}

// The terms of the formula, added into the already scaled C one element at a time.
static void accumulate_plain(int transA, int transB, int64_t m, int64_t n, int64_t k, float alpha,
                             const float *a, int64_t lda, const float *b, int64_t ldb, float *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            float s = c[i * ldc + j];
            for (int64_t p = 0; p < k; p++) {
                float av = elem_a(transA, a, lda, i, p);
                if (alpha != 1.0f) av = alpha * av;
                s = fmaf(av, elem_b(transB, b, ldb, p, j), s);
            }
            c[i * ldc + j] = s;
        }
    }
}

static void sgemm_blocked(kernel_fn kernel, int transA, int transB, int64_t m, int64_t n, int64_t k, float alpha,
                          const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                          float *c, int64_t ldc) {
    if (m <= 0 || n <= 0) return;
    scale_c(m, n, beta, c, ldc);
    if (k <= 0) return;
    buffers *bf = thread_buffers();
    if (!bf) {  // no memory for the panels: the same bits, slowly
        accumulate_plain(transA, transB, m, n, k, alpha, a, lda, b, ldb, c, ldc);
        return;
    }
    for (int64_t jc = 0; jc < n; jc += NC) {
        const int64_t nc = n - jc < NC ? n - jc : NC;
        for (int64_t pc = 0; pc < k; pc += KC) {
            const int64_t kc = k - pc < KC ? k - pc : KC;
            pack_b(transB, b, ldb, pc, kc, jc, nc, bf->b);
            for (int64_t ic = 0; ic < m; ic += MC) {
                const int64_t mc = m - ic < MC ? m - ic : MC;
                pack_a(transA, a, lda, ic, mc, pc, kc, alpha, bf->a);
                for (int64_t jr = 0; jr < nc; jr += NR) {
                    const int64_t nr = nc - jr < NR ? nc - jr : NR;
                    const float *pb = bf->b + (jr / NR) * kc * NR;
                    for (int64_t ir = 0; ir < mc; ir += MR) {
                        const int64_t mr = mc - ir < MR ? mc - ir : MR;
                        const float *pa = bf->a + (ir / MR) * kc * MR;
                        float *cp = c + (ic + ir) * ldc + jc + jr;
                        if (mr == MR && nr == NR) {
                            kernel(kc, pa, pb, cp, ldc);
                        } else {  // an edge tile: through a full 6 x 16 copy
                            float tile[MR * NR];
                            memset(tile, 0, sizeof tile);
                            for (int64_t t = 0; t < mr; t++) memcpy(tile + t * NR, cp + t * ldc, (size_t)nr * sizeof(float));
                            kernel(kc, pa, pb, tile, NR);
                            for (int64_t t = 0; t < mr; t++) memcpy(cp + t * ldc, tile + t * NR, (size_t)nr * sizeof(float));
                        }
                    }
                }
            }
        }
    }
}

void aic_sgemm(int transA, int transB, int64_t m, int64_t n, int64_t k, float alpha,
               const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
               float *c, int64_t ldc) {
    sgemm_blocked(chosen_kernel(), transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void aic_sgemm_portable(int transA, int transB, int64_t m, int64_t n, int64_t k, float alpha,
                        const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                        float *c, int64_t ldc) {
    sgemm_blocked(kernel_portable, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void aic_sgemm_reference(int transA, int transB, int64_t m, int64_t n, int64_t k, float alpha,
                         const float *a, int64_t lda, const float *b, int64_t ldb, float beta,
                         float *c, int64_t ldc) {
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            float s = beta == 0.0f ? 0.0f : beta == 1.0f ? c[i * ldc + j] : beta * c[i * ldc + j];
            for (int64_t p = 0; p < k; p++) {
                const float av = alpha == 1.0f ? elem_a(transA, a, lda, i, p) : alpha * elem_a(transA, a, lda, i, p);
                s = fmaf(av, elem_b(transB, b, ldb, p, j), s);
            }
            c[i * ldc + j] = s;
        }
    }
}
