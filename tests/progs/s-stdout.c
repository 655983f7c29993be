// SPDX-License-Identifier: MIT
/*
 * Heavy stdout while traced: LINES lines of about 70 bytes (1.2 MB), each
 * built by traced calls, written with stdio.  The traced run's stdout must
 * be byte-identical to the untraced one (nothing of the tracer's own output
 * may leak into it, nothing may be lost in a full pipe).
 */
#include <stdio.h>

#include "attach-gate.h"

#define LINES 18000
#define EXIT_STATUS 12

static unsigned long calls_line, calls_digest;

__attribute__((noinline, noclone)) unsigned long work_out_digest(unsigned long x);
__attribute__((noinline, noclone)) int work_out_line(unsigned long i);

__attribute__((noinline, noclone)) unsigned long work_out_digest(unsigned long x)
{
	calls_digest++;
	__asm__ volatile("");
	return (x * 0x9E3779B97F4A7C15ULL) >> 7;
}

__attribute__((noinline, noclone)) int work_out_line(unsigned long i)
{
	calls_line++;
	return printf("line %06lu digest %016lx padding-padding-padding-pad\n", i,
		      work_out_digest(i));
}

int main(void)
{
	unsigned long bytes = 0;

	for (unsigned long i = 0; i < LINES; i++)
		bytes += (unsigned long)work_out_line(i);
	printf("bytes %lu\n", bytes);
	printf("count work_out_line %lu\n", calls_line);
	printf("count work_out_digest %lu\n", calls_digest);
	return EXIT_STATUS;
}
