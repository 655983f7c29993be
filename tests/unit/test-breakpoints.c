// SPDX-License-Identifier: MIT
/*
 * Tests of lib/control/breakpoints.c on real children: the table of utrace's own
 * breakpoints, written into a stopped child's memory and taken out again,
 * and a forked copy of a child cleaned of them while the table keeps them.
 *
 * The children are forked from this process, so `target` (a writable
 * page standing for code) is at the same address in them; each child only
 * sleeps until it is killed.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "breakpoints.h"
#include "remote.h"

#define NTARGETS 12

/* Distinct bytes (0x10 + i), none an int3: what each breakpoint must give back. */
static uint8_t *target;

static int setup(void **state)
{
	target = mmap(NULL, (size_t)sysconf(_SC_PAGESIZE), PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (target == MAP_FAILED)
		return -1;
	for (int i = 0; i < NTARGETS; i++)
		target[i] = (uint8_t)(0x10 + i);
	return 0;
}

/* A child, seized and stopped: its memory is ours to read and write. */
static pid_t stopped_child(void)
{
	pid_t pid = fork();
	int status;

	if (pid == 0) {
		for (;;)
			pause();
	}
	assert_true(pid > 0);
	assert_int_equal(ptrace(PTRACE_SEIZE, pid, 0, 0), 0);
	assert_int_equal(ptrace(PTRACE_INTERRUPT, pid, 0, 0), 0);
	assert_int_equal(waitpid(pid, &status, __WALL), pid);
	assert_true(WIFSTOPPED(status));
	return pid;
}

static void end_child(pid_t pid)
{
	int status;

	kill(pid, SIGKILL);
	while (waitpid(pid, &status, __WALL) == pid && !WIFEXITED(status) && !WIFSIGNALED(status))
		;
}

static uint8_t byte_in(pid_t pid, int i)
{
	uint8_t b = 0;

	assert_int_equal(utrace_mem_read(pid, (uint64_t)(uintptr_t)&target[i], &b, 1), 0);
	return b;
}

static uint64_t at(int i)
{
	return (uint64_t)(uintptr_t)&target[i];
}

static void insert_find_remove(void **state)
{
	struct ut_bps b = { 0 };
	pid_t pid = stopped_child();

	assert_int_equal(ut_bp_insert(&b, pid, at(0), UT_BP_ENTRY), 0);
	assert_int_equal(ut_bp_insert(&b, pid, at(1), UT_BP_RTLD), 0);
	assert_int_equal(byte_in(pid, 0), arch_breakpoint[0]);
	assert_int_equal(byte_in(pid, 1), arch_breakpoint[0]);
	assert_int_equal(target[0], 0x10); /* the child's copy only */
	assert_int_equal(ut_bp_find(&b, at(1))->kind, UT_BP_RTLD);
	assert_int_equal(ut_bp_of_kind(&b, UT_BP_ENTRY)->addr, at(0));
	assert_null(ut_bp_find(&b, at(2)));
	assert_null(ut_bp_of_kind(&b, UT_BP_EXIT));
	assert_int_equal(ut_bp_insert(&b, pid, at(0), UT_BP_EXIT), -EEXIST);

	assert_int_equal(ut_bp_remove(&b, pid, at(0)), 0);
	assert_int_equal(byte_in(pid, 0), 0x10);
	assert_null(ut_bp_find(&b, at(0)));
	assert_int_equal(ut_bp_find(&b, at(1))->kind, UT_BP_RTLD); /* the other stays */
	assert_int_equal(ut_bp_remove(&b, pid, at(0)), -ENOENT);
	assert_int_equal(ut_bp_remove(&b, pid, at(1)), 0);
	assert_int_equal(byte_in(pid, 1), 0x11);
	assert_int_equal(b.n, 0);
	end_child(pid);
}

/* A byte no longer ours (the program or an exec replaced it) is left as it is. */
static void remove_leaves_a_replaced_byte(void **state)
{
	struct ut_bps b = { 0 };
	pid_t pid = stopped_child();
	uint8_t other = 0x99;

	assert_int_equal(ut_bp_insert(&b, pid, at(2), UT_BP_EXIT), 0);
	assert_int_equal(utrace_mem_write(pid, at(2), &other, 1), 0);
	assert_int_equal(ut_bp_remove(&b, pid, at(2)), 0);
	assert_int_equal(byte_in(pid, 2), 0x99);
	assert_int_equal(b.n, 0);
	end_child(pid);
}

/* The table is full at UT_BP_MAX; an unreadable address is refused and not kept. */
static void full_and_unmapped(void **state)
{
	struct ut_bps b = { 0 };
	pid_t pid = stopped_child();

	assert_true(ut_bp_insert(&b, pid, 8 /* never mapped */, UT_BP_EXIT) < 0);
	assert_int_equal(b.n, 0);
	for (int i = 0; i < UT_BP_MAX; i++)
		assert_int_equal(ut_bp_insert(&b, pid, at(i), UT_BP_EXIT), 0);
	assert_int_equal(ut_bp_insert(&b, pid, at(UT_BP_MAX), UT_BP_EXIT), -ENOSPC);
	assert_int_equal(byte_in(pid, UT_BP_MAX), 0x10 + UT_BP_MAX);
	for (int i = UT_BP_MAX - 1; i >= 0; i--)
		assert_int_equal(ut_bp_remove(&b, pid, at(i)), 0);
	for (int i = 0; i <= UT_BP_MAX; i++)
		assert_int_equal(byte_in(pid, i), 0x10 + i);
	end_child(pid);
}

/* A forked copy: cleaned of every breakpoint, which stay in the table and in the original. */
static void restore_in_a_copy(void **state)
{
	struct ut_bps b = { 0 }, kid = { 0 };
	pid_t pid = stopped_child(), copy = stopped_child();

	/* the copy holds the same int3s, as a fork would leave them */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(ut_bp_insert(&b, pid, at(i), (enum ut_bp_kind)i), 0);
		assert_int_equal(utrace_mem_write(copy, at(i), arch_breakpoint, 1), 0);
	}
	ut_bp_restore(&b, copy, at(1));
	assert_int_equal(byte_in(copy, 1), 0x11);
	assert_int_equal(byte_in(copy, 0), arch_breakpoint[0]);
	ut_bp_restore_all(&b, copy);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(byte_in(copy, i), 0x10 + i);
		assert_int_equal(byte_in(pid, i), arch_breakpoint[0]);
	}
	assert_int_equal(b.n, 3);
	/* a followed copy takes one over: removing it there gives the original byte back */
	assert_int_equal(utrace_mem_write(copy, at(0), arch_breakpoint, 1), 0);
	assert_int_equal(ut_bp_adopt(&kid, ut_bp_of_kind(&b, UT_BP_ENTRY)), 0);
	assert_int_equal(ut_bp_adopt(&kid, ut_bp_of_kind(&b, UT_BP_ENTRY)), -EEXIST);
	assert_int_equal(ut_bp_remove(&kid, copy, at(0)), 0);
	assert_int_equal(byte_in(copy, 0), 0x10);
	for (int i = 0; i < 3; i++)
		assert_int_equal(ut_bp_remove(&b, pid, at(i)), 0);
	end_child(copy);
	end_child(pid);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(insert_find_remove),
		cmocka_unit_test(remove_leaves_a_replaced_byte),
		cmocka_unit_test(full_and_unmapped),
		cmocka_unit_test(restore_in_a_copy),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
