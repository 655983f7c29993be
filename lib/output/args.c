// SPDX-License-Identifier: MIT
/* Typed arguments and return values from a prototype and the recorded words (args.h). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
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
	word = strtol(f[2], &end, 10);
	if (*end || word < -1 || word >= words)
		goto out;
	eq = f[0][0] == 'e' ? strchr(f[4], '=') : NULL;
	if (eq)
		*eq++ = 0;
	*a = (struct ut_arg){ .kind = f[0][0],
			      .size = (uint32_t)size,
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

static bool recorded(const struct ut_arg *a, const struct ut_event *ev)
{
	if (a->word < 0 || strchr("fmv", a->kind))
		return false;
	return (uint32_t)a->word + words_of(a) <= ev->nw;
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

static enum json_as render(const struct ut_arg *a, const uint64_t *w, char *out, size_t cap)
{
	uint64_t v = w[0];
	char name[VALUE_MAX];

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

static void value_json(struct ut_sbuf *b, const struct ut_arg *a, const struct ut_event *ev)
{
	char v[VALUE_MAX];

	if (!recorded(a, ev)) {
		sbuf_puts(b, "\"value\":null,\"error\":\"");
		sbuf_puts(b, a->kind == 'f' || a->kind == 'm' ? "not in the recorded registers" :
								"not recorded");
		sbuf_puts(b, "\"}");
		return;
	}
	sbuf_puts(b, "\"value\":");
	switch (render(a, &ev->w[a->word], v, sizeof(v))) {
	case AS_STRING:
		if (a->kind == 'c' || a->kind == 'e') { /* a byte, a name from the trace: escaped */
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
	if (a->kind == 'S') {
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

static void value_text(struct ut_sbuf *b, const struct ut_arg *a, const struct ut_event *ev)
{
	char v[VALUE_MAX];

	if (!recorded(a, ev)) {
		sbuf_puts(b, "?");
		return;
	}
	switch (render(a, &ev->w[a->word], v, sizeof(v))) {
	case AS_STRING:
		if (a->kind == 'c') {
			sbuf_puts(b, "'");
			sbuf_text_str(b, v);
			sbuf_puts(b, "'");
			return;
		}
		if (a->kind == 'S') {
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
	if (p->ret.kind == 'v' || !ev->nw)
		return false;
	value_text(b, &p->ret, ev);
	return true;
}
