/* SPDX-License-Identifier: MIT */
/*
 * The recorder's logic, as static functions on an explicit data area, so that
 * the freestanding blob (recorder.c) and hosted unit tests compile the same
 * code.  The includer defines rec_thread_key(): how the current thread's slot
 * key (its fs base) is read.
 *
 * Runs on the traced thread, in the middle of any traced function, possibly
 * interrupted by a signal handler that itself runs traced code: no locks, no
 * syscalls, no "in recorder" flag.  Every shared structure is reserved with
 * one instruction a signal cannot split, then written, then committed.
 */
#ifndef UTRACE_RECORDER_CORE_H
#define UTRACE_RECORDER_CORE_H

#include <stdint.h>
#include <sys/user.h>
#include "utrace/shm.h"

/* The current thread's slot key: its fs base, 0 when it has none yet. */
static uint64_t rec_thread_key(const struct ut_ctl *ctl);
/*
 * The low words of the vector registers xmm0 .. xmm(n-1) as the traced
 * function left them (n <= 8): the recorder itself never touches them.
 */
static void rec_read_xmm(uint64_t *x, uint32_t n);

#define REC_READ(x) (*(volatile __typeof__(x) *)&(x))
#define REC_WRITE(x, v) (*(volatile __typeof__(x) *)&(x) = (v))

static inline void rec_barrier(void)
{
	__asm__ volatile("" ::: "memory");
}

/* A counter only this thread (and its signal handlers) updates: one instruction. */
static inline void rec_inc_local(uint64_t *p)
{
	__asm__ volatile("incq %0" : "+m"(*p)::"cc");
}

/* A counter every thread of the tracee may update. */
static inline void rec_inc_shared(uint64_t *p)
{
	__asm__ volatile("lock incq %0" : "+m"(*p)::"cc");
}

/*
 * Compare-and-exchange without the lock prefix: only this thread and its
 * signal handlers write *p, and a signal cannot split one instruction.
 */
static inline int rec_cmpxchg_local(uint64_t *p, uint64_t old, uint64_t new_val)
{
	uint64_t prev;

	__asm__ volatile("cmpxchgq %2, %1" : "=a"(prev), "+m"(*p) : "r"(new_val), "0"(old) : "cc");
	return prev == old;
}

static inline uint64_t rec_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* The current thread's view of the data area. */
struct rec_thread {
	struct ut_ctl *ctl;
	struct ut_slot *slot;
	struct ut_rs_entry *rs; /* this slot's shadow stack */
	unsigned char *ring; /* this slot's event ring */
};

static void rec_bind_slot(struct ut_ctl *ctl, uint32_t i, struct rec_thread *t)
{
	t->ctl = ctl;
	t->slot = &ut_ctl_slots(ctl)[i];
	t->rs = ut_ctl_rstack(ctl, i);
	t->ring = ut_ctl_ring(ctl, i);
}

/*
 * The early slot: the tracer made it for the one thread that had no TLS yet
 * (a static binary before __libc_setup_tls; threads are only ever created
 * with TLS).  Running on that slot's stack, a thread whose fs base is still
 * 0 uses it, and a thread with an fs base claims it once, for good (the
 * claim takes the fs base it runs with; a lookup by hash then misses and
 * ends here).  `sp` is an address on the running stack.
 */
static int rec_early_slot(struct ut_ctl *ctl, uint64_t key, uint64_t sp, struct rec_thread *t)
{
	uint32_t i = REC_READ(ctl->early_slot);
	struct ut_slot *s;
	uint64_t k;

	if (i == 0 || i > ctl->nslots || key == UT_SLOT_DEAD || key == UT_SLOT_EARLY)
		return 0;
	s = &ut_ctl_slots(ctl)[--i];
	k = REC_READ(s->key);
	if (k == UT_SLOT_EARLY) {
		if (!(sp >= s->stack_lo && sp < s->stack_hi))
			return 0;
		if (key != UT_SLOT_FREE && !__sync_bool_compare_and_swap(&s->key, k, key))
			return 0;
	} else if (k != key || key == UT_SLOT_FREE) {
		return 0;
	}
	rec_bind_slot(ctl, i, t);
	return 1;
}

/*
 * Whether an entry at stack pointer sp may take slot s, whose key matched:
 * while another thread shares the key, only on the slot's own stack.
 */
static int rec_entry_may_bind(const struct ut_slot *s, uint64_t sp)
{
	uint64_t flags = REC_READ(s->flags);

	if (!flags)
		return 1;
	if (flags & UT_SLOT_NO_ENTRY)
		return 0;
	return sp >= s->stack_lo && sp < s->stack_hi;
}

