// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/output/writer.c and its formats (output-json.c,
 * output-text.c, output-summary.c): exact output text.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "output.h"

#define NO_DUR UINT64_MAX

static const struct ut_func_info funcs[] = {
	{ .name = "main", .module = "prog", .addr = 0x401000 },
	{ .name = "foo", .module = "prog", .addr = 0x401100 },
	{ .name = "bar", .module = "libbar.so", .addr = 0x7f0000001000 },
	{ .name = "we\"ird\xff\x1b", .module = "m\\od", .addr = 0x401200 },
};
#define NFUNCS (sizeof(funcs) / sizeof(funcs[0]))

enum { MAIN, FOO, BAR, WEIRD };

struct capture {
	char *buf;
	size_t size;
	FILE *out;
	struct ut_writer *w;
};

static void capture_open(struct capture *c, enum ut_format fmt)
{
	memset(c, 0, sizeof(*c));
	c->out = open_memstream(&c->buf, &c->size);
	assert_non_null(c->out);
	c->w = utrace_writer_new(fmt, c->out, funcs, NFUNCS);
	assert_non_null(c->w);
}

/* Finish the writer and compare everything it wrote. */
static void capture_check(struct capture *c, const struct ut_stats *st, const char *expected)
{
	assert_int_equal(utrace_writer_finish(c->w, st), 0);
	utrace_writer_free(c->w);
	fclose(c->out);
	assert_string_equal(c->buf, expected);
	free(c->buf);
}

static struct ut_event mkev(enum ut_rec_kind kind, pid_t tid, uint32_t func, uint32_t depth,
			    uint64_t ts, uint64_t dur)
{
	struct ut_event ev = {
		.ts = ts,
		.pid = 1000,
		.tid = tid,
		.kind = kind,
		.func = func,
		.depth = depth,
		.has_dur = dur != NO_DUR,
		.dur_ns = dur == NO_DUR ? 0 : dur,
	};

	return ev;
}

static void feed(struct capture *c, enum ut_rec_kind kind, pid_t tid, uint32_t func, uint32_t depth,
		 uint64_t dur)
{
	static uint64_t ts = 1000;
	struct ut_event ev = mkev(kind, tid, func, depth, ts++, dur);

	assert_int_equal(utrace_writer_event(c->w, &ev), 0);
}

/* ---- text ----------------------------------------------------------------- */

static void output_text_call_graph(void **state)
{
	struct capture c;

	capture_open(&c, UT_FORMAT_TEXT);
	feed(&c, UT_REC_ENTRY, 1234, MAIN, 0, NO_DUR);
	feed(&c, UT_REC_ENTRY, 1234, FOO, 1, NO_DUR);
	feed(&c, UT_REC_ENTRY, 1234, BAR, 2, NO_DUR);
	feed(&c, UT_REC_EXIT, 1234, BAR, 2, 1234);
	feed(&c, UT_REC_EXIT, 1234, FOO, 1, 2000);
	feed(&c, UT_REC_EXIT, 1234, MAIN, 0, 5000);
	capture_check(&c, NULL,
		      "# DURATION     TID     FUNCTION\n"
		      "            [  1234] | main() {\n"
		      "            [  1234] |   foo() {\n"
		      "   1.234 us [  1234] |     bar();\n"
		      "   2.000 us [  1234] |   } /* foo */\n"
		      "   5.000 us [  1234] | } /* main */\n");
}

static void output_text_units(void **state)
{
	static const uint64_t durs[] = {
		0, 5, 999, 1000, 999999, 1500000, 999999999, 2500000000ULL, 1234567891234ULL
	};
	struct capture c;
	size_t i;

	capture_open(&c, UT_FORMAT_TEXT);
	for (i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
		feed(&c, UT_REC_ENTRY, 7, FOO, 0, NO_DUR);
		feed(&c, UT_REC_EXIT, 7, FOO, 0, durs[i]);
	}
	capture_check(&c, NULL,
		      "# DURATION     TID     FUNCTION\n"
		      "   0.000 ns [     7] | foo();\n"
		      "   5.000 ns [     7] | foo();\n"
		      " 999.000 ns [     7] | foo();\n"
		      "   1.000 us [     7] | foo();\n"
		      " 999.999 us [     7] | foo();\n"
		      "   1.500 ms [     7] | foo();\n"
		      " 999.999 ms [     7] | foo();\n"
		      "   2.500  s [     7] | foo();\n"
		      " 1234.567  s [     7] | foo();\n");
}

