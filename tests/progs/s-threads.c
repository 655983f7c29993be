// SPDX-License-Identifier: MIT
/*
 * NTHREADS threads start together (barrier) and thread i makes
 * (i + 1) * CALLS_PER_THREAD calls of work_thread_outer -> work_thread_inner,
 * so the per-thread totals are all different and a trace can be matched to
 * them by value.  main makes no traced call.
 */
#include <pthread.h>
#include <stdio.h>

#include "attach-gate.h"

#define NTHREADS 4
#define CALLS_PER_THREAD 5000
#define EXIT_STATUS 5

struct worker {
	pthread_t thread;
	int index;
	unsigned long calls_outer, calls_inner;
	unsigned long sum;
};

static pthread_barrier_t start_line;

__attribute__((noinline, noclone)) unsigned long work_thread_inner(struct worker *w,
								   unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_thread_outer(struct worker *w,
								   unsigned long x);

__attribute__((noinline, noclone)) unsigned long work_thread_inner(struct worker *w,
								   unsigned long x)
{
	w->calls_inner++;
	__asm__ volatile("");
	return x * 2 + 1;
}

__attribute__((noinline, noclone)) unsigned long work_thread_outer(struct worker *w,
								   unsigned long x)
{
	unsigned long r;

	w->calls_outer++;
	r = work_thread_inner(w, x);
	__asm__ volatile("" : "+r"(r));
	return r ^ x;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned long n = (unsigned long)(w->index + 1) * CALLS_PER_THREAD;

	pthread_barrier_wait(&start_line);
	for (unsigned long i = 0; i < n; i++)
		w->sum += work_thread_outer(w, i);
	return NULL;
}

int main(void)
{
	struct worker workers[NTHREADS] = { 0 };
	unsigned long outer = 0, inner = 0, sum = 0;

	pthread_barrier_init(&start_line, NULL, NTHREADS);
	for (int i = 0; i < NTHREADS; i++) {
		workers[i].index = i;
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(workers[i].thread, NULL);
		outer += workers[i].calls_outer;
		inner += workers[i].calls_inner;
		sum += workers[i].sum;
		printf("thread %d work_thread_outer %lu\n", i, workers[i].calls_outer);
		printf("thread %d work_thread_inner %lu\n", i, workers[i].calls_inner);
	}
	printf("sum %lu\n", sum);
	printf("count work_thread_outer %lu\n", outer);
	printf("count work_thread_inner %lu\n", inner);
	return EXIT_STATUS;
}
