#ifndef CCRC32_H
#define CCRC32_H
#include <stddef.h>
#include <stdint.h>

/// CRC-32 (zlib's, ISO-HDLC) of `len` bytes continuing from `crc` (0 to start): equal to
/// zlib's crc32_z. Uses carry-less multiplication (PCLMULQDQ) to fold 64 bytes at a time when
/// the CPU has it, else zlib.
uint32_t aic_crc32(uint32_t crc, const unsigned char *buf, size_t len);

/// Whether aic_crc32 uses the PCLMULQDQ path on this CPU.
int aic_crc32_accelerated(void);

#endif
