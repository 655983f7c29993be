/* SPDX-License-Identifier: MIT */
/*
 * Durations as the human views print them (the text call graph, the
 * report), so that the same call reads the same everywhere.
 */
#ifndef UTRACE_FMT_TIME_H
#define UTRACE_FMT_TIME_H

#include <stdint.h>

/* Room for any duration: 20 digits, '.', 3 decimals, ' ', a 2-byte unit, NUL. */
#define UT_DURATION_BUF 32

/*
 * ns in uftrace's units, the largest that keeps the integer part nonzero,
 * with 3 decimals (truncated): "  1.234 us", " 12.000 ms", "  7.000 ns".
 * Up to 999 of a unit it is 10 bytes wide; seconds past that widen it.
 * Returns buf.
 */
const char *ut_fmt_duration(char buf[UT_DURATION_BUF], uint64_t ns);

#endif
