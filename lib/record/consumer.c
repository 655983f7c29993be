// SPDX-License-Identifier: MIT
/*
 * The consumer: drains the per-thread event rings of a data area.
 *
 * The producer is the recorder injected into the tracee, so everything read
 * from the area is untrusted: `head` is checked against our own tail and the
 * ring size before use, every record is copied out and validated, and the
 * only state we rely on (tail, owner, entry timestamps) is kept here, never in
 * the area.  The area's `tail` field is only written, to tell the producer
 * how much room it has.
 *
 * A ring position p (bytes, monotonic) holds its record at p & (ring_size - 1):
 *
 *        tail (ours)                        head (producer's)
 *          v                                  v
 *   ... | rec | rec | rec (reserved, not yet committed) | rec | free ...
 *
 * A record (geo.rec_size bytes) is committed once its `commit` word has a
 * valid kind and the lap of its position (shm.h); a word left from an
 * earlier lap of the ring carries an older lap and is not mistaken for it.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "procfs.h"
#include "consumer.h"
#include "items.h"
#include "log.h"
#include "base.h"

/*
 * A record reserved but left uncommitted while later ones are committed is
 * normally a recorder interrupted by a signal handler that traced calls of
 * its own; it commits once the handler returns.  Only after it stayed so over
 * several drains and some wall time is it declared torn (the handler
 * siglongjmp'd away).
 */
#define TORN_MIN_DRAINS 3
#define TORN_MIN_NS (20 * NSEC_PER_MSEC)
/* ... and its thread used CPU time meanwhile: 2 ticks (USER_HZ 100: 20 ms) */
#define TORN_MIN_CPU_TICKS 2
/* First size of a slot's stack of entry timestamps. */
#define ENTRY_STACK_MIN 16
/* First size of the list of closed threads that dropped events. */
#define CLOSED_MIN 16
/*
 * Records go from the ring straight to the callback (the trace's buffer),
 * checked one by one, in batches of DELIVER_BATCH: the tail is given back
 * to the producer after each batch.  One drain delivers at most the backlog
 * it found on entry, and DRAIN_MAX events.
 */
#define DELIVER_BATCH 1024
#define DRAIN_MAX 65536 /* events one drain delivers at most: a few ms */
/*
 * The ring's lines come from the producer's cache: ask for them this far
 * ahead, never at or past head, where a line may still be written.
 */
#define PREFETCH_AHEAD 512

/* A record copied out of a ring, checked and decoded. */
struct rec {
	uint64_t tsc;
	uint32_t func;
	uint32_t depth;
	uint64_t w[UT_REC_WORDS];
	uint8_t kind; /* enum ut_rec_kind */
	uint8_t nw; /* words of w[] the record carried */
	uint32_t data_len; /* bytes of checked items in the consumer's data buffer */
};

/* What the consumer knows about one slot; nothing here comes from the area unchecked. */
struct open_entry {
	uint64_t ns;
	uint32_t func;
	bool seen; /* false: its entry record was dropped or predates the slot */
};

struct slot_state {
	bool open;
	bool insane; /* head failed the sanity checks (counted once until it recovers) */
	pid_t pid, tid;
	uint64_t tail; /* next ring position to consume */
	uint64_t last_ts; /* timestamps delivered for this thread never go backwards */

	/* open[d]: the entry open at depth d, for d < entry_known (when .seen) */
	struct open_entry *open_at;
	uint64_t entry_cap;
	uint64_t entry_known;

	/* the uncommitted record at the tail, while later ones are committed */
	bool stall;
	uint64_t stall_head; /* head when the stall was first seen */
	uint64_t stall_since; /* ns of that drain */
	uint64_t stall_seq; /* last drain that saw it */
	uint32_t stall_drains;
	int64_t stall_cpu; /* the thread's CPU time then (clock ticks), -1 unknown */

	/* uncommitted records its thread was writing when it was killed */
	uint64_t cut;

	/* losses since the slot was opened (area counters minus their value then) */
	uint64_t drops_base, drops, drops_first_ns, drops_last_ns;
	uint64_t rs_base, rs_overflow;
	/* waits for room in a full ring: count and TSC ticks */
	uint64_t waits_base, waits, ticks_base, wait_ticks;
};

struct ut_consumer {
	unsigned char *area;
	struct ut_geometry geo;
	struct ut_tsc tsc;
	struct slot_state *slots;
	uint64_t now_ns; /* CLOCK_MONOTONIC at the start of the current drain */
	uint64_t beats; /* heartbeats given (ut_ctl.heartbeat) */
	uint64_t drain_seq;

