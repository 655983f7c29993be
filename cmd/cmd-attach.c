// SPDX-License-Identifier: MIT
/* utrace attach: trace a running process until it exits or we are told to detach. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "procfs.h"

static bool process_exists(pid_t pid)
{
	char path[64];
	struct stat sb;

	snprintf(path, sizeof(path), "/proc/%d", pid);
	return stat(path, &sb) == 0;
}

/* proc(5): the flags of /proc/PID/stat, and the one of a kernel thread */
#define STAT_FLAGS 9
#define PF_KTHREAD 0x00200000ULL

/* A process with code of its own to trace: not a zombie, not a kernel thread. */
static bool traceable(const struct cli *c, pid_t pid)
{
	uint64_t flags = 0, threads = 0;

	/* a leader that exited before its threads is a zombie too: those are traced */
	if (ut_proc_task_state(pid, 0) == 'Z' &&
	    ut_proc_status_field(pid, "Threads:", 10, &threads) == 0 && threads <= 1) {
		cli_error("%s: process %d has exited (a zombie its parent has not waited for): "
			  "nothing to trace",
			  c->cmd, (int)pid);
		return false;
	}
	if (ut_proc_stat_field(pid, 0, STAT_FLAGS, &flags) == 0 && (flags & PF_KTHREAD)) {
		cli_error("%s: process %d is a kernel thread: it has no program to trace", c->cmd,
			  (int)pid);
		return false;
	}
	return true;
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
	if (!traceable(c, pid))
		return EXIT_UTRACE_ERROR;
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
