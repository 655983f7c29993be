/* SPDX-License-Identifier: MIT */
/* What the subcommands share: parsed options, output, messages. */
#ifndef UTRACE_CLI_H
#define UTRACE_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "utrace/filter.h"
#include "utrace/output.h"
#include "utrace/probe.h"
#include "utrace/session.h"

struct cli {
	const char *cmd;
	struct ut_filter filter;
	enum ut_format format;
	const char *output;
	uint32_t ring_size, rstack_depth, nslots;
	bool lossy, record_args, record_retval;
	uint64_t block_timeout_ns;
	enum ut_probe_mode probe_mode;
	bool patch_call;
	int follow_exec; /* -1: the subcommand's default */
	bool follow_fork;
	int verbose;
	char **args; /* positional arguments */
	int nargs;
};

struct cli_command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
	const char *summary;
};

extern const struct cli_command cli_commands[];

/* Parse argv of subcommand cmd; 0 ok, 1 help printed, -1 error printed (nothing to free but on 0). */
int cli_parse(int argc, char **argv, struct cli *c);
void cli_free(struct cli *c);
void cli_usage(FILE *f, const char *cmd);
/* Print "utrace: <msg>" on stderr, with the library's last reason when there is one. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_lib_error(int err, const char *what);
void cli_log_init(int verbose);
/*
 * Before a session starts: open -o (default stderr), fill the session options
 * and route SIGINT, SIGTERM and SIGHUP to a signalfd.  NULL when -o fails.
 */
FILE *cli_session_begin(const struct cli *c, struct ut_session_opts *o);
/* After it: close the output, report err (< 0) and say whether all went well. */
bool cli_session_end(FILE *out, int err, const char *what);

int cmd_run(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_symbols(int argc, char **argv);

#endif
