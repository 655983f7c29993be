// SPDX-License-Identifier: MIT
/*
 * SIGPROF at 10 kHz over millions of traced calls.
 *
 *   s-sigprof [CALLS]
 *
 * A timer sends SIGPROF to the main thread every PERIOD_US while main makes
 * CALLS calls of work_prof_body -> work_prof_leaf; each SIGPROF handled calls
 * work_prof_handler -> work_prof_leaf once, wherever it lands (inside the
 * recorder too).  The number of signals varies from run to run; the prog
 * counts what its handler ran, so a trace must hold exactly as many
 * work_prof_handler calls as "signals" says.  Counters are atomic: a
 * handler may interrupt an increment in main.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "attach-gate.h"

#define DEFAULT_CALLS 1000000
#define PERIOD_US 100
#define EXIT_STATUS 12

static unsigned long calls_body, calls_handler, calls_leaf, signals;

static void count(unsigned long *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static unsigned long counted(unsigned long *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

__attribute__((noinline, noclone)) unsigned long work_prof_leaf(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_prof_handler(int sig);
__attribute__((noinline, noclone)) unsigned long work_prof_body(unsigned long i);

__attribute__((noinline, noclone)) unsigned long work_prof_leaf(unsigned long x)
{
	count(&calls_leaf);
	__asm__ volatile("");
	return x + 3;
}

__attribute__((noinline, noclone)) unsigned long work_prof_handler(int sig)
{
	unsigned long r;

	count(&calls_handler);
	r = work_prof_leaf((unsigned long)sig);
	__asm__ volatile("" : "+r"(r));
	return r;
}

__attribute__((noinline, noclone)) unsigned long work_prof_body(unsigned long i)
{
	unsigned long r;

	count(&calls_body);
	r = work_prof_leaf(i);
	__asm__ volatile("" : "+r"(r));
	return r;
}

static void on_sigprof(int sig)
{
	count(&signals);
	work_prof_handler(sig);
}

/*
 * ITIMER_PROF and CPU-time timers fire at most once a scheduler tick (100 to
 * 1000 Hz): a thread-directed CLOCK_MONOTONIC timer really reaches 10 kHz.
 */
static int start_timer(timer_t *timer)
{
	struct itimerspec it = { { 0, PERIOD_US * 1000 }, { 0, PERIOD_US * 1000 } };
	struct sigevent sev;

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGPROF;
	sev._sigev_un._tid = (pid_t)syscall(SYS_gettid);
	if (timer_create(CLOCK_MONOTONIC, &sev, timer) != 0)
		return -1;
	return timer_settime(*timer, 0, &it, NULL);
}

int main(int argc, char **argv)
{
	unsigned long calls = argc > 1 ? strtoul(argv[1], NULL, 10) : DEFAULT_CALLS;
	unsigned long sum = 0;
	struct sigaction sa;
	timer_t timer;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_sigprof;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGPROF, &sa, NULL) != 0 || start_timer(&timer) != 0) {
		perror("s-sigprof");
		return 1;
	}
	for (unsigned long i = 0; i < calls; i++)
		sum += work_prof_body(i);
	if (timer_delete(timer) != 0) {
		perror("s-sigprof");
		return 1;
	}
	printf("sum %lu\n", sum);
	printf("signals %lu\n", counted(&signals));
	printf("count work_prof_body %lu\n", counted(&calls_body));
	printf("count work_prof_handler %lu\n", counted(&calls_handler));
	printf("count work_prof_leaf %lu\n", counted(&calls_leaf));
	return EXIT_STATUS;
}
