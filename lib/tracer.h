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
#include <stdint.h>
#include <sys/ptrace.h>
#include <sys/types.h>

#include "arch.h"
#include "utrace/consumer.h"
#include "utrace/maps.h"
#include "utrace/output.h"
#include "utrace/probe.h"
#include "utrace/remote.h"
#include "utrace/session.h"
#include "utrace/shm.h"
#include "utrace/symtab.h"

#define UT_NO_SLOT UINT32_MAX

#define UT_PTRACE_OPTIONS                                                                      \
	(PTRACE_O_TRACECLONE | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACEEXEC | \
	 PTRACE_O_TRACEEXIT | PTRACE_O_TRACEVFORKDONE)

enum ut_thread_state {
	UT_THREAD_NEW, /* auto-attached, its first stop not yet seen */
	UT_THREAD_RUNNING, /* resumed by us */
	UT_THREAD_STOPPED, /* in a ptrace-stop, ours to resume */
	UT_THREAD_EXITING, /* reported PTRACE_EVENT_EXIT and was resumed */
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
	const char *module; /* basename, owned by the probe table */
	uint32_t area; /* index in the session's areas */
	uint8_t stub[UT_STUB_SIZE];
};

struct ut_session {
	struct ut_session_opts opts;
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
	uint64_t entry_bp; /* run: int3 at AT_ENTRY, 0 when none */
	uint8_t entry_orig;

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
	struct ut_func_info *finfo; /* [nprobes], indexed by id */

	struct ut_tsc tsc; /* calibrated when the session begins */
	struct ut_consumer *consumer;
	struct ut_writer *writer;
	int chld_fd; /* signalfd for SIGCHLD: wakes the loop on every ptrace stop */
	uint64_t traps; /* int3 hits answered */

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
/* Resume t unless the world is held (then it stays stopped). */
int ut_thread_release(struct ut_session *s, struct ut_thread *t);
int ut_thread_resume(struct ut_session *s, struct ut_thread *t);
int ut_world_stop(struct ut_session *s);
int ut_world_resume(struct ut_session *s);
/* leader.c: a main thread that exited before the others (a zombie leader) */
bool ut_task_is_zombie(pid_t pid, pid_t tid);
void ut_mm_pid_update(struct ut_session *s);
bool ut_leader_gone_with(const struct ut_session *s, const struct ut_thread *t);
/* Seize every thread listed in /proc/PID/task until the set is stable. */
int ut_attach_all(struct ut_session *s);
/* Wait for one ptrace stop or exit (blocking if `block`) and dispatch it; 0 when none. */
int ut_wait_one(struct ut_session *s, bool block);

/* events.c */
int ut_handle_status(struct ut_session *s, pid_t tid, int status);

/* inject.c */
int ut_areas_place(struct ut_session *s, const struct ut_maps *maps, const struct ut_modules *mods);
int ut_inject_code(struct ut_session *s, struct ut_remote *r, const struct ut_modules *mods);
int ut_inject_data(struct ut_session *s, struct ut_remote *r);
void ut_inject_undo(struct ut_session *s, struct ut_remote *r);
int ut_write_code(struct ut_session *s);
int ut_slot_create(struct ut_session *s, struct ut_thread *t);
void ut_slot_free(struct ut_session *s, struct ut_thread *t, bool gone);
bool ut_is_ret_tramp(const struct ut_session *s, uint64_t addr);
void ut_release_data(struct ut_session *s);
int ut_restore_returns(struct ut_session *s, pid_t pid, uint32_t slot, uint64_t sp);

/* probes.c */
int ut_probes_plan(struct ut_session *s, const struct ut_maps *maps, const struct ut_modules *mods);
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

/* detach.c */
int ut_detach(struct ut_session *s);
/* A forked child must not run with our probes: clean it and let it go. */
int ut_release_child(struct ut_session *s, struct ut_thread *parent, pid_t child);

/* session.c */
int ut_drain(struct ut_session *s);
/* run: the program's entry point is reached; install the probes. */
int ut_install(struct ut_session *s, pid_t tid);
/* run: after the first exec, stop at AT_ENTRY (ld.so has loaded the libraries by then). */
int ut_set_entry_breakpoint(struct ut_session *s, pid_t tid);
/* The traced program replaced its image (exec): stop tracing it. Returns 1. */
int ut_lost_image(struct ut_session *s, struct ut_thread *t);

#endif
