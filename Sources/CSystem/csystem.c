#include "csystem.h"
// Any libc header defines __GLIBC__ (through <features.h>); without one the test below is
// always false and the setting is silently never made.
#include <stdlib.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

int aic_set_mmap_threshold(int bytes) {
#if defined(__GLIBC__)
    return mallopt(M_MMAP_THRESHOLD, bytes);
#else
    (void)bytes;
    return 0;
#endif
}
