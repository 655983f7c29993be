// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/output/chrome.c and folded.c (utrace dump --chrome,
 * --folded): traces written with the trace writer, read back through the
 * view, and the exact text of each format.
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

#include "trace-fixture.h"
#include "trace.h"
#include "view.h"

#define PID TRACE_PID
#define CHILD_PID 200
/* the recording's start: chrome's "ts" count from it */
#define ORIGIN 1000000ULL
#define T(ns) (ORIGIN + (ns))

enum { MAIN, FOO, BAR, WEIRD, A, A_SPACE_B, A_COLON_B, AB, X, SEMI, DUP1, DUP2 };

static const struct ut_func_info infos[] = {
	[MAIN] = { .name = "main", .module = "prog" },
	[FOO] = { .name = "foo", .module = "prog" },
	[BAR] = { .name = "bar", .module = "libbar.so" },
	[WEIRD] = { .name = "we\"ird\\\n\xff", .module = "m\\od" },
	[A] = { .name = "a", .module = "prog" },
	[A_SPACE_B] = { .name = "a b", .module = "prog" },
	[A_COLON_B] = { .name = "a:b", .module = "prog" },
	[AB] = { .name = "ab", .module = "prog" },
	[X] = { .name = "x", .module = "prog" },
	[SEMI] = { .name = "semi;colon\tand\nbreak", .module = "prog" },
	/* static functions of the same name in two modules */
	[DUP1] = { .name = "dup", .module = "prog" },
	[DUP2] = { .name = "dup", .module = "libdup.so" },
};
#define NFUNCS (sizeof(infos) / sizeof(infos[0]))

static void trace_begin_as(struct tb *b, const char *cmdline)
{
	struct ut_trace_meta meta = { .utrace_version = "9.9",
				      .cmdline = (char *)cmdline,
				      .pid = PID,
				      .start_monotonic_ns = ORIGIN,
				      .probe_mode = "auto" };
	struct ut_trace_func f[NFUNCS];

	for (size_t i = 0; i < NFUNCS; i++)
		f[i] = (struct ut_trace_func){
			.info = infos[i], .path = "/bin/prog", .build_id = "", .probe = "patch"
		};
	trace_create(b, "dump", &meta, f, NFUNCS);
	assert_int_equal(ut_trace_writer_task(b->w, PID, PID, "prog"), 0);
}

static void trace_begin(struct tb *b)
{
	trace_begin_as(b, "prog --flag");
}

/* A call on the main thread: entry at `from`, exit at `to`. */
static void call(struct tb *b, uint32_t func, uint32_t depth, uint64_t from, uint64_t to)
{
	entry(b, PID, func, depth, from);
	leave(b, PID, func, depth, to);
}

typedef int (*view_fn)(struct ut_view *v, const struct ut_trace *t, FILE *out);

/* Finish b's trace, read it anew through the view into out, remove it; the view's result. */
static int dump_to(struct tb *b, view_fn view, FILE *out)
{
	struct ut_view_filter none = { 0 };
	struct ut_trace *t;
	struct ut_view *v;
	int e;

	trace_end(b);
	assert_int_equal(ut_trace_open(&t, b->dir), 0);
	assert_int_equal(ut_view_new(&v, t, &none), 0);
	e = view(v, t, out);
	ut_view_free(v);
	ut_trace_close(t);
	trace_remove(b);
	return e;
}

static void check_dump(struct tb *b, view_fn view, const char *expected)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&buf, &size);

	assert_non_null(out);
	assert_int_equal(dump_to(b, view, out), 0);
	assert_int_equal(fclose(out), 0);
	assert_string_equal(buf, expected);
	free(buf);
}

/* A stream that fails every write: the view says -EIO. */
static void check_write_error(view_fn view)
{
	struct tb b;
	FILE *out = fopen("/dev/full", "w");

	assert_non_null(out);
	setvbuf(out, NULL, _IONBF, 0);
	trace_begin(&b);
	call(&b, MAIN, 0, T(1000), T(2000));
	assert_int_equal(dump_to(&b, view, out), -EIO);
	fclose(out);
}