/*
 * Open addressing on the key: past UT_SLOT_DEAD and UT_SLOT_EARLY, up to
 * UT_SLOT_FREE, nslots probes at most; then the early slot.  `entry`: for a
 * function entry (else a return, which may always take its key's slot).
 */
static int rec_find_slot_probing(struct ut_ctl *ctl, uint64_t key, uint64_t sp, int entry,
				 struct rec_thread *t)
{
	uint32_t n = ctl->nslots;
	uint32_t i = ut_slot_hash(key, n);
	uint32_t probes;

	for (probes = 0; key > UT_SLOT_EARLY && probes < n; probes++, i = (i + 1) & (n - 1)) {
		const struct ut_slot *s = &ut_ctl_slots(ctl)[i];
		uint64_t k = REC_READ(s->key);

		if (k == key) {
			if (entry && !rec_entry_may_bind(s, sp))
				return 0;
			rec_bind_slot(ctl, i, t);
			return 1;
		}
		if (k == UT_SLOT_FREE)
			break;
	}
	return rec_early_slot(ctl, key, sp, t);
}

/* The thread's slot: inline for the common case, a hit at the first probe with no flags. */
static inline __attribute__((always_inline)) int
rec_find_slot(struct ut_ctl *ctl, uint64_t key, uint64_t sp, int entry, struct rec_thread *t)
{
	uint32_t i = ut_slot_hash(key, ctl->nslots);
	const struct ut_slot *s = &ut_ctl_slots(ctl)[i];

	if (key > UT_SLOT_EARLY && REC_READ(s->key) == key && !(entry && REC_READ(s->flags))) {
		rec_bind_slot(ctl, i, t);
		return 1;
	}
	return rec_find_slot_probing(ctl, key, sp, entry, t);
}

/* Live shadow entries; a scribbled rs_top never indexes past the stack. */
static inline uint32_t rec_rs_top(const struct rec_thread *t)
{
	uint64_t top = REC_READ(t->slot->rs_top);

	return top < t->ctl->rstack_depth ? (uint32_t)top : t->ctl->rstack_depth;
}

static void rec_count_drop(struct rec_thread *t, uint32_t func)
{
	rec_inc_local(&t->slot->drops);
	if (func < t->ctl->nfuncs)
		rec_inc_shared(&ut_ctl_funcs(t->ctl)[func].drops);
}

#define REC_SYS_FUTEX 202
#define REC_FUTEX_WAIT 0 /* shared: the tracer wakes it through its own mapping */
#define REC_SLEEP_NS 1000000 /* one sleep at most: the timeout is checked between */

struct rec_timespec {
	int64_t sec, nsec;
};

static inline void rec_add_local(uint64_t *p, uint64_t v)
{
	__asm__ volatile("addq %1, %0" : "+m"(*p) : "r"(v) : "cc");
}

/* A full barrier: the store of sleepers is seen before the tail is read again. */
static inline void rec_add_shared(uint64_t *p, int64_t v)
{
	__asm__ volatile("lock addq %1, %0" : "+m"(*p) : "r"(v) : "cc", "memory");
}

static inline void rec_pause(void)
{
	__asm__ volatile("pause" ::: "memory");
}

/*
 * The one syscall the recorder makes, raw (errno untouched, async-signal-
 * safe).  Any error (EINTR for a signal, EAGAIN when the tail moved, a
 * seccomp filter's ENOSYS) just ends this sleep: the caller loops on time.
 */
static inline void rec_futex_wait(uint64_t *tail, uint64_t val)
{
	static const struct rec_timespec slice = { 0, REC_SLEEP_NS };
	register const struct rec_timespec *ts __asm__("r10") = &slice;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((long)REC_SYS_FUTEX), "D"(tail), "S"((long)REC_FUTEX_WAIT),
			   "d"((uint32_t)val), "r"(ts)
			 : "rcx", "r11", "memory");
	(void)ret;
}

/*
 * Sleep until the tracer moves the tail past `tail` (it wakes sleepers
 * after each drain) or for one slice.  sleepers is raised before the tail
 * is read again, and the tracer reads sleepers after it stores the tail:
 * one of the two sees the other, so a wake is never missed for long.
 */
static void rec_sleep(struct rec_thread *t, uint64_t tail)
{
	rec_add_shared(&t->slot->sleepers, 1);
	if (REC_READ(t->slot->tail) == tail)
		rec_futex_wait(&t->slot->tail, tail);
	rec_add_shared(&t->slot->sleepers, -1);
}