static void output_text_unwound(void **state)
{
	struct capture c;

	capture_open(&c, UT_FORMAT_TEXT);
	feed(&c, UT_REC_ENTRY, 42, MAIN, 0, NO_DUR);
	feed(&c, UT_REC_ENTRY, 42, FOO, 1, NO_DUR);
	feed(&c, UT_REC_ENTRY, 42, BAR, 2, NO_DUR);
	feed(&c, UT_REC_UNWIND, 42, BAR, 2, 300);
	feed(&c, UT_REC_UNWIND, 42, FOO, 1, NO_DUR);
	feed(&c, UT_REC_EXIT, 42, MAIN, 0, NO_DUR);
	capture_check(&c, NULL,
		      "# DURATION     TID     FUNCTION\n"
		      "            [    42] | main() {\n"
		      "            [    42] |   foo() {\n"
		      "            [    42] |     bar() {\n"
		      " 300.000 ns [    42] |     } /* bar: unwound */\n"
		      "            [    42] |   } /* foo: unwound */\n"
		      "            [    42] | } /* main */\n");
}

static void output_text_threads_interleave(void **state)
{
	struct capture c;

	capture_open(&c, UT_FORMAT_TEXT);
	feed(&c, UT_REC_ENTRY, 1, MAIN, 0, NO_DUR);
	feed(&c, UT_REC_ENTRY, 2, FOO, 0, NO_DUR);
	feed(&c, UT_REC_EXIT, 1, MAIN, 0, 10);
	feed(&c, UT_REC_ENTRY, 2, BAR, 1, NO_DUR);
	/* a different function at the pending entry's depth: no collapse */
	feed(&c, UT_REC_ENTRY, 1, FOO, 0, NO_DUR);
	feed(&c, UT_REC_EXIT, 1, BAR, 0, 20);
	capture_check(&c, NULL,
		      "# DURATION     TID     FUNCTION\n"
		      "  10.000 ns [     1] | main();\n"
		      "            [     2] | foo() {\n"
		      "            [     1] | foo() {\n"
		      "  20.000 ns [     1] | } /* bar */\n"
		      "            [     2] |   bar() {\n");
}

static void output_text_names_sanitized(void **state)
{
	struct capture c;

	capture_open(&c, UT_FORMAT_TEXT);
	feed(&c, UT_REC_ENTRY, 3, WEIRD, 0, NO_DUR);
	feed(&c, UT_REC_EXIT, 3, WEIRD, 0, 1);
	feed(&c, UT_REC_ENTRY, 3, 9, 0, NO_DUR);
	capture_check(&c, NULL,
		      "# DURATION     TID     FUNCTION\n"
		      "   1.000 ns [     3] | we\"ird\xff?();\n"
		      "            [     3] | func#9() {\n");
}

static void output_text_reports_losses(void **state)
{
	/* 1250 waited without dropping, 1240 dropped without waiting */
	struct ut_thread_drops threads[] = {
		{ .pid = 1000, .tid = 1234, .drops = 12, .waits = 3, .wait_ns = 2500000 },
		{ .pid = 1000, .tid = 1240, .drops = 1 },
		{ .pid = 1000, .tid = 1250, .waits = 1, .wait_ns = 1234 },
	};
	uint64_t func_drops[NFUNCS] = { 0, 10, 3, 0 };
	uint64_t func_notls[NFUNCS] = { 0, 0, 4, 0 };
	struct ut_stats st = {
		.events = 2,
		.drops = 13,
		.torn = 3,
		.invalid = 1,
		.rs_overflow = 5,
		.waits = 4,
		.wait_ns = 2501234,
		.no_slot = 4,
		.lost_return = 1,
		.threads = threads,
		.nthreads = 3,
		.func_drops = func_drops,
		.func_notls = func_notls,
		.notls = 4,
		.nfuncs = NFUNCS,
	};
	struct capture c;

	capture_open(&c, UT_FORMAT_TEXT);
	feed(&c, UT_REC_ENTRY, 1234, MAIN, 0, NO_DUR);
	capture_check(&c, &st,
		      "# DURATION     TID     FUNCTION\n"
		      "            [  1234] | main() {\n"
		      "# 13 events dropped (ring full): tid 1234: 12, tid 1240: 1\n"
		      "# threads waited 4 times for room in a full ring, 2.501 ms in all: "
		      "tid 1234: 2.500 ms, tid 1250: 0.001 ms\n"
		      "# dropped by function: foo: 10, bar: 3\n"
		      "# not traced while a thread had no TLS (no FSGSBASE): bar: 4\n"
		      "# 3 records torn (reserved, never committed)\n"
		      "# 1 record invalid (corrupt ring data)\n"
		      "# 5 entries without return probe (shadow stack full)\n"
		      "# 4 events lost: thread without a slot\n"
		      "# 1 return without a matching entry\n");
}

