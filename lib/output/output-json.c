// SPDX-License-Identifier: MIT
/*
 * The JSON Lines writer.  The schema is documented in
 * lib/output/output.h; fields are printed in that order.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "stack.h"
#include "output-internal.h"

/* First size of the buffer string literals are escaped into. */
#define JSON_ESC_MIN 256

#define JSON_TYPED_MAX (192 * 1024)

struct json_state {
	char *esc; /* escaped string literals are built here */
	size_t cap;
	/* per function: its escaped ,"func":..,"module":..,"addr":.. part, built on first use */
	const struct ut_func_info *funcs_of; /* the table the parts were built from */
	size_t nparts;
	char **parts;
	size_t *part_len;
	char *unknown; /* the part of an id outside the table (rebuilt each time) */
	size_t unknown_len;
	/* typed words are built here: not on the stack, which a sanitizer poisons per call */
	char typed[JSON_TYPED_MAX];
};

static void json_parts_free(struct json_state *js)
{
	for (size_t i = 0; js->parts && i < js->nparts; i++)
		free(js->parts[i]);
	free(js->parts);
	free(js->part_len);
	js->parts = NULL;
	js->part_len = NULL;
	js->nparts = 0;
}

/* ---- JSON Lines --------------------------------------------------------- */

int ut_json_init(struct ut_writer *w)
{
	struct json_state *js = calloc(1, sizeof(*js));

	if (!js)
		return -ENOMEM;
	js->esc = malloc(JSON_ESC_MIN);
	if (!js->esc) {
		free(js);
		return -ENOMEM;
	}
	js->cap = JSON_ESC_MIN;
	w->priv = js;
	return 0;
}

void ut_json_free(struct ut_writer *w)
{
	struct json_state *js = w->priv;

	json_parts_free(js);
	free(js->unknown);
	free(js->esc);
	free(js);
}

/* `s` as a JSON string literal, in the state's buffer (valid until the next call); NULL: ENOMEM. */
static const char *json_escaped(struct ut_writer *w, const char *s, size_t *n)
{
	struct json_state *js = w->priv;
	size_t len = strlen(s);
	char *p;

	*n = utrace_json_escape(js->esc, js->cap, s, len);
	if (*n >= js->cap) {
		p = realloc(js->esc, *n + 1);
		if (!p)
			return NULL;
		js->esc = p;
		js->cap = *n + 1;
		utrace_json_escape(js->esc, js->cap, s, len);
	}
	return js->esc;
}

/* Print `s` as a JSON string literal. */
static int json_put_string(struct ut_writer *w, const char *s)
{
	size_t n;
	const char *esc = json_escaped(w, s, &n);

	if (!esc)
		return -ENOMEM;
	fwrite(esc, 1, n, w->out);
	return 0;
}

static const char *json_type(enum ut_rec_kind kind)
{
	switch (kind) {
	case UT_REC_ENTRY:
		return "entry";
	case UT_REC_EXIT:
		return "exit";
	default:
		return "unwind";
	}
}

/*
 * The hot path formats by hand into one line buffer (ut_put_lit(),
 * ut_put_dec()): a trace is millions of lines.  Each function's escaped
 * ,"func":..,"module":..,"addr":.. part is built once.
 */
#define JSON_LINE_MAX 512

/* "0x<hex>" with its quotes, lowercase, no leading zeros. */
static char *put_hex_str(char *p, uint64_t v)
{
	static const char digits[] = "0123456789abcdef";
	int shift = 60;

	p = ut_put_lit(p, "\"0x");
	while (shift > 0 && !(v >> shift))
		shift -= 4;
	for (; shift >= 0; shift -= 4)
		*p++ = digits[(v >> shift) & 0xf];
	*p++ = '"';
	return p;
}

static int cat_bytes(char **buf, size_t *len, const char *s, size_t n)
{
	char *p = realloc(*buf, *len + n + 1);

	if (!p)
		return -ENOMEM;
	memcpy(p + *len, s, n);
	p[*len + n] = 0;
	*buf = p;
	*len += n;
	return 0;
}

/* Append the escaped literal of s to the growing string *buf (length *len). */
static int cat_string(struct ut_writer *w, char **buf, size_t *len, const char *s)
{
	size_t n;
	const char *esc = json_escaped(w, s, &n);

	return esc ? cat_bytes(buf, len, esc, n) : -ENOMEM;
}

static int cat_lit(char **buf, size_t *len, const char *s)
{
	return cat_bytes(buf, len, s, strlen(s));
}

