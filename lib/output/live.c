// SPDX-License-Identifier: MIT
/*
 * The live view (utrace/live.h).  The thread reads the session's events
 * file behind the tracer, a batch at a time, and sleeps on a condition
 * variable when it has caught up; the drainer kicks it after each flush,
 * under a lock of its own that formatting never holds, so that a kick
 * never waits for a batch.  The writer's function table is changed under
 * the formatting lock, so that a batch never sees half a table; batches are
 * short, as that change is made under the drainer's lock.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdlib.h>
#include <unistd.h>

#include "live.h"
#include "log.h"
#include "trace.h"

/* Events formatted per hold of the lock: some 50 us. */
#define BATCH 256

struct ut_live {
	pthread_t thread;
	pthread_mutex_t lock; /* the writer */
	pthread_mutex_t wake; /* kicks, done, more */
	pthread_cond_t more;
	struct ut_trace *trace;
	struct ut_writer *w;
	unsigned kicks; /* under wake */
	bool done; /* under wake: nothing more will be written */
	int err;
};

/* Format up to BATCH events: how many, 0 when caught up, < 0 on error. */
static int format_batch(struct ut_live *l)
{
	struct ut_event ev;
	int n = 0, r = 0;

	pthread_mutex_lock(&l->lock);
	while (n < BATCH && (r = ut_trace_next(l->trace, &ev)) > 0) {
		r = utrace_writer_event(l->w, &ev);
		if (r < 0)
			break;
		n++;
	}
	pthread_mutex_unlock(&l->lock);
	return r < 0 ? r : n;
}

static void *live_main(void *arg)
{
	struct ut_live *l = arg;
	struct sched_param idle = { 0 };
	unsigned seen = 0;
	bool last = false;
	int n;

	/*
	 * The view may lag, the drainer must not: on a machine whose CPUs the
	 * program keeps busy, formatting takes only the time left over, and
	 * catches up when the program ends.
	 */
	pthread_setschedparam(pthread_self(), SCHED_IDLE, &idle);
	for (;;) {
		n = format_batch(l);
		if (n < 0) {
			l->err = n;
			break;
		}
		if (n > 0)
			continue;
		if (last)
			break;
		pthread_mutex_lock(&l->wake);
		while (!l->done && l->kicks == seen)
			pthread_cond_wait(&l->more, &l->wake);
		seen = l->kicks;
		last = l->done; /* read what the final flush wrote, then stop */
		pthread_mutex_unlock(&l->wake);
	}
	return NULL;
}

int ut_live_new(struct ut_live **out, int fd, struct ut_writer *w)
{
	struct ut_live *l = calloc(1, sizeof(*l));
	int e;

	*out = NULL;
	if (!l) {
		close(fd);
		return -ENOMEM;
	}
	e = ut_trace_open_stream(&l->trace, fd);
	if (e < 0) {
		free(l);
		return e;
	}
	l->w = w;
	pthread_mutex_init(&l->lock, NULL);
	pthread_mutex_init(&l->wake, NULL);
	pthread_cond_init(&l->more, NULL);
	e = -pthread_create(&l->thread, NULL, live_main, l);
	if (e < 0) {
		l->thread = 0;
		ut_live_free(l);
		return e;
	}
	*out = l;
	return 0;
}

int ut_live_funcs(struct ut_live *l, const struct ut_func_info *funcs, size_t n)
{
	int e;

	pthread_mutex_lock(&l->lock);
	e = utrace_writer_set_funcs(l->w, funcs, n);
	pthread_mutex_unlock(&l->lock);
	return e;
}

void ut_live_kick(struct ut_live *l)
{
	pthread_mutex_lock(&l->wake);
	l->kicks++;
	pthread_cond_signal(&l->more);
	pthread_mutex_unlock(&l->wake);
}

int ut_live_finish(struct ut_live *l)
{
	struct sched_param normal = { 0 };

	/*
	 * Tracing is over: the view catches up at normal priority, since a
	 * program we detached from may keep every CPU busy for as long as it
	 * runs (an unprivileged utrace may not be allowed: then it waits).
	 */
	pthread_setschedparam(l->thread, SCHED_OTHER, &normal);
	pthread_mutex_lock(&l->wake);
	l->done = true;
	pthread_cond_signal(&l->more);
	pthread_mutex_unlock(&l->wake);
	pthread_join(l->thread, NULL);
	l->thread = 0;
	return l->err;
}

void ut_live_free(struct ut_live *l)
{
	if (!l)
		return;
	if (l->thread)
		ut_live_finish(l);
	pthread_mutex_destroy(&l->lock);
	pthread_mutex_destroy(&l->wake);
	pthread_cond_destroy(&l->more);
	ut_trace_close(l->trace);
	free(l);
}
