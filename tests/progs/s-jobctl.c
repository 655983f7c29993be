// SPDX-License-Identifier: MIT
/*
 * Job control while traced functions run at a high rate in several threads.
 *
 * NTHREADS threads call work_jc_body -> work_jc_leaf in bursts until SIGTERM.  The
 * SIGTSTP handler (Ctrl-Z) writes "tstp", then stops the process with
 * SIGSTOP; the SIGCONT handler writes "cont".  Both call the traced
 * work_jc_signal once.  After SIGTERM the threads are joined and the counts
 * printed: "signals tstp N cont M", then the calls.  Main prints "ready"
 * once every thread runs.  With the argument "fast" the bursts are longer
 * and the pauses shorter (millions of traced calls per second): utrace's
 * trap and signal stops then race with every signal sent.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attach-gate.h"

#define NTHREADS 4
#define EXIT_STATUS 17
/* bursts, so that a loaded tracer drains every event: < 0.1 M calls/s/thread */
#define BURST 64
#define PAUSE_NS 1000000
/* "fast": millions of traced calls per second in all */
#define FAST_BURST 256
#define FAST_PAUSE_NS 200000

static unsigned long calls_body, calls_leaf, calls_signal;
static volatile sig_atomic_t stopping, tstp_seen, cont_seen;
static pthread_barrier_t started;
static unsigned long burst = BURST;
static long pause_ns = PAUSE_NS;

__attribute__((noinline, noclone)) unsigned long work_jc_leaf(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_jc_body(unsigned long x);
__attribute__((noinline, noclone)) void work_jc_signal(int sig);

__attribute__((noinline, noclone)) unsigned long work_jc_leaf(unsigned long x)
{
	__atomic_fetch_add(&calls_leaf, 1, __ATOMIC_RELAXED);
	__asm__ volatile("");
	return x + 9;
}

__attribute__((noinline, noclone)) unsigned long work_jc_body(unsigned long x)
{
	unsigned long r;

	__atomic_fetch_add(&calls_body, 1, __ATOMIC_RELAXED);
	r = work_jc_leaf(x);
	__asm__ volatile("" : "+r"(r));
	return r;
}

__attribute__((noinline, noclone)) void work_jc_signal(int sig)
{
	__atomic_fetch_add(&calls_signal, 1, __ATOMIC_RELAXED);
	__asm__ volatile("" ::"r"(sig));
}

static void say(const char *s)
{
	ssize_t r = write(STDOUT_FILENO, s, strlen(s));

	(void)r;
}

static void on_signal(int sig)
{
	work_jc_signal(sig);
	if (sig == SIGTSTP) {
		tstp_seen++;
		say("tstp\n");
		raise(SIGSTOP);
	} else if (sig == SIGCONT) {
		cont_seen++;
		say("cont\n");
	} else {
		stopping = 1;
	}
}

static void *worker(void *arg)
{
	unsigned long sum = 0;

	(void)arg;
	pthread_barrier_wait(&started);
	struct timespec pause = { 0, pause_ns };

	for (unsigned long i = 0; !stopping; i++) {
		sum += work_jc_body(i);
		if (i % burst == 0)
			nanosleep(&pause, NULL);
	}
	__asm__ volatile("" : "+r"(sum));
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t threads[NTHREADS];
	struct sigaction sa;

	if (argc > 1 && strcmp(argv[1], "fast") == 0) {
		burst = FAST_BURST;
		pause_ns = FAST_PAUSE_NS;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTSTP, &sa, NULL) || sigaction(SIGCONT, &sa, NULL) ||
	    sigaction(SIGTERM, &sa, NULL)) {
		perror("sigaction");
		return 1;
	}
	pthread_barrier_init(&started, NULL, NTHREADS + 1);
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&threads[i], NULL, worker, NULL) != 0)
			return 1;
	pthread_barrier_wait(&started);
	say("ready\n");
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(threads[i], NULL);
	printf("signals tstp %d cont %d\n", (int)tstp_seen, (int)cont_seen);
	printf("count work_jc_body %lu\n", calls_body);
	printf("count work_jc_leaf %lu\n", calls_leaf);
	printf("count work_jc_signal %lu\n", calls_signal);
	return EXIT_STATUS;
}
