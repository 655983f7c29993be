// SPDX-License-Identifier: MIT
/*
 * The writer front end (format dispatch, function table) and the JSON Lines
 * writer.  The schema is documented in include/utrace/output.h; fields are
 * printed in that order.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output-internal.h"

/* First size of the buffer string literals are escaped into. */
#define JSON_ESC_MIN 256

struct json_state {
	char *esc; /* escaped string literals are built here */
	size_t cap;
};

/* ---- front end ---------------------------------------------------------- */

const char *ut_writer_func_name(struct ut_writer *w, uint32_t func)
{
	if (func < w->nfuncs && w->funcs[func].name)
		return w->funcs[func].name;
	snprintf(w->fallback, sizeof(w->fallback), "func#%" PRIu32, func);
	return w->fallback;
}

const char *ut_writer_func_module(const struct ut_writer *w, uint32_t func)
{
	if (func < w->nfuncs && w->funcs[func].module)
		return w->funcs[func].module;
	return "";
}

uint64_t ut_writer_func_addr(const struct ut_writer *w, uint32_t func)
{
	return func < w->nfuncs ? w->funcs[func].addr : 0;
}

int ut_writer_status(const struct ut_writer *w)
{
	return ferror(w->out) ? -EIO : 0;
}

static int json_init(struct ut_writer *w);
static int json_event(struct ut_writer *w, const struct ut_event *ev);
static int json_finish(struct ut_writer *w, const struct ut_stats *st);
static void json_free(struct ut_writer *w);

struct ut_writer *utrace_writer_new(enum ut_format fmt, FILE *out, const struct ut_func_info *funcs,
				    size_t nfuncs)
{
	struct ut_writer *w;
	int ret;

	if (!out || (fmt != UT_FORMAT_TEXT && fmt != UT_FORMAT_JSON))
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->fmt = fmt;
	w->out = out;
	if (utrace_writer_set_funcs(w, funcs, nfuncs) < 0)
		goto err_free;
	ret = fmt == UT_FORMAT_JSON ? json_init(w) : ut_text_init(w);
	if (ret < 0)
		goto err_free;
	return w;

err_free:
	free(w->funcs);
	free(w);
	return NULL;
}

int utrace_writer_set_funcs(struct ut_writer *w, const struct ut_func_info *funcs, size_t nfuncs)
{
	struct ut_func_info *copy = NULL;

	if (nfuncs) {
		copy = calloc(nfuncs, sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, funcs, nfuncs * sizeof(*copy));
	}
	free(w->funcs);
	w->funcs = copy;
	w->nfuncs = nfuncs;
	return 0;
}

int utrace_writer_event(struct ut_writer *w, const struct ut_event *ev)
{
	if (ev->kind < UT_REC_ENTRY || ev->kind > UT_REC_KIND_MAX)
		return -EINVAL;
	return w->fmt == UT_FORMAT_JSON ? json_event(w, ev) : ut_text_event(w, ev);
}

int utrace_writer_finish(struct ut_writer *w, const struct ut_stats *st)
{
	static const struct ut_stats clean;
	int ret;

	if (!st)
		st = &clean;
	ret = w->fmt == UT_FORMAT_JSON ? json_finish(w, st) : ut_text_finish(w, st);
	if (ret < 0)
		return ret;
	if (fflush(w->out))
		return -EIO;
	return ut_writer_status(w);
}

void utrace_writer_free(struct ut_writer *w)
{
	if (!w)
		return;
	if (w->fmt == UT_FORMAT_JSON)
		json_free(w);
	else
		ut_text_free(w);
	free(w->funcs);
	free(w);
}

/* ---- JSON Lines --------------------------------------------------------- */

static int json_init(struct ut_writer *w)
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

static void json_free(struct ut_writer *w)
{
	struct json_state *js = w->priv;

	free(js->esc);
	free(js);
}

