/* SPDX-License-Identifier: MIT */
/* What the subcommands share: parsed options, output, messages. */
#ifndef UTRACE_CLI_H
#define UTRACE_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "filter.h"
#include "output.h"
#include "patchable.h"
#include "session.h"
#include "trace.h"

/* The status of a utrace that failed (run exits with its program's own). */
#define EXIT_UTRACE_ERROR 1

struct cli {
	const char *cmd;
	struct ut_filter filter;
	struct ut_argspecs argspecs; /* -A, -R */
	const char *debug_dir;
	bool srcline;
	enum ut_format format;
	const char *output;
	char *out_tmp; /* where the -o trace is written until it is renamed over -o */
	const char *dir; /* record -d */
	const char *pid; /* record -p */
	uint32_t ring_size, rstack_depth, nslots;
	bool lossy, record_args, record_retval;
	/* --stack, --caller: the functions named (without MODULE:) */
	const char **stack_funcs, **caller_funcs;
	size_t nstack_funcs, ncaller_funcs;
	uint32_t str_max, stack_bytes; /* --string-size, --stack-size */
	uint64_t block_timeout_ns;
	uint64_t max_events, duration_ns; /* --max-events, --duration; 0: none */
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
/* The "usage:" line and summary of cmd. */
void cli_usage_head(FILE *f, const char *cmd);
/* getopt's own messages would not start with "utrace: ": say it in one line ourselves. */
void cli_option_error(const char *cmd, int opt, char **argv);
/* A process or thread id: a decimal from 1 to INT32_MAX; 0, or -1 when s is not one. */
int cli_parse_pid(const char *s, pid_t *pid);
/* "1s", "500ms", "250us", "100000ns", "0.5" (seconds): nanoseconds within (0, max]. */
int cli_parse_duration(const char *s, uint64_t max, uint64_t *out);
/* utrace info: the trace's metadata (cmd-info.c). */
int cli_print_info(const struct ut_trace *t, FILE *out);
/* Print "utrace: <msg>" on stderr, with the library's last reason when there is one. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cli_lib_error(int err, const char *what);
void cli_log_init(int verbose);
/*
 * Before a session starts: open -o (default stderr; output-file.c: never the
 * program's file), fill the session options and route SIGINT, SIGTERM and
 * SIGHUP to a signalfd.  NULL when -o fails.  program: the file of the
 * program traced.
 */
FILE *cli_session_begin(struct cli *c, struct ut_session_opts *o, const char *program);
/*
 * After it: close the output (renamed over -o only when the session went
 * well), report err (< 0) and say whether all went well.
 */
bool cli_session_end(struct cli *c, FILE *out, int err);
/* output-file.c: the -o file, through a temporary file beside it; stderr without -o. */
FILE *cli_output_open(struct cli *c, const char *program);
/* Close it; keep: put it in place of -o, else remove it.  Whether it was written. */
bool cli_output_close(struct cli *c, FILE *out, bool keep);

int cmd_run(int argc, char **argv);
int cmd_attach(int argc, char **argv);
int cmd_symbols(int argc, char **argv);
int cmd_record(int argc, char **argv);
/* Launch args[0] (c->args), checked as run checks it, and trace it: the exit code to return. */
int cli_run_program(struct cli *c);
/* Attach to the process c->args[0] (or pid_arg), checked: the exit code to return. */
int cli_attach_pid(struct cli *c, const char *pid_arg);
/* The views of a trace (cmd-views.c). */
int cmd_replay(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_info(int argc, char **argv);

#endif
