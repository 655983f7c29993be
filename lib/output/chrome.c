// SPDX-License-Identifier: MIT
/*
 * utrace dump --chrome: the calls of a trace in the Trace Event Format that
 * the Perfetto UI and chrome://tracing load.
 *
 *   {"displayTimeUnit":"ns","traceEvents":[
 *   {"name":"work_term","cat":"s-demo","ph":"X","ts":12.345,"dur":0.250,"pid":7,"tid":7},
 *   ...
 *   {"name":"process_name","ph":"M","pid":7,"tid":7,"args":{"name":"s-demo 2*3+4"}},
 *   {"name":"thread_name","ph":"M","pid":7,"tid":7,"args":{"name":"s-demo"}}
 *   ],"otherData":{"utrace_version":"..","cmdline":"..","start_monotonic_ns":N,
 *   "open_calls":N,"exits_without_entry":N}}
 *
 * One complete event ("X") per call: "cat" is its module, "ts" and "dur"
 * are microseconds with 3 decimals, every nanosecond kept.  "ts" counts
 * from the start of the recording (otherData's start_monotonic_ns): the
 * viewers read numbers as doubles, which hold the nanoseconds of a
 * CLOCK_MONOTONIC time only during the first 104 days of uptime.  A call
 * unwound by longjmp or an exception has "args":{"unwound":true}.  A call
 * whose return is not in the trace (the program died, a thread was still
 * inside at detach, the return was lost) ends where its thread's events
 * show it must have, at the thread's last event at the latest, and has
 * "args":{"open":true}.  A return whose call is not in the trace (it began
 * before the trace) cannot be placed: it is left out and counted in
 * otherData's exits_without_entry.  Thread and process names come last,
 * for the threads that have calls, by pid and tid.
 *
 * A call is written when it ends, so the file has callees before their
 * callers.  The viewers nest each thread's calls by their times, and
 * order the calls that start in the same nanosecond themselves: Perfetto
 * longest first, then in file order; chrome://tracing in file order.  So
 * a call that starts in the same nanosecond as its caller waits (held)
 * until its caller is written, and follows it: the calls held at any time
 * all start in one nanosecond.  A zero-length call in the nanosecond a
 * sibling starts may still read as nested in that sibling: the format
 * cannot tell the two apart.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output-internal.h"
#include "view.h"
#include "view-threads.h"

#define NS_PER_US 1000
#define FALLBACK_NAME 32
/* the numbers and fields that follow an event's name and module */
#define TAIL_MAX 192

enum call_flag {
	CALL_OPEN = 1, /* no return in the trace */
	CALL_UNWOUND = 2,
};

/* A call to write. */
struct xcall {
	uint64_t start, dur;
	uint32_t func;
	unsigned int flags;
};

/* A call whose return has not come yet. */
struct frame {
	uint32_t depth, func;
	uint64_t start;
	bool held; /* starts with its caller: its place is held[held_from - 1] */
	size_t held_from; /* its held callees are held[held_from..] */
};

struct cthread {
	struct ut_thread_id id;
	uint64_t last_ts;
	uint64_t written; /* calls written */
	struct frame *stack; /* innermost last */
	size_t n, cap;
	struct xcall *held; /* in the order to write them: callers first */
	size_t nheld, cap_held;
};

/* `{"name":..,"cat":..,"ph":"X","ts":` of a function, built on first use. */
struct prefix {
	char *s;
	size_t len;
};

struct chrome {
	FILE *out;
	const struct ut_trace *t;
	const struct ut_func_info *funcs;
	size_t nfuncs;
	struct prefix *prefixes; /* [nfuncs] */
	struct prefix unknown; /* an id beyond the table: rebuilt each time */
	uint64_t origin;
	struct ut_threads threads; /* of struct cthread */
	bool any; /* an event was written */
	uint64_t open_calls, unplaced;
};

/* ---- writing ------------------------------------------------------------------ */