/* ,"func":"..",["mangled":"..",]["srcline":"..",]"module":"..","addr":"0x.." of one function. */
static int json_func_part(struct ut_writer *w, uint32_t func, char **out, size_t *len)
{
	char addr[UT_DEC_U64_MAX + 8];
	char *buf = NULL;
	int ret;

	*len = 0;
	ret = cat_lit(&buf, len, ",\"func\":");
	if (!ret)
		ret = cat_string(w, &buf, len, ut_writer_func_name(w, func));
	if (!ret && func < w->nfuncs && w->funcs[func].mangled) {
		ret = cat_lit(&buf, len, ",\"mangled\":");
		if (!ret)
			ret = cat_string(w, &buf, len, w->funcs[func].mangled);
	}
	if (!ret && func < w->nfuncs && w->funcs[func].srcline) {
		ret = cat_lit(&buf, len, ",\"srcline\":");
		if (!ret)
			ret = cat_string(w, &buf, len, w->funcs[func].srcline);
	}
	if (!ret)
		ret = cat_lit(&buf, len, ",\"module\":");
	if (!ret)
		ret = cat_string(w, &buf, len, ut_writer_func_module(w, func));
	*put_hex_str(addr, ut_writer_func_addr(w, func)) = 0;
	if (!ret)
		ret = cat_lit(&buf, len, ",\"addr\":");
	if (!ret)
		ret = cat_lit(&buf, len, addr);
	if (ret)
		free(buf);
	else
		*out = buf;
	return ret;
}

/* The cached part of func, built on first use (the table may change between events). */
static int json_func_cached(struct ut_writer *w, uint32_t func, const char **part, size_t *len)
{
	struct json_state *js = w->priv;

	if (js->funcs_of != w->funcs || js->nparts != w->nfuncs) {
		json_parts_free(js);
		js->parts = calloc(w->nfuncs ? w->nfuncs : 1, sizeof(*js->parts));
		js->part_len = calloc(w->nfuncs ? w->nfuncs : 1, sizeof(*js->part_len));
		if (!js->parts || !js->part_len)
			return -ENOMEM;
		js->funcs_of = w->funcs;
		js->nparts = w->nfuncs;
	}
	if (func >= js->nparts) {
		free(js->unknown);
		js->unknown = NULL;
		if (json_func_part(w, func, &js->unknown, &js->unknown_len) < 0)
			return -ENOMEM;
		*part = js->unknown;
		*len = js->unknown_len;
		return 0;
	}
	if (!js->parts[func] && json_func_part(w, func, &js->parts[func], &js->part_len[func]) < 0)
		return -ENOMEM;
	*part = js->parts[func];
	*len = js->part_len[func];
	return 0;
}

static char *json_raw_args(char *p, const struct ut_event *ev)
{
	uint32_t nw = ev->nw < UT_REC_WORDS ? ev->nw : UT_REC_WORDS;

	p = ut_put_lit(p, ",\"args\":[");
	for (uint32_t k = 0; k < nw; k++) {
		if (k)
			*p++ = ',';
		p = put_hex_str(p, ev->w[k]);
	}
	*p++ = ']';
	return p;
}

/* w[0] of an exit is rax */
static char *json_raw_retval(char *p, const struct ut_event *ev)
{
	return put_hex_str(ut_put_lit(p, ",\"retval\":"), ev->w[0]);
}

/* What follows "depth": the arguments of an entry, the duration and value of an exit. */
static char *json_event_tail(char *p, const struct ut_event *ev)
{
	if (ev->kind == UT_REC_ENTRY && ev->nw)
		p = json_raw_args(p, ev);
	else if (ev->kind != UT_REC_ENTRY && ev->has_dur)
		p = ut_put_dec(ut_put_lit(p, ",\"dur_ns\":"), ev->dur_ns);
	if (ev->kind == UT_REC_EXIT && ev->nw)
		p = json_raw_retval(p, ev);
	return p;
}

/*
 * The same with the words shown by the function's prototype: written out
 * from its own buffer (type names make it longer than a line); returns where
 * `line` ends, its head already written.
 */
static char *json_typed_tail(struct ut_writer *w, char *line, char *p, const struct ut_proto *proto,
			     const struct ut_event *ev)
{
	struct json_state *js = w->priv;
	struct ut_sbuf b = { .p = js->typed, .cap = sizeof(js->typed) };

	if (ev->kind == UT_REC_ENTRY) {
		ut_args_json(&b, proto, ev);
	} else {
		if (ev->has_dur)
			p = ut_put_dec(ut_put_lit(p, ",\"dur_ns\":"), ev->dur_ns);
		ut_retval_json(&b, proto, ev);
	}
	fwrite_unlocked(line, 1, (size_t)(p - line), w->out);
	p = line;
	if (b.full) /* never a cut JSON value: the raw words instead */
		p = ev->kind == UT_REC_ENTRY ? json_raw_args(p, ev) : json_raw_retval(p, ev);
	else
		fwrite_unlocked(js->typed, 1, b.len, w->out);
	return p;
}

/* An entry's stack trace, written out from the typed buffer; returns where `line` ends. */
static char *json_stack(struct ut_writer *w, char *line, char *p, const struct ut_item_view *it)
{
	struct json_state *js = w->priv;
	struct ut_sbuf b = { .p = js->typed, .cap = sizeof(js->typed) };

	ut_stack_json(&b, it);
	if (b.full) /* never a cut array: none, said so */
		return ut_put_lit(p, ",\"stack\":null");
	fwrite_unlocked(line, 1, (size_t)(p - line), w->out);
	fwrite_unlocked(js->typed, 1, b.len, w->out);
	return line;
}

