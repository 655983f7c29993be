// SPDX-License-Identifier: MIT
/*
 * A child forked by a library constructor (libctorfork.so), before the
 * program's entry point: it runs main too, makes CHILD_CALLS calls of
 * work_ctor_child and exits CHILD_STATUS; the parent waits for it, prints
 * its status, then makes PARENT_CALLS calls of work_ctor_parent.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_CALLS 400
#define PARENT_CALLS 600
#define CHILD_STATUS 21
#define EXIT_STATUS 12

extern int ctorfork_child;
extern pid_t ctorfork_pid;

static unsigned long calls_child, calls_parent;

__attribute__((noinline, noclone)) unsigned long work_ctor_child(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_ctor_parent(unsigned long x);

__attribute__((noinline, noclone)) unsigned long work_ctor_child(unsigned long x)
{
	calls_child++;
	__asm__ volatile("");
	return x + 1;
}

__attribute__((noinline, noclone)) unsigned long work_ctor_parent(unsigned long x)
{
	calls_parent++;
	__asm__ volatile("");
	return x + 2;
}

int main(void)
{
	unsigned long sum = 0;
	int status;

	if (ctorfork_child) {
		for (unsigned long i = 0; i < CHILD_CALLS; i++)
			sum += work_ctor_child(i);
		printf("pid %d count work_ctor_child %lu\n", getpid(), calls_child);
		printf("child sum %lu\n", sum);
		return CHILD_STATUS;
	}
	if (ctorfork_pid < 0 || waitpid(ctorfork_pid, &status, 0) != ctorfork_pid) {
		perror("fork");
		return 1;
	}
	if (WIFEXITED(status))
		printf("child exit %d\n", WEXITSTATUS(status));
	else
		printf("child signal %d\n", WIFSIGNALED(status) ? WTERMSIG(status) : -1);
	for (unsigned long i = 0; i < PARENT_CALLS; i++)
		sum += work_ctor_parent(i);
	printf("pid %d count work_ctor_parent %lu\n", getpid(), calls_parent);
	printf("parent sum %lu\n", sum);
	return EXIT_STATUS;
}