/*
 * The ring is full at `tail`: wait for the tracer to drain it, as long as
 * it shows signs of life (ctl->heartbeat moves at least every
 * ctl->block_ticks) and is not stalled on this very ring (slot->stalled: a
 * signal handler filling the ring behind the record its interrupted
 * recorder reserved would wait for a drain that cannot come).  Returns 1
 * when the tail moved, 0 to drop.  A wait that timed out (utrace killed, or
 * stuck) marks the tail: later records drop at once until the tracer drains
 * again, so a program whose tracer is gone waits once per thread, not once
 * per event.  A signal handler that traces
 * while this waits finds the same full ring and waits on its own.
 */
static int rec_wait_room(struct rec_thread *t, uint64_t tail)
{
	uint64_t limit = REC_READ(t->ctl->block_ticks), spin = REC_READ(t->ctl->spin_ticks);
	uint64_t start, now, alive, beat = REC_READ(t->ctl->heartbeat);

	if (!limit || REC_READ(t->slot->gave_up) == tail + 1)
		return 0;
	rec_inc_local(&t->slot->waits);
	start = alive = rec_rdtsc();
	for (;;) {
		now = rec_rdtsc();
		if (REC_READ(t->slot->tail) != tail)
			break;
		if (REC_READ(t->ctl->heartbeat) != beat && !REC_READ(t->slot->stalled)) {
			beat = REC_READ(t->ctl->heartbeat);
			alive = now;
		}
		if (now - alive >= limit || !REC_READ(t->ctl->block_ticks)) {
			REC_WRITE(t->slot->gave_up, tail + 1);
			break;
		}
		if (now - start < spin || REC_READ(t->ctl->no_sleep))
			rec_pause();
		else
			rec_sleep(t, tail);
	}
	rec_add_local(&t->slot->wait_ticks, now - start);
	return REC_READ(t->slot->gave_up) != tail + 1;
}

/*
 * Reserve `bytes` of ring (a record, or an event record and its data
 * records) with one cmpxchg on head (retried when a signal handler reserved
 * in between).  A full ring waits for room (rec_wait_room), else drops:
 * returns 0 then, counted.
 */
static inline __attribute__((always_inline)) int rec_reserve(struct rec_thread *t, uint32_t func,
							     uint64_t bytes, uint64_t *headp)
{
	uint64_t size = t->ctl->ring_size;
	uint64_t head, tail;

	if (bytes > size) {
		rec_count_drop(t, func);
		return 0;
	}
	for (;;) {
		/*
		 * tail first: read after head, it could pass a head that a
		 * signal handler's records (drained meanwhile) made stale,
		 * and a ring far from full would look full.
		 */
		tail = REC_READ(t->slot->tail);

		rec_barrier();
		head = REC_READ(t->slot->head);
		if (head - tail > size - bytes) {
			if (rec_wait_room(t, tail))
				continue;
			rec_count_drop(t, func);
			return 0;
		}
		if (rec_cmpxchg_local(&t->slot->head, head, head + bytes))
			break;
	}
	*headp = head;
	return 1;
}

/* Write the record reserved at ring position `head`, its commit word last. */
static inline __attribute__((always_inline)) void rec_write(struct rec_thread *t, uint64_t head,
							    uint32_t func, enum ut_rec_kind kind,
							    uint32_t depth, const uint64_t *w,
							    uint32_t nw)
{
	uint64_t size = t->ctl->ring_size, rsize = t->ctl->rec_size;
	struct ut_rec_hdr *r = (struct ut_rec_hdr *)(t->ring + (head & (size - 1)));
	uint64_t *words = (uint64_t *)(r + 1);
	uint32_t i;

	r->tsc = rec_rdtsc();
	/* the words this record has room for: none in a 16-byte one */
	if (rsize < UT_REC_MIN + nw * sizeof(uint64_t))
		nw = rsize > UT_REC_MIN ? (uint32_t)((rsize - UT_REC_MIN) / sizeof(uint64_t)) : 0;
	for (i = 0; i < nw; i++)
		words[i] = w[i];
	rec_barrier();
	REC_WRITE(r->commit, ut_rec_commit(ut_rec_lap_of(head, size), kind, depth, func));
}

/* One record: reserved, written, committed. */
static inline __attribute__((always_inline)) void rec_emit(struct rec_thread *t, uint32_t func,
							   enum ut_rec_kind kind, uint32_t depth,
							   const uint64_t *w, uint32_t nw)
{
	uint64_t head;

	if (rec_reserve(t, func, t->ctl->rec_size, &head))
		rec_write(t, head, func, kind, depth, w, nw);
}

