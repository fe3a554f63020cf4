// The N:M pruning writer's inner loop with AVX2, for groups of m = 1, 2, 4 or 8 consecutive f32
// elements (so eight lanes hold whole groups). An element's rank in its group is the number of
// others whose magnitude (bit pattern without the sign) is larger, or equal at a lower index; it
// is kept when its rank is below n. The m - 1 other members of each lane's group are brought in
// by m - 1 lane rotations within the group (vpermd), so a rank costs two compares per rotation.
// Then as the threshold kernel: one mask byte per eight elements, the kept values packed with
// one permute and an unaligned store while eight slots remain before slotEnd, the same error
// figures (eight float lanes flushed to double every 4096 elements, the largest pruned |x|).
#include "ckernels.h"

#if defined(__x86_64__)
#include <immintrin.h>
#include "prune_lanes.h"

__attribute__((target("avx2,popcnt")))
void aic_prune_nm_f32_sparse_avx2(const uint32_t *bits, int64_t end, int32_t n, int32_t m,
                                  uint8_t *maskBytes, uint32_t *values, int64_t slotEnd, aic_prune_state *st) {
    if (m != 1 && m != 2 && m != 4 && m != 8) return;
    // Rotation d moves lane j to the group member (j + d) mod m; wrap marks the lanes where that
    // member has a lower index (so an equal magnitude there outranks lane j).
    __m256i rot[7], wrap[7];
    for (int d = 1; d < m; d++) {
        int32_t idx[8], w[8];
        for (int j = 0; j < 8; j++) {
            int base = j & ~(m - 1), pos = j & (m - 1);
            idx[j] = base | ((pos + d) & (m - 1));
            w[j] = pos + d >= m ? -1 : 0;
        }
        rot[d - 1] = _mm256_loadu_si256((const __m256i *)idx);
        wrap[d - 1] = _mm256_loadu_si256((const __m256i *)w);
    }
    const __m256i absMask = _mm256_set1_epi32(0x7FFFFFFF);
    const __m256i minusN = _mm256_set1_epi32(-n);
    aic_prune_run r = aic_prune_start(st);
    while (r.k + 8 <= end && r.slot + 8 <= slotEnd) {
        __m256i raw = _mm256_loadu_si256((const __m256i *)(bits + r.k));
        __m256i mag = _mm256_and_si256(raw, absMask);  // < 2^31: signed compares are exact
        __m256i negRank = _mm256_setzero_si256();
        for (int d = 0; d < m - 1; d++) {
            __m256i other = _mm256_permutevar8x32_epi32(mag, rot[d]);
            __m256i beats = _mm256_or_si256(_mm256_cmpgt_epi32(other, mag),
                                            _mm256_and_si256(_mm256_cmpeq_epi32(other, mag), wrap[d]));
            negRank = _mm256_add_epi32(negRank, beats);  // beats lanes are -1
        }
        __m256i keep = _mm256_cmpgt_epi32(negRank, minusN);  // rank < n
        int byte = _mm256_movemask_ps(_mm256_castsi256_ps(keep));
        aic_prune_group(&r, raw, mag, keep, byte, maskBytes, values);
    }
    aic_prune_finish(st, &r);
}
#else
void aic_prune_nm_f32_sparse_avx2(const uint32_t *bits, int64_t end, int32_t n, int32_t m,
                                  uint8_t *maskBytes, uint32_t *values, int64_t slotEnd, aic_prune_state *st) {
    (void)bits; (void)end; (void)n; (void)m; (void)maskBytes; (void)values; (void)slotEnd; (void)st;
}
#endif
