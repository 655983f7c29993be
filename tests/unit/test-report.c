// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/output/report.c: traces written with the trace writer,
 * read back through the view, and the report's exact text.
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

/* Every table of the tests below has columns this wide. */
#define HEADER                                                                                        \
	"#      Total        Self  Calls         Min         Avg         Max         P50         P99" \
	"  Function\n"

enum { MAIN, FOO, BAR, WORK, OUTER, REC, LEAF };

static const char *const names[] = {
	[MAIN] = "main",   [FOO] = "foo", [BAR] = "bar",   [WORK] = "work",
	[OUTER] = "outer", [REC] = "rec", [LEAF] = "leaf",
};
#define NNAMES (sizeof(names) / sizeof(names[0]))

static void trace_begin(struct tb *b)
{
	struct ut_trace_meta meta = {
		.utrace_version = "test", .cmdline = "prog", .pid = PID, .probe_mode = "auto"
	};
	struct ut_trace_func f[NNAMES];

	for (size_t i = 0; i < NNAMES; i++)
		f[i] = (struct ut_trace_func){
			.info = { .name = names[i], .module = "prog", .addr = 0x1000 + 0x10 * i },
			.path = "/bin/prog",
			.build_id = "",
			.probe = "patch",
		};
	trace_create(b, "report", &meta, f, NNAMES);
}

/* ut_view_report() of b's trace, read anew, through filter f (NULL: none) into out. */
static int report_to(struct tb *b, const struct ut_view_filter *f, const struct ut_report_opts *o,
		     FILE *out)
{
	struct ut_view_filter none = { 0 };
	struct ut_trace *t;
	struct ut_view *v;
	int e;

	assert_int_equal(ut_trace_open(&t, b->dir), 0);
	assert_int_equal(ut_view_new(&v, t, f ? f : &none), 0);
	e = ut_view_report(v, t, o, out);
	ut_view_free(v);
	ut_trace_close(t);
	return e;
}

/* The report's text; the caller frees it. */
static char *report_filtered(struct tb *b, const struct ut_view_filter *f,
			     const struct ut_report_opts *o)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&buf, &size);

	assert_non_null(out);
	assert_int_equal(report_to(b, f, o, out), 0);
	assert_int_equal(fclose(out), 0);
	return buf;
}

static void check_report(struct tb *b, enum ut_report_key key, bool threads, const char *expected)
{
	struct ut_report_opts o = { .key = key, .threads = threads };
	char *got = report_filtered(b, NULL, &o);

	assert_string_equal(got, expected);
	free(got);
}

/*
 * Thread 1 at 1000 ns:      (durations)
 *   main {                  10000
 *     foo {                 500
 *       bar();              300
 *     }
 *     foo();                100
 *     bar();                2000
 *   }
 */
static void write_nested(struct tb *b)
{
	trace_begin(b);
	entry(b, 1, MAIN, 0, 1000);
	entry(b, 1, FOO, 1, 1100);
	entry(b, 1, BAR, 2, 1200);
	leave(b, 1, BAR, 2, 1500);
	leave(b, 1, FOO, 1, 1600);
	entry(b, 1, FOO, 1, 2000);
	leave(b, 1, FOO, 1, 2100);
	entry(b, 1, BAR, 1, 2200);
	leave(b, 1, BAR, 1, 4200);
	leave(b, 1, MAIN, 0, 11000);
	trace_end(b);
}

#define ROW_MAIN                                                                                      \
	"   10.000 us    7.400 us      1   10.000 us   10.000 us   10.000 us   10.000 us   10.000 us" \
	"  main\n"
#define ROW_BAR                                                                                       \
	"    2.300 us    2.300 us      2  300.000 ns    1.150 us    2.000 us  300.000 ns    2.000 us" \
	"  bar\n"
#define ROW_FOO                                                                                       \
	"  600.000 ns  300.000 ns      2  100.000 ns  300.000 ns  500.000 ns  100.000 ns  500.000 ns" \
	"  foo\n"

/* Self is each call less its direct callees: main 10000 - (500 + 100 + 2000). */
static void report_nested_times(void **state)
{
	struct tb b;

	write_nested(&b);
	check_report(&b, UT_REPORT_TOTAL, false, HEADER ROW_MAIN ROW_BAR ROW_FOO);
	trace_remove(&b);
}

/* Each key descending, ties by name; name ascending. */
static void report_sort_keys(void **state)
{
	struct tb b;

	write_nested(&b);
	check_report(&b, UT_REPORT_SELF, false, HEADER ROW_MAIN ROW_BAR ROW_FOO);
	check_report(&b, UT_REPORT_CALLS, false, HEADER ROW_BAR ROW_FOO ROW_MAIN);
	check_report(&b, UT_REPORT_AVG, false, HEADER ROW_MAIN ROW_BAR ROW_FOO);
	check_report(&b, UT_REPORT_MAX, false, HEADER ROW_MAIN ROW_BAR ROW_FOO);
	check_report(&b, UT_REPORT_NAME, false, HEADER ROW_BAR ROW_FOO ROW_MAIN);
	trace_remove(&b);
}