/* ---- chrome ------------------------------------------------------------------- */

#define CHROME_HEAD "{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n"
#define MAIN_NAMES                                                                            \
	"{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":100,\"tid\":100,\"args\":{\"name\":" \
	"\"prog --flag\"}},\n"                                                                \
	"{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":100,\"tid\":100,\"args\":{\"name\":"  \
	"\"prog\"}}"
#define CHROME_TAIL(open, orphans)                                                   \
	"\n],\"otherData\":{\"utrace_version\":\"9.9\",\"cmdline\":\"prog --flag\"," \
	"\"start_monotonic_ns\":1000000,\"open_calls\":" #open                       \
	",\"exits_without_entry\":" #orphans "}}\n"

/* One complete event a call, written at its return: callees first. */
static void chrome_nested_calls(void **state)
{
	struct tb b;

	trace_begin(&b);
	entry(&b, PID, MAIN, 0, T(1000));
	entry(&b, PID, FOO, 1, T(1500));
	call(&b, BAR, 2, T(2000), T(2250));
	leave(&b, PID, FOO, 1, T(3000));
	leave(&b, PID, MAIN, 0, T(4000));
	check_dump(&b, ut_view_chrome,
		   CHROME_HEAD
		   "{\"name\":\"bar\",\"cat\":\"libbar.so\",\"ph\":\"X\",\"ts\":2.000,"
		   "\"dur\":0.250,\"pid\":100,\"tid\":100},\n"
		   "{\"name\":\"foo\",\"cat\":\"prog\",\"ph\":\"X\",\"ts\":1.500,\"dur\":1.500,"
		   "\"pid\":100,\"tid\":100},\n"
		   "{\"name\":\"main\",\"cat\":\"prog\",\"ph\":\"X\",\"ts\":1.000,\"dur\":3.000,"
		   "\"pid\":100,\"tid\":100},\n" MAIN_NAMES CHROME_TAIL(0, 0));
}

/*
 * Calls that start in the same nanosecond as their caller follow it in the
 * file: the viewers order equal start times by length (Perfetto) or file
 * order (chrome://tracing), so a caller must come first when the two are
 * the same length.  Calls that start later are written at their return.
 */
static void chrome_same_start_follows_caller(void **state)
{
	struct tb b;

	trace_begin(&b);
	entry(&b, PID, MAIN, 0, T(2000));
	call(&b, FOO, 1, T(2000), T(2000)); /* zero length, at its caller's start */
	entry(&b, PID, BAR, 1, T(2100));
	call(&b, FOO, 2, T(2500), T(2500)); /* zero length, at its callers' end */
	leave(&b, PID, BAR, 1, T(2500));
	leave(&b, PID, MAIN, 0, T(2500));
	/* three calls that start together, two of them the same length */
	entry(&b, PID, MAIN, 0, T(3000));
	entry(&b, PID, FOO, 1, T(3000));
	call(&b, BAR, 2, T(3000), T(3050));
	leave(&b, PID, FOO, 1, T(3100));
	leave(&b, PID, MAIN, 0, T(3100));
	check_dump(&b, ut_view_chrome,
		   CHROME_HEAD
		   "{\"name\":\"foo\",\"cat\":\"prog\",\"ph\":\"X\",\"ts\":2.500,\"dur\":0.000,"
		   "\"pid\":100,\"tid\":100},\n"
		   "{\"name\":\"bar\",\"cat\":\"libbar.so\",\"ph\":\"X\",\"ts\":2.100,"
		   "\"dur\":0.400,\"pid\":100,\"tid\":100},\n"
		   "{\"name\":\"main\",\"cat\":\"prog\",\"ph\":\"X\",\"ts\":2.000,\"dur\":0.500,"
		   "\"pid\":100,\"tid\":100},\n"
		   "{\"name\":\"foo\",\"cat\":\"prog\",\"ph\":\"X\",\"ts\":2.000,\"dur\":0.000,"
		   "\"pid\":100,\"tid\":100},\n"
		   "{\"name\":\"main\",\"cat\":\"prog\",\"ph\":\"X\",\"ts\":3.000,\"dur\":0.100,"
		   "\"pid\":100,\"tid\":100},\n"
		   "{\"name\":\"foo\",\"cat\":\"prog\",\"ph\":\"X\",\"ts\":3.000,\"dur\":0.100,"
		   "\"pid\":100,\"tid\":100},\n"
		   "{\"name\":\"bar\",\"cat\":\"libbar.so\",\"ph\":\"X\",\"ts\":3.000,"
		   "\"dur\":0.050,\"pid\":100,\"tid\":100},\n" MAIN_NAMES CHROME_TAIL(0, 0));
}

