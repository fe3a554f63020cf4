#ifndef GGML_KQUANTS_H
#define GGML_KQUANTS_H
#include <stdint.h>

/// Whether the AVX2 K-quant encoders can run on this CPU.
int aic_kquant_avx2_available(void);

/// ggml's `quantize_row_q4_K_ref` (or `quantize_row_q5_K_ref` when `fifth_bits`) over
/// `blocks` super-blocks of 256 values: `y` gets 144 (Q4_K) or 176 (Q5_K) bytes per block.
/// The `make_qkx2_quants` search runs for the 8 sub-blocks of a block at once, one AVX2 lane
/// each, with the C code's float operations in its order, so the bytes are the reference's.
/// Requires aic_kquant_avx2_available().
void aic_quantize_q4_K_avx2(const float *x, uint8_t *y, int64_t blocks, int fifth_bits);

/// ggml's `quantize_row_q6_K_ref` over `blocks` super-blocks of 256 values (210 bytes each),
/// the `make_qx_quants` search on 8 sub-blocks of 16 at once. Requires
/// aic_kquant_avx2_available().
void aic_quantize_q6_K_avx2(const float *x, uint8_t *y, int64_t blocks);

/// ggml's `quantize_row_q2_K_ref` over `blocks` super-blocks of 256 values (84 bytes each),
/// the `make_qkx2_quants` search (mean absolute error) on 8 sub-blocks of 16 at once.
/// Requires aic_kquant_avx2_available().
void aic_quantize_q2_K_avx2(const float *x, uint8_t *y, int64_t blocks);

/// ggml's `quantize_row_q3_K_ref` over `blocks` super-blocks of 256 values (110 bytes each),
/// the `make_q3_quants` search on 8 sub-blocks of 16 at once. Requires
/// aic_kquant_avx2_available().
void aic_quantize_q3_K_avx2(const float *x, uint8_t *y, int64_t blocks);

/// ggml's `quantize_row_q2_K_impl` / `quantize_row_q3_K_impl` with `quant_weights` (what
/// llama-quantize --imatrix runs) over `blocks` super-blocks of 256 values `x` and their 256
/// importances `qw` each (both advance by 256 a block): the fits on 8 sub-blocks of 16 at once,
/// `make_qp_quants` (Q2_K) scalar, Q3_K's `make_qx_quants` of the 16 scales in one lane.
/// Requires aic_kquant_avx2_available().
void aic_quantize_q2_K_weighted_avx2(const float *x, const float *qw, uint8_t *y, int64_t blocks);
void aic_quantize_q3_K_weighted_avx2(const float *x, const float *qw, uint8_t *y, int64_t blocks);

/// Whether aic_f16_to_f32_f16c can run on this CPU (F16C).
int aic_f16c_available(void);

/// `n` little-endian IEEE half floats (`h` need not be aligned) to floats with F16C: exact, and
/// a signalling NaN comes out quiet, as ggml's software fp16→fp32 makes it.
/// Requires aic_f16c_available().
void aic_f16_to_f32_f16c(const uint16_t *h, float *x, int64_t n);

#endif
