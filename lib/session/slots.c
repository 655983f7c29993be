// SPDX-License-Identifier: MIT
/*
 * Threads' slots in the data area: one per traced thread, found by the
 * recorder from the thread's fs base (its key), holding its ring and shadow
 * stack.  A slot is given when the thread is first seen with its TLS, and
 * freed when it ends or is let go, its ring drained into the trace first;
 * the ring of every slot is drained here too (ut_drain), for the drainer
 * thread and for the ptrace loop where it must see a ring empty.
 */
#include <errno.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>

#include "arch.h"
#include "tracer.h"
#include "log.h"

static void stack_bounds(pid_t pid, uint64_t sp, uint64_t *lo, uint64_t *hi)
{
	struct ut_maps maps = { 0 };
	const struct ut_map *m;

	*lo = *hi = 0;
	if (utrace_maps_read(pid, &maps) < 0)
		return;
	m = utrace_maps_find(&maps, sp);
	if (m) {
		*lo = m->start;
		*hi = m->end;
	}
	utrace_maps_free(&maps);
}

static int32_t slot_find_free(struct ut_session *s, uint64_t key)
{
	struct ut_slot *slots = ut_ctl_slots(s->inj.area);
	uint32_t n = s->inj.geo.nslots, h = ut_slot_hash(key, n);

	for (uint32_t i = 0; i < n; i++) {
		uint32_t k = (h + i) & (n - 1);

		if (slots[k].key == UT_SLOT_FREE || slots[k].key == UT_SLOT_DEAD)
			return (int32_t)k;
	}
	return -1;
}

/*
 * A thread whose fs base cannot key a slot waits for one of its own, running
 * from syscall stop to syscall stop (arch_prctl(ARCH_SET_FS), or clone's
 * CLONE_SETTLS in a thread it creates, give it one):
 *
 * - UT_KEY_NO_TLS: fs base 0 and no rdfsbase to tell, where %fs:0 faults.
 *   While such a thread lives, entries read no fs base at all (counted per
 *   function, not recorded).  A process has one thread before its TLS
 *   exists: tracing waits for a few system calls of a static program's
 *   start-up.
 * - UT_KEY_SHARED: another thread's fs base (cloned without CLONE_SETTLS, as
 *   Go's runtime does before it sets its own).  Entries take the owner's slot
 *   only on the owner's stack (UT_SLOT_BY_STACK), or not at all when the two
 *   stacks cannot be told apart (UT_SLOT_NO_ENTRY); the sharer's own entries
 *   find no slot and are counted as such.
 */

/* The live slot keyed `key` of a thread of s other than t, or NULL. */
static struct ut_slot *key_owner(struct ut_session *s, const struct ut_thread *t, uint64_t key)
{
	struct ut_slot *slots = ut_ctl_slots(s->inj.area);

	for (size_t i = 0; i < s->proc.nthreads; i++) {
		const struct ut_thread *o = &s->proc.threads[i];

		if (o != t && o->slot != UT_NO_SLOT && slots[o->slot].key == key)
			return &slots[o->slot];
	}
	return NULL;
}

/* The restrictions (ut_slot_flags) of the slot keyed `key`, for the threads that share it. */
static uint64_t shared_flags(const struct ut_session *s, uint64_t key, uint64_t lo, uint64_t hi)
{
	uint64_t flags = 0;

	for (size_t i = 0; i < s->proc.nthreads; i++) {
		const struct ut_thread *w = &s->proc.threads[i];

		if (w->key_wait != UT_KEY_SHARED || w->shared_key != key)
			continue;
		flags |= UT_SLOT_BY_STACK;
		if (lo >= hi || w->stack_lo >= w->stack_hi ||
		    (w->stack_lo < hi && lo < w->stack_hi))
			flags |= UT_SLOT_NO_ENTRY;
	}
	return flags;
}

static void shared_flags_update(struct ut_session *s, uint64_t key)
{
	struct ut_slot *owner = key_owner(s, NULL, key);

	if (owner)
		__atomic_store_n(&owner->flags,
				 shared_flags(s, key, owner->stack_lo, owner->stack_hi),
				 __ATOMIC_RELEASE);
}

