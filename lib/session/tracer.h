/* SPDX-License-Identifier: MIT */
/*
 * The session layer's own: a traced process's state, composed of the lower
 * layers' parts, and what the files of lib/session/ call of each other:
 * events.c (what each stop means), install.c, slots.c, rtld.c (dlopen),
 * follow.c and follow-fork.c (exec, fork), detach.c, retire.c, sink.c (the
 * output), session.c (launch, attach, the loop).
 */
#ifndef UTRACE_TRACER_H
#define UTRACE_TRACER_H

#include <stdbool.h>
#include <stddef.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/user.h>

#include "arch.h"
#include "base.h"
#include "breakpoints.h"
#include "consumer.h"
#include "control.h"
#include "inject.h"
#include "maps.h"
#include "output.h"
#include "patchable.h"
#include "probes.h"
#include "record.h"
#include "remote.h"
#include "session.h"
#include "symtab.h"
#include "trace.h"
#include "tsc.h"
#include "utrace/shm.h"

/*
 * What every image a session traces writes into (sink.c): one trace, the
 * live view of run and attach, one table of functions in which each image's
 * ids are mapped by its gid (names owned here, so that they outlive the
 * image), and the losses counted by the consumers of images that are gone.
 */
struct ut_output {
	struct ut_trace_writer *trace;
	struct ut_writer *writer; /* the live view's; NULL for record */
	struct ut_live *live;
	struct ut_trace_func *funcs;
	struct ut_func_info *infos; /* funcs[i].info, as the writers take them */
	size_t nfuncs, cap_funcs;
	struct ut_stats past; /* threads and func_drops [nfuncs] owned here */
	bool begun; /* the trace has its metadata */
	uint64_t began_ns; /* when it got it: tracing began (--duration counts from here) */
	/* --max-events: events written, and those delivered after the last one, left out */
	uint64_t max_events, written, cut;
	bool full; /* written reached max_events (set by the drainer: atomic) */
	uint64_t duration_ns;
	/* why tracing stopped before the program's end ("after 2s (--duration)"), or "" */
	char stopped[64];
	/* guards what the drainer touches (drainer.c); recursive */
	pthread_mutex_t lock;
};

/*
 * A traced process: the parts the lower layers keep (each takes only its
 * own) and what the session itself adds.
 */
/* --stack: the unwinder of the process, the items of an entry as rewritten (stacks.c) */
struct ut_stacks {
	struct ut_unwinder *unwinder; /* made at the first stack */
	bool no_unwinder; /* the process was gone by then: its stacks stay empty */
	unsigned char *buf;
	size_t len, cap;
};

struct ut_session {
	struct ut_session_opts opts;
	struct ut_proc proc; /* the process and its threads (control.h) */
	struct ut_probes pr; /* the present image's probes and code areas (probes.h) */
	struct ut_inject inj; /* the data area (inject.h) */
	bool injected; /* areas exist in the tracee */
	bool detaching; /* traps are rewound, not answered */
	bool traced; /* we are still attached */
	bool exited;
	/* attach: a signal asked us to let go; run and attach: a limit was reached */
	bool detach_requested;
	int failed; /* -errno that ends the session */
	int exit_status; /* raw wait status of the leader */
	struct ut_bps bps; /* breakpoints of ours besides the probes: entry, r_brk, detach's */
	unsigned images; /* programs the process has executed under us (run: the first is ours) */
	/*
	 * [ngid]: each function id of the present image, its index in the
	 * output's table; a library dlopened later gets ids at the table's end,
	 * after those of other processes' images, so the map is not one offset.
	 */
	uint32_t *gid;
	size_t ngid;
	struct ut_output *output;
	struct ut_family *family; /* --follow-fork: the sessions of the followed processes */

