// SPDX-License-Identifier: MIT
/*
 * clone(CLONE_VM | SIGCHLD): a child process that shares our memory (the
 * kernel reports it as a fork).  The tracer must treat it like a vfork child,
 * not strip the probes and areas from what is also the parent's memory.  A
 * second thread keeps making traced calls meanwhile.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach-gate.h"

#define LOOP_CALLS 2000
#define CHILD_CALLS 500
#define STACK_SIZE (256 * 1024)
#define EXIT_STATUS 16

static unsigned long calls_loop, calls_child;
static char child_stack[STACK_SIZE] __attribute__((aligned(16)));

__attribute__((noinline, noclone)) unsigned long work_loop(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_child(unsigned long x);

__attribute__((noinline, noclone)) unsigned long work_loop(unsigned long x)
{
	calls_loop++;
	usleep(100);
	__asm__ volatile("");
	return x + 1;
}

__attribute__((noinline, noclone)) unsigned long work_child(unsigned long x)
{
	calls_child++;
	__asm__ volatile("");
	return x ^ 5;
}

static void *loop_main(void *arg)
{
	unsigned long sum = 0;

	for (unsigned long i = 0; i < LOOP_CALLS; i++)
		sum += work_loop(i);
	return (void *)sum;
}

static int child_main(void *arg)
{
	unsigned long sum = 0;

	for (unsigned long i = 0; i < CHILD_CALLS; i++)
		sum += work_child(i);
	return sum ? 0 : 1;
}

int main(void)
{
	pthread_t loop;
	int status;
	pid_t p;

	if (pthread_create(&loop, NULL, loop_main, NULL) != 0)
		return 1;
	p = clone(child_main, child_stack + STACK_SIZE, CLONE_VM | SIGCHLD, NULL);
	if (p < 0 || waitpid(p, &status, 0) != p)
		return 1;
	pthread_join(loop, NULL);
	printf("child status %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	printf("count work_loop %lu\ncount work_child %lu\n", calls_loop, calls_child);
	return EXIT_STATUS;
}
