// Shared by the AVX2 K-quant encoders (ggml_kquants_avx2.c, ggml_lowbit_avx2.c): ggml's scalar
// helpers (fp16 conversion, nearest_int), their 8-lane forms, and make_qkx2_quants run on eight
// groups at once, one lane each. Every lane does the C code's float operations in its order
// (explicit intrinsics, no fused multiply-add, no reassociation) and every `if` is a per-lane
// blend, so a lane's results are the scalar code's.
#ifndef KQUANT_LANES_H
#define KQUANT_LANES_H
#include <math.h>
#include <stdint.h>
#include <string.h>

#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>

#define GROUP_MAX_EPS 1e-15f

static inline uint32_t bits_of(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float float_of(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

// ggml_compute_fp32_to_fp16 / ggml_compute_fp16_to_fp32 (ggml-impl.h), as ggml-base uses them.
static inline uint16_t fp32_to_fp16(float f) {
    float base = (fabsf(f) * 0x1.0p+112f) * 0x1.0p-110f;
    const uint32_t w = bits_of(f);
    const uint32_t shl1_w = w + w;
    const uint32_t sign = w & 0x80000000u;
    uint32_t bias = shl1_w & 0xFF000000u;
    if (bias < 0x71000000u) bias = 0x71000000u;
    base = float_of((bias >> 1) + 0x07800000u) + base;
    const uint32_t b = bits_of(base);
    const uint32_t nonsign = ((b >> 13) & 0x00007C00u) + (b & 0x00000FFFu);
    return (uint16_t)((sign >> 16) | (shl1_w > 0xFF000000u ? 0x7E00u : nonsign));
}

static inline float fp16_to_fp32(uint16_t h) {
    const uint32_t w = (uint32_t)h << 16;
    const uint32_t sign = w & 0x80000000u;
    const uint32_t two_w = w + w;
    const float normalized = float_of((two_w >> 4) + (0xE0u << 23)) * 0x1.0p-112f;
    const float denormalized = float_of((two_w >> 17) | (126u << 23)) - 0.5f;
    return float_of(sign | (two_w < (1u << 27) ? bits_of(denormalized) : bits_of(normalized)));
}

// The value of v[0..<n] with the largest magnitude, signed; the first of equals; 0 for all zeros
// (the Q3_K and Q6_K super-block scale's reference loop).
static inline float largest_magnitude(const float *v, int n) {
    float best = 0, best_abs = 0;
    for (int i = 0; i < n; i++) {
        if (fabsf(v[i]) > best_abs) {
            best_abs = fabsf(v[i]);
            best = v[i];
        }
    }
    return best;
}

static inline int nearest_int(float fval) {
    float val = fval + 12582912.f;
    int i;
    memcpy(&i, &val, 4);
    return (i & 0x007fffff) - 0x00400000;
}

static inline void store_half(uint8_t *y, float f) {
    uint16_t h = fp32_to_fp16(f);
    y[0] = (uint8_t)h;
    y[1] = (uint8_t)(h >> 8);
}

static inline float load_half(const uint8_t *y) { return fp16_to_fp32((uint16_t)(y[0] | y[1] << 8)); }

// nearest_int and MAX(lo, MIN(hi, l)) on every lane.
__attribute__((target("avx2"))) static inline __m256i nearest8(__m256 v) {
    __m256i t = _mm256_castps_si256(_mm256_add_ps(v, _mm256_set1_ps(12582912.f)));
    return _mm256_sub_epi32(_mm256_and_si256(t, _mm256_set1_epi32(0x007fffff)), _mm256_set1_epi32(0x00400000));
}

__attribute__((target("avx2"))) static inline __m256i clamp8(__m256i l, int lo, int hi) {
    return _mm256_max_epi32(_mm256_min_epi32(l, _mm256_set1_epi32(hi)), _mm256_set1_epi32(lo));
}

__attribute__((target("avx2"))) static inline __m256 abs8(__m256 v) {
    return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff)));
}

__attribute__((target("avx2"))) static inline __m256 blend8(__m256 a, __m256 b, __m256 mask) {
    return _mm256_blendv_ps(a, b, mask);
}

// Element i (i < n) of eight groups of n consecutive values side by side: lane j of xt[i] is
// x[n j + i].
__attribute__((target("avx2"))) static inline void transpose8(const float *x, int n, __m256 *xt) {
    const __m256i idx = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(n));
    for (int i = 0; i < n; i++) xt[i] = _mm256_i32gather_ps(x + i, idx, 4);
}

// Lane i of levels[k] (k < n) to out[n i + k], zero in the lanes of `zero`.
__attribute__((target("avx2"))) static inline void store_levels8(const __m256i *levels, int n, __m256 zero, uint8_t *out) {
    const __m256i keep = _mm256_castps_si256(zero);
    int32_t lanes[8];
    for (int k = 0; k < n; k++) {
        _mm256_storeu_si256((__m256i *)lanes, _mm256_andnot_si256(keep, levels[k]));
        for (int j = 0; j < 8; j++) out[n * j + k] = (uint8_t)lanes[j];
    }
}