/*
 * Calls without a return end where the thread shows they must have: at
 * the next entry at their depth (a lost return), at their caller's return,
 * at the thread's last event.  A return without its call is left out.
 */
static void chrome_open_calls(void **state)
{
	struct tb b;

	trace_begin(&b);
	entry(&b, PID, MAIN, 0, T(1000));
	entry(&b, PID, FOO, 1, T(2000));
	entry(&b, PID, BAR, 2, T(2500));
	call(&b, BAR, 2, T(3000), T(3200));
	leave(&b, PID, MAIN, 0, T(4000));
	ev_of(&b, UT_REC_EXIT, PID, PID, FOO, 0, T(5000), false);
	entry(&b, PID, MAIN, 0, T(6000));
	entry(&b, PID, FOO, 1, T(6500));
	check_dump(&b, ut_view_chrome,
		   CHROME_HEAD
		   "{\"name\":\"bar\",\"cat\":\"libbar.so\",\"ph\":\"X\",\"ts\":2.500,"
		   "\"dur\":0.500,\"pid\":100,\"tid\":100,\"args\":{\"open\":true}},\n"
		   "{\"name\":\"bar\",\"cat\":\"libbar.so\",\"ph\":\"X\",\"ts\":3.000,"
		   "\"dur\":0.200,\"pid\":100,\"tid\":100},\n"
		   "{\"name\":\"foo\",\"cat\":\"prog\",\"ph\":\"X\",\"ts\":2.000,\"dur\":2.000,"
		   "\"pid\":100,\"tid\":100,\"args\":{\"open\":true}},\n"
		   "{\"name\":\"main\",\"cat\":\"prog\",\"ph\":\"X\",\"ts\":1.000,\"dur\":3.000,"
		   "\"pid\":100,\"tid\":100},\n"
		   "{\"name\":\"foo\",\"cat\":\"prog\",\"ph\":\"X\",\"ts\":6.500,\"dur\":0.000,"
		   "\"pid\":100,\"tid\":100,\"args\":{\"open\":true}},\n"
		   "{\"name\":\"main\",\"cat\":\"prog\",\"ph\":\"X\",\"ts\":6.000,\"dur\":0.500,"
		   "\"pid\":100,\"tid\":100,\"args\":{\"open\":true}},\n" MAIN_NAMES CHROME_TAIL(
			   4, 1));
}

/* An unwound call says so; a time before the recording's start is negative. */
static void chrome_unwound_before_start(void **state)
{
	struct tb b;

	trace_begin(&b);
	entry(&b, PID, MAIN, 0, ORIGIN - 500);
	ev_of(&b, UT_REC_UNWIND, PID, PID, MAIN, 0, T(250), true);
	check_dump(
		&b, ut_view_chrome,
		CHROME_HEAD
		"{\"name\":\"main\",\"cat\":\"prog\",\"ph\":\"X\",\"ts\":-0.500,"
		"\"dur\":0.750,\"pid\":100,\"tid\":100,\"args\":{\"unwound\":true}},\n" MAIN_NAMES
			CHROME_TAIL(0, 0));
}

/*
 * Threads and processes named after the calls, by pid and tid: the traced
 * command for its process, the main thread's name for a child process,
 * each thread's last name; a thread without calls gets none.
 */
