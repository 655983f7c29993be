/* SPDX-License-Identifier: MIT */
/*
 * The live view of run and attach: a thread of its own reads the events
 * the tracer writes to the session's trace and formats them (text, JSON,
 * summary) as they come.  The tracer never waits on it: a slow terminal or
 * a full pipe holds up this thread only, and the events wait on disk.
 */
#ifndef UTRACE_LIVE_H
#define UTRACE_LIVE_H

#include <stddef.h>

#include "output.h"

struct ut_live;

/*
 * Start formatting the events of the events file fd (the reader's own
 * duplicate, owned by the live view from now on) into writer w.
 */
int ut_live_new(struct ut_live **out, int fd, struct ut_writer *w);
/* The writer's function table grew (ids from the trace's table). */
int ut_live_funcs(struct ut_live *l, const struct ut_func_info *funcs, size_t n);
/* More events were written out. */
void ut_live_kick(struct ut_live *l);
/*
 * The trace is complete: format what is left, and stop.  Returns 0, or
 * the first error of the reading or the writing.
 */
int ut_live_finish(struct ut_live *l);
void ut_live_free(struct ut_live *l);

#endif
