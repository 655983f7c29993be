// SPDX-License-Identifier: MIT
/* Typed arguments and return values from a prototype and the recorded words (args.h). */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
#include "items.h"
#include "output-internal.h"
#include "output.h"

#define ARG_FIELDS 5 /* KIND,SIZE,WORD,NAME,TYPE */
#define ARG_SIZE_MAX 64
#define VALUE_MAX 128

/* ---- parsing ----------------------------------------------------------------- */

static void arg_free(struct ut_arg *a)
{
	free(a->name);
	free(a->type);
	free(a->enums);
	free(a->json_head);
	free(a->text_head);
}

static void sbuf_json_str(struct ut_sbuf *b, const char *s, size_t len);
static void sbuf_text_str(struct ut_sbuf *b, const char *s);

/* What every event prints before an argument's value, escaped once. */
static int arg_heads(struct ut_arg *a, bool ret)
{
	char json[3 * VALUE_MAX + 64] = "", text[VALUE_MAX + 2] = "";
	struct ut_sbuf j = { .p = json, .cap = sizeof(json) },
		       t = { .p = text, .cap = sizeof(text) };

	if (!ret) {
		ut_sbuf_put(&j, "{\"name\":", 8);
		sbuf_json_str(&j, a->name, strlen(a->name));
		ut_sbuf_put(&j, ",", 1);
		sbuf_text_str(&t, *a->name ? a->name : "_");
		ut_sbuf_put(&t, "=", 1);
	}
	if (*a->type) {
		ut_sbuf_put(&j, "\"type\":", 7);
		sbuf_json_str(&j, a->type, strlen(a->type));
		ut_sbuf_put(&j, ",", 1);
	}
	if (j.full || t.full)
		return -EINVAL; /* names that long are no prototype */
	a->json_head = strdup(json);
	a->text_head = strdup(text);
	return a->json_head && a->text_head ? 0 : -ENOMEM;
}

void ut_proto_free(struct ut_proto *p)
{
	arg_free(&p->ret);
	for (size_t i = 0; i < p->n; i++)
		arg_free(&p->v[i]);
	free(p->v);
	memset(p, 0, sizeof(*p));
}

/* One "KIND,SIZE,WORD,NAME,TYPE" of len bytes at s. */
static int arg_parse(const char *s, size_t len, int words, struct ut_arg *a)
{
	char *f[ARG_FIELDS], *copy = strndup(s, len), *end, *eq;
	long size, word;
	char loc;
	int e = -EINVAL;

	if (!copy)
		return -ENOMEM;
	f[0] = copy;
	for (int i = 1; i < ARG_FIELDS; i++) {
		f[i] = strchr(f[i - 1], ',');
		if (!f[i])
			goto out;
		*f[i]++ = 0;
	}
	size = strtol(f[1], &end, 10);
	if (*end || size < 0 || size > ARG_SIZE_MAX || strlen(f[0]) != 1 ||
	    !strchr("iuxbcepsfSmv", f[0][0]))
		goto out;
	loc = f[2][0] == 'x' || f[2][0] == 's' ? f[2][0] : 'w';
	word = strtol(f[2] + (loc != 'w'), &end, 10);
	if (*end || word < -1 || (loc == 'w' && word >= words) || (loc == 'x' && word >= 8) ||
	    (loc == 's' && word >= (long)UT_STKARGS_MAX) || (loc != 'w' && word < 0))
		goto out;
	eq = f[0][0] == 'e' ? strchr(f[4], '=') : NULL;
	if (eq)
		*eq++ = 0;
	*a = (struct ut_arg){ .kind = f[0][0],
			      .size = (uint32_t)size,
			      .loc = loc,
			      .word = (int)word,
			      .name = strdup(f[3]),
			      .type = strdup(f[4]),
			      .enums = eq ? strdup(eq) : NULL };
	e = a->name && a->type && (!eq || a->enums) ? 0 : -ENOMEM;
	if (e == 0)
		e = arg_heads(a, words == UT_REC_RETVAL_WORDS);
out:
	free(copy);
	return e;
}

int ut_proto_parse(const char *s, struct ut_proto *p)
{
	size_t n = 0;
	int e = 0;

	memset(p, 0, sizeof(*p));
	for (const char *c = s; *c; c++)
		n += *c == ';';
	p->v = calloc(n ? n : 1, sizeof(*p->v));
	if (!p->v)
		return -ENOMEM;
	for (size_t i = 0; i <= n && !e; i++) {
		const char *end = strchr(s, ';');
		size_t len = end ? (size_t)(end - s) : strlen(s);

		e = i == 0 ? arg_parse(s, len, UT_REC_RETVAL_WORDS, &p->ret) :
			     arg_parse(s, len, UT_REC_WORDS, &p->v[p->n]);
		if (e == 0 && i > 0)
			p->n++;
		s += len + (end != NULL);
	}
	if (e)
		ut_proto_free(p);
	return e;
}

