// ggml-quants.c's quantize_row_q2_K_ref (make_qkx2_quants with mean absolute error) and
// quantize_row_q3_K_ref (make_q3_quants with do_rmse) with their searches run on eight
// sub-blocks of 16 at once, one AVX2 lane each (two passes per super-block of 256). Why the
// bytes are the reference's: see kquant_lanes.h; make_q3_quants' coordinate descent runs its
// passes on all lanes until no lane changes a level — a lane whose pass changed nothing is at a
// fixed point (its next pass repeats the same operations on the same state and changes nothing
// either), so running it on is the scalar code's `if (!n_changed) break`. The packing after the
// searches is the reference's scalar code. The plain twin is GGMLLowBitKQuantizer (Swift,
// AICompressCore); GGMLKernelTests compares the two byte for byte.
#include "ggml_kquants.h"
#include "kquant_lanes.h"

#if defined(__x86_64__)

// Four 2-bit levels per byte: byte l of each 32-byte run holds values l, l+32, l+64, l+96 of
// its 128 (Q2_K's qs and Q3_K's low bits).
static void pack_two_bit(const uint8_t *L, uint8_t *q) {
    for (int j = 0; j < 256; j += 128) {
        for (int l = 0; l < 32; l++) q[l] = L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6);
        q += 32;
    }
}

// Sub-block j's 6-bit scale u (offset by 32) into Q3_K's scales[12] (zeroed before): the low
// four bits in a nibble of bytes 0-7, the high two in bytes 8-11.
static inline void put_q3_scale(uint8_t *sc, int j, uint8_t u) {
    if (j < 8) sc[j] = u & 0xF; else sc[j - 8] |= (uint8_t)((u & 0xF) << 4);
    sc[j % 4 + 8] |= (uint8_t)((u >> 4) << (2 * (j / 4)));
}

// The tail of quantize_row_q2_K_ref and _impl, once the scales and mins (y[0..<16]), d and dmin
// (at 80, 82) are stored: the levels again from the rounded scales (kept from the fit where a
// scale rounds to 0), packed at 16.
static void finish_q2_K(const float *x, uint8_t *L, uint8_t *y) {
    const float d = load_half(y + 80), dmin = load_half(y + 82);
    for (int j = 0; j < 16; j++) {
        const float dj = d * (y[j] & 0xF);
        if (!dj) continue;
        const float dm = dmin * (y[j] >> 4);
        for (int ii = 0; ii < 16; ii++) {
            int l = nearest_int((x[16 * j + ii] + dm) / dj);
            l = l < 3 ? l : 3;
            L[16 * j + ii] = (uint8_t)(l > 0 ? l : 0);
        }
    }
    pack_two_bit(L, y + 16);
}

// The tail of quantize_row_q3_K_ref and _impl, once scales[12] (at 96) and d (at 108) are
// stored: the levels again from the rounded scales (kept from the fit where a scale rounds to
// 0), the third bits into hmask (at 0), the low two packed at 32.
static void finish_q3_K(const float *x, uint8_t *L, uint8_t *y) {
    const uint8_t *sc = y + 96;
    const float d = load_half(y + 108);
    for (int j = 0; j < 16; j++) {
        const int low = (sc[j % 8] >> (4 * (j / 8))) & 0xF, high = (sc[8 + j % 4] >> (2 * (j / 4))) & 3;
        const float dj = d * ((low | high << 4) - 32);
        if (!dj) continue;
        for (int ii = 0; ii < 16; ii++) {
            int l = nearest_int(x[16 * j + ii] / dj);
            l = l < 3 ? l : 3;
            L[16 * j + ii] = (uint8_t)((l > -4 ? l : -4) + 4);
        }
    }
    uint8_t *hmask = y;
    memset(hmask, 0, 32);
    int m = 0;
    uint8_t hm = 1;
    for (int j = 0; j < 256; j++) {
        if (L[j] > 3) {
            hmask[m] |= hm;
            L[j] -= 4;
        }
        if (++m == 32) {
            m = 0;
            hm <<= 1;
        }
    }
    pack_two_bit(L, y + 32);
}