/* Waits without a drop (the default, blocking mode): a wait line, no drop line. */
static void output_waits_without_drops(void **state)
{
	struct ut_thread_drops threads[] = {
		{ .pid = 1000, .tid = 77, .waits = 1, .wait_ns = 1000000000 },
	};
	uint64_t func_drops[NFUNCS] = { 0 };
	struct ut_stats st = {
		.events = 1,
		.waits = 1,
		.wait_ns = 1000000000,
		.threads = threads,
		.nthreads = 1,
		.func_drops = func_drops,
		.nfuncs = NFUNCS,
	};
	struct capture c;

	capture_open(&c, UT_FORMAT_TEXT);
	feed(&c, UT_REC_ENTRY, 77, MAIN, 0, NO_DUR);
	capture_check(&c, &st,
		      "# DURATION     TID     FUNCTION\n"
		      "            [    77] | main() {\n"
		      "# threads waited 1 time for room in a full ring, 1000.000 ms in all: "
		      "tid 77: 1000.000 ms\n");
	capture_open(&c, UT_FORMAT_JSON);
	capture_check(&c, &st,
		      "{\"type\":\"summary\",\"events\":1,\"dropped\":0,\"torn\":0,\"invalid\":0,"
		      "\"rstack_overflow\":0,\"no_slot\":0,\"lost_return\":0,\"no_tls\":0,"
		      "\"waits\":1,\"wait_ns\":1000000000,\"dropped_by_thread\":[],"
		      "\"waited_by_thread\":[{\"tid\":77,\"waits\":1,\"wait_ns\":1000000000}],"
		      "\"dropped_by_func\":[],\"no_tls_by_func\":[]}\n");
}

static void output_text_clean_has_no_loss_lines(void **state)
{
	uint64_t func_drops[NFUNCS] = { 0 };
	struct ut_stats st = { .events = 2, .func_drops = func_drops, .nfuncs = NFUNCS };
	struct capture c;

	capture_open(&c, UT_FORMAT_TEXT);
	feed(&c, UT_REC_ENTRY, 5, MAIN, 0, NO_DUR);
	feed(&c, UT_REC_EXIT, 5, MAIN, 0, 2000000);
	capture_check(&c, &st,
		      "# DURATION     TID     FUNCTION\n"
		      "   2.000 ms [     5] | main();\n");
	capture_open(&c, UT_FORMAT_TEXT);
	capture_check(&c, &st, "# DURATION     TID     FUNCTION\n");
}

/* ---- JSON ----------------------------------------------------------------- */

