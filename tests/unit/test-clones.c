// SPDX-License-Identifier: MIT
/* Unit tests for lib/base/clones.c and how -f patterns match clones (lib/elf/filter.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "clones.h"
#include "filter.h"

static void clones_base_of_gcc_and_clang_suffixes(void **state)
{
	(void)state;
	assert_int_equal(utrace_clone_base_len("foo"), 3);
	assert_int_equal(utrace_clone_base_len("foo.constprop.0"), 3);
	assert_int_equal(utrace_clone_base_len("foo.isra.0.constprop.1"), 3);
	assert_int_equal(utrace_clone_base_len("foo.part.0"), 3);
	assert_int_equal(utrace_clone_base_len("foo.lto_priv.0"), 3);
	assert_int_equal(utrace_clone_base_len("foo.llvm.12345678"), 3);
	assert_int_equal(utrace_clone_base_len("foo.localalias"), 3);
	assert_int_equal(utrace_clone_base_len("foo.cold"), 3);
	/* dots that are no clone suffix belong to the name */
	assert_int_equal(utrace_clone_base_len("foo.bar"), 7);
	assert_int_equal(utrace_clone_base_len("foo.bar.part.2"), 7);
	assert_int_equal(utrace_clone_base_len(".part.0"), 7);
	assert_int_equal(utrace_clone_base_len("foo.partial"), 11);
	assert_int_equal(utrace_clone_base_len(""), 0);
}

static void clones_cold_parts_are_no_functions(void **state)
{
	(void)state;
	assert_true(utrace_is_cold_part("foo.cold"));
	assert_true(utrace_is_cold_part("foo.cold.0"));
	assert_true(utrace_is_cold_part("foo.part.0.cold"));
	assert_true(utrace_is_cold_part("foo.constprop.0.cold"));
	assert_false(utrace_is_cold_part("foo"));
	assert_false(utrace_is_cold_part("foo.constprop.0"));
	assert_false(utrace_is_cold_part("cold"));
	assert_false(utrace_is_cold_part("foo.coldness"));
	assert_false(utrace_is_cold_part("foo.bar.coldx"));
}

static bool selects(const char *spec, const char *name)
{
	struct ut_filter f = { 0 };
	bool r;

	assert_int_equal(utrace_filter_add(&f, spec, false), 0);
	r = utrace_filter_select(&f, "prog", true, name, NULL);
	utrace_filter_free(&f);
	return r;
}

/* A pattern without a dot matches a clone by its base name; one with a dot, whole names. */
static void clones_patterns_match_base_names(void **state)
{
	(void)state;
	assert_true(selects("foo", "foo"));
	assert_true(selects("foo", "foo.constprop.0"));
	assert_true(selects("foo", "foo.lto_priv.0"));
	assert_true(selects("foo", "foo.part.0"));
	assert_true(selects("f*", "foo.isra.0"));
	assert_false(selects("foo", "foobar.constprop.0"));
	assert_false(selects("foo", "foo.bar"));
	assert_true(selects("foo.constprop.0", "foo.constprop.0"));
	assert_false(selects("foo.constprop.0", "foo"));
	assert_false(selects("foo.constprop.*", "foo.part.0"));
	assert_true(selects("foo.*", "foo.part.0"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clones_base_of_gcc_and_clang_suffixes),
		cmocka_unit_test(clones_cold_parts_are_no_functions),
		cmocka_unit_test(clones_patterns_match_base_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
