// SPDX-License-Identifier: MIT
/*
 * Putting the probes into an image: plan them (while the program runs, for
 * an attach), inject the code and data areas, patch the functions, give the
 * threads their slots and open the trace's output.  For `run` and a
 * followed exec this happens at the entry breakpoint, with the only thread
 * stopped there.
 */
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/ptrace.h>

#include "arch.h"
#include "procfs.h"
#include "tracer.h"
#include "log.h"
#include "remote.h"
#include "base.h"

int ut_set_entry_breakpoint(struct ut_session *s, pid_t tid)
{
	char exe[PATH_MAX];
	uint64_t entry = 0;
	int e;

	if (!ut_proc_exe_is_elf64(s->proc.pid, EM_X86_64)) {
		ut_warn("process %d executed %s: not an x86-64 program; following it untraced",
			s->proc.pid, ut_proc_exe_name(s->proc.pid, exe, sizeof(exe)));
		return 0;
	}
	e = ut_proc_auxv(tid, AT_ENTRY, &entry);
	if (e == 0)
		e = ut_bp_insert(&s->bps, tid, entry, UT_BP_ENTRY);
	if (e < 0) {
		ut_error("cannot stop process %d at its entry point: %s", tid, strerror(-e));
		return e;
	}
	return 0;
}

static int setup_output(struct ut_session *s)
{
	int e;

	ut_lock(s);
	e = utrace_consumer_new(&s->consumer, s->inj.area, &s->inj.geo, &s->tsc);
	ut_unlock(s);
	if (e == 0)
		e = ut_output_begin(s);
	return e < 0 ? e : ut_output_add_funcs(s, 0);
}

static int give_slots(struct ut_session *s)
{
	for (size_t i = 0; i < s->proc.nthreads; i++) {
		struct ut_thread *t = &s->proc.threads[i];
		int e;

		if (t->pid != s->proc.pid || t->state != UT_THREAD_STOPPED || t->exiting)
			continue;
		e = ut_slot_create(s, t);
		if (e < 0)
			return e;
	}
	return 0;
}

/*
 * Under a seccomp filter our syscalls could kill the process: suspend the
 * filter for the injection when privileged, else refuse.
 */
static int seccomp_guard(struct ut_session *s, pid_t tid, bool suspend)
{
	long opts = UT_PTRACE_OPTIONS | (suspend ? PTRACE_O_SUSPEND_SECCOMP : 0);
	int mode = utrace_seccomp_mode(s->proc.mm_pid);

	if (mode <= 0)
		return 0;
	if (mode == 1) {
		ut_error(
			"process %d runs in strict seccomp mode: utrace cannot inject code into it",
			s->proc.pid);
		return -EPERM;
	}
	if (ptrace(PTRACE_SETOPTIONS, tid, 0, (void *)opts) < 0) {
		ut_error("process %d runs under a seccomp filter; injecting into it needs "
			 "CAP_SYS_ADMIN (run utrace as root)",
			 s->proc.pid);
		return -EPERM;
	}
	return 0;
}

/* A signal that stopped a remote syscall is delivered when the thread resumes. */
static void keep_pending_signal(struct ut_session *s, pid_t tid, int sig)
{
	struct ut_thread *t = ut_thread_find(&s->proc, tid);

	if (sig && t)
		t->resume_sig = sig;
}

static int inject(struct ut_session *s, pid_t tid, const struct ut_modules *mods)
{
	struct ut_remote r = { 0 };
	int e = seccomp_guard(s, tid, true);

	if (e < 0)
		return e;
	e = utrace_remote_begin(&r, tid, 0);
	if (e == 0)
		e = ut_inject_code(&s->inj, &r, mods);
	if (e == 0)
		e = ut_inject_data(&s->inj, &r);
	if (e < 0 && r.active)
		ut_inject_undo(&s->inj, &r);
	utrace_remote_end(&r);
	keep_pending_signal(s, tid, r.pending_sig);
	seccomp_guard(s, tid, false);
	if (e == 0)
		ut_stable_ranges(&s->inj, mods);
	if (e == 0)
		e = ut_write_code(&s->inj);
	return e;
}

/*
 * Before the world stops: which functions get which probe, where the code
 * areas go and the stubs for them.  Loading symbols, decoding modules,
 * reading the live code and relocating is the slow part of an attach; the
 * program runs meanwhile.
 */
