// SPDX-License-Identifier: MIT
/* Wait statuses of ptraced threads, told apart (stops.h). */
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "stops.h"

/* A syscall stop's signal under PTRACE_O_TRACESYSGOOD. */
#define SYSGOOD_SIGTRAP (SIGTRAP | 0x80)
/* The ptrace event of a stop sits above the stop's signal in the status. */
#define EVENT_SHIFT 16

static enum ut_stop_kind event_kind(int event)
{
	switch (event) {
	case PTRACE_EVENT_STOP:
		return UT_STOP_EVENT_STOP;
	case PTRACE_EVENT_CLONE:
		return UT_STOP_CLONE;
	case PTRACE_EVENT_FORK:
		return UT_STOP_FORK;
	case PTRACE_EVENT_VFORK:
		return UT_STOP_VFORK;
	case PTRACE_EVENT_VFORK_DONE:
		return UT_STOP_VFORK_DONE;
	case PTRACE_EVENT_EXEC:
		return UT_STOP_EXEC;
	case PTRACE_EVENT_EXIT:
		return UT_STOP_EXIT;
	default:
		return UT_STOP_OTHER;
	}
}

struct ut_stop ut_stop_classify(int status)
{
	int event = (status >> EVENT_SHIFT) & 0xff;

	if (WIFEXITED(status))
		return (struct ut_stop){ UT_STOP_EXITED, 0, WEXITSTATUS(status) };
	if (WIFSIGNALED(status))
		return (struct ut_stop){ UT_STOP_KILLED, WTERMSIG(status), 0 };
	if (!WIFSTOPPED(status))
		return (struct ut_stop){ UT_STOP_NONE, 0, 0 };
	if (event)
		return (struct ut_stop){ event_kind(event), WSTOPSIG(status), 0 };
	if (WSTOPSIG(status) == SYSGOOD_SIGTRAP)
		return (struct ut_stop){ UT_STOP_SYSCALL, SIGTRAP, 0 };
	return (struct ut_stop){ UT_STOP_SIGNAL, WSTOPSIG(status), 0 };
}

bool ut_stop_is_group_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}
