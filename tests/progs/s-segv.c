// SPDX-License-Identifier: MIT
/*
 * A SIGSEGV handler that siglongjmps out of traced frames.
 *
 *   s-segv [altstack]
 *
 * ITERATIONS times: sigsetjmp in main, then work_segv_outer ->
 * work_segv_fault, which writes through a null pointer on every iteration
 * but each RETURN_EVERY-th (and the last), where the chain returns.  The
 * handler (on a sigaltstack with "altstack") calls work_segv_escape, a
 * traced function that calls work_segv_leaf and then siglongjmps back to
 * main from inside itself: one traced frame on the handler's stack and two
 * on main's are left for good each time.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attach-gate.h"

#define ITERATIONS 3001
#define RETURN_EVERY 10
#define EXIT_STATUS 13

static sigjmp_buf env;
static unsigned long calls_outer, calls_fault, calls_escape, calls_leaf, faults;
static int *volatile null_ptr;

__attribute__((noinline, noclone)) unsigned long work_segv_leaf(unsigned long x);
__attribute__((noinline, noclone)) void work_segv_escape(int sig);
__attribute__((noinline, noclone)) unsigned long work_segv_fault(unsigned long i);
__attribute__((noinline, noclone)) unsigned long work_segv_outer(unsigned long i);

__attribute__((noinline, noclone)) unsigned long work_segv_leaf(unsigned long x)
{
	calls_leaf++;
	__asm__ volatile("");
	return x + 1;
}

__attribute__((noinline, noclone)) void work_segv_escape(int sig)
{
	calls_escape++;
	work_segv_leaf((unsigned long)sig);
	siglongjmp(env, 1);
}

__attribute__((noinline, noclone)) unsigned long work_segv_fault(unsigned long i)
{
	calls_fault++;
	__asm__ volatile("");
	if (i % RETURN_EVERY != 0 && i != ITERATIONS - 1)
		*null_ptr = (int)i;
	return i * 2;
}

__attribute__((noinline, noclone)) unsigned long work_segv_outer(unsigned long i)
{
	unsigned long r;

	calls_outer++;
	r = work_segv_fault(i);
	__asm__ volatile("" : "+r"(r));
	return r + 1;
}

static void on_segv(int sig)
{
	faults++;
	work_segv_escape(sig);
}

static int setup(int on_altstack)
{
	static char altstack[1 << 16];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct sigaction sa;

	if (on_altstack && sigaltstack(&ss, NULL) != 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_segv;
	sa.sa_flags = on_altstack ? SA_ONSTACK : 0;
	sigemptyset(&sa.sa_mask);
	return sigaction(SIGSEGV, &sa, NULL);
}

int main(int argc, char **argv)
{
	volatile unsigned long i, sum = 0;

	if (setup(argc > 1 && strcmp(argv[1], "altstack") == 0) != 0) {
		perror("s-segv");
		return 1;
	}
	for (i = 0; i < ITERATIONS; i++)
		if (sigsetjmp(env, 1) == 0)
			sum += work_segv_outer(i);
	printf("sum %lu\n", sum);
	printf("faults %lu\n", faults);
	printf("count work_segv_outer %lu\n", calls_outer);
	printf("count work_segv_fault %lu\n", calls_fault);
	printf("count work_segv_escape %lu\n", calls_escape);
	printf("count work_segv_leaf %lu\n", calls_leaf);
	return EXIT_STATUS;
}
