// SPDX-License-Identifier: MIT
/*
 * A target under load for repeated attach/detach (and for a tracer that
 * dies): it checks its own results and prints them when SIGTERM ends it.
 *
 *   s-load [seconds [pause_us]]
 *
 * NWORKERS threads call work_load_outer -> work_load_inner in batches of
 * BATCH, pausing pause_us between batches (0, the default: never), and
 * check every result; SIGALRM comes from an interval timer and SIGUSR1
 * from a child process, each handler calling work_load_sig.  The child
 * sends its next SIGUSR1 only once the handler acknowledged the last one,
 * so a signal lost or delivered twice shows up as "usr1 lost" or a count
 * mismatch.  Prints "ready" once everything runs; SIGTERM (or the optional
 * duration running out) ends it with:
 *
 *   errors 0              wrong results, counts that disagree, lost signals
 *   count work_load_outer N ...
 *
 * Exit status EXIT_STATUS when errors is 0, 1 otherwise.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NWORKERS 4
#define BATCH 32
#define ALARM_US 500
#define USR1_PAUSE_NS 200000L
#define ACK_POLL_NS 20000L
#define ACK_TIMEOUT_NS (10L * 1000 * 1000 * 1000)
#define NSEC_PER_SEC 1000000000L
#define EXIT_STATUS 17

/* Shared with the SIGUSR1 sender child. */
struct usr1_shared {
	unsigned long sent;
	unsigned long acked;
	unsigned long lost;
	int stop;
};

static unsigned long calls_outer, calls_inner, calls_sig;
static unsigned long made_calls[NWORKERS], bad_results[NWORKERS];
static unsigned long alarms, usr1s, sig_errors;
static volatile sig_atomic_t stop;
static struct usr1_shared *usr1;
static long batch_pause_ns;

__attribute__((noinline, noclone)) unsigned long work_load_inner(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_load_outer(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_load_sig(unsigned long x);

__attribute__((noinline, noclone)) unsigned long work_load_inner(unsigned long x)
{
	__atomic_fetch_add(&calls_inner, 1, __ATOMIC_RELAXED);
	return x * 7 + 5;
}

__attribute__((noinline, noclone)) unsigned long work_load_outer(unsigned long x)
{
	unsigned long r;

	__atomic_fetch_add(&calls_outer, 1, __ATOMIC_RELAXED);
	r = work_load_inner(x ^ 0x5a);
	__asm__ volatile("" : "+r"(r));
	return r + 3;
}

__attribute__((noinline, noclone)) unsigned long work_load_sig(unsigned long x)
{
	__atomic_fetch_add(&calls_sig, 1, __ATOMIC_RELAXED);
	return x * 3 + 1;
}

/*
 * Process-directed signals reach any thread: two handlers may run at once,
 * so their counters are atomic.
 */
static void on_alarm(int sig)
{
	unsigned long n = __atomic_fetch_add(&alarms, 1, __ATOMIC_RELAXED);

	(void)sig;
	if (work_load_sig(n) != n * 3 + 1)
		__atomic_fetch_add(&sig_errors, 1, __ATOMIC_RELAXED);
}

/* One SIGUSR1 at a time: the sender waits for this acknowledgement. */
static void on_usr1(int sig)
{
	unsigned long n = __atomic_fetch_add(&usr1s, 1, __ATOMIC_RELAXED);

	(void)sig;
	if (work_load_sig(n) != n * 3 + 1)
		__atomic_fetch_add(&sig_errors, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&usr1->acked, n + 1, __ATOMIC_RELEASE);
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

static void pause_ns(long ns)
{
	struct timespec ts = { 0, ns };

	nanosleep(&ts, NULL);
}

static void *worker(void *arg)
{
	long id = (long)arg;
	unsigned long x = (unsigned long)id << 32;

	while (!stop) {
		for (int k = 0; k < BATCH; k++, x++)
			if (work_load_outer(x) != ((x ^ 0x5a) * 7 + 5) + 3)
				bad_results[id]++;
		made_calls[id] += BATCH;
		if (batch_pause_ns)
			pause_ns(batch_pause_ns);
	}
	return NULL;
}

/* The child: one SIGUSR1 at a time, each acknowledged before the next. */
static void usr1_sender(pid_t parent)
{
	while (!__atomic_load_n(&usr1->stop, __ATOMIC_ACQUIRE)) {
		long deadline = now_ns() + ACK_TIMEOUT_NS;

		usr1->sent++;
		kill(parent, SIGUSR1);
		while (__atomic_load_n(&usr1->acked, __ATOMIC_ACQUIRE) != usr1->sent &&
		       !__atomic_load_n(&usr1->stop, __ATOMIC_ACQUIRE) && now_ns() < deadline)
			pause_ns(ACK_POLL_NS);
		if (__atomic_load_n(&usr1->acked, __ATOMIC_ACQUIRE) != usr1->sent) {
			if (!__atomic_load_n(&usr1->stop, __ATOMIC_ACQUIRE))
				usr1->lost++;
			break;
		}
		pause_ns(USR1_PAUSE_NS);
	}
	_exit(0);
}

static void handle(int sig, void (*fn)(int))
{
	struct sigaction sa = { .sa_handler = fn, .sa_flags = SA_RESTART };

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
}

static void start_alarm(long us)
{
	struct itimerval it = { { 0, us }, { 0, us } };

	setitimer(ITIMER_REAL, &it, NULL);
}

static unsigned long report(unsigned long made)
{
	unsigned long errors = sig_errors + usr1->lost;

	for (int i = 0; i < NWORKERS; i++)
		errors += bad_results[i];
	if (calls_outer != made || calls_inner != made)
		errors++;
	if (usr1->sent != usr1s || calls_sig != alarms + usr1s || !alarms || !usr1s)
		errors++;
	printf("errors %lu\n", errors);
	printf("calls made %lu outer %lu inner %lu\n", made, calls_outer, calls_inner);
	printf("usr1 sent %lu received %lu lost %lu\n", usr1->sent, usr1s, usr1->lost);
	printf("alarms %lu sig calls %lu\n", alarms, calls_sig);
	return errors;
}

int main(int argc, char **argv)
{
	pthread_t th[NWORKERS];
	unsigned long made = 0;
	long seconds = argc > 1 ? atol(argv[1]) : 0;
	long pause_us = argc > 2 ? atol(argv[2]) : 0;
	long end = now_ns() + seconds * NSEC_PER_SEC;
	pid_t child;

	usr1 = mmap(NULL, sizeof(*usr1), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (usr1 == MAP_FAILED)
		return 1;
	batch_pause_ns = pause_us * 1000;
	handle(SIGUSR1, on_usr1);
	handle(SIGALRM, on_alarm);
	handle(SIGTERM, on_term);
	child = fork();
	if (child == 0)
		usr1_sender(getppid());
	for (long i = 0; i < NWORKERS; i++)
		pthread_create(&th[i], NULL, worker, (void *)i);
	start_alarm(ALARM_US);
	printf("ready\n");
	fflush(stdout);
	while (!stop && (!seconds || now_ns() < end))
		pause_ns(NSEC_PER_SEC / 100);
	stop = 1;
	start_alarm(0);
	__atomic_store_n(&usr1->stop, 1, __ATOMIC_RELEASE);
	waitpid(child, NULL, 0);
	for (int i = 0; i < NWORKERS; i++) {
		pthread_join(th[i], NULL);
		made += made_calls[i];
	}
	if (report(made))
		return 1;
	printf("count work_load_outer %lu\n", calls_outer);
	printf("count work_load_inner %lu\n", calls_inner);
	return EXIT_STATUS;
}
