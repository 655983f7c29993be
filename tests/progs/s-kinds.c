// SPDX-License-Identifier: MIT
/*
 * One workload built as several kinds of binary (tests/progs/meson.build):
 * static, static-pie, -fcf-protection=full, stripped to .dynsym, LTO.
 * Every work_* function counts its calls; the traced run must print the
 * same as the untraced one and its events must match the counts.
 *
 *   main
 *     work_mid            direct calls
 *       work_leaf
 *     work_ind_a/b        indirect calls through a table (endbr64 targets)
 *     qsort               libc calls back into the program
 *       work_cmp
 *     work_scale          a constant argument: work_scale.constprop.N under
 *                         KINDS_CLONES (the LTO build)
 *     work_check          a cold path never taken, moved to work_check.cold
 *
 * The traced functions are global (not static) so that -rdynamic exports
 * them to .dynsym for the stripped build.
 */
#include <stdio.h>
#include <stdlib.h>

#include "attach-gate.h"

#define ITERATIONS 2000
#define NSORT 16
#define EXIT_STATUS 5

/* Only the LTO build lets gcc clone and split the functions it may. */
#ifdef KINDS_CLONES
#define KINDS_NOCLONE
#define KINDS_USED
#else
#define KINDS_NOCLONE noclone,
#define KINDS_USED used
#endif
#define WORK __attribute__((noinline, KINDS_NOCLONE KINDS_USED))

unsigned long calls_leaf, calls_mid, calls_ind_a, calls_ind_b, calls_cmp, calls_scale, calls_check;

WORK int work_leaf(int x);
WORK int work_mid(int x);
WORK int work_ind_a(int x);
WORK int work_ind_b(int x);
WORK int work_cmp(const void *a, const void *b);
WORK int work_scale(int x, int k);
WORK int work_check(int x);

WORK int work_leaf(int x)
{
	calls_leaf++;
	__asm__ volatile("");
	return x * 7 + 3;
}

WORK int work_mid(int x)
{
	int r;

	calls_mid++;
	r = work_leaf(x + 1);
	__asm__ volatile("" : "+r"(r));
	return r ^ 0x55;
}

WORK int work_ind_a(int x)
{
	calls_ind_a++;
	__asm__ volatile("");
	return x + 11;
}

WORK int work_ind_b(int x)
{
	calls_ind_b++;
	__asm__ volatile("");
	return x - 13;
}

WORK int work_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	calls_cmp++;
	return (x > y) - (x < y);
}

WORK int work_scale(int x, int k)
{
	calls_scale++;
	__asm__ volatile("");
	return x * k + (x >> 3);
}

/* Cold: gcc moves the block calling it out of work_check into work_check.cold. */
__attribute__((cold, noinline)) void kinds_report(int x);

__attribute__((cold, noinline)) void kinds_report(int x)
{
	fprintf(stderr, "work_check: negative %d\n", x);
}

WORK int work_check(int x)
{
	calls_check++;
	if (x < 0) {
		kinds_report(x);
		kinds_report(x + 1);
		x = -x;
	}
	return x % 1000;
}

static int (*volatile indirect[2])(int) = { work_ind_a, work_ind_b };

static long sort_round(int seed)
{
	int v[NSORT];
	long sum = 0;

	for (int i = 0; i < NSORT; i++)
		v[i] = (seed * 31 + i * 17) % 101;
	qsort(v, NSORT, sizeof(v[0]), work_cmp);
	for (int i = 0; i < NSORT; i++)
		sum += (long)v[i] * (i + 1);
	return sum;
}

int main(void)
{
	long sum = 0;

	for (int i = 0; i < ITERATIONS; i++) {
		sum += work_mid(i);
		sum += indirect[i & 1](i);
		sum += work_scale(i, 3);
		sum += work_check(i);
		if (i % 10 == 0)
			sum += sort_round(i);
	}
	printf("sum %ld\n", sum);
	printf("count work_leaf %lu\n", calls_leaf);
	printf("count work_mid %lu\n", calls_mid);
	printf("count work_ind_a %lu\n", calls_ind_a);
	printf("count work_ind_b %lu\n", calls_ind_b);
	printf("count work_cmp %lu\n", calls_cmp);
	printf("count work_scale %lu\n", calls_scale);
	printf("count work_check %lu\n", calls_check);
	return EXIT_STATUS;
}
