// SPDX-License-Identifier: MIT
/*
 * Mutual recursion DEPTH deep: work_rec_ping(n) calls work_rec_pong(n - 1)
 * and back, down to 0, ROUNDS times, on a thread with a stack big enough
 * for it whatever the main thread's limit.  Neither call is a tail call:
 * each frame returns through the other's.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "attach-gate.h"

#define DEPTH 100000
#define ROUNDS 3
#define STACK_SIZE (256UL << 20)
#define EXIT_STATUS 15

static unsigned long calls_ping, calls_pong;

__attribute__((noinline, noclone)) unsigned long work_rec_ping(unsigned long n);
__attribute__((noinline, noclone)) unsigned long work_rec_pong(unsigned long n);

__attribute__((noinline, noclone)) unsigned long work_rec_ping(unsigned long n)
{
	unsigned long r;

	calls_ping++;
	if (n == 0)
		return 1;
	r = work_rec_pong(n - 1);
	__asm__ volatile("" : "+r"(r));
	return r + 1;
}

__attribute__((noinline, noclone)) unsigned long work_rec_pong(unsigned long n)
{
	unsigned long r;

	calls_pong++;
	if (n == 0)
		return 2;
	r = work_rec_ping(n - 1);
	__asm__ volatile("" : "+r"(r));
	return r + 2;
}

static void *recurse(void *arg)
{
	unsigned long *sum = arg;

	for (int i = 0; i < ROUNDS; i++)
		*sum += work_rec_ping(DEPTH - 1);
	return NULL;
}

int main(void)
{
	unsigned long sum = 0;
	pthread_attr_t attr;
	pthread_t t;

	if (pthread_attr_init(&attr) != 0 || pthread_attr_setstacksize(&attr, STACK_SIZE) != 0 ||
	    pthread_create(&t, &attr, recurse, &sum) != 0 || pthread_join(t, NULL) != 0) {
		fprintf(stderr, "s-deeprec: cannot run the recursion thread\n");
		return 1;
	}
	printf("sum %lu\n", sum);
	printf("depth %d\n", DEPTH);
	printf("count work_rec_ping %lu\n", calls_ping);
	printf("count work_rec_pong %lu\n", calls_pong);
	return EXIT_STATUS;
}
