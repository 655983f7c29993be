/* SPDX-License-Identifier: MIT */
/*
 * The text files of a trace directory (info, funcs, tasks, stats): lines of
 * fields, each field escaped so that it holds no tab, newline or control
 * byte (\\, \t, \n, \xHH).  Shared by the trace's writer and reader.
 */
#ifndef UTRACE_TRACE_TEXT_H
#define UTRACE_TRACE_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Write s escaped. */
void tt_put(FILE *f, const char *s);
/*
 * Split line (its newline removed) at tabs into at most max fields,
 * unescaping each in place.  Returns the number of fields, -1 when an
 * escape is malformed.
 */
int tt_split(char *line, char **fields, int max);
/* Parse an unsigned decimal (hex with 0x) that must fill the whole field. */
bool tt_u64(const char *s, unsigned long long *v);

#define TT_FIELDS_MAX 10

/* A text file of the trace read line by line, each split into fields. */
struct tt_lines {
	FILE *f; /* NULL: the file is absent (and was not needed) */
	const char *dir, *file;
	char *line;
	size_t cap;
	unsigned lineno;
	char *fv[TT_FIELDS_MAX];
	int nf;
};

/* Open dir's `file`; an absent file is an error (one line) only when needed. */
int tt_lines_open(struct tt_lines *l, int dirfd, const char *dir, const char *file, bool needed);
/* The next line split into fields: 1, 0 at the end, < 0 malformed. */
int tt_lines_next(struct tt_lines *l);
/* Say that the current line is bad (one error line naming it); -EINVAL. */
int tt_lines_bad(struct tt_lines *l, const char *what);
void tt_lines_close(struct tt_lines *l);
/* Field i as a number, or false. */
bool tt_num(const struct tt_lines *l, int i, unsigned long long *v);

#endif
