// SPDX-License-Identifier: MIT
/*
 * utrace dump --folded: the calls of a trace as folded stacks, the input of
 * flamegraph.pl, inferno and speedscope.  One line per distinct stack, its
 * frames outermost first, and the nanoseconds spent in its innermost call
 * itself (self time: its duration less those of its traced callees):
 *
 *   work_expr 1520
 *   work_expr;work_term 2210
 *   work_expr;work_term;work_number 3105
 *
 * Self times never overlap, so a thread's weights add up to the time of its
 * outermost calls.  The stacks of every thread are merged, without a
 * thread frame (the flame graph convention), and lines come in byte order
 * of their stacks, so that the same trace always gives the same file.
 * Stacks are made of names only: two functions of the same name (static
 * ones of two modules) are one frame.  In a name, a ';' (which separates
 * frames) or a control byte (a line break) becomes '?'.  Lines of weight 0
 * are left out.
 *
 * A call whose return is not in the trace (the program died, a thread was
 * still inside at detach, the return was lost) counts until its thread's
 * events show it must have ended, its thread's last event at the latest.
 * A return whose call is not in the trace (it began before the trace) is
 * left out: where it began, and so its time, is unknown; the calls made
 * inside it whose entries are in the trace are stacks of their own.
 *
 * A call with no traced caller open whose entry carries its stack trace
 * (--stack) goes under the callers the trace recorded, outermost first (a
 * frame without a function name is "[module]").
 */
#include <errno.h>
#include <inttypes.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>

#include "output-internal.h"
#include "stack.h"
#include "view.h"
#include "view-threads.h"

#define FALLBACK_NAME 32

/* A stack: its innermost name under the stack of its caller. */
struct fnode {
	const struct fnode *parent; /* the root (no name) for an outermost call */
	const char *name; /* interned */
	size_t name_len;
	uint64_t weight; /* self ns */
	struct fnode *child, *sibling; /* the stacks one call deeper */
};

struct fframe {
	uint32_t depth;
	uint64_t start, child_ns;
	struct fnode *node;
};

struct fthread {
	struct ut_thread_id id;
	uint64_t last_ts;
	struct fframe *stack; /* innermost last */
	size_t n, cap;
};

struct folded {
	const struct ut_func_info *funcs;
	size_t nfuncs;
	const char **names; /* [nfuncs]: interned, NULL until first use */
	void *name_tree; /* tsearch() tree of the interned names */
	struct fnode root;
	void *node_tree; /* tsearch() tree of the nodes, by caller and name */
	struct fnode **nodes; /* to free them */
	size_t nnodes, cap_nodes;
	struct ut_threads threads; /* of struct fthread */
};

/* ---- names and stacks ----------------------------------------------------------- */

