// SPDX-License-Identifier: MIT
/* utrace attach: trace a running process until it exits or we are told to detach. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static bool process_exists(pid_t pid)
{
	char path[64];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	return stat(path, &sb) == 0;
}

int cli_attach_pid(struct cli *c, const char *pid_arg)
{
	struct ut_session_opts o;
	char exe[64];
	FILE *out;
	pid_t pid;
	int e;

	if (cli_parse_pid(pid_arg, &pid) < 0) {
		cli_error("%s: '%s' is not a process id", c->cmd, pid_arg);
		return EXIT_UTRACE_ERROR;
	}
	if (!process_exists(pid)) {
		cli_error("no such process: %d", pid);
		return EXIT_UTRACE_ERROR;
	}
	if (!c->filter.n) {
		cli_error("%s: no -f pattern: say which functions to trace", c->cmd);
		return EXIT_UTRACE_ERROR;
	}
	snprintf(exe, sizeof(exe), "/proc/%d/exe", (int)pid);
	out = cli_session_begin(c, &o, exe);
	if (!out)
		return EXIT_UTRACE_ERROR;
	e = utrace_session_attach(&o, pid);
	return cli_session_end(c, out, e) ? 0 : EXIT_UTRACE_ERROR;
}

int cmd_attach(int argc, char **argv)
{
	struct cli c;
	int r = cli_parse(argc, argv, &c);

	if (r)
		return r > 0 ? 0 : EXIT_UTRACE_ERROR;
	if (c.nargs == 1) {
		r = cli_attach_pid(&c, c.args[0]);
	} else {
		cli_error("attach: need exactly one PID (try 'utrace attach --help')");
		r = EXIT_UTRACE_ERROR;
	}
	cli_free(&c);
	return r;
}
