// SPDX-License-Identifier: MIT
/*
 * utrace report: one line per function with the times of its calls, from
 * the events the view's filters keep (utrace/view.h).
 *
 *   #      Total        Self  Calls         Min  ...         P99  Function
 *     30.000 us   20.000 us      1   30.000 us  ...   30.000 us  main
 *     10.000 us   10.000 us      2    4.000 us  ...    6.000 us  work_leaf
 *
 * A call counts, and is timed, at its exit or unwind when the trace has its
 * duration (its entry is in the trace).  Total is the sum of the calls'
 * whole durations: the inner calls of a recursive function lie inside their
 * callers' durations too, so its total can exceed the time spent in it.
 * Self is each call's duration less those of its direct traced callees (the
 * calls one traced level down on the same thread), so self times never
 * overlap: a thread's add up to the time of its outermost calls.  P50 and
 * P99 are nearest-rank percentiles of every duration, kept exactly.
 *
 * Calls without a duration are left out of the times and said below the
 * table: entries whose return is not in the trace (the program died, or a
 * thread was still inside at detach), returns whose entry is not (the
 * trace began mid-call).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "fmt-time.h"
#include "output-internal.h"
#include "view.h"
#include "view-threads.h"

#define PERCENT 100

enum col { COL_TOTAL, COL_SELF, COL_CALLS, COL_MIN, COL_AVG, COL_MAX, COL_P50, COL_P99, NCOLS };

static const char *const col_names[NCOLS] = { "Total", "Self", "Calls", "Min",
					      "Avg",   "Max",  "P50",	"P99" };

static const char *const key_names[] = {
	[UT_REPORT_TOTAL] = "total", [UT_REPORT_SELF] = "self", [UT_REPORT_CALLS] = "calls",
	[UT_REPORT_AVG] = "avg",     [UT_REPORT_MAX] = "max",	[UT_REPORT_NAME] = "name",
};

struct func_acc {
	uint32_t func;
	const char *name; /* the table's name, NULL for an id beyond it (set to print) */
	uint64_t calls, total_ns, self_ns;
	uint64_t open; /* entries whose return is not in the trace */
	uint64_t untimed; /* returns without a duration */
	uint64_t *durs; /* [calls]: each call's duration, sorted to print */
	size_t cap;
};

/* One table: the whole trace's, or one thread's (--threads). */
struct func_table {
	uint32_t *pos; /* [func id]: 1 + index in acc, 0 when not seen */
	size_t npos;
	struct func_acc *acc;
	size_t n, cap;
};

/* A call whose return has not come yet, with the time of its callees so far. */
struct open_call {
	uint32_t func, depth;
	uint64_t child_ns;
};

struct rthread {
	struct ut_thread_id id;
	struct open_call *stack; /* innermost last */
	size_t n, cap;
	struct func_table table; /* --threads */
};

struct report {
	bool by_thread;
	struct ut_threads threads; /* of struct rthread */
	struct func_table all; /* without --threads */
};

int ut_report_key_parse(const char *s)
{
	for (size_t i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++)
		if (!strcmp(s, key_names[i]))
			return (int)i;
	return -1;
}

static struct func_acc *table_get(struct func_table *tab, uint32_t func)
{
	size_t npos = tab->npos;
	uint32_t *pos;
	struct func_acc *acc;

	if (func >= tab->npos) {
		pos = ut_array_grow(tab->pos, &npos, (size_t)func + 1, sizeof(*pos));
		if (!pos)
			return NULL;
		memset(pos + tab->npos, 0, (npos - tab->npos) * sizeof(*pos));
		tab->pos = pos;
		tab->npos = npos;
	}
	if (tab->pos[func])
		return &tab->acc[tab->pos[func] - 1];
	acc = ut_array_grow(tab->acc, &tab->cap, tab->n + 1, sizeof(*acc));
	if (!acc)
		return NULL;
	tab->acc = acc;
	acc[tab->n] = (struct func_acc){ .func = func };
	tab->pos[func] = (uint32_t)++tab->n;
	return &acc[tab->n - 1];
}