__attribute__((target("avx2")))
void aic_quantize_q2_K_avx2(const float *x, uint8_t *y, int64_t blocks) {
    uint8_t L[256];
    float scales[16], mins[16];
    for (int64_t i = 0; i < blocks; i++, x += 256, y += 84) {
        for (int h = 0; h < 2; h++) {
            __m256 xt[16], w[16], scale, the_min;
            transpose8(x + 128 * h, 16, xt);
            for (int k = 0; k < 16; k++) w[k] = abs8(xt[k]);
            qkx2_lanes(xt, w, 16, 3, -0.5f, 0.1f, 15, 1, &scale, &the_min, L + 128 * h);
            _mm256_storeu_ps(scales + 8 * h, scale);
            _mm256_storeu_ps(mins + 8 * h, the_min);
        }
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 16; j++) {
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        if (max_scale > 0) {
            const float iscale = 15.f / max_scale;
            for (int j = 0; j < 16; j++) y[j] = (uint8_t)nearest_int(iscale * scales[j]);
            store_half(y + 80, max_scale / 15.f);
        } else {
            for (int j = 0; j < 16; j++) y[j] = 0;
            store_half(y + 80, 0.f);
        }
        if (max_min > 0) {
            const float iscale = 15.f / max_min;
            for (int j = 0; j < 16; j++) y[j] |= (uint8_t)((unsigned)nearest_int(iscale * mins[j]) << 4);
            store_half(y + 82, max_min / 15.f);
        } else {
            store_half(y + 82, 0.f);
        }
        finish_q2_K(x, L, y);
    }
}

// make_q3_quants(16, 4, x + 16*sub-block, L, true) for the 8 sub-blocks of 16 that start at `x`
// (lane j: values x[16 j ..< 16 j + 16]); the scales and the 16 levels (offset by 4) of each out.
__attribute__((target("avx2")))
static void fit_q3_K(const float *x, float *scales, uint8_t *levels) {
    const int nmax = 4;
    __m256 xt[16], w[16], wx[16];
    __m256i L[16];
    const __m256 zero = _mm256_setzero_ps();
    transpose8(x, 16, xt);
    __m256 max;
    const __m256 all_zero = largest8(xt, &max);
    const __m256 iscale = _mm256_div_ps(_mm256_set1_ps((float)-nmax), max);
    __m256 sumlx = zero, suml2 = zero;
    for (int i = 0; i < 16; i++) {
        L[i] = clamp8(nearest8(_mm256_mul_ps(iscale, xt[i])), -nmax, nmax - 1);
        __m256 fl = _mm256_cvtepi32_ps(L[i]);
        w[i] = _mm256_mul_ps(xt[i], xt[i]);
        wx[i] = _mm256_mul_ps(w[i], xt[i]);
        sumlx = _mm256_add_ps(sumlx, _mm256_mul_ps(wx[i], fl));
        suml2 = _mm256_add_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(w[i], fl), fl));
    }
    const __m256i ones = _mm256_set1_epi32(-1);
    for (int itry = 0; itry < 5; itry++) {
        __m256 changed = zero;
        for (int i = 0; i < 16; i++) {
            __m256 fl = _mm256_cvtepi32_ps(L[i]);
            __m256 slx = _mm256_sub_ps(sumlx, _mm256_mul_ps(wx[i], fl));
            __m256 positive = _mm256_cmp_ps(slx, zero, _CMP_GT_OQ);
            if (!_mm256_movemask_ps(positive)) continue;
            __m256 sl2 = _mm256_sub_ps(suml2, _mm256_mul_ps(_mm256_mul_ps(w[i], fl), fl));
            __m256i new_l = clamp8(nearest8(_mm256_div_ps(_mm256_mul_ps(xt[i], sl2), slx)), -nmax, nmax - 1);
            __m256 differ = _mm256_castsi256_ps(_mm256_xor_si256(_mm256_cmpeq_epi32(new_l, L[i]), ones));
            __m256 fnl = _mm256_cvtepi32_ps(new_l);
            slx = _mm256_add_ps(slx, _mm256_mul_ps(wx[i], fnl));
            sl2 = _mm256_add_ps(sl2, _mm256_mul_ps(_mm256_mul_ps(w[i], fnl), fnl));
            __m256 better = _mm256_and_ps(_mm256_cmp_ps(sl2, zero, _CMP_GT_OQ),
                                          _mm256_cmp_ps(_mm256_mul_ps(_mm256_mul_ps(slx, slx), suml2),
                                                        _mm256_mul_ps(_mm256_mul_ps(sumlx, sumlx), sl2), _CMP_GT_OQ));
            __m256 take = _mm256_and_ps(_mm256_and_ps(positive, differ), better);
            L[i] = _mm256_blendv_epi8(L[i], new_l, _mm256_castps_si256(take));
            sumlx = blend8(sumlx, slx, take);
            suml2 = blend8(suml2, sl2, take);
            changed = _mm256_or_ps(changed, take);
        }
        if (!_mm256_movemask_ps(changed)) break;
    }
    // `suml2 > 0 ? sumlx/suml2 : 0`; all-zero groups get scale 0 and level 0, not the offset.
    __m256 scale = blend8(zero, _mm256_div_ps(sumlx, suml2), _mm256_cmp_ps(suml2, zero, _CMP_GT_OQ));
    _mm256_storeu_ps(scales, blend8(scale, zero, all_zero));
    for (int i = 0; i < 16; i++) L[i] = _mm256_add_epi32(L[i], _mm256_set1_epi32(nmax));
    store_levels8(L, 16, all_zero, levels);
}

