// SPDX-License-Identifier: MIT
/*
 * The human view: a per-thread call graph in the style of `uftrace replay`.
 *
 *   # DURATION     TID     FUNCTION
 *               [  1234] | main() {
 *               [  1234] |   foo() {
 *      1.234 us [  1234] |     bar();
 *      2.000 us [  1234] |   } <foo's name in a C comment>
 *
 * (an unwound entry's closing comment reads "foo: unwound").
 * An entry is held back (one per thread) until the thread's next event: when
 * that is the matching exit, the pair collapses into one `bar();` line.
 * Threads interleave line by line in the order their lines become final.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "stack.h"
#include "demangle.h"
#include "fmt-time.h"
#include "output-internal.h"
#include "view-threads.h"

/* Blank duration column: as wide as " %3u.%03u us". */
#define DURATION_BLANK "           "
#define INDENT_PER_DEPTH 2
#define TID_WIDTH 6
#define LINE_MIN 256
#define TEXT_ARGS_MAX (32 * 1024)

struct text_thread {
	struct ut_thread_id id; /* first: an element of struct ut_threads */
	bool pending; /* `entry` is printed once we know whether it collapses */
	struct ut_kept entry;
};

struct text_state {
	struct ut_threads threads; /* of struct text_thread, in order of first appearance */
	bool header_done;
	/* a line is built here and written with one call: replay prints millions */
	char *line;
	size_t len, line_cap;
	char args[TEXT_ARGS_MAX]; /* an entry's arguments or an exit's value, built here */
	int err; /* -ENOMEM once the line could not grow */
};

int ut_text_init(struct ut_writer *w)
{
	struct text_state *ts = calloc(1, sizeof(*ts));

	if (!ts)
		return -ENOMEM;
	ut_threads_init(&ts->threads, sizeof(struct text_thread));
	w->priv = ts;
	return 0;
}

static void text_thread_free(void *p)
{
	struct text_thread *t = p;

	ut_kept_free(&t->entry);
}

void ut_text_free(struct ut_writer *w)
{
	struct text_state *ts = w->priv;

	ut_threads_free(&ts->threads, text_thread_free);
	free(ts->line);
	free(ts);
}

static void print_header(struct ut_writer *w)
{
	struct text_state *ts = w->priv;

	if (ts->header_done)
		return;
	fputs("# DURATION     TID     FUNCTION\n", w->out);
	ts->header_done = true;
}

/* Room for n more bytes in the line. */
static bool line_room(struct text_state *ts, size_t n)
{
	size_t cap = ts->line_cap ? ts->line_cap : LINE_MIN;
	char *v;

	if (ts->len + n <= ts->line_cap)
		return true;
	while (cap < ts->len + n)
		cap *= 2;
	v = realloc(ts->line, cap);
	if (!v) {
		ts->err = -ENOMEM;
		return false;
	}
	ts->line = v;
	ts->line_cap = cap;
	return true;
}

static void line_put(struct text_state *ts, const char *s, size_t n)
{
	if (line_room(ts, n)) {
		memcpy(ts->line + ts->len, s, n);
		ts->len += n;
	}
}

static void line_puts(struct text_state *ts, const char *s)
{
	line_put(ts, s, strlen(s));
}

static void line_spaces(struct text_state *ts, size_t n)
{
	if (line_room(ts, n)) {
		memset(ts->line + ts->len, ' ', n);
		ts->len += n;
	}
}

/* Names come from the traced program: keep terminal control bytes out. */
static void line_visible(struct text_state *ts, const char *s)
{
	size_t n = strlen(s);

	if (!line_room(ts, n))
		return;
	for (size_t i = 0; i < n; i++)
		ts->line[ts->len++] = ut_visible((unsigned char)s[i]);
}

static void line_write(struct ut_writer *w)
{
	struct text_state *ts = w->priv;

	if (ts->len)
		fwrite(ts->line, 1, ts->len, w->out);
	ts->len = 0;
}

/* " [%6d] | " */
static void line_tid(struct text_state *ts, pid_t tid)
{
	char buf[UT_DEC_U64_MAX];
	size_t n = (size_t)(ut_put_dec(buf, tid < 0 ? 0 : (uint64_t)tid) - buf);

	line_puts(ts, " [");
	line_spaces(ts, n < TID_WIDTH ? TID_WIDTH - n : 0);
	line_put(ts, buf, n);
	line_puts(ts, "] | ");
}

