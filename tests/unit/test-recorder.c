/* SPDX-License-Identifier: MIT */
/*
 * The recorder's logic (arch/x86_64/blob/recorder-core.h), compiled hosted
 * and run on a fake data area: thread slots, shadow stacks, rings, and a
 * fake thread stack whose words play the return slots.
 */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "consumer.h"
#include "items.h"

static uint64_t test_key; /* the "current thread's" fs base */
static unsigned key_reads; /* %fs:0 reads: each would fault on a thread without TLS */

#include "blob/recorder-core.h"

static uint64_t rec_thread_key(const struct ut_ctl *ctl)
{
	key_reads++;
	return test_key;
}

static uint64_t test_xmm[8]; /* the "vector registers" a traced function left */

static void rec_read_xmm(uint64_t *x, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		x[i] = test_xmm[i];
}

#define NFUNCS 8
#define NSLOTS 4
#define DEPTH 8
#define RING_RECS 16
#define STACK_WORDS 64
#define THREAD_KEY 0x7f0000001000ULL
#define RET_TRAMP 0x7e0000000100ULL /* this code area's return trampoline */
#define OTHER_TRAMP 0x7d0000000100ULL /* another code area's */
#define LOST 0x7e0000000057ULL /* the lost_return int3 */
#define FUNC_ADDR(id) (0x400000ULL + 0x100 * (id))
#define CALLER_RET(i) (0x401000ULL + (i)) /* what a call left in stack[i] */
/* what the rings hold before the recorder writes: kind bits 0, never a record */
#define RING_PAINT 0xa0
#define PAINT_WORD 0xa0a0a0a0a0a0a0a0ULL
#define REC(f) ((uint64_t)(f)->ctl->rec_size)

struct fixture {
	struct ut_ctl *ctl;
	struct ut_slot *slot; /* the current thread's */
	struct ut_rs_entry *rs;
	unsigned char *ring;
	uint64_t stack[STACK_WORDS]; /* the thread's stack: return slots */
};

static size_t align64(size_t n)
{
	return (n + 63) & ~(size_t)63;
}

/*
 * A data area whose rings hold ring_recs records of rec_size bytes; rec_args,
 * rec_retval: what the session asked records to carry (--args, --retval).
 */
static struct ut_ctl *area_new(uint32_t ring_recs, uint32_t rec_size, int rec_args, int rec_retval)
{
	size_t funcs_off = align64(sizeof(struct ut_ctl));
	size_t slots_off = funcs_off + align64(NFUNCS * sizeof(struct ut_func));
	size_t rstacks_off = slots_off + NSLOTS * sizeof(struct ut_slot);
	size_t rings_off = rstacks_off + NSLOTS * DEPTH * sizeof(struct ut_rs_entry);
	size_t total = rings_off + (size_t)NSLOTS * ring_recs * rec_size;
	struct ut_ctl *ctl = aligned_alloc(64, total);
	uint32_t i;

	assert_non_null(ctl);
	memset(ctl, 0, rings_off);
	memset((char *)ctl + rings_off, RING_PAINT, total - rings_off);
	ctl->magic = UT_SHM_MAGIC;
	ctl->version = UT_SHM_VERSION;
	ctl->nfuncs = NFUNCS;
	ctl->nslots = NSLOTS;
	ctl->ring_size = ring_recs * rec_size;
	ctl->rec_size = rec_size;
	ctl->rec_args = (uint32_t)rec_args;
	ctl->rec_retval = (uint32_t)rec_retval;
	ctl->rstack_depth = DEPTH;
	ctl->funcs_off = funcs_off;
	ctl->slots_off = slots_off;
	ctl->rstacks_off = rstacks_off;
	ctl->rings_off = rings_off;
	ctl->total_size = total;
	ctl->ret_tramps[0] = OTHER_TRAMP;
	ctl->ret_tramps[1] = RET_TRAMP;
	ctl->nret_tramps = 2;
	for (i = 0; i < NFUNCS; i++)
		ut_ctl_funcs(ctl)[i].addr = FUNC_ADDR(i);
	return ctl;
}

/* What the tracer does at a clone event: the first free slot from the hash. */
static uint32_t add_thread(struct ut_ctl *ctl, uint64_t key)
{
	uint32_t i = ut_slot_hash(key, ctl->nslots);

	while (ut_ctl_slots(ctl)[i].key > UT_SLOT_DEAD)
		i = (i + 1) & (ctl->nslots - 1);
	ut_ctl_slots(ctl)[i].key = key;
	return i;
}

static int fixture_setup_fmt(void **state, uint32_t ring_recs, uint32_t rec_size, int rec_args,
			     int rec_retval)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint32_t i;

	assert_non_null(f);
	f->ctl = area_new(ring_recs, rec_size, rec_args, rec_retval);
	i = add_thread(f->ctl, THREAD_KEY);
	f->slot = &ut_ctl_slots(f->ctl)[i];
	f->rs = ut_ctl_rstack(f->ctl, i);
	f->ring = ut_ctl_ring(f->ctl, i);
	f->slot->stack_lo = (uint64_t)(uintptr_t)&f->stack[0];
	f->slot->stack_hi = (uint64_t)(uintptr_t)&f->stack[STACK_WORDS];
	for (i = 0; i < STACK_WORDS; i++)
		f->stack[i] = CALLER_RET(i);
	test_key = THREAD_KEY;
	key_reads = 0;
	*state = f;
	return 0;
}

/* --args --retval: 64-byte records, entries with 5 words, exits with rax and rdx */
static int fixture_setup(void **state)
{
	return fixture_setup_fmt(state, RING_RECS, UT_REC_ARGS_SIZE, 1, 1);
}

static int fixture_setup_small_ring(void **state)
{
	return fixture_setup_fmt(state, 4, UT_REC_ARGS_SIZE, 1, 1);
}

/* neither: 16-byte records, no words */
static int fixture_setup_compact(void **state)
{
	return fixture_setup_fmt(state, RING_RECS, UT_REC_MIN, 0, 0);
}

/* --retval only: 32-byte records, exits with rax and rdx */
static int fixture_setup_retval(void **state)
{
	return fixture_setup_fmt(state, RING_RECS, UT_REC_RETVAL_SIZE, 0, 1);
}

/* --args only: 64-byte records, exits with no words */
static int fixture_setup_args(void **state)
{
	return fixture_setup_fmt(state, RING_RECS, UT_REC_ARGS_SIZE, 1, 0);
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;

	free(f->ctl);
	free(f);
	return 0;
}

static uint64_t slot_addr(struct fixture *f, unsigned i)
{
	return (uint64_t)(uintptr_t)&f->stack[i];
}

/* A call of probe `id` whose return address sits in stack[i]; returns regs->ip. */
static uint64_t enter(struct fixture *f, uint32_t id, unsigned i)
{
	struct user_regs_struct regs = {
		.rdi = 0x11 + id,
		.rsi = 0x22,
		.rdx = 0x33,
		.rcx = 0x44,
		.r8 = 0x55,
		.r9 = 0x66,
		.rsp = slot_addr(f, i),
	};

	rec_entry(f->ctl, id, &regs, RET_TRAMP);
	return regs.rip;
}

/* The return trampoline reached from stack[i]. */
static uint64_t leave(struct fixture *f, unsigned i, uint64_t rax, uint64_t rdx)
{
	return rec_exit(f->ctl, slot_addr(f, i), rax, rdx, LOST);
}

/* Record number n of the ring (its position: n * rec_size). */
static const struct ut_rec_hdr *rec_nth(struct fixture *f, uint64_t n)
{
	return (const struct ut_rec_hdr *)(f->ring + ((n * REC(f)) & (f->ctl->ring_size - 1)));
}

/* Its words, after the header. */
static const uint64_t *rec_w(struct fixture *f, uint64_t n)
{
	return (const uint64_t *)(rec_nth(f, n) + 1);
}

static uint64_t nrecs(struct fixture *f)
{
	assert_int_equal(f->slot->head % REC(f), 0);
	return f->slot->head / REC(f);
}

static void check_rec(struct fixture *f, uint64_t n, enum ut_rec_kind kind, uint32_t func,
		      uint32_t depth)
{
	const struct ut_rec_hdr *r = rec_nth(f, n);

	assert_int_equal(r->commit, ut_rec_commit(ut_rec_lap_of(n * REC(f), f->ctl->ring_size),
						  kind, depth, func));
	assert_int_equal(ut_rec_kind(r->commit), kind);
	assert_int_equal(ut_rec_func(r->commit), func);
	assert_int_equal(ut_rec_depth(r->commit), depth);
}

/* Words k.. of record n were never written (still the ring's paint), up to the record's end. */
static void check_no_words_from(struct fixture *f, uint64_t n, uint32_t k)
{
	for (; k < (REC(f) - sizeof(struct ut_rec_hdr)) / sizeof(uint64_t); k++)
		assert_int_equal(rec_w(f, n)[k], PAINT_WORD);
}

static void check_rs(struct fixture *f, uint32_t i, uint64_t ret, unsigned stack_i, uint32_t func,
		     uint32_t flags)
{
	assert_int_equal(f->rs[i].ret, ret);
	assert_int_equal(f->rs[i].slot, slot_addr(f, stack_i));
	assert_int_equal(f->rs[i].func, func);
	assert_int_equal(f->rs[i].flags, flags);
}

static void recorder_entry_records_and_hijacks(void **state)
{
	struct fixture *f = *state;
	const uint64_t *w;

	assert_int_equal(enter(f, 3, 10), FUNC_ADDR(3));
	assert_int_equal(nrecs(f), 1);
	check_rec(f, 0, UT_REC_ENTRY, 3, 0);
	w = rec_w(f, 0);
	assert_int_equal(w[0], 0x14);
	assert_int_equal(w[1], 0x22);
	assert_int_equal(w[2], 0x33);
	assert_int_equal(w[3], 0x44);
	assert_int_equal(w[4], 0x55);
	check_no_words_from(f, 0, UT_REC_WORDS); /* the 64-byte record's last two words */
	assert_int_not_equal(rec_nth(f, 0)->tsc, 0);
	assert_int_equal(f->slot->rs_top, 1);
	check_rs(f, 0, CALLER_RET(10), 10, 3, UT_RS_VALID);
	assert_int_equal(f->stack[10], RET_TRAMP);
}

