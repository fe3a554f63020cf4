// CRC-32 by folding with carry-less multiplication, after Gopal et al., "Fast CRC Computation
// for Generic Polynomials Using PCLMULQDQ Instruction" (Intel, 2009), for the bit-reflected
// polynomial 0x04C11DB7 (0xEDB88320 reflected). Four 128-bit lanes fold 64 bytes per step with
// the constants x^(512±32) mod P; they fold into one lane with x^(128±32) mod P, which then
// folds the remaining 16-byte blocks. Instead of a Barrett reduction, the last 128-bit value is
// handed to zlib as a 16-byte message: it has the same CRC residue as everything folded into
// it, so zlib's CRC of it (then of the tail) is the CRC of the whole input.
#include "ccrc32.h"
#include <zlib.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

__attribute__((target("pclmul,sse2")))
static inline __m128i fold(__m128i x, __m128i k, __m128i data) {
    __m128i lo = _mm_clmulepi64_si128(x, k, 0x00);
    __m128i hi = _mm_clmulepi64_si128(x, k, 0x11);
    return _mm_xor_si128(_mm_xor_si128(lo, hi), data);
}

__attribute__((target("pclmul,sse2")))
static uint32_t crc32_fold(uint32_t crc, const unsigned char *p, size_t len) {
    // len >= 64
    const __m128i k1k2 = _mm_set_epi64x(0x1c6e41596LL, 0x154442bd4LL);  // x^(4*128+32), x^(4*128-32) mod P
    const __m128i k3k4 = _mm_set_epi64x(0x0ccaa009eLL, 0x1751997d0LL);  // x^(128+32), x^(128-32) mod P
    __m128i x0 = _mm_loadu_si128((const __m128i *)(p + 0));
    __m128i x1 = _mm_loadu_si128((const __m128i *)(p + 16));
    __m128i x2 = _mm_loadu_si128((const __m128i *)(p + 32));
    __m128i x3 = _mm_loadu_si128((const __m128i *)(p + 48));
    // zlib's register starts at ~crc and is XORed into the first four message bytes
    x0 = _mm_xor_si128(x0, _mm_cvtsi32_si128((int)~crc));
    p += 64;
    len -= 64;
    while (len >= 64) {
        x0 = fold(x0, k1k2, _mm_loadu_si128((const __m128i *)(p + 0)));
        x1 = fold(x1, k1k2, _mm_loadu_si128((const __m128i *)(p + 16)));
        x2 = fold(x2, k1k2, _mm_loadu_si128((const __m128i *)(p + 32)));
        x3 = fold(x3, k1k2, _mm_loadu_si128((const __m128i *)(p + 48)));
        p += 64;
        len -= 64;
    }
    x0 = fold(x0, k3k4, x1);
    x0 = fold(x0, k3k4, x2);
    x0 = fold(x0, k3k4, x3);
    while (len >= 16) {
        x0 = fold(x0, k3k4, _mm_loadu_si128((const __m128i *)p));
        p += 16;
        len -= 16;
    }
    unsigned char rest[16];
    _mm_storeu_si128((__m128i *)rest, x0);
    // the 16 bytes as a message from a zero register (zlib's initial ~0xFFFFFFFF), then the tail
    uLong c = crc32_z(0xFFFFFFFFUL, rest, 16);
    return (uint32_t)crc32_z(c, p, len);
}

int aic_crc32_accelerated(void) {
    return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse2");
}

uint32_t aic_crc32(uint32_t crc, const unsigned char *buf, size_t len) {
    static int accelerated = -1;
    if (accelerated < 0) accelerated = aic_crc32_accelerated();
    if (accelerated && len >= 64) return crc32_fold(crc, buf, len);
    return (uint32_t)crc32_z(crc, buf, len);
}
#else
int aic_crc32_accelerated(void) { return 0; }
uint32_t aic_crc32(uint32_t crc, const unsigned char *buf, size_t len) { return (uint32_t)crc32_z(crc, buf, len); }
#endif
