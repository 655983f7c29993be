// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/record (a trace directory written, then read back)
 * and lib/output/view-filter.c (the filters of the views).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "trace.h"
#include "view.h"

struct fixture {
	char dir[64];
	struct ut_trace_writer *w;
	struct ut_trace *t;
};

static const struct ut_trace_func funcs[] = {
	{ .info = { .name = "outer", .module = "prog", .addr = 0x1000 },
	  .path = "/bin/prog",
	  .build_id = "abcd",
	  .probe = "jmp" },
	{ .info = { .name = "inner",
		    .module = "prog",
		    .addr = 0x2000,
		    .proto = "i,4,0,,int;s,8,0,s,const char *" },
	  .path = "/bin/prog",
	  .build_id = "abcd",
	  .probe = "int3" },
	{ .info = { .name = "odd\tname\nwith\\escapes",
		    .module = "lib x.so",
		    .addr = 0x3000,
		    .mangled = "_Z3oddv" },
	  .path = "/lib/lib x.so",
	  .build_id = "",
	  .probe = "call" },
};

enum { OUTER, INNER, ODD };

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct ut_trace_meta m = { .utrace_version = "9.9",
				   .cmdline = "prog a b",
				   .pid = 42,
				   .start_realtime_ns = 5,
				   .start_monotonic_ns = 6,
				   .ns_per_tick = 0.5,
				   .retval = true,
				   .probe_mode = "auto" };

	snprintf(f->dir, sizeof(f->dir), "/tmp/utrace-test-trace-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(ut_trace_writer_new(&f->w, f->dir), 0);
	assert_int_equal(ut_trace_writer_info(f->w, &m), 0);
	assert_int_equal(ut_trace_writer_funcs(f->w, funcs, 0, 2), 0);
	assert_int_equal(ut_trace_writer_funcs(f->w, funcs + 2, 2, 1), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;
	static const char *const files[] = { "events", "info", "funcs", "tasks", "stats" };
	char path[128];

	ut_trace_close(f->t);
	ut_trace_writer_free(f->w);
	for (size_t i = 0; i < sizeof(files) / sizeof(*files); i++) {
		snprintf(path, sizeof(path), "%s/%s", f->dir, files[i]);
		unlink(path);
	}
	rmdir(f->dir);
	free(f);
	return 0;
}

static void put(struct fixture *f, pid_t tid, enum ut_rec_kind kind, uint32_t func, uint32_t depth,
		uint64_t ts)
{
	struct ut_event ev = { .ts = ts,
			       .pid = 42,
			       .tid = tid,
			       .kind = kind,
			       .func = func,
			       .depth = depth,
			       .has_dur = kind != UT_REC_ENTRY };

	assert_int_equal(ut_trace_writer_event(f->w, &ev), 0);
}

/* A call of func at depth d from t0 to t1 around `body`. */
#define CALL(f, tid, func, d, t0, t1, body)             \
	do {                                            \
		put(f, tid, UT_REC_ENTRY, func, d, t0); \
		body;                                   \
		put(f, tid, UT_REC_EXIT, func, d, t1);  \
	} while (0)

static void finish_and_open(struct fixture *f)
{
	uint64_t drops[3] = { 0, 7, 0 }, notls[3] = { 0 };
	struct ut_thread_drops th = {
		.pid = 42, .tid = 43, .drops = 7, .first_ns = 1, .last_ns = 2
	};
	struct ut_stats st = { .events = 99,
			       .drops = 7,
			       .threads = &th,
			       .nthreads = 1,
			       .func_drops = drops,
			       .func_notls = notls,
			       .nfuncs = 3 };

	assert_int_equal(ut_trace_writer_finish(f->w, &st), 0);
	assert_int_equal(ut_trace_open(&f->t, f->dir), 0);
}

/* ev is as given; dur < 0: it has no duration. */
static void check_event(const struct ut_event *ev, pid_t tid, enum ut_rec_kind kind, uint32_t func,
			uint32_t depth, uint64_t ts, int64_t dur)
{
	assert_int_equal(ev->tid, tid);
	assert_int_equal(ev->kind, kind);
	assert_int_equal(ev->func, func);
	assert_int_equal(ev->depth, depth);
	assert_int_equal(ev->ts, ts);
	assert_int_equal(ev->has_dur, dur >= 0);
	if (dur >= 0)
		assert_int_equal(ev->dur_ns, dur);
}

/* The next event of t is as given. */
static void expect(struct ut_trace *t, pid_t tid, enum ut_rec_kind kind, uint32_t func,
		   uint32_t depth, uint64_t ts, int64_t dur)
{
	struct ut_event ev;

	assert_int_equal(ut_trace_next(t, &ev), 1);
	check_event(&ev, tid, kind, func, depth, ts, dur);
}

static void test_round_trip(void **state)
{
	struct fixture *f = *state;
	struct ut_event ev = { .ts = 40,
			       .pid = 42,
			       .tid = 43,
			       .kind = UT_REC_EXIT,
			       .func = INNER,
			       .depth = 1,
			       .nw = 2,
			       .w = { 0x1234, 0x5678 },
			       .has_dur = true };

	CALL(f, 43, OUTER, 0, 10, 50, {
		put(f, 43, UT_REC_ENTRY, INNER, 1, 20);
		assert_int_equal(ut_trace_writer_event(f->w, &ev), 0);
	});
	put(f, 44, UT_REC_EXIT, ODD, 3, 60); /* its entry before the trace */
	put(f, 43, UT_REC_ENTRY, OUTER, 0, 70); /* never returns */
	finish_and_open(f);
	expect(f->t, 43, UT_REC_ENTRY, OUTER, 0, 10, -1);
	expect(f->t, 43, UT_REC_ENTRY, INNER, 1, 20, -1);
	memset(&ev, 0, sizeof(ev)); /* what is checked next comes from the reader */
	assert_int_equal(ut_trace_next(f->t, &ev), 1);
	check_event(&ev, 43, UT_REC_EXIT, INNER, 1, 40, 20);
	assert_int_equal(ev.pid, 42);
	assert_int_equal(ev.nw, 2);
	assert_int_equal(ev.w[0], 0x1234);
	assert_int_equal(ev.w[1], 0x5678);
	expect(f->t, 43, UT_REC_EXIT, OUTER, 0, 50, 40);
	expect(f->t, 44, UT_REC_EXIT, ODD, 3, 60, -1);
	expect(f->t, 43, UT_REC_ENTRY, OUTER, 0, 70, -1);
	assert_int_equal(ut_trace_next(f->t, &ev), 0);
	assert_true(ut_trace_complete(f->t));
}

static void test_metadata_round_trip(void **state)
{
	struct fixture *f = *state;
	const struct ut_trace_meta *m;
	const struct ut_trace_func *fs;
	const struct ut_stats *st;
	size_t n;

	assert_int_equal(ut_trace_writer_task(f->w, 42, 43, "main"), 0);
	assert_int_equal(ut_trace_writer_task(f->w, 42, 43, "re\tnamed"), 0);
	finish_and_open(f);
	m = ut_trace_meta(f->t);
	assert_string_equal(m->utrace_version, "9.9");
	assert_string_equal(m->cmdline, "prog a b");
	assert_int_equal(m->pid, 42);
	assert_int_equal(m->start_realtime_ns, 5);
	assert_true(m->retval);
	assert_false(m->args);
	fs = ut_trace_funcs(f->t, &n);
	assert_int_equal(n, 3);
	assert_string_equal(fs[ODD].info.name, funcs[ODD].info.name);
	assert_string_equal(fs[ODD].info.module, "lib x.so");
	assert_string_equal(fs[ODD].info.mangled, "_Z3oddv");
	assert_null(fs[OUTER].info.mangled);
	assert_null(fs[OUTER].info.proto);
	assert_string_equal(fs[INNER].info.proto, "i,4,0,,int;s,8,0,s,const char *");
	assert_int_equal(fs[INNER].info.addr, 0x2000);
	assert_string_equal(fs[INNER].probe, "int3");
	assert_string_equal(fs[OUTER].build_id, "abcd");
	assert_string_equal(ut_trace_task_comm(f->t, 43), "re\tnamed");
	st = ut_trace_stats(f->t);
	assert_int_equal(st->events, 99);
	assert_int_equal(st->drops, 7);
	assert_int_equal(st->nthreads, 1);
	assert_int_equal(st->threads[0].tid, 43);
	assert_int_equal(st->func_drops[INNER], 7);
}

/* What the stats say in words (why no return was traced, why tracing stopped) comes back. */
static void test_stats_texts_round_trip(void **state)
{
	struct fixture *f = *state;
	uint64_t none[3] = { 0 };
	struct ut_stats st = { .events = 5,
			       .func_drops = none,
			       .func_notls = none,
			       .nfuncs = 3,
			       .no_returns = "it runs with a CET shadow stack",
			       .stopped = "after 5 events (--max-events)" };
	const struct ut_stats *got;

	assert_int_equal(ut_trace_writer_finish(f->w, &st), 0);
	assert_int_equal(ut_trace_open(&f->t, f->dir), 0);
	got = ut_trace_stats(f->t);
	assert_int_equal(got->events, 5);
	assert_string_equal(got->no_returns, st.no_returns);
	assert_string_equal(got->stopped, st.stopped);
}

static void test_unfinished_trace_reads(void **state)
{
	struct fixture *f = *state;
	struct ut_event ev;

	CALL(f, 43, OUTER, 0, 10, 50, {});
	assert_int_equal(ut_trace_writer_flush(f->w), 0);
	assert_int_equal(ut_trace_open(&f->t, f->dir), 0);
	assert_false(ut_trace_complete(f->t));
	expect(f->t, 43, UT_REC_ENTRY, OUTER, 0, 10, -1);
	expect(f->t, 43, UT_REC_EXIT, OUTER, 0, 50, 40);
	assert_int_equal(ut_trace_next(f->t, &ev), 0);
}

/* outer { inner { inner } } inner on thread 43; outer on 44. */
static void nested_trace(struct fixture *f)
{
	CALL(f, 43, OUTER, 0, 100, 200,
	     { CALL(f, 43, INNER, 1, 110, 190, { CALL(f, 43, INNER, 2, 120, 125, {}); }); });
	CALL(f, 43, INNER, 0, 300, 301, {});
	CALL(f, 44, OUTER, 0, 400, 500, {});
	finish_and_open(f);
}

/* The events the filter lets through, as "kind func depth" words. */
static void expect_view(struct fixture *f, const struct ut_view_filter *flt, const char *want)
{
	static const char kinds[] = "?ExU";
	struct ut_view *v;
	struct ut_event ev;
	char got[512] = "";
	int r;

	assert_int_equal(ut_view_new(&v, f->t, flt), 0);
	while ((r = ut_view_next(v, &ev)) > 0)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%c%u.%u.%d",
			 got[0] ? " " : "", kinds[ev.kind], ev.func, ev.depth, ev.tid);
	assert_int_equal(r, 0);
	ut_view_free(v);
	assert_string_equal(got, want);
}