static void output_json_events(void **state)
{
	struct ut_event ev = mkev(UT_REC_ENTRY, 11, FOO, 1, 1000, NO_DUR);
	struct capture c;

	capture_open(&c, UT_FORMAT_JSON);
	ev.pid = 10;
	ev.w[0] = 1;
	ev.w[1] = 2;
	ev.w[2] = 0xdeadbeef;
	ev.w[4] = UINT64_MAX;
	ev.w[5] = 6;
	ev.nw = UT_REC_WORDS; /* --args */
	assert_int_equal(utrace_writer_event(c.w, &ev), 0);
	ev = mkev(UT_REC_EXIT, 11, FOO, 1, 2000, 1000);
	ev.pid = 10;
	ev.w[0] = 42;
	ev.w[1] = 7; /* rdx: not part of the schema */
	ev.nw = UT_REC_RETVAL_WORDS; /* --retval */
	assert_int_equal(utrace_writer_event(c.w, &ev), 0);
	ev = mkev(UT_REC_EXIT, 11, BAR, 0, 2001, NO_DUR);
	ev.nw = UT_REC_RETVAL_WORDS;
	assert_int_equal(utrace_writer_event(c.w, &ev), 0);
	ev = mkev(UT_REC_UNWIND, 11, MAIN, 0, 2002, 5);
	assert_int_equal(utrace_writer_event(c.w, &ev), 0);
	ev = mkev(UT_REC_UNWIND, 11, MAIN, 0, 2003, NO_DUR);
	assert_int_equal(utrace_writer_event(c.w, &ev), 0);
	capture_check(
		&c, NULL,
		"{\"ts\":1000,\"pid\":10,\"tid\":11,\"type\":\"entry\",\"func\":\"foo\",\"module\":\"prog\","
		"\"addr\":\"0x401100\",\"depth\":1,"
		"\"args\":[\"0x1\",\"0x2\",\"0xdeadbeef\",\"0x0\",\"0xffffffffffffffff\",\"0x6\"]}\n"
		"{\"ts\":2000,\"pid\":10,\"tid\":11,\"type\":\"exit\",\"func\":\"foo\",\"module\":\"prog\","
		"\"addr\":\"0x401100\",\"depth\":1,\"dur_ns\":1000,\"retval\":\"0x2a\"}\n"
		"{\"ts\":2001,\"pid\":1000,\"tid\":11,\"type\":\"exit\",\"func\":\"bar\","
		"\"module\":\"libbar.so\",\"addr\":\"0x7f0000001000\",\"depth\":0,\"retval\":\"0x0\"}\n"
		"{\"ts\":2002,\"pid\":1000,\"tid\":11,\"type\":\"unwind\",\"func\":\"main\","
		"\"module\":\"prog\",\"addr\":\"0x401000\",\"depth\":0,\"dur_ns\":5}\n"
		"{\"ts\":2003,\"pid\":1000,\"tid\":11,\"type\":\"unwind\",\"func\":\"main\","
		"\"module\":\"prog\",\"addr\":\"0x401000\",\"depth\":0}\n"
		"{\"type\":\"summary\",\"events\":0,\"dropped\":0,\"torn\":0,\"invalid\":0,"
		"\"rstack_overflow\":0,\"no_slot\":0,\"lost_return\":0,\"no_tls\":0,"
		"\"waits\":0,\"wait_ns\":0,"
		"\"dropped_by_thread\":[],\"waited_by_thread\":[],\"dropped_by_func\":[],"
		"\"no_tls_by_func\":[]}\n");
}

/*
 * Events whose records carried no words (no --args, no --retval: 16-byte
 * records) have no "args" and no "retval", whatever w[] holds.
 */
static void output_json_no_words_no_args_or_retval(void **state)
{
	struct ut_event ev = mkev(UT_REC_ENTRY, 11, FOO, 1, 1000, NO_DUR);
	struct capture c;

	capture_open(&c, UT_FORMAT_JSON);
	ev.w[0] = 1;
	ev.w[4] = 5;
	assert_int_equal(ev.nw, 0);
	assert_int_equal(utrace_writer_event(c.w, &ev), 0);
	ev = mkev(UT_REC_EXIT, 11, FOO, 1, 2000, 1000);
	ev.w[0] = 42;
	assert_int_equal(utrace_writer_event(c.w, &ev), 0);
	ev = mkev(UT_REC_EXIT, 11, BAR, 0, 2001, NO_DUR);
	assert_int_equal(utrace_writer_event(c.w, &ev), 0);
	/* --retval without --args: entries bare, exits with their value */
	ev = mkev(UT_REC_ENTRY, 11, BAR, 0, 2002, NO_DUR);
	assert_int_equal(utrace_writer_event(c.w, &ev), 0);
	ev = mkev(UT_REC_EXIT, 11, BAR, 0, 2003, 1);
	ev.w[0] = 0x2a;
	ev.nw = UT_REC_RETVAL_WORDS;
	assert_int_equal(utrace_writer_event(c.w, &ev), 0);
	capture_check(
		&c, NULL,
		"{\"ts\":1000,\"pid\":1000,\"tid\":11,\"type\":\"entry\",\"func\":\"foo\","
		"\"module\":\"prog\",\"addr\":\"0x401100\",\"depth\":1}\n"
		"{\"ts\":2000,\"pid\":1000,\"tid\":11,\"type\":\"exit\",\"func\":\"foo\","
		"\"module\":\"prog\",\"addr\":\"0x401100\",\"depth\":1,\"dur_ns\":1000}\n"
		"{\"ts\":2001,\"pid\":1000,\"tid\":11,\"type\":\"exit\",\"func\":\"bar\","
		"\"module\":\"libbar.so\",\"addr\":\"0x7f0000001000\",\"depth\":0}\n"
		"{\"ts\":2002,\"pid\":1000,\"tid\":11,\"type\":\"entry\",\"func\":\"bar\","
		"\"module\":\"libbar.so\",\"addr\":\"0x7f0000001000\",\"depth\":0}\n"
		"{\"ts\":2003,\"pid\":1000,\"tid\":11,\"type\":\"exit\",\"func\":\"bar\","
		"\"module\":\"libbar.so\",\"addr\":\"0x7f0000001000\",\"depth\":0,\"dur_ns\":1,"
		"\"retval\":\"0x2a\"}\n"
		"{\"type\":\"summary\",\"events\":0,\"dropped\":0,\"torn\":0,\"invalid\":0,"
		"\"rstack_overflow\":0,\"no_slot\":0,\"lost_return\":0,\"no_tls\":0,"
		"\"waits\":0,\"wait_ns\":0,"
		"\"dropped_by_thread\":[],\"waited_by_thread\":[],\"dropped_by_func\":[],"
		"\"no_tls_by_func\":[]}\n");
}

