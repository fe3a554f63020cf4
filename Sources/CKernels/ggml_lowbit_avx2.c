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
    __m256 max = zero, amax = zero;
    for (int i = 0; i < 16; i++) {
        __m256 ax = abs8(xt[i]);
        __m256 larger = _mm256_cmp_ps(ax, amax, _CMP_GT_OQ);
        amax = blend8(amax, ax, larger);
        max = blend8(max, xt[i], larger);
    }
    const __m256 all_zero = _mm256_cmp_ps(amax, _mm256_set1_ps(GROUP_MAX_EPS), _CMP_LT_OQ);
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
        float max_scale = 0, amax = 0;
        for (int j = 0; j < 16; j++) {
            const float scale = scales[j];
            if (fabsf(scale) > amax) {
                amax = fabsf(scale);
                max_scale = scale;
            }
        }
        uint8_t *sc = y + 96;
        memset(sc, 0, 12);
        if (max_scale) {
            const float iscale = -32.f / max_scale;
            for (int j = 0; j < 16; j++) {
                int8_t l = (int8_t)nearest_int(iscale * scales[j]);
                l = l < 31 ? l : 31;
                l = l > -32 ? l : -32;
                const uint8_t u = (uint8_t)(l + 32);
                if (j < 8) sc[j] = u & 0xF; else sc[j - 8] |= (uint8_t)((u & 0xF) << 4);
                sc[j % 4 + 8] |= (uint8_t)((u >> 4) << (2 * (j / 4)));
            }
            store_half(y + 108, 1 / iscale);
        } else {
            store_half(y + 108, 0.f);
        }
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
}

#else

void aic_quantize_q2_K_avx2(const float *x, uint8_t *y, int64_t blocks) { (void)x; (void)y; (void)blocks; }
void aic_quantize_q3_K_avx2(const float *x, uint8_t *y, int64_t blocks) { (void)x; (void)y; (void)blocks; }

#endif
