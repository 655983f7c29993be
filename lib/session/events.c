// SPDX-License-Identifier: MIT
/*
 * What a wait status means, and what to do about it.  Every handler leaves
 * the thread to ut_thread_release(): resumed at once, or left stopped while
 * the world is held.  Only our own SIGTRAPs are suppressed; every other
 * signal is delivered on resume.
 */
#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <linux/kcmp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch.h"
#include "procfs.h"
#include "stops.h"
#include "tracer.h"
#include "log.h"
#include "remote.h"

static pid_t tgid_of(pid_t tid)
{
	uint64_t tgid;

	return ut_proc_status_field(tid, "Tgid:", 10, &tgid) == 0 ? (pid_t)tgid : -1;
}

/*
 * A stop from a task we have not heard of: a new thread whose first stop
 * overtook its creator's clone event, or a new child process before its
 * parent's fork event.  Children wait, stopped, for that event.
 */
static struct ut_thread *adopt(struct ut_session *s, pid_t tid)
{
	pid_t tgid = tgid_of(tid);

	return ut_thread_add(&s->proc, tid, tgid > 0 ? tgid : tid, UT_THREAD_NEW);
}

static bool awaits_fork_event(const struct ut_session *s, const struct ut_thread *t)
{
	return t->pid != s->proc.pid && !t->vfork_child;
}

/*
 * Gone with its slot: it had no exit stop, so SIGKILL took it (a group exit,
 * an exec in another thread, a kill -9) wherever it was, in the middle of
 * writing a record maybe.
 */
static int on_gone(struct ut_session *s, struct ut_thread *t, int status)
{
	ut_slot_key_forget(s, t);
	if (t->slot != UT_NO_SLOT)
		ut_slot_free(s, t, UT_SLOT_END_KILLED);
	if (ut_leader_gone_with(&s->proc, t)) {
		s->exited = true;
		s->exit_status = status;
	}
	ut_thread_remove(&s->proc, t);
	ut_mm_pid_update(&s->proc);
	return 0;
}

static const struct ut_area *area_of(const struct ut_session *s, uint64_t addr)
{
	for (size_t i = 0; i < s->pr.nareas; i++)
		if (addr >= s->pr.areas[i].addr && addr < s->pr.areas[i].addr + s->pr.areas[i].size)
			return &s->pr.areas[i];
	return NULL;
}

/*
 * An int3 of ours: send the thread into the stub (or back, when detaching).
 * A trap past the patch point is one of the bytes a 5-byte patch displaced,
 * reached by a return into the middle of it (a signal frame saved there):
 * go on at the same point of the stub.
 */
static int answer_probe(struct ut_session *s, struct ut_thread *t, const struct ut_probe *p,
			uint64_t bp)
{
	uint64_t to = bp == p->addr ? ut_probe_stub(&s->pr, p) : ut_probe_translate(&s->pr, p, bp);

	s->traps++;
	if (s->detaching)
		to = bp;
	if (!to)
		return -EFAULT;
	return ut_thread_set_ip(t->tid, to);
}

static int on_sigtrap(struct ut_session *s, struct ut_thread *t)
{
	const struct ut_probe *p;
	const struct ut_area *a;
	const struct ut_bp *own;
	uint64_t ip = 0, bp;
	int r = ut_thread_get_ip(t->tid, &ip);

	if (r < 0)
		return r == -ESRCH ? 0 : r;
	bp = arch_breakpoint_addr(ip);
	own = ut_bp_find(&s->bps, bp);
	if (own && own->kind == UT_BP_ENTRY)
		return ut_install(s, t->tid);
	if (own && own->kind == UT_BP_RTLD)
		return ut_rtld_hit(s, t);
	p = s->injected ? ut_probe_find(&s->pr, bp) : NULL;
	if (p && (p->kind == UT_PROBE_INT3 || bp != p->addr) && answer_probe(s, t, p, bp) == 0)
		return 0;
	a = s->injected ? area_of(s, bp) : NULL;
	if (a && bp == a->addr + a->hdr->lost_return)
		ut_log(UT_LOG_ERROR,
		       "thread %d returned through utrace's trampoline with no shadow-stack entry; "
		       "its return address is lost",
		       t->tid);
	t->resume_sig = SIGTRAP;
	return 0;
}

