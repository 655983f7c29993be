/* SPDX-License-Identifier: MIT */
/*
 * Recording: the drainer, a thread that moves records from the rings into
 * the trace apart from the ptrace loop.  What a drain does (the consumer,
 * consumer.h; the trace, trace.h) is its caller's to say.
 */
#ifndef UTRACE_RECORD_H
#define UTRACE_RECORD_H

struct ut_drainer;

/*
 * Start a thread that calls drain(arg) again and again, sleeping while it
 * returns 0 (drain locks what it touches): *out is the drainer.
 */
int ut_drainer_start(struct ut_drainer **out, long (*drain)(void *arg), void *arg);
/* Stop it (records left in the rings stay for the last drains); *d becomes NULL. */
void ut_drainer_stop(struct ut_drainer **d);

#endif
