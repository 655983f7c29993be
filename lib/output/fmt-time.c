// SPDX-License-Identifier: MIT
/* Durations in the human views' units (fmt-time.h). */
#include <inttypes.h>
#include <stdio.h>

#include "fmt-time.h"

#define NSEC_PER_USEC 1000ULL
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC 1000000000ULL
/* Durations show thousandths of their unit. */
#define DURATION_FRAC 1000

const char *ut_fmt_duration(char buf[UT_DURATION_BUF], uint64_t ns)
{
	uint64_t unit = 1;
	const char *name = "ns";

	if (ns >= NSEC_PER_SEC) {
		unit = NSEC_PER_SEC;
		name = " s";
	} else if (ns >= NSEC_PER_MSEC) {
		unit = NSEC_PER_MSEC;
		name = "ms";
	} else if (ns >= NSEC_PER_USEC) {
		unit = NSEC_PER_USEC;
		name = "us";
	}
	/* units are 1 or multiples of DURATION_FRAC: divide the unit, not ns * FRAC */
	snprintf(buf, UT_DURATION_BUF, "%3" PRIu64 ".%03" PRIu64 " %s", ns / unit,
		 unit == 1 ? 0 : (ns % unit) / (unit / DURATION_FRAC), name);
	return buf;
}