/* Print `s` as a JSON string literal. */
static int json_put_string(struct ut_writer *w, const char *s)
{
	struct json_state *js = w->priv;
	size_t len = strlen(s);
	size_t n = utrace_json_escape(js->esc, js->cap, s, len);
	char *p;

	if (n >= js->cap) {
		p = realloc(js->esc, n + 1);
		if (!p)
			return -ENOMEM;
		js->esc = p;
		js->cap = n + 1;
		utrace_json_escape(js->esc, js->cap, s, len);
	}
	fputs(js->esc, w->out);
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

/* "ts" up to "depth": the fields every event line has. */
static int json_event_common(struct ut_writer *w, const struct ut_event *ev)
{
	int ret;

	fprintf(w->out,
		"{\"ts\":%" PRIu64 ",\"pid\":%d,\"tid\":%d,\"type\":\"%s\",\"func\":", ev->ts,
		(int)ev->pid, (int)ev->tid, json_type(ev->kind));
	ret = json_put_string(w, ut_writer_func_name(w, ev->func));
	if (ret < 0)
		return ret;
	fputs(",\"module\":", w->out);
	ret = json_put_string(w, ut_writer_func_module(w, ev->func));
	if (ret < 0)
		return ret;
	fprintf(w->out, ",\"addr\":\"0x%" PRIx64 "\",\"depth\":%" PRIu32,
		ut_writer_func_addr(w, ev->func), ev->depth);
	return 0;
}

static void json_event_args(struct ut_writer *w, const struct ut_event *ev)
{
	int k;

	fputs(",\"args\":[", w->out);
	for (k = 0; k < UT_REC_WORDS; k++)
		fprintf(w->out, "%s\"0x%" PRIx64 "\"", k ? "," : "", ev->w[k]);
	fputc(']', w->out);
}

static int json_event(struct ut_writer *w, const struct ut_event *ev)
{
	int ret;

	ret = json_event_common(w, ev);
	if (ret < 0)
		return ret;
	if (ev->kind == UT_REC_ENTRY)
		json_event_args(w, ev);
	else if (ev->has_dur)
		fprintf(w->out, ",\"dur_ns\":%" PRIu64, ev->dur_ns);
	/* w[0] of an exit is rax */
	if (ev->kind == UT_REC_EXIT)
		fprintf(w->out, ",\"retval\":\"0x%" PRIx64 "\"", ev->w[0]);
	fputs("}\n", w->out);
	return ut_writer_status(w);
}

static void json_summary_threads(struct ut_writer *w, const struct ut_stats *st)
{
	size_t i;

	fputs(",\"dropped_by_thread\":[", w->out);
	for (i = 0; i < st->nthreads; i++)
		fprintf(w->out, "%s{\"tid\":%d,\"dropped\":%" PRIu64 "}", i ? "," : "",
			(int)st->threads[i].tid, st->threads[i].drops);
	fputc(']', w->out);
}

static int json_summary_funcs(struct ut_writer *w, const struct ut_stats *st)
{
	bool first = true;
	size_t i;
	int ret;

	fputs(",\"dropped_by_func\":[", w->out);
	for (i = 0; st->func_drops && i < st->nfuncs; i++) {
		if (!st->func_drops[i])
			continue;
		fputs(first ? "{\"func\":" : ",{\"func\":", w->out);
		ret = json_put_string(w, ut_writer_func_name(w, (uint32_t)i));
		if (ret < 0)
			return ret;
		fprintf(w->out, ",\"dropped\":%" PRIu64 "}", st->func_drops[i]);
		first = false;
	}
	fputc(']', w->out);
	return 0;
}

static int json_finish(struct ut_writer *w, const struct ut_stats *st)
{
	int ret;

	fprintf(w->out,
		"{\"type\":\"summary\",\"events\":%" PRIu64 ",\"dropped\":%" PRIu64
		",\"torn\":%" PRIu64 ",\"invalid\":%" PRIu64 ",\"rstack_overflow\":%" PRIu64
		",\"no_slot\":%" PRIu64 ",\"lost_return\":%" PRIu64,
		st->events, st->drops, st->torn, st->invalid, st->rs_overflow, st->no_slot,
		st->lost_return);
	json_summary_threads(w, st);
	ret = json_summary_funcs(w, st);
	if (ret < 0)
		return ret;
	fputs("}\n", w->out);
	return ut_writer_status(w);
}