static void output_json_escapes_names(void **state)
{
	struct ut_event ev = mkev(UT_REC_UNWIND, 3, WEIRD, 2, 7, NO_DUR);
	struct capture c;

	capture_open(&c, UT_FORMAT_JSON);
	assert_int_equal(utrace_writer_event(c.w, &ev), 0);
	ev.func = 9; /* not in the table */
	assert_int_equal(utrace_writer_event(c.w, &ev), 0);
	capture_check(&c, NULL,
		      "{\"ts\":7,\"pid\":1000,\"tid\":3,\"type\":\"unwind\","
		      "\"func\":\"we\\\"ird\\u00ff\\u001b\",\"module\":\"m\\\\od\","
		      "\"addr\":\"0x401200\",\"depth\":2}\n"
		      "{\"ts\":7,\"pid\":1000,\"tid\":3,\"type\":\"unwind\",\"func\":\"func#9\","
		      "\"module\":\"\",\"addr\":\"0x0\",\"depth\":2}\n"
		      "{\"type\":\"summary\",\"events\":0,\"dropped\":0,\"torn\":0,\"invalid\":0,"
		      "\"rstack_overflow\":0,\"no_slot\":0,\"lost_return\":0,\"no_tls\":0,"
		      "\"waits\":0,\"wait_ns\":0,"
		      "\"dropped_by_thread\":[],\"waited_by_thread\":[],\"dropped_by_func\":[],"
		      "\"no_tls_by_func\":[]}\n");
}

static void output_json_summary(void **state)
{
	/* 1236 only waited: not in dropped_by_thread; 1240 only dropped: not in waited_by_thread */
	struct ut_thread_drops threads[] = {
		{ .pid = 1000,
		  .tid = 1234,
		  .drops = 12,
		  .first_ns = 5000,
		  .last_ns = 9000,
		  .waits = 7,
		  .wait_ns = 1500000 },
		{ .pid = 1000, .tid = 1236, .waits = 2, .wait_ns = 40 },
		{ .pid = 1000, .tid = 1240, .drops = 1, .first_ns = 7000, .last_ns = 7000 },
	};
	uint64_t func_drops[NFUNCS] = { 0, 10, 0, 3 };
	uint64_t func_notls[NFUNCS] = { 2, 0, 0, 1 };
	struct ut_stats st = {
		.events = 99,
		.drops = 13,
		.torn = 3,
		.invalid = 1,
		.rs_overflow = 5,
		.waits = 9,
		.wait_ns = 1500040,
		.no_slot = 4,
		.lost_return = 2,
		.threads = threads,
		.nthreads = 3,
		.func_drops = func_drops,
		.func_notls = func_notls,
		.notls = 3,
		.nfuncs = NFUNCS,
	};
	struct capture c;

	capture_open(&c, UT_FORMAT_JSON);
	capture_check(&c, &st,
		      "{\"type\":\"summary\",\"events\":99,\"dropped\":13,\"torn\":3,\"invalid\":1,"
		      "\"rstack_overflow\":5,\"no_slot\":4,\"lost_return\":2,\"no_tls\":3,"
		      "\"waits\":9,\"wait_ns\":1500040,"
		      "\"dropped_by_thread\":[{\"tid\":1234,\"dropped\":12,\"first_ns\":5000,"
		      "\"last_ns\":9000},{\"tid\":1240,\"dropped\":1,\"first_ns\":7000,"
		      "\"last_ns\":7000}],"
		      "\"waited_by_thread\":[{\"tid\":1234,\"waits\":7,\"wait_ns\":1500000},"
		      "{\"tid\":1236,\"waits\":2,\"wait_ns\":40}],"
		      "\"dropped_by_func\":[{\"func\":\"foo\",\"dropped\":10},"
		      "{\"func\":\"we\\\"ird\\u00ff\\u001b\",\"dropped\":3}],"
		      "\"no_tls_by_func\":[{\"func\":\"main\",\"calls\":2},"
		      "{\"func\":\"we\\\"ird\\u00ff\\u001b\",\"calls\":1}]}\n");
}

