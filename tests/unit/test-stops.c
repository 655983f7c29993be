// SPDX-License-Identifier: MIT
/*
 * Tests of lib/control/stops.c: wait statuses told apart, both as the kernel
 * encodes them (built here with the same layout) and as real children
 * report them: an exit, a kill, a signal stop, a syscall stop, a group-stop
 * and the ptrace events utrace asks for.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "stops.h"

/* The kernel's encoding (see wait(2)): a stop is 0x7f, its signal above, its event above that. */
#define STOPPED(sig, event) (0x7f | (sig) << 8 | (event) << 16)
#define EXITED(code) ((code) << 8)
#define KILLED(sig) (sig)
#define CONTINUED 0xffff

static void check(int status, enum ut_stop_kind kind, int sig, int code)
{
	struct ut_stop st = ut_stop_classify(status);

	assert_int_equal(st.kind, kind);
	assert_int_equal(st.sig, sig);
	assert_int_equal(st.code, code);
}

static void stops_encoded(void **state)
{
	check(EXITED(0), UT_STOP_EXITED, 0, 0);
	check(EXITED(42), UT_STOP_EXITED, 0, 42);
	check(KILLED(SIGKILL), UT_STOP_KILLED, SIGKILL, 0);
	check(KILLED(SIGSEGV) | 0x80 /* core dumped */, UT_STOP_KILLED, SIGSEGV, 0);
	check(CONTINUED, UT_STOP_NONE, 0, 0);
	check(STOPPED(SIGUSR1, 0), UT_STOP_SIGNAL, SIGUSR1, 0);
	check(STOPPED(SIGTRAP, 0), UT_STOP_SIGNAL, SIGTRAP, 0);
	check(STOPPED(SIGTRAP | 0x80, 0), UT_STOP_SYSCALL, SIGTRAP, 0);
	check(STOPPED(SIGSTOP, PTRACE_EVENT_STOP), UT_STOP_EVENT_STOP, SIGSTOP, 0);
	check(STOPPED(SIGTRAP, PTRACE_EVENT_STOP), UT_STOP_EVENT_STOP, SIGTRAP, 0);
	check(STOPPED(SIGTRAP, PTRACE_EVENT_CLONE), UT_STOP_CLONE, SIGTRAP, 0);
	check(STOPPED(SIGTRAP, PTRACE_EVENT_FORK), UT_STOP_FORK, SIGTRAP, 0);
	check(STOPPED(SIGTRAP, PTRACE_EVENT_VFORK), UT_STOP_VFORK, SIGTRAP, 0);
	check(STOPPED(SIGTRAP, PTRACE_EVENT_VFORK_DONE), UT_STOP_VFORK_DONE, SIGTRAP, 0);
	check(STOPPED(SIGTRAP, PTRACE_EVENT_EXEC), UT_STOP_EXEC, SIGTRAP, 0);
	check(STOPPED(SIGTRAP, PTRACE_EVENT_EXIT), UT_STOP_EXIT, SIGTRAP, 0);
	check(STOPPED(SIGTRAP, PTRACE_EVENT_SECCOMP), UT_STOP_OTHER, SIGTRAP, 0);
}

static void group_signals(void **state)
{
	assert_true(ut_stop_is_group_signal(SIGSTOP));
	assert_true(ut_stop_is_group_signal(SIGTSTP));
	assert_true(ut_stop_is_group_signal(SIGTTIN));
	assert_true(ut_stop_is_group_signal(SIGTTOU));
	assert_false(ut_stop_is_group_signal(SIGTRAP));
	assert_false(ut_stop_is_group_signal(SIGCONT));
	assert_false(ut_stop_is_group_signal(0));
}

/* ---- real children ------------------------------------------------------ */

/*
 * A child that waits for SIGUSR2 (blocked, taken with sigwait: no handler
 * runs), then does `what`.
 */
enum child_act { ACT_EXIT, ACT_FORK, ACT_RAISE, ACT_GETPID, ACT_EXEC };

static pid_t child_start(enum child_act what)
{
	sigset_t go;
	pid_t pid;
	int sig;

	sigemptyset(&go);
	sigaddset(&go, SIGUSR2);
	sigprocmask(SIG_BLOCK, &go, NULL);
	pid = fork();
	if (pid)
		return pid;
	sigwait(&go, &sig);
	switch (what) {
	case ACT_FORK:
		if (fork() == 0)
			_exit(0);
		_exit(7);
	case ACT_RAISE:
		raise(SIGUSR1);
		_exit(9);
	case ACT_GETPID:
		getpid();
		_exit(0);
	case ACT_EXEC:
		execl("/bin/true", "true", (char *)NULL);
		_exit(127);
	default:
		_exit(3);
	}
}

/* Seize it with the events utrace asks for, and let it go on. */
static void seize_and_go(pid_t pid, long opts)
{
	assert_int_equal(ptrace(PTRACE_SEIZE, pid, 0, (void *)opts), 0);
	assert_int_equal(kill(pid, SIGUSR2), 0);
}

static int wait_status(pid_t pid)
{
	int status;

	assert_int_equal(waitpid(pid, &status, __WALL), pid);
	return status;
}

static struct ut_stop next_stop(pid_t pid)
{
	return ut_stop_classify(wait_status(pid));
}