static void recorder_exit_records_and_pops(void **state)
{
	struct fixture *f = *state;
	const uint64_t *w;

	enter(f, 3, 10);
	assert_int_equal(leave(f, 10, 0xaaa, 0xddd), CALLER_RET(10));
	assert_int_equal(nrecs(f), 2);
	check_rec(f, 1, UT_REC_EXIT, 3, 0);
	w = rec_w(f, 1);
	assert_int_equal(w[0], 0xaaa);
	assert_int_equal(w[1], 0xddd);
	check_no_words_from(f, 1, UT_REC_RETVAL_WORDS);
	assert_int_equal(f->slot->rs_top, 0);
	assert_int_equal(f->ctl->lost_return, 0);
}

static void recorder_nested_calls_depths(void **state)
{
	struct fixture *f = *state;

	enter(f, 1, 20);
	enter(f, 2, 15);
	assert_int_equal(leave(f, 15, 0, 0), CALLER_RET(15));
	assert_int_equal(leave(f, 20, 0, 0), CALLER_RET(20));
	assert_int_equal(nrecs(f), 4);
	check_rec(f, 0, UT_REC_ENTRY, 1, 0);
	check_rec(f, 1, UT_REC_ENTRY, 2, 1);
	check_rec(f, 2, UT_REC_EXIT, 2, 1);
	check_rec(f, 3, UT_REC_EXIT, 1, 0);
	assert_int_equal(f->slot->rs_top, 0);
}

/* A return from an outer frame: inner entries were skipped by longjmp. */
static void recorder_exit_matches_exact_slot_and_unwinds_above(void **state)
{
	struct fixture *f = *state;

	enter(f, 1, 30);
	enter(f, 2, 20);
	enter(f, 3, 15);
	assert_int_equal(leave(f, 30, 7, 0), CALLER_RET(30));
	assert_int_equal(nrecs(f), 6);
	check_rec(f, 3, UT_REC_UNWIND, 3, 2);
	check_rec(f, 4, UT_REC_UNWIND, 2, 1);
	check_rec(f, 5, UT_REC_EXIT, 1, 0);
	assert_int_equal(rec_w(f, 5)[0], 7);
	check_no_words_from(f, 3, 0); /* unwinds carry no words */
	check_no_words_from(f, 4, 0);
	assert_int_equal(f->slot->rs_top, 0);
}

static void recorder_exit_without_entry_is_lost(void **state)
{
	struct fixture *f = *state;

	enter(f, 1, 30);
	assert_int_equal(leave(f, 29, 0, 0), LOST);
	assert_int_equal(f->ctl->lost_return, 1);
	assert_int_equal(f->slot->rs_top, 1);
	assert_int_equal(nrecs(f), 1);
}

/* A half-written entry (push interrupted for good) is neither matched nor reported. */
static void recorder_exit_skips_invalid_entries(void **state)
{
	struct fixture *f = *state;

	enter(f, 1, 30);
	enter(f, 2, 20);
	f->rs[1].flags = 0;
	assert_int_equal(leave(f, 20, 0, 0), LOST);
	assert_int_equal(leave(f, 30, 0, 0), CALLER_RET(30));
	assert_int_equal(nrecs(f), 3);
	check_rec(f, 2, UT_REC_EXIT, 1, 0);
	assert_int_equal(f->slot->rs_top, 0);
}

/* A traced function tail-calling a traced function: one return, two exits. */
static void recorder_chained_entries_exit_innermost_first(void **state)
{
	struct fixture *f = *state;

	enter(f, 1, 30);
	enter(f, 2, 30);
	assert_int_equal(f->slot->rs_top, 2);
	check_rs(f, 1, 0, 30, 2, UT_RS_CHAINED | UT_RS_VALID);
	assert_int_equal(f->stack[30], RET_TRAMP);
	check_rec(f, 1, UT_REC_ENTRY, 2, 1);

	assert_int_equal(leave(f, 30, 9, 0), CALLER_RET(30));
	assert_int_equal(nrecs(f), 4);
	check_rec(f, 2, UT_REC_EXIT, 2, 1);
	check_rec(f, 3, UT_REC_EXIT, 1, 0);
	assert_int_equal(rec_w(f, 2)[0], 9);
	assert_int_equal(rec_w(f, 3)[0], 9);
	assert_int_equal(f->slot->rs_top, 0);
}

/* A slot holding some trampoline that is not the top entry's: entry event only. */
static void recorder_foreign_hijack_gets_no_return_probe(void **state)
{
	struct fixture *f = *state;

	f->stack[30] = OTHER_TRAMP;
	enter(f, 1, 30);
	assert_int_equal(nrecs(f), 1);
	check_rec(f, 0, UT_REC_ENTRY, 1, 0);
	assert_int_equal(f->slot->rs_top, 0);
	assert_int_equal(f->stack[30], OTHER_TRAMP);
}

/* A call from a shallower or equal slot: deeper frames are gone (longjmp). */
static void recorder_entry_prunes_dead_frames(void **state)
{
	struct fixture *f = *state;

	enter(f, 1, 10);
	enter(f, 2, 8);
	f->stack[12] = CALLER_RET(12);
	enter(f, 3, 12);
	assert_int_equal(nrecs(f), 5);
	check_rec(f, 2, UT_REC_UNWIND, 2, 1);
	check_rec(f, 3, UT_REC_UNWIND, 1, 0);
	check_rec(f, 4, UT_REC_ENTRY, 3, 0);
	assert_int_equal(f->slot->rs_top, 1);
	check_rs(f, 0, CALLER_RET(12), 12, 3, UT_RS_VALID);

	/* the same slot, rewritten by a new call: the old frame is gone too */
	f->stack[12] = CALLER_RET(12);
	enter(f, 4, 12);
	check_rec(f, 5, UT_REC_UNWIND, 3, 0);
	check_rec(f, 6, UT_REC_ENTRY, 4, 0);
	assert_int_equal(f->slot->rs_top, 1);
}

/* Entries on another stack (sigaltstack, coroutine) are only ever matched exactly. */
static void recorder_prunes_only_within_bounds(void **state)
{
	struct fixture *f = *state;

	f->slot->stack_lo = slot_addr(f, 16);
	enter(f, 1, 10); /* below the bounds: another stack */
	enter(f, 2, 20);
	assert_int_equal(f->slot->rs_top, 2);
	assert_int_equal(nrecs(f), 2);

	enter(f, 3, 18); /* inside, but the top (slot 20) is shallower: live */
	enter(f, 4, 22); /* prunes 18 and 20, stops at the entry on the other stack */
	assert_int_equal(nrecs(f), 6);
	check_rec(f, 3, UT_REC_UNWIND, 3, 2);
	check_rec(f, 4, UT_REC_UNWIND, 2, 1);
	check_rec(f, 5, UT_REC_ENTRY, 4, 1);
	assert_int_equal(f->slot->rs_top, 2);
	check_rs(f, 0, CALLER_RET(10), 10, 1, UT_RS_VALID);
}

static void recorder_no_pruning_without_bounds(void **state)
{
	struct fixture *f = *state;

	f->slot->stack_lo = 0;
	f->slot->stack_hi = 0;
	enter(f, 1, 10);
	enter(f, 2, 20);
	assert_int_equal(f->slot->rs_top, 2);
	assert_int_equal(nrecs(f), 2);
	check_rec(f, 1, UT_REC_ENTRY, 2, 1);
}

/* longjmp out of a traced frame, many more times than the stack is deep. */
static void recorder_longjmp_loop_never_overflows(void **state)
{
	struct fixture *f = *state;
	int n;

	for (n = 0; n < 10 * DEPTH; n++) {
		f->stack[10] = CALLER_RET(10);
		enter(f, 1, 10);
		f->slot->tail = f->slot->head; /* the consumer keeps up */
	}
	assert_int_equal(f->slot->rs_top, 1);
	assert_int_equal(f->slot->rs_overflow, 0);
	assert_int_equal(f->slot->drops, 0);
	assert_int_equal(nrecs(f), 2 * 10 * DEPTH - 1);
	check_rec(f, nrecs(f) - 2, UT_REC_UNWIND, 1, 0);
	check_rec(f, nrecs(f) - 1, UT_REC_ENTRY, 1, 0);
}

static void recorder_full_shadow_stack_counts_overflow(void **state)
{
	struct fixture *f = *state;
	unsigned i;

	for (i = 0; i < DEPTH + 2; i++)
		enter(f, 1, 40 - i);
	assert_int_equal(f->slot->rs_top, DEPTH);
	assert_int_equal(f->slot->rs_overflow, 2);
	assert_int_equal(f->stack[40 - DEPTH + 1], RET_TRAMP);
	assert_int_equal(f->stack[40 - DEPTH], CALLER_RET(40 - DEPTH));
	assert_int_equal(f->stack[40 - DEPTH - 1], CALLER_RET(40 - DEPTH - 1));
	check_rec(f, DEPTH + 1, UT_REC_ENTRY, 1, DEPTH);
}