	struct ut_tsc tsc; /* calibrated when the session begins */
	struct ut_consumer *consumer;
	struct ut_drainer *drainer; /* the root session's; NULL before it starts and in kids */
	struct ut_stacks stacks; /* used by the drain only */
	int chld_fd; /* signalfd for SIGCHLD: wakes the loop on every ptrace stop */
	uint64_t traps; /* int3 hits answered */
	struct ut_rtld *rtld; /* the dynamic linker's rendezvous (rtld.c), NULL when none */

	/* what -v reports (CLOCK_MONOTONIC ns) */
	uint64_t start_ns; /* the session began */
	uint64_t drain_ns; /* spent draining rings and writing the trace */
};

/* parts.c: point each part at those it reads, give it the options that are its (after s->opts). */
void ut_session_parts_link(struct ut_session *s);

/* The session whose part p is. */
static inline struct ut_session *ut_session_of_proc(struct ut_proc *p)
{
	return ut_container_of(p, struct ut_session, proc);
}

/* events.c */
int ut_handle_status(struct ut_session *s, pid_t tid, int status);

/* slots.c: threads' slots in the data area, and draining their rings into the output */
int ut_slot_create(struct ut_session *s, struct ut_thread *t);
/* How a thread leaves its slot (see ut_slot_free). */
enum ut_slot_end {
	UT_SLOT_END_RELEASE, /* it lives on untraced (detach), stopped outside our code */
	UT_SLOT_END_GONE, /* it exited, or we stop tracing its image */
	UT_SLOT_END_KILLED, /* it was killed anywhere, inside the recorder maybe */
};
void ut_slot_free(struct ut_session *s, struct ut_thread *t, enum ut_slot_end how);
/* A syscall stop of a thread that awaits a key: give it its slot once it has one. */
int ut_slot_key_check(struct ut_session *s, struct ut_thread *t);
/* Thread t goes (exit, exec) while it awaits a key: it holds no one back any more. */
void ut_slot_key_forget(struct ut_session *s, struct ut_thread *t);
/* Move what the rings hold into the trace (under the drainer's lock): events moved. */
int ut_drain(struct ut_session *s);

/* detach.c */
int ut_detach(struct ut_session *s);
/* A forked child must not run with our probes: clean it and let it go. */
int ut_release_child(struct ut_session *s, struct ut_thread *parent, pid_t child);

/* rtld.c: libraries loaded and unloaded at run time (dlopen, dlclose) */
/*
 * Find the dynamic linker's r_debug, before planning (may patterns wait for
 * a library?); again for the new image after an exec.  A session that
 * follows an exec must call ut_rtld_free() at the exec event: our int3 went
 * with the old image.
 */
int ut_rtld_find(struct ut_session *s);
/* After install: set our breakpoint at r_brk when libraries may come or go. */
int ut_rtld_start(struct ut_session *s, bool always);
bool ut_rtld_is_brk(const struct ut_session *s, uint64_t addr);
/* Where the int3 of s is, 0 when none is set. */
uint64_t ut_rtld_brk(const struct ut_session *s);
/* Thread t stopped at our r_brk breakpoint. */
int ut_rtld_hit(struct ut_session *s, struct ut_thread *t);
/* Take our breakpoint out of pid (the process at detach, or a forked copy). */
void ut_rtld_remove(struct ut_session *s, pid_t pid);
/* At the end: say which patterns waited in vain. */
void ut_rtld_report(struct ut_session *s);
void ut_rtld_free(struct ut_session *s);

/* retire.c: the end of an image */
/* Drop everything of the present image, its events written and its losses counted. */
void ut_session_retire(struct ut_session *s);
/* A followed image with nothing to trace: say so, and go on untraced. */
int ut_install_nothing(struct ut_session *s, int err);

