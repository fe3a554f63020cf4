// Shared by the AVX2 pruning writers (prune_avx2.c, prune_nm_avx2.c): the horizontal sum of
// eight float lanes, and the end of a run that folds the lanes into the state.
#ifndef PRUNE_LANES_H
#define PRUNE_LANES_H
#if defined(__x86_64__)
#include <immintrin.h>
#include "ckernels.h"

__attribute__((target("avx2,popcnt")))
static inline float aic_hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}

// Adds the lanes' sums of squares and largest pruned |x| to the state, with where the run stopped.
__attribute__((target("avx2,popcnt")))
static inline void aic_prune_finish(aic_prune_state *st, __m256 sig, __m256 err, __m256 mx, int64_t k, int64_t slot,
                                    int64_t keptZeros, double signal, double error) {
    signal += (double)aic_hsum(sig);
    error += (double)aic_hsum(err);
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    float localMax = _mm_cvtss_f32(m4);
    if (localMax > st->maxAbs) st->maxAbs = localMax;
    st->k = k;
    st->slot = slot;
    st->keptZeros = keptZeros;
    st->signal = signal;
    st->error = error;
}
#endif
#endif
