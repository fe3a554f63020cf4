// Shared by the AVX2 pruning writers (prune_avx2.c, prune_nm_avx2.c): the horizontal sum of
// eight float lanes, and the part of a run after the keep decision (figures, mask byte, packed
// values, flushes), inlined into each writer's loop.
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

// One run of a writer over its chunk: the float lanes of Σx² and Σ(pruned x)², the lanes' largest
// pruned |x|, and the counters, loaded from the state by aic_prune_start and stored back by
// aic_prune_finish. Both writers decide which of eight elements they keep in their own way and
// hand the rest to aic_prune_group, so the figures and the output bytes come out alike.
typedef struct {
    __m256 sig, err, mx;
    int64_t k, slot, keptZeros;
    double signal, error;
} aic_prune_run;

// Lane j's index for packing the set bits of byte b first (built by aic_avx2_available, in
// prune_avx2.c).
extern int32_t aic_prune_lanes[256][8];

__attribute__((target("avx2,popcnt"), always_inline))
static inline aic_prune_run aic_prune_start(const aic_prune_state *st) {
    aic_prune_run r;
    r.sig = _mm256_setzero_ps();
    r.err = _mm256_setzero_ps();
    r.mx = _mm256_setzero_ps();
    r.k = st->k;
    r.slot = st->slot;
    r.keptZeros = st->keptZeros;
    r.signal = st->signal;
    r.error = st->error;
    return r;
}

// Writes the eight elements at r->k whose keep mask is `keep` (lanes all ones or zero; `byte`
// the same as bits): adds to the sums and the largest pruned |x|, stores the mask byte, packs the
// kept values at r->slot with one permute and an unaligned store of eight lanes (the caller
// checks that eight slots remain), counts kept zeros (`mag` is |x| as bits), and flushes the
// float lanes to double every 4096 elements.
__attribute__((target("avx2,popcnt"), always_inline))
static inline void aic_prune_group(aic_prune_run *r, __m256i raw, __m256i mag, __m256i keep, int byte,
                                   uint8_t *maskBytes, uint32_t *values) {
    const __m256 signMask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF));
    __m256 x = _mm256_castsi256_ps(raw);
    __m256 lost = _mm256_andnot_ps(_mm256_castsi256_ps(keep), x);
    r->sig = _mm256_add_ps(r->sig, _mm256_mul_ps(x, x));
    r->err = _mm256_add_ps(r->err, _mm256_mul_ps(lost, lost));
    r->mx = _mm256_max_ps(r->mx, _mm256_and_ps(lost, signMask));
    maskBytes[r->k >> 3] = (uint8_t)byte;
    __m256i packed = _mm256_permutevar8x32_epi32(raw, _mm256_loadu_si256((const __m256i *)aic_prune_lanes[byte]));
    _mm256_storeu_si256((__m256i *)(values + r->slot), packed);
    int zeroBits = _mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpeq_epi32(mag, _mm256_setzero_si256())));
    r->keptZeros += __builtin_popcount((unsigned)(byte & zeroBits));
    r->slot += __builtin_popcount((unsigned)byte);
    r->k += 8;
    if ((r->k & 4095) == 0) {
        r->signal += (double)aic_hsum(r->sig);
        r->error += (double)aic_hsum(r->err);
        r->sig = _mm256_setzero_ps();
        r->err = _mm256_setzero_ps();
    }
}

// Adds the lanes' sums of squares and largest pruned |x| to the state, with where the run stopped.
__attribute__((target("avx2,popcnt"), always_inline))
static inline void aic_prune_finish(aic_prune_state *st, const aic_prune_run *r) {
    double signal = r->signal + (double)aic_hsum(r->sig);
    double error = r->error + (double)aic_hsum(r->err);
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(r->mx), _mm256_extractf128_ps(r->mx, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_shuffle_ps(m4, m4, 1));
    float localMax = _mm_cvtss_f32(m4);
    if (localMax > st->maxAbs) st->maxAbs = localMax;
    st->k = r->k;
    st->slot = r->slot;
    st->keptZeros = r->keptZeros;
    st->signal = signal;
    st->error = error;
}
#endif
#endif