static void table_free(struct func_table *tab)
{
	for (size_t i = 0; i < tab->n; i++)
		free(tab->acc[i].durs);
	free(tab->acc);
	free(tab->pos);
}

static struct func_acc *acc_of(struct report *rep, struct rthread *th, uint32_t func)
{
	return table_get(rep->by_thread ? &th->table : &rep->all, func);
}

/* The open calls at `depth` and deeper will not return: their return is not in the trace. */
static int leave_open(struct report *rep, struct rthread *th, uint64_t depth)
{
	struct func_acc *a;

	while (th->n && th->stack[th->n - 1].depth >= depth) {
		a = acc_of(rep, th, th->stack[th->n - 1].func);
		if (!a)
			return -ENOMEM;
		a->open++;
		th->n--;
	}
	return 0;
}

static int on_entry(struct report *rep, struct rthread *th, const struct ut_event *ev)
{
	struct open_call *s;
	int e = leave_open(rep, th, ev->depth);

	if (e < 0)
		return e;
	s = ut_array_grow(th->stack, &th->cap, th->n + 1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	th->stack = s;
	s[th->n++] = (struct open_call){ .func = ev->func, .depth = ev->depth };
	return 0;
}

static int add_call(struct func_acc *a, uint64_t dur, uint64_t child_ns)
{
	uint64_t *d = ut_array_grow(a->durs, &a->cap, a->calls + 1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	a->durs = d;
	d[a->calls++] = dur;
	a->total_ns += dur;
	/* callees lie within their caller; a corrupt trace must not wrap self around */
	a->self_ns += dur - (child_ns < dur ? child_ns : dur);
	return 0;
}

/* An exit or unwind closes the open call at its depth, and any deeper one left open. */
static int on_close(struct report *rep, struct rthread *th, const struct ut_event *ev)
{
	struct func_acc *a;
	uint64_t child_ns = 0;
	int e = leave_open(rep, th, (uint64_t)ev->depth + 1);

	if (e < 0)
		return e;
	if (th->n && th->stack[th->n - 1].depth == ev->depth)
		child_ns = th->stack[--th->n].child_ns;
	a = acc_of(rep, th, ev->func);
	if (!a)
		return -ENOMEM;
	if (!ev->has_dur) {
		a->untimed++;
		return 0;
	}
	if (th->n) {
		uint64_t *c = &th->stack[th->n - 1].child_ns;

		*c = *c + ev->dur_ns < *c ? UINT64_MAX : *c + ev->dur_ns;
	}
	return add_call(a, ev->dur_ns, child_ns);
}

static int report_event(struct report *rep, const struct ut_event *ev)
{
	struct rthread *th = ut_threads_get(&rep->threads, ev->pid, ev->tid, NULL);

	if (!th)
		return -ENOMEM;
	if (ev->kind == UT_REC_ENTRY)
		return on_entry(rep, th, ev);
	if (ev->kind == UT_REC_EXIT || ev->kind == UT_REC_UNWIND)
		return on_close(rep, th, ev);
	return 0;
}

static int read_events(struct report *rep, struct ut_view *v)
{
	struct ut_event ev;
	int e;

	while ((e = ut_view_next(v, &ev)) > 0) {
		e = report_event(rep, &ev);
		if (e < 0)
			return e;
	}
	for (size_t i = 0; e == 0 && i < rep->threads.n; i++)
		e = leave_open(rep, rep->threads.all[i], 0);
	return e;
}

/* ---- printing ------------------------------------------------------------------ */

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest rank: the least duration that p% of the calls do not exceed. */
static uint64_t percentile(const struct func_acc *a, unsigned int p)
{
	uint64_t rank = (a->calls * p + PERCENT - 1) / PERCENT;

	return a->durs[rank - 1];
}

static uint64_t key_value(const struct func_acc *a, enum ut_report_key key)
{
	switch (key) {
	case UT_REPORT_SELF:
		return a->self_ns;
	case UT_REPORT_CALLS:
		return a->calls;
	case UT_REPORT_AVG:
		return a->calls ? a->total_ns / a->calls : 0;
	case UT_REPORT_MAX:
		return a->calls ? a->durs[a->calls - 1] : 0;
	case UT_REPORT_NAME:
		return 0;
	default:
		return a->total_ns;
	}
}

/* Ids beyond the function table (no name) come last, by id. */
static int by_name(const struct func_acc *x, const struct func_acc *y)
{
	int c;

	if (x->name && y->name) {
		c = strcmp(x->name, y->name);
		if (c)
			return c;
	} else if (x->name || y->name) {
		return x->name ? -1 : 1;
	}
	return x->func < y->func ? -1 : x->func > y->func;
}

/* The key's value descending (name ascending), then by name. */
static int by_key(const void *a, const void *b, void *arg)
{
	const enum ut_report_key *key = arg;
	uint64_t x = key_value(a, *key), y = key_value(b, *key);

	if (x != y)
		return x > y ? -1 : 1;
	return by_name(a, b);
}

static void table_sort(struct func_table *tab, const struct ut_trace *t, enum ut_report_key key)
{
	size_t nfuncs;
	const struct ut_func_info *funcs = ut_trace_func_infos(t, &nfuncs);

	for (size_t i = 0; i < tab->n; i++) {
		struct func_acc *a = &tab->acc[i];

		a->name = a->func < nfuncs ? funcs[a->func].name : NULL;
		if (a->calls)
			qsort(a->durs, a->calls, sizeof(*a->durs), cmp_u64);
	}
	/* the accumulation is over: acc may move, pos goes stale */
	if (tab->n)
		qsort_r(tab->acc, tab->n, sizeof(*tab->acc), by_key, &key);
}

static void row_cells(const struct func_acc *a, char cell[NCOLS][UT_DURATION_BUF])
{
	ut_fmt_duration(cell[COL_TOTAL], a->total_ns);
	ut_fmt_duration(cell[COL_SELF], a->self_ns);
	snprintf(cell[COL_CALLS], UT_DURATION_BUF, "%" PRIu64, a->calls);
	ut_fmt_duration(cell[COL_MIN], a->durs[0]);
	ut_fmt_duration(cell[COL_AVG], a->total_ns / a->calls);
	ut_fmt_duration(cell[COL_MAX], a->durs[a->calls - 1]);
	ut_fmt_duration(cell[COL_P50], percentile(a, 50));
	ut_fmt_duration(cell[COL_P99], percentile(a, 99));
}

/*
 * Each column as wide as its widest cell, at least as wide as a duration
 * under 1000 s (the header stays put): long runs widen the seconds.
 */
static void col_widths(const struct func_table *tab, int width[NCOLS])
{
	char cell[NCOLS][UT_DURATION_BUF];
	int len, dur_len = (int)strlen(ut_fmt_duration(cell[0], 0));

	for (int c = 0; c < NCOLS; c++) {
		len = (int)strlen(col_names[c]);
		width[c] = c == COL_CALLS || len > dur_len ? len : dur_len;
	}
	for (size_t i = 0; i < tab->n; i++) {
		if (!tab->acc[i].calls)
			continue;
		row_cells(&tab->acc[i], cell);
		for (int c = 0; c < NCOLS; c++) {
			len = (int)strlen(cell[c]);
			width[c] = len > width[c] ? len : width[c];
		}
	}
}

/* A line of the table: `lead` in the first column ('#' on the header), cells right-aligned. */
static void print_cells(FILE *out, char lead, const char *const *cells, const int width[NCOLS])
{
	fputc(lead, out);
	for (int c = 0; c < NCOLS; c++)
		fprintf(out, "%s%*s", c ? "  " : " ", width[c], cells[c]);
	fputs("  ", out);
}

static void print_row(struct ut_writer *w, const struct func_acc *a, const int width[NCOLS])
{
	char cell[NCOLS][UT_DURATION_BUF];
	const char *cells[NCOLS];

	row_cells(a, cell);
	for (int c = 0; c < NCOLS; c++)
		cells[c] = cell[c];
	print_cells(w->out, ' ', cells, width);
	ut_text_print_name(w, a->func);
	fputc('\n', w->out);
}

/* One line "# WHAT: f: n, g: m" of the functions that have some, as the losses read. */
static void print_note(struct ut_writer *w, const struct func_table *tab, const char *what,
		       bool untimed)
{
	bool first = true;
	uint64_t n;

	for (size_t i = 0; i < tab->n; i++) {
		n = untimed ? tab->acc[i].untimed : tab->acc[i].open;
		if (!n)
			continue;
		fprintf(w->out, first ? "# %s: " : ", ", what);
		ut_text_print_name(w, tab->acc[i].func);
		fprintf(w->out, ": %" PRIu64, n);
		first = false;
	}
	if (!first)
		fputc('\n', w->out);
}

static void print_table(struct ut_writer *w, const struct ut_trace *t, struct func_table *tab,
			enum ut_report_key key)
{
	int width[NCOLS];

	table_sort(tab, t, key);
	col_widths(tab, width);
	print_cells(w->out, '#', col_names, width);
	fputs("Function\n", w->out);
	for (size_t i = 0; i < tab->n; i++)
		if (tab->acc[i].calls)
			print_row(w, &tab->acc[i], width);
	print_note(w, tab, "calls whose return is not in the trace (not timed)", false);
	print_note(w, tab, "returns whose call is not in the trace (not timed)", true);
}

/* By tid; a tid that came again in another process is another thread: by pid then. */
static int by_tid(const void *a, const void *b)
{
	const struct ut_thread_id *x = a, *y = b;

	if (x->tid != y->tid)
		return x->tid < y->tid ? -1 : 1;
	return x->pid < y->pid ? -1 : x->pid > y->pid;
}

static void print_threads(struct ut_writer *w, const struct ut_trace *t, struct report *rep,
			  enum ut_report_key key)
{
	const char *comm;
	bool first = true;

	ut_threads_sort(&rep->threads, by_tid);
	for (size_t i = 0; i < rep->threads.n; i++) {
		struct rthread *th = rep->threads.all[i];

		if (!th->table.n)
			continue;
		if (!first)
			fputc('\n', w->out);
		first = false;
		fprintf(w->out, "# thread %d", (int)th->id.tid);
		comm = ut_trace_task_comm(t, th->id.tid);
		if (comm) {
			fputs(" (", w->out);
			ut_text_print_visible(w->out, comm);
			fputc(')', w->out);
		}
		fputc('\n', w->out);
		print_table(w, t, &th->table, key);
	}
}

static void rthread_free(void *p)
{
	struct rthread *th = p;

	free(th->stack);
	table_free(&th->table);
}

static void report_free(struct report *rep)
{
	ut_threads_free(&rep->threads, rthread_free);
	table_free(&rep->all);
}

int ut_view_report(struct ut_view *v, const struct ut_trace *t, const struct ut_report_opts *o,
		   FILE *out)
{
	struct report rep = { .by_thread = o->threads };
	struct ut_writer *w = NULL;
	size_t nfuncs;
	const struct ut_func_info *funcs;
	int e;

	ut_threads_init(&rep.threads, sizeof(struct rthread));
	e = read_events(&rep, v);
	if (e < 0)
		goto out_free;
	/* a text writer prints the names and the losses as the call graph does */
	funcs = ut_trace_func_infos(t, &nfuncs);
	w = utrace_writer_new(UT_FORMAT_TEXT, out, funcs, nfuncs);
	if (!w) {
		e = -ENOMEM;
		goto out_free;
	}
	if (o->threads)
		print_threads(w, t, &rep, o->key);
	else
		print_table(w, t, &rep.all, o->key);
	ut_text_print_losses(w, ut_trace_stats(t));
	e = fflush(out) || ferror(out) ? -EIO : 0;
	utrace_writer_free(w);
out_free:
	report_free(&rep);
	return e;
}
