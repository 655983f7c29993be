/* SPDX-License-Identifier: MIT */
/* The metadata files of a trace directory, read and checked (trace-meta.c). */
#ifndef UTRACE_TRACE_META_H
#define UTRACE_TRACE_META_H

#include <stdbool.h>
#include <stddef.h>

#include "trace.h"

struct tm_trace {
	struct ut_trace_meta meta;
	struct ut_trace_func *funcs; /* strings owned here */
	struct ut_func_info *infos; /* funcs[i].info, as one array */
	size_t nfuncs;
	struct ut_trace_task *tasks;
	size_t ntasks;
	bool complete; /* stats was written */
	struct ut_stats stats;
	char *no_returns; /* stats.no_returns points here */
	char *stopped; /* stats.stopped points here */
};

/* Read info, funcs, tasks and stats of the directory dirfd (called `name` in messages). */
int tm_read(struct tm_trace *m, int dirfd, const char *name);
void tm_free(struct tm_trace *m);

/* trace-stats.c: the stats file, when there is one (then the trace is complete). */
int tm_read_stats(struct tm_trace *m, int dirfd, const char *dir);
void tm_free_stats(struct tm_trace *m);

#endif
