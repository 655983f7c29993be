// SPDX-License-Identifier: MIT
/*
 * Processes that fork and execute programs, for --follow-fork and
 * --follow-exec.  Every process counts its own traced calls and prints them
 * with its pid, so that a trace can be checked per process:
 *
 *   pid P count FUNC N
 *
 *   s-follow leaf K          K * LEAF_CALLS calls of work_leaf, exit LEAF_STATUS + K
 *   s-follow exec            WORK_CALLS of work_before, then executes `leaf 1`
 *   s-follow execsh          WORK_CALLS of work_before, then executes a shell that
 *                            executes `leaf 6` (a program with nothing to trace between)
 *   s-follow forkexec        fork: the child makes WORK_CALLS of work_child and
 *                            executes `leaf 2`; the parent WORK_CALLS of work_parent
 *   s-follow fork            fork: child and parent make traced calls, no exec
 *   s-follow orphan          fork: the parent makes its calls and exits at once; the
 *                            child waits ORPHAN_WAIT_US, then makes its calls
 *   s-follow threadfork      FORK_THREADS threads each fork FORKS_PER_THREAD children
 *                            at once (each makes WORK_CALLS of work_child), while
 *                            making calls of work_thread in between
 *   s-follow vfork           vfork: the child makes WORK_CALLS of work_child (in our
 *                            memory: the parent prints them under the child's pid)
 *                            and _exits; then the parent makes its calls
 *   s-follow spawn           posix_spawn of `leaf 3`, then system() of `leaf 4`
 *   s-follow threadexec      a second thread makes WORK_CALLS of work_thread and
 *                            executes `leaf 5` while the main thread waits in
 *                            work_main (the kernel gives the exec'ing thread the
 *                            leader's pid)
 *
 * A parent waits for each child before going on: the output is deterministic.
 */
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach-gate.h"

#define LEAF_CALLS 300
#define LEAF_STATUS 40
#define WORK_CALLS 700
#define EXIT_STATUS 9
#define ORPHAN_WAIT_US 1000000
#define FORK_THREADS 4
#define FORKS_PER_THREAD 8

extern char **environ;

/* Updated atomically: several threads make the same calls (threadfork). */
static unsigned long calls[6];
enum { C_LEAF, C_BEFORE, C_CHILD, C_PARENT, C_THREAD, C_MAIN };
static const char *const names[] = { "work_leaf",   "work_before", "work_child",
				     "work_parent", "work_thread", "work_main" };
static char self[4096];

#define WORK(fn, idx)                                                         \
	__attribute__((noinline, noclone)) unsigned long fn(unsigned long x); \
	__attribute__((noinline, noclone)) unsigned long fn(unsigned long x)  \
	{                                                                     \
		__atomic_add_fetch(&calls[idx], 1, __ATOMIC_RELAXED);         \
		__asm__ volatile("");                                         \
		return x * 3 + idx;                                           \
	}

WORK(work_leaf, C_LEAF)
WORK(work_before, C_BEFORE)
WORK(work_child, C_CHILD)
WORK(work_parent, C_PARENT)
WORK(work_thread, C_THREAD)

static void print_counts(void)
{
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++)
		if (calls[i])
			printf("pid %d count %s %lu\n", getpid(), names[i], calls[i]);
	fflush(stdout);
}

static unsigned long repeat(unsigned long (*fn)(unsigned long), unsigned long n)
{
	unsigned long sum = 0;

	for (unsigned long i = 0; i < n; i++)
		sum += fn(i);
	return sum;
}

static void exec_leaf(const char *k)
{
	char *argv[] = { self, "leaf", (char *)k, NULL };

	print_counts();
	execv(self, argv);
	perror("execv");
	_exit(127);
}

static void exec_shell(const char *k)
{
	char cmd[sizeof(self) + 32];
	char *argv[] = { "/bin/sh", "-c", cmd, NULL };

	snprintf(cmd, sizeof(cmd), "exec '%s' leaf %s", self, k);
	print_counts();
	execv(argv[0], argv);
	perror("execv");
	_exit(127);
}

static int leaf(int k)
{
	unsigned long sum = repeat(work_leaf, (unsigned long)k * LEAF_CALLS);

	printf("leaf %d sum %lu\n", k, sum);
	print_counts();
	return LEAF_STATUS + k;
}

static void report(const char *who, int status)
{
	if (WIFEXITED(status))
		printf("%s exit %d\n", who, WEXITSTATUS(status));
	else
		printf("%s signal %d\n", who, WIFSIGNALED(status) ? WTERMSIG(status) : -1);
	fflush(stdout);
}