/* The depth an entry's events carry: the one its entry event had, whatever moved since. */
static inline uint32_t rec_entry_depth(const struct rec_thread *t, const struct ut_rs_entry *e)
{
	uint64_t d = e->depth;

	return d < t->ctl->rstack_depth ? (uint32_t)d : t->ctl->rstack_depth;
}

static void rec_emit_unwind(struct rec_thread *t, uint32_t index)
{
	rec_emit(t, t->rs[index].func, UT_REC_UNWIND, rec_entry_depth(t, &t->rs[index]), 0, 0);
}

static int rec_is_ret_tramp(const struct ut_ctl *ctl, uint64_t addr)
{
	uint32_t n = ctl->nret_tramps < UT_MAX_CODE_AREAS ? ctl->nret_tramps : UT_MAX_CODE_AREAS;
	uint32_t i;

	for (i = 0; i < n; i++)
		if (ctl->ret_tramps[i] == addr)
			return 1;
	return 0;
}

/* Pruning by address is sound only on the thread's own stack, when the tracer knows it. */
static int rec_on_own_stack(const struct ut_slot *slot, uint64_t addr)
{
	return slot->stack_hi > slot->stack_lo && addr >= slot->stack_lo && addr < slot->stack_hi;
}

#include "recorder-data.h"

/*
 * A call whose return slot is S: every valid entry at or below S on the same
 * stack belongs to a frame that is gone (left by longjmp or an exception).
 * An entry at S itself is live only when *S is still hijacked (a tail call).
 */
static void rec_prune_gone(struct rec_thread *t, uint64_t ret_slot, int hijacked)
{
	uint32_t top = rec_rs_top(t);

	if (!rec_on_own_stack(t->slot, ret_slot))
		return;
	while (top > 0) {
		struct ut_rs_entry *e = &t->rs[top - 1];

		if (!(REC_READ(e->flags) & UT_RS_VALID) || e->slot > ret_slot)
			break;
		if ((e->slot == ret_slot && hijacked) || !rec_on_own_stack(t->slot, e->slot))
			break;
		rec_emit_unwind(t, top - 1);
		top--;
		REC_WRITE(t->slot->rs_top, top);
	}
}

/* Inline for the common case: the newest entry is an outer frame's (or there is none). */
static inline __attribute__((always_inline)) void rec_prune(struct rec_thread *t, uint64_t ret_slot,
							    int hijacked)
{
	uint32_t top = rec_rs_top(t);

	if (top == 0 || t->rs[top - 1].slot > ret_slot)
		return;
	rec_prune_gone(t, ret_slot, hijacked);
}

/*
 * Push: invalidate the entry, reserve it (one store of rs_top), fill it,
 * commit it; the caller hijacks the return address only afterwards, so a
 * signal handler never sees a hijacked slot without its entry.
 */
static int rec_push(struct rec_thread *t, uint64_t ret, uint64_t ret_slot, uint32_t func,
		    uint32_t flags)
{
	uint32_t top = rec_rs_top(t);
	struct ut_rs_entry *e;

	if (top >= t->ctl->rstack_depth) {
		rec_inc_local(&t->slot->rs_overflow);
		return 0;
	}
	e = &t->rs[top];
	REC_WRITE(e->flags, 0);
	rec_barrier();
	REC_WRITE(t->slot->rs_top, top + 1);
	rec_barrier();
	e->ret = ret;
	e->slot = ret_slot;
	e->func = func;
	e->depth = top;
	rec_barrier();
	REC_WRITE(e->flags, flags);
	rec_barrier();
	return 1;
}

/* The top entry, when it is valid and hijacked the slot `ret_slot`. */
static int rec_top_owns(const struct rec_thread *t, uint64_t ret_slot)
{
	uint32_t top = rec_rs_top(t);

	return top > 0 && (REC_READ(t->rs[top - 1].flags) & UT_RS_VALID) &&
	       t->rs[top - 1].slot == ret_slot;
}

/*
 * Push the shadow entry, then hijack.  A signal handler may hold this thread
 * anywhere in between for as long as it likes, detach included: detach then
 * finds the entry but not yet the trampoline in the slot, leaves the slot
 * alone and frees the thread's slot; the hijack written afterwards would
 * return into a trampoline with no shadow entry (the lost-return int3, a
 * SIGTRAP that kills the untraced program).  Detach sets `disabled` before
 * it stops the thread, so a hijack that finds it set after writing undoes
 * itself; one that finds it clear was written before the thread stopped,
 * where detach sees it and puts it back.
 */
