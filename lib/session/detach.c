// SPDX-License-Identifier: MIT
/*
 * Leaving a process running as it would untraced: its text and return
 * addresses restored, our areas left mapped and idle (docs/ARCHITECTURE.md,
 * "Detach"); and letting go of forked children that we do not follow.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>

#include "arch.h"
#include "procfs.h"
#include "tracer.h"
#include "log.h"
#include "remote.h"
#include "base.h"

#define RUNOUT_MAX_STOPS 64
#define DETACH_DRAIN_NS (10 * 1000000000ULL)

static bool sigtrap_pending(pid_t tid)
{
	uint64_t pending;

	return ut_proc_status_field(tid, "SigPnd:", 16, &pending) == 0 &&
	       (pending & (1ULL << (SIGTRAP - 1)));
}

/*
 * Run one thread (alone) until it stops with ip == `want` after one of our
 * int3s; other signals are kept for delivery at detach.
 */
static int run_until_trap(struct ut_session *s, struct ut_thread *t, uint64_t want1, uint64_t want2,
			  uint64_t *hit)
{
	uint64_t ip;
	int status;

	for (int i = 0; i < RUNOUT_MAX_STOPS; i++) {
		if (ptrace(PTRACE_CONT, t->tid, 0, 0) < 0 ||
		    waitpid(t->tid, &status, __WALL) != t->tid)
			return -ESRCH;
		if (!WIFSTOPPED(status))
			return -ESRCH;
		if ((status >> 16) == 0 && WSTOPSIG(status) == SIGTRAP &&
		    ut_thread_get_ip(t->tid, &ip) == 0) {
			uint64_t bp = arch_breakpoint_addr(ip);

			if (bp == want1 || bp == want2) {
				*hit = bp;
				return ut_thread_set_ip(t->tid, bp);
			}
		}
		/* only what cannot be blocked: never overwrite the signal it stopped for */
		if ((status >> 16) == 0 && WSTOPSIG(status) != SIGTRAP && !t->resume_sig)
			t->resume_sig = WSTOPSIG(status);
	}
	return -EAGAIN;
}

/*
 * run_until_trap with every signal but SIGTRAP blocked (as remote.c runs its
 * syscalls): a signal arriving meanwhile stays pending for after detach.
 * Taken now, it would replace the one the thread already holds for detach
 * (two signals, one lost: s-load's SIGUSR1 and SIGALRM), or run a handler
 * into probes no longer answered.  SIGTRAP stays open: blocking a forced
 * SIGTRAP would reset the program's handler.
 */
static int run_masked_until_trap(struct ut_session *s, struct ut_thread *t, uint64_t want1,
				 uint64_t want2, uint64_t *hit)
{
	uint64_t saved, all_but_trap = ~(1ULL << (SIGTRAP - 1));
	int e;

	if (ptrace(PTRACE_GETSIGMASK, t->tid, sizeof(saved), &saved) < 0 ||
	    ptrace(PTRACE_SETSIGMASK, t->tid, sizeof(all_but_trap), &all_but_trap) < 0)
		return -errno;
	e = run_until_trap(s, t, want1, want2, hit);
	if (ptrace(PTRACE_SETSIGMASK, t->tid, sizeof(saved), &saved) < 0 && e == 0)
		e = -errno;
	return e;
}

/*
 * A thread inside a trampoline or the recorder could finish hijacking a
 * return address after we restored them: let it run to the trampoline's
 * exit first, behind temporary breakpoints.
 */
static int run_out_of_blob(struct ut_session *s, struct ut_thread *t, const struct ut_area *a)
{
	uint64_t exits[2] = { a->addr + a->hdr->entry_exit, a->addr + a->hdr->return_exit };
	uint64_t hit = 0;
	int e = 0;

	for (int i = 0; i < 2 && e == 0; i++)
		e = ut_bp_insert(&s->bps, s->proc.mm_pid, exits[i], UT_BP_EXIT);
	if (e == 0)
		e = run_masked_until_trap(s, t, exits[0], exits[1], &hit);
	else
		e = -EFAULT;
	for (int i = 0; i < 2; i++)
		ut_bp_remove(&s->bps, s->proc.mm_pid, exits[i]);
	return e;
}

/* run's int3 at the entry point of a program executed under us, not reached yet. */
static bool is_entry_bp(const struct ut_session *s, uint64_t addr)
{
	const struct ut_bp *bp = ut_bp_find(&s->bps, addr);

	return bp && bp->kind == UT_BP_ENTRY;
}

/*
 * An int3 hit whose SIGTRAP is still queued behind our interrupt would be
 * delivered after detach and kill the program: take it now and rewind.
 */
