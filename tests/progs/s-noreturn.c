// SPDX-License-Identifier: MIT
/*
 * Functions that never return.
 *
 *   s-noreturn exit|abort
 *
 * CALLS calls of work_nr_outer -> work_nr_middle -> work_nr_leaf that
 * return, then one more work_nr_outer -> work_nr_middle -> work_nr_end,
 * which calls exit(EXIT_STATUS) or abort() inside itself: three traced
 * frames are live when the process ends.  The counts are printed (and
 * flushed) before the end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach-gate.h"

#define CALLS 10000
#define EXIT_STATUS 16

static unsigned long calls_outer, calls_middle, calls_leaf, calls_end;
static int use_abort;

__attribute__((noinline, noclone)) unsigned long work_nr_leaf(unsigned long x);
__attribute__((noinline, noclone)) void work_nr_end(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_nr_middle(unsigned long x, int last);
__attribute__((noinline, noclone)) unsigned long work_nr_outer(unsigned long x, int last);

__attribute__((noinline, noclone)) unsigned long work_nr_leaf(unsigned long x)
{
	calls_leaf++;
	__asm__ volatile("");
	return x + 1;
}

static void print_counts(void)
{
	printf("count work_nr_outer %lu\n", calls_outer);
	printf("count work_nr_middle %lu\n", calls_middle);
	printf("count work_nr_leaf %lu\n", calls_leaf);
	printf("count work_nr_end %lu\n", calls_end);
	fflush(stdout);
}

__attribute__((noinline, noclone)) void work_nr_end(unsigned long x)
{
	calls_end++;
	print_counts();
	if (use_abort)
		abort();
	exit(EXIT_STATUS + (int)(x & 0));
}

__attribute__((noinline, noclone)) unsigned long work_nr_middle(unsigned long x, int last)
{
	unsigned long r;

	calls_middle++;
	if (last)
		work_nr_end(x);
	r = work_nr_leaf(x);
	__asm__ volatile("" : "+r"(r));
	return r * 2;
}

__attribute__((noinline, noclone)) unsigned long work_nr_outer(unsigned long x, int last)
{
	unsigned long r;

	calls_outer++;
	r = work_nr_middle(x, last);
	__asm__ volatile("" : "+r"(r));
	return r + 3;
}

int main(int argc, char **argv)
{
	unsigned long sum = 0;

	if (argc < 2 || (strcmp(argv[1], "exit") != 0 && strcmp(argv[1], "abort") != 0)) {
		fprintf(stderr, "usage: s-noreturn exit|abort\n");
		return 2;
	}
	use_abort = strcmp(argv[1], "abort") == 0;
	for (unsigned long i = 0; i < CALLS; i++)
		sum += work_nr_outer(i, 0);
	printf("sum %lu\n", sum);
	work_nr_outer(CALLS, 1);
	return 1;
}
