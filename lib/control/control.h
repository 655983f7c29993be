/* SPDX-License-Identifier: MIT */
/*
 * Process control: the threads of a traced process, how they are stopped,
 * resumed and waited for.  A stop is handed up through the ops the session
 * sets (struct ut_stop_ops); this layer never decides what a stop means.
 */
#ifndef UTRACE_CONTROL_H
#define UTRACE_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>

#define UT_NO_SLOT UINT32_MAX

/* TRACESYSGOOD: the syscall stops of a thread awaiting its TLS are not taken for int3s. */
#define UT_PTRACE_OPTIONS                                                                      \
	(PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | \
	 PTRACE_O_TRACEEXIT | PTRACE_O_TRACEVFORKDONE | PTRACE_O_TRACESYSGOOD)

enum ut_thread_state {
	UT_THREAD_NEW, /* auto-attached, its first stop not yet seen */
	UT_THREAD_RUNNING, /* resumed by us */
	UT_THREAD_STOPPED, /* in a ptrace-stop, ours to resume */
	UT_THREAD_EXITING, /* reported PTRACE_EVENT_EXIT and was resumed */
};

enum ut_key_wait {
	UT_KEY_OWN, /* keyed by its fs base, or has no slot for another reason */
	UT_KEY_NO_TLS, /* fs base 0 and no rdfsbase to tell: counted in ut_ctl.notls_threads */
	UT_KEY_SHARED, /* another thread's fs base: cloned without CLONE_SETTLS */
};

struct ut_thread {
	pid_t tid;
	pid_t pid; /* its thread group: the process's pid, or a vfork child's */
	enum ut_thread_state state;
	int resume_sig; /* signal to deliver when resumed */
	bool group_stop; /* in a group-stop: resumed with PTRACE_LISTEN */
	bool interrupted; /* a PTRACE_INTERRUPT of ours may still be pending */
	bool vfork_child; /* shares our memory until it execs or exits */
	bool exiting; /* reported PTRACE_EVENT_EXIT: will not stop again */
	bool in_vfork; /* waiting for its vfork child: cannot stop until then */
	/*
	 * Its fs base cannot key a slot (inject.c): resumed with PTRACE_SYSCALL
	 * until a syscall stop shows one of its own.
	 */
	enum ut_key_wait key_wait;
	uint64_t shared_key; /* UT_KEY_SHARED: the fs base it shares */
	uint64_t stack_lo, stack_hi; /* UT_KEY_SHARED: its stack's mapping */
	int stop_event; /* PTRACE_EVENT_* of its present stop, 0 for a signal stop */
	uint32_t slot; /* data area slot, UT_NO_SLOT when none */
};

struct ut_proc;

/*
 * Where the thread table hands what waitpid() reports: the session's event
 * handler (events.c) and its family of followed processes (follow-fork.c),
 * set by the session so that the thread table below never calls them.
 */
struct ut_stop_ops {
	/* the process a stop of `tid` belongs to: p, or a followed one */
	struct ut_proc *(*owner)(struct ut_proc *p, pid_t tid);
	/*
	 * Handle one wait status of `tid`; < 0 ends that session.  It keeps
	 * the thread table true: a stopped thread marked stopped (with its
	 * stop_event), `interrupted` cleared at a PTRACE_EVENT_STOP (else the
	 * next world stop waits for an interrupt that came already), a gone
	 * one removed.
	 */
	int (*handle)(struct ut_proc *p, pid_t tid, int status);
};

/* The traced process: the session's part that this layer keeps. */
struct ut_proc {
	pid_t pid;
	pid_t mm_pid; /* a live task of it for /proc and memory: pid unless a zombie leader */
	bool launched; /* we forked it: its exit status is ours to report */
	bool holding; /* the world is stopped: handlers leave threads stopped */
	const struct ut_stop_ops *stop_ops;
	struct ut_thread *threads;
	size_t nthreads, cap_threads;
	/* what -v reports (CLOCK_MONOTONIC ns) */
	uint64_t stop_began_ns; /* the last world stop began */
	uint64_t stopped_ns; /* from then to the end of the resume that followed */
};

/* tracee.c */
struct ut_thread *ut_thread_find(struct ut_proc *p, pid_t tid);
struct ut_thread *ut_thread_add(struct ut_proc *p, pid_t tid, pid_t pid,
				enum ut_thread_state state);
void ut_thread_remove(struct ut_proc *p, struct ut_thread *t);
int ut_thread_seize(struct ut_proc *p, pid_t tid);
/* A stopped thread's instruction pointer, read or moved (one ptrace call each). */
int ut_thread_get_ip(pid_t tid, uint64_t *ip);
int ut_thread_set_ip(pid_t tid, uint64_t ip);
/* A stopped thread's registers: 0 or -errno. */
int ut_thread_get_regs(pid_t tid, struct user_regs_struct *regs);
/* Resume t unless the world is held (then it stays stopped). */
int ut_thread_release(struct ut_proc *p, struct ut_thread *t);
int ut_thread_resume(struct ut_proc *p, struct ut_thread *t);
int ut_world_stop(struct ut_proc *p);
int ut_world_resume(struct ut_proc *p);
/* leader.c: a main thread that exited before the others (a zombie leader) */
void ut_mm_pid_update(struct ut_proc *p);
bool ut_leader_gone_with(const struct ut_proc *p, const struct ut_thread *t);
/* Seize every thread listed in /proc/PID/task until the set is stable. */
int ut_attach_all(struct ut_proc *p);
/*
 * Wait for one ptrace stop or exit (blocking if `block`) and hand it to
 * p->stop_ops: 1 when one was handed on, 0 when none was waiting, -ECHILD
 * when there is nothing left to wait for.
 */
int ut_wait_one(struct ut_proc *p, bool block);

#endif