static void chrome_threads_and_processes(void **state)
{
	struct tb b;

	trace_begin(&b);
	assert_int_equal(ut_trace_writer_task(b.w, PID, 101, "w-old"), 0);
	assert_int_equal(ut_trace_writer_task(b.w, PID, 101, "worker"), 0);
	assert_int_equal(ut_trace_writer_task(b.w, PID, 102, "idle"), 0);
	assert_int_equal(ut_trace_writer_task(b.w, CHILD_PID, CHILD_PID, "child"), 0);
	entry(&b, 101, FOO, 0, T(1000));
	entry(&b, PID, MAIN, 0, T(1100));
	leave(&b, 101, FOO, 0, T(1200));
	ev_of(&b, UT_REC_ENTRY, CHILD_PID, CHILD_PID, BAR, 0, T(1300), false);
	ev_of(&b, UT_REC_EXIT, CHILD_PID, CHILD_PID, BAR, 0, T(1400), true);
	ev_of(&b, UT_REC_EXIT, PID, 102, BAR, 0, T(1450), false);
	leave(&b, PID, MAIN, 0, T(1500));
	check_dump(&b, ut_view_chrome,
		   CHROME_HEAD
		   "{\"name\":\"foo\",\"cat\":\"prog\",\"ph\":\"X\",\"ts\":1.000,\"dur\":0.200,"
		   "\"pid\":100,\"tid\":101},\n"
		   "{\"name\":\"bar\",\"cat\":\"libbar.so\",\"ph\":\"X\",\"ts\":1.300,"
		   "\"dur\":0.100,\"pid\":200,\"tid\":200},\n"
		   "{\"name\":\"main\",\"cat\":\"prog\",\"ph\":\"X\",\"ts\":1.100,\"dur\":0.400,"
		   "\"pid\":100,\"tid\":100},\n" MAIN_NAMES ",\n"
		   "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":100,\"tid\":101,\"args\":"
		   "{\"name\":\"worker\"}},\n"
		   "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":200,\"tid\":200,\"args\":"
		   "{\"name\":\"child\"}},\n"
		   "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":200,\"tid\":200,\"args\":"
		   "{\"name\":\"child\"}}" CHROME_TAIL(0, 1));
}

/* Names, modules, thread names and the command line as JSON strings, whatever bytes they hold. */
static void chrome_escapes_strings(void **state)
{
	struct tb b;

	trace_begin_as(&b, "prog \"x\ty\"");
	assert_int_equal(ut_trace_writer_task(b.w, PID, PID, "a\"b\\c"), 0);
	call(&b, WEIRD, 0, T(1000), T(1001));
	check_dump(&b, ut_view_chrome,
		   CHROME_HEAD
		   "{\"name\":\"we\\\"ird\\\\\\n\\u00ff\",\"cat\":\"m\\\\od\",\"ph\":\"X\","
		   "\"ts\":1.000,\"dur\":0.001,\"pid\":100,\"tid\":100},\n"
		   "{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":100,\"tid\":100,\"args\":"
		   "{\"name\":\"prog \\\"x\\ty\\\"\"}},\n"
		   "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":100,\"tid\":100,\"args\":"
		   "{\"name\":\"a\\\"b\\\\c\"}}\n"
		   "],\"otherData\":{\"utrace_version\":\"9.9\",\"cmdline\":\"prog \\\"x\\ty\\\"\","
		   "\"start_monotonic_ns\":1000000,\"open_calls\":0,\"exits_without_entry\":0}}\n");
}

static void chrome_empty_trace(void **state)
{
	struct tb b;

	trace_begin(&b);
	check_dump(&b, ut_view_chrome, CHROME_HEAD CHROME_TAIL(0, 0));
}

static void chrome_write_error(void **state)
{
	check_write_error(ut_view_chrome);
}

/* ---- folded ------------------------------------------------------------------- */

