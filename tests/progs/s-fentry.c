// SPDX-License-Identifier: MIT
/*
 * Compiler-made entry sites.  Built three ways (meson.build):
 *
 *   s-fentry-pfe     -fpatchable-function-entry=5: five nops at the symbol,
 *                    listed in __patchable_function_entries
 *   s-fentry-mcount  -pg -mfentry -mnop-mcount -mrecord-mcount: a nop5 where
 *                    `call __fentry__` would be, listed in __mcount_loc
 *                    (-mnop-mcount needs non-PIE code)
 *   s-fentry-cet     -fcf-protection=full -fpatchable-function-entry=5:
 *                    endbr64, then the five nops
 *
 * The instrumented functions get a 5-byte `call` into the entry trampoline;
 * work_fe_plain opts out of both instrumentations, so it keeps an ordinary
 * prologue and gets a `jmp` to its stub:
 *
 *   main -> work_fe_a -> work_fe_b -> work_fe_c
 *                                  -> work_fe_plain
 *   main -> work_fe_rec (REC_DEPTH deep, REC_TIMES times)
 *
 *   s-fentry-* [phases]
 *
 * Without an argument it runs the workload once and prints the counts.  With
 * "phases" it follows s-attach's protocol: prints "ready", runs the workload
 * once per SIGUSR1 ("phase <k> done"), prints the counts on SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "attach-gate.h"

#define CHAIN_CALLS 2000
#define REC_DEPTH 40
#define REC_TIMES 50
#define EXIT_STATUS 21

#define INSTRUMENTED __attribute__((noinline, noclone))
#define ORDINARY \
	__attribute__((noinline, noclone, no_instrument_function, patchable_function_entry(0, 0)))

static unsigned long calls_a, calls_b, calls_c, calls_plain, calls_rec;

INSTRUMENTED unsigned long work_fe_c(unsigned long x);
INSTRUMENTED unsigned long work_fe_b(unsigned long x);
INSTRUMENTED unsigned long work_fe_a(unsigned long x);
INSTRUMENTED unsigned long work_fe_rec(unsigned long n);
ORDINARY unsigned long work_fe_plain(unsigned long x);

INSTRUMENTED unsigned long work_fe_c(unsigned long x)
{
	calls_c++;
	__asm__ volatile("");
	return x * 3 + 1;
}

ORDINARY unsigned long work_fe_plain(unsigned long x)
{
	calls_plain++;
	__asm__ volatile("");
	return x + 7;
}

INSTRUMENTED unsigned long work_fe_b(unsigned long x)
{
	unsigned long r;

	calls_b++;
	r = work_fe_c(x);
	__asm__ volatile("" : "+r"(r));
	return r ^ work_fe_plain(x);
}

INSTRUMENTED unsigned long work_fe_a(unsigned long x)
{
	unsigned long r;

	calls_a++;
	r = work_fe_b(x);
	__asm__ volatile("" : "+r"(r));
	return r + 1;
}

/* Not a tail call, not a loop: the barrier hides the result from the optimizer. */
INSTRUMENTED unsigned long work_fe_rec(unsigned long n)
{
	unsigned long r;

	calls_rec++;
	if (n == 0)
		return 1;
	r = work_fe_rec(n - 1);
	__asm__ volatile("" : "+r"(r));
	return r * 2 + n;
}

static unsigned long workload(void)
{
	unsigned long sum = 0;

	for (unsigned long i = 0; i < CHAIN_CALLS; i++)
		sum += work_fe_a(i);
	for (unsigned long i = 0; i < REC_TIMES; i++)
		sum += work_fe_rec(REC_DEPTH);
	return sum;
}

static void print_counts(void)
{
	printf("count work_fe_a %lu\n", calls_a);
	printf("count work_fe_b %lu\n", calls_b);
	printf("count work_fe_c %lu\n", calls_c);
	printf("count work_fe_plain %lu\n", calls_plain);
	printf("count work_fe_rec %lu\n", calls_rec);
}

static int run_phases(void)
{
	sigset_t set;
	int phase = 0, sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, NULL);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM)
			break;
		printf("phase %d done sum %lu\n", ++phase, workload());
		fflush(stdout);
	}
	print_counts();
	return EXIT_STATUS;
}

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "phases") == 0)
		return run_phases();
	printf("sum %lu\n", workload());
	print_counts();
	return EXIT_STATUS;
}
