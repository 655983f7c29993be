// SPDX-License-Identifier: MIT
/*
 * --follow-fork: the children of the traced process are traced too.
 *
 * Design: one tracer, one session per traced process.  The session `run` or
 * `attach` starts is the family's first; each followed child gets a session
 * of its own (its threads, data area, consumer, probes) that shares the
 * family's output.  Every wait status goes to the session owning its tid,
 * so a single loop answers every process's stops and drains every ring.
 * Handing each child to a forked utrace instead would need the child parked
 * while it changes tracers (a window in which it runs untraced or signals
 * reach it), the handed-over tracer to write whole lines into a shared
 * file, and a second summary merged somehow; in one tracer the output, its
 * function table and the losses stay one.
 *
 * A child made by fork (its own copy of our memory) inherits the patched
 * text, our code areas (private: its own copies), the forking thread's stack
 * with its hijacked return addresses, and the parent's shared data area.
 * Before it runs, a fresh memfd is mapped MAP_FIXED over the inherited
 * mapping, so that the inherited code writes into rings of its own, and the
 * forking thread's slot and shadow stack are copied into it: the child
 * returns through the hijacked frames as the parent would.  Function ids
 * stay the parent's (same image); an exec gives the child ids of its own
 * (follow.c).
 *
 * A child sharing our memory (vfork, posix_spawn, system(), Python's
 * subprocess) keeps running on the parent's probes until it executes a
 * program: with --follow-exec, it becomes a process of its own there, traced
 * from its entry point like any followed exec.
 */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#include "procfs.h"
#include "tracer.h"
#include "log.h"
#include "remote.h"

struct ut_family {
	struct ut_session *first;
	struct ut_session **kids;
	size_t nkids, cap;
};

int ut_family_new(struct ut_session *s)
{
	s->family = calloc(1, sizeof(*s->family));
	if (!s->family)
		return -ENOMEM;
	s->family->first = s;
	return 0;
}

static struct ut_thread *find_in(struct ut_session *s, pid_t tid, struct ut_session **owner)
{
	struct ut_thread *t = ut_thread_find(&s->proc, tid);

	if (t)
		*owner = s;
	return t;
}

/* The thread tid in any session of s's family (its owner in *owner). */
static struct ut_thread *family_thread(struct ut_session *s, pid_t tid, struct ut_session **owner)
{
	struct ut_family *f = s->family;
	struct ut_thread *t = find_in(f->first, tid, owner);

	for (size_t i = 0; !t && i < f->nkids; i++)
		t = find_in(f->kids[i], tid, owner);
	return t;
}

static struct ut_session *session_of_pid(struct ut_family *f, pid_t pid)
{
	if (f->first->proc.pid == pid)
		return f->first;
	for (size_t i = 0; i < f->nkids; i++)
		if (f->kids[i]->proc.pid == pid)
			return f->kids[i];
	return NULL;
}

/*
 * Who handles a stop of tid: the session that knows it; else (a task seen
 * for the first time) its process's, or its parent's for a new child,
 * whose fork event will look for it there.
 */
struct ut_session *ut_family_owner(struct ut_session *s, pid_t tid)
{
	struct ut_session *owner = s;
	uint64_t v;

	if (!s->family || family_thread(s, tid, &owner))
		return owner;
	/*
	 * A leader no longer traced: run's program, let go at a limit, whose
	 * exit a followed child's stop may reap (gone from /proc by then).
	 */
	if ((owner = session_of_pid(s->family, tid)))
		return owner;
	if (ut_proc_status_field(tid, "Tgid:", 10, &v) == 0 &&
	    (owner = session_of_pid(s->family, (pid_t)v)))
		return owner;
	if (ut_proc_status_field(tid, "PPid:", 10, &v) == 0 &&
	    (owner = session_of_pid(s->family, (pid_t)v)))
		return owner;
	return s;
}