/* ---- the buffer -------------------------------------------------------------- */

void ut_sbuf_put(struct ut_sbuf *b, const char *s, size_t n)
{
	if (b->len + n >= b->cap) {
		b->full = true;
		n = b->len + 1 < b->cap ? b->cap - b->len - 1 : 0;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	if (b->cap)
		b->p[b->len] = 0;
}

static void sbuf_puts(struct ut_sbuf *b, const char *s)
{
	ut_sbuf_put(b, s, strlen(s));
}

static void sbuf_json_str(struct ut_sbuf *b, const char *s, size_t len)
{
	char tmp[2 * VALUE_MAX];
	size_t n = utrace_json_escape(tmp, sizeof(tmp), s, len);

	if (n >= sizeof(tmp)) { /* too long to be useful whole: cut where it still fits */
		n = utrace_json_escape(tmp, sizeof(tmp), s,
				       len < VALUE_MAX / 2 ? len : VALUE_MAX / 2);
		n = n < sizeof(tmp) ? n : sizeof(tmp) - 1;
	}
	ut_sbuf_put(b, tmp, n);
}

static void sbuf_text_str(struct ut_sbuf *b, const char *s)
{
	for (; *s; s++) {
		char c = ut_visible((unsigned char)*s);

		ut_sbuf_put(b, &c, 1);
	}
}

/* ---- values ------------------------------------------------------------------ */

static uint32_t words_of(const struct ut_arg *a)
{
	return a->kind == 'S' || a->size > 8 ? (a->size + 7) / 8 : 1;
}

/* The bytes of an item of the event at offset off, n of them: false when not all recorded. */
static bool item_words(const struct ut_event *ev, unsigned int type, uint32_t off, uint32_t n,
		       uint64_t *w)
{
	struct ut_item_view it;

	if (!ut_item_find(ev->data, ev->data_len, type, -1, &it) || off > it.len ||
	    it.len - off < n)
		return false;
	memcpy(w, it.bytes + off, n);
	return true;
}

/*
 * The value's words as recorded: in the event's words, its vector
 * registers or its stack arguments (the first two words of a bigger one).
 */
static bool value_words(const struct ut_arg *a, const struct ut_event *ev, uint64_t w[2])
{
	uint32_t n = words_of(a) > 1 ? 2 : 1;

	w[0] = w[1] = 0;
	if (a->word < 0 || a->kind == 'v')
		return false;
	switch (a->loc) {
	case 'x':
		return item_words(ev, UT_ITEM_XMM, 8 * (uint32_t)a->word,
				  8 * (a->kind == 'f' ? 1 : n), w);
	case 's':
		return item_words(ev, UT_ITEM_STKARGS, (uint32_t)a->word, 8 * n, w);
	default:
		if (strchr("fm", a->kind) || (uint32_t)a->word + words_of(a) > ev->nw)
			return false;
		memcpy(w, &ev->w[a->word], 8 * n);
		return true;
	}
}

static int64_t sign_extend(uint64_t v, uint32_t size)
{
	unsigned shift = size && size < 8 ? 64 - 8 * size : 0;

	return (int64_t)(v << shift) >> shift;
}

static uint64_t zero_extend(uint64_t v, uint32_t size)
{
	return size && size < 8 ? v & ((1ULL << (8 * size)) - 1) : v;
}

/* The enumerator of value v, copied into name (false when none has it). */
static bool enumerator(const struct ut_arg *a, int64_t v, char *name, size_t cap)
{
	const char *s = a->enums;

	while (s && *s) {
		const char *colon = strchr(s, ':'), *next;
		char *end;
		long long ev;

		if (!colon)
			return false;
		ev = strtoll(colon + 1, &end, 10);
		next = *end == ':' ? end + 1 : end;
		if (ev == v && (size_t)(colon - s) < cap) {
			memcpy(name, s, (size_t)(colon - s));
			name[colon - s] = 0;
			return true;
		}
		if (next == s)
			return false;
		s = next;
	}
	return false;
}

/* The value as text and how JSON shows it: a number, a string or a word list. */
enum json_as { AS_NUMBER, AS_STRING, AS_LITERAL };

/* A float or double from the low bytes of its register. */
static enum json_as render_float(const struct ut_arg *a, uint64_t v, char *out, size_t cap)
{
	double d;

	if (a->size == 4) {
		float f;
		uint32_t lo = (uint32_t)v;

		memcpy(&f, &lo, sizeof(f));
		d = f;
	} else {
		memcpy(&d, &v, sizeof(d));
	}
	snprintf(out, cap, a->size == 4 ? "%.9g" : "%.17g", d);
	return isfinite(d) ? AS_NUMBER : AS_STRING; /* JSON has no inf or nan */
}

static enum json_as render(const struct ut_arg *a, const uint64_t *w, char *out, size_t cap)
{
	uint64_t v = w[0];
	char name[VALUE_MAX];

	if (a->kind == 'f')
		return render_float(a, v, out, cap);

	if ((a->kind == 'i' || a->kind == 'u') && a->size > 8) { /* __int128: its two words */
		snprintf(out, cap, "0x%016" PRIx64 "%016" PRIx64, w[1], v);
		return AS_STRING;
	}
	switch (a->kind) {
	case 'i': {
		int64_t s = sign_extend(v, a->size);

		if (s < 0)
			*out++ = '-';
		*ut_put_dec(out, s < 0 ? 0 - (uint64_t)s : (uint64_t)s) = 0;
		return AS_NUMBER;
	}
	case 'u':
		*ut_put_dec(out, zero_extend(v, a->size)) = 0;
		return AS_NUMBER;
	case 'b':
		snprintf(out, cap, "%s", (v & 0xff) ? "true" : "false");
		return AS_LITERAL;
	case 'c': /* a character as itself when printable ASCII, else its code */
		if ((v & 0xff) >= ' ' && (v & 0xff) < 0x7f)
			snprintf(out, cap, "%c", (char)v);
		else
			snprintf(out, cap, "\\x%02x", (unsigned)(v & 0xff));
		return AS_STRING;
	case 'e':
		if (enumerator(a, sign_extend(v, a->size), name, sizeof(name))) {
			snprintf(out, cap, "%s", name);
			return AS_STRING;
		}
		snprintf(out, cap, "%" PRId64, sign_extend(v, a->size));
		return AS_NUMBER;
	case 'S':
	case 'm': /* its first words */
		if (words_of(a) > 1)
			snprintf(out, cap, "0x%" PRIx64 " 0x%" PRIx64, v, w[1]);
		else
			snprintf(out, cap, "0x%" PRIx64, zero_extend(v, a->size));
		return AS_STRING;
	case 'x':
		snprintf(out, cap, "0x%" PRIx64, zero_extend(v, a->size));
		return AS_STRING;
	default: /* p, s: an address */
		snprintf(out, cap, "0x%" PRIx64, v);
		return AS_STRING;
	}
}

/* A char * argument's string item, when the event has one. */
static bool str_item(const struct ut_arg *a, const struct ut_event *ev, struct ut_item_view *it)
{
	return a->kind == 's' && a->loc == 'w' &&
	       ut_item_find(ev->data, ev->data_len, UT_ITEM_STR, a->word, it);
}

static void sbuf_json_bytes(struct ut_sbuf *b, const unsigned char *s, size_t len)
{
	char small[512], *tmp = 6 * len + 3 <= sizeof(small) ? small : malloc(6 * len + 3);

	if (!tmp) {
		b->full = true;
		return;
	}
	ut_sbuf_put(b, tmp, utrace_json_escape(tmp, 6 * len + 3, (const char *)s, len));
	if (tmp != small)
		free(tmp);
}

/* Why a string was not read whole: the JSON "error" (NULL: it was). */
static const char *str_error(const struct ut_item_view *it, char *buf, size_t cap)
{
	if (it->status & UT_STR_REFUSED)
		return "not read: the program runs under a seccomp filter";
	if (!(it->status & UT_STR_FAULT))
		return NULL;
	if (!it->len)
		return "unreadable";
	snprintf(buf, cap, "unreadable after %" PRIu32 " bytes", it->len);
	return buf;
}

/* The string value of a char * argument: NULL as null, else its bytes, or its address. */
static void str_json(struct ut_sbuf *b, const struct ut_item_view *it, uint64_t ptr)
{
	char v[VALUE_MAX], why[64];
	const char *error = str_error(it, why, sizeof(why));

	if (!ptr) {
		sbuf_puts(b, "\"value\":null}");
		return;
	}
	sbuf_puts(b, "\"value\":");
	if (it->len || !error) {
		sbuf_json_bytes(b, it->bytes, it->len);
	} else {
		snprintf(v, sizeof(v), "\"0x%" PRIx64 "\"", ptr);
		sbuf_puts(b, v);
	}
	if (it->status & UT_STR_CUT)
		sbuf_puts(b, ",\"truncated\":true");
	if (error) {
		sbuf_puts(b, ",\"error\":\"");
		sbuf_puts(b, error);
		sbuf_puts(b, "\"");
	}
	sbuf_puts(b, "}");
}

static void value_json(struct ut_sbuf *b, const struct ut_arg *a, const struct ut_event *ev)
{
	struct ut_item_view it;
	char v[VALUE_MAX];
	uint64_t w[2];

	if (!value_words(a, ev, w)) {
		sbuf_puts(b, "\"value\":null,\"error\":\"");
		sbuf_puts(b, a->word < 0 ? "not in the recorded registers" : "not recorded");
		sbuf_puts(b, "\"}");
		return;
	}
	if (str_item(a, ev, &it)) {
		str_json(b, &it, w[0]);
		return;
	}
	sbuf_puts(b, "\"value\":");
	switch (render(a, w, v, sizeof(v))) {
	case AS_STRING:
		if (a->kind == 'c' || a->kind == 'e' || a->kind == 'f') {
			/* a byte, a name from the trace, inf or nan: escaped */
			sbuf_json_str(b, v, strlen(v));
			break;
		}
		sbuf_puts(b, "\""); /* hex words of ours */
		sbuf_puts(b, v);
		sbuf_puts(b, "\"");
		break;
	default:
		sbuf_puts(b, v);
	}
	if (a->kind == 'S' || a->kind == 'm') {
		char size[32];

		snprintf(size, sizeof(size), ",\"size\":%" PRIu32, a->size);
		sbuf_puts(b, size);
	}
	sbuf_puts(b, "}");
}

void ut_args_json(struct ut_sbuf *b, const struct ut_proto *p, const struct ut_event *ev)
{
	sbuf_puts(b, ",\"args\":[");
	for (size_t i = 0; i < p->n; i++) {
		if (i)
			sbuf_puts(b, ",");
		sbuf_puts(b, p->v[i].json_head);
		value_json(b, &p->v[i], ev);
	}
	sbuf_puts(b, "]");
}

void ut_retval_json(struct ut_sbuf *b, const struct ut_proto *p, const struct ut_event *ev)
{
	if (p->ret.kind == 'v')
		return;
	sbuf_puts(b, ",\"retval\":{");
	sbuf_puts(b, p->ret.json_head);
	value_json(b, &p->ret, ev);
}

/* A string as C writes it: quoted, escaped; what was not read said after it. */
static void str_text(struct ut_sbuf *b, const struct ut_item_view *it, uint64_t ptr)
{
	char v[VALUE_MAX], why[64];
	const char *error = str_error(it, why, sizeof(why));

	if (!ptr) {
		sbuf_puts(b, "NULL");
		return;
	}
	if (!it->len && error) {
		snprintf(v, sizeof(v), "0x%" PRIx64 " (%s)", ptr, error);
		sbuf_puts(b, v);
		return;
	}
	sbuf_puts(b, "\"");
	for (uint32_t i = 0; i < it->len; i++) {
		unsigned char c = it->bytes[i];

		if (c == '"' || c == '\\')
			snprintf(v, sizeof(v), "\\%c", c);
		else if (c == '\n' || c == '\t')
			snprintf(v, sizeof(v), "\\%c", c == '\n' ? 'n' : 't');
		else if (c < ' ' || c >= 0x7f)
			snprintf(v, sizeof(v), "\\x%02x", c);
		else
			snprintf(v, sizeof(v), "%c", c);
		sbuf_puts(b, v);
	}
	sbuf_puts(b, it->status & UT_STR_CUT ? "\"..." : "\"");
	if (error) {
		snprintf(v, sizeof(v), " (%s)", error);
		sbuf_puts(b, v);
	}
}

static void value_text(struct ut_sbuf *b, const struct ut_arg *a, const struct ut_event *ev)
{
	struct ut_item_view it;
	char v[VALUE_MAX];
	uint64_t w[2];

	if (!value_words(a, ev, w)) {
		sbuf_puts(b, "?");
		return;
	}
	if (str_item(a, ev, &it)) {
		str_text(b, &it, w[0]);
		return;
	}
	switch (render(a, w, v, sizeof(v))) {
	case AS_STRING:
		if (a->kind == 'c') {
			sbuf_puts(b, "'");
			sbuf_text_str(b, v);
			sbuf_puts(b, "'");
			return;
		}
		if (a->kind == 'S' || a->kind == 'm') {
			sbuf_puts(b, "{");
			sbuf_text_str(b, v);
			sbuf_puts(b, "}");
			return;
		}
		/* fallthrough */
	default:
		sbuf_text_str(b, v);
	}
}

void ut_args_text(struct ut_sbuf *b, const struct ut_proto *p, const struct ut_event *ev)
{
	for (size_t i = 0; i < p->n; i++) {
		if (i)
			sbuf_puts(b, ", ");
		sbuf_puts(b, p->v[i].text_head);
		value_text(b, &p->v[i], ev);
	}
}

bool ut_retval_text(struct ut_sbuf *b, const struct ut_proto *p, const struct ut_event *ev)
{
	if (p->ret.kind == 'v' || (!ev->nw && !ev->data_len))
		return false;
	value_text(b, &p->ret, ev);
	return true;
}
