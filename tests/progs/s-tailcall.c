// SPDX-License-Identifier: MIT
/*
 * Traced functions that tail-call traced functions (built -O2
 * -foptimize-sibling-calls; each ends in a `jmp`, checked with objdump):
 *
 *   main -> work_tail_a --jmp--> work_tail_b --jmp--> work_tail_c --ret--> main
 *
 * One return ends three traced calls: the tracer must emit one exit for
 * each, innermost first.  work_tail_c also makes an ordinary call to
 * work_tail_leaf, nested under the chain.
 */
#include <stdio.h>

#include "attach-gate.h"

#define ITERATIONS 2000
#define EXIT_STATUS 8

static unsigned long calls_a, calls_b, calls_c, calls_leaf;

__attribute__((noinline, noclone)) unsigned long work_tail_leaf(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_tail_c(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_tail_b(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_tail_a(unsigned long x);

__attribute__((noinline, noclone)) unsigned long work_tail_leaf(unsigned long x)
{
	calls_leaf++;
	__asm__ volatile("");
	return x ^ 0x55;
}

__attribute__((noinline, noclone)) unsigned long work_tail_c(unsigned long x)
{
	unsigned long r;

	calls_c++;
	r = work_tail_leaf(x);
	__asm__ volatile("" : "+r"(r));
	return r + 1;
}

__attribute__((noinline, noclone)) unsigned long work_tail_b(unsigned long x)
{
	calls_b++;
	__asm__ volatile("");
	return work_tail_c(x * 3);
}

__attribute__((noinline, noclone)) unsigned long work_tail_a(unsigned long x)
{
	calls_a++;
	__asm__ volatile("");
	return work_tail_b(x + 2);
}

int main(void)
{
	unsigned long sum = 0;

	for (unsigned long i = 0; i < ITERATIONS; i++)
		sum += work_tail_a(i);
	printf("sum %lu\n", sum);
	printf("count work_tail_a %lu\n", calls_a);
	printf("count work_tail_b %lu\n", calls_b);
	printf("count work_tail_c %lu\n", calls_c);
	printf("count work_tail_leaf %lu\n", calls_leaf);
	return EXIT_STATUS;
}
