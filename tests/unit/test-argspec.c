// SPDX-License-Identifier: MIT
/* Unit tests for lib/elf/argspec.c: -A/-R specs and libc's built-in prototypes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "argspec.h"

static void argspec_refuses_malformed(void **state)
{
	static const char *const bad_args[] = {
		"f",	     "@arg1/d",	   "f@",	  "f@arg0/d",	"f@arg7/d",
		"f@arg1/q",  "f@arg1/d12", "f@arg1",	  "f@arg1/",	"f@argx/d",
		"f@arg1/d,", "f@retval/d", "f@arg1/d32x", "f@arg1/s16",
	};
	static const char *const bad_rets[] = { "f@arg1/d", "f@retval/d,retval/u", "f@retval" };
	struct ut_argspecs s = { 0 };

	for (size_t i = 0; i < sizeof(bad_args) / sizeof(bad_args[0]); i++)
		assert_int_equal(utrace_argspec_add(&s, bad_args[i], false), -22);
	for (size_t i = 0; i < sizeof(bad_rets) / sizeof(bad_rets[0]); i++)
		assert_int_equal(utrace_argspec_add(&s, bad_rets[i], true), -22);
	assert_int_equal(s.n, 0);
	utrace_argspec_free(&s);
}

static void argspec_builds_prototypes(void **state)
{
	struct ut_argspecs s = { 0 };
	char *p;

	assert_int_equal(utrace_argspec_add(&s, "work_*@arg1/d32,arg3/s,arg6/x", false), 0);
	assert_int_equal(utrace_argspec_add(&s, "work_b@arg2/u8", false), 0); /* work_* first */
	assert_int_equal(utrace_argspec_add(&s, "work_b@retval/u", true), 0);
	assert_int_equal(utrace_argspec_add(&s, "f?@arg2/c", false), 0);
	p = utrace_argspec_proto(&s, "work_a", NULL);
	assert_string_equal(p, "x,8,0,,;i,4,0,arg1,int;s,8,2,arg3,char *;x,8,5,arg6,");
	free(p);
	p = utrace_argspec_proto(&s, "work_b", "i,4,0,,int;i,4,0,n,int");
	assert_string_equal(p, "u,8,0,,unsigned long;i,4,0,arg1,int;s,8,2,arg3,char *;"
			       "x,8,5,arg6,");
	free(p);
	/* what -A leaves out comes from the base: here its return value, then its arguments */
	p = utrace_argspec_proto(&s, "fx", "i,4,0,,int;i,4,0,n,int");
	assert_string_equal(p, "i,4,0,,int;c,1,1,arg2,char");
	free(p);
	assert_null(utrace_argspec_proto(&s, "main", "i,4,0,,int"));
	assert_null(utrace_argspec_proto(NULL, "main", NULL));
	utrace_argspec_free(&s);
	assert_int_equal(utrace_argspec_add(&s, "g@retval/x16", true), 0);
	p = utrace_argspec_proto(&s, "g", "v,0,-1,,void;p,8,0,q,void *");
	assert_string_equal(p, "x,2,0,,;p,8,0,q,void *");
	free(p);
	utrace_argspec_free(&s);
}

static void argspec_libc_builtins(void **state)
{
	assert_string_equal(utrace_libc_proto("malloc"), "p,8,0,,void *;u,8,0,size,size_t");
	assert_non_null(utrace_libc_proto("mmap"));
	assert_non_null(strstr(utrace_libc_proto("mmap"), "i,8,5,offset,off_t"));
	assert_null(utrace_libc_proto("no_such_function"));
	assert_null(utrace_libc_proto("mallo"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(argspec_refuses_malformed),
		cmocka_unit_test(argspec_builds_prototypes),
		cmocka_unit_test(argspec_libc_builtins),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