/* ns as microseconds with 3 decimals. */
static char *put_us(char *p, uint64_t ns)
{
	uint64_t frac = ns % NS_PER_US;

	p = ut_put_dec(p, ns / NS_PER_US);
	*p++ = '.';
	*p++ = (char)('0' + frac / 100);
	*p++ = (char)('0' + frac / 10 % 10);
	*p++ = (char)('0' + frac % 10);
	return p;
}

/* A timestamp from the origin: before it (a clock calibrated a little off), negative. */
static char *put_ts(char *p, uint64_t ts, uint64_t origin)
{
	if (ts >= origin)
		return put_us(p, ts - origin);
	*p++ = '-';
	return put_us(p, origin - ts);
}

/* Append the JSON literal of s to the growing string *buf of length *len. */
static int cat_string(char **buf, size_t *len, const char *s)
{
	size_t n = utrace_json_escape(NULL, 0, s, strlen(s));
	char *p = realloc(*buf, *len + n + 1);

	if (!p)
		return -ENOMEM;
	utrace_json_escape(p + *len, n + 1, s, strlen(s));
	*buf = p;
	*len += n;
	return 0;
}

static int cat_lit(char **buf, size_t *len, const char *s)
{
	size_t n = strlen(s);
	char *p = realloc(*buf, *len + n + 1);

	if (!p)
		return -ENOMEM;
	memcpy(p + *len, s, n + 1);
	*buf = p;
	*len += n;
	return 0;
}

static int build_prefix(struct chrome *c, uint32_t func, struct prefix *pf)
{
	char fallback[FALLBACK_NAME];
	const char *name = func < c->nfuncs ? c->funcs[func].name : NULL;
	const char *module = func < c->nfuncs ? c->funcs[func].module : NULL;
	int e;

	if (!name) {
		snprintf(fallback, sizeof(fallback), "func#%" PRIu32, func);
		name = fallback;
	}
	pf->len = 0;
	e = cat_lit(&pf->s, &pf->len, "{\"name\":");
	if (e == 0)
		e = cat_string(&pf->s, &pf->len, name);
	if (e == 0)
		e = cat_lit(&pf->s, &pf->len, ",\"cat\":");
	if (e == 0)
		e = cat_string(&pf->s, &pf->len, module ? module : "");
	if (e == 0)
		e = cat_lit(&pf->s, &pf->len, ",\"ph\":\"X\",\"ts\":");
	return e;
}

static const struct prefix *prefix_of(struct chrome *c, uint32_t func)
{
	struct prefix *pf = func < c->nfuncs ? &c->prefixes[func] : &c->unknown;

	if (pf->s && pf != &c->unknown)
		return pf;
	return build_prefix(c, func, pf) == 0 ? pf : NULL;
}

/* The separator before an event: none before the first. */
static void put_sep(struct chrome *c)
{
	if (c->any)
		fputs_unlocked(",\n", c->out);
	c->any = true;
}

static int write_call(struct chrome *c, struct cthread *th, const struct xcall *x)
{
	char tail[TAIL_MAX], *p = tail;
	const struct prefix *pf = prefix_of(c, x->func);

	if (!pf)
		return -ENOMEM;
	p = put_ts(p, x->start, c->origin);
	p = put_us(ut_put_lit(p, ",\"dur\":"), x->dur);
	p = ut_put_dec(ut_put_lit(p, ",\"pid\":"), (uint64_t)(uint32_t)th->id.pid);
	p = ut_put_dec(ut_put_lit(p, ",\"tid\":"), (uint64_t)(uint32_t)th->id.tid);
	if (x->flags & CALL_OPEN)
		p = ut_put_lit(p, ",\"args\":{\"open\":true}");
	else if (x->flags & CALL_UNWOUND)
		p = ut_put_lit(p, ",\"args\":{\"unwound\":true}");
	*p++ = '}';
	put_sep(c);
	fwrite_unlocked(pf->s, 1, pf->len, c->out);
	fwrite_unlocked(tail, 1, (size_t)(p - tail), c->out);
	th->written++;
	c->open_calls += (x->flags & CALL_OPEN) != 0;
	return ferror_unlocked(c->out) ? -EIO : 0;
}

