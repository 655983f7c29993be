/* SPDX-License-Identifier: MIT */
/*
 * Traces for the unit tests of the views (test-dump.c, test-report.c):
 * written with the trace writer into a fresh directory under /tmp, read
 * back by the test through a view, then removed.  entry() and leave() are
 * events of process TRACE_PID.
 */
#ifndef UTRACE_TEST_TRACE_FIXTURE_H
#define UTRACE_TEST_TRACE_FIXTURE_H

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "trace.h"

#define TRACE_PID 100

struct tb {
	char dir[64];
	struct ut_trace_writer *w;
};

/* A trace in a new directory /tmp/utrace-test-<name>-XXXXXX, its metadata and functions written. */
static inline void trace_create(struct tb *b, const char *name, const struct ut_trace_meta *meta,
				const struct ut_trace_func *funcs, size_t nfuncs)
{
	snprintf(b->dir, sizeof(b->dir), "/tmp/utrace-test-%s-XXXXXX", name);
	assert_non_null(mkdtemp(b->dir));
	assert_int_equal(ut_trace_writer_new(&b->w, b->dir), 0);
	assert_int_equal(ut_trace_writer_info(b->w, meta), 0);
	assert_int_equal(ut_trace_writer_funcs(b->w, funcs, 0, nfuncs), 0);
}

/* One event; with_dur: the tracer saw the entry (the reader rebuilds the duration). */
static inline void ev_of(struct tb *b, enum ut_rec_kind kind, pid_t pid, pid_t tid, uint32_t func,
			 uint32_t depth, uint64_t ts, bool with_dur)
{
	struct ut_event e = { .ts = ts,
			      .pid = pid,
			      .tid = tid,
			      .kind = kind,
			      .func = func,
			      .depth = depth,
			      .has_dur = with_dur };

	assert_int_equal(ut_trace_writer_event(b->w, &e), 0);
}

static inline void entry(struct tb *b, pid_t tid, uint32_t func, uint32_t depth, uint64_t ts)
{
	ev_of(b, UT_REC_ENTRY, TRACE_PID, tid, func, depth, ts, false);
}

static inline void leave(struct tb *b, pid_t tid, uint32_t func, uint32_t depth, uint64_t ts)
{
	ev_of(b, UT_REC_EXIT, TRACE_PID, tid, func, depth, ts, true);
}

/* The trace finished with the losses st, ready to be read. */
static inline void trace_end_stats(struct tb *b, const struct ut_stats *st)
{
	assert_int_equal(ut_trace_writer_finish(b->w, st), 0);
	ut_trace_writer_free(b->w);
	b->w = NULL;
}

static inline void trace_end(struct tb *b)
{
	struct ut_stats st = { 0 };

	trace_end_stats(b, &st);
}

static inline void trace_remove(struct tb *b)
{
	DIR *d = opendir(b->dir);
	struct dirent *de;

	assert_non_null(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			assert_int_equal(unlinkat(dirfd(d), de->d_name, 0), 0);
	closedir(d);
	assert_int_equal(rmdir(b->dir), 0);
}

#endif