static int take_pending_trap(struct ut_session *s, struct ut_thread *t, uint64_t ip)
{
	uint64_t bp = arch_breakpoint_addr(ip), hit;
	const struct ut_probe *p = ut_probe_find(&s->pr, bp);

	if ((ut_rtld_is_brk(s, bp) || is_entry_bp(s, bp)) && sigtrap_pending(t->tid))
		return run_until_trap(s, t, bp, bp, &hit);
	if (!p || (p->kind != UT_PROBE_INT3 && bp == p->addr) || !sigtrap_pending(t->tid))
		return 0;
	return run_masked_until_trap(s, t, bp, bp, &hit);
}

/*
 * Threads in a group-stop too.  A stop signal caught a thread where it
 * was: inside our code (it would finish hijacking a return after we restored
 * them, and return later through the trampoline with no shadow-stack entry:
 * a SIGTRAP), or just past one of our int3s, with the SIGTRAP still queued
 * (get_signal() takes a pending group-stop before it dequeues a signal):
 * either kills the program at SIGCONT once we are gone.  Resumed here, such
 * a thread runs only our code or takes the queued SIGTRAP before any of the
 * program's; detached while its group is stopped, it goes back into the
 * group-stop (__ptrace_unlink() re-arms JOBCTL_STOP_PENDING).
 */
static int settle_thread(struct ut_session *s, struct ut_thread *t)
{
	struct user_regs_struct regs;
	const struct ut_area *a;
	int e = ut_thread_get_regs(t->tid, &regs);

	if (e < 0)
		return e;
	e = take_pending_trap(s, t, arch_regs_ip(&regs));
	if (e < 0 || (e = ut_thread_get_regs(t->tid, &regs)) < 0)
		return e;
	a = ut_blob_code_at(&s->inj, arch_regs_ip(&regs));
	return a ? run_out_of_blob(s, t, a) : 0;
}

static void restore_all_returns(struct ut_session *s)
{
	for (size_t i = 0; i < s->proc.nthreads; i++) {
		struct ut_thread *t = &s->proc.threads[i];
		struct user_regs_struct regs;

		if (t->slot == UT_NO_SLOT || t->state != UT_THREAD_STOPPED ||
		    ut_thread_get_regs(t->tid, &regs) < 0)
			continue;
		ut_restore_returns(&s->inj, s->proc.mm_pid, t->slot, arch_regs_sp(&regs));
	}
}

/*
 * Only stopped threads lose their slot: one that would not stop may still
 * return through a hijacked address, which needs its shadow stack.
 */
static void close_slots(struct ut_session *s)
{
	for (size_t i = 0; i < s->proc.nthreads; i++)
		if (s->proc.threads[i].slot != UT_NO_SLOT &&
		    s->proc.threads[i].state == UT_THREAD_STOPPED)
			ut_slot_free(s, &s->proc.threads[i], UT_SLOT_END_RELEASE);
}

static void unprobe(struct ut_session *s)
{
	__atomic_store_n(&((struct ut_ctl *)s->inj.area)->disabled, 1, __ATOMIC_RELEASE);
	for (size_t i = 0; i < s->proc.nthreads; i++)
		if (s->proc.threads[i].state == UT_THREAD_STOPPED)
			settle_thread(s, &s->proc.threads[i]);
	ut_rtld_remove(s, s->proc.mm_pid);
	ut_probes_remove(&s->pr, s->proc.mm_pid);
	restore_all_returns(s);
	ut_drain(s);
	close_slots(s);
}

/*
 * A program executed under run (or --follow-exec) and let go before its
 * entry point: no probes yet, only our int3 there, which would kill it
 * once we are gone.  What ends tracing (attach's SIGINT) may come at any
 * time, this moment too.
 */
static void unbreak_entry(struct ut_session *s)
{
	const struct ut_bp *bp = ut_bp_of_kind(&s->bps, UT_BP_ENTRY);
	uint64_t ip;

	if (!bp)
		return;
	for (size_t i = 0; i < s->proc.nthreads; i++) {
		struct ut_thread *t = &s->proc.threads[i];

		if (t->state == UT_THREAD_STOPPED && ut_thread_get_ip(t->tid, &ip) == 0)
			take_pending_trap(s, t, ip);
	}
	ut_bp_remove(&s->bps, s->proc.mm_pid, bp->addr);
}

/*
 * Record no new calls and drain what the rings hold while the
 * program still runs, so that the world is stopped for as short a time as
 * can be.  Once disabled, only the returns of calls in flight are
 * recorded, so the backlog only shrinks; the time limit is for a program
 * that scribbles on its rings.  Threads waiting for room in a full ring go
 * on as it drains (here, and in the drainer).
 */
