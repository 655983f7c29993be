// SPDX-License-Identifier: MIT
/*
 * The losses of a session as one table: those of the images and followed
 * processes that are gone (kept in the output), plus the present image's,
 * their per-function counts mapped to the trace's function ids.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "tracer.h"

/* Where st's function `i` is counted in acc: gid[i], or i itself without a map. */
static size_t stats_func(const uint32_t *gid, size_t i)
{
	return gid ? gid[i] : i;
}

/* Grow the counters *v from n to nf entries, the new ones 0. */
static int grow_zeroed(uint64_t **v, size_t n, size_t nf)
{
	uint64_t *d = realloc(*v, nf * sizeof(*d));

	if (!d)
		return -ENOMEM;
	memset(d + n, 0, (nf - n) * sizeof(*d));
	*v = d;
	return 0;
}

/*
 * acc += st, st's function ids mapped by gid[ngid] (NULL: the same ids);
 * drops of ids outside the map stay in the totals only.
 */
static int stats_add(struct ut_stats *acc, const struct ut_stats *st, const uint32_t *gid,
		     size_t ngid, size_t nf)
{

	acc->events += st->events;
	acc->drops += st->drops;
	acc->torn += st->torn;
	acc->invalid += st->invalid;
	acc->rs_overflow += st->rs_overflow;
	acc->waits += st->waits;
	acc->wait_ns += st->wait_ns;
	acc->no_slot += st->no_slot;
	acc->notls += st->notls;
	acc->lost_return += st->lost_return;
	if (st->nthreads) {
		struct ut_thread_drops *t =
			realloc(acc->threads, (acc->nthreads + st->nthreads) * sizeof(*t));

		if (!t)
			return -ENOMEM;
		memcpy(t + acc->nthreads, st->threads, st->nthreads * sizeof(*t));
		acc->threads = t;
		acc->nthreads += st->nthreads;
	}
	if (nf > acc->nfuncs) {
		if (grow_zeroed(&acc->func_drops, acc->nfuncs, nf) < 0 ||
		    grow_zeroed(&acc->func_notls, acc->nfuncs, nf) < 0)
			return -ENOMEM;
		acc->nfuncs = nf;
	}
	for (size_t i = 0; i < st->nfuncs && (!gid || i < ngid); i++) {
		acc->func_drops[stats_func(gid, i)] += st->func_drops[i];
		acc->func_notls[stats_func(gid, i)] += st->func_notls[i];
	}
	return 0;
}

int ut_output_stats(struct ut_session *s, struct ut_stats *st)
{
	struct ut_stats cur = { 0 };
	int e;

	memset(st, 0, sizeof(*st));
	ut_lock(s);
	/* the writer names func_drops[i] by the output's table: one entry each */
	e = stats_add(st, &s->output->past, NULL, 0, s->output->nfuncs);
	if (e == 0 && s->consumer) {
		utrace_consumer_stats(s->consumer, &cur);
		e = stats_add(st, &cur, s->gid, s->ngid, s->output->nfuncs);
	}
	/* what was delivered past --max-events is not in the trace */
	st->events -= s->output->cut < st->events ? s->output->cut : st->events;
	ut_unlock(s);
	return e;
}

int ut_output_retire_stats(struct ut_session *s, const struct ut_stats *st)
{
	return stats_add(&s->output->past, st, s->gid, s->ngid, s->output->nfuncs);
}
