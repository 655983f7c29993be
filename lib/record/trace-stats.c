// SPDX-License-Identifier: MIT
/*
 * The stats file of a trace directory: the losses the tracer counted, as
 * the summary reports them.  Written last, so its presence marks a
 * complete trace.  Per-thread and per-function lines are checked against
 * the function table read before it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trace-format.h"
#include "trace-meta.h"
#include "trace-text.h"
#include "log.h"

static uint64_t *counter(struct ut_stats *st, const char *k)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "events", offsetof(struct ut_stats, events) },
		{ "dropped", offsetof(struct ut_stats, drops) },
		{ "torn", offsetof(struct ut_stats, torn) },
		{ "invalid", offsetof(struct ut_stats, invalid) },
		{ "rstack_overflow", offsetof(struct ut_stats, rs_overflow) },
		{ "no_slot", offsetof(struct ut_stats, no_slot) },
		{ "lost_return", offsetof(struct ut_stats, lost_return) },
		{ "no_tls", offsetof(struct ut_stats, notls) },
		{ "waits", offsetof(struct ut_stats, waits) },
		{ "wait_ns", offsetof(struct ut_stats, wait_ns) },
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++)
		if (!strcmp(k, keys[i].key))
			return (uint64_t *)((char *)st + keys[i].off);
	return NULL;
}

static int thread_line(struct ut_stats *st, struct tt_lines *l)
{
	unsigned long long v[7];
	struct ut_thread_drops *t;

	for (int i = 0; i < 7; i++)
		if (!tt_num(l, i + 1, &v[i]))
			return tt_lines_bad(l, "not a thread's losses");
	if (!v[0] || !v[1] || v[0] > INT32_MAX || v[1] > INT32_MAX)
		return tt_lines_bad(l, "not a thread's losses");
	t = realloc(st->threads, (st->nthreads + 1) * sizeof(*t));
	if (!t)
		return -ENOMEM;
	st->threads = t;
	st->threads[st->nthreads++] = (struct ut_thread_drops){
		.pid = (pid_t)v[0],
		.tid = (pid_t)v[1],
		.drops = v[2],
		.first_ns = v[3],
		.last_ns = v[4],
		.waits = v[5],
		.wait_ns = v[6],
	};
	return 0;
}

static int func_line(struct ut_stats *st, struct tt_lines *l)
{
	unsigned long long id, drops, notls;

	if (l->nf != 4 || !tt_num(l, 1, &id) || !tt_num(l, 2, &drops) || !tt_num(l, 3, &notls))
		return tt_lines_bad(l, "not a function's losses");
	if (id >= st->nfuncs)
		return tt_lines_bad(l, "losses of a function not in the table");
	st->func_drops[id] = drops;
	st->func_notls[id] = notls;
	return 0;
}

/* A key and a text: kept in *own, which the stats' *field points at. */
static int text_line(struct tt_lines *l, char **own, const char **field)
{
	if (l->nf != 2)
		return tt_lines_bad(l, "not a key and a value");
	free(*own);
	*own = strdup(l->fv[1]);
	*field = *own;
	return *own ? 0 : -ENOMEM;
}

static int stats_line(struct tm_trace *m, struct tt_lines *l)
{
	struct ut_stats *st = &m->stats;
	unsigned long long v;
	uint64_t *c;

	if (!strcmp(l->fv[0], "thread"))
		return thread_line(st, l);
	if (!strcmp(l->fv[0], "func"))
		return func_line(st, l);
	if (!strcmp(l->fv[0], "no_returns"))
		return text_line(l, &m->no_returns, &st->no_returns);
	if (!strcmp(l->fv[0], "stopped"))
		return text_line(l, &m->stopped, &st->stopped);
	c = counter(st, l->fv[0]);
	if (!c)
		return 0; /* a later utrace's */
	if (l->nf != 2 || !tt_num(l, 1, &v))
		return tt_lines_bad(l, "not a key and a number");
	*c = v;
	return 0;
}

int tm_read_stats(struct tm_trace *m, int dirfd, const char *dir)
{
	struct ut_stats *st = &m->stats;
	struct tt_lines l;
	int e = tt_lines_open(&l, dirfd, dir, TF_STATS, false);

	if (e < 0 || !l.f)
		return e;
	m->complete = true;
	st->nfuncs = m->nfuncs;
	st->func_drops = calloc(m->nfuncs ? m->nfuncs : 1, sizeof(uint64_t));
	st->func_notls = calloc(m->nfuncs ? m->nfuncs : 1, sizeof(uint64_t));
	if (!st->func_drops || !st->func_notls)
		e = -ENOMEM;
	while (e == 0 && (e = tt_lines_next(&l)) > 0)
		e = stats_line(m, &l);
	if (e == -EINVAL && !utrace_error_last())
		e = tt_lines_bad(&l, "a malformed line");
	tt_lines_close(&l);
	return e;
}

void tm_free_stats(struct tm_trace *m)
{
	free(m->stats.threads);
	free(m->stats.func_drops);
	free(m->stats.func_notls);
	free(m->no_returns);
	free(m->stopped);
	memset(&m->stats, 0, sizeof(m->stats));
	m->no_returns = NULL;
	m->stopped = NULL;
}