static void drain_before_stop(struct ut_session *s)
{
	uint64_t start = utrace_monotonic_ns();

	if (!s->injected)
		return;
	__atomic_store_n(&((struct ut_ctl *)s->inj.area)->disabled, 1, __ATOMIC_RELEASE);
	while (ut_drain(s) > 0 && utrace_monotonic_ns() - start < DETACH_DRAIN_NS)
		;
	/*
	 * From here on threads are stopped and stepped out of our code one at
	 * a time, with the drainer's lock held at times: a recorder must not
	 * wait for room then, it drops (a wait would hold up the detach).
	 */
	__atomic_store_n(&((struct ut_ctl *)s->inj.area)->block_ticks, 0, __ATOMIC_RELEASE);
}

/*
 * Stop the world, take our code out of the way, hand every thread back with
 * the signal it was stopped for.  The areas stay mapped in the tracee
 * (threads may still be in a stub); session_fini releases the ring pages.
 */
int ut_detach(struct ut_session *s)
{
	uint64_t start = utrace_monotonic_ns(), stopped;
	int e;

	drain_before_stop(s);
	e = ut_world_stop(&s->proc);

	/* A thread that will not stop is no reason to leave probes behind. */
	if (e < 0)
		ut_warn("%s; detaching anyway", utrace_error_last());
	s->detaching = true;
	if (s->injected)
		unprobe(s);
	else
		unbreak_entry(s);
	for (size_t i = 0; i < s->proc.nthreads; i++) {
		struct ut_thread *t = &s->proc.threads[i];

		if (t->state == UT_THREAD_STOPPED)
			ptrace(PTRACE_DETACH, t->tid, 0, (void *)(long)t->resume_sig);
		else
			ptrace(PTRACE_DETACH, t->tid, 0, 0);
	}
	s->proc.nthreads = 0;
	s->proc.holding = false;
	s->traced = false;
	stopped = utrace_monotonic_ns();
	ut_info("detach: %.3f ms; world stopped %.3f ms", (double)(stopped - start) / NSEC_PER_MSEC,
		(double)(stopped - s->proc.stop_began_ns) / NSEC_PER_MSEC);
	return e;
}

static int wait_child_stop(struct ut_session *s, pid_t child, struct ut_thread **ct)
{
	int status;

	*ct = ut_thread_find(&s->proc, child);
	if (*ct && (*ct)->state == UT_THREAD_STOPPED)
		return 0;
	for (;;) {
		if (waitpid(child, &status, __WALL) != child)
			return -ESRCH;
		if (WIFEXITED(status) || WIFSIGNALED(status))
			return -ESRCH;
		if (WIFSTOPPED(status))
			break;
	}
	*ct = NULL;
	return 0;
}

/* Returns a signal that stopped the child meanwhile (to deliver), or -errno. */
static int unmap_areas(struct ut_session *s, pid_t child)
{
	struct ut_remote r = { 0 };
	int e = utrace_remote_begin(&r, child, 0);

	if (e < 0)
		return e;
	e = ut_areas_unmap(&s->inj, &r);
	utrace_remote_end(&r);
	return e < 0 && !r.pending_sig ? e : r.pending_sig;
}

/*
 * A forked child (not followed) got a copy of our patched text, of the
 * forking thread's stack with its hijacked return addresses, and the same
 * shared data area.  Put all of that back before it runs, then let it go.
 */
int ut_release_child(struct ut_session *s, struct ut_thread *parent, pid_t child)
{
	struct user_regs_struct regs;
	struct ut_thread *ct;
	uint32_t slot = parent ? parent->slot : UT_NO_SLOT;
	int e = wait_child_stop(s, child, &ct);

	if (e < 0)
		goto forget;
	/*
	 * Our breakpoints are in its copy of our memory: the entry point's
	 * (forked before it, in a library constructor) and r_brk's.
	 */
	ut_bp_restore_all(&s->bps, child);
	if (s->injected) {
		ut_probes_remove(&s->pr, child);
		if (slot != UT_NO_SLOT && ut_thread_get_regs(child, &regs) == 0)
			ut_restore_returns(&s->inj, child, slot, arch_regs_sp(&regs));
		e = unmap_areas(s, child);
		if (e < 0)
			ut_warn("child %d: cannot unmap utrace's areas: %s", child, strerror(-e));
	}
	ptrace(PTRACE_DETACH, child, 0, (void *)(long)(e > 0 ? e : 0));
forget:
	ct = ut_thread_find(&s->proc, child);
	if (ct)
		ut_thread_remove(&s->proc, ct);
	return 0;
}
