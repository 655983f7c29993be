// SPDX-License-Identifier: MIT
/*
 * A three-deep call chain work_a -> work_b -> work_c, run ITERATIONS times
 * from an untraced main.  Expected call graph per iteration:
 *
 *   work_a
 *     work_b
 *       work_c
 */
#include <stdio.h>

#include "attach-gate.h"

#define ITERATIONS 1000
#define EXIT_STATUS 3

static unsigned long calls_a, calls_b, calls_c;

__attribute__((noinline, noclone)) int work_c(int x);
__attribute__((noinline, noclone)) int work_b(int x);
__attribute__((noinline, noclone)) int work_a(int x);

__attribute__((noinline, noclone)) int work_c(int x)
{
	calls_c++;
	__asm__ volatile("");
	return x * 3 + 1;
}

__attribute__((noinline, noclone)) int work_b(int x)
{
	int r;

	calls_b++;
	r = work_c(x + 1);
	__asm__ volatile("" : "+r"(r));
	return r + 2;
}

__attribute__((noinline, noclone)) int work_a(int x)
{
	int r;

	calls_a++;
	r = work_b(x ^ 5);
	__asm__ volatile("" : "+r"(r));
	return r - 1;
}

int main(void)
{
	unsigned long sum = 0;

	for (int i = 0; i < ITERATIONS; i++)
		sum += (unsigned int)work_a(i);
	printf("sum %lu\n", sum);
	printf("count work_a %lu\n", calls_a);
	printf("count work_b %lu\n", calls_b);
	printf("count work_c %lu\n", calls_c);
	return EXIT_STATUS;
}
