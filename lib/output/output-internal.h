/* SPDX-License-Identifier: MIT */
/*
 * Shared by the output writers (output-json.c, output-text.c,
 * output-summary.c) and the views that print as they do, not part of the
 * library's interface.  writer.c holds the front end (utrace_writer_*) and
 * dispatches on the format; writer-funcs.c what every writer reads (its
 * function table, its stream's state).
 */
#ifndef UTRACE_OUTPUT_INTERNAL_H
#define UTRACE_OUTPUT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "output.h"

/* Room for the name made up for a function id missing from the table. */
#define UT_WRITER_FALLBACK_NAME 32
/* The digits of the largest uint64_t. */
#define UT_DEC_U64_MAX 20

struct ut_proto;

struct ut_writer {
	enum ut_format fmt;
	FILE *out;
	/* a copy of the caller's table; the strings stay the caller's */
	struct ut_func_info *funcs;
	size_t nfuncs;
	char fallback[UT_WRITER_FALLBACK_NAME];
	/* [nfuncs]: each function's prototype, parsed at its first event with words */
	struct ut_proto **protos;
	void *priv; /* the format's own state */
};

/* Name of function `func`: "func#<id>" when the table has none (valid until the next call). */
const char *ut_writer_func_name(struct ut_writer *w, uint32_t func);
/* Module basename of `func`, "" when unknown. */
const char *ut_writer_func_module(const struct ut_writer *w, uint32_t func);
/* Symbol address of `func`, 0 when unknown. */
uint64_t ut_writer_func_addr(const struct ut_writer *w, uint32_t func);
/*
 * The prototype of `func` when its events are to be shown typed: it has one
 * and it is well-formed; else NULL (its words are shown raw).
 */
const struct ut_proto *ut_writer_proto(struct ut_writer *w, uint32_t func);
/* Free the function table and what was parsed of it. */
void ut_writer_funcs_free(struct ut_writer *w);
/* -EIO once the stream has failed. */
int ut_writer_status(const struct ut_writer *w);

/* A byte of a name as the human views print it: control bytes become '?'. */
static inline char ut_visible(unsigned char c)
{
	const unsigned char del = 0x7f, space = 0x20;

	return c < space || c == del ? '?' : (char)c;
}

int ut_text_init(struct ut_writer *w);
int ut_text_event(struct ut_writer *w, const struct ut_event *ev);
int ut_text_finish(struct ut_writer *w, const struct ut_stats *st);
void ut_text_free(struct ut_writer *w);
/* s with control bytes as '?'; the function's name so; the losses as "# ..." lines. */
void ut_text_print_visible(FILE *out, const char *s);
void ut_text_print_name(struct ut_writer *w, uint32_t func);
void ut_text_print_losses(struct ut_writer *w, const struct ut_stats *st);

/*
 * The JSON hot paths (a line per event, a call per event in dump --chrome)
 * format by hand into a line buffer: printf costs several times more.  Each
 * returns the end of what it put at p; the caller makes the room.  Inline:
 * the literals' lengths fold into the copies.
 */
static inline char *ut_put_lit(char *p, const char *s)
{
	size_t n = strlen(s);

	memcpy(p, s, n);
	return p + n;
}

/* v in decimal, at most UT_DEC_U64_MAX bytes. */
static inline char *ut_put_dec(char *p, uint64_t v)
{
	char tmp[UT_DEC_U64_MAX];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

int ut_json_init(struct ut_writer *w);
int ut_json_event(struct ut_writer *w, const struct ut_event *ev);
int ut_json_finish(struct ut_writer *w, const struct ut_stats *st);
void ut_json_free(struct ut_writer *w);

int ut_summary_init(struct ut_writer *w);
int ut_summary_event(struct ut_writer *w, const struct ut_event *ev);
int ut_summary_finish(struct ut_writer *w, const struct ut_stats *st);
void ut_summary_free(struct ut_writer *w);

/*
 * An event kept past the next one (a text line waiting for its exit, a -t
 * view's queue): its items copied into a buffer of its own, which the
 * next ut_event_keep() into the same place reuses.
 */
struct ut_kept {
	struct ut_event ev;
	unsigned char *data;
	size_t cap;
};

int ut_event_keep(struct ut_kept *k, const struct ut_event *ev);
void ut_kept_free(struct ut_kept *k);

#endif