/* install.c: the probes into an image */
/* Before the world stops: which functions get which probe, the areas and stubs for them. */
int ut_plan_probes(struct ut_session *s, struct ut_modules *mods);
/* With the world stopped (tid can run our system calls): inject, patch, open the output. */
int ut_install_probes(struct ut_session *s, pid_t tid, const struct ut_modules *mods);
/* -v: what install put in, how long the world was stopped for it. */
void ut_install_log(struct ut_session *s, uint64_t stopped_ns);
/* run: the program's entry point is reached; install the probes. */
int ut_install(struct ut_session *s, pid_t tid);
/* run: after the first exec, stop at AT_ENTRY (ld.so has loaded the libraries by then). */
int ut_set_entry_breakpoint(struct ut_session *s, pid_t tid);
/* The traced program replaced its image (exec): stop tracing it. Returns 1. */
int ut_lost_image(struct ut_session *s, struct ut_thread *t);

/* follow.c */
/* The traced program executed a new one (--follow-exec): trace that from its entry point. */
int ut_exec_follow(struct ut_session *s, struct ut_thread *t);

/* sink.c */
/* The trace (o->trace_dir, or an unnamed one) and, with o->live, the live view. */
struct ut_output *ut_output_new(const struct ut_session_opts *o);
void ut_output_free(struct ut_output *o);
/* The trace's metadata, once the process is known. */
int ut_output_begin(struct ut_session *s);
/* Add the image's functions from id `first` on to the output's table and to s->gid. */
int ut_output_add_funcs(struct ut_session *s, size_t first);
/* An event of the present image, its function id made global. */
int ut_output_event(const struct ut_event *ev, void *session);
/* After a drain: write the events out and wake the live view. */
int ut_output_flush(struct ut_session *s);
/* A thread of the trace and its present name. */
void ut_output_task(struct ut_session *s, pid_t pid, pid_t tid);
/*
 * Whether --max-events or --duration says tracing must stop now (its
 * reason then kept in output->stopped).  The ptrace loop's thread only.
 */
bool ut_output_limit_reached(struct ut_session *s);
/* The losses into the trace, which is then complete; the live view catches up and stops. */
int ut_output_finish(struct ut_session *s, const struct ut_stats *st);
/*
 * What the drainer touches (each image's consumer, its data area and id
 * map, the family's list of processes, the trace's buffer) may be changed
 * between these; they nest.  The output's lock.
 */
void ut_lock(struct ut_session *s);
void ut_unlock(struct ut_session *s);
/* sink-stats.c */
/* The losses of the present image and of those gone, as one table (free with ut_stats_free). */
int ut_output_stats(struct ut_session *s, struct ut_stats *st);
/* The losses of an image that is gone, kept. */
int ut_output_retire_stats(struct ut_session *s, const struct ut_stats *st);
void ut_stats_free(struct ut_stats *st);

/* follow-fork.c */
/* vfork event: the child runs on t's slot until VFORK_DONE, when t gets it back. */
void ut_vfork_lend_slot(struct ut_session *s, struct ut_thread *t, pid_t child);
void ut_vfork_return_slot(struct ut_session *s, struct ut_thread *t);
int ut_family_new(struct ut_session *s);
/* The session whose process tid belongs to (s when there is no family). */
struct ut_session *ut_family_owner(struct ut_session *s, pid_t tid);
/* fork event: trace the child (its own data area) from its first stop. */
int ut_follow_child(struct ut_session *s, struct ut_thread *parent, pid_t child);
/* A vfork child executed a program: trace it as a process of its own.  Returns 1. */
int ut_follow_exec_child(struct ut_session *s, struct ut_thread *t);
/* Send sig to every followed child still there. */
void ut_family_kill(struct ut_session *s, int sig);
/* Followed processes still traced. */
bool ut_family_busy(const struct ut_session *s);
long ut_family_drain(struct ut_session *s);
/* End the sessions of followed processes that exited or were let go. */
void ut_family_reap(struct ut_session *s);
/* Let go of every followed process still traced. */
void ut_family_end(struct ut_session *s);
void ut_family_free(struct ut_session *s);

/* stacks.c: an entry's stack copy replaced by its frames (an event with none is left as it is). */
int ut_stacks_rewrite(struct ut_session *s, struct ut_stacks *st, struct ut_event *ev);
void ut_stacks_free(struct ut_stacks *st);

#endif
