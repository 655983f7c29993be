// SPDX-License-Identifier: MIT
/* utrace attach: trace a running process until it exits or we are told to detach. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

#define EXIT_UTRACE_ERROR 1

static int parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v <= 0 || v > INT32_MAX)
		return -1;
	*pid = (pid_t)v;
	return 0;
}

static bool process_exists(pid_t pid)
{
	char path[64];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	return stat(path, &sb) == 0;
}

int cmd_attach(int argc, char **argv)
{
	struct ut_session_opts o;
	struct cli c;
	int r = cli_parse(argc, argv, &c), e;
	FILE *out;
	pid_t pid;

	if (r)
		return r > 0 ? 0 : EXIT_UTRACE_ERROR;
	r = EXIT_UTRACE_ERROR;
	if (c.nargs != 1 || parse_pid(c.args[0], &pid) < 0) {
		cli_error("attach: need exactly one PID (try 'utrace attach --help')");
		goto out;
	}
	if (!process_exists(pid)) {
		cli_error("no such process: %d", pid);
		goto out;
	}
	if (!c.filter.n) {
		cli_error("attach: no -f pattern: say which functions to trace");
		goto out;
	}
	out = cli_session_begin(&c, &o);
	if (!out)
		goto out;
	e = utrace_session_attach(&o, pid);
	if (cli_session_end(out, e, "attach"))
		r = 0;
out:
	cli_free(&c);
	return r;
}
