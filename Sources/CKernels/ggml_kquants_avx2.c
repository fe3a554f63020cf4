// ggml-quants.c's quantize_row_q4_K_ref, _q5_K_ref and _q6_K_ref with their searches
// (make_qkx2_quants, make_qx_quants) run on eight sub-blocks at once, one AVX2 lane each.
// Why the bytes are the reference's: every lane does the C code's float operations on its own
// sub-block in the C code's order (each sum still accumulated element by element; explicit
// intrinsics, so no fused multiply-add and no reassociation), and every `if` of the C code is a
// per-lane blend. _mm256_min_ps(v, lo) is `v < lo ? v : lo`, the C code's `if (x < min) min = x`,
// NaN included. The packing after the searches is the reference's scalar code. The plain twin is
// GGMLKQuantizer (Swift, AICompressCore); GGMLKernelTests compares the two byte for byte.
#include "ggml_kquants.h"
#include <math.h>
#include <string.h>

#pragma clang fp contract(off)

#if defined(__x86_64__)
#include <immintrin.h>

#define GROUP_MAX_EPS 1e-15f

int aic_kquant_avx2_available(void) { return __builtin_cpu_supports("avx2"); }

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

// The fit of quantize_row_q4_K_ref / _q5_K_ref: for sub-block j (lane j) its weights
// (av_x + |x|) and make_qkx2_quants(32, nmax, ..., rmin, 0.1f, nstep, false); scale, the_min and
// the 32 levels of each sub-block out.
__attribute__((target("avx2")))
static void fit_q4_K(const float *x, int nmax, float rmin, int nstep, float *scales, float *mins, uint8_t *levels) {
    const float rdelta = 0.1f;
    __m256 xt[32], w[32];
    __m256i best[32], aux[32];
    const __m256i idx = _mm256_setr_epi32(0, 32, 64, 96, 128, 160, 192, 224);
    const __m256 zero = _mm256_setzero_ps();
    for (int i = 0; i < 32; i++) xt[i] = _mm256_i32gather_ps(x + i, idx, 4);
    __m256 sum_x2 = zero;
    for (int i = 0; i < 32; i++) sum_x2 = _mm256_add_ps(sum_x2, _mm256_mul_ps(xt[i], xt[i]));
    const __m256 av_x = _mm256_sqrt_ps(_mm256_div_ps(sum_x2, _mm256_set1_ps(32.f)));
    for (int i = 0; i < 32; i++) w[i] = _mm256_add_ps(av_x, abs8(xt[i]));

    __m256 lo = xt[0], hi = xt[0];
    __m256 sum_w = w[0];
    __m256 sum_x = _mm256_mul_ps(sum_w, xt[0]);
    for (int i = 1; i < 32; i++) {
        lo = _mm256_min_ps(xt[i], lo);
        hi = _mm256_max_ps(xt[i], hi);
        sum_w = _mm256_add_ps(sum_w, w[i]);
        sum_x = _mm256_add_ps(sum_x, _mm256_mul_ps(w[i], xt[i]));
    }
    lo = blend8(lo, zero, _mm256_cmp_ps(lo, zero, _CMP_GT_OQ));
    // Lanes with max == min return (0, -min) and all-zero levels; what they compute below is
    // thrown away at the end.
    const __m256 flat = _mm256_cmp_ps(hi, lo, _CMP_EQ_OQ);
    const __m256 flat_min = _mm256_xor_ps(lo, _mm256_set1_ps(-0.f));
    __m256 iscale = _mm256_div_ps(_mm256_set1_ps((float)nmax), _mm256_sub_ps(hi, lo));
    __m256 scale = _mm256_div_ps(_mm256_set1_ps(1.f), iscale);
    __m256 best_error = zero;
    for (int i = 0; i < 32; i++) {
        __m256i l = clamp8(nearest8(_mm256_mul_ps(iscale, _mm256_sub_ps(xt[i], lo))), 0, nmax);
        best[i] = l;
        __m256 diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(scale, _mm256_cvtepi32_ps(l)), lo), xt[i]);
        best_error = _mm256_add_ps(best_error, _mm256_mul_ps(w[i], _mm256_mul_ps(diff, diff)));
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = _mm256_div_ps(_mm256_set1_ps(rmin + rdelta * is + nmax), _mm256_sub_ps(hi, lo));
        __m256 sum_l = zero, sum_l2 = zero, sum_xl = zero;
        for (int i = 0; i < 32; i++) {
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
        for (int i = 0; i < 32; i++) {
            __m256 diff = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(this_scale, _mm256_cvtepi32_ps(aux[i])), this_min), xt[i]);
            cur_error = _mm256_add_ps(cur_error, _mm256_mul_ps(w[i], _mm256_mul_ps(diff, diff)));
        }
        __m256 better = _mm256_and_ps(positive, _mm256_cmp_ps(cur_error, best_error, _CMP_LT_OQ));
        if (!_mm256_movemask_ps(better)) continue;
        __m256i take = _mm256_castps_si256(better);
        for (int i = 0; i < 32; i++) best[i] = _mm256_blendv_epi8(best[i], aux[i], take);
        best_error = blend8(best_error, cur_error, better);
        scale = blend8(scale, this_scale, better);
        lo = blend8(lo, this_min, better);
    }
    __m256i keep = _mm256_castps_si256(flat);
    scale = blend8(scale, zero, flat);
    __m256 the_min = blend8(_mm256_xor_ps(lo, _mm256_set1_ps(-0.f)), flat_min, flat);
    _mm256_storeu_ps(scales, scale);
    _mm256_storeu_ps(mins, the_min);
    int32_t lanes[8];
    for (int i = 0; i < 32; i++) {
        _mm256_storeu_si256((__m256i *)lanes, _mm256_andnot_si256(keep, best[i]));
        for (int j = 0; j < 8; j++) levels[32 * j + i] = (uint8_t)lanes[j];
    }
}

