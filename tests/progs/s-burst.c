// SPDX-License-Identifier: MIT
/*
 * A burst of calls with nothing in between, for a ring far too small for it
 * (`--bufsize 4K`): events must be dropped, and every one of them either
 * recorded or counted, per function.  work_burst_outer calls
 * work_burst_inner, so the two drop at different rates.
 */
#include <stdio.h>

#include "attach-gate.h"

#define BURST 100000
#define EXIT_STATUS 11

static unsigned long calls_outer, calls_inner;

__attribute__((noinline, noclone)) unsigned long work_burst_inner(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_burst_outer(unsigned long x);

__attribute__((noinline, noclone)) unsigned long work_burst_inner(unsigned long x)
{
	calls_inner++;
	__asm__ volatile("");
	return x * 3;
}

__attribute__((noinline, noclone)) unsigned long work_burst_outer(unsigned long x)
{
	unsigned long r;

	calls_outer++;
	r = work_burst_inner(x);
	__asm__ volatile("" : "+r"(r));
	return r + 1;
}

int main(void)
{
	unsigned long sum = 0;

	for (unsigned long i = 0; i < BURST; i++)
		sum += work_burst_outer(i);
	for (unsigned long i = 0; i < BURST; i++)
		sum += work_burst_inner(i);
	printf("sum %lu\n", sum);
	printf("count work_burst_outer %lu\n", calls_outer);
	printf("count work_burst_inner %lu\n", calls_inner);
	return EXIT_STATUS;
}
