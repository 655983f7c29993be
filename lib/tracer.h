/* SPDX-License-Identifier: MIT */
/*
 * Internal state of a tracing session, shared by the files of lib/ that
 * drive the tracee: tracee.c (threads, stops), events.c (what each stop
 * means), inject.c (data and code areas, thread slots), probes.c (what to
 * patch and how), detach.c, session.c (the loop).
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
#include "breakpoints.h"
#include "utrace/consumer.h"
#include "utrace/maps.h"
#include "utrace/output.h"
#include "utrace/probe.h"
#include "utrace/remote.h"
#include "utrace/session.h"
#include "utrace/shm.h"
#include "utrace/symtab.h"
#include "utrace/trace.h"

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
	pid_t pid; /* its thread group: the session's pid, or a vfork child's */
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

/* One code area: blob copy + stubs, near the module it serves. */
struct ut_area {
	uint64_t addr; /* tracee address */
	size_t size;
	uint64_t stubs; /* tracee address of stub 0 */
	uint64_t sites; /* tracee address of its site table (0: none) */
	uint32_t site_entries;
	uint32_t first_id, nstubs;
	const struct ut_blob_hdr *hdr; /* arch_blob's header */
	uint64_t near; /* an address in the module it serves */
	bool free; /* its library was unloaded: still mapped, no probe uses it (rtld.c) */
};

struct ut_probe {
	uint64_t addr; /* patch point (past endbr64) */
	uint64_t func_addr; /* runtime start of the function */
	uint32_t id;
	uint32_t flags; /* UT_FUNC_* */
	enum ut_probe_kind kind;
	uint8_t displaced; /* bytes from addr its patch covers */
	const char *why; /* static: why an int3 rather than a 5-byte patch */
	bool installed;
	bool broken; /* its stub could not be built at the area's address */
	uint8_t code[2 * ARCH_INSN_MAX]; /* live bytes at func_addr */
	uint8_t ncode;
	const char *name; /* owned by the probe table */
	const char *mangled; /* the symbol when name is demangled (C++), else NULL; owned */
	const char *module; /* basename, owned by the probe table */
	const char *path; /* the module's file, owned; NULL for hidden probes */
	char build_id[41]; /* the module's, hex; "" when none */
	uint32_t area; /* index in the session's areas */
	uint8_t stub[UT_STUB_SIZE];
};

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
	/* guards what the drainer touches (drainer.c); recursive */
	pthread_mutex_t lock;
};

/*
 * Where the thread table hands what waitpid() reports: the session's event
 * handler (events.c) and its family of followed processes (follow-fork.c),
 * set by the session so that the thread table below never calls them.
 */
struct ut_stop_ops {
	/* the session a stop of `tid` belongs to: s, or a followed process's */
	struct ut_session *(*owner)(struct ut_session *s, pid_t tid);
	/*
	 * Handle one wait status of `tid`; < 0 ends that session.  It keeps
	 * the thread table true: a stopped thread marked stopped (with its
	 * stop_event), `interrupted` cleared at a PTRACE_EVENT_STOP (else the
	 * next world stop waits for an interrupt that came already), a gone
	 * one removed.
	 */
	int (*handle)(struct ut_session *s, pid_t tid, int status);
};

struct ut_session {
	struct ut_session_opts opts;
	const struct ut_stop_ops *stop_ops;
	pid_t pid;
	pid_t mm_pid; /* a live task of it for /proc and memory: pid unless a zombie leader */
	bool launched; /* we forked it: its exit status is ours to report */
	bool injected; /* areas exist in the tracee */
	bool holding; /* the world is stopped: handlers leave threads stopped */
	bool detaching; /* traps are rewound, not answered */
	bool traced; /* we are still attached */
	bool exited;
	bool detach_requested; /* attach: a signal asked us to let go */
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

	struct ut_thread *threads;
	size_t nthreads, cap_threads;

	/* data area */
	int memfd;
	void *area; /* our mapping */
	uint64_t area_addr; /* the tracee's mapping */
	struct ut_geometry geo;

	struct ut_area *areas;
	size_t nareas;
	struct ut_probe *probes; /* sorted by addr */
	size_t nprobes;

