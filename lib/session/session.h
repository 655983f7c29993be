/* SPDX-License-Identifier: MIT */
/*
 * A tracing session: one traced process, from launch or attach to its exit
 * or our detach.  The CLI fills the options and calls one entry point; the
 * library does everything else and reports through the log callback and
 * ut_error().
 */
#ifndef UTRACE_SESSION_H
#define UTRACE_SESSION_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "argspec.h"
#include "filter.h"
#include "output.h"
#include "patchable.h"

struct ut_session_opts {
	struct ut_filter *filter;
	/* the live view of run and attach: format events to `out` as they come */
	bool live;
	enum ut_format format;
	FILE *out;
	/* the trace directory (utrace record), or NULL: an unnamed one, gone at the end */
	const char *trace_dir;
	uint32_t ring_size; /* bytes per thread ring */
	uint32_t rstack_depth; /* shadow stack entries per thread */
	uint32_t nslots; /* thread slots */
	bool record_args; /* entries carry their argument registers (--args) */
	bool record_retval; /* exits carry rax and rdx (--retval) */
	/* --stack: the entries of these functions (globs) carry a copy of the stack */
	const char *const *stack_funcs;
	size_t nstack_funcs;
	/* --caller: only calls made inside a call of one of these are recorded */
	const char *const *caller_funcs;
	size_t ncaller_funcs;
	uint32_t str_max; /* bytes of a string argument recorded at most (--string-size) */
	uint32_t stack_bytes; /* bytes of stack a --stack entry copies at most (--stack-size) */
	/* a full ring holds its thread up this long at most; 0: never (--lossy) */
	uint64_t block_timeout_ns;
	/* -A, -R: how to show the words of functions without (or despite) DWARF */
	const struct ut_argspecs *argspecs;
	const char *debug_dir; /* separate debug files (--debug-dir); NULL: /usr/lib/debug */
	bool srcline; /* each function's file and line (--srcline) */
	enum ut_probe_mode probe_mode;
	bool patch_call; /* bench only: `call stub_F` over prologues instead of `jmp` */
	/* trace the programs the process executes, from their entry points (follow.c) */
	bool follow_exec;
	/* trace the children it forks, each with its own data area (follow-fork.c) */
	bool follow_fork;
	/*
	 * Stop tracing once this many events are in the trace (--max-events),
	 * or this long after tracing began (--duration); 0: no limit.  The
	 * program is then let go as attach lets go of it at SIGINT; run still
	 * waits for it to exit.
	 */
	uint64_t max_events;
	uint64_t duration_ns;
	/*
	 * A signalfd for SIGINT, SIGTERM and SIGHUP (blocked by the caller):
	 * `run` forwards them to the program unless they came from the
	 * terminal (which delivered them to the program already); `attach`
	 * detaches.  -1: none.
	 */
	int sigfd;
};

/*
 * Launch argv (argv[0] is the resolved path of an x86_64 ELF executable) and
 * trace it until it exits.  *exit_code gets the program's status as a shell
 * reports it (128 + N when killed by signal N).  Returns 0 or -errno.
 */
int utrace_session_run(const struct ut_session_opts *o, char *const argv[], int *exit_code);

/* Attach to every thread of pid, trace until it exits or a signal asks us to detach. */
int utrace_session_attach(const struct ut_session_opts *o, pid_t pid);

#endif