static void test_view_depth(void **state)
{
	struct fixture *f = *state;
	struct ut_view_filter flt = { .max_depth = 2 };

	nested_trace(f);
	expect_view(f, &flt, "E0.0.43 E1.1.43 x1.1.43 x0.0.43 E1.0.43 x1.0.43 E0.0.44 x0.0.44");
}

static void test_view_time(void **state)
{
	struct fixture *f = *state;
	struct ut_view_filter flt = { .min_ns = 80 };

	nested_trace(f);
	expect_view(f, &flt, "E0.0.43 E1.1.43 x1.1.43 x0.0.43 E0.0.44 x0.0.44");
}

static void test_view_only_and_hide(void **state)
{
	struct fixture *f = *state;
	const char *only[] = { "inn*" }, *hide[] = { "outer" };
	struct ut_view_filter flt = { .only = only, .nonly = 1 };

	nested_trace(f);
	/* the first inner is depth 0, the one it calls 1; the later top-level inner 0 */
	expect_view(f, &flt, "E1.0.43 E1.1.43 x1.1.43 x1.0.43 E1.0.43 x1.0.43");
	ut_trace_close(f->t);
	assert_int_equal(ut_trace_open(&f->t, f->dir), 0);
	flt = (struct ut_view_filter){ .hide = hide, .nhide = 1 };
	expect_view(f, &flt, "E1.0.43 x1.0.43");
}

