// SPDX-License-Identifier: MIT
/*
 * 64 threads hammering traced functions, born at different times, exiting
 * while the others still run.
 *
 *   s-threads64 [CALLS [wait]]
 *
 * EARLY threads are created first and held at a barrier; main prints
 * "ready", then (with "wait") blocks until one byte or end of file arrives on
 * stdin: a tracer attaching meanwhile finds them already there.  Then the
 * early threads start and main creates the LATE ones while they run.
 * Thread i makes CALLS + i * STEP calls of work_t64_outer -> work_t64_inner
 * (all per-thread totals differ, so a trace matches them by value) and
 * returns: short threads exit while long ones are still traced.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attach-gate.h"

#define NTHREADS 64
#define EARLY 32
#define STEP 7
#define DEFAULT_CALLS 2000
#define EXIT_STATUS 9

struct worker {
	pthread_t thread;
	int index;
	unsigned long calls, calls_outer, calls_inner, sum;
};

static pthread_barrier_t early_start;

__attribute__((noinline, noclone)) unsigned long work_t64_inner(struct worker *w, unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_t64_outer(struct worker *w, unsigned long x);

__attribute__((noinline, noclone)) unsigned long work_t64_inner(struct worker *w, unsigned long x)
{
	w->calls_inner++;
	__asm__ volatile("");
	return x * 3 + 1;
}

__attribute__((noinline, noclone)) unsigned long work_t64_outer(struct worker *w, unsigned long x)
{
	unsigned long r;

	w->calls_outer++;
	r = work_t64_inner(w, x);
	__asm__ volatile("" : "+r"(r));
	return r ^ x;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	if (w->index < EARLY)
		pthread_barrier_wait(&early_start);
	for (unsigned long i = 0; i < w->calls; i++)
		w->sum += work_t64_outer(w, i);
	return NULL;
}

static int start(struct worker *w)
{
	int err = pthread_create(&w->thread, NULL, worker_main, w);

	if (err)
		fprintf(stderr, "pthread_create: %s\n", strerror(err));
	return err;
}

/* One byte or end of file on stdin; a tracer attaching may interrupt the read. */
static void wait_stdin(void)
{
	char byte;

	while (read(STDIN_FILENO, &byte, 1) < 0 && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	static struct worker workers[NTHREADS];
	unsigned long calls = argc > 1 ? strtoul(argv[1], NULL, 10) : DEFAULT_CALLS;
	unsigned long outer = 0, inner = 0, sum = 0;
	int i;

	pthread_barrier_init(&early_start, NULL, EARLY + 1);
	for (i = 0; i < NTHREADS; i++) {
		workers[i].index = i;
		workers[i].calls = calls + (unsigned long)i * STEP;
	}
	for (i = 0; i < EARLY; i++)
		if (start(&workers[i]))
			return 1;
	printf("ready\n");
	fflush(stdout);
	if (argc > 2 && strcmp(argv[2], "wait") == 0)
		wait_stdin();
	pthread_barrier_wait(&early_start);
	for (i = EARLY; i < NTHREADS; i++)
		if (start(&workers[i]))
			return 1;
	for (i = 0; i < NTHREADS; i++) {
		pthread_join(workers[i].thread, NULL);
		outer += workers[i].calls_outer;
		inner += workers[i].calls_inner;
		sum += workers[i].sum;
		printf("thread %d work_t64_outer %lu\n", i, workers[i].calls_outer);
	}
	printf("sum %lu\n", sum);
	printf("count work_t64_outer %lu\n", outer);
	printf("count work_t64_inner %lu\n", inner);
	return EXIT_STATUS;
}
