// SPDX-License-Identifier: MIT
/*
 * backtrace() from inside traced frames of a C program that does not link
 * libgcc_s: glibc dlopens it at the first backtrace(), so the unwinder
 * appears only while the program runs, with hijacked frames on the stack.
 * work_bt_outer -> work_bt_mid -> work_bt_leaf, which takes a backtrace and
 * checks that it names its callers; ROUNDS times.
 * Prints "frames N" (the same traced and untraced), "bad 0" when every
 * backtrace held work_bt_mid's and work_bt_outer's return addresses, and
 * "count F N".
 */
#include <execinfo.h>
#include <stdint.h>
#include <stdio.h>

#include "attach-gate.h"

#define ROUNDS 100
#define MAX_FRAMES 64
#define NOINL __attribute__((noinline, noclone))

static unsigned long c_outer, c_mid, c_leaf, bad;
static int frames;

int work_bt_leaf(int round);
int work_bt_mid(int round);
int work_bt_outer(int round);

/* Whether some frame returns into fn's first 256 bytes (a call site in it). */
static int has_caller(void *const *bt, int n, void *fn)
{
	for (int i = 0; i < n; i++)
		if ((uintptr_t)bt[i] > (uintptr_t)fn && (uintptr_t)bt[i] < (uintptr_t)fn + 256)
			return 1;
	return 0;
}

NOINL int work_bt_leaf(int round)
{
	void *bt[MAX_FRAMES];
	int n = backtrace(bt, MAX_FRAMES);

	c_leaf++;
	if (!has_caller(bt, n, (void *)work_bt_mid) || !has_caller(bt, n, (void *)work_bt_outer))
		bad++;
	if (round == 0)
		frames = n;
	__asm__ volatile("");
	return n;
}

NOINL int work_bt_mid(int round)
{
	int n = work_bt_leaf(round);

	c_mid++;
	__asm__ volatile("");
	return n + 1;
}

NOINL int work_bt_outer(int round)
{
	int n = work_bt_mid(round);

	c_outer++;
	__asm__ volatile("");
	return n + 1;
}

int main(void)
{
	long sum = 0;

	for (int i = 0; i < ROUNDS; i++)
		sum += work_bt_outer(i);
	printf("frames %d\nsum %ld\nbad %lu\n", frames, sum, bad);
	printf("count work_bt_outer %lu\ncount work_bt_mid %lu\ncount work_bt_leaf %lu\n", c_outer,
	       c_mid, c_leaf);
	return 0;
}