static void test_view_tid(void **state)
{
	struct fixture *f = *state;
	pid_t tids[] = { 44 };
	struct ut_view_filter flt = { .tids = tids, .ntids = 1 };

	nested_trace(f);
	expect_view(f, &flt, "E0.0.44 x0.0.44");
}

/* Overwrite `len` bytes of the events file at `off`. */
static void smash(struct fixture *f, off_t off, const void *bytes, size_t len)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/events", f->dir);
	fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, len, off), (ssize_t)len);
	close(fd);
}

static void test_corrupt_record_is_an_error(void **state)
{
	struct fixture *f = *state;
	uint32_t bad_func = 77;
	struct ut_event ev;

	CALL(f, 43, OUTER, 0, 10, 50, {});
	finish_and_open(f);
	ut_trace_close(f->t);
	f->t = NULL;
	/* file header 16, chunk header 16, ts 8: the first record's func */
	smash(f, 16 + 16 + 8, &bad_func, sizeof(bad_func));
	assert_int_equal(ut_trace_open(&f->t, f->dir), 0);
	assert_int_equal(ut_trace_next(f->t, &ev), -EINVAL);
	assert_non_null(strstr(utrace_error_last(), "not in the table"));
	/* and stays an error */
	assert_int_equal(ut_trace_next(f->t, &ev), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metadata_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stats_texts_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unfinished_trace_reads, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view_depth, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view_only_and_hide, setup, teardown),
		cmocka_unit_test_setup_teardown(test_view_tid, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_record_is_an_error, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
