// The OBS sweep's lazy update (obs_update.h). Why the bits do not depend on the schedule: every
// element starts from its own value in w and takes the terms i = 0, 1, ... width-1 in that order,
// each a rounded multiply then a rounded subtract (explicit `contract(off)`, no "fma" target), so
// computing 4 rows x 32 columns at once in vector lanes, or one element at a time in the column
// remainder, gives the same IEEE results. Scalar-and-vector arithmetic on a clang vector is per lane.
#include "obs_update.h"
#include <string.h>

#pragma clang fp contract(off)

typedef float v8f __attribute__((ext_vector_type(8)));

enum { RT = 4, CV = 4, CT = 8 * CV };

// Unaligned loads and stores as macros: a function taking or returning a 256-bit vector would
// have a different ABI in the AVX2 and the baseline instantiation.
#define load8(p) ({ v8f v_; memcpy(&v_, (p), sizeof v_); v_; })
#define store8(p, v) do { v8f w_ = (v); memcpy((p), &w_, sizeof w_); } while (0)

static inline __attribute__((always_inline)) void update_body(float *w, int64_t rows, int64_t stride, const float *e,
                                                              int64_t width, const float *u, int64_t rest) {
    for (int64_t r0 = 0; r0 < rows; r0 += RT) {
        const int64_t rr = rows - r0 < RT ? rows - r0 : RT;
        int64_t j0 = 0;
        for (; j0 + CT <= rest; j0 += CT) {
            v8f acc[RT][CV];
            for (int64_t r = 0; r < RT; r++)
                for (int c = 0; c < CV; c++) acc[r][c] = r < rr ? load8(w + (r0 + r) * stride + j0 + 8 * c) : (v8f)0;
            for (int64_t i = 0; i < width; i++) {
                const float *ui = u + i * rest + j0;
                v8f uv[CV];
                for (int c = 0; c < CV; c++) uv[c] = load8(ui + 8 * c);
                for (int64_t r = 0; r < RT; r++) {
                    const float er = r < rr ? e[(r0 + r) * width + i] : 0.0f;
                    for (int c = 0; c < CV; c++) acc[r][c] = acc[r][c] - er * uv[c];
                }
            }
            for (int64_t r = 0; r < rr; r++)
                for (int c = 0; c < CV; c++) store8(w + (r0 + r) * stride + j0 + 8 * c, acc[r][c]);
        }
        for (int64_t r = 0; r < rr; r++) {
            float *wr = w + (r0 + r) * stride;
            const float *er = e + (r0 + r) * width;
            for (int64_t j = j0; j < rest; j++) {
                float c = wr[j];
                for (int64_t i = 0; i < width; i++) c = c - er[i] * u[i * rest + j];
                wr[j] = c;
            }
        }
    }
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) static void update_avx2(float *w, int64_t rows, int64_t stride, const float *e, int64_t width,
                                                        const float *u, int64_t rest) {
    update_body(w, rows, stride, e, width, u, rest);
}
#endif

void aic_obs_lazy_update(float *w, int64_t rows, int64_t stride, const float *e, int64_t width, const float *u, int64_t rest) {
    if (rows <= 0 || rest <= 0) return;
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx2")) { update_avx2(w, rows, stride, e, width, u, rest); return; }
#endif
    update_body(w, rows, stride, e, width, u, rest);
}
