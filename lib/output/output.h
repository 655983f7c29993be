/* SPDX-License-Identifier: MIT */
/*
 * Output writers.  JSON Lines schema (one object per line):
 *   ("mangled":"S" after "func" for a demangled C++ name, "srcline":"FILE:LINE" with --srcline)
 *   {"ts":N,"pid":N,"tid":N,"type":"entry","func":"S","module":"S","addr":"0xH","depth":N,
 *    "args":["0xH",...]}
 *   {"ts":N,"pid":N,"tid":N,"type":"exit", ... ,"depth":N,"dur_ns":N,"retval":"0xH"}
 *   {"ts":N,"pid":N,"tid":N,"type":"unwind", ... ,"depth":N,"dur_ns":N}
 *        (an entry left without returning: longjmp, exception)
 *   "args" only on entries that carry words (--args), "retval" on exits (--retval);
 *   typed for a function with a prototype (lib/output/args.h):
 *   "args":[{"name":"S","type":"S","value":V},...], "retval":{"type":"S","value":V},
 *   V a number, string, boolean or null (then "error":"S"; structs add "size").
 *   dur_ns is present only when the matching entry was seen; "func" is
 *   "func#<id>" (module "", addr "0x0") for an id missing from the table.
 *   last line: {"type":"summary","events":N,"dropped":N,"torn":N,"invalid":N,
 *        "rstack_overflow":N,"no_slot":N,"lost_return":N,"no_tls":N,"waits":N,"wait_ns":N,
 *        "dropped_by_thread":[{"tid":N,"dropped":N,"first_ns":N,"last_ns":N}],
 *        "waited_by_thread":[{"tid":N,"waits":N,"wait_ns":N}],
 *        "dropped_by_func":[{"func":"S","dropped":N}],"no_tls_by_func":[{"func":"S","calls":N}]}
 *        ("returns":"not traced: S" when none was, "stopped":"S" when a limit ended tracing)
 * Every string is valid UTF-8 (invalid bytes escaped as \u00XX of their Latin-1 value).
 */
#ifndef UTRACE_OUTPUT_H
#define UTRACE_OUTPUT_H

#include <stdint.h>
#include <stdio.h>

#include "consumer.h"

enum ut_format {
	UT_FORMAT_TEXT,
	UT_FORMAT_JSON,
	UT_FORMAT_SUMMARY, /* one line per function: calls, returns, times */
	UT_FORMAT_COUNT,
};

struct ut_writer;

struct ut_writer *utrace_writer_new(enum ut_format fmt, FILE *out, const struct ut_func_info *funcs,
				    size_t nfuncs);
/* Grow the function table (probes added later, e.g. by a new module). */
int utrace_writer_set_funcs(struct ut_writer *w, const struct ut_func_info *funcs, size_t nfuncs);
int utrace_writer_event(struct ut_writer *w, const struct ut_event *ev);
/* Flush pending lines; the JSON writer also prints the summary line. */
int utrace_writer_finish(struct ut_writer *w, const struct ut_stats *st);
void utrace_writer_free(struct ut_writer *w);

/*
 * Append a JSON string literal (with quotes) for `len` arbitrary bytes to buf:
 * valid UTF-8 passes through, control characters and invalid bytes are
 * escaped.  Returns the literal's length (excluding NUL), like snprintf: a
 * result >= cap means it did not fit and result + 1 bytes are needed; buf is
 * NUL-terminated whenever cap > 0.
 */
size_t utrace_json_escape(char *buf, size_t cap, const char *s, size_t len);

#endif
