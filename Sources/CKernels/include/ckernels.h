#ifndef CKERNELS_H
#define CKERNELS_H
#include <stddef.h>
#include <stdint.h>
#include "obs_update.h"

/// Running state of the f32 magnitude-pruning writer over one chunk (see Passes/Pruning/SparseMaskWriter.swift, Writer, and PruneKernels.swift).
typedef struct {
    int64_t k;          ///< next element (index within the tensor)
    int64_t slot;       ///< next value slot in the sparse output
    int64_t ties;       ///< ties at the threshold still to keep
    int64_t keptZeros;  ///< kept elements that are zero
    double signal;      ///< sum of x^2
    double error;       ///< sum of x^2 over pruned elements
    float maxAbs;       ///< largest |x| pruned
} aic_prune_state;

/// Whether the AVX2 kernels can run on this CPU.
int aic_avx2_available(void);

/// Writes groups of eight f32 elements from `state->k` while a whole group fits before `end`
/// and its kept values fit before `slotEnd`: one mask byte per group (bit j = element kept) and
/// the kept values packed at `values + slot` by an AVX2 permute. An element is kept when
/// |x| (bit pattern) > `threshold`, or == it while `ties` last. Requires aic_avx2_available().
void aic_prune_f32_sparse_avx2(const uint32_t *bits, int64_t end, uint32_t threshold,
                               uint8_t *maskBytes, uint32_t *values, int64_t slotEnd, aic_prune_state *state);

/// The N:M writer (m = 1, 2, 4 or 8; `state->k` a multiple of 8, so lanes hold whole groups):
/// groups of eight elements from `state->k` while a whole group fits before `end` and its kept
/// values before `slotEnd`. In each group of m the n elements of largest magnitude (bit pattern
/// without the sign; ties to the lower index) are kept. Requires aic_avx2_available().
void aic_prune_nm_f32_sparse_avx2(const uint32_t *bits, int64_t end, int32_t n, int32_t m,
                                  uint8_t *maskBytes, uint32_t *values, int64_t slotEnd, aic_prune_state *state);

#endif