static int cmp_name(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* The interned frame name of `raw`, with the bytes a folded line cannot hold as '?'. */
static const char *intern(struct folded *fo, const char *raw)
{
	char *s = strdup(raw);
	void *found;

	if (!s)
		return NULL;
	for (unsigned char *p = (unsigned char *)s; *p; p++)
		*p = *p == ';' ? '?' : (unsigned char)ut_visible(*p);
	found = tsearch(s, &fo->name_tree, cmp_name);
	if (!found || *(char **)found != s)
		free(s);
	return found ? *(const char **)found : NULL;
}

static const char *name_of(struct folded *fo, uint32_t func)
{
	char fallback[FALLBACK_NAME];

	if (func < fo->nfuncs && fo->funcs[func].name) {
		if (!fo->names[func])
			fo->names[func] = intern(fo, fo->funcs[func].name);
		return fo->names[func];
	}
	snprintf(fallback, sizeof(fallback), "func#%" PRIu32, func);
	return intern(fo, fallback);
}

/* Interned names are compared by address: one name, one address. */
static int cmp_node(const void *a, const void *b)
{
	const struct fnode *x = a, *y = b;

	if (x->parent != y->parent)
		return (uintptr_t)x->parent < (uintptr_t)y->parent ? -1 : 1;
	if (x->name != y->name)
		return (uintptr_t)x->name < (uintptr_t)y->name ? -1 : 1;
	return 0;
}

/* The stack of `name` called from stack `parent`, made on first use. */
static struct fnode *node_of(struct folded *fo, struct fnode *parent, const char *name)
{
	struct fnode key = { .parent = parent, .name = name }, *n, **all;
	void *found = tfind(&key, &fo->node_tree, cmp_node);

	if (found)
		return *(struct fnode **)found;
	all = ut_array_grow(fo->nodes, &fo->cap_nodes, fo->nnodes + 1, sizeof(*all));
	if (!all)
		return NULL;
	fo->nodes = all;
	n = malloc(sizeof(*n));
	if (!n)
		return NULL;
	*n = key;
	if (!tsearch(n, &fo->node_tree, cmp_node)) {
		free(n);
		return NULL;
	}
	n->name_len = strlen(name);
	n->sibling = parent->child;
	parent->child = n;
	all[fo->nnodes++] = n;
	return n;
}

/* ---- calls -------------------------------------------------------------------- */

/* The innermost open call ends at `end`: its self time goes to its stack. */
static void frame_close(struct fthread *th, uint64_t end)
{
	struct fframe *f = &th->stack[--th->n];
	/* a thread's times never go back (the reader checks), so end >= start */
	uint64_t dur = end - f->start, *up;

	/* callees lie within their caller; a corrupt trace must not wrap self around */
	f->node->weight += dur - (f->child_ns < dur ? f->child_ns : dur);
	if (th->n) {
		up = &th->stack[th->n - 1].child_ns;
		*up = *up + dur < *up ? UINT64_MAX : *up + dur;
	}
}

/* The open calls at `depth` and deeper will not return: they end at `end`. */
static void close_open(struct fthread *th, uint32_t depth, uint64_t end)
{
	while (th->n && th->stack[th->n - 1].depth >= depth)
		frame_close(th, end);
}

/* A recorded frame's name, interned: its function's, else "[module]". */
static const char *frame_name(struct folded *fo, const struct ut_frame *f)
{
	char buf[256];

	if (f->func_len)
		snprintf(buf, sizeof(buf), "%.*s", (int)f->func_len, f->func);
	else
		snprintf(buf, sizeof(buf), "[%.*s]", (int)f->module_len, f->module);
	return intern(fo, buf);
}

/* The stack an outermost call goes under: its recorded callers', else the root. */
static struct fnode *callers_node(struct folded *fo, const struct ut_event *ev)
{
	struct ut_frame frames[UT_FRAMES_MAX];
	struct fnode *node = &fo->root;
	struct ut_item_view it;
	size_t off = 0, n = 0;

	if (!ut_stack_of(ev, &it))
		return node;
	while (n < UT_FRAMES_MAX && ut_frame_next(&it, &off, &frames[n]))
		n++;
	/* frames[0] is the function itself */
	while (node && n-- > 1) {
		const char *name = frame_name(fo, &frames[n]);

		node = name ? node_of(fo, node, name) : NULL;
	}
	return node;
}

static int on_entry(struct folded *fo, struct fthread *th, const struct ut_event *ev)
{
	struct fframe *f;
	struct fnode *node;
	const char *name = name_of(fo, ev->func);

	if (!name)
		return -ENOMEM;
	close_open(th, ev->depth, ev->ts);
	/* the innermost open call is the caller */
	node = th->n ? th->stack[th->n - 1].node : callers_node(fo, ev);
	node = node ? node_of(fo, node, name) : NULL;
	f = ut_array_grow(th->stack, &th->cap, th->n + 1, sizeof(*f));
	if (!node || !f)
		return -ENOMEM;
	th->stack = f;
	f[th->n++] = (struct fframe){ .depth = ev->depth, .start = ev->ts, .node = node };
	return 0;
}

/* An exit or unwind ends the open call at its depth, and any deeper one left open. */
static void on_return(struct fthread *th, const struct ut_event *ev)
{
	close_open(th, ev->depth + 1, ev->ts);
	/* another function's entry at this depth ends too: its own return was lost */
	if (th->n && th->stack[th->n - 1].depth == ev->depth)
		frame_close(th, ev->ts);
}

static int on_event(struct folded *fo, const struct ut_event *ev)
{
	struct fthread *th = ut_threads_get(&fo->threads, ev->pid, ev->tid, NULL);

	if (!th)
		return -ENOMEM;
	if (ev->ts > th->last_ts)
		th->last_ts = ev->ts;
	if (ev->kind == UT_REC_ENTRY)
		return on_entry(fo, th, ev);
	if (ev->kind == UT_REC_EXIT || ev->kind == UT_REC_UNWIND)
		on_return(th, ev);
	return 0;
}

/* ---- writing ------------------------------------------------------------------ */

/*
 * The lines come out of a walk of the stacks, in byte order without
 * building them all: among the stacks one call under a common caller, a
 * stack's own line is its name (a prefix of the others'), the lines of the
 * stacks it calls start with its name and ';'.  Sorting these two keys of
 * every callee together orders the lines of the whole subtree, since no
 * name holds a ';'.
 */
struct item {
	const struct fnode *node;
	bool callees; /* the lines of the stacks it calls, else its own line */
};

/* Byte i of an item's key; -1 past its end. */
static int key_at(const struct item *it, size_t i)
{
	if (i < it->node->name_len)
		return (unsigned char)it->node->name[i];
	return i == it->node->name_len && it->callees ? ';' : -1;
}

static int cmp_item(const void *a, const void *b)
{
	for (size_t i = 0;; i++) {
		int x = key_at(a, i), y = key_at(b, i);

		if (x != y)
			return x < y ? -1 : 1;
		if (x < 0)
			return 0;
	}
}

/* A level of the walk: the items of one stack's callees, and that stack's frames. */
struct level {
	struct item *items;
	size_t n, pos;
	size_t path_len;
};

static int level_open(struct level *l, const struct fnode *parent, size_t path_len)
{
	size_t n = 0;

	for (const struct fnode *c = parent->child; c; c = c->sibling)
		n++;
	*l = (struct level){ .items = calloc(2 * n + 1, sizeof(*l->items)),
			     .n = 2 * n,
			     .path_len = path_len };
	if (!l->items)
		return -ENOMEM;
	n = 0;
	for (const struct fnode *c = parent->child; c; c = c->sibling) {
		l->items[n++] = (struct item){ .node = c };
		l->items[n++] = (struct item){ .node = c, .callees = true };
	}
	qsort(l->items, l->n, sizeof(*l->items), cmp_item);
	return 0;
}

/* path[0..len) + the node's name; 0, or -ENOMEM. */
static int path_push(char **path, size_t *cap, size_t len, const struct fnode *node)
{
	size_t need = len + 1 + node->name_len + 1;
	char *p = ut_array_grow(*path, cap, need, 1);

	if (!p)
		return -ENOMEM;
	*path = p;
	if (len)
		p[len++] = ';';
	memcpy(p + len, node->name, node->name_len + 1);
	return 0;
}

static int write_lines(struct folded *fo, FILE *out)
{
	struct level *lv = NULL, *l;
	size_t nlv = 0, cap_lv = 0, cap_path = 0;
	char *path = NULL;
	int e = 0;

	l = ut_array_grow(lv, &cap_lv, 1, sizeof(*lv));
	if (!l || level_open(l, &fo->root, 0) < 0) {
		free(l);
		return -ENOMEM;
	}
	lv = l;
	nlv = 1;
	while (e == 0 && nlv) {
		const struct item *it;
		size_t len;

		l = &lv[nlv - 1];
		if (l->pos == l->n) {
			free(l->items);
			nlv--;
			continue;
		}
		it = &l->items[l->pos++];
		len = l->path_len;
		if ((!it->callees && !it->node->weight) || (it->callees && !it->node->child))
			continue;
		e = path_push(&path, &cap_path, len, it->node);
		if (e == 0 && !it->callees) {
			fprintf(out, "%s %" PRIu64 "\n", path, it->node->weight);
			e = ferror(out) ? -EIO : 0;
		} else if (e == 0) {
			l = ut_array_grow(lv, &cap_lv, nlv + 1, sizeof(*lv));
			if (!l) {
				e = -ENOMEM;
				break;
			}
			lv = l;
			e = level_open(&lv[nlv], it->node,
				       len + (len ? 1 : 0) + it->node->name_len);
			nlv += e == 0;
		}
	}
	while (nlv)
		free(lv[--nlv].items);
	free(lv);
	free(path);
	return e;
}

static void noop_free(void *p)
{
	(void)p;
}

static void fthread_free(void *p)
{
	struct fthread *th = p;

	free(th->stack);
}

static void folded_free(struct folded *fo)
{
	ut_threads_free(&fo->threads, fthread_free);
	tdestroy(fo->node_tree, noop_free);
	for (size_t i = 0; i < fo->nnodes; i++)
		free(fo->nodes[i]);
	free(fo->nodes);
	tdestroy(fo->name_tree, free);
	free(fo->names);
}

int ut_view_folded(struct ut_view *v, const struct ut_trace *t, FILE *out)
{
	struct folded fo = { 0 };
	struct fthread *th;
	struct ut_event ev;
	int e;

	ut_threads_init(&fo.threads, sizeof(struct fthread));
	fo.funcs = ut_trace_func_infos(t, &fo.nfuncs);
	fo.names = calloc(fo.nfuncs + 1, sizeof(*fo.names));
	if (!fo.names)
		return -ENOMEM;
	while ((e = ut_view_next(v, &ev)) > 0) {
		e = on_event(&fo, &ev);
		if (e < 0)
			break;
	}
	for (size_t i = 0; e == 0 && i < fo.threads.n; i++) {
		th = fo.threads.all[i];
		close_open(th, 0, th->last_ts);
	}
	if (e == 0)
		e = write_lines(&fo, out);
	folded_free(&fo);
	return e;
}