static int on_signal_stop(struct ut_session *s, struct ut_thread *t, int sig)
{
	int r = 0;

	if (sig == SIGTRAP)
		r = on_sigtrap(s, t);
	else
		t->resume_sig = sig;
	if (t->resume_sig && t->slot != UT_NO_SLOT && s->consumer) {
		ut_lock(s);
		utrace_consumer_slot_signalled(s->consumer, t->slot);
		ut_unlock(s);
	}
	return r;
}

static int on_event_stop(struct ut_session *s, struct ut_thread *t, int sig, bool was_new)
{
	/* A thread born during a group-stop starts in it. */
	t->group_stop = ut_stop_is_group_signal(sig);
	if (was_new) {
		/* First stop of an auto-attached thread: give it a slot before it runs. */
		if (t->pid == s->proc.pid && s->injected)
			return ut_slot_create(s, t);
		return 0;
	}
	/* Group-stop, or our interrupt / the end of a group-stop (SIGTRAP). */
	t->interrupted = false;
	return 0;
}

/*
 * Whether a new child process shares our memory (vfork, clone(CLONE_VM))
 * rather than having a copy of it; without kcmp(2), the event says.
 */
static bool shares_memory(pid_t parent, pid_t child, enum ut_stop_kind kind)
{
	long r = syscall(SYS_kcmp, parent, child, KCMP_VM, 0, 0);

	if (r >= 0)
		return r == 0;
	return kind != UT_STOP_FORK;
}

/* A child sharing our memory keeps our probes until it execs or exits. */
static int keep_vm_child(struct ut_session *s, struct ut_thread *child, pid_t tid)
{
	if (!child)
		child = ut_thread_add(&s->proc, tid, tid, UT_THREAD_NEW);
	if (!child)
		return -ENOMEM;
	child->vfork_child = true;
	if (child->state == UT_THREAD_STOPPED)
		ut_thread_release(&s->proc, child);
	return 0;
}

/*
 * clone, fork and vfork events.  The new task's first stop may have come
 * first (it is in the table, adopted), or it may even have run and exited
 * already (it is gone: nothing to do).
 */
static int on_new_task(struct ut_session *s, struct ut_thread *t, enum ut_stop_kind kind)
{
	struct ut_thread *child;
	unsigned long msg;
	pid_t tid, tgid, parent = t->tid;

	if (ptrace(PTRACE_GETEVENTMSG, parent, 0, &msg) < 0)
		return 0;
	if (kind == UT_STOP_VFORK)
		t->in_vfork = true; /* until PTRACE_EVENT_VFORK_DONE: it cannot stop */
	tid = (pid_t)msg;
	child = ut_thread_find(&s->proc, tid);
	tgid = tgid_of(tid);
	if (tgid < 0)
		return 0;
	if (tgid == s->proc.pid) {
		if (!child)
			child = ut_thread_add(&s->proc, tid, s->proc.pid, UT_THREAD_NEW);
		return child ? 0 : -ENOMEM;
	}
	if (kind == UT_STOP_VFORK)
		ut_vfork_lend_slot(s, t, tid); /* before keep_vm_child moves t */
	if (shares_memory(parent, tid, kind))
		return keep_vm_child(s, child, tid);
	if (s->family)
		return ut_follow_child(s, ut_thread_find(&s->proc, parent), tid);
	return ut_release_child(s, ut_thread_find(&s->proc, parent), tid);
}

/*
 * Whether the exiting thread is in our trampoline or recorder code: the
 * recorder makes no system calls, so a fatal signal took it there (its
 * registers are where the signal interrupted it), maybe between reserving
 * a record and committing it.
 */
static bool killed_in_recorder(const struct ut_session *s, const struct ut_thread *t)
{
	struct user_regs_struct regs;

	return ut_thread_get_regs(t->tid, &regs) == 0 &&
	       ut_blob_code_at(&s->inj, arch_regs_ip(&regs));
}

