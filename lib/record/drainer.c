// SPDX-License-Identifier: MIT
/*
 * The drainer: a thread of its own that moves records from the rings of
 * every process of the session into the trace, so that the ptrace loop
 * answers stops and nothing else.  What it drains is the session's to say
 * (the drain function it is given).
 *
 * What both threads touch (each image's consumer, its data area and id
 * map, the family's list of processes, the trace's buffer) is guarded by
 * one lock (ut_lock, the output's), held by the drain function and by the
 * ptrace loop where it changes those (a thread's slot given or freed, an
 * image set up or retired, a process followed or let go).  It is
 * recursive: the ptrace loop drains under it too, where it must see a ring
 * empty before it goes on.
 *
 * Idle, the drainer sleeps from POLL_MIN_US, doubling up to POLL_MAX_US: a
 * ring of the default size takes far longer to fill, and a thread waiting
 * for room waits that long at most.
 */
#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "base.h"
#include "record.h"

#define POLL_MIN_US 50
#define POLL_MAX_US 1000

struct ut_drainer {
	pthread_t thread;
	pthread_mutex_t wake_lock;
	pthread_cond_t wake;
	bool stop; /* under wake_lock */
	long (*drain)(void *arg);
	void *arg;
};

/* Sleep up to us microseconds; false once asked to stop. */
static bool nap(struct ut_drainer *d, long us)
{
	struct timespec until;
	bool go_on;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_nsec += us * (long)NSEC_PER_USEC;
	if (until.tv_nsec >= (long)NSEC_PER_SEC) {
		until.tv_sec++;
		until.tv_nsec -= (long)NSEC_PER_SEC;
	}
	pthread_mutex_lock(&d->wake_lock);
	if (!d->stop)
		pthread_cond_timedwait(&d->wake, &d->wake_lock, &until);
	go_on = !d->stop;
	pthread_mutex_unlock(&d->wake_lock);
	return go_on;
}

static void *drainer_main(void *arg)
{
	struct ut_drainer *d = arg;
	long us = 0, n;

	do {
		n = d->drain(d->arg);
		if (n > 0) {
			us = 0;
			continue;
		}
		us = us ? 2 * us : POLL_MIN_US;
		if (us > POLL_MAX_US)
			us = POLL_MAX_US;
	} while (nap(d, us));
	return NULL;
}

int ut_drainer_start(struct ut_drainer **out, long (*drain)(void *arg), void *arg)
{
	struct ut_drainer *d = calloc(1, sizeof(*d));
	pthread_condattr_t ca;
	int e;

	if (!d)
		return -ENOMEM;
	d->drain = drain;
	d->arg = arg;
	pthread_mutex_init(&d->wake_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->wake, &ca);
	pthread_condattr_destroy(&ca);
	e = -pthread_create(&d->thread, NULL, drainer_main, d);
	if (e < 0) {
		pthread_cond_destroy(&d->wake);
		pthread_mutex_destroy(&d->wake_lock);
		free(d);
		return e;
	}
	*out = d;
	return 0;
}

void ut_drainer_stop(struct ut_drainer **dp)
{
	struct ut_drainer *d = *dp;

	if (!d)
		return;
	pthread_mutex_lock(&d->wake_lock);
	d->stop = true;
	pthread_cond_signal(&d->wake);
	pthread_mutex_unlock(&d->wake_lock);
	pthread_join(d->thread, NULL);
	pthread_cond_destroy(&d->wake);
	pthread_mutex_destroy(&d->wake_lock);
	free(d);
	*dp = NULL;
}
