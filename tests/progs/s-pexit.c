// SPDX-License-Identifier: MIT
/*
 * pthread_exit from inside traced frames: a forced unwind (_Unwind_ForcedUnwind)
 * through them.  THREADS threads, ROUNDS times each: a thread runs
 * work_pe_outer -> work_pe_mid (which pushes a cleanup handler calling the
 * traced work_pe_cleanup) -> work_pe_leaf, which calls pthread_exit on all
 * but every RETURN_EVERY-th thread, whose chain returns normally.  The main
 * thread ends with pthread_exit from work_pe_main while the last round's
 * threads may still run; the last thread to finish prints the counts (the
 * process exits 0 when its last thread calls pthread_exit).  Built with
 * -fexceptions, so that the unwinder runs the cleanup handlers (landing
 * pads in traced frames); linked with libgcc_s, which glibc would
 * otherwise dlopen at the first pthread_exit.
 * "count F N" and "unwound F N" (exits = count - unwound).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <unistd.h>

#include "attach-gate.h"

#define THREADS 4
#define ROUNDS 200
#define RETURN_EVERY 4

#define NOINL __attribute__((noinline, noclone))

static atomic_ulong c_outer, c_mid, c_leaf, c_cleanup, c_main, cleanups_run;
static atomic_ulong u_outer, u_mid, u_leaf, u_main;
static atomic_int running;

NOINL unsigned long work_pe_cleanup(unsigned long i);
NOINL unsigned long work_pe_leaf(unsigned long i);
NOINL unsigned long work_pe_mid(unsigned long i);
NOINL unsigned long work_pe_outer(unsigned long i);
NOINL void work_pe_main(void);

unsigned long work_pe_cleanup(unsigned long i)
{
	c_cleanup++;
	__asm__ volatile("");
	return i;
}

static void cleanup_handler(void *arg)
{
	cleanups_run++;
	work_pe_cleanup((unsigned long)arg);
}

static void print_counts(void)
{
	printf("cleanups %lu\n", (unsigned long)cleanups_run);
	printf("count work_pe_outer %lu\n", (unsigned long)c_outer);
	printf("count work_pe_mid %lu\n", (unsigned long)c_mid);
	printf("count work_pe_leaf %lu\n", (unsigned long)c_leaf);
	printf("count work_pe_cleanup %lu\n", (unsigned long)c_cleanup);
	printf("count work_pe_main %lu\n", (unsigned long)c_main);
	printf("unwound work_pe_outer %lu\n", (unsigned long)u_outer);
	printf("unwound work_pe_mid %lu\n", (unsigned long)u_mid);
	printf("unwound work_pe_leaf %lu\n", (unsigned long)u_leaf);
	printf("unwound work_pe_main %lu\n", (unsigned long)u_main);
	fflush(stdout);
}

/*
 * The last thread out prints: every count is final by then.  A key's
 * destructor runs after the thread's cleanup handlers, on both ways out.
 */
static void leave(void *unused)
{
	if (atomic_fetch_sub(&running, 1) == 1)
		print_counts();
}

static pthread_key_t leave_key;

static void on_leave(void)
{
	pthread_setspecific(leave_key, &leave_key);
}

unsigned long work_pe_leaf(unsigned long i)
{
	c_leaf++;
	__asm__ volatile("");
	if (i % RETURN_EVERY != 0) {
		u_leaf++;
		u_mid++;
		u_outer++;
		pthread_exit(NULL);
	}
	return i + 1;
}

unsigned long work_pe_mid(unsigned long i)
{
	unsigned long r;

	c_mid++;
	pthread_cleanup_push(cleanup_handler, (void *)i);
	r = work_pe_leaf(i);
	pthread_cleanup_pop(1);
	__asm__ volatile("" : "+r"(r));
	return r * 2;
}

unsigned long work_pe_outer(unsigned long i)
{
	unsigned long r;

	c_outer++;
	r = work_pe_mid(i);
	__asm__ volatile("" : "+r"(r));
	return r + 3;
}

static void *thread_main(void *arg)
{
	on_leave();
	work_pe_outer((unsigned long)arg);
	return NULL;
}

void work_pe_main(void)
{
	c_main++;
	u_main++;
	pthread_exit(NULL);
}

int main(void)
{
	pthread_t t[THREADS];
	unsigned long n = 0;

	if (pthread_key_create(&leave_key, leave))
		return 1;
	on_leave();
	for (int r = 0; r < ROUNDS; r++) {
		if (r == ROUNDS - 1)
			running = THREADS + 1;
		for (int k = 0; k < THREADS; k++, n++)
			if (pthread_create(&t[k], NULL, thread_main, (void *)n))
				return 1;
		if (r == ROUNDS - 1)
			break;
		for (int k = 0; k < THREADS; k++)
			pthread_join(t[k], NULL);
	}
	/* the last round's threads may still run: the main thread leaves */
	work_pe_main();
	return 2;
}
