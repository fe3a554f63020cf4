// The f32 pruning writer's inner loop with AVX2: compare eight magnitudes with the threshold,
// store the keep mask as one byte, pack the kept values with one permute (a 256-entry table of
// lane indices) and an unaligned store, and advance by the popcount. The store writes eight
// lanes, so it only runs while eight slots remain before the next chunk's values (slotEnd); the
// caller finishes the chunk with its scalar loop. Error figures match the Swift kernel's: sums
// of squares in eight float lanes flushed to double every 4096 elements, the largest pruned |x|.
#include "ckernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include "prune_lanes.h"

int32_t aic_prune_lanes[256][8];  // shared with prune_nm_avx2.c
static int lanes_ready = 0;

static void build_lanes(void) {
    for (int b = 0; b < 256; b++) {
        int n = 0;
        for (int j = 0; j < 8; j++) if (b & (1 << j)) aic_prune_lanes[b][n++] = j;
        for (; n < 8; n++) aic_prune_lanes[b][n] = 0;
    }
    lanes_ready = 1;
}

int aic_avx2_available(void) {
    int ok = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    if (ok && !lanes_ready) build_lanes();
    return ok;
}

__attribute__((target("avx2,popcnt")))
void aic_prune_f32_sparse_avx2(const uint32_t *bits, int64_t end, uint32_t threshold,
                               uint8_t *maskBytes, uint32_t *values, int64_t slotEnd, aic_prune_state *st) {
    const __m256i absMask = _mm256_set1_epi32(0x7FFFFFFF);
    const __m256i tv = _mm256_set1_epi32((int32_t)threshold);  // magnitudes are < 2^31: signed compare is exact
    const __m256 signMask = _mm256_castsi256_ps(absMask);
    __m256 sig = _mm256_setzero_ps(), err = _mm256_setzero_ps(), mx = _mm256_setzero_ps();
    int64_t k = st->k, slot = st->slot, ties = st->ties, keptZeros = st->keptZeros;
    double signal = st->signal, error = st->error;
    while (k + 8 <= end && slot + 8 <= slotEnd) {
        __m256i raw = _mm256_loadu_si256((const __m256i *)(bits + k));
        __m256i m = _mm256_and_si256(raw, absMask);
        __m256i keep = _mm256_cmpgt_epi32(m, tv);
        __m256i tie = _mm256_cmpeq_epi32(m, tv);
        int tieBits = _mm256_movemask_ps(_mm256_castsi256_ps(tie));
        int byte = _mm256_movemask_ps(_mm256_castsi256_ps(keep));
        if (tieBits) {  // ties in order, while the quota lasts
            for (int j = 0; j < 8; j++) {
                if ((tieBits >> j) & 1 && ties > 0) { byte |= 1 << j; ties--; }
            }
            keep = _mm256_cmpgt_epi32(_mm256_and_si256(_mm256_srlv_epi32(_mm256_set1_epi32(byte),
                                                                         _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)),
                                                       _mm256_set1_epi32(1)),
                                      _mm256_setzero_si256());
        }
        __m256 x = _mm256_castsi256_ps(raw);
        __m256 lost = _mm256_andnot_ps(_mm256_castsi256_ps(keep), x);
        sig = _mm256_add_ps(sig, _mm256_mul_ps(x, x));
        err = _mm256_add_ps(err, _mm256_mul_ps(lost, lost));
        mx = _mm256_max_ps(mx, _mm256_and_ps(lost, signMask));
        maskBytes[k >> 3] = (uint8_t)byte;
        __m256i packed = _mm256_permutevar8x32_epi32(raw, _mm256_loadu_si256((const __m256i *)aic_prune_lanes[byte]));
        _mm256_storeu_si256((__m256i *)(values + slot), packed);
        int zeroBits = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(m, _mm256_setzero_si256())));
        keptZeros += __builtin_popcount((unsigned)(byte & zeroBits));
        slot += __builtin_popcount((unsigned)byte);
        k += 8;
        if ((k & 4095) == 0) {
            signal += (double)aic_hsum(sig);
            error += (double)aic_hsum(err);
            sig = _mm256_setzero_ps();
            err = _mm256_setzero_ps();
        }
    }
    aic_prune_finish(st, sig, err, mx, k, slot, keptZeros, signal, error);
    st->ties = ties;
}
#else
int aic_avx2_available(void) { return 0; }
void aic_prune_f32_sparse_avx2(const uint32_t *bits, int64_t end, uint32_t threshold,
                               uint8_t *maskBytes, uint32_t *values, int64_t slotEnd, aic_prune_state *st) {
    (void)bits; (void)end; (void)threshold; (void)maskBytes; (void)values; (void)slotEnd; (void)st;
}
#endif