static void rec_hijack(struct rec_thread *t, uint32_t id, uint64_t *ret_slot, uint64_t ret_tramp,
		       uint32_t inside)
{
	uint64_t ret = *ret_slot;
	uint32_t top = rec_rs_top(t);

	if (!rec_push(t, ret, (uint64_t)(uintptr_t)ret_slot, id, UT_RS_VALID | inside))
		return;
	REC_WRITE(*ret_slot, ret_tramp);
	rec_barrier();
	if (!REC_READ(t->ctl->disabled))
		return;
	REC_WRITE(*ret_slot, ret);
	if (rec_rs_top(t) == top + 1)
		REC_WRITE(t->slot->rs_top, top);
}

/*
 * Hijack the return of a function entered with return slot `regs->rsp`;
 * inside: UT_RS_INSIDE for a call recorded under --caller, else 0.
 */
static void rec_hook_return(struct rec_thread *t, uint32_t id, uint64_t *ret_slot, int hijacked,
			    uint64_t ret_tramp, uint32_t inside)
{
	uint64_t s = (uint64_t)(uintptr_t)ret_slot;

	if (hijacked) {
		/* tail call: the entry below returns for us, one exit each */
		if (rec_top_owns(t, s))
			rec_push(t, 0, s, id, UT_RS_CHAINED | UT_RS_VALID | inside);
		return;
	}
	rec_hijack(t, id, ret_slot, ret_tramp, inside);
}

static int64_t rec_find_return(const struct rec_thread *t, uint32_t top, uint64_t ret_slot);
static int64_t rec_chain_base(const struct rec_thread *t, int64_t i, uint64_t ret_slot);

/*
 * Whether the unwinder, walking the stack that holds `sp`, may read `slot`:
 * a slot at or above sp on the same stack (at sp: the hooked function's own
 * return address, hijacked when a traced function tail-called it).  On the
 * thread's own stack that is known; on another (sigaltstack, a coroutine)
 * only the entries pushed there since the last switch are taken, newest
 * first (`run`), so that a slot on a stack freed since is never touched.
 */
static int rec_walked(const struct ut_slot *slot, uint64_t sp, uint64_t ret_slot, int run)
{
	int own = rec_on_own_stack(slot, sp);

	if (ret_slot < sp || own != rec_on_own_stack(slot, ret_slot))
		return 0;
	return own || run;
}

/*
 * Whether the entry at sp itself is a live frame: it was un-hijacked and
 * its return address is still there (a traced function tail-called the
 * hooked one).  Otherwise a call has overwritten the slot: its frame is gone.
 */
static int rec_live_at(const struct rec_thread *t, uint64_t sp)
{
	int64_t base = rec_chain_base(t, rec_find_return(t, rec_rs_top(t), sp), sp);

	return base >= 0 && (REC_READ(t->rs[base].flags) & UT_RS_UNHIJACKED) &&
	       REC_READ(*(uint64_t *)(uintptr_t)sp) == t->rs[base].ret;
}

/*
 * The unwinder is about to walk this thread's stack from sp (an exception,
 * a forced unwind, a backtrace): it has no unwind info for the return
 * trampoline, so every hijacked slot it may read gets its original return
 * address back.  The entries stay, marked, so that rec_rehijack() finds
 * the frames that survive the walk.
 */
static void rec_unhijack(struct rec_thread *t, uint64_t sp)
{
	int64_t i;
	int run = 1;

	for (i = (int64_t)rec_rs_top(t) - 1; i >= 0; i--) {
		struct ut_rs_entry *e = &t->rs[i];
		uint32_t flags = REC_READ(e->flags);
		uint64_t *slot = (uint64_t *)(uintptr_t)e->slot;

		if (!(flags & UT_RS_VALID))
			continue;
		run = run && rec_walked(t->slot, sp, e->slot, 1);
		if ((flags & (UT_RS_CHAINED | UT_RS_UNHIJACKED)) ||
		    !rec_walked(t->slot, sp, e->slot, run))
			continue;
		if (!rec_is_ret_tramp(t->ctl, REC_READ(*slot)))
			continue;
		/* the slot first: a signal handler seeing the mark finds it done */
		REC_WRITE(*slot, e->ret);
		rec_barrier();
		REC_WRITE(e->flags, flags | UT_RS_UNHIJACKED);
	}
}