__attribute__((target("avx2")))
void aic_quantize_q4_K_avx2(const float *x, uint8_t *y, int64_t blocks, int fifth_bits) {
    const int nmax = fifth_bits ? 31 : 15;
    const size_t size = fifth_bits ? 176 : 144;
    uint8_t L[256];
    float scales[8], mins[8];
    for (int64_t i = 0; i < blocks; i++, x += 256, y += size) {
        fit_q4_K(x, nmax, fifth_bits ? -0.5f : -1.f, fifth_bits ? 15 : 20, scales, mins, L);
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 8; j++) {
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        uint8_t *sc = y + 4;
        float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
        float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
        for (int j = 0; j < 8; j++) {
            uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
            uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
            ls = ls < 63 ? ls : 63;
            lm = lm < 63 ? lm : 63;
            if (j < 4) {
                sc[j] = ls;
                sc[j + 4] = lm;
            } else {
                sc[j + 4] = (ls & 0xF) | ((lm & 0xF) << 4);
                sc[j - 4] |= ((ls >> 4) << 6);
                sc[j - 0] |= ((lm >> 4) << 6);
            }
        }
        store_half(y, max_scale / 63.f);
        store_half(y + 2, max_min / 63.f);
        const float d_all = load_half(y), dmin_all = load_half(y + 2);
        for (int j = 0; j < 8; j++) {
            uint8_t s, m;
            if (j < 4) {
                s = sc[j] & 63;
                m = sc[j + 4] & 63;
            } else {
                s = (sc[j + 4] & 0xF) | ((sc[j - 4] >> 6) << 4);
                m = (sc[j + 4] >> 4) | ((sc[j - 0] >> 6) << 4);
            }
            const float d = d_all * s;
            if (!d) continue;
            const float dm = dmin_all * m;
            for (int ii = 0; ii < 32; ii++) {
                int l = nearest_int((x[32 * j + ii] + dm) / d);
                l = l < nmax ? l : nmax;
                L[32 * j + ii] = (uint8_t)(l > 0 ? l : 0);
            }
        }
        if (fifth_bits) {
            uint8_t *qh = y + 16, *ql = y + 48;
            memset(qh, 0, 32);
            uint8_t m1 = 1, m2 = 2;
            for (int n = 0; n < 256; n += 64) {
                for (int j = 0; j < 32; j++) {
                    int l1 = L[n + j];
                    if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
                    int l2 = L[n + j + 32];
                    if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
                    ql[j] = (uint8_t)(l1 | (l2 << 4));
                }
                m1 <<= 2;
                m2 <<= 2;
                ql += 32;
            }
        } else {
            uint8_t *q = y + 16;
            for (int j = 0; j < 256; j += 64) {
                for (int l = 0; l < 32; l++) q[l] = L[j + l] | (L[j + l + 32] << 4);
                q += 32;
            }
        }
    }
}

