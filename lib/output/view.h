/* SPDX-License-Identifier: MIT */
/*
 * The views of a trace (utrace replay, report, dump, info): each reads the
 * events of a trace through the same filters and writes one format.
 */
#ifndef UTRACE_VIEW_H
#define UTRACE_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "trace.h"

/* What the filters of every view keep (all zero: everything). */
struct ut_view_filter {
	uint32_t max_depth; /* -D N: calls nested less than N deep (0: no limit) */
	uint64_t min_ns; /* -t TIME: only calls that took at least this long */
	const char **only; /* -F GLOB: only what runs inside a matching function */
	size_t nonly;
	const char **hide; /* -N GLOB: hide matching functions and what they call */
	size_t nhide;
	pid_t *tids; /* --tid TID: only these threads */
	size_t ntids;
};

struct ut_view;

/*
 * The events of trace t that pass filter f, in the trace's order.  Depths
 * are given relative to what is shown: with -F, the matching call is at
 * depth 0.  The filter's arrays are used, not copied.
 */
int ut_view_new(struct ut_view **out, struct ut_trace *t, const struct ut_view_filter *f);
/* 1: *ev filled; 0: no more; < 0: the trace is corrupt (said with ut_error) or no memory. */
int ut_view_next(struct ut_view *v, struct ut_event *ev);
void ut_view_free(struct ut_view *v);

/* utrace report: sort keys (-s). */
enum ut_report_key {
	UT_REPORT_TOTAL, /* total time, the default */
	UT_REPORT_SELF,
	UT_REPORT_CALLS,
	UT_REPORT_AVG,
	UT_REPORT_MAX,
	UT_REPORT_NAME,
};

struct ut_report_opts {
	enum ut_report_key key;
	bool threads; /* --threads: one table per thread */
};

/* "total", "self", "calls", "avg", "max", "name"; -1 when none. */
int ut_report_key_parse(const char *s);

/*
 * Each view writes its format to out from v; 0, or < 0 when reading the
 * trace failed (said with ut_error) or writing to out failed (-EIO).
 */
int ut_view_report(struct ut_view *v, const struct ut_trace *t, const struct ut_report_opts *o,
		   FILE *out);
int ut_view_chrome(struct ut_view *v, const struct ut_trace *t, FILE *out);
int ut_view_folded(struct ut_view *v, const struct ut_trace *t, FILE *out);

#endif