/* Self time counts the callees the filters keep: with -D 1, main has none. */
static void report_self_after_filter(void **state)
{
	struct ut_view_filter f = { .max_depth = 1 };
	struct ut_report_opts o = { .key = UT_REPORT_TOTAL };
	struct tb b;
	char *got;

	write_nested(&b);
	got = report_filtered(&b, &f, &o);
	assert_string_equal(
		got, HEADER
		"   10.000 us   10.000 us      1   10.000 us   10.000 us   10.000 us   10.000 us"
		"   10.000 us  main\n");
	free(got);
	trace_remove(&b);
}

/*
 * rec calls itself twice deep, the innermost calls leaf:
 *   rec [0, 1000] { rec [100, 700] { rec [200, 600] { leaf [300, 400] } } }
 * Total adds every call whole (1000 + 600 + 400); self never overlaps:
 * rec's 900 and leaf's 100 make the 1000 of the outermost call.
 */
static void report_recursion(void **state)
{
	struct tb b;

	trace_begin(&b);
	entry(&b, 2, REC, 0, 0);
	entry(&b, 2, REC, 1, 100);
	entry(&b, 2, REC, 2, 200);
	entry(&b, 2, LEAF, 3, 300);
	leave(&b, 2, LEAF, 3, 400);
	leave(&b, 2, REC, 2, 600);
	leave(&b, 2, REC, 1, 700);
	leave(&b, 2, REC, 0, 1000);
	trace_end(&b);
	check_report(&b, UT_REPORT_TOTAL, false,
		     HEADER "    2.000 us  900.000 ns      3  400.000 ns  666.000 ns    1.000 us"
			    "  600.000 ns    1.000 us  rec\n"
			    "  100.000 ns  100.000 ns      1  100.000 ns  100.000 ns  100.000 ns"
			    "  100.000 ns  100.000 ns  leaf\n");
	trace_remove(&b);
}

/*
 * Thread 300 (alpha): work 20; outer 60 { work 40 }.
 * Thread 301 (beta, with an escape byte in its name): the trace begins
 * inside work inside outer (two returns without their calls), then work
 * 300, then a work that never returns.
 */
static void write_threads(struct tb *b)
{
	trace_begin(b);
	assert_int_equal(ut_trace_writer_task(b->w, PID, 300, "alpha"), 0);
	assert_int_equal(ut_trace_writer_task(b->w, PID, 301, "beta\x1b"), 0);
	entry(b, 300, WORK, 0, 10);
	leave(b, 300, WORK, 0, 30);
	ev_of(b, UT_REC_EXIT, PID, 301, WORK, 1, 50, false);
	ev_of(b, UT_REC_EXIT, PID, 301, OUTER, 0, 60, false);
	entry(b, 300, OUTER, 0, 40);
	entry(b, 300, WORK, 1, 50);
	entry(b, 301, WORK, 0, 100);
	leave(b, 301, WORK, 0, 400);
	leave(b, 300, WORK, 1, 90);
	leave(b, 300, OUTER, 0, 100);
	entry(b, 301, WORK, 0, 500);
	trace_end(b);
}

#define NOTE_OPEN "# calls whose return is not in the trace (not timed): work: 1\n"
#define NOTE_NO_CALL "# returns whose call is not in the trace (not timed): work: 1, outer: 1\n"

static void report_all_threads(void **state)
{
	struct tb b;

	write_threads(&b);
	check_report(&b, UT_REPORT_TOTAL, false,
		     HEADER "  360.000 ns  360.000 ns      3   20.000 ns  120.000 ns  300.000 ns"
			    "   40.000 ns  300.000 ns  work\n"
			    "   60.000 ns   20.000 ns      1   60.000 ns   60.000 ns   60.000 ns"
			    "   60.000 ns   60.000 ns  outer\n" NOTE_OPEN NOTE_NO_CALL);
	trace_remove(&b);
}

/* --threads: a table per thread by tid; equal totals go by name. */
static void report_per_thread(void **state)
{
	struct tb b;

	write_threads(&b);
	check_report(&b, UT_REPORT_TOTAL, true,
		     "# thread 300 (alpha)\n" HEADER
		     "   60.000 ns   20.000 ns      1   60.000 ns   60.000 ns   60.000 ns"
		     "   60.000 ns   60.000 ns  outer\n"
		     "   60.000 ns   60.000 ns      2   20.000 ns   30.000 ns   40.000 ns"
		     "   20.000 ns   40.000 ns  work\n"
		     "\n"
		     "# thread 301 (beta?)\n" HEADER
		     "  300.000 ns  300.000 ns      1  300.000 ns  300.000 ns  300.000 ns"
		     "  300.000 ns  300.000 ns  work\n" NOTE_OPEN NOTE_NO_CALL);
	trace_remove(&b);
}