	struct ut_tsc tsc; /* calibrated when the session begins */
	struct ut_consumer *consumer;
	struct ut_drainer *drainer; /* the root session's; NULL before it starts and in kids */
	int chld_fd; /* signalfd for SIGCHLD: wakes the loop on every ptrace stop */
	uint64_t traps; /* int3 hits answered */
	struct ut_rtld *rtld; /* the dynamic linker's rendezvous (rtld.c), NULL when none */
	const char *no_returns; /* static: why no return is hijacked, NULL when they are */

	/* what -v reports (CLOCK_MONOTONIC ns) */
	uint64_t start_ns; /* the session began */
	uint64_t stop_began_ns; /* the last world stop began */
	uint64_t stopped_ns; /* from then to the end of the resume that followed */
	uint64_t drain_ns; /* spent draining rings and writing the trace */
};

/* tracee.c */
struct ut_thread *ut_thread_find(struct ut_session *s, pid_t tid);
struct ut_thread *ut_thread_add(struct ut_session *s, pid_t tid, pid_t pid,
				enum ut_thread_state state);
void ut_thread_remove(struct ut_session *s, struct ut_thread *t);
int ut_thread_seize(struct ut_session *s, pid_t tid);
/* A stopped thread's instruction pointer, read or moved (one ptrace call each). */
int ut_thread_get_ip(pid_t tid, uint64_t *ip);
int ut_thread_set_ip(pid_t tid, uint64_t ip);
/* A stopped thread's registers: 0 or -errno. */
int ut_thread_get_regs(pid_t tid, struct user_regs_struct *regs);
/* Resume t unless the world is held (then it stays stopped). */
int ut_thread_release(struct ut_session *s, struct ut_thread *t);
int ut_thread_resume(struct ut_session *s, struct ut_thread *t);
int ut_world_stop(struct ut_session *s);
int ut_world_resume(struct ut_session *s);
/* leader.c: a main thread that exited before the others (a zombie leader) */
void ut_mm_pid_update(struct ut_session *s);
bool ut_leader_gone_with(const struct ut_session *s, const struct ut_thread *t);
/* Seize every thread listed in /proc/PID/task until the set is stable. */
int ut_attach_all(struct ut_session *s);
/*
 * Wait for one ptrace stop or exit (blocking if `block`) and hand it to
 * s->stop_ops: 1 when one was handed on, 0 when none was waiting, -ECHILD
 * when there is nothing left to wait for.
 */
int ut_wait_one(struct ut_session *s, bool block);

/* events.c */
int ut_handle_status(struct ut_session *s, pid_t tid, int status);

/* inject.c */
int ut_areas_place(struct ut_session *s, const struct ut_maps *maps, const struct ut_modules *mods);
int ut_inject_code(struct ut_session *s, struct ut_remote *r, const struct ut_modules *mods);
int ut_inject_data(struct ut_session *s, struct ut_remote *r);
/* Unmap every code area and the data area from the process r runs in: the first error. */
int ut_areas_unmap(struct ut_session *s, struct ut_remote *r);
void ut_inject_undo(struct ut_session *s, struct ut_remote *r);
int ut_write_code(struct ut_session *s);
/*
 * What the control block takes from the session, never from the area (the
 * program may have scribbled on it): the layout of the area, the record
 * format, the wait on full rings (--block-timeout, in TSC ticks).
 */
void ut_ctl_set_session(const struct ut_session *s, struct ut_ctl *c);
bool ut_is_ret_tramp(const struct ut_session *s, uint64_t addr);
/* The code area whose trampoline and recorder code holds ip, or NULL. */
const struct ut_area *ut_blob_code_at(const struct ut_session *s, uint64_t ip);
/*
 * A module loaded later: put its probes [first_id, first_id + nstubs) in a
 * code area near it (a free one that fits, or a new one mapped by thread
 * tid), build their stubs and publish them in the data area.  Returns the
 * area's index or -errno.
 */
int ut_area_add(struct ut_session *s, pid_t tid, const struct ut_module *m, uint32_t first_id,
		uint32_t nstubs);
/* The area's library is gone: forget its probes; the area stays mapped for reuse. */
void ut_area_free(struct ut_session *s, struct ut_area *a);
void ut_release_data(struct ut_session *s);
int ut_restore_returns(struct ut_session *s, pid_t pid, uint32_t slot, uint64_t sp);

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

