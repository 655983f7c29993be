/* SPDX-License-Identifier: MIT */
/*
 * What a wait status of a ptraced thread is, told apart once: the session's
 * event handler (events.c) acts on the kinds, the tests check them.
 */
#ifndef UTRACE_STOPS_H
#define UTRACE_STOPS_H

#include <stdbool.h>

enum ut_stop_kind {
	UT_STOP_NONE, /* neither a stop nor an end (a continue report) */
	UT_STOP_EXITED, /* the thread is gone: it exited, or ... */
	UT_STOP_KILLED, /* ... a signal killed it (no exit stop: SIGKILL, a group exit) */
	UT_STOP_SIGNAL, /* signal-delivery stop: `sig` is to be delivered, or suppressed */
	UT_STOP_SYSCALL, /* syscall entry or exit (PTRACE_O_TRACESYSGOOD) */
	UT_STOP_EVENT_STOP, /* PTRACE_EVENT_STOP: a group-stop, our interrupt, a new thread */
	UT_STOP_CLONE, /* PTRACE_EVENT_CLONE, _FORK, _VFORK: a new task */
	UT_STOP_FORK,
	UT_STOP_VFORK,
	UT_STOP_VFORK_DONE, /* the vfork child exec'd or exited: the parent runs again */
	UT_STOP_EXEC, /* PTRACE_EVENT_EXEC: a new program */
	UT_STOP_EXIT, /* PTRACE_EVENT_EXIT: about to exit, still stopped with its memory */
	UT_STOP_OTHER, /* a ptrace event we do not ask for */
};

struct ut_stop {
	enum ut_stop_kind kind;
	int sig; /* the signal of a signal, event or syscall stop, or of a kill */
	int code; /* the exit code of UT_STOP_EXITED */
};

struct ut_stop ut_stop_classify(int status);

/* A group-stop's signal (SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU): else an event stop is ours. */
bool ut_stop_is_group_signal(int sig);

#endif