static void recorder_full_ring_drops_and_counts(void **state)
{
	struct fixture *f = *state;

	ut_ctl_funcs(f->ctl)[5].flags = UT_FUNC_NORET;
	enter(f, 5, 10);
	enter(f, 5, 10);
	enter(f, 5, 10);
	enter(f, 5, 10);
	assert_int_equal(f->slot->drops, 0);
	enter(f, 5, 10);
	assert_int_equal(f->slot->head, 4 * REC(f));
	assert_int_equal(f->slot->drops, 1);
	assert_int_equal(ut_ctl_funcs(f->ctl)[5].drops, 1);
	assert_int_equal(ut_ctl_funcs(f->ctl)[4].drops, 0);
	/* block_ticks 0 (--lossy, the fixture's): no wait at all */
	assert_int_equal(f->slot->waits, 0);
	assert_int_equal(f->slot->wait_ticks, 0);
	assert_int_equal(f->slot->gave_up, 0);

	/* the consumer frees one record: the next lands at position 0, on lap 1 */
	f->slot->tail = REC(f);
	enter(f, 6, 11);
	assert_int_equal(f->slot->head, 5 * REC(f));
	assert_int_equal(((const struct ut_rec_hdr *)f->ring)->commit,
			 ut_rec_commit(1, UT_REC_ENTRY, 0, 6));
	check_rec(f, 4, UT_REC_ENTRY, 6, 0);
	assert_int_equal(f->slot->drops, 1);
}

/* ---- a full ring waits for the tracer (ctl->block_ticks) ------------------ */