/* Duration column, tid column and the indentation of `depth`. */
static void print_prefix(struct ut_writer *w, const struct ut_event *ev, bool has_dur, uint64_t dur,
			 uint32_t depth)
{
	struct text_state *ts = w->priv;
	char buf[UT_DURATION_BUF];

	print_header(w);
	if (has_dur) {
		line_puts(ts, " ");
		line_puts(ts, ut_fmt_duration(buf, dur));
	} else {
		line_puts(ts, DURATION_BLANK);
	}
	line_tid(ts, ev->tid);
	line_spaces(ts, (size_t)depth * INDENT_PER_DEPTH);
}

void ut_text_print_visible(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	for (; *p; p++)
		fputc(ut_visible(*p), out);
}

void ut_text_print_name(struct ut_writer *w, uint32_t func)
{
	ut_text_print_visible(w->out, ut_writer_func_name(w, func));
}

/* The name, and "()" after it unless it has its parameters already (demangled C++). */
static void line_name(struct ut_writer *w, uint32_t func, bool call)
{
	const char *name = ut_writer_func_name(w, func);

	line_visible(w->priv, name);
	if (call && !strchr(name, '('))
		line_puts(w->priv, "()");
}

/*
 * "name(n=3, p=0x...)" for an entry whose words its prototype shows (a C++
 * name without its parameter types then), else "name()".
 */
static void line_call(struct ut_writer *w, const struct ut_event *entry)
{
	const struct ut_proto *p = entry->nw ? ut_writer_proto(w, entry->func) : NULL;
	const char *name = ut_writer_func_name(w, entry->func);
	struct text_state *ts = w->priv;
	struct ut_sbuf b = { .p = ts->args, .cap = sizeof(ts->args) };
	char *typed;

	if (!p) {
		line_name(w, entry->func, true);
		return;
	}
	typed = strchr(name, '(') ? utrace_cxx_typed_name(name, false) : NULL;
	line_visible(w->priv, typed ? typed : name);
	free(typed);
	ut_args_text(&b, p, entry);
	line_puts(w->priv, "(");
	line_puts(w->priv, ts->args);
	line_puts(w->priv, b.full ? "...)" : ")");
}

/* " = 7" of an exit whose words its prototype shows: whether there was one. */
static bool line_retval(struct ut_writer *w, const struct ut_event *exit)
{
	const struct ut_proto *p = exit->nw ? ut_writer_proto(w, exit->func) : NULL;
	struct text_state *ts = w->priv;
	struct ut_sbuf b = { .p = ts->args, .cap = sizeof(ts->args) };

	if (!p || exit->kind != UT_REC_EXIT || !ut_retval_text(&b, p, exit))
		return false;
	line_puts(w->priv, " = ");
	line_puts(w->priv, ts->args);
	return true;
}

/* An entry's stack trace (--stack), a line per frame under its call, innermost first. */
static void print_stack(struct ut_writer *w, const struct ut_event *entry)
{
	struct text_state *ts = w->priv;
	struct ut_item_view it;
	struct ut_frame f;
	size_t off = 0;

	if (!ut_stack_of(entry, &it))
		return;
	while (ut_frame_next(&it, &off, &f)) {
		struct ut_sbuf b = { .p = ts->args, .cap = sizeof(ts->args) };

		print_prefix(w, entry, false, 0, entry->depth);
		ut_stack_frame_text(&b, &f);
		line_puts(ts, "  @ ");
		line_puts(ts, ts->args);
		line_puts(ts, "\n");
		line_write(w);
	}
}

static void print_entry_open(struct ut_writer *w, const struct ut_event *entry)
{
	print_prefix(w, entry, false, 0, entry->depth);
	line_call(w, entry);
	line_puts(w->priv, " {\n");
	line_write(w);
	print_stack(w, entry);
}

static void print_leaf(struct ut_writer *w, const struct ut_event *entry,
		       const struct ut_event *exit)
{
	print_prefix(w, exit, exit->has_dur, exit->dur_ns, entry->depth);
	line_call(w, entry);
	line_retval(w, exit);
	line_puts(w->priv, ";\n");
	line_write(w);
	print_stack(w, entry);
}

static void print_close(struct ut_writer *w, const struct ut_event *ev)
{
	print_prefix(w, ev, ev->has_dur, ev->dur_ns, ev->depth);
	line_puts(w->priv, "}");
	line_puts(w->priv, line_retval(w, ev) ? "; /* " : " /* ");
	line_name(w, ev->func, false);
	line_puts(w->priv, ev->kind == UT_REC_UNWIND ? ": unwound */\n" : " */\n");
	line_write(w);
}

static bool is_leaf_exit(const struct ut_event *entry, const struct ut_event *ev)
{
	return ev->kind == UT_REC_EXIT && ev->func == entry->func && ev->depth == entry->depth;
}