/* probes.c */
/*
 * Probes a plan adds after the user's (utrace's hidden probes on the
 * unwinder, hooks.c): given by the caller, as hooks.c plans with probes.c.
 */
typedef int (*ut_plan_extra_fn)(struct ut_session *s, size_t *cap, const struct ut_modules *mods);
typedef int (*ut_plan_extra_module_fn)(struct ut_session *s, size_t *cap,
				       const struct ut_module *m);
int ut_probes_plan(struct ut_session *s, const struct ut_maps *maps, const struct ut_modules *mods,
		   ut_plan_extra_fn extra);
void ut_probes_build(struct ut_session *s);
void ut_probes_build_area(struct ut_session *s, const struct ut_area *a);
int ut_probes_install(struct ut_session *s, pid_t pid);
int ut_probes_remove(struct ut_session *s, pid_t pid);
void ut_probes_count(const struct ut_session *s, size_t count[UT_PROBE_NKINDS]);
const struct ut_probe *ut_probe_find(const struct ut_session *s, uint64_t addr);
uint64_t ut_probe_translate(const struct ut_session *s, const struct ut_probe *p, uint64_t ip);
uint64_t ut_probe_stub(const struct ut_session *s, const struct ut_probe *p);
uint32_t ut_area_site_entries(const struct ut_session *s, const struct ut_area *a);
void ut_area_sites_fill(const struct ut_session *s, const struct ut_area *a, struct ut_site *table,
			uint32_t entries);
void ut_probes_free(struct ut_session *s);
/* Plan the probes of a module loaded later: appended at [*first, nprobes), sorted, ids = index. */
int ut_probes_plan_module(struct ut_session *s, const struct ut_module *m, size_t *first,
			  ut_plan_extra_module_fn extra);
/* Install probes [first, first + n) only (pid stopped where they could run). */
int ut_probes_install_range(struct ut_session *s, pid_t pid, size_t first, size_t n);
/* Whether any include pattern names a module that is not loaded (yet). */
bool ut_probes_pending(const struct ut_session *s, const struct ut_modules *mods);
/* Planning: a probe for sym (none when refused, with a warning), or a bare one to fill in. */
int ut_probe_add(struct ut_session *s, size_t *cap, const struct ut_module *m,
		 const struct ut_module_facts *facts, enum ut_probe_mode mode,
		 const struct ut_sym *sym, uint64_t bias);
struct ut_probe *ut_probe_append(struct ut_session *s, size_t *cap);
void ut_probe_drop_last(struct ut_session *s);
/* Forget the probes from `first` on (planned, never installed). */
void ut_probes_truncate(struct ut_session *s, size_t first);

/* hooks.c: hidden probes on the unwinder, so that return probes survive exceptions */
int ut_hooks_plan(struct ut_session *s, size_t *cap, const struct ut_modules *mods);
/* Whether a module loaded later may hold the unwinder (worth hooking unasked). */
bool ut_hooks_wanted(const struct ut_session *s, const struct ut_module *m);
/* The same for a module loaded later: its hooks are appended to the probes. */
int ut_hooks_plan_module(struct ut_session *s, size_t *cap, const struct ut_module *m);
int ut_hooks_check(struct ut_session *s);
/* Probes that are hooks only (not the user's functions). */
size_t ut_hooks_count(const struct ut_session *s, size_t first);
/* Return probes are used and no unwinder is hooked yet: one may be dlopened later. */
bool ut_hooks_awaited(const struct ut_session *s);

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
/* The losses into the trace, which is then complete; the live view catches up and stops. */
int ut_output_finish(struct ut_session *s, const struct ut_stats *st);
/*
 * What the drainer touches (each image's consumer, its data area and id
 * map, the family's list of processes, the trace's buffer) may be changed
 * between these; they nest.  The output's lock.
 */
void ut_lock(struct ut_session *s);
void ut_unlock(struct ut_session *s);
/* drainer.c */
/*
 * Start a thread that calls drain(s) again and again, sleeping while it
 * finds nothing (the session's drain locks what it touches): records move
 * from the rings into the trace apart from the ptrace loop.
 */
int ut_drainer_start(struct ut_session *s, long (*drain)(struct ut_session *s));
/* Stop it (records left in the rings stay for the last drains). */
void ut_drainer_stop(struct ut_session *s);

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

#endif
