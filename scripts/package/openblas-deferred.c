// Linked into the release binary by scripts/package.sh (not into `swift build` builds).
//
// OpenBLAS starts its worker threads in a constructor, before main, and each one spins on
// sched_yield for up to 2^28 cycles waiting for work: on every run, also of `inspect`, which
// multiplies no matrices (a fifth of its CPU time in the static binary). Here OpenBLAS is told
// to start single-threaded and is raised to its usual thread count (every core it may run on)
// on the first matrix product. A user's own OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS or
// OMP_NUM_THREADS is left alone and obeyed as before.
//
// Mechanics: the linker's --wrap=getenv, --wrap=cblas_sgemm and --wrap=openblas_get_num_threads
// send every call of those (OpenBLAS's own getenv calls included) through the functions below.
// OpenBLAS reads OPENBLAS_NUM_THREADS once, in its constructor; until the first product, that one
// name reads as "1" when the user set none of the three. The environment itself is not changed:
// setenv before main moves `environ`, and the Swift runtime finds argv from it (every argument
// was lost when this first used setenv).
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <cblas.h>

char *__real_getenv(const char *name);
static int raised;   // the first product has run (or a thread count was asked for)
static int faked;    // OpenBLAS was given "1" by us, so it is owed its usual count
static pthread_once_t raising = PTHREAD_ONCE_INIT;

char *__wrap_getenv(const char *name) {
    if (!__atomic_load_n(&raised, __ATOMIC_ACQUIRE) && strcmp(name, "OPENBLAS_NUM_THREADS") == 0 &&
        !__real_getenv("OPENBLAS_NUM_THREADS") && !__real_getenv("GOTO_NUM_THREADS") &&
        !__real_getenv("OMP_NUM_THREADS")) {
        __atomic_store_n(&faked, 1, __ATOMIC_RELEASE);
        static char one[] = "1";
        return one;
    }
    return __real_getenv(name);
}

// Once, before the first product: the count OpenBLAS would have chosen at start-up.
static void raise_threads(void) {
    __atomic_store_n(&raised, 1, __ATOMIC_RELEASE);
    if (__atomic_load_n(&faked, __ATOMIC_ACQUIRE)) openblas_set_num_threads(openblas_get_num_procs());
}

int __real_openblas_get_num_threads(void);
int __wrap_openblas_get_num_threads(void) {
    pthread_once(&raising, raise_threads);
    return __real_openblas_get_num_threads();
}

void __real_cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE transA,
                        const enum CBLAS_TRANSPOSE transB, const blasint m, const blasint n, const blasint k,
                        const float alpha, const float *a, const blasint lda, const float *b, const blasint ldb,
                        const float beta, float *c, const blasint ldc);
void __wrap_cblas_sgemm(const enum CBLAS_ORDER order, const enum CBLAS_TRANSPOSE transA,
                        const enum CBLAS_TRANSPOSE transB, const blasint m, const blasint n, const blasint k,
                        const float alpha, const float *a, const blasint lda, const float *b, const blasint ldb,
                        const float beta, float *c, const blasint ldc) {
    pthread_once(&raising, raise_threads);
    __real_cblas_sgemm(order, transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}