/*
 * The walk is over and the stack pointer is sp (the return slot of
 * __cxa_begin_catch, or of _Unwind_Backtrace about to return): the entries
 * below it on the thread's own stack, and at it unless rec_live_at(), were
 * left by the exception and are reported as unwound; a marked entry above
 * it whose slot still holds its return address is a frame that survived,
 * hijacked again.  Marked
 * entries were on the stack walked a moment ago: reading them is safe.
 * Never once detaching began: the tracer puts return addresses back, and
 * nothing may hijack them after it.
 */
static void rec_rehijack(struct rec_thread *t, uint64_t sp, uint64_t ret_tramp)
{
	int live_at_sp = rec_live_at(t, sp);
	int64_t i;

	rec_prune(t, sp, live_at_sp);
	for (i = (int64_t)rec_rs_top(t) - 1; i >= 0; i--) {
		struct ut_rs_entry *e = &t->rs[i];
		uint32_t flags = REC_READ(e->flags);
		uint64_t *slot = (uint64_t *)(uintptr_t)e->slot;

		if ((flags & (UT_RS_VALID | UT_RS_UNHIJACKED)) !=
			    (UT_RS_VALID | UT_RS_UNHIJACKED) ||
		    !rec_walked(t->slot, sp, e->slot, 1) || (e->slot == sp && !live_at_sp) ||
		    REC_READ(*slot) != e->ret)
			continue;
		REC_WRITE(e->flags, flags & ~(uint32_t)UT_RS_UNHIJACKED);
		rec_barrier();
		REC_WRITE(*slot, ret_tramp);
	}
}

/* A hook of utrace's own on the unwinder (UT_FUNC_UNHIJACK / UT_FUNC_REHIJACK). */
static void rec_hook(struct rec_thread *t, uint32_t flags, uint64_t sp, uint64_t ret_tramp)
{
	if (flags & UT_FUNC_UNHIJACK)
		rec_unhijack(t, sp);
	if ((flags & UT_FUNC_REHIJACK) && !REC_READ(t->ctl->disabled))
		rec_rehijack(t, sp, ret_tramp);
}

/*
 * An entry record: the argument registers are copied only when asked for
 * (--args), the data the function's extras name after it (recorder-data.h).
 */
static void rec_emit_entry(struct rec_thread *t, uint32_t id, uint32_t x,
			   const struct user_regs_struct *regs)
{
	uint32_t nargs = REC_READ(t->ctl->rec_args) ? UT_REC_WORDS : 0;
	uint64_t args[UT_REC_WORDS];

	if (!nargs && !(x & ~(uint32_t)UT_X_CALLER)) {
		rec_emit(t, id, UT_REC_ENTRY, rec_rs_top(t), 0, 0); /* the common case */
		return;
	}
	args[0] = regs->rdi;
	args[1] = regs->rsi;
	args[2] = regs->rdx;
	args[3] = regs->rcx;
	args[4] = regs->r8;
	args[5] = regs->r9;
	if (x & ~(uint32_t)UT_X_CALLER)
		rec_emit_entry_data(t, id, x, regs, args, nargs);
	else
		rec_emit(t, id, UT_REC_ENTRY, rec_rs_top(t), args, nargs);
}

/* Whether the newest call on this thread is inside a call of a --caller function. */
static int rec_top_inside(const struct rec_thread *t)
{
	uint32_t top = rec_rs_top(t);

	return top > 0 && (REC_READ(t->rs[top - 1].flags) & (UT_RS_VALID | UT_RS_INSIDE)) ==
				  (UT_RS_VALID | UT_RS_INSIDE);
}

/*
 * Function entry, called with the frame the entry trampoline built
 * (regs->rsp = the function's entry stack pointer, pointing at its return
 * address) for probe `id`.  `ret_tramp` is this code area's return
 * trampoline.  Under --caller (ctl->caller_only) a call
 * outside every call of a UT_X_CALLER function is neither recorded nor
 * given a return probe.
 */
