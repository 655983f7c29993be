// SPDX-License-Identifier: MIT
/* Unit tests for lib/elf/filter.c: -f / -N pattern parsing and selection. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "filter.h"
#include "log.h"
#include "symtab.h"

#define INCLUDE false
#define EXCLUDE true
#define MAIN "prog"
#define LIBC "libc.so.6"

static void add_ok(struct ut_filter *f, const char *spec, bool exclude)
{
	assert_int_equal(utrace_filter_add(f, spec, exclude), 0);
}

static void filter_parse_plain_and_module(void **state)
{
	struct ut_filter f = { 0 };

	add_ok(&f, "foo*", INCLUDE);
	add_ok(&f, "libc.so.6:mal*", EXCLUDE);
	assert_int_equal(f.n, 2);
	assert_string_equal(f.v[0].spec, "foo*");
	assert_null(f.v[0].module);
	assert_string_equal(f.v[0].glob, "foo*");
	assert_false(f.v[0].exclude);
	assert_int_equal(f.v[0].matches, 0);
	assert_string_equal(f.v[1].spec, "libc.so.6:mal*");
	assert_string_equal(f.v[1].module, "libc.so.6");
	assert_string_equal(f.v[1].glob, "mal*");
	assert_true(f.v[1].exclude);
	utrace_filter_free(&f);
	assert_null(f.v);
	assert_int_equal(f.n, 0);
}

static void filter_parse_cxx_scope(void **state)
{
	struct ut_filter f = { 0 };

	add_ok(&f, "ns::f", INCLUDE);
	add_ok(&f, "libx.so:ns::f", INCLUDE);
	add_ok(&f, "a::b::c*", INCLUDE);
	add_ok(&f, "lib*:std::vector<int>::*", INCLUDE);
	add_ok(&f, "::global", INCLUDE);
	assert_null(f.v[0].module);
	assert_string_equal(f.v[0].glob, "ns::f");
	assert_string_equal(f.v[1].module, "libx.so");
	assert_string_equal(f.v[1].glob, "ns::f");
	assert_null(f.v[2].module);
	assert_string_equal(f.v[2].glob, "a::b::c*");
	assert_string_equal(f.v[3].module, "lib*");
	assert_string_equal(f.v[3].glob, "std::vector<int>::*");
	assert_null(f.v[4].module);
	assert_string_equal(f.v[4].glob, "::global");
	utrace_filter_free(&f);
}

static void filter_rejects_empty_parts(void **state)
{
	struct ut_filter f = { 0 };

	utrace_error_clear();
	assert_int_equal(utrace_filter_add(&f, "", INCLUDE), -EINVAL);
	assert_string_equal(utrace_error_last(), "-f '': empty function pattern");
	assert_int_equal(utrace_filter_add(&f, ":foo", EXCLUDE), -EINVAL);
	assert_string_equal(utrace_error_last(), "-N ':foo': empty module name before ':'");
	assert_int_equal(utrace_filter_add(&f, "libc.so.6:", INCLUDE), -EINVAL);
	assert_string_equal(utrace_error_last(), "-f 'libc.so.6:': empty function pattern");
	assert_int_equal(f.n, 0);
	assert_null(f.v);
}

static void filter_plain_glob_is_main_only(void **state)
{
	struct ut_filter f = { 0 };

	add_ok(&f, "foo*", INCLUDE);
	assert_true(utrace_filter_select(&f, MAIN, true, "foobar", NULL));
	assert_false(utrace_filter_select(&f, LIBC, false, "foobar", NULL));
	assert_false(utrace_filter_select(&f, MAIN, true, "barfoo", NULL));
	assert_int_equal(f.v[0].matches, 1);
	utrace_filter_free(&f);
}

static void filter_module_glob_on_basename(void **state)
{
	struct ut_filter f = { 0 };

	add_ok(&f, "libc*:malloc", INCLUDE);
	assert_true(utrace_filter_select(&f, LIBC, false, "malloc", NULL));
	assert_false(utrace_filter_select(&f, MAIN, true, "malloc", NULL));
	assert_false(utrace_filter_select(&f, "libm.so.6", false, "malloc", NULL));
	/* The main executable can be named too. */
	add_ok(&f, "pr?g:main", INCLUDE);
	assert_true(utrace_filter_select(&f, MAIN, true, "main", NULL));
	assert_int_equal(f.v[0].matches, 1);
	assert_int_equal(f.v[1].matches, 1);
	utrace_filter_free(&f);
}

