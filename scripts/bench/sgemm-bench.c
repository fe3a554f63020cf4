// Single-thread GFLOP/s of aic_sgemm (Sources/CKernels/sgemm.c) against OpenBLAS's cblas_sgemm on
// one shape, A (m x k) times B (k x n, or n x k stored with TRANSB=1), in the same process, each
// timed over 3 products, twice. Built and run by scripts/bench-sgemm.sh. Correctness is
// BLASTests' (bit for bit against the plain loop); this only times.
#include "sgemm.h"
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec + t.tv_nsec * 1e-9; }
static float rnd(unsigned *s) { *s = *s * 1664525u + 1013904223u; return ((*s >> 8) / 16777216.0f) * 2 - 1; }

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: sgemm-bench M N K TRANSB\n"); return 2; }
    const int m = atoi(argv[1]), n = atoi(argv[2]), k = atoi(argv[3]), tb = atoi(argv[4]);
    if (m <= 0 || n <= 0 || k <= 0) { fprintf(stderr, "sgemm-bench: M, N, K must be positive\n"); return 2; }
    unsigned s = 1;
    float *a = malloc(4L * m * k), *b = malloc(4L * k * n), *c = malloc(4L * m * n);
    if (!a || !b || !c) { fprintf(stderr, "sgemm-bench: out of memory\n"); return 1; }
    for (long i = 0; i < (long)m * k; i++) a[i] = rnd(&s);
    for (long i = 0; i < (long)k * n; i++) b[i] = rnd(&s);
    for (int r = 0; r < 2; r++) {
        double t = now();
        for (int it = 0; it < 3; it++) aic_sgemm(0, tb, m, n, k, 1, a, k, b, tb ? k : n, 0, c, n);
        const double ours = (now() - t) / 3;
        t = now();
        for (int it = 0; it < 3; it++)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n, k, 1, a, k, b, tb ? k : n, 0, c, n);
        const double theirs = (now() - t) / 3;
        printf("%d x %d x %d transB %d: aic_sgemm %.1f GF/s, OpenBLAS %.1f GF/s, time ratio ours/OpenBLAS %.2f\n",
               m, n, k, tb, 2.0 * m * n * k / ours / 1e9, 2.0 * m * n * k / theirs / 1e9, ours / theirs);
    }
    return 0;
}
