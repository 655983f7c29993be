// SPDX-License-Identifier: MIT
/*
 * Busy threads for a ring that fills (tests/integration/test_lossless.py):
 * each thread calls work_busy_outer -> work_busy_inner in a tight loop,
 * nothing in between, far faster than a tracer drains.
 *
 *   s-busy [THREADS [CALLS]]   THREADS threads (default 4) start together;
 *                              thread i makes CALLS + i calls (default
 *                              CALLS 20000), so that the per-thread totals
 *                              differ and a trace can be matched to them
 *   s-busy loop [THREADS]      prints "ready" once every thread runs, then
 *                              calls until SIGTERM
 *
 * work_busy_outer's first argument is the thread's call number (0, 1, ...):
 * a trace without a gap has them consecutive.  At the end it prints per
 * thread and in all the calls it made, as `count <func> <n>`, and exits with
 * EXIT_STATUS; on stderr (so that stdout stays that of an untraced run) the
 * longest single call of work_busy_outer, `longest call ns N`: a thread held
 * up on a full ring makes it long.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attach-gate.h"

#define DEFAULT_THREADS 4
#define MAX_THREADS 64
#define DEFAULT_CALLS 20000
#define EXIT_STATUS 23

struct worker {
	pthread_t thread;
	int index;
	unsigned long calls; /* to make; 0: until SIGTERM */
	unsigned long calls_outer, calls_inner;
	unsigned long sum;
	unsigned long long longest_ns;
};

static pthread_barrier_t start_line;
static volatile sig_atomic_t stop;

__attribute__((noinline, noclone)) unsigned long work_busy_inner(struct worker *w, unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_busy_outer(unsigned long seq,
								 struct worker *w);

__attribute__((noinline, noclone)) unsigned long work_busy_inner(struct worker *w, unsigned long x)
{
	w->calls_inner++;
	__asm__ volatile("");
	return x * 5 + 3;
}

__attribute__((noinline, noclone)) unsigned long work_busy_outer(unsigned long seq,
								 struct worker *w)
{
	unsigned long r;

	w->calls_outer++;
	r = work_busy_inner(w, seq);
	__asm__ volatile("" : "+r"(r));
	return r ^ seq;
}

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned long long t0, t1;

	pthread_barrier_wait(&start_line);
	t0 = now_ns();
	for (unsigned long i = 0; w->calls ? i < w->calls : !stop; i++) {
		w->sum += work_busy_outer(i, w);
		t1 = now_ns();
		if (t1 - t0 > w->longest_ns)
			w->longest_ns = t1 - t0;
		t0 = t1;
	}
	return NULL;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int usage(void)
{
	fprintf(stderr, "usage: s-busy [THREADS [CALLS]] | s-busy loop [THREADS]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static struct worker workers[MAX_THREADS];
	unsigned long outer = 0, inner = 0, sum = 0, calls = DEFAULT_CALLS;
	unsigned long long longest = 0;
	int nthreads = DEFAULT_THREADS, loop = 0, arg = 1;

	if (argc > 1 && !strcmp(argv[1], "loop")) {
		loop = 1;
		arg++;
	}
	if (argc > arg)
		nthreads = atoi(argv[arg++]);
	if (argc > arg && !loop)
		calls = strtoul(argv[arg++], NULL, 10);
	if (argc > arg || nthreads < 1 || nthreads > MAX_THREADS || calls < 1)
		return usage();
	if (loop) {
		struct sigaction sa;

		memset(&sa, 0, sizeof(sa));
		sa.sa_handler = on_term;
		sigaction(SIGTERM, &sa, NULL);
	}

	/* main waits at the start line too: "ready" comes once every thread runs */
	pthread_barrier_init(&start_line, NULL, (unsigned)nthreads + 1);
	for (int i = 0; i < nthreads; i++) {
		workers[i].index = i;
		workers[i].calls = loop ? 0 : calls + (unsigned long)i;
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	pthread_barrier_wait(&start_line);
	if (loop) {
		printf("ready\n");
		fflush(stdout);
	}
	for (int i = 0; i < nthreads; i++) {
		pthread_join(workers[i].thread, NULL);
		outer += workers[i].calls_outer;
		inner += workers[i].calls_inner;
		sum += workers[i].sum;
		if (workers[i].longest_ns > longest)
			longest = workers[i].longest_ns;
		printf("thread %d work_busy_outer %lu\n", i, workers[i].calls_outer);
		printf("thread %d work_busy_inner %lu\n", i, workers[i].calls_inner);
	}
	printf("sum %lu\n", sum);
	printf("count work_busy_outer %lu\n", outer);
	printf("count work_busy_inner %lu\n", inner);
	fprintf(stderr, "longest call ns %llu\n", longest);
	return EXIT_STATUS;
}
