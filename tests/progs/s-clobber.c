// SPDX-License-Identifier: MIT
/*
 * Register preservation across a traced call.  work_clobber_leaf is static,
 * so with -O2 (-fipa-ra) gcc knows exactly which registers it touches (rax,
 * rdi and memory) and lets work_clobber_caller keep values in rcx, rdx, rsi
 * and r8-r11 across the call without saving them:
 *
 *   work_clobber_caller:
 *	...                      values pinned in rcx rdx rsi r8 r9 r10 r11
 *	call work_clobber_leaf   nothing saved around the call
 *	...                      the same registers are read back and compared
 *
 * A trampoline that clobbers any of them is caught here: the prog counts
 * mismatches and exits with CORRUPT_STATUS.
 */
#include <stdint.h>
#include <stdio.h>

#include "attach-gate.h"

#define ITERATIONS 5000
#define EXIT_STATUS 9
#define CORRUPT_STATUS 99

static unsigned long calls_leaf, calls_caller, corrupt;

__attribute__((noinline, noclone)) static unsigned long work_clobber_leaf(unsigned long x)
{
	calls_leaf++;
	__asm__ volatile("");
	return x * 5;
}

/* The seven values the caller keeps live in call-clobbered registers. */
static uint64_t expected(uint64_t i, unsigned int k)
{
	return (i << 8) ^ (0x1111111111111111ULL * (k + 1));
}

__attribute__((noinline, noclone)) unsigned long work_clobber_caller(uint64_t i);

__attribute__((noinline, noclone)) unsigned long work_clobber_caller(uint64_t i)
{
	uint64_t c = expected(i, 0), d = expected(i, 1), s = expected(i, 2);
	register uint64_t v8 __asm__("r8") = expected(i, 3);
	register uint64_t v9 __asm__("r9") = expected(i, 4);
	register uint64_t v10 __asm__("r10") = expected(i, 5);
	register uint64_t v11 __asm__("r11") = expected(i, 6);
	unsigned long r;

	calls_caller++;
	/* Pin the values in their registers just before the call ... */
	__asm__ volatile("" : "+c"(c), "+d"(d), "+S"(s), "+r"(v8), "+r"(v9), "+r"(v10), "+r"(v11));
	r = work_clobber_leaf(i);
	/* ... and require them in the same registers just after it. */
	__asm__ volatile("" : "+c"(c), "+d"(d), "+S"(s), "+r"(v8), "+r"(v9), "+r"(v10), "+r"(v11));
	if (c != expected(i, 0) || d != expected(i, 1) || s != expected(i, 2) ||
	    v8 != expected(i, 3) || v9 != expected(i, 4) || v10 != expected(i, 5) ||
	    v11 != expected(i, 6))
		corrupt++;
	return r;
}

int main(void)
{
	unsigned long sum = 0;

	for (uint64_t i = 0; i < ITERATIONS; i++)
		sum += work_clobber_caller(i);
	printf("sum %lu\n", sum);
	printf("corrupt %lu\n", corrupt);
	printf("count work_clobber_caller %lu\n", calls_caller);
	printf("count work_clobber_leaf %lu\n", calls_leaf);
	return corrupt ? CORRUPT_STATUS : EXIT_STATUS;
}