__attribute__((target("avx2")))
void aic_quantize_q3_K_avx2(const float *x, uint8_t *y, int64_t blocks) {
    uint8_t L[256];
    float scales[16];
    for (int64_t i = 0; i < blocks; i++, x += 256, y += 110) {
        fit_q3_K(x, scales, L);
        fit_q3_K(x + 128, scales + 8, L + 128);
        const float max_scale = largest_magnitude(scales, 16);
        uint8_t *sc = y + 96;
        memset(sc, 0, 12);
        if (max_scale) {
            const float iscale = -32.f / max_scale;
            for (int j = 0; j < 16; j++) {
                int8_t l = (int8_t)nearest_int(iscale * scales[j]);
                l = l < 31 ? l : 31;
                l = l > -32 ? l : -32;
                put_q3_scale(sc, j, (uint8_t)(l + 32));
            }
            store_half(y + 108, 1 / iscale);
        } else {
            store_half(y + 108, 0.f);
        }
        finish_q3_K(x, L, y);
    }
}

// ---- With an importance matrix: quantize_row_q2_K_impl / _q3_K_impl (quant_weights non-null).

static float sum_squares(const float *x) {
    float s = 0;
    for (int j = 0; j < 256; j++) s += x[j] * x[j];
    return s;
}

// The weights qw[j] * sqrtf(sigma2 + x[j]*x[j]) of eight groups of 16 (xt, qt: element i of
// every group's values and importances) and each group's sum of them, in the C code's order.
__attribute__((target("avx2")))
static inline void weights8(const __m256 *xt, const __m256 *qt, float sigma2, __m256 *w, float *sw) {
    const __m256 s2 = _mm256_set1_ps(sigma2);
    __m256 sum = _mm256_setzero_ps();
    for (int i = 0; i < 16; i++) {
        w[i] = _mm256_mul_ps(qt[i], _mm256_sqrt_ps(_mm256_add_ps(s2, _mm256_mul_ps(xt[i], xt[i]))));
        sum = _mm256_add_ps(sum, w[i]);
    }
    _mm256_storeu_ps(sw, sum);
}

// make_qp_quants(n, nmax, x, L, quant_weights): non-negative levels of the sub-block scales or
// mins against the super-block's by a weighted search and up to five rounds of coordinate
// descent; returns the scale. Scalar, as ggml's (16 values a call).
static float make_qp_quants(int n, int nmax, const float *x, uint8_t *L, const float *qw) {
    float max = 0;
    for (int i = 0; i < n; i++) max = max > x[i] ? max : x[i];
    if (max < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.f;
    }
    float iscale = nmax / max;
    for (int i = 0; i < n; i++) L[i] = (uint8_t)nearest_int(iscale * x[i]);
    const float scale = 1 / iscale;
    float best_mse = 0;
    for (int i = 0; i < n; i++) {
        const float diff = x[i] - scale * L[i];
        best_mse += qw[i] * diff * diff;
    }
    for (int is = -4; is <= 4; is++) {
        if (is == 0) continue;
        const float iscale_is = (0.1f * is + nmax) / max;
        const float scale_is = 1 / iscale_is;
        float mse = 0;
        for (int i = 0; i < n; i++) {
            int l = nearest_int(iscale_is * x[i]);
            l = l < nmax ? l : nmax;
            const float diff = x[i] - scale_is * l;
            mse += qw[i] * diff * diff;
        }
        if (mse < best_mse) {
            best_mse = mse;
            iscale = iscale_is;
        }
    }
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * x[i]);
        l = l < nmax ? l : nmax;
        L[i] = (uint8_t)l;
        const float w = qw[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    for (int itry = 0; itry < 5; itry++) {
        int n_changed = 0;
        for (int i = 0; i < n; i++) {
            const float w = qw[i];
            float slx = sumlx - w * x[i] * L[i];
            float sl2 = suml2 - w * L[i] * L[i];
            if (slx > 0 && sl2 > 0) {
                int new_l = nearest_int(x[i] * sl2 / slx);
                new_l = new_l < nmax ? new_l : nmax;
                if (new_l != L[i]) {
                    slx += w * x[i] * new_l;
                    sl2 += w * new_l * new_l;
                    if (slx * slx * suml2 > sumlx * sumlx * sl2) {
                        L[i] = (uint8_t)new_l;
                        sumlx = slx;
                        suml2 = sl2;
                        n_changed++;
                    }
                }
            }
        }
        if (!n_changed) break;
    }
    return suml2 > 0 ? sumlx / suml2 : 0;
}