int ut_plan_probes(struct ut_session *s, struct ut_modules *mods)
{
	struct ut_maps maps = { 0 };
	char exe[PATH_MAX];
	int e = ut_proc_exe(s->proc.mm_pid, exe, sizeof(exe));

	if (e == 0)
		e = utrace_maps_read(s->proc.mm_pid, &maps);
	if (e == 0)
		e = utrace_modules_from_maps(&maps, exe, mods);
	if (e == 0)
		ut_rtld_find(s); /* none (a static program): patterns cannot wait for libraries */
	if (e == 0)
		e = ut_probes_plan(&s->pr, &maps, mods, ut_hooks_plan);
	if (e == 0)
		e = ut_areas_place(&s->inj, &maps, mods);
	if (e == 0)
		ut_probes_build(&s->pr);
	utrace_maps_free(&maps);
	/* before anything converts a time, and before the world stops */
	utrace_tsc_calibrate(&s->tsc);
	return e;
}

static double ms_since(uint64_t ns)
{
	return (double)(utrace_monotonic_ns() - ns) / NSEC_PER_MSEC;
}

void ut_install_log(struct ut_session *s, uint64_t stopped_ns)
{
	size_t count[UT_PROBE_NKINDS];

	ut_probes_count(&s->pr, count);
	ut_info("install: %zu functions (%zu jmp, %zu call, %zu int3); world stopped %.3f ms; "
		"%.3f ms since start",
		count[UT_PROBE_JMP] + count[UT_PROBE_CALL] + count[UT_PROBE_INT3] +
			count[UT_PROBE_CALLSTUB],
		count[UT_PROBE_JMP] + count[UT_PROBE_CALLSTUB], count[UT_PROBE_CALL],
		count[UT_PROBE_INT3], (double)stopped_ns / NSEC_PER_MSEC, ms_since(s->start_ns));
}

/* With the world stopped: inject our areas and install the planned probes. */
int ut_install_probes(struct ut_session *s, pid_t tid, const struct ut_modules *mods)
{
	int e = inject(s, tid, mods);

	if (e == 0)
		e = setup_output(s);
	if (e == 0)
		e = give_slots(s);
	if (e == 0)
		s->injected = true;
	if (e == 0)
		e = ut_probes_install(&s->pr, s->proc.mm_pid);
	if (e == 0)
		e = ut_rtld_start(s, s->proc.launched);
	if (e == 0)
		e = ut_hooks_check(&s->pr, ut_ctl_funcs(s->inj.area));
	if (e == 0)
		ut_info("%zu functions traced in process %d",
			s->pr.nprobes - ut_hooks_count(&s->pr, 0), s->proc.pid);
	return e;
}

/* The run-mode entry breakpoint: undo it, then install with the only thread stopped. */
int ut_install(struct ut_session *s, pid_t tid)
{
	const struct ut_bp *bp = ut_bp_of_kind(&s->bps, UT_BP_ENTRY);
	uint64_t entry = bp ? bp->addr : 0, stopped = utrace_monotonic_ns();
	struct ut_modules mods = { 0 };
	bool held = s->proc.holding;
	int e;

	e = bp ? ut_bp_remove(&s->bps, tid, entry) : -ENOENT;
	if (e == 0)
		e = ut_thread_set_ip(tid, entry);
	if (e < 0)
		return e;
	s->proc.holding = true;
	s->inj.at_entry = true;
	e = ut_plan_probes(s, &mods);
	if (e == 0)
		e = ut_install_probes(s, tid, &mods);
	utrace_modules_free(&mods);
	s->proc.holding = held;
	/* a program it executes, or with --follow-fork its children, may match */
	if (e < 0 && (s->images > 1 || s->family) && !s->injected)
		return ut_install_nothing(s, e);
	if (e < 0)
		s->failed = e;
	else
		ut_install_log(s, utrace_monotonic_ns() - stopped);
	return e;
}

int ut_lost_image(struct ut_session *s, struct ut_thread *t)
{
	pid_t tid = t->tid;

	ut_warn("process %d executed a new program: tracing stops", s->proc.pid);
	ut_drain(s);
	for (size_t i = 0; i < s->proc.nthreads; i++)
		if (s->proc.threads[i].slot != UT_NO_SLOT)
			ut_slot_free(s, &s->proc.threads[i], UT_SLOT_END_GONE);
	s->injected = false;
	ptrace(PTRACE_DETACH, tid, 0, 0);
	s->proc.nthreads = 0;
	s->traced = false;
	return 1;
}
