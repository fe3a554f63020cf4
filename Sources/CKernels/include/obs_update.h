#ifndef OBS_UPDATE_H
#define OBS_UPDATE_H
#include <stdint.h>

// The lazy update of the optimal-brain-surgeon column sweep (GPTQ, SparseGPT:
// Passes/Calibration/OBSSweep.swift): W[:, end...] -= E * U[block rows, end...]. Each output
// element takes its terms in ascending i, each as a separate rounded multiply and subtract
// (c = c - e[i] * u[i], no fused multiply-add), whatever the number of rows, the CPU or the
// thread that computes it, so a row's result depends on that row alone: GPTQ of a matrix in row
// chunks gives the bytes of the whole matrix on every machine (a BLAS sgemm rounds by kernel,
// and picks kernels by shape and CPU). OBSSweep.lazyUpdateReference is the plain twin,
// OBSLazyUpdateTests compares them bit for bit. AVX2 is used when the CPU has it (same bits).

/// For r < rows, j < rest: w[r * stride + j] -= sum over i < width, in ascending i, of
/// e[r * width + i] * u[i * rest + j].
void aic_obs_lazy_update(float *w, int64_t rows, int64_t stride, const float *e, int64_t width,
                         const float *u, int64_t rest);

#endif