static void real_exit_and_exit_event(void **state)
{
	pid_t pid = child_start(ACT_EXIT);

	seize_and_go(pid, PTRACE_O_TRACEEXIT);
	assert_int_equal(next_stop(pid).kind, UT_STOP_EXIT);
	assert_int_equal(ptrace(PTRACE_CONT, pid, 0, 0), 0);
	check(wait_status(pid), UT_STOP_EXITED, 0, 3);
}

static void real_signal_and_kill(void **state)
{
	pid_t pid = child_start(ACT_RAISE);
	struct ut_stop st;

	seize_and_go(pid, 0);
	st = next_stop(pid);
	assert_int_equal(st.kind, UT_STOP_SIGNAL);
	assert_int_equal(st.sig, SIGUSR1);
	/* delivered, with its default action: the child dies of it */
	assert_int_equal(ptrace(PTRACE_CONT, pid, 0, (void *)(long)SIGUSR1), 0);
	st = next_stop(pid);
	assert_int_equal(st.kind, UT_STOP_KILLED);
	assert_int_equal(st.sig, SIGUSR1);
}

static void real_syscall_stop(void **state)
{
	pid_t pid = child_start(ACT_GETPID);
	int syscalls = 0;
	struct ut_stop st;

	/* stopped before it is told to go on: its system calls all come as stops */
	assert_int_equal(ptrace(PTRACE_SEIZE, pid, 0, (void *)(long)PTRACE_O_TRACESYSGOOD), 0);
	assert_int_equal(ptrace(PTRACE_INTERRUPT, pid, 0, 0), 0);
	assert_int_equal(next_stop(pid).kind, UT_STOP_EVENT_STOP);
	assert_int_equal(kill(pid, SIGUSR2), 0);
	for (;;) {
		assert_int_equal(ptrace(PTRACE_SYSCALL, pid, 0, 0), 0);
		st = next_stop(pid);
		if (st.kind == UT_STOP_EXITED)
			break;
		assert_int_equal(st.kind, UT_STOP_SYSCALL);
		assert_int_equal(st.sig, SIGTRAP);
		syscalls++;
	}
	assert_true(syscalls >= 3); /* getpid's entry and exit, exit_group's entry */
}

static void real_group_stop(void **state)
{
	pid_t pid = child_start(ACT_EXIT);
	struct ut_stop st;

	assert_int_equal(ptrace(PTRACE_SEIZE, pid, 0, 0), 0);
	assert_int_equal(kill(pid, SIGSTOP), 0);
	st = next_stop(pid); /* the SIGSTOP's delivery */
	assert_int_equal(st.kind, UT_STOP_SIGNAL);
	assert_int_equal(st.sig, SIGSTOP);
	assert_int_equal(ptrace(PTRACE_CONT, pid, 0, (void *)(long)SIGSTOP), 0);
	st = next_stop(pid); /* the group-stop itself */
	assert_int_equal(st.kind, UT_STOP_EVENT_STOP);
	assert_int_equal(st.sig, SIGSTOP);
	assert_true(ut_stop_is_group_signal(st.sig));
	kill(pid, SIGKILL);
	check(wait_status(pid), UT_STOP_KILLED, SIGKILL, 0);
}

static void real_fork_and_exec(void **state)
{
	pid_t pid = child_start(ACT_FORK), grandchild;
	unsigned long msg;
	int status;

	seize_and_go(pid, PTRACE_O_TRACEFORK);
	assert_int_equal(next_stop(pid).kind, UT_STOP_FORK);
	assert_int_equal(ptrace(PTRACE_GETEVENTMSG, pid, 0, &msg), 0);
	grandchild = (pid_t)msg;
	/* the new child is traced from its start: its first stop is an event stop */
	assert_int_equal(next_stop(grandchild).kind, UT_STOP_EVENT_STOP);
	assert_int_equal(ptrace(PTRACE_CONT, grandchild, 0, 0), 0);
	check(wait_status(grandchild), UT_STOP_EXITED, 0, 0);
	assert_int_equal(ptrace(PTRACE_CONT, pid, 0, 0), 0);
	/* the new child's exit sent it SIGCHLD, unless it was already on its way out */
	status = wait_status(pid);
	if (ut_stop_classify(status).kind == UT_STOP_SIGNAL) {
		check(status, UT_STOP_SIGNAL, SIGCHLD, 0);
		assert_int_equal(ptrace(PTRACE_CONT, pid, 0, (void *)(long)SIGCHLD), 0);
		status = wait_status(pid);
	}
	check(status, UT_STOP_EXITED, 0, 7);

	pid = child_start(ACT_EXEC);
	seize_and_go(pid, PTRACE_O_TRACEEXEC);
	assert_int_equal(next_stop(pid).kind, UT_STOP_EXEC);
	assert_int_equal(ptrace(PTRACE_CONT, pid, 0, 0), 0);
	check(wait_status(pid), UT_STOP_EXITED, 0, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(stops_encoded),
		cmocka_unit_test(group_signals),
		cmocka_unit_test(real_exit_and_exit_event),
		cmocka_unit_test(real_signal_and_kill),
		cmocka_unit_test(real_syscall_stop),
		cmocka_unit_test(real_group_stop),
		cmocka_unit_test(real_fork_and_exec),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