static int text_status(struct ut_writer *w)
{
	struct text_state *ts = w->priv;

	return ts->err ? ts->err : ut_writer_status(w);
}

int ut_text_event(struct ut_writer *w, const struct ut_event *ev)
{
	struct text_state *ts = w->priv;
	struct text_thread *t = ut_threads_get(&ts->threads, ev->pid, ev->tid, NULL);

	if (!t)
		return -ENOMEM;
	if (t->pending) {
		t->pending = false;
		if (is_leaf_exit(&t->entry.ev, ev)) {
			print_leaf(w, &t->entry.ev, ev);
			return text_status(w);
		}
		print_entry_open(w, &t->entry.ev);
	}
	if (ev->kind == UT_REC_ENTRY) {
		t->pending = true;
		return ut_event_keep(&t->entry, ev);
	}
	print_close(w, ev);
	return text_status(w);
}

static const char *plural(uint64_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

static void print_thread_drops(struct ut_writer *w, const struct ut_stats *st)
{
	const char *sep = ":";

	fprintf(w->out, "# %" PRIu64 " %s dropped (ring full)", st->drops,
		plural(st->drops, "event", "events"));
	for (size_t i = 0; i < st->nthreads; i++) {
		if (!st->threads[i].drops)
			continue;
		fprintf(w->out, "%s tid %d: %" PRIu64, sep, (int)st->threads[i].tid,
			st->threads[i].drops);
		sep = ",";
	}
	fputc('\n', w->out);
}

/* How long full rings held the program up: tracing slowed it by that much. */
static void print_thread_waits(struct ut_writer *w, const struct ut_stats *st)
{
	const char *sep = ":";

	fprintf(w->out, "# threads waited %" PRIu64 " %s for room in a full ring, %.3f ms in all",
		st->waits, plural(st->waits, "time", "times"), (double)st->wait_ns / 1e6);
	for (size_t i = 0; i < st->nthreads; i++) {
		if (!st->threads[i].waits)
			continue;
		fprintf(w->out, "%s tid %d: %.3f ms", sep, (int)st->threads[i].tid,
			(double)st->threads[i].wait_ns / 1e6);
		sep = ",";
	}
	fputc('\n', w->out);
}

/* One line "# WHAT: f: n, g: m" of the functions whose count is not 0, if any. */
static void print_by_func(struct ut_writer *w, const char *what, const uint64_t *by_func,
			  size_t nfuncs)
{
	bool first = true;
	size_t i;

	for (i = 0; by_func && i < nfuncs; i++) {
		if (!by_func[i])
			continue;
		fprintf(w->out, first ? "# %s: " : ", ", what);
		ut_text_print_name(w, (uint32_t)i);
		fprintf(w->out, ": %" PRIu64, by_func[i]);
		first = false;
	}
	if (!first)
		fputc('\n', w->out);
}

static void print_count(struct ut_writer *w, uint64_t n, const char *one, const char *many,
			const char *why)
{
	if (n)
		fprintf(w->out, "# %" PRIu64 " %s %s\n", n, plural(n, one, many), why);
}

void ut_text_print_losses(struct ut_writer *w, const struct ut_stats *st)
{
	if (st->drops)
		print_thread_drops(w, st);
	if (st->waits)
		print_thread_waits(w, st);
	print_by_func(w, "dropped by function", st->func_drops, st->nfuncs);
	print_by_func(w, "not traced while a thread had no TLS (no FSGSBASE)", st->func_notls,
		      st->nfuncs);
	print_count(w, st->torn, "record", "records", "torn (reserved, never committed)");
	print_count(w, st->invalid, "record", "records", "invalid (corrupt ring data)");
	print_count(w, st->rs_overflow, "entry", "entries",
		    "without return probe (shadow stack full)");
	print_count(w, st->no_slot, "event", "events", "lost: thread without a slot");
	print_count(w, st->lost_return, "return", "returns", "without a matching entry");
	if (st->no_returns)
		fprintf(w->out, "# returns not traced: %s\n", st->no_returns);
	if (st->stopped)
		fprintf(w->out, "# stopped tracing %s\n", st->stopped);
}

int ut_text_finish(struct ut_writer *w, const struct ut_stats *st)
{
	struct text_state *ts = w->priv;
	size_t i;

	print_header(w);
	for (i = 0; i < ts->threads.n; i++) {
		struct text_thread *t = ts->threads.all[i];

		if (!t->pending)
			continue;
		t->pending = false;
		print_entry_open(w, &t->entry.ev);
	}
	ut_text_print_losses(w, st);
	return ut_writer_status(w);
}