static void filter_matches_aliases(void **state)
{
	struct ut_filter f = { 0 };
	char *aliases[] = { "__libc_malloc", "malloc", NULL };
	char *none[] = { NULL };

	add_ok(&f, LIBC ":malloc", INCLUDE);
	assert_true(utrace_filter_select(&f, LIBC, false, "__malloc", aliases));
	assert_false(utrace_filter_select(&f, LIBC, false, "__malloc", none));
	assert_false(utrace_filter_select(&f, LIBC, false, "calloc", NULL));
	assert_int_equal(f.v[0].matches, 1);
	utrace_filter_free(&f);
}

/* A C++ function: its mangled name, its aliases and its demangled name. */
static void filter_matches_demangled_names(void **state)
{
	struct ut_filter f = { 0 };
	char *aliases[] = { "_ZN2ns3Foo3barEl.alias", NULL };
	struct ut_sym sym = { .name = "_ZN2ns3Foo3barEl" };

	sym.demangled = utrace_demangle(sym.name);
	assert_string_equal(sym.demangled, "ns::Foo::bar(long)");
	assert_null(utrace_demangle("main"));
	assert_null(utrace_demangle("_Znot_mangled"));
	assert_string_equal(utrace_sym_display(&sym), "ns::Foo::bar(long)");
	add_ok(&f, "ns::Foo::*", INCLUDE);
	assert_true(utrace_filter_select_sym(&f, MAIN, true, &sym, NULL));
	sym.aliases = aliases;
	assert_true(utrace_filter_select_sym(&f, MAIN, true, &sym, NULL));
	utrace_filter_free(&f);
	add_ok(&f, "_ZN2ns3Foo3bar*", INCLUDE);
	add_ok(&f, "ns::Foo::bar(long)", EXCLUDE);
	assert_false(utrace_filter_select_sym(&f, MAIN, true, &sym, NULL));
	utrace_filter_free(&f);
	add_ok(&f, "*.alias", INCLUDE);
	assert_true(utrace_filter_select_sym(&f, MAIN, true, &sym, NULL));
	utrace_filter_free(&f);
	free(sym.demangled);
}

/* A C++ name's typed forms: what each demangled name gives, as a user types it. */
static void filter_typed_names(void **state)
{
	static const struct {
		const char *mangled, *typed, *bare;
	} cases[] = {
		{ "_Z7throweri", "thrower", NULL },
		{ "_ZNK2ns3Foo3barEi", "ns::Foo::bar", NULL },
		{ "_Z3maxIiET_S0_S0_", "max<int>", "max" },
		{ "_ZN2ns3getIiEEvv", "ns::get<int>", "ns::get" },
		{ "_ZN2ns3FooIiE3getEv", "ns::Foo<int>::get", NULL },
		{ "_ZN3FooclEi", "Foo::operator()", NULL },
		{ "_ZN3FooltERKS_", "Foo::operator<", NULL },
		{ "_ZN3FooptEv", "Foo::operator->", NULL },
		{ "_Znwm", "operator new", NULL },
		{ "_ZN3FoocviEv", "Foo::operator int", NULL },
		{ "_ZN12_GLOBAL__N_13fooEv", "(anonymous namespace)::foo", NULL },
		{ "_ZZ4mainENKUliE_clEi", "main::{lambda(int)#1}::operator()", NULL },
		{ "_Z3fooB5cxx11v", "foo", NULL },
		{ "_ZTV3Foo", NULL, NULL }, /* a vtable: no function */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *d = utrace_demangle(cases[i].mangled);
		char *t = utrace_cxx_typed_name(d, false), *b = utrace_cxx_typed_name(d, true);

		assert_non_null(d);
		if (cases[i].typed)
			assert_string_equal(t, cases[i].typed);
		else
			assert_null(t);
		if (cases[i].bare)
			assert_string_equal(b, cases[i].bare);
		else
			assert_null(b);
		free(d);
		free(t);
		free(b);
	}
}

