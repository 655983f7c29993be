// SPDX-License-Identifier: MIT
/*
 * A process with a CET shadow stack: main enables one with
 * arch_prctl(ARCH_SHSTK_ENABLE, ARCH_SHSTK_SHSTK), then calls work_* in a
 * loop.  Under a shadow stack a `ret` to any address but the one its call
 * pushed faults: a tracer must not hijack return addresses here.
 *
 * Where the kernel (CONFIG_X86_USER_SHADOW_STACK, Linux 6.6+) or the CPU
 * lacks them, it prints "shstk unsupported" and exits 0 at once.
 *
 * With UTRACE_TEST_ATTACH_GATE set it waits for a tracer like attach-gate.h
 * does, but after enabling the shadow stack: "gate <pid>" on stderr, then
 * one byte on stdin.  main never returns (its return address is not on the
 * shadow stack, which began inside it): it calls exit().
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ARCH_SHSTK_ENABLE 0x5001
#define ARCH_SHSTK_SHSTK (1UL << 0)
#define ITERATIONS 1000
#define EXIT_STATUS 6

static unsigned long calls_outer, calls_inner;

__attribute__((noinline, noclone)) int work_shstk_inner(int x);
__attribute__((noinline, noclone)) int work_shstk_outer(int x);

__attribute__((noinline, noclone)) int work_shstk_inner(int x)
{
	calls_inner++;
	__asm__ volatile("");
	return x * 5 + 1;
}

__attribute__((noinline, noclone)) int work_shstk_outer(int x)
{
	int r;

	calls_outer++;
	r = work_shstk_inner(x + 2);
	__asm__ volatile("" : "+r"(r));
	return r - 3;
}

/* Inline, as a function's own return would find nothing on the new shadow stack. */
static inline __attribute__((always_inline)) long shstk_enable(void)
{
	long r;

	__asm__ volatile("syscall"
			 : "=a"(r)
			 : "0"((long)SYS_arch_prctl), "D"((long)ARCH_SHSTK_ENABLE),
			   "S"(ARCH_SHSTK_SHSTK)
			 : "rcx", "r11", "memory");
	return r;
}

static void gate(void)
{
	char byte;

	if (!getenv("UTRACE_TEST_ATTACH_GATE"))
		return;
	fprintf(stderr, "gate %d\n", (int)getpid());
	while (read(STDIN_FILENO, &byte, 1) < 0 && errno == EINTR)
		;
}

int main(void)
{
	unsigned long sum = 0;

	if (shstk_enable() != 0) {
		printf("shstk unsupported\n");
		fflush(stdout);
		exit(0);
	}
	gate();
	for (int i = 0; i < ITERATIONS; i++)
		sum += (unsigned int)work_shstk_outer(i);
	printf("sum %lu\n", sum);
	printf("count work_shstk_outer %lu\n", calls_outer);
	printf("count work_shstk_inner %lu\n", calls_inner);
	fflush(stdout);
	exit(EXIT_STATUS);
}
