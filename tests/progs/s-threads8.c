// SPDX-License-Identifier: MIT
/*
 * Volume on every thread at once: NTHREADS threads start together (barrier)
 * and each makes CALLS_PER_THREAD calls of work_t8_leaf, the only traced
 * function; main makes none.  At ~85 ns a traced call this is the fast path
 * or nothing: rings may fill, and then every event is either recorded or
 * counted as dropped.
 */
#include <pthread.h>
#include <stdio.h>

#include "attach-gate.h"

#define NTHREADS 8
#define CALLS_PER_THREAD 1000000
#define EXIT_STATUS 8

struct worker {
	pthread_t thread;
	unsigned long calls, sum;
};

static pthread_barrier_t start_line;

__attribute__((noinline, noclone)) unsigned long work_t8_leaf(struct worker *w, unsigned long x);

__attribute__((noinline, noclone)) unsigned long work_t8_leaf(struct worker *w, unsigned long x)
{
	w->calls++;
	__asm__ volatile("");
	return x ^ (x >> 3);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	pthread_barrier_wait(&start_line);
	for (unsigned long i = 0; i < CALLS_PER_THREAD; i++)
		w->sum += work_t8_leaf(w, i);
	return NULL;
}

int main(void)
{
	struct worker workers[NTHREADS] = { 0 };
	unsigned long calls = 0, sum = 0;

	pthread_barrier_init(&start_line, NULL, NTHREADS);
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(workers[i].thread, NULL);
		calls += workers[i].calls;
		sum += workers[i].sum;
		printf("thread %d work_t8_leaf %lu\n", i, workers[i].calls);
	}
	printf("sum %lu\n", sum);
	printf("count work_t8_leaf %lu\n", calls);
	return EXIT_STATUS;
}