static void key_wait_start(struct ut_session *s, struct ut_thread *t, enum ut_key_wait why,
			   uint64_t key, uint64_t sp)
{
	if (t->key_wait)
		return;
	t->key_wait = why;
	if (why == UT_KEY_NO_TLS) {
		__atomic_add_fetch(&((struct ut_ctl *)s->inj.area)->notls_threads, 1,
				   __ATOMIC_RELEASE);
		ut_info("thread %d has no TLS yet and this CPU cannot read its fs base (no "
			"FSGSBASE): tracing waits until it has",
			t->tid);
		return;
	}
	t->shared_key = key;
	stack_bounds(t->tid, sp, &t->stack_lo, &t->stack_hi);
	shared_flags_update(s, key);
	ut_warn("thread %d shares the TLS of another thread (cloned without CLONE_SETTLS): not "
		"traced until it has its own",
		t->tid);
}

void ut_slot_key_forget(struct ut_session *s, struct ut_thread *t)
{
	enum ut_key_wait why = t->key_wait;

	t->key_wait = UT_KEY_OWN;
	if (!s->inj.area)
		return;
	if (why == UT_KEY_NO_TLS)
		__atomic_sub_fetch(&((struct ut_ctl *)s->inj.area)->notls_threads, 1,
				   __ATOMIC_RELEASE);
	else if (why == UT_KEY_SHARED)
		shared_flags_update(s, t->shared_key);
}

int ut_slot_key_check(struct ut_session *s, struct ut_thread *t)
{
	struct user_regs_struct regs;
	uint64_t key;
	int e;

	if (s->detaching || !s->inj.area)
		return 0;
	e = ut_thread_get_regs(t->tid, &regs);
	if (e < 0)
		return e == -ESRCH ? 0 : e;
	key = arch_regs_fs_base(&regs);
	if (t->key_wait == UT_KEY_NO_TLS ? key == UT_SLOT_FREE :
					   key == t->shared_key && key_owner(s, t, key))
		return 0;
	/* its own now, or another thread's (ut_slot_create() waits again then) */
	ut_slot_key_forget(s, t);
	e = ut_slot_create(s, t);
	if (e == 0 && t->slot != UT_NO_SLOT)
		ut_info("thread %d has TLS of its own: traced from now on", t->tid);
	return e;
}

/*
 * The key of a thread with no TLS yet (fs base 0: a static binary before
 * __libc_setup_tls, as in `run` at its entry point): the early slot, which
 * the recorder finds on that thread's stack and claims when the fs base is
 * set.  Only the recorder's rdfsbase can tell such a thread (%fs:0 faults
 * there): without it, the thread waits for its TLS.  Returns 1 with *key
 * set, 0 when the thread goes without a slot for now.
 */
static int early_key(struct ut_session *s, struct ut_thread *t, uint64_t *key)
{
	if (!arch_has_rdfsbase()) {
		key_wait_start(s, t, UT_KEY_NO_TLS, 0, 0);
		return 0;
	}
	if (((struct ut_ctl *)s->inj.area)->early_slot) {
		ut_warn("thread %d not traced: another thread has no TLS either", t->tid);
		return 0;
	}
	*key = UT_SLOT_EARLY;
	return 1;
}

/*
 * Give a stopped thread its slot, keyed by its fs base.  A thread that finds
 * the table full goes untraced: the recorder counts its events as no_slot.
 */
