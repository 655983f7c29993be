// SPDX-License-Identifier: MIT
/*
 * Signal handlers that run traced code while traced code runs.
 *
 *   s-signal            work_sig_body raises SIGUSR1 every RAISE_EVERY calls,
 *                       from inside itself; deterministic output.
 *   s-signal timer      SIGALRM from a one-shot timer TIMER_DELAY_US ahead,
 *                       re-armed by the loop once the last one was handled,
 *                       while work_sig_body runs, until TIMER_MIN_CALLS calls
 *                       and TIMER_MIN_SIGNALS signals are done: handlers land
 *                       anywhere, including inside the recorder.  Counts vary
 *                       from run to run.  Re-arming from the loop keeps it
 *                       progressing however slow tracing makes delivery.
 *   s-signal altstack   as timer, with the handler on a sigaltstack.
 *
 * The handler calls work_sig_handler -> work_sig_leaf.  Counters are
 * incremented atomically: a handler may interrupt an increment in main.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "attach-gate.h"

#define RAISE_CALLS 10000
#define RAISE_EVERY 4
#define TIMER_MIN_SIGNALS 300
#define TIMER_DELAY_US 20
#define TIMER_MIN_CALLS 1000
#define EXIT_STATUS 6

static unsigned long calls_body, calls_handler, calls_leaf;
static volatile sig_atomic_t timer_armed;

static void count(unsigned long *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static unsigned long counted(unsigned long *counter)
{
	return __atomic_load_n(counter, __ATOMIC_RELAXED);
}

__attribute__((noinline, noclone)) unsigned long work_sig_leaf(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_sig_handler(int sig);
__attribute__((noinline, noclone)) unsigned long work_sig_body(unsigned long i, int raise_sig);

__attribute__((noinline, noclone)) unsigned long work_sig_leaf(unsigned long x)
{
	count(&calls_leaf);
	__asm__ volatile("");
	return x + 7;
}

__attribute__((noinline, noclone)) unsigned long work_sig_handler(int sig)
{
	unsigned long r;

	count(&calls_handler);
	r = work_sig_leaf((unsigned long)sig);
	__asm__ volatile("" : "+r"(r));
	return r;
}

static void on_signal(int sig)
{
	if (sig == SIGALRM)
		timer_armed = 0;
	work_sig_handler(sig);
}

__attribute__((noinline, noclone)) unsigned long work_sig_body(unsigned long i, int raise_sig)
{
	unsigned long r;

	count(&calls_body);
	if (raise_sig && i % RAISE_EVERY == 0)
		raise(SIGUSR1);
	r = work_sig_leaf(i);
	__asm__ volatile("" : "+r"(r));
	return r;
}

static int install(int sig, int on_altstack)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART | (on_altstack ? SA_ONSTACK : 0);
	sigemptyset(&sa.sa_mask);
	return sigaction(sig, &sa, NULL);
}

static int use_altstack(void)
{
	static char altstack[1 << 16];
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };

	return sigaltstack(&ss, NULL);
}

/* One shot, usec from now (0: disarm). */
static int set_timer(long usec)
{
	struct itimerval it = { { 0, 0 }, { 0, usec } };

	return setitimer(ITIMER_REAL, &it, NULL);
}

static int run_raise(void)
{
	unsigned long sum = 0;

	if (install(SIGUSR1, 0) != 0)
		return -1;
	for (unsigned long i = 0; i < RAISE_CALLS; i++)
		sum += work_sig_body(i, 1);
	printf("sum %lu\n", sum);
	return 0;
}

static int run_timer(int on_altstack)
{
	unsigned long sum = 0;

	if (on_altstack && use_altstack() != 0)
		return -1;
	if (install(SIGALRM, on_altstack) != 0)
		return -1;
	for (unsigned long i = 0;
	     i < TIMER_MIN_CALLS || counted(&calls_handler) < TIMER_MIN_SIGNALS; i++) {
		if (!timer_armed) {
			timer_armed = 1;
			if (set_timer(TIMER_DELAY_US) != 0)
				return -1;
		}
		sum += work_sig_body(i, 0);
	}
	if (set_timer(0) != 0)
		return -1;
	printf("signals %s\n", counted(&calls_handler) >= TIMER_MIN_SIGNALS ? "ok" : "few");
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "raise";
	int err;

	if (strcmp(mode, "raise") == 0)
		err = run_raise();
	else if (strcmp(mode, "timer") == 0)
		err = run_timer(0);
	else if (strcmp(mode, "altstack") == 0)
		err = run_timer(1);
	else {
		fprintf(stderr, "usage: s-signal [raise|timer|altstack]\n");
		return 2;
	}
	if (err) {
		perror("s-signal");
		return 1;
	}
	printf("count work_sig_body %lu\n", counted(&calls_body));
	printf("count work_sig_handler %lu\n", counted(&calls_handler));
	printf("count work_sig_leaf %lu\n", counted(&calls_leaf));
	return EXIT_STATUS;
}
