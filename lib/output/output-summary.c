// SPDX-License-Identifier: MIT
/*
 * The summary table (uftrace report, perf report): one line per function,
 * by total time, then the losses as the call graph prints them.
 *
 *   #      calls    returns    unwound        total_ns     avg_ns     min_ns     max_ns  function
 *          1000       1000          0          123456        123        100        400  work_a
 *
 * Times are of the calls whose entry and exit were both seen; a call that
 * never returned (exit(), longjmp) counts in `unwound`.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output-internal.h"

struct func_stat {
	uint32_t func;
	uint64_t calls, returns, unwound;
	uint64_t timed, total_ns, min_ns, max_ns;
};

struct summary_state {
	struct func_stat *v; /* indexed by function id; one more for ids outside the table */
	size_t n;
};

int ut_summary_init(struct ut_writer *w)
{
	w->priv = calloc(1, sizeof(struct summary_state));
	return w->priv ? 0 : -ENOMEM;
}

void ut_summary_free(struct ut_writer *w)
{
	struct summary_state *ss = w->priv;

	free(ss->v);
	free(ss);
}

/* The function's line; ids the table lacks share the last one. */
static struct func_stat *stat_of(struct ut_writer *w, uint32_t func)
{
	struct summary_state *ss = w->priv;
	size_t i = func < w->nfuncs ? func : w->nfuncs;

	/* the table grew (utrace_writer_set_funcs): the unknown ids' line moves to the end */
	if (ss->n < w->nfuncs + 1) {
		struct func_stat unknown = { .min_ns = UINT64_MAX }, *v;

		if (ss->n)
			unknown = ss->v[ss->n - 1];
		v = realloc(ss->v, (w->nfuncs + 1) * sizeof(*v));
		if (!v)
			return NULL;
		for (size_t k = ss->n ? ss->n - 1 : 0; k < w->nfuncs; k++)
			v[k] = (struct func_stat){ .func = (uint32_t)k, .min_ns = UINT64_MAX };
		v[w->nfuncs] = unknown;
		v[w->nfuncs].func = (uint32_t)w->nfuncs;
		ss->v = v;
		ss->n = w->nfuncs + 1;
	}
	if (i >= ss->n)
		i = ss->n - 1;
	return &ss->v[i];
}

int ut_summary_event(struct ut_writer *w, const struct ut_event *ev)
{
	struct func_stat *f = stat_of(w, ev->func);

	if (!f)
		return -ENOMEM;
	if (ev->kind == UT_REC_ENTRY) {
		f->calls++;
		return 0;
	}
	if (ev->kind == UT_REC_EXIT)
		f->returns++;
	else
		f->unwound++;
	if (ev->kind == UT_REC_EXIT && ev->has_dur) {
		f->timed++;
		f->total_ns += ev->dur_ns;
		f->min_ns = ev->dur_ns < f->min_ns ? ev->dur_ns : f->min_ns;
		f->max_ns = ev->dur_ns > f->max_ns ? ev->dur_ns : f->max_ns;
	}
	return 0;
}

static int by_total(const void *a, const void *b)
{
	const struct func_stat *x = a, *y = b;

	if (x->total_ns != y->total_ns)
		return x->total_ns > y->total_ns ? -1 : 1;
	return x->func < y->func ? -1 : x->func > y->func;
}

static void print_line(struct ut_writer *w, const struct func_stat *f)
{
	uint64_t avg = f->timed ? f->total_ns / f->timed : 0;

	fprintf(w->out,
		"%12" PRIu64 " %10" PRIu64 " %10" PRIu64 " %15" PRIu64 " %10" PRIu64 " %10" PRIu64
		" %10" PRIu64 "  ",
		f->calls, f->returns, f->unwound, f->total_ns, avg, f->timed ? f->min_ns : 0,
		f->max_ns);
	/* the table's last line gathers ids outside it */
	if (f->func < w->nfuncs)
		ut_text_print_name(w, f->func);
	else
		fputs("(unknown functions)", w->out);
	fputc('\n', w->out);
}

int ut_summary_finish(struct ut_writer *w, const struct ut_stats *st)
{
	struct summary_state *ss = w->priv;

	fputs("#      calls    returns    unwound        total_ns     avg_ns     min_ns     max_ns"
	      "  function\n",
	      w->out);
	if (ss->n)
		qsort(ss->v, ss->n, sizeof(*ss->v), by_total);
	for (size_t i = 0; i < ss->n; i++)
		if (ss->v[i].calls || ss->v[i].returns || ss->v[i].unwound)
			print_line(w, &ss->v[i]);
	ut_text_print_losses(w, st);
	return ut_writer_status(w);
}
