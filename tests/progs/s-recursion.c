// SPDX-License-Identifier: MIT
/*
 * work_recurse calls itself DEPTH deep (not a tail call: the result is used
 * after the call), ROUNDS times, so the shadow stack must hold DEPTH entries.
 */
#include <stdio.h>

#include "attach-gate.h"

#define DEPTH 10000
#define ROUNDS 2
#define EXIT_STATUS 4

static unsigned long calls_recurse, calls_root;

__attribute__((noinline, noclone)) unsigned long work_recurse(unsigned int n);
__attribute__((noinline, noclone)) unsigned long work_root(unsigned int n);

__attribute__((noinline, noclone)) unsigned long work_recurse(unsigned int n)
{
	unsigned long r = 0;

	calls_recurse++;
	if (n > 1)
		r = work_recurse(n - 1);
	/* An opaque use of the result: keeps the recursion a real call. */
	__asm__ volatile("" : "+r"(r));
	return r + n;
}

__attribute__((noinline, noclone)) unsigned long work_root(unsigned int n)
{
	unsigned long r;

	calls_root++;
	r = work_recurse(n);
	__asm__ volatile("" : "+r"(r));
	return r;
}

int main(void)
{
	unsigned long sum = 0;

	for (int i = 0; i < ROUNDS; i++)
		sum += work_root(DEPTH);
	printf("sum %lu\n", sum);
	printf("count work_recurse %lu\n", calls_recurse);
	printf("count work_root %lu\n", calls_root);
	return EXIT_STATUS;
}