static int wait_child(const char *who, pid_t pid)
{
	int status;

	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		perror(who);
		return -1;
	}
	report(who, status);
	return 0;
}

static int fork_then(int exec)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		repeat(work_child, WORK_CALLS);
		if (exec)
			exec_leaf("2");
		print_counts();
		exit(LEAF_STATUS);
	}
	if (wait_child("child", pid) < 0)
		return 1;
	repeat(work_parent, WORK_CALLS);
	print_counts();
	return EXIT_STATUS;
}

/* The child outlives its parent: the tracer must wait for it. */
static int orphan(void)
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		usleep(ORPHAN_WAIT_US);
		repeat(work_child, WORK_CALLS);
		print_counts();
		exit(LEAF_STATUS);
	}
	repeat(work_parent, WORK_CALLS);
	print_counts();
	return EXIT_STATUS;
}

/* Children forked from several threads at once, each waited for by its thread. */
static void *fork_thread(void *arg)
{
	long failed = 0;

	(void)arg;
	for (int i = 0; i < FORKS_PER_THREAD; i++) {
		pid_t pid = fork();
		int status;

		if (pid == 0) {
			calls[C_THREAD] = calls[C_MAIN] = 0;
			repeat(work_child, WORK_CALLS);
			print_counts();
			_exit(LEAF_STATUS);
		}
		repeat(work_thread, WORK_CALLS / FORKS_PER_THREAD);
		if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
		    WEXITSTATUS(status) != LEAF_STATUS)
			failed++;
	}
	return (void *)failed;
}

static int thread_fork(void)
{
	pthread_t t[FORK_THREADS];
	long failed = 0;
	void *r;

	fflush(stdout);
	for (int i = 0; i < FORK_THREADS; i++)
		if (pthread_create(&t[i], NULL, fork_thread, NULL) != 0)
			return 1;
	for (int i = 0; i < FORK_THREADS; i++) {
		pthread_join(t[i], &r);
		failed += (long)r;
	}
	printf("failed children %ld\n", failed);
	print_counts();
	return EXIT_STATUS;
}

static int vfork_calls(void)
{
	pid_t pid;

	fflush(stdout);
	pid = vfork();
	if (pid == 0) {
		repeat(work_child, WORK_CALLS);
		_exit(LEAF_STATUS);
	}
	if (wait_child("vfork", pid) < 0)
		return 1;
	printf("pid %d count work_child %lu\n", pid, calls[C_CHILD]);
	calls[C_CHILD] = 0;
	repeat(work_parent, WORK_CALLS);
	print_counts();
	return EXIT_STATUS;
}

static int spawn(void)
{
	char *argv[] = { self, "leaf", "3", NULL };
	char cmd[sizeof(self) + 16];
	pid_t pid;

	fflush(stdout);
	if (posix_spawn(&pid, self, NULL, NULL, argv, environ) != 0 || wait_child("spawn", pid) < 0)
		return 1;
	snprintf(cmd, sizeof(cmd), "'%s' leaf 4", self);
	report("system", system(cmd));
	repeat(work_parent, WORK_CALLS);
	print_counts();
	return EXIT_STATUS;
}

static void *exec_thread(void *arg)
{
	(void)arg;
	repeat(work_thread, WORK_CALLS);
	exec_leaf("5");
	return NULL;
}

/* Waits in a traced function for the exec that ends it: never returns. */
__attribute__((noinline, noclone)) void work_main(void);
__attribute__((noinline, noclone)) void work_main(void)
{
	pthread_t t;

	calls[C_MAIN]++;
	if (pthread_create(&t, NULL, exec_thread, NULL) != 0)
		exit(1);
	pthread_join(t, NULL);
	exit(1);
}

int main(int argc, char **argv)
{
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (n < 0 || argc < 2)
		return 2;
	self[n] = 0;
	if (!strcmp(argv[1], "leaf") && argc > 2)
		return leaf(atoi(argv[2]));
	if (!strcmp(argv[1], "exec") || !strcmp(argv[1], "execsh")) {
		repeat(work_before, WORK_CALLS);
		if (argv[1][4])
			exec_shell("6");
		exec_leaf("1");
	}
	if (!strcmp(argv[1], "fork") || !strcmp(argv[1], "forkexec"))
		return fork_then(argv[1][4] == 'e');
	if (!strcmp(argv[1], "spawn"))
		return spawn();
	if (!strcmp(argv[1], "vfork"))
		return vfork_calls();
	if (!strcmp(argv[1], "orphan"))
		return orphan();
	if (!strcmp(argv[1], "threadfork"))
		return thread_fork();
	if (!strcmp(argv[1], "threadexec"))
		work_main();
	return 2;
}