/* Under the drainer's lock: it walks the list. */
static int add_kid(struct ut_family *f, struct ut_session *k)
{
	if (f->nkids == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 8;
		struct ut_session **v = realloc(f->kids, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		f->kids = v;
		f->cap = cap;
	}
	f->kids[f->nkids++] = k;
	return 0;
}

/* A session for process pid, sharing the family's output; no image yet. */
static struct ut_session *kid_new(struct ut_session *parent, pid_t pid)
{
	struct ut_session *k = calloc(1, sizeof(*k));
	int e;

	if (!k)
		return NULL;
	k->opts = parent->opts;
	ut_session_parts_link(k);
	k->proc.stop_ops = parent->proc.stop_ops;
	k->proc.pid = k->proc.mm_pid = pid;
	k->traced = true;
	k->inj.memfd = -1;
	k->images = parent->images;
	k->output = parent->output;
	k->tsc = parent->tsc;
	k->chld_fd = parent->chld_fd;
	k->family = parent->family;
	k->start_ns = utrace_monotonic_ns();
	ut_lock(parent);
	e = add_kid(parent->family, k);
	ut_unlock(parent);
	if (e < 0) {
		free(k);
		return NULL;
	}
	return k;
}

/* The child's first stop: already seen (then it is in some table), or waited for now. */
static struct ut_thread *take_child(struct ut_session *s, struct ut_session *k, pid_t tid)
{
	struct ut_session *owner;
	struct ut_thread *t = family_thread(s, tid, &owner), copy = { 0 };
	int status;

	if (t) {
		copy = *t;
		ut_thread_remove(&owner->proc, t);
	} else {
		do {
			if (waitpid(tid, &status, __WALL) != tid || WIFEXITED(status) ||
			    WIFSIGNALED(status))
				return NULL;
		} while (!WIFSTOPPED(status));
		copy.tid = tid;
		copy.stop_event = status >> 16;
	}
	t = ut_thread_add(&k->proc, tid, k->proc.pid, UT_THREAD_STOPPED);
	if (t) {
		t->stop_event = copy.stop_event;
		t->resume_sig = copy.resume_sig;
	}
	return t;
}

static int copy_probes(struct ut_session *k, const struct ut_session *p)
{
	k->pr.probes = calloc(p->pr.nprobes ? p->pr.nprobes : 1, sizeof(*k->pr.probes));
	k->pr.areas = calloc(p->pr.nareas ? p->pr.nareas : 1, sizeof(*k->pr.areas));
	if (!k->pr.probes || !k->pr.areas)
		return -ENOMEM;
	memcpy(k->pr.areas, p->pr.areas, p->pr.nareas * sizeof(*k->pr.areas));
	k->pr.nareas = p->pr.nareas;
	for (size_t i = 0; i < p->pr.nprobes; i++) {
		int e = ut_probe_copy(&k->pr.probes[i], &p->pr.probes[i]);

		k->pr.nprobes = i + 1; /* freed with the table, whole or not */
		if (e < 0)
			return e;
	}
	return 0;
}

/*
 * The child's data area starts as the parent's control block, functions and
 * slots, with only the forking thread's slot alive (its ring empty) and its
 * shadow stack: the child returns through the frames it inherited.
 */
static void copy_area(struct ut_session *k, const struct ut_session *p, uint32_t slot)
{
	struct ut_ctl *c = k->inj.area;
	uint64_t rs_bytes = (uint64_t)k->inj.geo.rstack_depth * sizeof(struct ut_rs_entry);
	struct ut_slot *slots;
	struct ut_func *f;

	/* our geometry, never the area's: the program may have scribbled on it */
	memcpy(k->inj.area, p->inj.area, k->inj.geo.rstacks_off);
	slots = (struct ut_slot *)((char *)c + k->inj.geo.slots_off);
	f = (struct ut_func *)((char *)c + k->inj.geo.funcs_off);
	ut_ctl_set(&k->inj, c);
	c->no_slot = c->lost_return = 0;
	c->notls_threads = 0; /* counted afresh as the child's thread gets its slot */
	for (uint32_t i = 0; i < k->inj.geo.nfuncs; i++)
		f[i].drops = f[i].notls = 0;
	for (uint32_t i = 0; i < k->inj.geo.nslots; i++) {
		if (i == slot || slots[i].key == UT_SLOT_FREE)
			continue;
		slots[i].key = UT_SLOT_DEAD;
	}
	if (slot >= k->inj.geo.nslots)
		return;
	slots[slot].head = slots[slot].tail = 0;
	slots[slot].drops = slots[slot].rs_overflow = 0;
	slots[slot].waits = slots[slot].wait_ticks = 0;
	slots[slot].gave_up = slots[slot].sleepers = slots[slot].stalled = 0;
	if (slots[slot].rs_top > k->inj.geo.rstack_depth)
		slots[slot].rs_top = k->inj.geo.rstack_depth;
	memcpy((char *)c + k->inj.geo.rstacks_off + rs_bytes * slot,
	       (char *)p->inj.area + k->inj.geo.rstacks_off + rs_bytes * slot,
	       slots[slot].rs_top * sizeof(struct ut_rs_entry));
}

/* Give child thread t (stopped at its first stop) a data area of its own. */
static int kid_inject(struct ut_session *k, const struct ut_session *p, struct ut_thread *t,
		      uint32_t slot)
{
	struct ut_remote r = { 0 };
	int e;

	k->inj.area_addr = p->inj.area_addr; /* ut_inject_data maps it there, over the parent's */
	k->inj.geo = p->inj.geo; /* the layout of the area it copies, spare function ids included */
	k->gid = malloc((p->ngid ? p->ngid : 1) * sizeof(*k->gid));
	if (!k->gid)
		return -ENOMEM;
	if (p->ngid)
		memcpy(k->gid, p->gid, p->ngid * sizeof(*k->gid));
	k->ngid = p->ngid;
	e = copy_probes(k, p);
	if (e == 0)
		e = utrace_remote_begin(&r, t->tid, 0);
	if (e == 0)
		e = ut_inject_data(&k->inj, &r);
	utrace_remote_end(&r);
	if (r.pending_sig)
		t->resume_sig = r.pending_sig;
	if (e < 0)
		return e;
	copy_area(k, p, slot);
	ut_lock(k);
	e = utrace_consumer_new(&k->consumer, k->inj.area, &k->inj.geo, &k->tsc);
	if (e == 0)
		utrace_consumer_funcs_used(k->consumer, (uint32_t)k->ngid);
	if (e == 0 && slot != UT_NO_SLOT) {
		utrace_consumer_slot_open(k->consumer, slot, k->proc.pid, t->tid);
		t->slot = slot;
	}
	ut_unlock(k);
	k->injected = e == 0;
	if (e == 0 && slot != UT_NO_SLOT)
		ut_output_task(k, k->proc.pid, t->tid);
	return e;
}

/* The child could not get an area of its own: clean it as an unfollowed one. */
static int give_back(struct ut_session *s, struct ut_session *k, struct ut_thread *parent,
		     pid_t child)
{
	struct ut_thread *t = ut_thread_find(&k->proc, child);
	int sig = t ? t->resume_sig : 0;

	if (t)
		ut_thread_remove(&k->proc, t);
	k->traced = false;
	k->injected = false;
	t = ut_thread_add(&s->proc, child, child, UT_THREAD_STOPPED);
	if (!t)
		return -ENOMEM;
	t->resume_sig = sig;
	return ut_release_child(s, parent, child);
}

/*
 * A vfork child shares our TLS, so it records on its parent's slot while
 * the parent waits in vfork: what the slot holds from the vfork event to
 * VFORK_DONE is the child's, and is labelled so.
 */
void ut_vfork_lend_slot(struct ut_session *s, struct ut_thread *t, pid_t child)
{
	if (!s->consumer || t->slot == UT_NO_SLOT)
		return;
	ut_lock(s);
	ut_drain(s);
	utrace_consumer_slot_lend(s->consumer, t->slot, child, child);
	ut_unlock(s);
}

void ut_vfork_return_slot(struct ut_session *s, struct ut_thread *t)
{
	if (!s->consumer || t->slot == UT_NO_SLOT)
		return;
	ut_lock(s);
	ut_drain(s);
	utrace_consumer_slot_lend(s->consumer, t->slot, t->pid, t->tid);
	ut_unlock(s);
}

/*
 * The child inherited our int3 at r_brk: put its byte back, then let the
 * child's own rendezvous (its link map is the parent's at the fork) set it
 * again, so that its dlopens are followed and never die of our SIGTRAP.
 */
static void kid_rtld(struct ut_session *s, struct ut_session *k)
{
	if (!ut_rtld_brk(s))
		return;
	ut_rtld_remove(s, k->proc.pid);
	if (ut_rtld_find(k) == 0 && ut_rtld_start(k, true) < 0)
		ut_warn("child %d of process %d: its dlopen calls are not followed", k->proc.pid,
			s->proc.pid);
}

int ut_follow_child(struct ut_session *s, struct ut_thread *parent, pid_t child)
{
	uint32_t slot = parent ? parent->slot : UT_NO_SLOT;
	pid_t ptid = parent ? parent->tid : 0;
	struct ut_session *k = kid_new(s, child);
	const struct ut_bp *entry;
	struct ut_thread *t;
	int e;

	if (!k)
		return ut_release_child(s, parent, child);
	t = take_child(s, k, child); /* moves threads: parent is stale */
	parent = ptid ? ut_thread_find(&s->proc, ptid) : NULL;
	if (!t) {
		k->exited = true; /* gone before its first stop */
		return 0;
	}
	/* forked before the parent's entry point: the child's copy of our int3 is its own */
	entry = ut_bp_of_kind(&s->bps, UT_BP_ENTRY);
	if (entry)
		ut_bp_adopt(&k->bps, entry);
	e = s->injected ? kid_inject(k, s, t, slot) : 0;
	if (e < 0) {
		ut_warn("child %d of process %d: %s; not traced", child, s->proc.pid,
			utrace_error_last() ? utrace_error_last() : strerror(-e));
		utrace_error_clear();
		return give_back(s, k, parent, child);
	}
	kid_rtld(s, k);
	ut_info("following child %d of process %d", child, s->proc.pid);
	return ut_thread_release(&k->proc, t);
}

int ut_follow_exec_child(struct ut_session *s, struct ut_thread *t)
{
	pid_t tid = t->tid;
	struct ut_session *k = kid_new(s, tid);
	struct ut_thread *kt;
	int e;

	if (!k)
		return -ENOMEM;
	k->images = 1;
	kt = take_child(s, k, tid);
	if (!kt)
		return -ESRCH;
	e = ut_exec_follow(k, kt);
	if (e < 0) {
		k->failed = e;
		return 1;
	}
	kt = ut_thread_find(&k->proc, tid);
	if (kt)
		ut_thread_release(&k->proc, kt);
	return 1;
}

static bool kid_done(const struct ut_session *k)
{
	return !k->traced || k->exited || k->failed;
}

void ut_family_kill(struct ut_session *s, int sig)
{
	for (size_t i = 0; s->family && i < s->family->nkids; i++)
		if (!s->family->kids[i]->exited)
			kill(s->family->kids[i]->proc.pid, sig);
}

bool ut_family_busy(const struct ut_session *s)
{
	return s->family && s->family->nkids;
}

long ut_family_drain(struct ut_session *s)
{
	long n = ut_drain(s);

	for (size_t i = 0; s->family && i < s->family->nkids; i++)
		n += ut_drain(s->family->kids[i]);
	return n;
}

/* A followed process is gone, or is let go: its output joins the family's, then it is freed. */
static void kid_end(struct ut_session *k)
{
	if (k->traced && !k->exited) {
		if (k->failed)
			ut_warn("process %d: tracing stops (%s)", k->proc.pid,
				strerror(-k->failed));
		ut_detach(k);
	}
	ut_session_retire(k);
}

/*
 * Still in the family while it ends: the stops its detach waits for must be
 * routed to it (a child's parent's session would adopt them otherwise).
 */
static void remove_kid(struct ut_family *f, size_t i)
{
	struct ut_session *k = f->kids[i];

	kid_end(k);
	ut_lock(k);
	for (i = 0; i < f->nkids && f->kids[i] != k; i++)
		;
	f->kids[i] = f->kids[--f->nkids];
	ut_unlock(k);
	free(k->proc.threads);
	free(k);
}

void ut_family_reap(struct ut_session *s)
{
	struct ut_family *f = s->family;

	for (size_t i = 0; f && i < f->nkids;)
		if (kid_done(f->kids[i]))
			remove_kid(f, i);
		else
			i++;
}

void ut_family_end(struct ut_session *s)
{
	struct ut_family *f = s->family;

	while (f && f->nkids)
		remove_kid(f, f->nkids - 1);
}

void ut_family_free(struct ut_session *s)
{
	if (!s->family)
		return;
	ut_family_end(s);
	free(s->family->kids);
	free(s->family);
	s->family = NULL;
}