/* Each stack weighs its innermost call's self time: they add up to the outermost calls'. */
static void folded_self_times(void **state)
{
	struct tb b;

	trace_begin(&b);
	entry(&b, PID, MAIN, 0, T(1000));
	entry(&b, PID, FOO, 1, T(1100));
	call(&b, BAR, 2, T(1200), T(1500));
	leave(&b, PID, FOO, 1, T(1700));
	call(&b, BAR, 1, T(1800), T(2000));
	call(&b, FOO, 1, T(2100), T(2100)); /* weighs nothing: no line */
	leave(&b, PID, MAIN, 0, T(3000));
	check_dump(&b, ut_view_folded,
		   "main 1200\n"
		   "main;bar 200\n"
		   "main;foo 300\n"
		   "main;foo;bar 300\n");
}

/* Lines in byte order of their stacks: ' ' and ':' sort before the ';' of a callee, 'b' after. */
static void folded_byte_order(void **state)
{
	struct tb b;

	trace_begin(&b);
	call(&b, A_SPACE_B, 0, T(20), T(27));
	call(&b, A_COLON_B, 0, T(30), T(33));
	entry(&b, PID, A, 0, T(40));
	call(&b, X, 1, T(44), T(49));
	leave(&b, PID, A, 0, T(55));
	call(&b, AB, 0, T(60), T(62));
	check_dump(&b, ut_view_folded,
		   "a 10\n"
		   "a b 7\n"
		   "a:b 3\n"
		   "a;x 5\n"
		   "ab 2\n");
}

/* The stacks of every thread are merged, without a thread frame. */
static void folded_threads_merged(void **state)
{
	struct tb b;

	trace_begin(&b);
	entry(&b, PID, MAIN, 0, T(0));
	entry(&b, 101, MAIN, 0, T(50));
	entry(&b, 101, FOO, 1, T(60));
	leave(&b, PID, MAIN, 0, T(100));
	leave(&b, 101, FOO, 1, T(80));
	leave(&b, 101, MAIN, 0, T(200));
	check_dump(&b, ut_view_folded,
		   "main 230\n"
		   "main;foo 20\n");
}

/*
 * A return whose call began before the trace is left out, and the calls
 * made inside it are stacks of their own; calls without a return count
 * until the next entry at their depth, or the thread's last event.
 */
static void folded_open_calls(void **state)
{
	struct tb b;

	trace_begin(&b);
	call(&b, BAR, 1, T(1000), T(1100));
	ev_of(&b, UT_REC_EXIT, PID, PID, FOO, 0, T(1500), false);
	entry(&b, PID, MAIN, 0, T(2000));
	entry(&b, PID, FOO, 1, T(2100));
	call(&b, BAR, 1, T(2400), T(2450));
	entry(&b, PID, FOO, 1, T(2500));
	call(&b, BAR, 2, T(2600), T(2900));
	check_dump(&b, ut_view_folded,
		   "bar 100\n"
		   "main 150\n"
		   "main;bar 50\n"
		   "main;foo 400\n"
		   "main;foo;bar 300\n");
}

/* A ';' or a control byte of a name becomes '?'; functions of one name are one frame. */
static void folded_names(void **state)
{
	struct tb b;

	trace_begin(&b);
	call(&b, DUP1, 0, T(0), T(10));
	call(&b, DUP2, 0, T(20), T(25));
	call(&b, SEMI, 0, T(30), T(31));
	check_dump(&b, ut_view_folded,
		   "dup 15\n"
		   "semi?colon?and?break 1\n");
}

static void folded_write_error(void **state)
{
	check_write_error(ut_view_folded);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chrome_nested_calls),
		cmocka_unit_test(chrome_same_start_follows_caller),
		cmocka_unit_test(chrome_open_calls),
		cmocka_unit_test(chrome_unwound_before_start),
		cmocka_unit_test(chrome_threads_and_processes),
		cmocka_unit_test(chrome_escapes_strings),
		cmocka_unit_test(chrome_empty_trace),
		cmocka_unit_test(chrome_write_error),
		cmocka_unit_test(folded_self_times),
		cmocka_unit_test(folded_byte_order),
		cmocka_unit_test(folded_threads_merged),
		cmocka_unit_test(folded_open_calls),
		cmocka_unit_test(folded_names),
		cmocka_unit_test(folded_write_error),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