/* Entry-only tracing (a CET shadow stack) is said in the summary of every writer. */
static void output_summary_says_returns_not_traced(void **state)
{
	struct ut_stats st = { .events = 2, .no_returns = "it runs with a CET shadow stack" };
	struct capture c;

	(void)state;
	capture_open(&c, UT_FORMAT_JSON);
	capture_check(&c, &st,
		      "{\"type\":\"summary\",\"events\":2,\"dropped\":0,\"torn\":0,\"invalid\":0,"
		      "\"rstack_overflow\":0,\"no_slot\":0,\"lost_return\":0,\"no_tls\":0,"
		      "\"waits\":0,\"wait_ns\":0,"
		      "\"returns\":\"not traced: it runs with a CET shadow stack\","
		      "\"dropped_by_thread\":[],\"waited_by_thread\":[],\"dropped_by_func\":[],"
		      "\"no_tls_by_func\":[]}\n");
	capture_open(&c, UT_FORMAT_TEXT);
	capture_check(&c, &st,
		      "# DURATION     TID     FUNCTION\n"
		      "# returns not traced: it runs with a CET shadow stack\n");
}

/* The JSON summary of 1000 events and no loss, tracing stopped for `why` (a JSON string). */
#define STOPPED_SUMMARY(why)                                                                  \
	"{\"type\":\"summary\",\"events\":1000,\"dropped\":0,\"torn\":0,\"invalid\":0,"       \
	"\"rstack_overflow\":0,\"no_slot\":0,\"lost_return\":0,\"no_tls\":0,\"waits\":0,"     \
	"\"wait_ns\":0,\"stopped\":" why ",\"dropped_by_thread\":[],\"waited_by_thread\":[]," \
	"\"dropped_by_func\":[],\"no_tls_by_func\":[]}\n"

/*
 * A limit that ended tracing is said in the summary of every writer; in JSON
 * escaped (dump --json reads it from a trace file).
 */
static void output_summary_says_tracing_stopped(void **state)
{
	struct ut_stats st = { .events = 1000, .stopped = "after 1000 events (--max-events)" };
	struct capture c;

	(void)state;
	capture_open(&c, UT_FORMAT_JSON);
	capture_check(&c, &st, STOPPED_SUMMARY("\"after 1000 events (--max-events)\""));
	capture_open(&c, UT_FORMAT_TEXT);
	capture_check(&c, &st,
		      "# DURATION     TID     FUNCTION\n"
		      "# stopped tracing after 1000 events (--max-events)\n");
	st.stopped = "a \"quoted\" reason";
	capture_open(&c, UT_FORMAT_JSON);
	capture_check(&c, &st, STOPPED_SUMMARY("\"a \\\"quoted\\\" reason\""));
}

static void output_set_funcs_grows_table(void **state)
{
	static const struct ut_func_info more[] = {
		{ .name = "main", .module = "prog", .addr = 0x401000 },
		{ .name = "late", .module = "plugin.so", .addr = 0x7f0000002000 },
	};
	struct ut_event ev = mkev(UT_REC_ENTRY, 3, 1, 0, 7, NO_DUR);
	struct capture c;

	capture_open(&c, UT_FORMAT_TEXT);
	assert_int_equal(utrace_writer_set_funcs(c.w, more, 2), 0);
	assert_int_equal(utrace_writer_event(c.w, &ev), 0);
	capture_check(&c, NULL,
		      "# DURATION     TID     FUNCTION\n"
		      "            [     3] | late() {\n");
}

/* ---- summary -------------------------------------------------------------- */

#define SUMMARY_HEADER                                                                        \
	"#      calls    returns    unwound        total_ns     avg_ns     min_ns     max_ns" \
	"  function\n"