// make_qkx2_quants(n, nmax, x, weights, L, &the_min, Laux, rmin, rdelta, nstep, use_mad) on
// eight groups of n ≤ 32 values (xt[i], w[i]: element i of every group): the scales and
// the_mins out, the levels of each group into out (lane j: out[n j ..< n j + n]). Lanes with
// max == min return (0, -min) and all-zero levels; what they compute in between is thrown away.
__attribute__((target("avx2"), always_inline))
static inline void qkx2_lanes(const __m256 *xt, const __m256 *w, int n, int nmax, float rmin, float rdelta, int nstep,
                              int use_mad, __m256 *scale_out, __m256 *min_out, uint8_t *out) {
    __m256i best[32], aux[32];
    const __m256 zero = _mm256_setzero_ps();
    __m256 lo = xt[0], hi = xt[0];
    __m256 sum_w = w[0];
    __m256 sum_x = _mm256_mul_ps(sum_w, xt[0]);
    for (int i = 1; i < n; i++) {
        lo = _mm256_min_ps(xt[i], lo);
        hi = _mm256_max_ps(xt[i], hi);
        sum_w = _mm256_add_ps(sum_w, w[i]);
        sum_x = _mm256_add_ps(sum_x, _mm256_mul_ps(w[i], xt[i]));
    }
    lo = blend8(lo, zero, _mm256_cmp_ps(lo, zero, _CMP_GT_OQ));
    const __m256 flat = _mm256_cmp_ps(hi, lo, _CMP_EQ_OQ);
    const __m256 flat_min = _mm256_xor_ps(lo, _mm256_set1_ps(-0.f));
    __m256 iscale = _mm256_div_ps(_mm256_set1_ps((float)nmax), _mm256_sub_ps(hi, lo));
    __m256 scale = _mm256_div_ps(_mm256_set1_ps(1.f), iscale);
    __m256 best_error = zero;
    for (int i = 0; i < n; i++) {
        __m256i l = clamp8(nearest8(_mm256_mul_ps(iscale, _mm256_sub_ps(xt[i], lo))), 0, nmax);
        best[i] = l;
        __m256 diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(scale, _mm256_cvtepi32_ps(l)), lo), xt[i]);
        diff = use_mad ? abs8(diff) : _mm256_mul_ps(diff, diff);
        best_error = _mm256_add_ps(best_error, _mm256_mul_ps(w[i], diff));
    }
    for (int is = 0; nstep >= 1 && is <= nstep; is++) {
        iscale = _mm256_div_ps(_mm256_set1_ps(rmin + rdelta * is + nmax), _mm256_sub_ps(hi, lo));
        __m256 sum_l = zero, sum_l2 = zero, sum_xl = zero;
        for (int i = 0; i < n; i++) {
            __m256i l = clamp8(nearest8(_mm256_mul_ps(iscale, _mm256_sub_ps(xt[i], lo))), 0, nmax);
            aux[i] = l;
            __m256 fl = _mm256_cvtepi32_ps(l);
            __m256 wl = _mm256_mul_ps(w[i], fl);
            sum_l = _mm256_add_ps(sum_l, wl);
            sum_l2 = _mm256_add_ps(sum_l2, _mm256_mul_ps(wl, fl));
            sum_xl = _mm256_add_ps(sum_xl, _mm256_mul_ps(wl, xt[i]));
        }
        __m256 D = _mm256_sub_ps(_mm256_mul_ps(sum_w, sum_l2), _mm256_mul_ps(sum_l, sum_l));
        __m256 positive = _mm256_cmp_ps(D, zero, _CMP_GT_OQ);
        if (!_mm256_movemask_ps(positive)) continue;
        __m256 this_scale = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sum_w, sum_xl), _mm256_mul_ps(sum_x, sum_l)), D);
        __m256 this_min = _mm256_div_ps(_mm256_sub_ps(_mm256_mul_ps(sum_l2, sum_x), _mm256_mul_ps(sum_l, sum_xl)), D);
        __m256 above = _mm256_cmp_ps(this_min, zero, _CMP_GT_OQ);
        this_min = blend8(this_min, zero, above);
        this_scale = blend8(this_scale, _mm256_div_ps(sum_xl, sum_l2), above);
        __m256 cur_error = zero;
        for (int i = 0; i < n; i++) {
            __m256 diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(this_scale, _mm256_cvtepi32_ps(aux[i])), this_min), xt[i]);
            diff = use_mad ? abs8(diff) : _mm256_mul_ps(diff, diff);
            cur_error = _mm256_add_ps(cur_error, _mm256_mul_ps(w[i], diff));
        }
        __m256 better = _mm256_and_ps(positive, _mm256_cmp_ps(cur_error, best_error, _CMP_LT_OQ));
        if (!_mm256_movemask_ps(better)) continue;
        __m256i take = _mm256_castps_si256(better);
        for (int i = 0; i < n; i++) best[i] = _mm256_blendv_epi8(best[i], aux[i], take);
        best_error = blend8(best_error, cur_error, better);
        scale = blend8(scale, this_scale, better);
        lo = blend8(lo, this_min, better);
    }
    *scale_out = blend8(scale, zero, flat);
    *min_out = blend8(_mm256_xor_ps(lo, _mm256_set1_ps(-0.f)), flat_min, flat);
    store_levels8(best, n, flat, out);
}