/*
 * A thread is about to exit: drain and free its slot while it cannot run.
 * Calls it left suspended on another stack (a fiber another thread may
 * resume) lose their shadow entries with the slot: their return addresses
 * are put back first, or their return would find no entry and nowhere to
 * go.  They are reported unwound.
 */
static int on_exit_event(struct ut_session *s, struct ut_thread *t)
{
	ut_slot_key_forget(s, t);
	if (t->slot != UT_NO_SLOT) {
		enum ut_slot_end how =
			killed_in_recorder(s, t) ? UT_SLOT_END_KILLED : UT_SLOT_END_GONE;

		ut_restore_returns(&s->inj, s->proc.mm_pid, t->slot, UINT64_MAX);
		ut_slot_free(s, t, how);
	}
	t->exiting = true;
	ut_mm_pid_update(&s->proc);
	return 0;
}

static int on_exec(struct ut_session *s, struct ut_thread *t)
{
	ut_slot_key_forget(s, t); /* the new image has a data area of its own */
	if (t->vfork_child || t->pid != s->proc.pid) {
		if (s->family && s->opts.follow_exec)
			return ut_follow_exec_child(s, t);
		/* Its own image now: nothing of ours is in it. */
		ptrace(PTRACE_DETACH, t->tid, 0, 0);
		ut_thread_remove(&s->proc, t);
		return 1;
	}
	if (s->proc.launched && !s->images) {
		s->images = 1; /* our own execv: the program starts */
		return ut_set_entry_breakpoint(s, t->tid);
	}
	if (s->opts.follow_exec)
		return ut_exec_follow(s, t);
	return ut_lost_image(s, t);
}

static int dispatch_event(struct ut_session *s, struct ut_thread *t, const struct ut_stop *stop,
			  bool was_new)
{
	switch (stop->kind) {
	case UT_STOP_SIGNAL:
		return on_signal_stop(s, t, stop->sig);
	case UT_STOP_SYSCALL: /* only threads waiting for their TLS are resumed to one */
		return t->key_wait ? ut_slot_key_check(s, t) : 0;
	case UT_STOP_EVENT_STOP:
		return on_event_stop(s, t, stop->sig, was_new);
	case UT_STOP_CLONE:
	case UT_STOP_FORK:
	case UT_STOP_VFORK:
		return on_new_task(s, t, stop->kind);
	case UT_STOP_VFORK_DONE:
		t->in_vfork = false;
		ut_vfork_return_slot(s, t);
		return 0;
	case UT_STOP_EXEC:
		return on_exec(s, t);
	case UT_STOP_EXIT:
		return on_exit_event(s, t);
	default:
		return 0;
	}
}

/* Returns 0, or s->failed once installing the probes failed (which ends the session). */
int ut_handle_status(struct ut_session *s, pid_t tid, int status)
{
	struct ut_thread *t = ut_thread_find(&s->proc, tid);
	struct ut_stop stop = ut_stop_classify(status);
	bool was_new;
	int r;

	if (!t && !(t = adopt(s, tid)))
		return -ENOMEM;
	if (stop.kind == UT_STOP_EXITED || stop.kind == UT_STOP_KILLED)
		return on_gone(s, t, status);
	if (stop.kind == UT_STOP_NONE)
		return 0;
	was_new = t->state == UT_THREAD_NEW;
	t->state = UT_THREAD_STOPPED;
	t->stop_event = status >> 16;
	/* only a PTRACE_EVENT_STOP can be a group-stop (resumed with PTRACE_LISTEN) */
	if (stop.kind != UT_STOP_EVENT_STOP)
		t->group_stop = false;
	if (was_new && awaits_fork_event(s, t))
		return 0;
	r = dispatch_event(s, t, &stop, was_new);
	if (r > 0) /* the thread is gone from the table */
		return 0;
	/* One thread's trouble is no reason to stop tracing the others. */
	if (r < 0 && !s->failed)
		ut_warn("thread %d: handling stop 0x%x: %s", tid, status, strerror(-r));
	if (s->traced && !s->failed && (t = ut_thread_find(&s->proc, tid)) &&
	    t->state == UT_THREAD_STOPPED)
		ut_thread_release(&s->proc, t);
	return s->failed;
}