static void rec_entry(struct ut_ctl *ctl, uint32_t id, struct user_regs_struct *regs,
		      uint64_t ret_tramp)
{
	uint64_t *ret_slot = (uint64_t *)(uintptr_t)regs->rsp;
	struct rec_thread t;
	uint32_t flags, x, inside = 0;
	int hijacked;

	if (id >= ctl->nfuncs)
		return;
	flags = REC_READ(ut_ctl_funcs(ctl)[id].flags);
	/* un-hijacking runs even once disabled: a slot may still be hijacked */
	if (REC_READ(ctl->disabled) && !(flags & UT_FUNC_UNHIJACK))
		return;
	regs->rip = ut_ctl_funcs(ctl)[id].addr;
	if (!ctl->use_rdfsbase && REC_READ(ctl->notls_threads)) {
		if (!(flags & UT_FUNC_HIDDEN))
			rec_inc_shared(&ut_ctl_funcs(ctl)[id].notls);
		return;
	}
	if (!rec_find_slot(ctl, rec_thread_key(ctl), regs->rsp, 1, &t)) {
		if (!(flags & UT_FUNC_HIDDEN))
			rec_inc_shared(&ctl->no_slot);
		return;
	}
	if (flags & (UT_FUNC_UNHIJACK | UT_FUNC_REHIJACK))
		rec_hook(&t, flags, regs->rsp, ret_tramp);
	if (flags & UT_FUNC_HIDDEN || REC_READ(ctl->disabled))
		return;
	hijacked = rec_is_ret_tramp(ctl, *ret_slot);
	rec_prune(&t, regs->rsp, hijacked);
	x = REC_READ(ut_ctl_funcs(ctl)[id].extras);
	if (REC_READ(ctl->caller_only)) {
		if (!(x & UT_X_CALLER) && !rec_top_inside(&t))
			return;
		inside = UT_RS_INSIDE;
	}
	rec_emit_entry(&t, id, x, regs);
	if (!(flags & UT_FUNC_NORET))
		rec_hook_return(&t, id, ret_slot, hijacked, ret_tramp, inside);
}

/* The highest valid entry below `top` that hijacked `ret_slot`, or -1. */
static int64_t rec_find_return(const struct rec_thread *t, uint32_t top, uint64_t ret_slot)
{
	int64_t i;

	for (i = (int64_t)top - 1; i >= 0; i--)
		if ((REC_READ(t->rs[i].flags) & UT_RS_VALID) && t->rs[i].slot == ret_slot)
			return i;
	return -1;
}

/* Below the match, chained entries lead down to the one that hijacked the slot; or -1. */
static int64_t rec_chain_base(const struct rec_thread *t, int64_t i, uint64_t ret_slot)
{
	for (; i >= 0; i--) {
		uint32_t flags = REC_READ(t->rs[i].flags);

		if (!(flags & UT_RS_VALID) || t->rs[i].slot != ret_slot)
			return -1;
		if (!(flags & UT_RS_CHAINED))
			return i;
	}
	return -1;
}

/*
 * Whether the valid entry `e`, above the one that hijacked `ret_slot`, was
 * skipped (longjmp, an exception): a deeper frame of the same stack.  Only
 * the thread's own stack is known: an entry on another stack (a coroutine
 * suspended inside a traced function, a fiber) may still return, and one on
 * the own stack above a match elsewhere is a frame suspended while another
 * stack ran.  Without the stack's bounds, every entry above is skipped.
 */
static int rec_is_skipped(const struct rec_thread *t, const struct ut_rs_entry *e,
			  uint64_t ret_slot)
{
	if (!(t->slot->stack_hi > t->slot->stack_lo))
		return 1;
	return rec_on_own_stack(t->slot, ret_slot) && rec_on_own_stack(t->slot, e->slot) &&
	       e->slot < ret_slot;
}

/* Report the skipped entries above `match`, innermost first. */
static void rec_unwind_skipped(struct rec_thread *t, int64_t match, uint32_t top, uint64_t ret_slot)
{
	int64_t i;

	for (i = (int64_t)top - 1; i > match; i--)
		if ((REC_READ(t->rs[i].flags) & UT_RS_VALID) &&
		    rec_is_skipped(t, &t->rs[i], ret_slot))
			rec_emit_unwind(t, (uint32_t)i);
}

/*
 * Pop the entries from `base` up, keeping the live ones above `match` (moved
 * down, in order); returns the new top.  A signal handler interrupting the
 * move pushes and pops above the old top: it never sees the moved entries'
 * slots, which belong to suspended frames.
 */
static uint32_t rec_pop_keeping(struct rec_thread *t, int64_t base, int64_t match, uint32_t top,
				uint64_t ret_slot)
{
	uint32_t keep = (uint32_t)base;
	int64_t i;

	for (i = match + 1; i < (int64_t)top; i++) {
		struct ut_rs_entry *e = &t->rs[i], *to = &t->rs[keep];
		uint32_t flags = REC_READ(e->flags);

		if (!(flags & UT_RS_VALID) || rec_is_skipped(t, e, ret_slot))
			continue;
		if (to != e) {
			REC_WRITE(to->flags, 0);
			rec_barrier();
			to->ret = e->ret;
			to->slot = e->slot;
			to->func = e->func;
			to->depth = e->depth;
			rec_barrier();
			REC_WRITE(to->flags, flags);
		}
		keep++;
	}
	return keep;
}

