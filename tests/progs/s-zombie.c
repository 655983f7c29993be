// SPDX-License-Identifier: MIT
/*
 * A zombie leader: main starts the threads and calls pthread_exit, and the
 * process lives on in them (/proc/PID/task/PID/stat says 'Z').
 *
 * The spinner calls work_zl_spin in bursts until the end.  The
 * controller waits for the leader to be a zombie and the spinner's first
 * call, prints "ready", then
 * reads stdin: each byte runs a phase (NWORKERS workers make PHASE_CALLS
 * calls of work_zl_phase -> work_zl_leaf each, then "phase K done"); end of
 * file stops the spinner, prints the counts and exits with EXIT_STATUS.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attach-gate.h"

#define NWORKERS 4
#define PHASE_CALLS 5000
#define EXIT_STATUS 11
/* a few 100,000 calls a second at most: even an ASan tracer drains them all */
#define SPIN_BURST 32
#define SPIN_PAUSE_NS 100000

static pthread_barrier_t phase_start, phase_end;
static unsigned long calls_phase, calls_leaf, calls_spin;
static int stopping, spinner_stop;

__attribute__((noinline, noclone)) unsigned long work_zl_leaf(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_zl_phase(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_zl_spin(unsigned long x);

__attribute__((noinline, noclone)) unsigned long work_zl_leaf(unsigned long x)
{
	__atomic_fetch_add(&calls_leaf, 1, __ATOMIC_RELAXED);
	__asm__ volatile("");
	return x + 5;
}

__attribute__((noinline, noclone)) unsigned long work_zl_phase(unsigned long x)
{
	unsigned long r;

	__atomic_fetch_add(&calls_phase, 1, __ATOMIC_RELAXED);
	r = work_zl_leaf(x);
	__asm__ volatile("" : "+r"(r));
	return r * 3;
}

__attribute__((noinline, noclone)) unsigned long work_zl_spin(unsigned long x)
{
	calls_spin++;
	__asm__ volatile("");
	return x ^ 0x55;
}

static void *worker_main(void *arg)
{
	unsigned long sum = 0;

	(void)arg;
	for (;;) {
		pthread_barrier_wait(&phase_start);
		if (__atomic_load_n(&stopping, __ATOMIC_ACQUIRE))
			return NULL;
		for (unsigned long i = 0; i < PHASE_CALLS; i++)
			sum += work_zl_phase(i);
		__asm__ volatile("" : "+r"(sum));
		pthread_barrier_wait(&phase_end);
	}
}

static void *spinner_main(void *arg)
{
	unsigned long sum = 0;

	(void)arg;
	struct timespec pause = { 0, SPIN_PAUSE_NS };

	for (unsigned long i = 0; !__atomic_load_n(&spinner_stop, __ATOMIC_ACQUIRE); i++) {
		sum += work_zl_spin(i);
		if (i % SPIN_BURST == 0)
			nanosleep(&pause, NULL);
	}
	__asm__ volatile("" : "+r"(sum));
	return NULL;
}

static char leader_state(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)pid);
	f = fopen(path, "r");
	if (!f)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : '?';
}

static void *controller_main(void *arg)
{
	struct timespec tick = { 0, 1000000 };
	pthread_t spinner = *(pthread_t *)arg;
	int phase = 0;
	char byte;
	ssize_t n;

	while (leader_state(getpid()) != 'Z')
		nanosleep(&tick, NULL);
	/* the spinner has run (a new thread may wait for its tracer): the phases overlap it */
	while (!__atomic_load_n(&calls_spin, __ATOMIC_RELAXED))
		nanosleep(&tick, NULL);
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		n = read(STDIN_FILENO, &byte, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		pthread_barrier_wait(&phase_start);
		pthread_barrier_wait(&phase_end);
		printf("phase %d done\n", ++phase);
		fflush(stdout);
	}
	__atomic_store_n(&spinner_stop, 1, __ATOMIC_RELEASE);
	pthread_join(spinner, NULL);
	printf("count work_zl_phase %lu\n", calls_phase);
	printf("count work_zl_leaf %lu\n", calls_leaf);
	printf("spin %s\n", calls_spin > 0 ? "ok" : "none");
	printf("count work_zl_spin %lu\n", calls_spin);
	fflush(stdout);
	exit(EXIT_STATUS);
}

int main(void)
{
	static pthread_t threads[NWORKERS], spinner, controller;

	pthread_barrier_init(&phase_start, NULL, NWORKERS + 1);
	pthread_barrier_init(&phase_end, NULL, NWORKERS + 1);
	for (int i = 0; i < NWORKERS; i++)
		if (pthread_create(&threads[i], NULL, worker_main, NULL) != 0)
			return 1;
	if (pthread_create(&spinner, NULL, spinner_main, NULL) != 0 ||
	    pthread_create(&controller, NULL, controller_main, &spinner) != 0)
		return 1;
	pthread_exit(NULL);
}