int ut_json_event(struct ut_writer *w, const struct ut_event *ev)
{
	char line[JSON_LINE_MAX], *p = line;
	const struct ut_proto *proto;
	struct ut_item_view stack;
	const char *part;
	size_t part_len;
	int ret = json_func_cached(w, ev->func, &part, &part_len);

	if (ret < 0)
		return ret;
	p = ut_put_dec(ut_put_lit(p, "{\"ts\":"), ev->ts);
	p = ut_put_dec(ut_put_lit(p, ",\"pid\":"), (uint64_t)(uint32_t)ev->pid);
	p = ut_put_dec(ut_put_lit(p, ",\"tid\":"), (uint64_t)(uint32_t)ev->tid);
	p = ut_put_lit(ut_put_lit(p, ",\"type\":\""), json_type(ev->kind));
	*p++ = '"';
	fwrite_unlocked(line, 1, (size_t)(p - line), w->out);
	fwrite_unlocked(part, 1, part_len, w->out);
	p = ut_put_dec(ut_put_lit(line, ",\"depth\":"), ev->depth);
	proto = ev->nw ? ut_writer_proto(w, ev->func) : NULL;
	if (proto && ev->kind != UT_REC_UNWIND)
		p = json_typed_tail(w, line, p, proto, ev);
	else
		p = json_event_tail(p, ev);
	if (ut_stack_of(ev, &stack))
		p = json_stack(w, line, p, &stack);
	p = ut_put_lit(p, "}\n");
	fwrite_unlocked(line, 1, (size_t)(p - line), w->out);
	return ut_writer_status(w);
}

static void json_summary_threads(struct ut_writer *w, const struct ut_stats *st)
{
	const char *sep = "";

	fputs(",\"dropped_by_thread\":[", w->out);
	for (size_t i = 0; i < st->nthreads; i++) {
		const struct ut_thread_drops *t = &st->threads[i];

		if (!t->drops)
			continue;
		fprintf(w->out,
			"%s{\"tid\":%d,\"dropped\":%" PRIu64 ",\"first_ns\":%" PRIu64
			",\"last_ns\":%" PRIu64 "}",
			sep, (int)t->tid, t->drops, t->first_ns, t->last_ns);
		sep = ",";
	}
	fputs("],\"waited_by_thread\":[", w->out);
	sep = "";
	for (size_t i = 0; i < st->nthreads; i++) {
		const struct ut_thread_drops *t = &st->threads[i];

		if (!t->waits)
			continue;
		fprintf(w->out, "%s{\"tid\":%d,\"waits\":%" PRIu64 ",\"wait_ns\":%" PRIu64 "}", sep,
			(int)t->tid, t->waits, t->wait_ns);
		sep = ",";
	}
	fputc(']', w->out);
}

/* ,"KEY":[{"func":NAME,"COUNT":N},...] for the functions whose count is not 0. */
static int json_summary_funcs(struct ut_writer *w, const char *key, const char *count,
			      const uint64_t *by_func, size_t nfuncs)
{
	bool first = true;
	size_t i;
	int ret;

	fprintf(w->out, ",\"%s\":[", key);
	for (i = 0; by_func && i < nfuncs; i++) {
		if (!by_func[i])
			continue;
		fputs(first ? "{\"func\":" : ",{\"func\":", w->out);
		ret = json_put_string(w, ut_writer_func_name(w, (uint32_t)i));
		if (ret < 0)
			return ret;
		fprintf(w->out, ",\"%s\":%" PRIu64 "}", count, by_func[i]);
		first = false;
	}
	fputc(']', w->out);
	return 0;
}

int ut_json_finish(struct ut_writer *w, const struct ut_stats *st)
{
	int ret;

	fprintf(w->out,
		"{\"type\":\"summary\",\"events\":%" PRIu64 ",\"dropped\":%" PRIu64
		",\"torn\":%" PRIu64 ",\"invalid\":%" PRIu64 ",\"rstack_overflow\":%" PRIu64
		",\"no_slot\":%" PRIu64 ",\"lost_return\":%" PRIu64 ",\"no_tls\":%" PRIu64
		",\"waits\":%" PRIu64 ",\"wait_ns\":%" PRIu64,
		st->events, st->drops, st->torn, st->invalid, st->rs_overflow, st->no_slot,
		st->lost_return, st->notls, st->waits, st->wait_ns);
	if (st->no_returns)
		fprintf(w->out, ",\"returns\":\"not traced: %s\"", st->no_returns);
	/* from a trace file too (dump --json): untrusted, escaped */
	if (st->stopped) {
		fputs(",\"stopped\":", w->out);
		if (json_put_string(w, st->stopped) < 0)
			return -ENOMEM;
	}
	json_summary_threads(w, st);
	ret = json_summary_funcs(w, "dropped_by_func", "dropped", st->func_drops, st->nfuncs);
	if (ret == 0)
		ret = json_summary_funcs(w, "no_tls_by_func", "calls", st->func_notls, st->nfuncs);
	if (ret < 0)
		return ret;
	fputs("}\n", w->out);
	return ut_writer_status(w);
}