// The value of largest magnitude of each of eight groups of 16 (the first of equal ones: the
// C code's `if (ax > amax)`) into *max; returns the lanes whose largest |x| is below
// GROUP_MAX_EPS (the groups make_qx_quants and make_q3_quants give all-zero levels).
__attribute__((target("avx2"), always_inline))
static inline __m256 largest8(const __m256 *xt, __m256 *max) {
    __m256 m = _mm256_setzero_ps(), amax = _mm256_setzero_ps();
    for (int i = 0; i < 16; i++) {
        __m256 ax = abs8(xt[i]);
        __m256 larger = _mm256_cmp_ps(ax, amax, _CMP_GT_OQ);
        amax = blend8(amax, ax, larger);
        m = blend8(m, xt[i], larger);
    }
    *max = m;
    return _mm256_cmp_ps(amax, _mm256_set1_ps(GROUP_MAX_EPS), _CMP_LT_OQ);
}

// make_qx_quants(16, nmax, x, L, rmse_type 1, qw) on eight groups of 16 (xt[i]: element i of
// every group; w[i] its weights, x² for the unweighted rmse_type 1): the scales out, the levels
// (offset by nmax; 0 in groups whose largest |x| is below GROUP_MAX_EPS) into out (lane j:
// out[16 j ..< 16 j + 16]).
__attribute__((target("avx2"), always_inline))
static inline void qx_lanes(const __m256 *xt, const __m256 *w, int nmax, float *scales, uint8_t *out) {
    const __m256 zero = _mm256_setzero_ps();
    __m256 max;
    const __m256 all_zero = largest8(xt, &max);
    __m256 best_iscale = _mm256_div_ps(_mm256_set1_ps((float)-nmax), max);
    __m256 sumlx = zero, suml2 = zero;
    for (int i = 0; i < 16; i++) {
        __m256 fl = _mm256_cvtepi32_ps(clamp8(nearest8(_mm256_mul_ps(best_iscale, xt[i])), -nmax, nmax - 1));
        sumlx = _mm256_add_ps(sumlx, _mm256_mul_ps(_mm256_mul_ps(w[i], xt[i]), fl));
        suml2 = _mm256_add_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(w[i], fl), fl));
    }
    // `suml2 ? sumlx/suml2 : 0`: NaN counts as true.
    __m256 scale = blend8(zero, _mm256_div_ps(sumlx, suml2), _mm256_cmp_ps(suml2, zero, _CMP_NEQ_UQ));
    __m256 best = _mm256_mul_ps(scale, sumlx);
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        __m256 iscale = _mm256_div_ps(_mm256_set1_ps(-(nmax + 0.1f * is)), max);
        sumlx = suml2 = zero;
        for (int i = 0; i < 16; i++) {
            __m256 fl = _mm256_cvtepi32_ps(clamp8(nearest8(_mm256_mul_ps(iscale, xt[i])), -nmax, nmax - 1));
            sumlx = _mm256_add_ps(sumlx, _mm256_mul_ps(_mm256_mul_ps(w[i], xt[i]), fl));
            suml2 = _mm256_add_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(w[i], fl), fl));
        }
        __m256 better = _mm256_and_ps(_mm256_cmp_ps(suml2, zero, _CMP_GT_OQ),
                                      _mm256_cmp_ps(_mm256_mul_ps(sumlx, sumlx), _mm256_mul_ps(best, suml2), _CMP_GT_OQ));
        if (!_mm256_movemask_ps(better)) continue;
        best_iscale = blend8(best_iscale, iscale, better);
        scale = blend8(scale, _mm256_div_ps(sumlx, suml2), better);
        best = blend8(best, _mm256_mul_ps(scale, sumlx), better);
    }
    _mm256_storeu_ps(scales, blend8(scale, zero, all_zero));
    // The levels of the best trial scale (the C code recomputes them with that scale).
    __m256i levels[16];
    for (int i = 0; i < 16; i++) {
        levels[i] = _mm256_add_epi32(clamp8(nearest8(_mm256_mul_ps(best_iscale, xt[i])), -nmax, nmax - 1), _mm256_set1_epi32(nmax));
    }
    store_levels8(levels, 16, all_zero, out);
}

#endif
#endif