/* The words an exit record carries: rax, rdx with --retval. */
static inline uint32_t rec_ret_words(const struct ut_ctl *ctl)
{
	return REC_READ(ctl->rec_retval) ? UT_REC_RETVAL_WORDS : 0;
}

/* An exit record; xmm0 and xmm1 after it for a function returning floating point. */
static void rec_emit_exit(struct rec_thread *t, uint32_t func, uint32_t depth,
			  const uint64_t rets[UT_REC_RETVAL_WORDS])
{
	uint32_t nw = rec_ret_words(t->ctl);

	if (nw && func < t->ctl->nfuncs &&
	    (REC_READ(ut_ctl_funcs(t->ctl)[func].extras) & UT_X_XMM_RET))
		rec_emit_exit_data(t, func, depth, rets, nw);
	else
		rec_emit(t, func, UT_REC_EXIT, depth, rets, nw);
}

static inline int rec_cmpxchg32_shared(uint32_t *p, uint32_t old, uint32_t new_val)
{
	uint32_t prev;

	__asm__ volatile("lock cmpxchgl %2, %1"
			 : "=a"(prev), "+m"(*p)
			 : "r"(new_val), "0"(old)
			 : "cc", "memory");
	return prev == old;
}

/*
 * A return with no entry on this thread: a fiber (makecontext stack) that
 * called a traced function on another thread and was resumed on this one.
 * Take that thread's entry for the exact slot (and the chained ones above
 * it) by marking it claimed, report the exits on this thread, and go home.
 * The owner's consumer then does not report the entry as unwound when its
 * thread exits.
 */
static int rec_claim_elsewhere(struct rec_thread *t, uint64_t ret_slot,
			       const uint64_t rets[UT_REC_RETVAL_WORDS], uint64_t *ret)
{
	struct ut_ctl *ctl = t->ctl;
	uint32_t n = ctl->nslots, depth = rec_rs_top(t);

	for (uint32_t k = 0; k < n; k++) {
		struct ut_slot *s = &ut_ctl_slots(ctl)[k];
		struct ut_rs_entry *rs = ut_ctl_rstack(ctl, k);
		uint64_t top = REC_READ(s->rs_top);

		if (s == t->slot || REC_READ(s->key) == UT_SLOT_FREE)
			continue;
		if (top > ctl->rstack_depth)
			top = ctl->rstack_depth;
		for (int64_t i = (int64_t)top - 1; i >= 0; i--) {
			uint32_t flags = REC_READ(rs[i].flags);

			if (!(flags & UT_RS_VALID) || rs[i].slot != ret_slot)
				continue;
			if (!rec_cmpxchg32_shared(&rs[i].flags, flags, UT_RS_CLAIMED))
				continue;
			rec_emit_exit(t, rs[i].func, depth, rets);
			if (flags & UT_RS_CHAINED)
				continue; /* the entry below shares the slot */
			*ret = rs[i].ret;
			return 1;
		}
	}
	return 0;
}

/*
 * A return through the return trampoline from the slot `ret_slot`, with the
 * function's rax/rdx.  Returns where execution continues: the original return
 * address, or `lost` when no shadow entry matches.  Runs even when disabled,
 * so that every hijacked return finds its way home.
 */
static uint64_t rec_exit(struct ut_ctl *ctl, uint64_t ret_slot, uint64_t rax, uint64_t rdx,
			 uint64_t lost)
{
	const uint64_t rets[UT_REC_RETVAL_WORDS] = { rax, rdx };
	struct rec_thread t;
	int64_t match, base, i;
	uint32_t top;
	uint64_t ret;

	if (!rec_find_slot(ctl, rec_thread_key(ctl), ret_slot, 0, &t))
		goto lost_return;
	top = rec_rs_top(&t);
	match = rec_find_return(&t, top, ret_slot);
	base = rec_chain_base(&t, match, ret_slot);
	if (base < 0) {
		if (rec_claim_elsewhere(&t, ret_slot, rets, &ret))
			return ret;
		goto lost_return;
	}
	rec_unwind_skipped(&t, match, top, ret_slot);
	for (i = match; i >= base; i--)
		rec_emit_exit(&t, t.rs[i].func, rec_entry_depth(&t, &t.rs[i]), rets);
	/* read before the pop: a signal handler may reuse the entry right after */
	ret = t.rs[base].ret;
	rec_barrier();
	REC_WRITE(t.slot->rs_top, (uint64_t)rec_pop_keeping(&t, base, match, top, ret_slot));
	return ret;

lost_return:
	rec_inc_shared(&ctl->lost_return);
	return lost;
}

#endif