// make_qx_quants(16, 32, x + 16*sub-block, L, rmse_type 1, NULL) for the 8 sub-blocks of 16 that
// start at `x` (lane j: values x[16 j ..< 16 j + 16]); scales and the 16 levels (offset by 32) of
// each out.
__attribute__((target("avx2")))
static void fit_q6_K(const float *x, float *scales, int8_t *levels) {
    const int nmax = 32;
    __m256 xt[16];
    const __m256i idx = _mm256_setr_epi32(0, 16, 32, 48, 64, 80, 96, 112);
    const __m256 zero = _mm256_setzero_ps();
    for (int i = 0; i < 16; i++) xt[i] = _mm256_i32gather_ps(x + i, idx, 4);
    __m256 max = zero, amax = zero;
    for (int i = 0; i < 16; i++) {
        __m256 ax = abs8(xt[i]);
        __m256 larger = _mm256_cmp_ps(ax, amax, _CMP_GT_OQ);
        amax = blend8(amax, ax, larger);
        max = blend8(max, xt[i], larger);
    }
    const __m256 all_zero = _mm256_cmp_ps(amax, _mm256_set1_ps(GROUP_MAX_EPS), _CMP_LT_OQ);
    __m256 best_iscale = _mm256_div_ps(_mm256_set1_ps((float)-nmax), max);
    __m256 sumlx = zero, suml2 = zero;
    for (int i = 0; i < 16; i++) {
        __m256 fl = _mm256_cvtepi32_ps(clamp8(nearest8(_mm256_mul_ps(best_iscale, xt[i])), -nmax, nmax - 1));
        __m256 w = _mm256_mul_ps(xt[i], xt[i]);
        sumlx = _mm256_add_ps(sumlx, _mm256_mul_ps(_mm256_mul_ps(w, xt[i]), fl));
        suml2 = _mm256_add_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(w, fl), fl));
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
            __m256 w = _mm256_mul_ps(xt[i], xt[i]);
            sumlx = _mm256_add_ps(sumlx, _mm256_mul_ps(_mm256_mul_ps(w, xt[i]), fl));
            suml2 = _mm256_add_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(w, fl), fl));
        }
        __m256 better = _mm256_and_ps(_mm256_cmp_ps(suml2, zero, _CMP_GT_OQ),
                                      _mm256_cmp_ps(_mm256_mul_ps(sumlx, sumlx), _mm256_mul_ps(best, suml2), _CMP_GT_OQ));
        if (!_mm256_movemask_ps(better)) continue;
        best_iscale = blend8(best_iscale, iscale, better);
        scale = blend8(scale, _mm256_div_ps(sumlx, suml2), better);
        best = blend8(best, _mm256_mul_ps(scale, sumlx), better);
    }
    _mm256_storeu_ps(scales, blend8(scale, zero, all_zero));
    // The levels of the best trial scale (the C code recomputes them with that scale); all-zero
    // groups get level 0, not the offset.
    __m256i keep = _mm256_castps_si256(all_zero);
    int32_t lanes[8];
    for (int i = 0; i < 16; i++) {
        __m256i l = _mm256_add_epi32(clamp8(nearest8(_mm256_mul_ps(best_iscale, xt[i])), -nmax, nmax - 1), _mm256_set1_epi32(nmax));
        _mm256_storeu_si256((__m256i *)lanes, _mm256_andnot_si256(keep, l));
        for (int j = 0; j < 8; j++) levels[16 * j + i] = (int8_t)lanes[j];
    }
}