int ut_slot_create(struct ut_session *s, struct ut_thread *t)
{
	struct user_regs_struct regs;
	struct ut_slot *slot;
	uint64_t key, head;
	int32_t k;
	int e = ut_thread_get_regs(t->tid, &regs);

	if (e < 0)
		return e;
	key = arch_regs_fs_base(&regs);
	if (key == UT_SLOT_FREE) {
		e = early_key(s, t, &key);
		if (e <= 0)
			return e;
	} else if (key <= UT_SLOT_EARLY) {
		return 0;
	} else if (key_owner(s, t, key)) {
		key_wait_start(s, t, UT_KEY_SHARED, key, arch_regs_sp(&regs));
		return 0;
	}
	k = slot_find_free(s, key);
	if (k < 0) {
		ut_warn("thread %d not traced: all %u thread slots in use (--max-threads)", t->tid,
			s->inj.geo.nslots);
		return 0;
	}
	slot = &ut_ctl_slots(s->inj.area)[k];
	/*
	 * The ring keeps counting where the slot's last thread stopped: its
	 * records stay in the ring, and one at a position the new thread has
	 * reserved but not yet written would pass for committed if the
	 * sequence numbers started again at 0.
	 */
	head = __atomic_load_n(&slot->head, __ATOMIC_ACQUIRE);
	head -= head % s->inj.geo.rec_size;
	memset(slot, 0, sizeof(*slot));
	slot->head = slot->tail = head;
	slot->tid = (uint32_t)t->tid;
	slot->pid = (uint32_t)t->pid;
	stack_bounds(t->tid, arch_regs_sp(&regs), &slot->stack_lo, &slot->stack_hi);
	/* before the key: a thread sharing it may be running */
	slot->flags = shared_flags(s, key, slot->stack_lo, slot->stack_hi);
	ut_lock(s);
	utrace_consumer_slot_open(s->consumer, (uint32_t)k, t->pid, t->tid);
	ut_unlock(s);
	ut_output_task(s, t->pid, t->tid);
	__atomic_store_n(&slot->key, key, __ATOMIC_RELEASE);
	if (key == UT_SLOT_EARLY)
		__atomic_store_n(&((struct ut_ctl *)s->inj.area)->early_slot, (uint32_t)k + 1,
				 __ATOMIC_RELEASE);
	t->slot = (uint32_t)k;
	return 0;
}

/* What was delivered, out to the trace; a write error ends the session. */
static void output_flush(struct ut_session *s)
{
	int e = ut_output_flush(s);

	if (e < 0 && !s->failed) {
		ut_error("writing the trace: %s", strerror(-e));
		__atomic_store_n(&s->failed, e, __ATOMIC_RELAXED);
	}
}

/*
 * Drain the thread's ring and free its slot.  The thread must be stopped
 * (and lives on untraced: UT_SLOT_END_RELEASE) or gone.  A killed thread may
 * have died between reserving a record and committing it: that record is
 * left out, not counted as torn.
 */
void ut_slot_free(struct ut_session *s, struct ut_thread *t, enum ut_slot_end how)
{
	struct ut_slot *slot = &ut_ctl_slots(s->inj.area)[t->slot];
	uint64_t start;

	ut_output_task(s, t->pid, t->tid); /* the name it ends with */
	ut_lock(s);
	start = utrace_monotonic_ns();
	if (how == UT_SLOT_END_KILLED)
		utrace_consumer_slot_close_killed(s->consumer, t->slot, ut_output_event, s);
	else if (how == UT_SLOT_END_GONE)
		utrace_consumer_slot_close(s->consumer, t->slot, ut_output_event, s);
	else
		utrace_consumer_slot_release(s->consumer, t->slot, ut_output_event, s);
	s->drain_ns += utrace_monotonic_ns() - start;
	output_flush(s);
	ut_unlock(s);
	/*
	 * A thread that lives on keeps its key.  Stopped in a signal handler,
	 * it may have been interrupted in the return trampoline: once the
	 * handler returns, rec_exit() finds the call's shadow entry by the key
	 * (the shadow stacks outlive the rings), where a freed slot would send
	 * it to the lost-return int3, a SIGTRAP with no tracer left.  New
	 * entries are disabled by then.
	 */
	if (how != UT_SLOT_END_RELEASE)
		__atomic_store_n(&slot->key, UT_SLOT_DEAD, __ATOMIC_RELEASE);
	t->slot = UT_NO_SLOT;
}

int ut_drain(struct ut_session *s)
{
	uint64_t start;
	long n;

	ut_lock(s);
	start = utrace_monotonic_ns();
	n = s->consumer ? utrace_consumer_drain(s->consumer, ut_output_event, s) : 0;
	s->drain_ns += utrace_monotonic_ns() - start;
	output_flush(s);
	ut_unlock(s);
	return (int)n;
}
