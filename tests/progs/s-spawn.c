// SPDX-License-Identifier: MIT
/*
 * Children started the vfork way (CLONE_VM | CLONE_VFORK until exec) from
 * inside traced functions:
 *
 *   work_spawn_posix(k)  posix_spawn of this program as "s-spawn child k",
 *                        which makes (k + 1) * CHILD_CALLS calls of
 *                        work_spawn_child and exits with CHILD_STATUS + k
 *   work_spawn_system()  system() of a shell command with its own status
 *
 * Each child is waited for before the next starts: output is deterministic.
 */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach-gate.h"

#define NCHILDREN 2
#define CHILD_CALLS 500
#define CHILD_STATUS 30
#define SYSTEM_COMMAND "echo from system; exit 6"
#define EXIT_STATUS 14

extern char **environ;

static unsigned long calls_posix, calls_system, calls_child;

__attribute__((noinline, noclone)) pid_t work_spawn_posix(int k);
__attribute__((noinline, noclone)) int work_spawn_system(void);
__attribute__((noinline, noclone)) unsigned long work_spawn_child(unsigned long x);

__attribute__((noinline, noclone)) pid_t work_spawn_posix(int k)
{
	char self[4096], arg[16];
	char *argv[] = { self, "child", arg, NULL };
	ssize_t n;
	pid_t pid;

	calls_posix++;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n < 0)
		return -1;
	self[n] = '\0';
	snprintf(arg, sizeof(arg), "%d", k);
	fflush(stdout);
	if (posix_spawn(&pid, self, NULL, NULL, argv, environ) != 0)
		return -1;
	return pid;
}

__attribute__((noinline, noclone)) int work_spawn_system(void)
{
	calls_system++;
	fflush(stdout);
	return system(SYSTEM_COMMAND);
}

__attribute__((noinline, noclone)) unsigned long work_spawn_child(unsigned long x)
{
	calls_child++;
	__asm__ volatile("");
	return x * 7;
}

static int child_main(int k)
{
	unsigned long sum = 0;

	for (unsigned long i = 0; i < (unsigned long)(k + 1) * CHILD_CALLS; i++)
		sum += work_spawn_child(i);
	printf("child %d sum %lu\n", k, sum);
	printf("child %d count work_spawn_child %lu\n", k, calls_child);
	return CHILD_STATUS + k;
}

static void report(const char *who, int status)
{
	if (WIFEXITED(status))
		printf("%s exit %d\n", who, WEXITSTATUS(status));
	else
		printf("%s signal %d\n", who, WIFSIGNALED(status) ? WTERMSIG(status) : -1);
}

int main(int argc, char **argv)
{
	char who[32];
	int status;

	if (argc > 2 && strcmp(argv[1], "child") == 0)
		return child_main(atoi(argv[2]));
	for (int k = 0; k < NCHILDREN; k++) {
		pid_t pid = work_spawn_posix(k);

		if (pid < 0 || waitpid(pid, &status, 0) != pid) {
			perror("posix_spawn");
			return 1;
		}
		snprintf(who, sizeof(who), "child %d", k);
		report(who, status);
	}
	status = work_spawn_system();
	if (status < 0) {
		perror("system");
		return 1;
	}
	report("system", status);
	printf("count work_spawn_posix %lu\n", calls_posix);
	printf("count work_spawn_system %lu\n", calls_system);
	printf("count work_spawn_child %lu\n", calls_child);
	return EXIT_STATUS;
}
