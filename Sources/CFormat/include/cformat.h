// C's number formatting for the CLI's text output. Used from one Swift file:
// Sources/aicompress/Format.swift.
#ifndef CFORMAT_H
#define CFORMAT_H

#include <stddef.h>

/// Writes `value` as snprintf does with `spec`, one double conversion: `%`, an optional `-`, an
/// optional width, an optional `.` and precision, then one of `f`, `e`, `g` (`%.4g`, `%-11.4g`).
/// Returns the length snprintf gives (the text is cut at `size - 1` bytes when longer), or -1
/// when `spec` is not such a conversion (then nothing is written to `out`).
int aic_format_double(char *out, size_t size, const char *spec, double value);

#endif
