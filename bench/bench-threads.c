// SPDX-License-Identifier: GPL-2.0
/*
 * bench-threads - threads calling mid(), which calls leaf() twice, for
 * bench/lossless.py.
 *
 *   bench-threads T N          T threads (the main thread and T-1 others) each
 *                              call mid() N times; prints the calls of each
 *                              function, counted by the functions themselves,
 *                              a checksum and the CLOCK_MONOTONIC nanoseconds
 *                              from the first call to the last thread's end
 *   bench-threads --gate 1 N   one thread, no clone: prints "ready", waits for
 *                              a line on stdin, makes its N calls, prints
 *                              "burst done", then its counts as above
 *
 * The counts let a tracer's trace be compared exactly with what ran; the
 * checksum lets a traced run be compared with an untraced one.  --gate is for
 * filling a ring while the tracer is stopped (SIGSTOP): with one thread the
 * calls make no clone and no other stop the tracer would have to answer.
 */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NSEC_PER_SEC 1000000000ULL
#define MAX_THREADS 1024
/* Mixed into the results so that gcc cannot fold the calls. */
#define LEAF_MIX 0x3c3c

static __thread unsigned long mid_calls;
static __thread unsigned long leaf_calls;

struct worker {
	pthread_t thread;
	long calls;
	unsigned long sum;
	unsigned long mid_calls;
	unsigned long leaf_calls;
};

__attribute__((noinline)) int leaf(int x);
__attribute__((noinline)) int leaf(int x)
{
	leaf_calls++;
	__asm__ volatile("");
	return (x ^ LEAF_MIX) + 1;
}

__attribute__((noinline)) int mid(int x);
__attribute__((noinline)) int mid(int x)
{
	mid_calls++;
	__asm__ volatile("");
	return leaf(x) + leaf(x + 1);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned long sum = 0;

	for (long i = 0; i < w->calls; i++)
		sum = (sum << 1 | sum >> 63) ^ (unsigned long)mid((int)i);
	w->sum = sum;
	w->mid_calls = mid_calls;
	w->leaf_calls = leaf_calls;
	return NULL;
}

static unsigned long long monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * NSEC_PER_SEC + (unsigned long long)ts.tv_nsec;
}

static int usage(void)
{
	fprintf(stderr, "usage: bench-threads [--gate] THREADS CALLS\n");
	return 2;
}

static long number(const char *s, long max)
{
	char *end;
	long n = strtol(s, &end, 10);

	if (*s == '\0' || *end != '\0' || n < 0 || n > max)
		return -1;
	return n;
}

int main(int argc, char **argv)
{
	static struct worker workers[MAX_THREADS];
	unsigned long mids = 0, leaves = 0, sum = 0;
	unsigned long long ns0, ns1;
	char line[64];
	long threads, calls;
	int gate = 0;

	if (argc == 4 && strcmp(argv[1], "--gate") == 0) {
		gate = 1;
		argv++;
	} else if (argc != 3) {
		return usage();
	}
	threads = number(argv[1], MAX_THREADS);
	calls = number(argv[2], INT_MAX);
	if (threads < 1 || calls < 0 || (gate && threads != 1))
		return usage();

	if (gate) {
		printf("ready\n");
		fflush(stdout);
		if (!fgets(line, sizeof(line), stdin))
			return 1;
	}
	ns0 = monotonic_ns();
	for (long t = 0; t < threads; t++) {
		workers[t].calls = calls;
		if (t > 0 && pthread_create(&workers[t].thread, NULL, work, &workers[t]) != 0) {
			perror("pthread_create");
			return 1;
		}
	}
	work(&workers[0]); /* the main thread is worker 0: no clone with one thread */
	for (long t = 1; t < threads; t++)
		pthread_join(workers[t].thread, NULL);
	ns1 = monotonic_ns();
	if (gate) {
		printf("burst done\n");
		fflush(stdout);
	}

	for (long t = 0; t < threads; t++) {
		mids += workers[t].mid_calls;
		leaves += workers[t].leaf_calls;
		sum += workers[t].sum;
	}
	printf("calls mid %lu\n", mids);
	printf("calls leaf %lu\n", leaves);
	printf("checksum %lu\n", sum);
	printf("loop_ns %llu\n", ns1 - ns0);
	return 0;
}
