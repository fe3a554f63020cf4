// ggml-quants.c's quantize_row_q4_K_ref, _q5_K_ref and _q6_K_ref with their searches
// (make_qkx2_quants, make_qx_quants) run on eight sub-blocks at once, one AVX2 lane each.
// Why the bytes are the reference's: every lane does the C code's float operations on its own
// sub-block in the C code's order (each sum still accumulated element by element; explicit
// intrinsics, so no fused multiply-add and no reassociation), and every `if` of the C code is a
// per-lane blend. _mm256_min_ps(v, lo) is `v < lo ? v : lo`, the C code's `if (x < min) min = x`,
// NaN included. The packing after the searches is the reference's scalar code. The plain twin is
// GGMLKQuantizer (Swift, AICompressCore); GGMLKernelTests compares the two byte for byte.
#include "ggml_kquants.h"
#include "kquant_lanes.h"

#if defined(__x86_64__)

int aic_kquant_avx2_available(void) { return __builtin_cpu_supports("avx2"); }

// The fit of quantize_row_q4_K_ref / _q5_K_ref: for sub-block j (lane j) its weights
// (av_x + |x|) and make_qkx2_quants(32, nmax, ..., rmin, 0.1f, nstep, false); scale, the_min and
// the 32 levels of each sub-block out.
__attribute__((target("avx2")))
static void fit_q4_K(const float *x, int nmax, float rmin, int nstep, float *scales, float *mins, uint8_t *levels) {
    __m256 xt[32], w[32];
    transpose8(x, 32, xt);
    __m256 sum_x2 = _mm256_setzero_ps();
    for (int i = 0; i < 32; i++) sum_x2 = _mm256_add_ps(sum_x2, _mm256_mul_ps(xt[i], xt[i]));
    const __m256 av_x = _mm256_sqrt_ps(_mm256_div_ps(sum_x2, _mm256_set1_ps(32.f)));
    for (int i = 0; i < 32; i++) w[i] = _mm256_add_ps(av_x, abs8(xt[i]));
    __m256 scale, the_min;
    qkx2_lanes(xt, w, 32, nmax, rmin, 0.1f, nstep, 0, &scale, &the_min, levels);
    _mm256_storeu_ps(scales, scale);
    _mm256_storeu_ps(mins, the_min);
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
    __m256 xt[16], w[16];
    transpose8(x, 16, xt);
    for (int i = 0; i < 16; i++) w[i] = _mm256_mul_ps(xt[i], xt[i]);
    qx_lanes(xt, w, 32, scales, (uint8_t *)levels);
}

__attribute__((target("avx2")))
void aic_quantize_q6_K_avx2(const float *x, uint8_t *y, int64_t blocks) {
    int8_t L[256];
    float scales[16];
    for (int64_t i = 0; i < blocks; i++, x += 256, y += 210) {
        fit_q6_K(x, scales, L);
        fit_q6_K(x + 128, scales + 8, L + 128);
        const float max_scale = largest_magnitude(scales, 16);
        if (fabsf(max_scale) < GROUP_MAX_EPS) {
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
