// SPDX-License-Identifier: MIT
/*
 * Unit tests for arch/x86_64/shstk.c: which /proc/PID/task/TID/status texts
 * say the thread runs with a CET shadow stack.  The samples follow what
 * arch_proc_pid_thread_features() prints (Linux 6.6+): each feature word
 * followed by a space.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "shstk.h"

#define HEAD                    \
	"Name:\ts-shstk\n"      \
	"Umask:\t0022\n"        \
	"State:\tR (running)\n" \
	"Tgid:\t4242\n"         \
	"Pid:\t4243\n"          \
	"TracerPid:\t0\n"       \
	"Seccomp:\t0\n"         \
	"Seccomp_filters:\t0\n" \
	"Speculation_Store_Bypass:\tthread vulnerable\n"
#define TAIL                            \
	"Cpus_allowed:\t3\n"            \
	"Cpus_allowed_list:\t0-1\n"     \
	"voluntary_ctxt_switches:\t1\n" \
	"nonvoluntary_ctxt_switches:\t0\n"

static void shstk_enabled(void **state)
{
	(void)state;
	assert_true(arch_status_has_shstk(HEAD "x86_Thread_features:\tshstk \n"
					       "x86_Thread_features_locked:\t\n" TAIL));
	assert_true(arch_status_has_shstk(HEAD "x86_Thread_features:\tshstk wrss \n"
					       "x86_Thread_features_locked:\tshstk wrss \n" TAIL));
	assert_true(arch_status_has_shstk(HEAD "x86_Thread_features:\twrss shstk \n"
					       "x86_Thread_features_locked:\t\n" TAIL));
	/* the last line, without its newline */
	assert_true(arch_status_has_shstk(HEAD "x86_Thread_features:\tshstk"));
}

static void shstk_not_enabled(void **state)
{
	(void)state;
	/* a kernel without CONFIG_X86_USER_SHADOW_STACK prints no such line */
	assert_false(arch_status_has_shstk(HEAD TAIL));
	assert_false(arch_status_has_shstk(""));
	assert_false(arch_status_has_shstk(HEAD "x86_Thread_features:\t\n"
						"x86_Thread_features_locked:\t\n" TAIL));
	/* locked off, not enabled */
	assert_false(arch_status_has_shstk(HEAD "x86_Thread_features:\t\n"
						"x86_Thread_features_locked:\tshstk \n" TAIL));
	assert_false(arch_status_has_shstk(HEAD "x86_Thread_features:\twrss \n"
						"x86_Thread_features_locked:\tshstk wrss \n" TAIL));
	/* whole words only, on its own line only */
	assert_false(arch_status_has_shstk(HEAD "x86_Thread_features:\tshstkx \n" TAIL));
	assert_false(arch_status_has_shstk(HEAD "x86_Thread_features:\n"
						"Name:\tshstk\n" TAIL));
	assert_false(arch_status_has_shstk(HEAD "Name_x86_Thread_features:\tshstk\n" TAIL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(shstk_enabled),
		cmocka_unit_test(shstk_not_enabled),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