/* Every overload by its name without parameters; a template by its name without arguments. */
static void filter_matches_typed_names(void **state)
{
	struct ut_filter f = { 0 };
	struct ut_sym one = { .name = "_Z7throweri",
			      .demangled = "thrower(int)",
			      .typed = "thrower" };
	struct ut_sym two = { .name = "_Z7throwerd",
			      .demangled = "thrower(double)",
			      .typed = "thrower" };
	struct ut_sym tpl = { .name = "_Z3maxIiET_S0_S0_",
			      .demangled = "int max<int>(int, int)",
			      .typed = "max<int>",
			      .typed_bare = "max" };

	add_ok(&f, "thrower", INCLUDE);
	add_ok(&f, "max", INCLUDE);
	add_ok(&f, "thrower(double)", EXCLUDE);
	assert_true(utrace_filter_select_sym(&f, MAIN, true, &one, NULL));
	assert_false(utrace_filter_select_sym(&f, MAIN, true, &two, NULL));
	assert_true(utrace_filter_select_sym(&f, MAIN, true, &tpl, NULL));
	assert_int_equal(f.v[0].matches, 2);
	assert_int_equal(f.v[1].matches, 1);
	assert_int_equal(f.v[2].matches, 1);
	utrace_filter_free(&f);
}

/* Events carry the alias the user named; a glob or the preferred name leaves it unset. */
static void filter_tells_the_alias_asked(void **state)
{
	struct ut_filter f = { 0 };
	char *aliases[] = { "_IO_puts", NULL };
	struct ut_sym sym = { .name = "puts", .aliases = aliases };
	const char *asked = "stale";

	add_ok(&f, "_IO_puts", INCLUDE);
	assert_true(utrace_filter_select_sym(&f, MAIN, true, &sym, &asked));
	assert_string_equal(asked, "_IO_puts");
	utrace_filter_free(&f);
	add_ok(&f, "puts", INCLUDE);
	assert_true(utrace_filter_select_sym(&f, MAIN, true, &sym, &asked));
	assert_null(asked);
	utrace_filter_free(&f);
	add_ok(&f, "_IO_put*", INCLUDE);
	assert_true(utrace_filter_select_sym(&f, MAIN, true, &sym, &asked));
	assert_null(asked);
	utrace_filter_free(&f);
}

/* A pattern without module that found nothing in the program applies to every module. */
static void filter_widens_unmatched(void **state)
{
	struct ut_filter f = { 0 };

	add_ok(&f, "main", INCLUDE);
	add_ok(&f, "puts", INCLUDE);
	add_ok(&f, "putc*", EXCLUDE);
	add_ok(&f, LIBC ":malloc", INCLUDE);
	assert_true(utrace_filter_select(&f, MAIN, true, "main", NULL));
	assert_false(utrace_filter_select(&f, LIBC, false, "puts", NULL));
	assert_int_equal(utrace_filter_widen(&f), 1);
	assert_false(f.v[0].anywhere);
	assert_true(f.v[1].anywhere);
	assert_true(f.v[2].anywhere); /* exclusions by name follow */
	assert_false(f.v[3].anywhere);
	assert_true(utrace_filter_wants_module(&f, LIBC, false));
	assert_true(utrace_filter_select(&f, LIBC, false, "puts", NULL));
	assert_false(utrace_filter_select(&f, LIBC, false, "main", NULL));
	assert_string_equal(f.v[1].found_in, LIBC);
	assert_true(utrace_filter_select(&f, "libx.so", false, "puts", NULL));
	assert_string_equal(f.v[1].found_in, LIBC); /* the first */
	assert_int_equal(utrace_filter_widen(&f), 0);
	utrace_filter_free(&f);
}

