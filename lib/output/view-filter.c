// SPDX-License-Identifier: MIT
/*
 * The filters every view shares (utrace/view.h), applied per thread in this
 * order: --tid, -F (only what runs inside a match; depths count from it),
 * -N (a match and what it calls are hidden), -D (the depth limit), -t (only
 * calls at least this long).
 *
 * -t needs an entry's duration before the entry can be shown, so entries
 * wait on a per-thread stack until their exit: a call long enough is shown
 * with every waiting entry around it (its callers, longer still), a call
 * too short goes with its entry.  A call with no known duration (its entry
 * or its exit is not in the trace) is not shown under -t.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "view.h"
#include "output-internal.h"
#include "view-threads.h"

#define NONE UINT32_MAX

struct waiting {
	struct ut_kept k; /* the entry, with its items */
	bool shown;
};

struct vthread {
	struct ut_thread_id id;
	uint32_t only_base; /* -F: depth of the matching call we are inside, NONE: outside */
	uint32_t hide_base; /* -N: depth of the hidden call we are inside, NONE: none */
	struct waiting *wait; /* -t: entries waiting for their exit, outermost first */
	size_t nwait, cap_wait;
};

struct ut_view {
	struct ut_trace *trace;
	struct ut_view_filter f;
	bool *only, *hide; /* per function: matches -F, -N */
	size_t nfuncs;
	struct ut_threads threads; /* of struct vthread */
	bool none; /* no filter at all: the trace's events as they are */
	/* -t: events released by an exit, handed out in order (a FIFO) */
	struct ut_kept *ready;
	size_t head, nready, cap_ready;
	struct ut_kept handed; /* the last one handed out: its items live until the next */
};

static bool matches(const char *name, const char **globs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (fnmatch(globs[i], name, 0) == 0)
			return true;
	return false;
}

int ut_view_new(struct ut_view **out, struct ut_trace *t, const struct ut_view_filter *f)
{
	const struct ut_func_info *funcs;
	struct ut_view *v = calloc(1, sizeof(*v));

	*out = NULL;
	if (!v)
		return -ENOMEM;
	ut_threads_init(&v->threads, sizeof(struct vthread));
	funcs = ut_trace_func_infos(t, &v->nfuncs);
	v->trace = t;
	v->f = *f;
	v->only = calloc(v->nfuncs + 1, sizeof(*v->only));
	v->hide = calloc(v->nfuncs + 1, sizeof(*v->hide));
	if (!v->only || !v->hide) {
		ut_view_free(v);
		return -ENOMEM;
	}
	for (size_t i = 0; i < v->nfuncs; i++) {
		v->only[i] = matches(funcs[i].name, f->only, f->nonly);
		v->hide[i] = matches(funcs[i].name, f->hide, f->nhide);
	}
	v->none = !f->max_depth && !f->min_ns && !f->nonly && !f->nhide && !f->ntids;
	*out = v;
	return 0;
}

static void vthread_free(void *p)
{
	struct vthread *t = p;

	for (size_t i = 0; i < t->cap_wait; i++)
		ut_kept_free(&t->wait[i].k);
	free(t->wait);
}

void ut_view_free(struct ut_view *v)
{
	if (!v)
		return;
	ut_threads_free(&v->threads, vthread_free);
	for (size_t i = 0; i < v->cap_ready; i++)
		ut_kept_free(&v->ready[i]);
	free(v->ready);
	ut_kept_free(&v->handed);
	free(v->only);
	free(v->hide);
	free(v);
}

static struct vthread *thread_of(struct ut_view *v, const struct ut_event *ev)
{
	bool created;
	struct vthread *t = ut_threads_get(&v->threads, ev->pid, ev->tid, &created);

	if (t && created) {
		t->only_base = NONE;
		t->hide_base = NONE;
	}
	return t;
}

static int push_ready(struct ut_view *v, const struct ut_event *ev)
{
	if (v->nready == v->cap_ready) {
		size_t cap = v->cap_ready ? 2 * v->cap_ready : 64;
		struct ut_kept *d = calloc(cap, sizeof(*d));

		if (!d)
			return -ENOMEM;
		/* every element moves, buffers and all: the free ones keep theirs too */
		for (size_t i = 0; i < v->cap_ready; i++)
			d[i] = v->ready[(v->head + i) % v->cap_ready];
		free(v->ready);
		v->ready = d;
		v->head = 0;
		v->cap_ready = cap;
	}
	return ut_event_keep(&v->ready[(v->head + v->nready++) % v->cap_ready], ev);
}

static bool is_entry(const struct ut_event *ev)
{
	return ev->kind == UT_REC_ENTRY;
}