__attribute__((target("avx2")))
void aic_quantize_q2_K_weighted_avx2(const float *x, const float *qw, uint8_t *y, int64_t blocks) {
    uint8_t L[256], ls[16], lm[16];
    float scales[16], mins[16], sw[16];
    for (int64_t i = 0; i < blocks; i++, x += 256, qw += 256, y += 84) {
        const float sigma2 = sum_squares(x) / 256;
        for (int h = 0; h < 2; h++) {
            __m256 xt[16], qt[16], w[16], scale, the_min;
            transpose8(x + 128 * h, 16, xt);
            transpose8(qw + 128 * h, 16, qt);
            weights8(xt, qt, sigma2, w, sw + 8 * h);
            qkx2_lanes(xt, w, 16, 3, -0.9f, 0.05f, 36, 0, &scale, &the_min, L + 128 * h);
            _mm256_storeu_ps(scales + 8 * h, scale);
            _mm256_storeu_ps(mins + 8 * h, the_min);
        }
        store_half(y + 80, make_qp_quants(16, 15, scales, ls, sw));
        store_half(y + 82, make_qp_quants(16, 15, mins, lm, sw));
        for (int j = 0; j < 16; j++) y[j] = (uint8_t)(ls[j] | lm[j] << 4);
        finish_q2_K(x, L, y);
    }
}

__attribute__((target("avx2")))
void aic_quantize_q3_K_weighted_avx2(const float *x, const float *qw, uint8_t *y, int64_t blocks) {
    uint8_t L[256], ls[128];
    float scales[16], sw[16], d[8];
    for (int64_t i = 0; i < blocks; i++, x += 256, qw += 256, y += 110) {
        const float sigma2 = 2 * sum_squares(x) / 256;
        for (int h = 0; h < 2; h++) {
            __m256 xt[16], qt[16], w[16];
            transpose8(x + 128 * h, 16, xt);
            transpose8(qw + 128 * h, 16, qt);
            weights8(xt, qt, sigma2, w, sw + 8 * h);
            qx_lanes(xt, w, 4, scales + 8 * h, L + 128 * h);
        }
        // make_qx_quants(16, 32, scales, Ls, 1, sw): one group, in lane 0 (the other lanes are
        // all-zero groups, thrown away).
        __m256 st[16], swt[16];
        for (int k = 0; k < 16; k++) {
            st[k] = _mm256_setr_ps(scales[k], 0, 0, 0, 0, 0, 0, 0);
            swt[k] = _mm256_setr_ps(sw[k], 0, 0, 0, 0, 0, 0, 0);
        }
        qx_lanes(st, swt, 32, d, ls);
        uint8_t *sc = y + 96;
        memset(sc, 0, 12);
        for (int j = 0; j < 16; j++) put_q3_scale(sc, j, ls[j]);
        store_half(y + 108, d[0]);
        finish_q3_K(x, L, y);
    }
}

#else

void aic_quantize_q2_K_avx2(const float *x, uint8_t *y, int64_t blocks) { (void)x; (void)y; (void)blocks; }
void aic_quantize_q3_K_avx2(const float *x, uint8_t *y, int64_t blocks) { (void)x; (void)y; (void)blocks; }
void aic_quantize_q2_K_weighted_avx2(const float *x, const float *qw, uint8_t *y, int64_t blocks) {
    (void)x; (void)qw; (void)y; (void)blocks;
}
void aic_quantize_q3_K_weighted_avx2(const float *x, const float *qw, uint8_t *y, int64_t blocks) {
    (void)x; (void)qw; (void)y; (void)blocks;
}

#endif
