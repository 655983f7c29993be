// SPDX-License-Identifier: MIT
/*
 * ITERATIONS times: setjmp in main, then work_lj_outer -> work_lj_middle ->
 * work_lj_inner, which longjmps back to main out of all three traced frames
 * on every iteration but each RETURN_EVERY-th, where the chain returns
 * normally.  For each function: entries = calls, exits + unwinds = calls.
 * A tracer that never discards the skipped shadow-stack entries overflows.
 */
#include <setjmp.h>
#include <stdio.h>

#include "attach-gate.h"

#define ITERATIONS 100000
#define RETURN_EVERY 10
#define EXIT_STATUS 7

static jmp_buf env;
static unsigned long calls_outer, calls_middle, calls_inner, jumps;

__attribute__((noinline, noclone)) unsigned long work_lj_inner(unsigned long i);
__attribute__((noinline, noclone)) unsigned long work_lj_middle(unsigned long i);
__attribute__((noinline, noclone)) unsigned long work_lj_outer(unsigned long i);

__attribute__((noinline, noclone)) unsigned long work_lj_inner(unsigned long i)
{
	calls_inner++;
	__asm__ volatile("");
	if (i % RETURN_EVERY != 0)
		longjmp(env, 1);
	return i + 1;
}

__attribute__((noinline, noclone)) unsigned long work_lj_middle(unsigned long i)
{
	unsigned long r;

	calls_middle++;
	r = work_lj_inner(i);
	__asm__ volatile("" : "+r"(r));
	return r * 2;
}

__attribute__((noinline, noclone)) unsigned long work_lj_outer(unsigned long i)
{
	unsigned long r;

	calls_outer++;
	r = work_lj_middle(i);
	__asm__ volatile("" : "+r"(r));
	return r + 3;
}

int main(void)
{
	volatile unsigned long i;
	volatile unsigned long sum = 0;

	for (i = 0; i < ITERATIONS; i++) {
		if (setjmp(env) == 0)
			sum += work_lj_outer(i);
		else
			jumps++;
	}
	printf("sum %lu\n", sum);
	printf("longjmps %lu\n", jumps);
	printf("count work_lj_outer %lu\n", calls_outer);
	printf("count work_lj_middle %lu\n", calls_middle);
	printf("count work_lj_inner %lu\n", calls_inner);
	return EXIT_STATUS;
}
