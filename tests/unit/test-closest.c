// SPDX-License-Identifier: MIT
/* Unit tests for lib/elf/closest.c: the names "no function matches" suggests. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "closest.h"

static void closest_ranks_by_distance(void **state)
{
	struct ut_closest c;
	char buf[512];

	ut_closest_init(&c, "mallco");
	ut_closest_add(&c, "free", "libc.so.6");
	ut_closest_add(&c, "calloc", "libc.so.6");
	ut_closest_add(&c, "malloc", "libc.so.6");
	ut_closest_add(&c, "mallco", "libc.so.6"); /* itself: it did not match, never offered */
	ut_closest_add(&c, "malloc", "libx.so"); /* the same name again */
	ut_closest_add(&c, "realloc", "libc.so.6");
	assert_int_equal(c.n, 2);
	assert_string_equal(c.v[0].name, "malloc");
	assert_int_equal(c.v[0].dist, 2);
	assert_string_equal(c.v[1].name, "calloc");
	ut_closest_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "'malloc' (libc.so.6), 'calloc' (libc.so.6)");
}

static void closest_keeps_the_nearest_three(void **state)
{
	static const char *const names[] = { "work_d", "work_a", "work_bb", "wark_a", "work_c" };
	struct ut_closest c;

	ut_closest_init(&c, "work_*a");
	assert_string_equal(c.want, "work_a");
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		ut_closest_add(&c, names[i], "prog");
	assert_int_equal(c.n, 3);
	assert_string_equal(c.v[0].name, "work_d"); /* 1, first seen of the ties */
	assert_string_equal(c.v[1].name, "wark_a");
	assert_string_equal(c.v[2].name, "work_c");
}

/* A name holding the wanted one whole is close however long it is. */
static void closest_takes_containing_names(void **state)
{
	struct ut_closest c;

	ut_closest_init(&c, "step");
	ut_closest_add(&c, "sqlite3_step", "libsqlite3.so.0");
	ut_closest_add(&c, "unrelated_function_name", "libsqlite3.so.0");
	assert_int_equal(c.n, 1);
	assert_string_equal(c.v[0].name, "sqlite3_step");
}

static void closest_none_far_or_empty(void **state)
{
	struct ut_closest c;
	char buf[16] = "x";

	ut_closest_init(&c, "*");
	ut_closest_add(&c, "main", "prog");
	assert_int_equal(c.n, 0);
	ut_closest_init(&c, "abcdefgh");
	ut_closest_add(&c, "zyxwvuts", "prog");
	assert_int_equal(c.n, 0);
	ut_closest_format(&c, buf, sizeof(buf));
	assert_string_equal(buf, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(closest_ranks_by_distance),
		cmocka_unit_test(closest_keeps_the_nearest_three),
		cmocka_unit_test(closest_takes_containing_names),
		cmocka_unit_test(closest_none_far_or_empty),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