static bool known(const struct ut_view *v, uint32_t func)
{
	return func < v->nfuncs;
}

/* -F: whether ev is inside a matching call; its depth made relative to it. */
static bool pass_only(const struct ut_view *v, struct vthread *t, struct ut_event *ev)
{
	uint32_t base;

	if (!v->f.nonly)
		return true;
	if (t->only_base != NONE && ev->depth < t->only_base)
		t->only_base = NONE; /* the call ended without an exit in the trace */
	if (t->only_base == NONE) {
		if (!is_entry(ev) || !known(v, ev->func) || !v->only[ev->func])
			return false;
		t->only_base = ev->depth;
	}
	base = t->only_base;
	if (!is_entry(ev) && ev->depth == base)
		t->only_base = NONE; /* the matching call ends with this event */
	ev->depth -= base;
	return true;
}

/* -N: whether ev is outside every hidden call. */
static bool pass_hide(const struct ut_view *v, struct vthread *t, const struct ut_event *ev)
{
	if (t->hide_base != NONE && ev->depth < t->hide_base)
		t->hide_base = NONE;
	if (t->hide_base == NONE && is_entry(ev) && known(v, ev->func) && v->hide[ev->func])
		t->hide_base = ev->depth;
	if (t->hide_base == NONE)
		return true;
	if (!is_entry(ev) && ev->depth == t->hide_base)
		t->hide_base = NONE;
	return false;
}

static int wait_push(struct vthread *t, const struct ut_event *ev)
{
	size_t cap = t->cap_wait;
	struct waiting *w = ut_array_grow(t->wait, &t->cap_wait, t->nwait + 1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	t->wait = w;
	memset(w + cap, 0, (t->cap_wait - cap) * sizeof(*w)); /* no buffers yet */
	w[t->nwait].shown = false;
	return ut_event_keep(&w[t->nwait++].k, ev);
}

/* -t: an exit or unwind closes the waiting entry at its depth. */
static int timed_exit(struct ut_view *v, struct vthread *t, const struct ut_event *ev)
{
	bool shown;
	int e = 0;

	/* entries left without an exit deeper down had no known duration */
	while (t->nwait && t->wait[t->nwait - 1].k.ev.depth > ev->depth)
		t->nwait--;
	if (!t->nwait || t->wait[t->nwait - 1].k.ev.depth != ev->depth)
		return 0; /* its entry is not in the trace */
	shown = t->wait[t->nwait - 1].shown;
	if (!shown && ev->has_dur && ev->dur_ns >= v->f.min_ns)
		for (size_t i = 0; e == 0 && i < t->nwait; i++) {
			if (!t->wait[i].shown)
				e = push_ready(v, &t->wait[i].k.ev);
			t->wait[i].shown = true;
			shown = true;
		}
	t->nwait--;
	return e < 0 ? e : shown ? push_ready(v, ev) : 0;
}

/*
 * 1: ev passes as it is; 0: it does not, or (-t) it waits for its exit or
 * went to the ready queue with what it released; < 0: out of memory.
 */
static int take(struct ut_view *v, struct ut_event *ev)
{
	int r;

	struct vthread *t;

	if (v->f.ntids) {
		bool wanted = false;

		for (size_t i = 0; i < v->f.ntids && !wanted; i++)
			wanted = v->f.tids[i] == ev->tid;
		if (!wanted)
			return 0;
	}
	t = thread_of(v, ev);
	if (!t)
		return -ENOMEM;
	if (!pass_only(v, t, ev) || !pass_hide(v, t, ev))
		return 0;
	if (v->f.max_depth && ev->depth >= v->f.max_depth)
		return 0;
	if (!v->f.min_ns)
		return 1;
	r = is_entry(ev) ? wait_push(t, ev) : timed_exit(v, t, ev);
	return r < 0 ? r : 0;
}

int ut_view_next(struct ut_view *v, struct ut_event *ev)
{
	int r;

	if (v->none)
		return ut_trace_next(v->trace, ev);
	/* only -t queues: without it an event passes, or not, as it is read */
	while (!v->nready) {
		r = ut_trace_next(v->trace, ev);
		if (r <= 0)
			return r;
		r = take(v, ev);
		if (r != 0)
			return r;
	}
	/* the handed-out one's buffer and the queue slot's trade places */
	{
		struct ut_kept k = v->ready[v->head];

		v->ready[v->head] = v->handed;
		v->handed = k;
	}
	*ev = v->handed.ev;
	v->head = (v->head + 1) % v->cap_ready;
	v->nready--;
	return 1;
}
