// SPDX-License-Identifier: MIT
/*
 * Stack traces (--stack stk_inner): ROUNDS times main -> stk_outer (traced)
 * -> stk_mid (untraced, in libutstk.so, built without frame pointers) ->
 * stk_inner, and once main -> stk_inner.  stk_inner takes its own
 * backtrace() and prints its callers' return addresses, "bt A1 A2 A3 A4",
 * for the test to compare with the stack utrace recorded at its entry;
 * then "count F N".
 */
#include <execinfo.h>
#include <stdio.h>

#include "attach-gate.h"

#define ROUNDS 20
#define BT_MAX 16
#define NOINL __attribute__((noinline, noclone))

int stk_mid(int i);
int stk_inner(int i);
NOINL int stk_outer(int i);

static unsigned long c_outer, c_inner;

/* Called from libutstk.so: exported. */
__attribute__((noinline, noclone, visibility("default"))) int stk_inner(int i)
{
	void *bt[BT_MAX];
	int n = backtrace(bt, BT_MAX);

	c_inner++;
	printf("bt");
	/* bt[0] is in stk_inner itself: its callers' return addresses follow */
	for (int k = 1; k < n && k <= 4; k++)
		printf(" %p", bt[k]);
	printf("\n");
	return i + n;
}

NOINL int stk_outer(int i)
{
	int r = stk_mid(i) + 1;

	c_outer++;
	__asm__ volatile("" : "+r"(r));
	return r;
}

int main(void)
{
	long sum = 0;

	for (int i = 0; i < ROUNDS; i++)
		sum += stk_outer(i);
	sum += stk_inner(-1);
	printf("sum %ld\n", sum);
	printf("count stk_outer %lu\ncount stk_inner %lu\n", c_outer, c_inner);
	return 0;
}
