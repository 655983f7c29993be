/* SPDX-License-Identifier: MIT */
/*
 * A trace on disk (docs/trace-format.md): a directory with the events of
 * every thread in one append-only file and the metadata that names them.
 * The tracer writes it as it drains the rings (utrace record, and run and
 * attach through a temporary one); the views read it back, also while it
 * is still being written.
 *
 * Everything read from a trace is untrusted: a truncated or corrupted file
 * is reported with one ut_error() line and -EINVAL (-EIO, -ENOMEM), never
 * misread.
 */
#ifndef UTRACE_TRACE_H
#define UTRACE_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "consumer.h"

/*
 * Version 3: a record may carry items (strings, floating-point registers,
 * stack arguments, stack frames); version 2: an entry carries up to 6 words
 * (r9 too); version 1 traces, with up to 5, are read as well.
 */
#define UT_TRACE_VERSION 3
#define UT_TRACE_VERSION_MIN 1
#define UT_TRACE_V1_WORDS 5
#define UT_TRACE_DEFAULT_DIR "utrace.data"

/* What a trace says about itself, beyond its events. */
struct ut_trace_meta {
	char *utrace_version;
	char *cmdline; /* the traced command, arguments separated by spaces */
	pid_t pid; /* the process run or attached to */
	uint64_t start_realtime_ns, start_monotonic_ns;
	/* the tracer's TSC conversion: ns = ns0 + (tsc - tsc0) * ns_per_tick */
	uint64_t tsc0, ns0;
	double ns_per_tick;
	bool args, retval; /* entries carry argument words, exits return words */
	char *probe_mode; /* "auto" or "int3" */
};

/* One function of the table, with where it came from. */
struct ut_trace_func {
	struct ut_func_info info; /* name, module basename, address, mangled */
	const char *path; /* the module's file */
	const char *build_id; /* hex, "" when the file has none */
	const char *probe; /* utrace_probe_kind_name() of its probe */
};

/* A thread seen in the trace, with the last name it had. */
struct ut_trace_task {
	pid_t pid, tid;
	char *comm;
};

/* ---- writing ------------------------------------------------------------------ */

struct ut_trace_writer;

/*
 * Create trace directory `dir` (made if missing; an existing trace in it is
 * replaced, anything else there is refused), or with dir NULL an unnamed
 * stream in $TMPDIR that vanishes with the process (run and attach).
 */
int ut_trace_writer_new(struct ut_trace_writer **out, const char *dir);
/* The metadata, once the traced process is known. */
int ut_trace_writer_info(struct ut_trace_writer *w, const struct ut_trace_meta *meta);
/* Functions from id `first` on, appended to the table as they become known. */
int ut_trace_writer_funcs(struct ut_trace_writer *w, const struct ut_trace_func *f, size_t first,
			  size_t n);
/* A thread and its name (again when the name changed: the last one counts). */
int ut_trace_writer_task(struct ut_trace_writer *w, pid_t pid, pid_t tid, const char *comm);
/* One event; buffered until ut_trace_writer_flush(). */
int ut_trace_writer_event(struct ut_trace_writer *w, const struct ut_event *ev);
/* The same with another function id (a session's id in the trace's table). */
int ut_trace_writer_event_as(struct ut_trace_writer *w, const struct ut_event *ev, uint32_t func);
/* Write out what is buffered, in whole chunks. */
int ut_trace_writer_flush(struct ut_trace_writer *w);
/* The losses, and the mark that the trace is complete; then nothing more is written. */
int ut_trace_writer_finish(struct ut_trace_writer *w, const struct ut_stats *st);
/* The events file, for a reader of an unnamed stream (dup it to keep it). */
int ut_trace_writer_events_fd(const struct ut_trace_writer *w);
/* Whether events wait in the buffer for ut_trace_writer_flush(). */
bool ut_trace_writer_pending(const struct ut_trace_writer *w);
void ut_trace_writer_free(struct ut_trace_writer *w);

/* ---- reading ------------------------------------------------------------------ */

struct ut_trace;

/* Open trace directory dir: its metadata is read and checked now. */
int ut_trace_open(struct ut_trace **out, const char *dir);
/* Read the events file fd (owned by the reader from now on), as it grows. */
int ut_trace_open_stream(struct ut_trace **out, int fd);
void ut_trace_close(struct ut_trace *t);

const struct ut_trace_meta *ut_trace_meta(const struct ut_trace *t);
const struct ut_trace_func *ut_trace_funcs(const struct ut_trace *t, size_t *n);
/* The table as the output writers take it (names, modules, addresses). */
const struct ut_func_info *ut_trace_func_infos(const struct ut_trace *t, size_t *n);
const struct ut_trace_task *ut_trace_tasks(const struct ut_trace *t, size_t *n);
/* The thread's last name, NULL when the trace has none. */
const char *ut_trace_task_comm(const struct ut_trace *t, pid_t tid);
/* Whether the tracer finished the trace (a killed one did not: losses are unknown). */
bool ut_trace_complete(const struct ut_trace *t);
/* The losses the tracer counted (all 0 when the trace is not complete). */
const struct ut_stats *ut_trace_stats(const struct ut_trace *t);

/*
 * The next event, in the order the tracer drained them (per thread, the
 * order of its calls).  1: *ev filled; 0: no more for now (at the end of a
 * complete trace: no more at all); < 0: the file is corrupt.  dur_ns is
 * set on exits and unwinds whose entry is in the trace.
 */
int ut_trace_next(struct ut_trace *t, struct ut_event *ev);

#endif