static uint64_t mono_ns(clockid_t clock)
{
	struct timespec ts;

	assert_int_equal(clock_gettime(clock, &ts), 0);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

/* TSC ticks in `ns` nanoseconds, measured against CLOCK_MONOTONIC over a few ms. */
static uint64_t tsc_ticks(uint64_t ns)
{
	static double ticks_per_ns;

	if (!ticks_per_ns) {
		struct timespec nap = { 0, 5000000 };
		uint64_t t0 = rec_rdtsc(), n0 = mono_ns(CLOCK_MONOTONIC);
		uint64_t t1, n1;

		nanosleep(&nap, NULL);
		t1 = rec_rdtsc();
		n1 = mono_ns(CLOCK_MONOTONIC);
		assert_true(n1 > n0 && t1 > t0);
		ticks_per_ns = (double)(t1 - t0) / (double)(n1 - n0);
	}
	return (uint64_t)(ticks_per_ns * (double)ns);
}

#define MS 1000000ULL
static const uint64_t no_words[UT_REC_WORDS];

/* The words an entry's record carries: the argument registers with --args. */
static uint32_t entry_words(const struct fixture *f)
{
	return f->ctl->rec_args ? UT_REC_WORDS : 0;
}

/* The recorder's view of the fixture's thread. */
static struct rec_thread fixture_thread(struct fixture *f)
{
	struct rec_thread t;

	rec_bind_slot(f->ctl, (uint32_t)(f->slot - ut_ctl_slots(f->ctl)), &t);
	return t;
}

/* Emit one entry of `func` straight into the fixture's ring. */
static void emit(struct fixture *f, uint32_t func)
{
	struct rec_thread t = fixture_thread(f);

	rec_emit(&t, func, UT_REC_ENTRY, 0, no_words, entry_words(f));
}

/* Fill the ring up: no wait, no drop. */
static void fill_ring(struct fixture *f)
{
	uint64_t room = (f->ctl->ring_size - (f->slot->head - f->slot->tail)) / REC(f);

	while (room--)
		emit(f, 4);
	assert_int_equal(f->slot->head - f->slot->tail, f->ctl->ring_size);
	assert_int_equal(f->slot->drops, 0);
}

/* --lossy (block_ticks 0): a full ring drops at once, whatever spin_ticks says. */
static void recorder_lossy_full_ring_never_waits(void **state)
{
	struct fixture *f = *state;

	f->ctl->block_ticks = 0;
	f->ctl->spin_ticks = tsc_ticks(1000 * MS);
	fill_ring(f);
	emit(f, 5);
	emit(f, 5);
	assert_int_equal(f->slot->drops, 2);
	assert_int_equal(ut_ctl_funcs(f->ctl)[5].drops, 2);
	assert_int_equal(f->slot->waits, 0);
	assert_int_equal(f->slot->wait_ticks, 0);
	assert_int_equal(f->slot->gave_up, 0);
	assert_int_equal(f->slot->sleepers, 0);
	assert_int_equal(f->slot->head, f->ctl->ring_size);
}

/*
 * Nobody drains: the emit waits block_ticks, then drops and marks the tail;
 * the next emits on that tail drop at once; once the tail moves and the ring
 * fills again, an emit waits again.
 */
static void recorder_full_ring_waits_then_gives_up(void **state)
{
	struct fixture *f = *state;
	uint64_t t0, took, ticks;

	f->ctl->block_ticks = tsc_ticks(2 * MS);
	f->ctl->spin_ticks = tsc_ticks(MS / 2); /* spins, then sleeps */
	assert_true(f->ctl->spin_ticks > 0 && f->ctl->block_ticks > f->ctl->spin_ticks);
	fill_ring(f);

	t0 = rec_rdtsc();
	emit(f, 5);
	took = rec_rdtsc() - t0;
	assert_true(took >= f->ctl->block_ticks);
	assert_int_equal(f->slot->drops, 1);
	assert_int_equal(ut_ctl_funcs(f->ctl)[5].drops, 1);
	assert_int_equal(f->slot->waits, 1);
	assert_true(f->slot->wait_ticks >= f->ctl->block_ticks);
	assert_true(f->slot->wait_ticks <= took);
	assert_int_equal(f->slot->gave_up, 0 + 1); /* tail 0, + 1 */
	assert_int_equal(f->slot->sleepers, 0);
	assert_int_equal(f->slot->head, f->ctl->ring_size);

	/* the same tail: dropped at once, no second wait */
	ticks = f->slot->wait_ticks;
	emit(f, 6);
	emit(f, 6);
	assert_int_equal(f->slot->drops, 3);
	assert_int_equal(ut_ctl_funcs(f->ctl)[6].drops, 2);
	assert_int_equal(f->slot->waits, 1);
	assert_int_equal(f->slot->wait_ticks, ticks);

	/* the consumer takes one record: room for one, written without a wait */
	f->slot->tail = REC(f);
	emit(f, 7);
	assert_int_equal(f->slot->head, f->ctl->ring_size + REC(f));
	assert_int_equal(((const struct ut_rec_hdr *)f->ring)->commit,
			 ut_rec_commit(1, UT_REC_ENTRY, 0, 7)); /* position 0, lap 1 */
	check_rec(f, f->ctl->ring_size / REC(f), UT_REC_ENTRY, 7, 0);
	assert_int_equal(f->slot->waits, 1);
	assert_int_equal(f->slot->drops, 3);

	/* full again on a new tail: a new wait, then a new mark */
	t0 = rec_rdtsc();
	emit(f, 5);
	assert_true(rec_rdtsc() - t0 >= f->ctl->block_ticks);
	assert_int_equal(f->slot->waits, 2);
	assert_int_equal(f->slot->drops, 4);
	assert_int_equal(f->slot->gave_up, REC(f) + 1);
	assert_true(f->slot->wait_ticks >= ticks + f->ctl->block_ticks);
	assert_int_equal(f->slot->sleepers, 0);
}

/* Past spin_ticks the wait sleeps on the futex: it takes hardly any CPU time. */
static void recorder_wait_sleeps_past_spin(void **state)
{
	struct fixture *f = *state;
	uint64_t cpu0, cpu;

	f->ctl->block_ticks = tsc_ticks(20 * MS);
	f->ctl->spin_ticks = 0;
	fill_ring(f);
	cpu0 = mono_ns(CLOCK_THREAD_CPUTIME_ID);
	emit(f, 5);
	cpu = mono_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	assert_int_equal(f->slot->waits, 1);
	assert_int_equal(f->slot->drops, 1);
	assert_true(f->slot->wait_ticks >= f->ctl->block_ticks);
	/* 20 slices of 1 ms asleep: microseconds of CPU each, not 20 ms */
	assert_true(cpu < 10 * MS);
}

/* A tracer thread: once the recorder sleeps, drain, then change what the test says. */
struct drainer {
	struct ut_ctl *ctl;
	struct ut_slot *slot;
	uint64_t new_tail; /* stored as the tracer's tail_store does; 0: leave it */
	int stop_blocking; /* clear ctl->block_ticks, as detach does */
	/* first bump ctl->heartbeat every 1 ms for this long, as a tracer busy formatting */
	uint64_t busy_ns;
	int saw_sleeper;
	long woken;
};

static void *drainer_main(void *arg)
{
	struct drainer *d = arg;
	struct timespec nap = { 0, 5000000 }, tick = { 0, 100000 };
	int i;

	nanosleep(&nap, NULL);
	/* up to some 10 s under load: the recorder sleeps in 1 ms slices */
	for (i = 0; i < 100000 && !__atomic_load_n(&d->slot->sleepers, __ATOMIC_SEQ_CST); i++)
		nanosleep(&tick, NULL);
	d->saw_sleeper = __atomic_load_n(&d->slot->sleepers, __ATOMIC_SEQ_CST) != 0;
	for (uint64_t t0 = mono_ns(CLOCK_MONOTONIC); mono_ns(CLOCK_MONOTONIC) - t0 < d->busy_ns;) {
		struct timespec ms = { 0, MS };

		__atomic_fetch_add(&d->ctl->heartbeat, 1, __ATOMIC_SEQ_CST);
		nanosleep(&ms, NULL);
	}
	if (d->stop_blocking)
		__atomic_store_n(&d->ctl->block_ticks, 0, __ATOMIC_SEQ_CST);
	if (d->new_tail)
		__atomic_store_n(&d->slot->tail, d->new_tail, __ATOMIC_SEQ_CST);
	if (__atomic_load_n(&d->slot->sleepers, __ATOMIC_SEQ_CST))
		d->woken = syscall(SYS_futex, &d->slot->tail, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	return NULL;
}

static void run_with_drainer(struct fixture *f, struct drainer *d, uint32_t func)
{
	pthread_t th;

	d->ctl = f->ctl;
	d->slot = f->slot;
	assert_int_equal(pthread_create(&th, NULL, drainer_main, d), 0);
	emit(f, func);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_true(d->saw_sleeper);
	assert_true(d->woken >= 0);
}

/* The tracer drains while the recorder sleeps: the record is written, nothing dropped. */
static void recorder_wait_ends_when_the_tracer_drains(void **state)
{
	struct fixture *f = *state;
	struct drainer d = { .new_tail = 2 * REC(f) };

	f->ctl->block_ticks = tsc_ticks(30000 * MS); /* only a drain ends this wait */
	f->ctl->spin_ticks = tsc_ticks(MS / 10);
	fill_ring(f);
	run_with_drainer(f, &d, 6);
	assert_int_equal(f->slot->drops, 0);
	assert_int_equal(ut_ctl_funcs(f->ctl)[6].drops, 0);
	assert_int_equal(f->slot->waits, 1);
	assert_true(f->slot->wait_ticks > 0);
	assert_true(f->slot->wait_ticks < f->ctl->block_ticks);
	assert_int_equal(f->slot->gave_up, 0);
	assert_int_equal(f->slot->sleepers, 0);
	assert_int_equal(f->slot->head, f->ctl->ring_size + REC(f));
	assert_int_equal(((const struct ut_rec_hdr *)f->ring)->commit,
			 ut_rec_commit(1, UT_REC_ENTRY, 0, 6)); /* position 0, lap 1 */
	check_rec(f, f->ctl->ring_size / REC(f), UT_REC_ENTRY, 6, 0);

	/* one more record fits without a wait; the next waits again */
	emit(f, 6);
	assert_int_equal(f->slot->waits, 1);
	assert_int_equal(f->slot->head, f->ctl->ring_size + 2 * REC(f));
	d = (struct drainer){ .new_tail = 3 * REC(f) };
	run_with_drainer(f, &d, 7);
	assert_int_equal(f->slot->waits, 2);
	assert_int_equal(f->slot->drops, 0);
	assert_int_equal(f->slot->head, f->ctl->ring_size + 3 * REC(f));
}

/*
 * A tracer busy with its backlog beats its heart: the wait goes on past
 * block_ticks (here 5 times over) and ends with the drain, nothing dropped.
 */
static void recorder_wait_outlasts_timeout_while_tracer_lives(void **state)
{
	struct fixture *f = *state;
	/* beats 1 ms apart against a 50 ms timeout: room for a loaded machine's scheduler */
	struct drainer d = { .new_tail = REC(f), .busy_ns = 250 * MS };

	f->ctl->block_ticks = tsc_ticks(50 * MS);
	f->ctl->spin_ticks = 0;
	fill_ring(f);
	run_with_drainer(f, &d, 6);
	assert_int_equal(f->slot->drops, 0);
	assert_int_equal(f->slot->waits, 1);
	assert_int_equal(f->slot->gave_up, 0);
	assert_true(f->slot->wait_ticks >= 5 * f->ctl->block_ticks);
	check_rec(f, f->ctl->ring_size / REC(f), UT_REC_ENTRY, 6, 0);
}

/*
 * The tracer is alive but stalled on this ring (an uncommitted record at
 * the tail): its heartbeat does not count here, the wait times out.
 */
static void recorder_wait_times_out_on_a_stalled_ring(void **state)
{
	struct fixture *f = *state;
	/*
	 * 200 ms: the drainer thread must see the recorder asleep before it
	 * gives up, room for a loaded machine's scheduler; beats for 5 times that.
	 */
	struct drainer d = { .busy_ns = 1000 * MS };
	uint64_t t0;

	f->ctl->block_ticks = tsc_ticks(200 * MS);
	f->ctl->spin_ticks = 0;
	f->slot->stalled = 1;
	fill_ring(f);
	t0 = rec_rdtsc();
	run_with_drainer(f, &d, 6);
	assert_int_equal(f->slot->drops, 1);
	assert_int_equal(f->slot->waits, 1);
	assert_int_equal(f->slot->gave_up, 0 + 1);
	assert_true(f->slot->wait_ticks >= f->ctl->block_ticks);
	/* it gave up long before the heartbeats stopped */
	assert_true(f->slot->wait_ticks < rec_rdtsc() - t0);
}

/* Detach clears block_ticks while a recorder waits: it stops waiting and drops. */
static void recorder_wait_ends_when_blocking_is_turned_off(void **state)
{
	struct fixture *f = *state;
	struct drainer d = { .stop_blocking = 1 };

	f->ctl->block_ticks = tsc_ticks(30000 * MS);
	f->ctl->spin_ticks = 0;
	fill_ring(f);
	run_with_drainer(f, &d, 5);
	assert_int_equal(f->slot->drops, 1);
	assert_int_equal(ut_ctl_funcs(f->ctl)[5].drops, 1);
	assert_int_equal(f->slot->waits, 1);
	assert_int_equal(f->slot->gave_up, 0 + 1);
	assert_int_equal(f->slot->sleepers, 0);
	assert_int_equal(f->slot->head, f->ctl->ring_size);
	/* and never waits again */
	emit(f, 5);
	assert_int_equal(f->slot->waits, 1);
	assert_int_equal(f->slot->drops, 2);
}

static void recorder_noret_function_is_not_hijacked(void **state)
{
	struct fixture *f = *state;

	ut_ctl_funcs(f->ctl)[2].flags = UT_FUNC_NORET;
	enter(f, 2, 10);
	assert_int_equal(nrecs(f), 1);
	check_rec(f, 0, UT_REC_ENTRY, 2, 0);
	assert_int_equal(f->slot->rs_top, 0);
	assert_int_equal(f->stack[10], CALLER_RET(10));
}

static void recorder_disabled_blocks_entries_not_exits(void **state)
{
	struct fixture *f = *state;

	enter(f, 1, 30);
	f->ctl->disabled = 1;
	enter(f, 2, 20);
	assert_int_equal(nrecs(f), 1);
	assert_int_equal(f->slot->rs_top, 1);
	assert_int_equal(f->stack[20], CALLER_RET(20));
	assert_int_equal(leave(f, 30, 0, 0), CALLER_RET(30));
	assert_int_equal(nrecs(f), 2);
	check_rec(f, 1, UT_REC_EXIT, 1, 0);
	assert_int_equal(f->slot->rs_top, 0);
	assert_int_equal(f->ctl->no_slot, 0);
}

static void recorder_unknown_thread_counts_no_slot(void **state)
{
	struct fixture *f = *state;

	test_key = THREAD_KEY + 0x40;
	enter(f, 1, 30);
	assert_int_equal(f->ctl->no_slot, 1);
	test_key = 0; /* fs base not set up yet */
	enter(f, 1, 30);
	assert_int_equal(f->ctl->no_slot, 2);
	assert_int_equal(leave(f, 30, 0, 0), LOST);
	assert_int_equal(f->ctl->lost_return, 1);
	assert_int_equal(f->slot->head, 0);
	assert_int_equal(f->slot->rs_top, 0);
	assert_int_equal(f->stack[30], CALLER_RET(30));
}

/*
 * Detach came while a signal handler held the thread between its shadow push
 * and its hijack (rec_entry had passed its own `disabled` check): the hijack
 * is undone and the entry popped, so the return goes straight home.
 */
static void recorder_hijack_after_detach_is_undone(void **state)
{
	struct fixture *f = *state;

	enter(f, 1, 40);
	f->ctl->disabled = 1;
	rec_hook_return(&(struct rec_thread){ f->ctl, f->slot, f->rs, f->ring }, 2, &f->stack[30],
			0, RET_TRAMP, 0);
	assert_int_equal(f->stack[30], CALLER_RET(30));
	assert_int_equal(f->slot->rs_top, 1);
	assert_int_equal(f->stack[40], RET_TRAMP);
	assert_int_equal(leave(f, 40, 0, 0), CALLER_RET(40));
	assert_int_equal(f->slot->rs_top, 0);
}

/* The fixture's slot as the tracer makes it for a thread with no TLS yet. */
static void make_early(struct fixture *f)
{
	f->slot->key = UT_SLOT_EARLY;
	f->ctl->early_slot = (uint32_t)(f->slot - ut_ctl_slots(f->ctl)) + 1;
}

/* Before its TLS exists a thread records on its early slot, then claims it with its fs base. */
static void recorder_early_slot_traces_before_tls(void **state)
{
	struct fixture *f = *state;

	make_early(f);
	test_key = 0;
	assert_int_equal(enter(f, 1, 30), FUNC_ADDR(1));
	assert_int_equal(f->stack[30], RET_TRAMP);
	assert_int_equal(f->slot->key, UT_SLOT_EARLY);
	test_key = THREAD_KEY + 0x1000; /* __libc_setup_tls ran: an fs base the hash never saw */
	assert_int_equal(leave(f, 30, 7, 0), CALLER_RET(30));
	assert_int_equal(f->slot->key, THREAD_KEY + 0x1000);
	enter(f, 2, 20);
	assert_int_equal(leave(f, 20, 8, 0), CALLER_RET(20));
	assert_int_equal(nrecs(f), 4);
	check_rec(f, 0, UT_REC_ENTRY, 1, 0);
	check_rec(f, 1, UT_REC_EXIT, 1, 0);
	check_rec(f, 2, UT_REC_ENTRY, 2, 0);
	check_rec(f, 3, UT_REC_EXIT, 2, 0);
	assert_int_equal(f->ctl->no_slot, 0);
	assert_int_equal(f->ctl->lost_return, 0);
}

/* Off the early slot's stack, or once it is claimed, a thread without a slot has none. */
static void recorder_early_slot_only_on_its_stack(void **state)
{
	struct fixture *f = *state;
	uint64_t elsewhere[4] = { 0 };
	struct user_regs_struct regs = { .rsp = (uint64_t)(uintptr_t)&elsewhere[1] };

	make_early(f);
	test_key = 0;
	rec_entry(f->ctl, 1, &regs, RET_TRAMP);
	test_key = THREAD_KEY + 0x2000;
	rec_entry(f->ctl, 1, &regs, RET_TRAMP);
	assert_int_equal(f->ctl->no_slot, 2);
	assert_int_equal(f->slot->key, UT_SLOT_EARLY);
	assert_int_equal(elsewhere[1], 0);
	enter(f, 1, 30); /* claims it */
	test_key = 0;
	enter(f, 1, 29);
	test_key = THREAD_KEY + 0x3000;
	enter(f, 1, 28);
	assert_int_equal(f->ctl->no_slot, 4);
	assert_int_equal(f->slot->key, THREAD_KEY + 0x2000);
	assert_int_equal(nrecs(f), 1);
}

/*
 * Without rdfsbase, while the tracer knows of a thread without TLS, entries
 * read no fs base (it would fault there): counted per function, no record,
 * no hijack.  Returns read it: only a thread that had TLS was hijacked.
 */
static void recorder_no_tls_reads_no_key(void **state)
{
	struct fixture *f = *state;

	f->ctl->use_rdfsbase = 0;
	enter(f, 2, 20);
	f->ctl->notls_threads = 1;
	key_reads = 0;
	assert_int_equal(enter(f, 1, 30), FUNC_ADDR(1));
	enter(f, 1, 29);
	assert_int_equal(key_reads, 0);
	assert_int_equal(f->stack[30], CALLER_RET(30));
	assert_int_equal(ut_ctl_funcs(f->ctl)[1].notls, 2);
	assert_int_equal(leave(f, 20, 5, 0), CALLER_RET(20));
	assert_int_equal(key_reads, 1);
	f->ctl->notls_threads = 0;
	enter(f, 1, 30);
	assert_int_equal(leave(f, 30, 6, 0), CALLER_RET(30));
	assert_int_equal(nrecs(f), 4);
	check_rec(f, 0, UT_REC_ENTRY, 2, 0);
	check_rec(f, 1, UT_REC_EXIT, 2, 0);
	check_rec(f, 2, UT_REC_ENTRY, 1, 0);
	assert_int_equal(f->ctl->no_slot, 0);
}

/* With rdfsbase a thread without TLS reads 0, harmlessly: the count is not a gate then. */
static void recorder_no_tls_gate_only_without_rdfsbase(void **state)
{
	struct fixture *f = *state;

	f->ctl->use_rdfsbase = 1;
	f->ctl->notls_threads = 1;
	enter(f, 1, 30);
	assert_int_equal(key_reads, 1);
	assert_int_equal(nrecs(f), 1);
	assert_int_equal(ut_ctl_funcs(f->ctl)[1].notls, 0);
}

/*
 * Another thread shares the slot's key (cloned without CLONE_SETTLS): entries
 * take the slot only on its own stack; a frame hijacked elsewhere before
 * still returns through it.
 */
static void recorder_shared_key_entries_by_stack(void **state)
{
	struct fixture *f = *state;
	uint64_t elsewhere[4] = { CALLER_RET(100), CALLER_RET(101), 0, 0 };
	struct user_regs_struct regs = { .rsp = (uint64_t)(uintptr_t)&elsewhere[1] };

	rec_entry(f->ctl, 3, &regs, RET_TRAMP); /* a signal handler on a sigaltstack, say */
	assert_int_equal(elsewhere[1], RET_TRAMP);
	f->slot->flags = UT_SLOT_BY_STACK;
	rec_entry(f->ctl, 1,
		  &(struct user_regs_struct){ .rsp = (uint64_t)(uintptr_t)&elsewhere[0] },
		  RET_TRAMP);
	assert_int_equal(elsewhere[0], CALLER_RET(100));
	assert_int_equal(f->ctl->no_slot, 1);
	enter(f, 2, 30);
	assert_int_equal(f->stack[30], RET_TRAMP);
	assert_int_equal(leave(f, 30, 0, 0), CALLER_RET(30));
	assert_int_equal(rec_exit(f->ctl, (uint64_t)(uintptr_t)&elsewhere[1], 0, 0, LOST),
			 CALLER_RET(101));
	assert_int_equal(nrecs(f), 4);
	assert_int_equal(f->slot->rs_top, 0);
}

/* When the sharer's stack cannot be told from the slot's, no entry takes the slot. */
static void recorder_shared_key_no_entry(void **state)
{
	struct fixture *f = *state;

	enter(f, 2, 20);
	f->slot->flags = UT_SLOT_BY_STACK | UT_SLOT_NO_ENTRY;
	enter(f, 1, 30);
	assert_int_equal(f->stack[30], CALLER_RET(30));
	assert_int_equal(f->ctl->no_slot, 1);
	assert_int_equal(leave(f, 20, 0, 0), CALLER_RET(20));
	assert_int_equal(nrecs(f), 2);
	assert_int_equal(f->ctl->lost_return, 0);
}

static void recorder_invalid_id_is_ignored(void **state)
{
	struct fixture *f = *state;

	enter(f, NFUNCS, 30);
	assert_int_equal(f->slot->head, 0);
	assert_int_equal(f->ctl->no_slot, 0);
	assert_int_equal(f->stack[30], CALLER_RET(30));
}

/* Probing continues past freed slots, stops at a never-used one. */
static void recorder_slot_probing(void **state)
{
	struct fixture *f = *state;
	struct ut_slot *slots = ut_ctl_slots(f->ctl);
	uint32_t h = ut_slot_hash(THREAD_KEY, NSLOTS);
	uint32_t next = (h + 1) & (NSLOTS - 1);
	uint32_t i;

	slots[h].key = UT_SLOT_DEAD;
	slots[next].key = THREAD_KEY;
	enter(f, 1, 30);
	assert_int_equal(slots[next].head, REC(f));
	assert_int_equal(f->ctl->no_slot, 0);

	slots[h].key = UT_SLOT_FREE;
	enter(f, 1, 29);
	assert_int_equal(f->ctl->no_slot, 1);
	assert_int_equal(slots[next].head, REC(f));

	/* no free slot anywhere: at most nslots probes, then no slot */
	for (i = 0; i < NSLOTS; i++)
		slots[i].key = UT_SLOT_DEAD;
	enter(f, 1, 28);
	assert_int_equal(f->ctl->no_slot, 2);
}

/* ---- unwinder hooks (lib/probes/hooks.c) ---------------------------------------------- */

#define HOOK_THROW 6 /* _Unwind_RaiseException & co. */
#define HOOK_CATCH 7 /* __cxa_begin_catch, the returns of _Unwind_Backtrace */

static void set_hooks(struct fixture *f)
{
	ut_ctl_funcs(f->ctl)[HOOK_THROW].flags = UT_FUNC_HIDDEN | UT_FUNC_NORET | UT_FUNC_UNHIJACK;
	ut_ctl_funcs(f->ctl)[HOOK_CATCH].flags = UT_FUNC_HIDDEN | UT_FUNC_NORET | UT_FUNC_REHIJACK;
}

/* A call of probe id whose return address sits at *slot (any stack). */
static void enter_at(struct fixture *f, uint32_t id, uint64_t *slot)
{
	struct user_regs_struct regs = { .rsp = (uint64_t)(uintptr_t)slot };

	rec_entry(f->ctl, id, &regs, RET_TRAMP);
}

/* The walk sees original return addresses at and above sp; the hook leaves no trace. */
static void recorder_unhijack_restores_walked_slots(void **state)
{
	struct fixture *f = *state;

	set_hooks(f);
	enter(f, 1, 40);
	enter(f, 2, 30);
	enter(f, 3, 20);
	enter(f, HOOK_THROW, 25); /* 3's frame is below: not walked */
	assert_int_equal(nrecs(f), 3);
	assert_int_equal(f->slot->rs_top, 3);
	assert_int_equal(f->stack[40], CALLER_RET(40));
	assert_int_equal(f->stack[30], CALLER_RET(30));
	assert_int_equal(f->stack[20], RET_TRAMP);
	assert_int_equal(f->stack[25], CALLER_RET(25)); /* the hook's own return */
	check_rs(f, 0, CALLER_RET(40), 40, 1, UT_RS_VALID | UT_RS_UNHIJACKED);
	check_rs(f, 1, CALLER_RET(30), 30, 2, UT_RS_VALID | UT_RS_UNHIJACKED);
	check_rs(f, 2, CALLER_RET(20), 20, 3, UT_RS_VALID);
}

/* Thrown from 3, caught in 2: 3 unwound, 1 and 2 hijacked again, 2 returns. */
static void recorder_catch_rehijacks_live_frames_and_unwinds_the_rest(void **state)
{
	struct fixture *f = *state;

	set_hooks(f);
	enter(f, 1, 40);
	enter(f, 2, 30);
	enter(f, 3, 20);
	enter(f, HOOK_THROW, 10);
	enter(f, HOOK_CATCH, 25);
	assert_int_equal(nrecs(f), 4);
	check_rec(f, 3, UT_REC_UNWIND, 3, 2);
	assert_int_equal(f->slot->rs_top, 2);
	assert_int_equal(f->stack[40], RET_TRAMP);
	assert_int_equal(f->stack[30], RET_TRAMP);
	assert_int_equal(f->stack[20], CALLER_RET(20));
	check_rs(f, 0, CALLER_RET(40), 40, 1, UT_RS_VALID);
	check_rs(f, 1, CALLER_RET(30), 30, 2, UT_RS_VALID);
	assert_int_equal(leave(f, 30, 0, 0), CALLER_RET(30));
	check_rec(f, 4, UT_REC_EXIT, 2, 1);
	assert_int_equal(f->ctl->lost_return, 0);
}

/* A rethrow from the catching frame: un-hijacked again, caught further out. */
static void recorder_rethrow_then_catch_outside(void **state)
{
	struct fixture *f = *state;

	set_hooks(f);
	enter(f, 1, 40);
	enter(f, 2, 30);
	enter(f, HOOK_THROW, 20);
	enter(f, HOOK_CATCH, 25); /* caught in 2 */
	enter(f, HOOK_THROW, 25); /* rethrown */
	assert_int_equal(f->stack[30], CALLER_RET(30));
	enter(f, HOOK_CATCH, 35); /* caught in 1 */
	assert_int_equal(nrecs(f), 3);
	check_rec(f, 2, UT_REC_UNWIND, 2, 1);
	assert_int_equal(f->stack[40], RET_TRAMP);
	assert_int_equal(leave(f, 40, 0, 0), CALLER_RET(40));
	check_rec(f, 3, UT_REC_EXIT, 1, 0);
}

/* A slot that no longer holds the return address is not a live frame: never written. */
static void recorder_rehijack_only_where_the_return_address_is(void **state)
{
	struct fixture *f = *state;

	set_hooks(f);
	enter(f, 1, 40);
	enter(f, 2, 30);
	enter(f, HOOK_THROW, 10);
	f->stack[30] = 0x1234;
	enter(f, HOOK_CATCH, 25);
	assert_int_equal(f->stack[30], 0x1234);
	assert_int_equal(f->stack[40], RET_TRAMP);
	assert_int_equal(f->rs[1].flags, UT_RS_VALID | UT_RS_UNHIJACKED);
}

/* Detaching: un-hijacking still runs (a slot may be hijacked), re-hijacking never. */
static void recorder_disabled_unhijacks_but_never_rehijacks(void **state)
{
	struct fixture *f = *state;

	set_hooks(f);
	enter(f, 1, 40);
	f->ctl->disabled = 1;
	enter(f, HOOK_THROW, 10);
	assert_int_equal(f->stack[40], CALLER_RET(40));
	enter(f, HOOK_CATCH, 25);
	assert_int_equal(f->stack[40], CALLER_RET(40));
	assert_int_equal(nrecs(f), 1);
}

/* A chain of tail calls shares one slot: restored and hijacked once, both exits. */
static void recorder_unhijack_chained_entries(void **state)
{
	struct fixture *f = *state;

	set_hooks(f);
	enter(f, 1, 40);
	enter(f, 2, 40);
	enter(f, HOOK_THROW, 10);
	assert_int_equal(f->stack[40], CALLER_RET(40));
	check_rs(f, 1, 0, 40, 2, UT_RS_VALID | UT_RS_CHAINED);
	enter(f, HOOK_CATCH, 30);
	assert_int_equal(f->stack[40], RET_TRAMP);
	assert_int_equal(leave(f, 40, 0, 0), CALLER_RET(40));
	check_rec(f, 2, UT_REC_EXIT, 2, 1);
	check_rec(f, 3, UT_REC_EXIT, 1, 0);
}

/*
 * A traced function tail-called _Unwind_Backtrace: its return slot is the
 * hooked function's own, restored for the walk and hijacked again at the
 * return, where the frame is still live.  At __cxa_begin_catch the entry
 * at the hook's slot is a callee the catch left: unwound.
 */
static void recorder_tail_call_into_the_unwinder(void **state)
{
	struct fixture *f = *state;

	set_hooks(f);
	enter(f, 1, 40);
	enter(f, 2, 30);
	enter(f, HOOK_THROW, 30); /* jmp _Unwind_Backtrace */
	assert_int_equal(f->stack[30], CALLER_RET(30));
	assert_int_equal(f->stack[40], CALLER_RET(40));
	enter(f, HOOK_CATCH, 30); /* its `ret` */
	assert_int_equal(f->stack[30], RET_TRAMP);
	assert_int_equal(f->stack[40], RET_TRAMP);
	assert_int_equal(nrecs(f), 2);
	assert_int_equal(leave(f, 30, 0, 0), CALLER_RET(30));
	check_rec(f, 2, UT_REC_EXIT, 2, 1);
	f->stack[30] = CALLER_RET(30); /* what the return trampoline leaves */

	/* thrown from 2 (its slot restored), caught in 1: the catch's call reuses 2's slot */
	enter(f, 2, 30);
	enter(f, HOOK_THROW, 20);
	f->stack[30] = 0x4242;
	enter(f, HOOK_CATCH, 30);
	check_rec(f, 4, UT_REC_UNWIND, 2, 1);
	assert_int_equal(f->stack[30], 0x4242);
	assert_int_equal(f->stack[40], RET_TRAMP);
	assert_int_equal(f->slot->rs_top, 1);
}

/*
 * On another stack (a coroutine's), only the entries pushed there since the
 * last switch are walked; the thread's own stack is left alone.
 */
static void recorder_unhijack_on_another_stack(void **state)
{
	struct fixture *f = *state;
	uint64_t alt[16];

	set_hooks(f);
	for (unsigned i = 0; i < 16; i++)
		alt[i] = 0x500000 + i;
	enter(f, 1, 40);
	enter_at(f, 2, &alt[10]);
	enter_at(f, 3, &alt[5]);
	enter_at(f, HOOK_THROW, &alt[2]);
	assert_int_equal(alt[10], 0x50000a);
	assert_int_equal(alt[5], 0x500005);
	assert_int_equal(f->stack[40], RET_TRAMP);
	enter_at(f, HOOK_CATCH, &alt[7]); /* caught in 2: 3's entry cannot be pruned here */
	assert_int_equal(alt[10], RET_TRAMP);
	assert_int_equal(alt[5], 0x500005);
	assert_int_equal(f->slot->rs_top, 3);
	/*
	 * 2 returns.  3's entry lies on a stack whose bounds the recorder does
	 * not know: exactly like a suspended coroutine's frame, so it is kept
	 * (the thread's end reports it unwound) and only 2's exit is written.
	 */
	assert_int_equal(rec_exit(f->ctl, (uint64_t)(uintptr_t)&alt[10], 0, 0, LOST), 0x50000a);
	check_rec(f, 3, UT_REC_EXIT, 2, 1);
	assert_int_equal(nrecs(f), 4);
	assert_int_equal(f->slot->rs_top, 2);
}

/* ---- record formats (ut_ctl.rec_size, rec_args, rec_retval) ---------------- */

/* The ring's bytes from `from` to its end were never written. */
static void check_ring_painted_from(struct fixture *f, uint64_t from)
{
	for (uint64_t i = from; i < f->ctl->ring_size; i++)
		assert_int_equal(f->ring[i], RING_PAINT);
}

/*
 * Neither --args nor --retval: every record is its 16-byte header, entries,
 * exits and unwinds alike.  Head advances by 16 a record, nothing is written
 * past it, and the lap in the commit word follows the ring round, 8 bits of
 * it (lap 256 and more included).
 */
static void recorder_compact_records_take_16_bytes(void **state)
{
	struct fixture *f = *state;
	const uint64_t laps = 300, per_lap = RING_RECS / 2; /* calls of 2 records */
	uint64_t i, n;

	assert_int_equal(REC(f), UT_REC_MIN);
	enter(f, 1, 20);
	assert_int_equal(f->slot->head, 16);
	enter(f, 2, 15);
	assert_int_equal(f->slot->head, 32);
	assert_int_equal(leave(f, 15, 0xaaa, 0xddd), CALLER_RET(15));
	assert_int_equal(f->slot->head, 48);
	enter(f, 3, 10);
	assert_int_equal(leave(f, 20, 0xbbb, 0xeee), CALLER_RET(20)); /* 3 was left by longjmp */
	assert_int_equal(f->slot->head, 6 * UT_REC_MIN);
	check_rec(f, 0, UT_REC_ENTRY, 1, 0);
	check_rec(f, 1, UT_REC_ENTRY, 2, 1);
	check_rec(f, 2, UT_REC_EXIT, 2, 1);
	check_rec(f, 3, UT_REC_ENTRY, 3, 1);
	check_rec(f, 4, UT_REC_UNWIND, 3, 1);
	check_rec(f, 5, UT_REC_EXIT, 1, 0);
	for (i = 0; i < 6; i++)
		assert_int_not_equal(rec_nth(f, i)->tsc, 0);
	/* not one argument or return value anywhere */
	check_ring_painted_from(f, f->slot->head);

	/* round and round the ring, the consumer keeping up */
	f->slot->tail = f->slot->head;
	for (i = 0; i < laps * per_lap; i++) {
		f->stack[30] = CALLER_RET(30);
		enter(f, 1 + (uint32_t)(i % 4), 30);
		assert_int_equal(leave(f, 30, i, i), CALLER_RET(30));
		assert_int_equal(f->slot->head, (6 + 2 * (i + 1)) * UT_REC_MIN);
		f->slot->tail = f->slot->head;
	}
	n = nrecs(f);
	assert_true(ut_rec_lap_of((n - 1) * UT_REC_MIN, f->ctl->ring_size) >= 256);
	for (i = n - RING_RECS; i < n; i += 2) {
		uint32_t func = 1 + (uint32_t)((i - 6) / 2 % 4);

		check_rec(f, i, UT_REC_ENTRY, func, 0);
		check_rec(f, i + 1, UT_REC_EXIT, func, 0);
		assert_int_equal(ut_rec_lap(rec_nth(f, i)->commit),
				 ut_rec_lap_of(i * UT_REC_MIN, f->ctl->ring_size) & 0xff);
	}
	assert_int_equal(f->slot->drops, 0);
}

/* --retval alone: 32-byte records; exits carry rax and rdx, entries and unwinds no word. */
static void recorder_retval_only_exits_carry_rax_rdx(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(REC(f), UT_REC_RETVAL_SIZE);
	enter(f, 3, 10);
	assert_int_equal(f->slot->head, UT_REC_RETVAL_SIZE);
	check_rec(f, 0, UT_REC_ENTRY, 3, 0);
	check_no_words_from(f, 0, 0);
	assert_int_equal(leave(f, 10, 0xaaa, 0xddd), CALLER_RET(10));
	assert_int_equal(f->slot->head, 2 * UT_REC_RETVAL_SIZE);
	check_rec(f, 1, UT_REC_EXIT, 3, 0);
	assert_int_equal(rec_w(f, 1)[0], 0xaaa);
	assert_int_equal(rec_w(f, 1)[1], 0xddd);

	enter(f, 1, 30);
	enter(f, 2, 20);
	assert_int_equal(leave(f, 30, 7, 8), CALLER_RET(30));
	assert_int_equal(nrecs(f), 6);
	check_rec(f, 2, UT_REC_ENTRY, 1, 0);
	check_no_words_from(f, 2, 0);
	check_rec(f, 3, UT_REC_ENTRY, 2, 1);
	check_no_words_from(f, 3, 0);
	check_rec(f, 4, UT_REC_UNWIND, 2, 1);
	check_no_words_from(f, 4, 0);
	check_rec(f, 5, UT_REC_EXIT, 1, 0);
	assert_int_equal(rec_w(f, 5)[0], 7);
	assert_int_equal(rec_w(f, 5)[1], 8);
	check_ring_painted_from(f, f->slot->head);
}

/* --args alone: 64-byte records; entries carry their arguments, exits no word. */
static void recorder_args_only_exits_carry_no_words(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(REC(f), UT_REC_ARGS_SIZE);
	enter(f, 3, 10);
	assert_int_equal(rec_w(f, 0)[0], 0x14);
	assert_int_equal(rec_w(f, 0)[4], 0x55);
	check_no_words_from(f, 0, UT_REC_WORDS);
	assert_int_equal(leave(f, 10, 0xaaa, 0xddd), CALLER_RET(10));
	assert_int_equal(f->slot->head, 2 * UT_REC_ARGS_SIZE);
	check_rec(f, 1, UT_REC_EXIT, 3, 0);
	check_no_words_from(f, 1, 0);
	check_ring_painted_from(f, f->slot->head);
}

/* rec_emit() writes the words a record has room for, never into the next record. */
static void recorder_emit_clips_words_to_the_record(void **state)
{
	static const uint32_t sizes[] = { UT_REC_MIN, UT_REC_RETVAL_SIZE, UT_REC_ARGS_SIZE };
	static const uint64_t words[UT_REC_WORDS] = { 1, 2, 3, 4, 5 };

	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		uint32_t room = (sizes[k] - UT_REC_MIN) / (uint32_t)sizeof(uint64_t);
		void *st;
		struct fixture *f;
		struct rec_thread t;

		fixture_setup_fmt(&st, RING_RECS, sizes[k], 0, 0);
		f = st;
		t = fixture_thread(f);
		rec_emit(&t, 2, UT_REC_ENTRY, 1, words, UT_REC_WORDS);
		rec_emit(&t, 3, UT_REC_EXIT, 1, words, UT_REC_WORDS);
		assert_int_equal(f->slot->head, 2 * sizes[k]);
		check_rec(f, 0, UT_REC_ENTRY, 2, 1);
		check_rec(f, 1, UT_REC_EXIT, 3, 1);
		for (uint32_t i = 0; i < room && i < UT_REC_WORDS; i++)
			assert_int_equal(rec_w(f, 0)[i], words[i]);
		check_no_words_from(f, 0, room < UT_REC_WORDS ? room : UT_REC_WORDS);
		check_ring_painted_from(f, f->slot->head);
		fixture_teardown(&st);
	}
}

struct sink {
	struct ut_event ev[16];
	size_t n;
};

static int collect(const struct ut_event *ev, void *arg)
{
	struct sink *s = arg;

	assert_true(s->n < sizeof(s->ev) / sizeof(s->ev[0]));
	s->ev[s->n++] = *ev;
	return 0;
}

static void check_event(const struct fixture *f, const struct ut_event *ev, enum ut_rec_kind kind,
			uint32_t func, uint32_t depth, const uint64_t *w)
{
	uint32_t nw = kind == UT_REC_ENTRY && f->ctl->rec_args	? UT_REC_WORDS :
		      kind == UT_REC_EXIT && f->ctl->rec_retval ? UT_REC_RETVAL_WORDS :
								  0;

	assert_int_equal(ev->kind, kind);
	assert_int_equal(ev->func, func);
	assert_int_equal(ev->depth, depth);
	assert_int_equal(ev->pid, 100);
	assert_int_equal(ev->tid, 101);
	assert_int_equal(ev->nw, nw);
	for (uint32_t k = 0; k < UT_REC_WORDS; k++)
		assert_int_equal(ev->w[k], k < nw ? w[k] : 0);
}

/* A consumer of the fixture's area, its slot opened as thread 101 of process 100. */
static struct ut_consumer *fixture_consumer(struct fixture *f, struct ut_tsc *tsc)
{
	struct ut_geometry g = {
		.nfuncs = f->ctl->nfuncs,
		.nslots = f->ctl->nslots,
		.ring_size = f->ctl->ring_size,
		.rstack_depth = f->ctl->rstack_depth,
		.rec_size = f->ctl->rec_size,
		.rec_args = f->ctl->rec_args,
		.rec_retval = f->ctl->rec_retval,
		.area_size = f->ctl->total_size,
		.funcs_off = f->ctl->funcs_off,
		.slots_off = f->ctl->slots_off,
		.rstacks_off = f->ctl->rstacks_off,
		.rings_off = f->ctl->rings_off,
	};
	struct ut_consumer *c;

	utrace_tsc_init(tsc);
	assert_int_equal(utrace_consumer_new(&c, f->ctl, &g, tsc), 0);
	utrace_consumer_slot_open(c, (uint32_t)(f->slot - ut_ctl_slots(f->ctl)), 100, 101);
	return c;
}

/*
 * What the recorder writes, the consumer reads, in every record format:
 * the words each event carries (nw) are the ones its format has.
 */
static void recorder_round_trip_through_the_consumer(void **state)
{
	static const struct {
		uint32_t rec_size;
		int args, retval;
	} fmts[] = {
		{ UT_REC_MIN, 0, 0 },
		{ UT_REC_RETVAL_SIZE, 0, 1 },
		{ UT_REC_ARGS_SIZE, 1, 0 },
		{ UT_REC_ARGS_SIZE, 1, 1 },
	};
	static const uint64_t args1[] = { 0x12, 0x22, 0x33, 0x44, 0x55, 0x66 };
	static const uint64_t args2[] = { 0x13, 0x22, 0x33, 0x44, 0x55, 0x66 };
	static const uint64_t args3[] = { 0x14, 0x22, 0x33, 0x44, 0x55, 0x66 };
	static const uint64_t ret2[] = { 0x20, 0x21 }, ret1[] = { 0x30, 0x31 };
	struct ut_tsc tsc;

	for (size_t k = 0; k < sizeof(fmts) / sizeof(fmts[0]); k++) {
		struct sink s = { .n = 0 };
		struct ut_consumer *c;
		struct fixture *f;
		void *st;

		fixture_setup_fmt(&st, RING_RECS, fmts[k].rec_size, fmts[k].args, fmts[k].retval);
		f = st;
		c = fixture_consumer(f, &tsc);

		enter(f, 1, 30);
		enter(f, 2, 20);
		assert_int_equal(leave(f, 20, 0x20, 0x21), CALLER_RET(20));
		enter(f, 3, 25);
		assert_int_equal(leave(f, 30, 0x30, 0x31), CALLER_RET(30)); /* 3 unwound */
		assert_int_equal(f->slot->head, 6 * fmts[k].rec_size);
		assert_int_equal(utrace_consumer_drain(c, collect, &s), 6);
		assert_int_equal(f->slot->tail, f->slot->head);
		check_event(f, &s.ev[0], UT_REC_ENTRY, 1, 0, args1);
		check_event(f, &s.ev[1], UT_REC_ENTRY, 2, 1, args2);
		check_event(f, &s.ev[2], UT_REC_EXIT, 2, 1, ret2);
		check_event(f, &s.ev[3], UT_REC_ENTRY, 3, 1, args3);
		check_event(f, &s.ev[4], UT_REC_UNWIND, 3, 1, NULL);
		check_event(f, &s.ev[5], UT_REC_EXIT, 1, 0, ret1);
		assert_true(s.ev[2].has_dur && s.ev[4].has_dur && s.ev[5].has_dur);

		utrace_consumer_free(c);
		fixture_teardown(&st);
	}
}

/* ---- data records: strings, vector registers, stack copies --------------- */

/* The items of the events drained, each event's copied while it is delivered. */
struct data_sink {
	struct ut_event ev[8];
	unsigned char data[8][1024];
	size_t n;
};

static int collect_data(const struct ut_event *ev, void *arg)
{
	struct data_sink *s = arg;

	assert_true(s->n < 8 && ev->data_len <= sizeof(s->data[0]));
	s->ev[s->n] = *ev;
	if (ev->data_len)
		memcpy(s->data[s->n], ev->data, ev->data_len);
	s->ev[s->n].data = s->data[s->n];
	s->n++;
	return 0;
}

static void check_str(const struct ut_event *ev, unsigned int arg, const char *want,
		      unsigned int status)
{
	struct ut_item_view it;

	assert_true(ut_item_find(ev->data, ev->data_len, UT_ITEM_STR, (int)arg, &it));
	assert_int_equal(it.status, status);
	assert_int_equal(it.len, strlen(want));
	assert_memory_equal(it.bytes, want, it.len);
}

/*
 * An entry whose function takes strings and doubles, with its stack: the
 * strings copied with safe reads (a wild pointer and NULL are unreadable,
 * a long one cut at str_max), the vector registers, the stack with the
 * hijacked return address of the caller's frame put back.
 */
static void recorder_entry_data_items(void **state)
{
	struct fixture *f = *state;
	static const char hello[] = "hello", longer[] = "0123456789abcdefXYZ";
	struct user_regs_struct regs = { .rsp = slot_addr(f, 20) };
	struct data_sink s = { .n = 0 };
	struct ut_item_view it;
	struct ut_consumer *c;
	struct ut_tsc tsc;
	uint64_t w[16];

	f->ctl->str_max = 16;
	f->ctl->stack_bytes = 128;
	f->slot->pid = (uint32_t)getpid();
	ut_ctl_funcs(f->ctl)[2].extras = 0xf | 2U << UT_X_XMM_SHIFT | UT_X_STACK;
	test_xmm[0] = 0x3ff8000000000000ULL; /* 1.5 */
	test_xmm[1] = 0x4004000000000000ULL; /* 2.5 */
	c = fixture_consumer(f, &tsc);
	enter(f, 1, 24); /* the caller's return slot, stack[24], hijacked */
	assert_int_equal(f->stack[24], RET_TRAMP);
	regs.rdi = (uint64_t)(uintptr_t)hello;
	regs.rsi = 0x10;
	regs.rdx = 0;
	regs.rcx = (uint64_t)(uintptr_t)longer;
	rec_entry(f->ctl, 2, &regs, RET_TRAMP);
	assert_int_equal(utrace_consumer_drain(c, collect_data, &s), 2);
	assert_int_equal(s.ev[1].func, 2);
	check_str(&s.ev[1], 0, hello, 0);
	check_str(&s.ev[1], 1, "", UT_STR_FAULT);
	check_str(&s.ev[1], 2, "", UT_STR_FAULT);
	check_str(&s.ev[1], 3, "0123456789abcdef", UT_STR_CUT);
	assert_true(ut_item_find(s.ev[1].data, s.ev[1].data_len, UT_ITEM_XMM, -1, &it));
	assert_int_equal(it.arg, 2);
	memcpy(w, it.bytes, 16);
	assert_int_equal(w[0], test_xmm[0]);
	assert_int_equal(w[1], test_xmm[1]);
	assert_true(ut_item_find(s.ev[1].data, s.ev[1].data_len, UT_ITEM_STACK, -1, &it));
	assert_int_equal(it.len, sizeof(struct ut_stack_regs) + 128);
	memcpy(w, it.bytes + sizeof(struct ut_stack_regs), 128);
	assert_int_equal(w[0], CALLER_RET(20));
	assert_int_equal(w[4], CALLER_RET(24)); /* not the trampoline */
	assert_int_equal(w[15], CALLER_RET(35));
	assert_int_equal(f->slot->tail, f->slot->head);
	utrace_consumer_free(c);
}

/*
 * A string on the thread's own stack is read with plain loads: it is there
 * even where the safe read is refused (pid 0: no such process).
 */
static void recorder_string_on_own_stack(void **state)
{
	struct fixture *f = *state;
	struct user_regs_struct regs = { .rsp = slot_addr(f, 20) };
	struct data_sink s = { .n = 0 };
	struct ut_consumer *c;
	struct ut_tsc tsc;

	f->ctl->str_max = 32;
	f->slot->pid = 0;
	ut_ctl_funcs(f->ctl)[2].extras = 0x3;
	memcpy(&f->stack[50], "on the stack", 13);
	regs.rdi = (uint64_t)(uintptr_t)&f->stack[50];
	regs.rsi = (uint64_t)(uintptr_t) "elsewhere";
	c = fixture_consumer(f, &tsc);
	rec_entry(f->ctl, 2, &regs, RET_TRAMP);
	assert_int_equal(utrace_consumer_drain(c, collect_data, &s), 1);
	check_str(&s.ev[0], 0, "on the stack", 0);
	check_str(&s.ev[0], 1, "", UT_STR_REFUSED);
	utrace_consumer_free(c);
}

/* An exit of a function returning floating point carries xmm0 and xmm1. */
static void recorder_exit_xmm(void **state)
{
	struct fixture *f = *state;
	struct data_sink s = { .n = 0 };
	struct ut_item_view it;
	struct ut_consumer *c;
	struct ut_tsc tsc;
	uint64_t w[2];

	ut_ctl_funcs(f->ctl)[1].extras = UT_X_XMM_RET;
	c = fixture_consumer(f, &tsc);
	enter(f, 1, 30);
	test_xmm[0] = 7;
	test_xmm[1] = 9;
	assert_int_equal(leave(f, 30, 1, 2), CALLER_RET(30));
	assert_int_equal(utrace_consumer_drain(c, collect_data, &s), 2);
	assert_int_equal(s.ev[0].data_len, 0);
	assert_true(ut_item_find(s.ev[1].data, s.ev[1].data_len, UT_ITEM_XMM, -1, &it));
	memcpy(w, it.bytes, sizeof(w));
	assert_int_equal(w[0], 7);
	assert_int_equal(w[1], 9);
	utrace_consumer_free(c);
}

/* --caller: only calls inside a call of a UT_X_CALLER function are recorded. */
static void recorder_caller_only(void **state)
{
	struct fixture *f = *state;

	f->ctl->caller_only = 1;
	ut_ctl_funcs(f->ctl)[1].extras = UT_X_CALLER;
	enter(f, 2, 40); /* outside: neither recorded nor hijacked */
	assert_int_equal(f->slot->head, 0);
	assert_int_equal(f->stack[40], CALLER_RET(40));
	enter(f, 1, 30);
	enter(f, 2, 20);
	enter(f, 3, 10);
	assert_int_equal(f->slot->head, 3 * REC(f));
	assert_int_equal(f->slot->rs_top, 3);
	leave(f, 10, 0, 0);
	leave(f, 20, 0, 0);
	leave(f, 30, 0, 0);
	assert_int_equal(f->slot->head, 6 * REC(f));
	enter(f, 3, 10); /* outside again */
	assert_int_equal(f->slot->head, 6 * REC(f));
	assert_int_equal(f->slot->rs_top, 0);
}

/* A scribbled item in the data records: the event keeps its valid prefix, counted invalid. */
static void consumer_bad_item_cut(void **state)
{
	struct fixture *f = *state;
	struct data_sink s = { .n = 0 };
	struct ut_consumer *c;
	struct ut_stats st;
	struct ut_tsc tsc;
	unsigned char *d;

	f->slot->pid = (uint32_t)getpid();
	f->ctl->str_max = 8;
	ut_ctl_funcs(f->ctl)[1].extras = 0x3;
	c = fixture_consumer(f, &tsc);
	enter(f, 1, 30);
	/*
	 * two unreadable strings: two bare headers, the first in the data
	 * record's tsc word, the second at its offset 16
	 */
	d = f->ring + REC(f) + 16;
	assert_int_equal(d[0], UT_ITEM_STR);
	d[0] = 0x77;
	assert_int_equal(utrace_consumer_drain(c, collect_data, &s), 1);
	assert_int_equal(s.ev[0].data_len, 8);
	utrace_consumer_stats(c, &st);
	assert_int_equal(st.invalid, 1);
	utrace_consumer_free(c);
}

#define T(name) cmocka_unit_test_setup_teardown(name, fixture_setup, fixture_teardown)
#define SMALL(name) \
	cmocka_unit_test_setup_teardown(name, fixture_setup_small_ring, fixture_teardown)
#define FMT(name, setup) cmocka_unit_test_setup_teardown(name, setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(recorder_entry_records_and_hijacks),
		T(recorder_entry_data_items),
		T(recorder_exit_xmm),
		T(recorder_string_on_own_stack),
		T(recorder_caller_only),
		T(consumer_bad_item_cut),
		T(recorder_exit_records_and_pops),
		T(recorder_nested_calls_depths),
		T(recorder_exit_matches_exact_slot_and_unwinds_above),
		T(recorder_exit_without_entry_is_lost),
		T(recorder_exit_skips_invalid_entries),
		T(recorder_chained_entries_exit_innermost_first),
		T(recorder_foreign_hijack_gets_no_return_probe),
		T(recorder_entry_prunes_dead_frames),
		T(recorder_prunes_only_within_bounds),
		T(recorder_no_pruning_without_bounds),
		T(recorder_longjmp_loop_never_overflows),
		T(recorder_full_shadow_stack_counts_overflow),
		cmocka_unit_test_setup_teardown(recorder_full_ring_drops_and_counts,
						fixture_setup_small_ring, fixture_teardown),
		SMALL(recorder_lossy_full_ring_never_waits),
		SMALL(recorder_full_ring_waits_then_gives_up),
		SMALL(recorder_wait_sleeps_past_spin),
		SMALL(recorder_wait_ends_when_the_tracer_drains),
		SMALL(recorder_wait_outlasts_timeout_while_tracer_lives),
		SMALL(recorder_wait_times_out_on_a_stalled_ring),
		SMALL(recorder_wait_ends_when_blocking_is_turned_off),
		T(recorder_noret_function_is_not_hijacked),
		T(recorder_disabled_blocks_entries_not_exits),
		T(recorder_unknown_thread_counts_no_slot),
		T(recorder_hijack_after_detach_is_undone),
		T(recorder_early_slot_traces_before_tls),
		T(recorder_early_slot_only_on_its_stack),
		T(recorder_no_tls_reads_no_key),
		T(recorder_no_tls_gate_only_without_rdfsbase),
		T(recorder_shared_key_entries_by_stack),
		T(recorder_shared_key_no_entry),
		T(recorder_invalid_id_is_ignored),
		T(recorder_slot_probing),
		T(recorder_unhijack_restores_walked_slots),
		T(recorder_catch_rehijacks_live_frames_and_unwinds_the_rest),
		T(recorder_rethrow_then_catch_outside),
		T(recorder_rehijack_only_where_the_return_address_is),
		T(recorder_disabled_unhijacks_but_never_rehijacks),
		T(recorder_unhijack_chained_entries),
		T(recorder_unhijack_on_another_stack),
		T(recorder_tail_call_into_the_unwinder),
		FMT(recorder_compact_records_take_16_bytes, fixture_setup_compact),
		FMT(recorder_retval_only_exits_carry_rax_rdx, fixture_setup_retval),
		FMT(recorder_args_only_exits_carry_no_words, fixture_setup_args),
		T(recorder_emit_clips_words_to_the_record),
		T(recorder_round_trip_through_the_consumer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
