// System calls Swift's Glibc module does not import (glibc's malloc tuning). Used from one Swift
// file: Sources/AICompressFormats/IO/HeapTuning.swift.
#ifndef CSYSTEM_H
#define CSYSTEM_H

/// Serves allocations of at least `bytes` with their own mapping, returned to the system when
/// freed (glibc's M_MMAP_THRESHOLD, which also stops glibc from raising the threshold after each
/// large free). Returns 1 on success, 0 where the C library has no such setting.
int aic_set_mmap_threshold(int bytes);

#endif
