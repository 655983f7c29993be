// SPDX-License-Identifier: MIT
/*
 * utrace record: run a program, or attach to a process (-p), and write
 * every event to a trace directory (-d, default utrace.data) for the views
 * to read; nothing is formatted while the program runs.
 */
#include "cli.h"

int cmd_record(int argc, char **argv)
{
	struct cli c;
	int r = cli_parse(argc, argv, &c);

	if (r)
		return r > 0 ? 0 : EXIT_UTRACE_ERROR;
	if (c.pid && c.nargs) {
		cli_error("record: -p PID or a program, not both");
		r = EXIT_UTRACE_ERROR;
	} else if (c.pid) {
		r = cli_attach_pid(&c, c.pid);
	} else {
		r = cli_run_program(&c);
	}
	cli_free(&c);
	return r;
}