/* Counts per function, times of timed exits only, sorted by total, unknown ids together. */
static void output_summary_counts_and_times(void **state)
{
	uint64_t func_drops[NFUNCS] = { 0, 2, 0, 0 };
	struct ut_thread_drops threads[] = {
		{ .pid = 1000, .tid = 7, .drops = 2 },
		{ .pid = 1000, .tid = 8, .waits = 2, .wait_ns = 3000 }
	};
	struct ut_stats st = { .events = 9,
			       .drops = 2,
			       .waits = 2,
			       .wait_ns = 3000,
			       .threads = threads,
			       .nthreads = 2,
			       .func_drops = func_drops,
			       .nfuncs = NFUNCS };
	struct capture c;

	capture_open(&c, UT_FORMAT_SUMMARY);
	feed(&c, UT_REC_ENTRY, 7, MAIN, 0, NO_DUR);
	feed(&c, UT_REC_ENTRY, 7, FOO, 1, NO_DUR);
	feed(&c, UT_REC_EXIT, 7, FOO, 1, 100);
	feed(&c, UT_REC_ENTRY, 7, FOO, 1, NO_DUR);
	feed(&c, UT_REC_EXIT, 7, FOO, 1, 300);
	feed(&c, UT_REC_EXIT, 7, FOO, 1, NO_DUR); /* its entry was dropped: not timed */
	feed(&c, UT_REC_UNWIND, 7, MAIN, 0, 1000);
	feed(&c, UT_REC_ENTRY, 7, 42, 0, NO_DUR);
	feed(&c, UT_REC_EXIT, 7, 42, 0, 5);
	capture_check(&c, &st,
		      SUMMARY_HEADER
		      "           2          3          0             400        200        100"
		      "        300  foo\n"
		      "           1          1          0               5          5          5"
		      "          5  (unknown functions)\n"
		      "           1          0          1               0          0          0"
		      "          0  main\n"
		      "# 2 events dropped (ring full): tid 7: 2\n"
		      "# threads waited 2 times for room in a full ring, 0.003 ms in all: "
		      "tid 8: 0.003 ms\n"
		      "# dropped by function: foo: 2\n");
}

static void output_summary_empty(void **state)
{
	struct capture c;

	capture_open(&c, UT_FORMAT_SUMMARY);
	capture_check(&c, NULL, SUMMARY_HEADER);
}

static void output_rejects_bad_kind(void **state)
{
	struct ut_event ev = mkev(UT_REC_EVENT_MAX + 1, 3, 1, 0, 7, NO_DUR);
	struct capture c;

	capture_open(&c, UT_FORMAT_JSON);
	assert_int_equal(utrace_writer_event(c.w, &ev), -EINVAL);
	ev.kind = 0;
	assert_int_equal(utrace_writer_event(c.w, &ev), -EINVAL);
	capture_check(&c, NULL,
		      "{\"type\":\"summary\",\"events\":0,\"dropped\":0,\"torn\":0,\"invalid\":0,"
		      "\"rstack_overflow\":0,\"no_slot\":0,\"lost_return\":0,\"no_tls\":0,"
		      "\"waits\":0,\"wait_ns\":0,"
		      "\"dropped_by_thread\":[],\"waited_by_thread\":[],\"dropped_by_func\":[],"
		      "\"no_tls_by_func\":[]}\n");
	assert_null(utrace_writer_new(UT_FORMAT_COUNT, stdout, funcs, NFUNCS));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(output_text_call_graph),
		cmocka_unit_test(output_text_units),
		cmocka_unit_test(output_text_unwound),
		cmocka_unit_test(output_text_threads_interleave),
		cmocka_unit_test(output_text_names_sanitized),
		cmocka_unit_test(output_text_reports_losses),
		cmocka_unit_test(output_text_clean_has_no_loss_lines),
		cmocka_unit_test(output_waits_without_drops),
		cmocka_unit_test(output_json_events),
		cmocka_unit_test(output_json_no_words_no_args_or_retval),
		cmocka_unit_test(output_json_escapes_names),
		cmocka_unit_test(output_json_summary),
		cmocka_unit_test(output_summary_counts_and_times),
		cmocka_unit_test(output_summary_empty),
		cmocka_unit_test(output_summary_says_returns_not_traced),
		cmocka_unit_test(output_summary_says_tracing_stopped),
		cmocka_unit_test(output_set_funcs_grows_table),
		cmocka_unit_test(output_rejects_bad_kind),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