/* ---- calls -------------------------------------------------------------------- */

/* The innermost open call ends at `end`: written, or held for its caller. */
static int frame_close(struct chrome *c, struct cthread *th, uint64_t end, unsigned int flags)
{
	struct frame *f = &th->stack[--th->n];
	struct xcall x = { .start = f->start, .func = f->func, .flags = flags };
	int e;

	/* a thread's times never go back (the reader checks), so end >= start */
	x.dur = end - f->start;
	if (f->held) {
		th->held[f->held_from - 1] = x;
		return 0;
	}
	e = write_call(c, th, &x);
	for (size_t i = f->held_from; e == 0 && i < th->nheld; i++)
		e = write_call(c, th, &th->held[i]);
	th->nheld = f->held_from;
	return e;
}

/* The open calls at `depth` and deeper will not return: they end at `end`. */
static int close_open(struct chrome *c, struct cthread *th, uint32_t depth, uint64_t end)
{
	int e = 0;

	while (e == 0 && th->n && th->stack[th->n - 1].depth >= depth)
		e = frame_close(c, th, end, CALL_OPEN);
	return e;
}

static int on_entry(struct chrome *c, struct cthread *th, const struct ut_event *ev)
{
	struct frame *f;
	struct xcall *h;
	bool held;
	int e = close_open(c, th, ev->depth, ev->ts);

	if (e < 0)
		return e;
	f = ut_array_grow(th->stack, &th->cap, th->n + 1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	th->stack = f;
	/* the innermost open call is the caller */
	held = th->n && f[th->n - 1].start == ev->ts;
	if (held) {
		h = ut_array_grow(th->held, &th->cap_held, th->nheld + 1, sizeof(*h));
		if (!h)
			return -ENOMEM;
		th->held = h;
		h[th->nheld++] = (struct xcall){ .start = ev->ts, .func = ev->func };
	}
	f[th->n++] = (struct frame){ .depth = ev->depth,
				     .func = ev->func,
				     .start = ev->ts,
				     .held = held,
				     .held_from = th->nheld };
	return 0;
}

/* An exit or unwind ends the open call at its depth, and any deeper one left open. */
static int on_return(struct chrome *c, struct cthread *th, const struct ut_event *ev)
{
	const struct frame *top;
	int e = close_open(c, th, ev->depth + 1, ev->ts);

	if (e < 0)
		return e;
	top = th->n ? &th->stack[th->n - 1] : NULL;
	if (top && top->depth == ev->depth && top->func == ev->func)
		return frame_close(c, th, ev->ts, ev->kind == UT_REC_UNWIND ? CALL_UNWOUND : 0);
	/* another function's entry at this depth: its own return was lost */
	if (top && top->depth == ev->depth)
		e = frame_close(c, th, ev->ts, CALL_OPEN);
	c->unplaced++;
	return e;
}

static int on_event(struct chrome *c, const struct ut_event *ev)
{
	struct cthread *th = ut_threads_get(&c->threads, ev->pid, ev->tid, NULL);

	if (!th)
		return -ENOMEM;
	if (ev->ts > th->last_ts)
		th->last_ts = ev->ts;
	if (ev->kind == UT_REC_ENTRY)
		return on_entry(c, th, ev);
	if (ev->kind == UT_REC_EXIT || ev->kind == UT_REC_UNWIND)
		return on_return(c, th, ev);
	return 0;
}

/* ---- names -------------------------------------------------------------------- */

/* One "M" event naming a process or a thread; nothing without a name. */
static int write_name(struct chrome *c, const char *what, pid_t pid, pid_t tid, const char *name)
{
	char *lit = NULL;
	size_t len = 0;

	if (!name || !*name)
		return 0;
	if (cat_string(&lit, &len, name) < 0)
		return -ENOMEM;
	put_sep(c);
	fprintf(c->out,
		"{\"name\":\"%s\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,\"args\":{\"name\":%s}}", what,
		(int)pid, (int)tid, lit);
	free(lit);
	return ferror_unlocked(c->out) ? -EIO : 0;
}

/* The traced command for the process run or attached to, else its main thread's name. */
static const char *process_name(const struct chrome *c, pid_t pid)
{
	const struct ut_trace_meta *m = ut_trace_meta(c->t);

	if (pid == m->pid && m->cmdline && *m->cmdline)
		return m->cmdline;
	return ut_trace_task_comm(c->t, pid);
}

static int write_names(struct chrome *c)
{
	pid_t named = 0;
	int e = 0;

	for (size_t i = 0; e == 0 && i < c->threads.n; i++) {
		const struct cthread *th = c->threads.all[i];
		pid_t pid = th->id.pid, tid = th->id.tid;

		if (!th->written)
			continue;
		if (pid != named)
			e = write_name(c, "process_name", pid, pid, process_name(c, pid));
		named = pid;
		if (e == 0)
			e = write_name(c, "thread_name", pid, tid, ut_trace_task_comm(c->t, tid));
	}
	return e;
}

static int write_other_data(struct chrome *c)
{
	const struct ut_trace_meta *m = ut_trace_meta(c->t);
	char *s = NULL;
	size_t len = 0;
	int e = cat_lit(&s, &len, "\n],\"otherData\":{\"utrace_version\":");

	if (e == 0)
		e = cat_string(&s, &len, m->utrace_version ? m->utrace_version : "");
	if (e == 0)
		e = cat_lit(&s, &len, ",\"cmdline\":");
	if (e == 0)
		e = cat_string(&s, &len, m->cmdline ? m->cmdline : "");
	if (e < 0) {
		free(s);
		return e;
	}
	fputs_unlocked(s, c->out);
	fprintf(c->out,
		",\"start_monotonic_ns\":%" PRIu64 ",\"open_calls\":%" PRIu64
		",\"exits_without_entry\":%" PRIu64 "}}\n",
		c->origin, c->open_calls, c->unplaced);
	free(s);
	return ferror_unlocked(c->out) ? -EIO : 0;
}

/* The calls still open end at their thread's last event; then the names and the totals. */
static int finish(struct chrome *c)
{
	struct cthread *th;
	int e = 0;

	ut_threads_sort(&c->threads, ut_thread_cmp);
	for (size_t i = 0; e == 0 && i < c->threads.n; i++) {
		th = c->threads.all[i];
		e = close_open(c, th, 0, th->last_ts);
	}
	if (e == 0)
		e = write_names(c);
	return e ? e : write_other_data(c);
}

static void cthread_free(void *p)
{
	struct cthread *th = p;

	free(th->stack);
	free(th->held);
}

static void chrome_free(struct chrome *c)
{
	ut_threads_free(&c->threads, cthread_free);
	for (size_t i = 0; c->prefixes && i < c->nfuncs; i++)
		free(c->prefixes[i].s);
	free(c->prefixes);
	free(c->unknown.s);
}

int ut_view_chrome(struct ut_view *v, const struct ut_trace *t, FILE *out)
{
	struct chrome c = { .out = out, .t = t, .origin = ut_trace_meta(t)->start_monotonic_ns };
	struct ut_event ev;
	int e;

	ut_threads_init(&c.threads, sizeof(struct cthread));
	c.funcs = ut_trace_func_infos(t, &c.nfuncs);
	c.prefixes = calloc(c.nfuncs + 1, sizeof(*c.prefixes));
	if (!c.prefixes)
		return -ENOMEM;
	fputs_unlocked("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", out);
	while ((e = ut_view_next(v, &ev)) > 0) {
		e = on_event(&c, &ev);
		if (e < 0)
			break;
	}
	if (e == 0)
		e = finish(&c);
	chrome_free(&c);
	return e;
}
