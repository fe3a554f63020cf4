#include "cformat.h"
#include <stdio.h>
#include <string.h>

// Swift reaches snprintf only through String(format:) or withVaList, whose CVarArg casts scan
// the binary's protocol-conformance table on first use (about a millisecond of `inspect`'s
// start-up); a double passed by value needs none of that.

// True for `%[-][width][.precision](f|e|g)` and nothing else, so `spec` can never ask snprintf
// for an argument it was not given.
static int is_double_conversion(const char *spec) {
    const char *p = spec;
    if (*p++ != '%') return 0;
    if (*p == '-') p++;
    for (int digits = 0; *p >= '0' && *p <= '9'; p++) if (++digits > 3) return 0;
    if (*p == '.') {
        p++;
        int digits = 0;
        for (; *p >= '0' && *p <= '9'; p++) if (++digits > 2) return 0;
        if (digits == 0) return 0;
    }
    if (*p != 'f' && *p != 'e' && *p != 'g') return 0;
    return p[1] == '\0';
}

int aic_format_double(char *out, size_t size, const char *spec, double value) {
    if (!is_double_conversion(spec)) return -1;
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wformat-nonliteral"
    return snprintf(out, size, spec, value);
#pragma clang diagnostic pop
}
