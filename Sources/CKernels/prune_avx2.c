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

int32_t aic_prune_lanes[256][8];  // declared in prune_lanes.h
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
    aic_prune_run r = aic_prune_start(st);
    int64_t ties = st->ties;
    while (r.k + 8 <= end && r.slot + 8 <= slotEnd) {
        __m256i raw = _mm256_loadu_si256((const __m256i *)(bits + r.k));
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
        aic_prune_group(&r, raw, m, keep, byte, maskBytes, values);
    }
    aic_prune_finish(st, &r);
    st->ties = ties;
}
#else
int aic_avx2_available(void) { return 0; }
void aic_prune_f32_sparse_avx2(const uint32_t *bits, int64_t end, uint32_t threshold,
                               uint8_t *maskBytes, uint32_t *values, int64_t slotEnd, aic_prune_state *st) {
    (void)bits; (void)end; (void)threshold; (void)maskBytes; (void)values; (void)slotEnd; (void)st;
}
#endif
