// SPDX-License-Identifier: MIT
/*
 * Built twice: s-pie (-fPIE -pie, loaded at a random bias) and s-nopie
 * (-fno-pie -no-pie, at its link address).  Direct calls, a call through a
 * function pointer and rip-relative data access, so that symbol addresses
 * must be biased correctly for the probes to land.
 */
#include <stdio.h>

#include "attach-gate.h"

#define ITERATIONS 3000
#define EXIT_STATUS 10

static unsigned long calls_direct, calls_indirect, calls_data;
static unsigned long table[16];

__attribute__((noinline, noclone)) unsigned long work_pie_direct(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_pie_indirect(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_pie_data(unsigned long x);

__attribute__((noinline, noclone)) unsigned long work_pie_direct(unsigned long x)
{
	calls_direct++;
	__asm__ volatile("");
	return x + 1;
}

__attribute__((noinline, noclone)) unsigned long work_pie_indirect(unsigned long x)
{
	calls_indirect++;
	__asm__ volatile("");
	return x * 2;
}

__attribute__((noinline, noclone)) unsigned long work_pie_data(unsigned long x)
{
	calls_data++;
	table[x % 16] += x;
	return table[(x + 1) % 16];
}

/* volatile: the call through it stays an indirect call. */
static unsigned long (*volatile indirect)(unsigned long) = work_pie_indirect;

int main(void)
{
	unsigned long sum = 0;

	for (unsigned long i = 0; i < ITERATIONS; i++) {
		sum += work_pie_direct(i);
		sum += indirect(i);
		sum += work_pie_data(i);
	}
	printf("sum %lu\n", sum);
	printf("count work_pie_direct %lu\n", calls_direct);
	printf("count work_pie_indirect %lu\n", calls_indirect);
	printf("count work_pie_data %lu\n", calls_data);
	return EXIT_STATUS;
}