	uint64_t events, torn, invalid;
	/* the items of the record being delivered, gathered from its data records */
	unsigned char *data;
	size_t data_cap;
	/* losses of threads whose slot was closed */
	uint64_t closed_drops, closed_rs_overflow, closed_waits, closed_wait_ns;
	struct ut_thread_drops *closed;
	size_t nclosed, closed_cap;

	/* what utrace_consumer_stats() hands out: closed_cap + nslots entries */
	struct ut_thread_drops *stat_threads;
	uint64_t *func_drops;
	uint64_t *func_notls;
	uint32_t funcs_used; /* ids below it have probes: the counters read */
};

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static uint64_t load_relaxed(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

/* ---- geometry ----------------------------------------------------------- */

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* Whether n elements of `size` bytes at `off` lie inside the area, 8-byte aligned. */
static bool part_fits(uint64_t off, uint64_t n, uint64_t size, uint64_t area_size)
{
	if (off > area_size || off % sizeof(uint64_t))
		return false;
	return !size || n <= (area_size - off) / size;
}

static int geometry_check(const void *area, const struct ut_geometry *g)
{
	uint64_t rs_entries = (uint64_t)g->nslots * g->rstack_depth;

	if (!area || (uintptr_t)area % sizeof(uint64_t) || g->area_size < sizeof(struct ut_ctl)) {
		ut_error("consumer: data area missing, misaligned or too small");
		return -EINVAL;
	}
	if (!is_pow2(g->nslots) || !is_pow2(g->ring_size) || !is_pow2(g->rec_size) ||
	    g->rec_size < UT_REC_MIN || g->rec_size > UT_REC_MAX || g->ring_size < g->rec_size) {
		ut_error("consumer: slot count, ring size and record size must be powers of two "
			 "(records of %d to %d bytes, ring >= record)",
			 UT_REC_MIN, UT_REC_MAX);
		return -EINVAL;
	}
	if ((g->rec_args && g->rec_size < UT_REC_ARGS_SIZE) ||
	    (g->rec_retval && g->rec_size < UT_REC_RETVAL_SIZE)) {
		ut_error("consumer: %u-byte records cannot carry the words asked for", g->rec_size);
		return -EINVAL;
	}
	if (g->rstack_depth > UT_REC_DEPTH_MAX) {
		ut_error("consumer: shadow stacks deeper than records can tell (%u > %u)",
			 g->rstack_depth, UT_REC_DEPTH_MAX);
		return -EINVAL;
	}
	if (!part_fits(g->funcs_off, g->nfuncs, sizeof(struct ut_func), g->area_size) ||
	    !part_fits(g->slots_off, g->nslots, sizeof(struct ut_slot), g->area_size) ||
	    !part_fits(g->rstacks_off, rs_entries, sizeof(struct ut_rs_entry), g->area_size) ||
	    !part_fits(g->rings_off, g->nslots, g->ring_size, g->area_size)) {
		ut_error("consumer: data area layout does not fit in %zu bytes", g->area_size);
		return -EINVAL;
	}
	return 0;
}

static struct ut_ctl *area_ctl(const struct ut_consumer *c)
{
	return (struct ut_ctl *)c->area;
}

static struct ut_slot *area_slot(const struct ut_consumer *c, uint32_t i)
{
	return (struct ut_slot *)(c->area + c->geo.slots_off) + i;
}

static struct ut_func *area_funcs(const struct ut_consumer *c)
{
	return (struct ut_func *)(c->area + c->geo.funcs_off);
}

static const struct ut_rec_hdr *area_rec(const struct ut_consumer *c, uint32_t i, uint64_t pos)
{
	const unsigned char *ring = c->area + c->geo.rings_off + (uint64_t)i * c->geo.ring_size;

	return (const struct ut_rec_hdr *)(ring + (pos & (c->geo.ring_size - 1)));
}

/*
 * Tell the producer how much room it has, and wake its recorders asleep on
 * a full ring (rec_sleep): the tail is stored before sleepers is read, as
 * the recorder raises sleepers before it reads the tail again.
 */
static void tail_store(struct ut_slot *s, uint64_t tail)
{
	__atomic_store_n(&s->tail, tail, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&s->sleepers, __ATOMIC_SEQ_CST))
		syscall(SYS_futex, &s->tail, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/* Whether the tracer is stuck at the slot's tail (ut_slot.stalled); written when it changes. */
static void stalled_store(struct ut_slot *s, bool stalled)
{
	if (__atomic_load_n(&s->stalled, __ATOMIC_RELAXED) != (uint64_t)stalled)
		__atomic_store_n(&s->stalled, (uint64_t)stalled, __ATOMIC_RELEASE);
}

/*
 * A sign of life for recorders waiting on full rings (rec_wait_room), given
 * at every drain and every batch of one: they give up only once it stood
 * still for --block-timeout, so a tracer slow to move its backlog (a loaded
 * machine) is waited for, a killed or stuck one is not.
 */
static void heartbeat(struct ut_consumer *c)
{
	__atomic_store_n(&area_ctl(c)->heartbeat, ++c->beats, __ATOMIC_RELAXED);
}

/* ---- life cycle --------------------------------------------------------- */

int utrace_consumer_new(struct ut_consumer **out, void *area, const struct ut_geometry *geo,
			const struct ut_tsc *tsc)
{
	struct ut_consumer *c;
	int ret;

	ret = geometry_check(area, geo);
	if (ret < 0)
		return ret;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->area = area;
	c->geo = *geo;
	c->slots = calloc(geo->nslots, sizeof(*c->slots));
	c->stat_threads = calloc(geo->nslots, sizeof(*c->stat_threads));
	/* one spare element so that nfuncs == 0 still allocates */
	c->func_drops = calloc((size_t)geo->nfuncs + 1, sizeof(*c->func_drops));
	c->func_notls = calloc((size_t)geo->nfuncs + 1, sizeof(*c->func_notls));
	if (!c->slots || !c->stat_threads || !c->func_drops || !c->func_notls) {
		utrace_consumer_free(c);
		return -ENOMEM;
	}
	c->funcs_used = geo->nfuncs;
	if (tsc)
		c->tsc = *tsc;
	else
		utrace_tsc_init(&c->tsc);
	*out = c;
	return 0;
}

void utrace_consumer_free(struct ut_consumer *c)
{
	uint32_t i;

	if (!c)
		return;
	for (i = 0; c->slots && i < c->geo.nslots; i++)
		free(c->slots[i].open_at);
	free(c->slots);
	free(c->closed);
	free(c->stat_threads);
	free(c->func_drops);
	free(c->func_notls);
	free(c->data);
	free(c);
}

/* ---- losses ------------------------------------------------------------- */

/* A tracee counter since `base`, which only ever grows here (the area is untrusted). */
static void grow_counter(uint64_t now, uint64_t base, uint64_t *count)
{
	if (now >= base && now - base > *count)
		*count = now - base;
}

/* Re-read the slot's loss counters; drops remember the drains that saw them grow. */
static void slot_update_losses(struct ut_consumer *c, struct slot_state *st, uint32_t i)
{
	const struct ut_slot *s = area_slot(c, i);
	uint64_t drops = load_relaxed(&s->drops);
	uint64_t rs = load_relaxed(&s->rs_overflow);

	if (drops >= st->drops_base && drops - st->drops_base > st->drops) {
		st->drops = drops - st->drops_base;
		if (!st->drops_first_ns)
			st->drops_first_ns = c->now_ns;
		st->drops_last_ns = c->now_ns;
	}
	grow_counter(rs, st->rs_base, &st->rs_overflow);
	grow_counter(load_relaxed(&s->waits), st->waits_base, &st->waits);
	grow_counter(load_relaxed(&s->wait_ticks), st->ticks_base, &st->wait_ticks);
}

static struct ut_thread_drops slot_thread_drops(const struct ut_consumer *c,
						const struct slot_state *st)
{
	return (struct ut_thread_drops){
		.pid = st->pid,
		.tid = st->tid,
		.drops = st->drops,
		.first_ns = st->drops_first_ns,
		.last_ns = st->drops_last_ns,
		.waits = st->waits,
		.wait_ns = utrace_tsc_span_ns(&c->tsc, st->wait_ticks),
	};
}

/* Make room for one more closed thread with drops (and for its copy in the stats). */
static int closed_grow(struct ut_consumer *c)
{
	size_t cap = c->closed_cap ? 2 * c->closed_cap : CLOSED_MIN;
	struct ut_thread_drops *p;

	p = realloc(c->closed, cap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	c->closed = p;
	p = realloc(c->stat_threads, (cap + c->geo.nslots) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	c->stat_threads = p;
	c->closed_cap = cap;
	return 0;
}

/* Fold a closing slot's losses into the totals of closed threads. */
static int slot_retire_losses(struct ut_consumer *c, const struct slot_state *st)
{
	c->closed_drops = add_sat(c->closed_drops, st->drops);
	c->closed_rs_overflow = add_sat(c->closed_rs_overflow, st->rs_overflow);
	c->closed_waits = add_sat(c->closed_waits, st->waits);
	c->closed_wait_ns = add_sat(c->closed_wait_ns, utrace_tsc_span_ns(&c->tsc, st->wait_ticks));
	if (!st->drops && !st->waits)
		return 0;
	if (c->nclosed == c->closed_cap && closed_grow(c) < 0) {
		ut_error("consumer: out of memory recording the drops of thread %d", (int)st->tid);
		return -ENOMEM;
	}
	c->closed[c->nclosed++] = slot_thread_drops(c, st);
	return 0;
}

/* ---- records ------------------------------------------------------------ */

/*
 * Copy the record at `pos` out of the ring when it is committed for this
 * very position; returns its kind, or 0 when it is not (yet) committed.  The
 * commit word is read first with acquire ordering, so the fields read after
 * it are the ones the producer wrote before committing (or garbage from a
 * hostile one, which validation catches).
 */
static unsigned int rec_read(const struct ut_consumer *c, uint32_t i, uint64_t pos, struct rec *out)
{
	const struct ut_rec_hdr *r = area_rec(c, i, pos);
	const uint64_t *words = (const uint64_t *)(r + 1);
	uint64_t commit = __atomic_load_n(&r->commit, __ATOMIC_ACQUIRE);
	unsigned int kind = ut_rec_kind(commit);

	if (kind < UT_REC_ENTRY || kind > UT_REC_KIND_MAX ||
	    ut_rec_lap(commit) != ut_rec_lap_tag(ut_rec_lap_of(pos, c->geo.ring_size)))
		return 0;
	out->tsc = load_relaxed(&r->tsc);
	out->func = ut_rec_func(commit);
	out->depth = ut_rec_depth(commit);
	out->kind = (uint8_t)kind;
	out->nw = kind == UT_REC_ENTRY && c->geo.rec_args  ? UT_REC_WORDS :
		  kind == UT_REC_EXIT && c->geo.rec_retval ? UT_REC_RETVAL_WORDS :
							     0;
	for (unsigned int k = 0; k < out->nw; k++)
		out->w[k] = load_relaxed(&words[k]);
	return kind;
}

/* Room for n bytes of items in the data buffer. */
static bool data_room(struct ut_consumer *c, size_t n)
{
	unsigned char *p;
	size_t cap = c->data_cap ? c->data_cap : 4096;

	if (n <= c->data_cap)
		return true;
	while (cap < n)
		cap *= 2;
	p = realloc(c->data, cap);
	if (!p)
		return false;
	c->data = p;
	c->data_cap = cap;
	return true;
}

/*
 * The data records after the event record r at pos: committed for their
 * own position, numbered 1, 2, ... and naming r's function.  Their payloads
 * are gathered into the data buffer and the items checked (r->data_len: the
 * valid prefix; a bad one is counted invalid).  Returns the bytes of ring
 * they take, up to head.
 */
static uint64_t data_read(struct ut_consumer *c, uint32_t i, uint64_t pos, uint64_t head,
			  struct rec *r)
{
	uint32_t rsize = c->geo.rec_size, pay = ut_data_payload(rsize), seq = 1;
	uint64_t start = pos;
	size_t n = 0;

	for (; pos < head; pos += rsize, seq++) {
		const unsigned char *rec = (const unsigned char *)area_rec(c, i, pos);
		uint64_t commit = __atomic_load_n(&((const struct ut_rec_hdr *)rec)->commit,
						  __ATOMIC_ACQUIRE);

		if (ut_rec_kind(commit) != UT_REC_DATA || ut_rec_depth(commit) != seq ||
		    ut_rec_func(commit) != r->func ||
		    ut_rec_lap(commit) != ut_rec_lap_tag(ut_rec_lap_of(pos, c->geo.ring_size)))
			break;
		if (!data_room(c, n + pay))
			break;
		memcpy(c->data + n, rec, 8);
		memcpy(c->data + n + 8, rec + 16, pay - 8);
		n += pay;
	}
	r->data_len = (uint32_t)ut_items_check(c->data, n, false);
	if (r->data_len < n && c->data[r->data_len] != UT_ITEM_END)
		c->invalid++;
	return pos - start;
}

static bool rec_is_valid(const struct ut_consumer *c, const struct rec *r)
{
	return r->func < c->geo.nfuncs && r->depth <= c->geo.rstack_depth;
}

static bool head_is_sane(const struct ut_consumer *c, const struct slot_state *st, uint64_t head)
{
	return head >= st->tail && head % c->geo.rec_size == 0 &&
	       head - st->tail <= c->geo.ring_size;
}

/*
 * A torn record's thread went on running without committing it; one that
 * was not running (preempted on a loaded machine, held in a ptrace stop)
 * may still commit.  Unknown CPU times count as running.
 */
static bool ran_on(const struct slot_state *st)
{
	int64_t now;

	if (st->stall_cpu < 0)
		return true;
	now = ut_proc_thread_cpu_ticks(st->pid, st->tid);
	return now < 0 || now - st->stall_cpu >= TORN_MIN_CPU_TICKS;
}

/* Whether some record after the tail, up to head, is committed. */
static bool committed_after_tail(const struct ut_consumer *c, uint32_t i,
				 const struct slot_state *st, uint64_t head)
{
	struct rec r;
	uint64_t pos;

	for (pos = st->tail + c->geo.rec_size; pos < head; pos += c->geo.rec_size)
		if (rec_read(c, i, pos, &r))
			return true;
	return false;
}

/*
 * Whether the uncommitted record at the tail is torn.  The stall clock starts
 * when an uncommitted tail is first seen with later records committed; a
 * record still uncommitted that was already reserved then (below stall_head)
 * has been uncommitted at least as long, so after one torn record the next
 * ones inherit the clock instead of waiting anew.
 */
static bool tail_is_torn(struct ut_consumer *c, uint32_t i, struct slot_state *st, uint64_t head)
{
	if (!committed_after_tail(c, i, st, head)) {
		st->stall = false;
		return false;
	}
	if (!st->stall || st->tail >= st->stall_head) {
		st->stall = true;
		st->stall_head = head;
		st->stall_since = c->now_ns;
		st->stall_seq = c->drain_seq;
		st->stall_drains = 1;
		st->stall_cpu = ut_proc_thread_cpu_ticks(st->pid, st->tid);
	} else if (st->stall_seq != c->drain_seq) {
		st->stall_seq = c->drain_seq;
		st->stall_drains++;
	}
	return st->stall_drains >= TORN_MIN_DRAINS && c->now_ns - st->stall_since >= TORN_MIN_NS &&
	       ran_on(st);
}

/* ---- events ------------------------------------------------------------- */

/* Remember the entry at `depth` (< rstack_depth + 1, validated). */
static int entry_push(struct ut_consumer *c, struct slot_state *st, uint32_t depth, uint64_t ts,
		      uint32_t func)
{
	uint64_t max = (uint64_t)c->geo.rstack_depth + 1;
	uint64_t cap;
	struct open_entry *p;

	if (depth >= st->entry_cap) {
		cap = st->entry_cap ? 2 * st->entry_cap : ENTRY_STACK_MIN;
		if (cap <= depth)
			cap = (uint64_t)depth + 1;
		if (cap > max)
			cap = max;
		p = realloc(st->open_at, cap * sizeof(*p));
		if (!p) {
			ut_error("consumer: out of memory for the call stack of thread %d",
				 (int)st->tid);
			return -ENOMEM;
		}
		st->open_at = p;
		st->entry_cap = cap;
	}
	/* depths skipped over had their entries dropped: nothing known of them */
	for (uint64_t d = st->entry_known; d < depth; d++)
		st->open_at[d].seen = false;
	st->open_at[depth] = (struct open_entry){ .ns = ts, .func = func, .seen = true };
	/* anything deeper belonged to calls that are over */
	st->entry_known = (uint64_t)depth + 1;
	return 0;
}

/* An exit or unwind at `depth` closes the entry remembered there, if any. */
static void entry_pop(struct slot_state *st, struct ut_event *ev)
{
	if (ev->depth >= st->entry_known)
		return;
	if (st->open_at[ev->depth].seen) {
		ev->has_dur = true;
		ev->dur_ns = ev->ts - st->open_at[ev->depth].ns;
	}
	st->entry_known = ev->depth;
}

/* Slot i's shadow stack in the area (untrusted: every field is checked before use). */
static const struct ut_rs_entry *area_rstack(const struct ut_consumer *c, uint32_t i)
{
	return (const struct ut_rs_entry *)(c->area + c->geo.rstacks_off) +
	       (uint64_t)i * c->geo.rstack_depth;
}

/* When the entry at `depth` was made, if this consumer saw it (for its duration). */
static bool entry_seen(const struct slot_state *st, uint64_t depth, uint32_t func, uint64_t *ns)
{
	if (depth >= st->entry_known || !st->open_at[depth].seen || st->open_at[depth].func != func)
		return false;
	*ns = st->open_at[depth].ns;
	return true;
}

/*
 * The thread is gone with calls still open (exit() or abort() inside traced
 * functions, a longjmp whose frames were never pruned, a coroutine left
 * suspended): close each with an unwind event, innermost first, so that
 * every entry has its end.  The calls still open are the entries left on the
 * thread's shadow stack, whatever stack their frames are on; one claimed by
 * another thread returned there.  Not for a thread whose ring dropped
 * records or whose shadow stack overflowed: which calls ended is unknown
 * (those losses are counted and reported already).
 */
static int close_open_entries(struct ut_consumer *c, struct slot_state *st, ut_event_fn fn,
			      void *arg)
{
	uint32_t slot = (uint32_t)(st - c->slots);
	const struct ut_rs_entry *rs = area_rstack(c, slot);
	uint64_t top = load_relaxed(&area_slot(c, slot)->rs_top);
	uint64_t now = utrace_tsc_to_ns(&c->tsc, utrace_rdtsc());
	int ret = 0;

	if (st->drops || st->rs_overflow)
		return 0;
	if (now < st->last_ts)
		now = st->last_ts;
	if (top > c->geo.rstack_depth)
		top = c->geo.rstack_depth;
	while (top-- > 0 && ret >= 0) {
		uint32_t flags = __atomic_load_n(&rs[top].flags, __ATOMIC_RELAXED);
		struct ut_event ev = {
			.ts = now,
			.pid = st->pid,
			.tid = st->tid,
			.kind = UT_REC_UNWIND,
			.func = __atomic_load_n(&rs[top].func, __ATOMIC_RELAXED),
		};
		uint64_t depth = load_relaxed(&rs[top].depth), ns;

		if (!(flags & UT_RS_VALID) || ev.func >= c->geo.nfuncs ||
		    depth > c->geo.rstack_depth)
			continue;
		ev.depth = (uint32_t)depth;
		ev.has_dur = entry_seen(st, depth, ev.func, &ns);
		ev.dur_ns = ev.has_dur ? now - ns : 0;
		c->events++;
		ret = fn(&ev, arg);
	}
	st->entry_known = 0;
	return ret;
}

static int deliver(struct ut_consumer *c, struct slot_state *st, const struct rec *r,
		   unsigned int kind, ut_event_fn fn, void *arg)
{
	struct ut_event ev = {
		.ts = utrace_tsc_to_ns(&c->tsc, r->tsc),
		.pid = st->pid,
		.tid = st->tid,
		.kind = (enum ut_rec_kind)kind,
		.func = r->func,
		.depth = r->depth,
	};
	int ret;

	/* the rate is refined between drains: never let a thread's clock step back */
	if (ev.ts < st->last_ts)
		ev.ts = st->last_ts;
	st->last_ts = ev.ts;
	ev.nw = r->nw;
	memcpy(ev.w, r->w, r->nw * sizeof(ev.w[0]));
	ev.data = r->data_len ? c->data : NULL;
	ev.data_len = r->data_len;
	if (kind == UT_REC_ENTRY) {
		ret = entry_push(c, st, r->depth, ev.ts, r->func);
		if (ret < 0)
			return ret;
	} else {
		entry_pop(st, &ev);
	}
	c->events++;
	return fn(&ev, arg);
}

/*
 * How a slot's records are collected: while its thread runs (an uncommitted
 * record may still commit), at its end (every uncommitted record left is
 * torn), or at the end of a thread a signal killed, inside the recorder
 * maybe (the uncommitted records with none committed after them are the
 * ones it was writing then: cut short, not torn).
 */
enum collect_mode {
	COLLECT_LIVE,
	COLLECT_END,
	COLLECT_KILLED,
};

/*
 * A killed thread never went on past the records it was writing: from the
 * uncommitted record at the tail up to head, nothing is committed.  They
 * are skipped as cut (they never held an event: the call they were to
 * report is closed from the shadow stack, or never began).
 */
static bool tail_is_cut(struct ut_consumer *c, uint32_t i, struct slot_state *st, uint64_t head)
{
	if (committed_after_tail(c, i, st, head))
		return false;
	st->cut += (head - st->tail) / c->geo.rec_size;
	st->tail = head;
	return true;
}

/*
 * Deliver slot i's records from our tail up to the head read once now,
 * checked, `budget` at most; the tail goes back to the producer at the end.
 * Returns the number delivered, or the callback's error (the record it
 * failed on counts as consumed).
 */
static long slot_drain(struct ut_consumer *c, uint32_t i, enum collect_mode mode, size_t budget,
		       ut_event_fn fn, void *arg)
{
	struct slot_state *st = &c->slots[i];
	struct ut_slot *s = area_slot(c, i);
	uint64_t head = __atomic_load_n(&s->head, __ATOMIC_ACQUIRE);
	unsigned int kind;
	bool stalled = false;
	struct rec r;
	long n = 0;
	int ret = 0;

	slot_update_losses(c, st, i);
	if (!head_is_sane(c, st, head)) {
		if (!st->insane)
			c->invalid++;
		st->insane = true;
		/* repair a scribbled tail: it is how the producer sees free space */
		tail_store(s, st->tail);
		stalled_store(s, true);
		return 0;
	}
	st->insane = false;
	while (st->tail < head && (size_t)n < budget) {
		if (head - st->tail > PREFETCH_AHEAD)
			__builtin_prefetch(area_rec(c, i, st->tail + PREFETCH_AHEAD));
		kind = rec_read(c, i, st->tail, &r);
		if (!kind && mode == COLLECT_LIVE && !tail_is_torn(c, i, st, head)) {
			stalled = st->stall;
			break;
		}
		if (!kind && mode == COLLECT_KILLED && tail_is_cut(c, i, st, head))
			break;
		st->tail += c->geo.rec_size;
		if (!kind || kind == UT_REC_DATA) { /* data whose event was torn: torn too */
			c->torn++;
			continue;
		}
		r.data_len = 0;
		if (kind != UT_REC_UNWIND)
			st->tail += data_read(c, i, st->tail, head, &r);
		if (!rec_is_valid(c, &r)) {
			c->invalid++;
			continue;
		}
		ret = deliver(c, st, &r, kind, fn, arg);
		if (ret < 0)
			break;
		n++;
	}
	tail_store(s, st->tail);
	stalled_store(s, stalled);
	return ret < 0 ? ret : n;
}

/* Records waiting in the open slots' rings, by their heads now (sane ones only). */
static size_t backlog(const struct ut_consumer *c)
{
	size_t n = 0;

	for (uint32_t i = 0; i < c->geo.nslots; i++) {
		const struct slot_state *st = &c->slots[i];
		uint64_t head;

		if (!st->open)
			continue;
		head = __atomic_load_n(&area_slot((struct ut_consumer *)c, i)->head,
				       __ATOMIC_ACQUIRE);
		if (head_is_sane(c, st, head))
			n += (head - st->tail) / c->geo.rec_size;
	}
	return n;
}

/*
 * Deliver what every ring holds, a batch of each in turn; bounded by the
 * backlog found on entry and by DRAIN_MAX events, so that ptrace stops and
 * signals are not kept waiting behind a thread that never stops producing.
 * Every ring is looked at once even with nothing waiting: that is where a
 * scribbled head is caught.
 */
long utrace_consumer_drain(struct ut_consumer *c, ut_event_fn fn, void *arg)
{
	size_t want = backlog(c);
	long n = 0, ret, batch;

	heartbeat(c);
	utrace_tsc_refine(&c->tsc);
	c->now_ns = utrace_monotonic_ns();
	c->drain_seq++;
	if (want > DRAIN_MAX)
		want = DRAIN_MAX;
	do {
		batch = 0;
		for (uint32_t i = 0; i < c->geo.nslots; i++) {
			if (!c->slots[i].open)
				continue;
			ret = slot_drain(c, i, COLLECT_LIVE, DELIVER_BATCH, fn, arg);
			if (ret < 0)
				return ret;
			batch += ret;
		}
		n += batch;
		heartbeat(c);
	} while (batch && (size_t)n < want);
	return n;
}

/* ---- slots -------------------------------------------------------------- */

/* Forget everything about the slot but keep its stack of entries. */
static void slot_reset(struct slot_state *st)
{
	struct open_entry *open_at = st->open_at;
	uint64_t entry_cap = st->entry_cap;

	memset(st, 0, sizeof(*st));
	st->open_at = open_at;
	st->entry_cap = entry_cap;
}

/*
 * Call once the tracer has set the slot up in the area: consumption starts at
 * the head found now, and losses count from the counters' present values.
 */
void utrace_consumer_slot_open(struct ut_consumer *c, uint32_t slot, pid_t pid, pid_t tid)
{
	struct slot_state *st;
	struct ut_slot *s;
	uint64_t head;

	if (slot >= c->geo.nslots)
		return;
	st = &c->slots[slot];
	if (st->open)
		slot_retire_losses(c, st);
	slot_reset(st);
	s = area_slot(c, slot);
	head = __atomic_load_n(&s->head, __ATOMIC_ACQUIRE);
	/* a misaligned head is caught as invalid by the first drain */
	st->tail = head % c->geo.rec_size ? 0 : head;
	st->drops_base = load_relaxed(&s->drops);
	st->rs_base = load_relaxed(&s->rs_overflow);
	st->waits_base = load_relaxed(&s->waits);
	st->ticks_base = load_relaxed(&s->wait_ticks);
	st->pid = pid;
	st->tid = tid;
	st->open = true;
	tail_store(s, st->tail);
}

void utrace_consumer_slot_lend(struct ut_consumer *c, uint32_t slot, pid_t pid, pid_t tid)
{
	if (slot >= c->geo.nslots || !c->slots[slot].open)
		return;
	c->slots[slot].pid = pid;
	c->slots[slot].tid = tid;
}

/*
 * Under ptrace every signal stops its thread until the tracer answers: when
 * signals come faster than that (a 10 kHz profiling timer), the next one is
 * pending as each handler returns, and a recorder the first handler
 * interrupted waits behind all of them, its record reserved and uncommitted
 * for far longer than the grace time while the handlers' records commit.
 * The grace starts again at each signal: a record is torn only when its
 * thread went on without one.
 */
void utrace_consumer_slot_signalled(struct ut_consumer *c, uint32_t slot)
{
	if (slot < c->geo.nslots)
		c->slots[slot].stall = false;
}

static int slot_close(struct ut_consumer *c, uint32_t slot, enum collect_mode mode, bool gone,
		      ut_event_fn fn, void *arg)
{
	struct slot_state *st;
	long drained;
	int ret;

	if (slot >= c->geo.nslots) {
		ut_error("consumer: no slot %u (%u slots)", slot, c->geo.nslots);
		return -EINVAL;
	}
	st = &c->slots[slot];
	if (!st->open)
		return 0;
	c->now_ns = utrace_monotonic_ns();
	c->drain_seq++;
	do
		drained = slot_drain(c, slot, mode, SIZE_MAX, fn, arg);
	while (drained > 0 &&
	       st->tail < __atomic_load_n(&area_slot(c, slot)->head, __ATOMIC_ACQUIRE));
	if (st->cut)
		ut_info("thread %d of process %d was killed while recording: %llu record%s it was "
			"writing left out",
			(int)st->tid, (int)st->pid, (unsigned long long)st->cut,
			st->cut == 1 ? "" : "s");
	if (drained >= 0 && gone)
		drained = close_open_entries(c, st, fn, arg);
	ret = slot_retire_losses(c, st);
	slot_reset(st);
	return drained < 0 ? (int)drained : ret;
}

int utrace_consumer_slot_close(struct ut_consumer *c, uint32_t slot, ut_event_fn fn, void *arg)
{
	return slot_close(c, slot, COLLECT_END, true, fn, arg);
}

int utrace_consumer_slot_close_killed(struct ut_consumer *c, uint32_t slot, ut_event_fn fn,
				      void *arg)
{
	return slot_close(c, slot, COLLECT_KILLED, true, fn, arg);
}

int utrace_consumer_slot_release(struct ut_consumer *c, uint32_t slot, ut_event_fn fn, void *arg)
{
	return slot_close(c, slot, COLLECT_END, false, fn, arg);
}

/* ---- statistics --------------------------------------------------------- */

void utrace_consumer_funcs_used(struct ut_consumer *c, uint32_t n)
{
	c->funcs_used = n < c->geo.nfuncs ? n : c->geo.nfuncs;
}

void utrace_consumer_stats(struct ut_consumer *c, struct ut_stats *st)
{
	const struct ut_ctl *ctl = area_ctl(c);
	const struct ut_func *funcs = area_funcs(c);
	uint64_t drops = c->closed_drops, rs = c->closed_rs_overflow, notls = 0;
	uint64_t waits = c->closed_waits, wait_ns = c->closed_wait_ns;
	size_t n = c->nclosed;
	uint32_t i;

	c->now_ns = utrace_monotonic_ns();
	if (n)
		memcpy(c->stat_threads, c->closed, n * sizeof(*c->closed));
	for (i = 0; i < c->geo.nslots; i++) {
		struct slot_state *s = &c->slots[i];

		if (!s->open)
			continue;
		slot_update_losses(c, s, i);
		drops = add_sat(drops, s->drops);
		rs = add_sat(rs, s->rs_overflow);
		waits = add_sat(waits, s->waits);
		wait_ns = add_sat(wait_ns, utrace_tsc_span_ns(&c->tsc, s->wait_ticks));
		if (s->drops || s->waits)
			c->stat_threads[n++] = slot_thread_drops(c, s);
	}
	for (i = 0; i < c->geo.nfuncs; i++) {
		if (i >= c->funcs_used) {
			c->func_drops[i] = c->func_notls[i] = 0;
			continue;
		}
		c->func_drops[i] = load_relaxed(&funcs[i].drops);
		c->func_notls[i] = load_relaxed(&funcs[i].notls);
		notls = add_sat(notls, c->func_notls[i]);
	}

	*st = (struct ut_stats){
		.events = c->events,
		.drops = drops,
		.torn = c->torn,
		.invalid = c->invalid,
		.rs_overflow = rs,
		.waits = waits,
		.wait_ns = wait_ns,
		.no_slot = load_relaxed(&ctl->no_slot),
		.lost_return = load_relaxed(&ctl->lost_return),
		.threads = c->stat_threads,
		.nthreads = n,
		.func_drops = c->func_drops,
		.func_notls = c->func_notls,
		.notls = notls,
		.nfuncs = c->geo.nfuncs,
	};
}
