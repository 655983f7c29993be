// SPDX-License-Identifier: GPL-2.0
/*
 * rss-of - run a command and write its peak resident set size, for
 * bench/lossless.py.
 *
 *   rss-of FILE CMD [ARGS...]   fork, exec CMD, wait for it with wait4() and
 *                               write "maxrss_kib N" to FILE; exit with CMD's
 *                               status (128+N when signal N killed it)
 *
 * Why not wait4() from Python: a child's ru_maxrss also holds the peak of the
 * memory it had before its exec, and Python's subprocess spawns with vfork(),
 * whose child runs on its parent's memory, so the child's figure is never below
 * the Python process's own peak (hundreds of MB once it has read a big trace).
 * This program is small and forks for real: what its child brings to the exec
 * is a copy of its own pages, some hundred KiB.  ru_maxrss covers CMD and the
 * children it waited for (for `utrace run`, the traced program): the peak of
 * the largest of them.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#define STATUS_SIGNALED 128
#define STATUS_FAILED 127

int main(int argc, char **argv)
{
	struct rusage ru;
	int status;
	pid_t pid;
	FILE *out;

	if (argc < 3) {
		fprintf(stderr, "usage: rss-of FILE CMD [ARGS...]\n");
		return 2;
	}
	pid = fork();
	if (pid < 0) {
		perror("rss-of: fork");
		return STATUS_FAILED;
	}
	if (pid == 0) {
		execvp(argv[2], argv + 2);
		fprintf(stderr, "rss-of: %s: %s\n", argv[2], strerror(errno));
		_exit(STATUS_FAILED);
	}
	while (wait4(pid, &status, 0, &ru) < 0) {
		if (errno != EINTR) {
			perror("rss-of: wait4");
			return STATUS_FAILED;
		}
	}
	out = fopen(argv[1], "w");
	if (!out || fprintf(out, "maxrss_kib %ld\n", ru.ru_maxrss) < 0 || fclose(out) != 0) {
		perror("rss-of: write");
		return STATUS_FAILED;
	}
	if (WIFSIGNALED(status))
		return STATUS_SIGNALED + WTERMSIG(status);
	return WEXITSTATUS(status);
}
