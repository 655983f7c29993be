/* SPDX-License-Identifier: MIT */
/*
 * A test child on two pipes, for the unit tests that run the library
 * against real processes: forked from the test (so it shares its address
 * layout), it runs body(go, report) and exits with what that returns;
 * the test writes to `go` and reads what the child says on `report`.
 */
#ifndef UTRACE_TEST_CHILD_HARNESS_H
#define UTRACE_TEST_CHILD_HARNESS_H

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

struct test_child {
	pid_t pid;
	int go; /* we write: wakes the child */
	int report; /* the child writes: "ready", values */
};

/*
 * cmocka catches crashes and longjmps back into its runner: a crashed
 * child must die instead, not go on running the remaining tests.
 */
static inline void test_child_default_crash_signals(void)
{
	static const int crash[] = { SIGSEGV, SIGILL, SIGFPE, SIGBUS, SIGTRAP, SIGSYS, SIGABRT };

	for (size_t i = 0; i < sizeof(crash) / sizeof(crash[0]); i++)
		signal(crash[i], SIG_DFL);
}

/* Fork the child (it dies with us); pid < 0 when a pipe or the fork failed. */
static inline struct test_child test_child_start(int (*body)(int go, int report))
{
	struct test_child c = { .pid = -1, .go = -1, .report = -1 };
	int go[2], report[2];

	if (pipe2(go, O_CLOEXEC))
		return c;
	if (pipe2(report, O_CLOEXEC)) {
		close(go[0]);
		close(go[1]);
		return c;
	}
	c.pid = fork();
	if (c.pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		test_child_default_crash_signals();
		close(go[1]);
		close(report[0]);
		_exit(body(go[0], report[1]));
	}
	close(go[0]);
	close(report[1]);
	c.go = go[1];
	c.report = report[0];
	return c;
}

#endif
