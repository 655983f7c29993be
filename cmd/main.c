// SPDX-License-Identifier: MIT
/* utrace: the command table, dispatch and top-level help. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

/* Columns of a command's synopsis in the help; a longer one gets a line of its own. */
#define SYNOPSIS_WIDTH 32

#ifndef UTRACE_VERSION
#define UTRACE_VERSION "unknown"
#endif

const struct cli_command cli_commands[] = {
	{ "run", cmd_run, "run [OPTIONS] PROG [ARGS...]",
	  "launch PROG and trace it until it exits" },
	{ "attach", cmd_attach, "attach PID [OPTIONS]",
	  "trace a running process; SIGINT or SIGTERM detaches" },
	{ "record", cmd_record, "record [OPTIONS] [-d DIR] PROG [ARGS...] | -p PID",
	  "write every event of PROG, or of process PID, to a trace directory" },
	{ "replay", cmd_replay, "replay [-d DIR] [FILTERS]",
	  "the call graph of a recorded trace, as run prints it" },
	{ "report", cmd_report, "report [-d DIR] [-s KEY] [--threads] [FILTERS]",
	  "per function: calls, total, self, min/avg/max, p50/p99" },
	{ "dump", cmd_dump, "dump [-d DIR] --json|--chrome|--folded [FILTERS]",
	  "the events as JSON Lines, Trace Event Format, or folded stacks" },
	{ "info", cmd_info, "info [-d DIR]", "what a trace says about itself" },
	{ "symbols", cmd_symbols, "symbols PROG|PID [GLOB]",
	  "list the functions that could be traced, and how, or why not" },
	{ NULL, NULL, NULL, NULL },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: utrace COMMAND [OPTIONS] ...\n\ncommands:\n");
	for (const struct cli_command *c = cli_commands; c->name; c++)
		if (strlen(c->synopsis) <= SYNOPSIS_WIDTH)
			fprintf(f, "  utrace %-*s %s\n", SYNOPSIS_WIDTH, c->synopsis, c->summary);
		else
			fprintf(f, "  utrace %s\n  %*s %s\n", c->synopsis, SYNOPSIS_WIDTH + 7, "",
				c->summary);
	fprintf(f, "\n'utrace COMMAND --help' for the options of a command; see utrace(1).\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("utrace %s\n", UTRACE_VERSION);
		return 0;
	}
	for (const struct cli_command *c = cli_commands; c->name; c++)
		if (!strcmp(argv[1], c->name))
			return c->fn(argc - 1, argv + 1);
	cli_error("unknown command '%s' (try 'utrace --help')", argv[1]);
	return 2;
}
