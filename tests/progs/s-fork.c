// SPDX-License-Identifier: MIT
/*
 * fork from inside a traced function: the child returns through a frame
 * whose return address the tracer may have hijacked, makes its own traced
 * calls and exits with a status of its own.  Children run one at a time so
 * the output is deterministic:
 *
 *   parent: work_fork_spawn(k) -> fork()      child k: returns from work_fork_spawn,
 *           waitpid, prints the status                 (k + 1) * CHILD_CALLS calls of
 *   ...                                                work_fork_child, exit(CHILD_STATUS + k)
 *   parent: PARENT_CALLS calls of work_fork_parent
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach-gate.h"

#define NCHILDREN 3
#define CHILD_CALLS 1000
#define CHILD_STATUS 20
#define PARENT_CALLS 2000
#define EXIT_STATUS 13

static unsigned long calls_spawn, calls_child, calls_parent;

__attribute__((noinline, noclone)) pid_t work_fork_spawn(int k);
__attribute__((noinline, noclone)) unsigned long work_fork_child(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_fork_parent(unsigned long x);

__attribute__((noinline, noclone)) pid_t work_fork_spawn(int k)
{
	pid_t pid;

	calls_spawn++;
	/* Nothing buffered may be written twice. */
	fflush(stdout);
	pid = fork();
	__asm__ volatile("" : "+r"(pid));
	return pid;
}

__attribute__((noinline, noclone)) unsigned long work_fork_child(unsigned long x)
{
	calls_child++;
	__asm__ volatile("");
	return x ^ 3;
}

__attribute__((noinline, noclone)) unsigned long work_fork_parent(unsigned long x)
{
	calls_parent++;
	__asm__ volatile("");
	return x + 5;
}

/*
 * Mappings a tracer left behind ("memfd:utrace", the tracer's code areas show
 * as anonymous r-xp): an untraced child must have none of the first kind.
 */
static int tracer_mappings(void)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "utrace"))
			n++;
	fclose(f);
	return n;
}

static void child_main(int k)
{
	unsigned long sum = 0;

	calls_child = 0;
	for (unsigned long i = 0; i < (unsigned long)(k + 1) * CHILD_CALLS; i++)
		sum += work_fork_child(i);
	printf("child %d sum %lu\n", k, sum);
	printf("child %d count work_fork_child %lu\n", k, calls_child);
	printf("child %d tracer mappings %d\n", k, tracer_mappings());
	exit(CHILD_STATUS + k);
}

int main(void)
{
	unsigned long sum = 0;

	for (int k = 0; k < NCHILDREN; k++) {
		pid_t pid = work_fork_spawn(k);
		int status;

		if (pid < 0) {
			perror("fork");
			return 1;
		}
		if (pid == 0)
			child_main(k);
		if (waitpid(pid, &status, 0) != pid) {
			perror("waitpid");
			return 1;
		}
		if (WIFEXITED(status))
			printf("child %d exit %d\n", k, WEXITSTATUS(status));
		else
			printf("child %d signal %d\n", k,
			       WIFSIGNALED(status) ? WTERMSIG(status) : -1);
	}
	for (unsigned long i = 0; i < PARENT_CALLS; i++)
		sum += work_fork_parent(i);
	printf("sum %lu\n", sum);
	printf("count work_fork_spawn %lu\n", calls_spawn);
	printf("count work_fork_parent %lu\n", calls_parent);
	printf("count work_fork_child %lu\n", calls_child);
	return EXIT_STATUS;
}