static void filter_exclusions_win(void **state)
{
	struct ut_filter f = { 0 };
	char *aliases[] = { "bar_alias", NULL };

	add_ok(&f, "bar*", EXCLUDE);
	add_ok(&f, "*", INCLUDE);
	add_ok(&f, LIBC ":*", EXCLUDE);
	assert_true(utrace_filter_select(&f, MAIN, true, "foo", NULL));
	assert_false(utrace_filter_select(&f, MAIN, true, "bar", NULL));
	/* An alias is enough to exclude. */
	assert_false(utrace_filter_select(&f, MAIN, true, "foo2", aliases));
	/* Not included in libc in the first place: the exclusion removes nothing. */
	assert_false(utrace_filter_select(&f, LIBC, false, "free", NULL));
	assert_int_equal(f.v[0].matches, 2);
	assert_int_equal(f.v[1].matches, 3);
	assert_int_equal(f.v[2].matches, 0);
	utrace_filter_free(&f);
}

static void filter_counts_each_pattern(void **state)
{
	struct ut_filter f = { 0 };
	static const char *const names[] = { "fa", "fb", "foo", "g" };

	add_ok(&f, "foo", INCLUDE);
	add_ok(&f, "f[ab]", INCLUDE);
	add_ok(&f, "f*", INCLUDE);
	add_ok(&f, "zzz", INCLUDE);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		utrace_filter_select(&f, MAIN, true, names[i], NULL);
	assert_int_equal(f.v[0].matches, 1);
	assert_int_equal(f.v[1].matches, 2);
	assert_int_equal(f.v[2].matches, 3);
	assert_int_equal(f.v[3].matches, 0);
	utrace_filter_free(&f);
}

static void filter_wants_module(void **state)
{
	struct ut_filter f = { 0 };

	assert_false(utrace_filter_wants_module(&f, MAIN, true));
	add_ok(&f, "libm*:*", EXCLUDE);
	assert_false(utrace_filter_wants_module(&f, "libm.so.6", false));
	add_ok(&f, "foo", INCLUDE);
	assert_true(utrace_filter_wants_module(&f, MAIN, true));
	assert_false(utrace_filter_wants_module(&f, LIBC, false));
	add_ok(&f, "libc*:malloc", INCLUDE);
	assert_true(utrace_filter_wants_module(&f, LIBC, false));
	assert_false(utrace_filter_wants_module(&f, "libm.so.6", false));
	assert_false(utrace_filter_wants_module(&f, "ld-linux-x86-64.so.2", false));
	utrace_filter_free(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(filter_parse_plain_and_module),
		cmocka_unit_test(filter_parse_cxx_scope),
		cmocka_unit_test(filter_rejects_empty_parts),
		cmocka_unit_test(filter_plain_glob_is_main_only),
		cmocka_unit_test(filter_module_glob_on_basename),
		cmocka_unit_test(filter_matches_aliases),
		cmocka_unit_test(filter_matches_demangled_names),
		cmocka_unit_test(filter_typed_names),
		cmocka_unit_test(filter_matches_typed_names),
		cmocka_unit_test(filter_tells_the_alias_asked),
		cmocka_unit_test(filter_widens_unmatched),
		cmocka_unit_test(filter_exclusions_win),
		cmocka_unit_test(filter_counts_each_pattern),
		cmocka_unit_test(filter_wants_module),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