/*
 * Unwinds close calls as exits do; a call whose return was lost is closed
 * with its caller, left out of the caller's callees:
 *   a [0, 1000] { b [100, 300] unwound; c [400, ...] }
 */
static void report_unwind_and_lost_return(void **state)
{
	struct tb b;

	trace_begin(&b);
	entry(&b, 7, MAIN, 0, 0);
	entry(&b, 7, FOO, 1, 100);
	ev_of(&b, UT_REC_UNWIND, PID, 7, FOO, 1, 300, true);
	entry(&b, 7, BAR, 1, 400);
	leave(&b, 7, MAIN, 0, 1000);
	trace_end(&b);
	check_report(&b, UT_REPORT_TOTAL, false,
		     HEADER "    1.000 us  800.000 ns      1    1.000 us    1.000 us    1.000 us"
			    "    1.000 us    1.000 us  main\n"
			    "  200.000 ns  200.000 ns      1  200.000 ns  200.000 ns  200.000 ns"
			    "  200.000 ns  200.000 ns  foo\n"
			    "# calls whose return is not in the trace (not timed): bar: 1\n");
	trace_remove(&b);
}

/* Past 999 s the columns widen to fit; the trace's losses follow the table. */
static void report_wide_and_losses(void **state)
{
	struct ut_stats st = { .drops = 2 };
	struct tb b;

	trace_begin(&b);
	entry(&b, 3, MAIN, 0, 0);
	leave(&b, 3, MAIN, 0, 1234500000000ULL);
	entry(&b, 3, FOO, 0, 1234500001000ULL);
	leave(&b, 3, FOO, 0, 1234500003000ULL);
	trace_end_stats(&b, &st);
	check_report(&b, UT_REPORT_TOTAL, false,
		     "#       Total         Self  Calls          Min          Avg          Max"
		     "          P50          P99  Function\n"
		     "  1234.500  s  1234.500  s      1  1234.500  s  1234.500  s  1234.500  s"
		     "  1234.500  s  1234.500  s  main\n"
		     "     2.000 us     2.000 us      1     2.000 us     2.000 us     2.000 us"
		     "     2.000 us     2.000 us  foo\n"
		     "# 2 events dropped (ring full)\n");
	trace_remove(&b);
}

/* An empty trace: the header alone; with --threads, nothing. */
static void report_empty(void **state)
{
	struct tb b;

	trace_begin(&b);
	trace_end(&b);
	check_report(&b, UT_REPORT_TOTAL, false, HEADER);
	check_report(&b, UT_REPORT_TOTAL, true, "");
	trace_remove(&b);
}

static void report_write_error(void **state)
{
	struct ut_report_opts o = { .key = UT_REPORT_TOTAL };
	struct tb b;
	FILE *full = fopen("/dev/full", "w");

	if (!full)
		skip();
	write_nested(&b);
	assert_int_equal(report_to(&b, NULL, &o, full), -EIO);
	fclose(full);
	trace_remove(&b);
}

static void report_key_names(void **state)
{
	assert_int_equal(ut_report_key_parse("total"), UT_REPORT_TOTAL);
	assert_int_equal(ut_report_key_parse("self"), UT_REPORT_SELF);
	assert_int_equal(ut_report_key_parse("calls"), UT_REPORT_CALLS);
	assert_int_equal(ut_report_key_parse("avg"), UT_REPORT_AVG);
	assert_int_equal(ut_report_key_parse("max"), UT_REPORT_MAX);
	assert_int_equal(ut_report_key_parse("name"), UT_REPORT_NAME);
	assert_int_equal(ut_report_key_parse(""), -1);
	assert_int_equal(ut_report_key_parse("Total"), -1);
	assert_int_equal(ut_report_key_parse("min"), -1);
	assert_int_equal(ut_report_key_parse("totals"), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(report_nested_times),
		cmocka_unit_test(report_sort_keys),
		cmocka_unit_test(report_self_after_filter),
		cmocka_unit_test(report_recursion),
		cmocka_unit_test(report_all_threads),
		cmocka_unit_test(report_per_thread),
		cmocka_unit_test(report_unwind_and_lost_return),
		cmocka_unit_test(report_wide_and_losses),
		cmocka_unit_test(report_empty),
		cmocka_unit_test(report_write_error),
		cmocka_unit_test(report_key_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
