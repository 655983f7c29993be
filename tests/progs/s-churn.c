// SPDX-License-Identifier: MIT
/*
 * A target for attach that keeps creating threads, and vforking children:
 *
 *   s-churn threads   threads created and joined in a loop, each calling
 *                     work_churn; a new thread can run and exit before its
 *                     creator's clone event reaches the tracer
 *   s-churn vfork     vfork children that sleep 50 ms before exiting, so the
 *                     parent spends most of its time unable to stop
 *
 * Prints "ready", runs until SIGTERM, then prints its count and exits 15.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define CHILD_SLEEP_NS (50 * 1000 * 1000)
#define EXIT_STATUS 15

static volatile sig_atomic_t done;
static unsigned long calls_churn;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

__attribute__((noinline, noclone)) unsigned long work_churn(unsigned long x);

__attribute__((noinline, noclone)) unsigned long work_churn(unsigned long x)
{
	pthread_mutex_lock(&lock);
	calls_churn++;
	pthread_mutex_unlock(&lock);
	__asm__ volatile("");
	return x * 7;
}

static void on_term(int sig)
{
	(void)sig;
	done = 1;
}

static void *thread_main(void *arg)
{
	return (void *)work_churn((unsigned long)arg);
}

static int churn_threads(void)
{
	for (unsigned long i = 0; !done; i++) {
		pthread_t t[2];

		for (int k = 0; k < 2; k++)
			if (pthread_create(&t[k], NULL, thread_main, (void *)i) != 0)
				return 1;
		for (int k = 0; k < 2; k++)
			pthread_join(t[k], NULL);
	}
	return 0;
}

static int churn_vfork(void)
{
	while (!done) {
		pid_t p;

		work_churn(1);
		p = vfork();
		if (p == 0) {
			struct timespec ts = { 0, CHILD_SLEEP_NS };

			nanosleep(&ts, NULL);
			_exit(0);
		}
		if (p < 0 || waitpid(p, NULL, 0) != p)
			return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int vf = argc > 1 && !strcmp(argv[1], "vfork");
	int r;

	signal(SIGTERM, on_term);
	printf("ready\n");
	fflush(stdout);
	r = vf ? churn_vfork() : churn_threads();
	printf("count work_churn %lu\n", calls_churn);
	return r ? 1 : EXIT_STATUS;
}
