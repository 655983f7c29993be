// SPDX-License-Identifier: MIT
/* Durations in the human views' units (fmt-time.h). */
#include <stdint.h>

#include "fmt-time.h"
#include "output-internal.h"
#include "base.h"

/* Durations show thousandths of their unit. */
#define DURATION_FRAC 1000

/* "%3u.%03u NAME" without printf: the views print millions of these. */
static void fmt_fixed(char *buf, uint64_t whole, uint64_t thousandths, const char *name)
{
	char *p = buf;

	/* right-aligned in 3 columns, as %3u */
	for (uint64_t v = whole; v < 100 && p - buf < 2; v *= 10)
		*p++ = ' ';
	p = ut_put_dec(p, whole);

	*p++ = '.';
	*p++ = (char)('0' + thousandths / 100);
	*p++ = (char)('0' + thousandths / 10 % 10);
	*p++ = (char)('0' + thousandths % 10);
	*p++ = ' ';
	*p++ = name[0];
	*p++ = name[1];
	*p = 0;
}

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
	fmt_fixed(buf, ns / unit, unit == 1 ? 0 : (ns % unit) / (unit / DURATION_FRAC), name);
	return buf;
}