__attribute__((target("avx2")))
void aic_quantize_q6_K_avx2(const float *x, uint8_t *y, int64_t blocks) {
    int8_t L[256];
    float scales[16];
    for (int64_t i = 0; i < blocks; i++, x += 256, y += 210) {
        fit_q6_K(x, scales, L);
        fit_q6_K(x + 128, scales + 8, L + 128);
        float max_scale = 0, max_abs_scale = 0;
        for (int ib = 0; ib < 16; ib++) {
            const float abs_scale = fabsf(scales[ib]);
            if (abs_scale > max_abs_scale) {
                max_abs_scale = abs_scale;
                max_scale = scales[ib];
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(y, 0, 210);
            store_half(y + 208, 0.f);
            continue;
        }
        int8_t *ysc = (int8_t *)(y + 192);
        float iscale = -128.f / max_scale;
        store_half(y + 208, 1 / iscale);
        for (int ib = 0; ib < 16; ib++) {
            int v = nearest_int(iscale * scales[ib]);
            ysc[ib] = (int8_t)(v < 127 ? v : 127);
        }
        const float d_all = load_half(y + 208);
        for (int j = 0; j < 16; j++) {
            float d = d_all * ysc[j];
            if (!d) continue;
            for (int ii = 0; ii < 16; ii++) {
                int l = nearest_int(x[16 * j + ii] / d);
                l = l < 31 ? l : 31;
                l = l > -32 ? l : -32;
                L[16 * j + ii] = (int8_t)(l + 32);
            }
        }
        uint8_t *ql = y, *qh = y + 128;
        const uint8_t *U = (const uint8_t *)L;
        for (int j = 0; j < 256; j += 128) {
            for (int l = 0; l < 32; l++) {
                const uint8_t q1 = U[j + l + 0] & 0xF;
                const uint8_t q2 = U[j + l + 32] & 0xF;
                const uint8_t q3 = U[j + l + 64] & 0xF;
                const uint8_t q4 = U[j + l + 96] & 0xF;
                ql[l + 0] = q1 | (q3 << 4);
                ql[l + 32] = q2 | (q4 << 4);
                qh[l] = (U[j + l] >> 4) | ((U[j + l + 32] >> 4) << 2) | ((U[j + l + 64] >> 4) << 4) | ((U[j + l + 96] >> 4) << 6);
            }
            ql += 64;
            qh += 32;
        }
    }
}

int aic_f16c_available(void) { return __builtin_cpu_supports("f16c") && __builtin_cpu_supports("avx"); }

__attribute__((target("avx,f16c")))
void aic_f16_to_f32_f16c(const uint16_t *h, float *x, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
    for (; i < n; i++) {
        uint16_t v;
        memcpy(&v, h + i, 2);  // h need not be aligned
        x[i] = _cvtsh_ss(v);
    }
}

#else

int aic_f16c_available(void) { return 0; }
void aic_f16_to_f32_f16c(const uint16_t *h, float *x, int64_t n) { (void)h; (void)x; (void)n; }
int aic_kquant_avx2_available(void) { return 0; }
void aic_quantize_q4_K_avx2(const float *x, uint8_t *y, int64_t blocks, int fifth_bits) { (void)x; (void)y; (void)blocks; (void)fifth_bits; }
void aic_quantize_q6_K_avx2(const float *x, uint8_t *y, int64_t blocks) { (void)x; (void)y; (void)blocks; }

#endif
