// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/record/consumer.c and lib/base/tsc.c: a data area built in memory,
 * records written the way the recorder writes them, and a hostile area.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <cmocka.h>

#include "consumer.h"
#include "utrace/shm.h"

#define PAGE 4096
#define T_NFUNCS 4
#define T_NSLOTS 2
#define T_RING_RECS 8
/* the default record: --args --retval, entries with 5 words, exits with rax and rdx */
#define T_REC UT_REC_ARGS_SIZE
#define T_RING (T_RING_RECS * T_REC)
#define T_DEPTH 8
#define T_PID 100
#define T_TID 101
#define MAX_EVENTS 4096
#define NSEC_PER_MSEC 1000000ULL
/* longer than the consumer's torn-record grace time (20 ms) */
#define GRACE_SLEEP_NS (25 * NSEC_PER_MSEC)

/* ---- a fake data area -------------------------------------------------- */

struct fake {
	unsigned char *mem;
	struct ut_geometry geo;
	struct ut_ctl *ctl;
	struct ut_consumer *c;
};

/* What the records of the last fake area carry, for check_event(). */
static bool t_args = true, t_retval = true;

static uint64_t align_page(uint64_t x)
{
	return (x + PAGE - 1) & ~(uint64_t)(PAGE - 1);
}

static void fake_layout(struct ut_geometry *g, uint32_t nslots, uint32_t ring)
{
	memset(g, 0, sizeof(*g));
	g->nfuncs = T_NFUNCS;
	g->nslots = nslots;
	g->ring_size = ring;
	g->rstack_depth = T_DEPTH;
	g->rec_size = T_REC;
	g->rec_args = true;
	g->rec_retval = true;
	g->funcs_off = align_page(sizeof(struct ut_ctl));
	g->slots_off = align_page(g->funcs_off + T_NFUNCS * sizeof(struct ut_func));
	g->rstacks_off = align_page(g->slots_off + nslots * sizeof(struct ut_slot));
	g->rings_off = align_page(g->rstacks_off +
				  (uint64_t)nslots * T_DEPTH * sizeof(struct ut_rs_entry));
	g->area_size = g->rings_off + (uint64_t)nslots * ring;
}

/*
 * A fake area whose rings hold ring bytes each, in records of rec_size bytes
 * carrying argument words (rec_args) and return values (rec_retval).
 */
static void fake_init_fmt(struct fake *f, uint32_t ring, uint32_t rec_size, bool rec_args,
			  bool rec_retval)
{
	memset(f, 0, sizeof(*f));
	fake_layout(&f->geo, T_NSLOTS, ring);
	f->geo.rec_size = rec_size;
	f->geo.rec_args = rec_args;
	f->geo.rec_retval = rec_retval;
	t_args = rec_args;
	t_retval = rec_retval;
	f->mem = aligned_alloc(PAGE, align_page(f->geo.area_size));
	assert_non_null(f->mem);
	memset(f->mem, 0, f->geo.area_size);
	f->ctl = (struct ut_ctl *)f->mem;
	f->ctl->magic = UT_SHM_MAGIC;
	f->ctl->version = UT_SHM_VERSION;
	f->ctl->nfuncs = T_NFUNCS;
	f->ctl->nslots = T_NSLOTS;
	f->ctl->ring_size = ring;
	f->ctl->rstack_depth = T_DEPTH;
	f->ctl->rec_size = rec_size;
	f->ctl->rec_args = rec_args;
	f->ctl->rec_retval = rec_retval;
	f->ctl->funcs_off = f->geo.funcs_off;
	f->ctl->slots_off = f->geo.slots_off;
	f->ctl->rstacks_off = f->geo.rstacks_off;
	f->ctl->rings_off = f->geo.rings_off;
	f->ctl->total_size = f->geo.area_size;
	assert_int_equal(utrace_consumer_new(&f->c, f->mem, &f->geo, NULL), 0);
}

static void fake_init_ring(struct fake *f, uint32_t ring)
{
	fake_init_fmt(f, ring, T_REC, true, true);
}

static void fake_init(struct fake *f)
{
	fake_init_ring(f, T_RING);
}

static void fake_fini(struct fake *f)
{
	utrace_consumer_free(f->c);
	free(f->mem);
}

/* Through the geometry, not the area's own offsets: the fuzz tests scribble on those. */
static struct ut_slot *fake_slot(struct fake *f, uint32_t i)
{
	return (struct ut_slot *)(f->mem + f->geo.slots_off) + i;
}

static struct ut_rec_hdr *fake_rec(struct fake *f, uint32_t i, uint64_t pos)
{
	unsigned char *ring = f->mem + f->geo.rings_off + (uint64_t)i * f->geo.ring_size;

	return (struct ut_rec_hdr *)(ring + (pos & (f->geo.ring_size - 1)));
}

/* The words of the record at pos: as many as its size has room for. */
static uint64_t *fake_words(struct fake *f, uint32_t i, uint64_t pos)
{
	return (uint64_t *)(fake_rec(f, i, pos) + 1);
}

static uint32_t fake_room(const struct fake *f)
{
	uint32_t room = (f->geo.rec_size - UT_REC_MIN) / (uint32_t)sizeof(uint64_t);

	return room < UT_REC_WORDS ? room : UT_REC_WORDS;
}

/* The commit word of a record at pos: kind, func and depth, and the lap of pos. */
static uint64_t commit_word(const struct fake *f, uint64_t pos, unsigned int kind, uint32_t func,
			    uint32_t depth)
{
	return ut_rec_commit(ut_rec_lap_of(pos, f->geo.ring_size), kind, depth, func);
}

/* Slot i's shadow stack: the calls still open, {func, depth} bottom first, as the recorder keeps them. */
static void fake_rstack(struct fake *f, uint32_t i, const uint32_t (*open)[2], uint32_t n)
{
	struct ut_rs_entry *rs =
		(struct ut_rs_entry *)(f->mem + f->geo.rstacks_off) + (uint64_t)i * T_DEPTH;

	for (uint32_t k = 0; k < n; k++)
		rs[k] = (struct ut_rs_entry){ .ret = 0x1000 + k,
					      .slot = 0x7000 - 8 * k,
					      .func = open[k][0],
					      .flags = UT_RS_VALID,
					      .depth = open[k][1] };
	fake_slot(f, i)->rs_top = n;
}

/* Reserve a record as the recorder does (head += size), without committing it. */
static uint64_t reserve(struct fake *f, uint32_t i)
{
	struct ut_slot *s = fake_slot(f, i);
	uint64_t pos = s->head;

	s->head += f->geo.rec_size;
	return pos;
}

/* Everything but the commit word: the tsc, and every word the record has room for. */
static void fill(struct fake *f, uint32_t i, uint64_t pos, uint64_t tsc)
{
	uint32_t k;

	fake_rec(f, i, pos)->tsc = tsc;
	for (k = 0; k < fake_room(f); k++)
		fake_words(f, i, pos)[k] = pos * 10 + (uint64_t)k;
}

/* The commit word, last: func and depth travel in it. */
static void commit(struct fake *f, uint32_t i, uint64_t pos, enum ut_rec_kind kind, uint32_t func,
		   uint32_t depth)
{
	fake_rec(f, i, pos)->commit = commit_word(f, pos, kind, func, depth);
}

/* One complete record, as the recorder writes it; returns its position. */
static uint64_t produce(struct fake *f, uint32_t i, enum ut_rec_kind kind, uint32_t func,
			uint32_t depth, uint64_t tsc)
{
	uint64_t pos = reserve(f, i);

	fill(f, i, pos, tsc);
	commit(f, i, pos, kind, func, depth);
	return pos;
}

/* ---- collecting events ------------------------------------------------- */

struct sink {
	struct ut_event ev[MAX_EVENTS];
	size_t n;
	int fail_at; /* return -42 for event number fail_at (1-based), 0 never */
};

static int collect(const struct ut_event *ev, void *arg)
{
	struct sink *s = arg;

	assert_true(s->n < MAX_EVENTS);
	s->ev[s->n++] = *ev;
	if (s->fail_at && (int)s->n == s->fail_at)
		return -42;
	return 0;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / 1000000000ULL),
			       .tv_nsec = (long)(ns % 1000000000ULL) };

	nanosleep(&ts, NULL);
}

/* The words an event of this kind carries in the current fake's record format. */
static uint32_t expected_nw(enum ut_rec_kind kind)
{
	if (kind == UT_REC_ENTRY && t_args)
		return UT_REC_WORDS;
	if (kind == UT_REC_EXIT && t_retval)
		return UT_REC_RETVAL_WORDS;
	return 0;
}

/* The event of the record produced at pos: its words are the record's, and no more. */
static void check_event(const struct ut_event *ev, enum ut_rec_kind kind, uint32_t func,
			uint32_t depth, uint64_t pos)
{
	uint32_t nw = expected_nw(kind), k;

	assert_int_equal(ev->kind, kind);
	assert_int_equal(ev->func, func);
	assert_int_equal(ev->depth, depth);
	assert_int_equal(ev->pid, T_PID);
	assert_int_equal(ev->tid, T_TID);
	assert_int_equal(ev->nw, nw);
	for (k = 0; k < UT_REC_WORDS; k++)
		assert_int_equal(ev->w[k], k < nw ? pos * 10 + k : 0);
}

/* ---- tsc ------------------------------------------------------------------ */

static void tsc_converts_to_monotonic_clock(void **state)
{
	struct ut_tsc t;
	uint64_t before, tsc, after, ns;
	/* slack for the calibration error over this short baseline */
	const uint64_t slack = NSEC_PER_MSEC;

	utrace_tsc_init(&t);
	assert_true(t.ns_per_tick > 0.0);
	sleep_ns(5 * NSEC_PER_MSEC);
	utrace_tsc_refine(&t);
	before = now_ns();
	tsc = utrace_rdtsc();
	after = now_ns();
	ns = utrace_tsc_to_ns(&t, tsc);
	assert_true(ns + slack >= before);
	assert_true(ns <= after + slack);
}

/* In two steps: the rate comes from a whole baseline, however soon calibrate is called. */
static void tsc_calibrates_after_begin(void **state)
{
	struct ut_tsc t, ref;
	uint64_t start;

	utrace_tsc_init(&ref);
	utrace_tsc_begin(&t);
	start = now_ns();
	utrace_tsc_calibrate(&t); /* waits for the baseline, some 2 ms */
	assert_true(now_ns() - start >= NSEC_PER_MSEC);
	assert_true(t.ns_per_tick > ref.ns_per_tick * 0.95 &&
		    t.ns_per_tick < ref.ns_per_tick * 1.05);

	utrace_tsc_begin(&t);
	sleep_ns(3 * NSEC_PER_MSEC); /* the baseline passed meanwhile */
	utrace_tsc_calibrate(&t);
	assert_true(t.ns_per_tick > ref.ns_per_tick * 0.95 &&
		    t.ns_per_tick < ref.ns_per_tick * 1.05);
}

static void tsc_conversion_is_monotonic_and_saturates(void **state)
{
	struct ut_tsc t = { .tsc0 = 1000000, .ns0 = 5000, .ns_per_tick = 0.4 };
	const uint64_t probes[] = {
		0,	 1,	  12499,	  12500,	  12501,	  999999,
		1000000, 1000001, UINT64_MAX / 4, UINT64_MAX / 2, UINT64_MAX - 1, UINT64_MAX
	};
	uint64_t prev = 0;
	size_t i;

	/* below the anchor: clamps at 0 instead of wrapping */
	assert_int_equal(utrace_tsc_to_ns(&t, 0), 0);
	assert_int_equal(utrace_tsc_to_ns(&t, 1000000), 5000);
	assert_int_equal(utrace_tsc_to_ns(&t, 1000010), 5004);
	assert_int_equal(utrace_tsc_to_ns(&t, 999990), 4996);
	for (i = 0; i < sizeof(probes) / sizeof(probes[0]); i++) {
		uint64_t ns = utrace_tsc_to_ns(&t, probes[i]);

		assert_true(ns >= prev);
		prev = ns;
	}
	/* a rate that would overflow saturates */
	t.ns_per_tick = 1e9;
	assert_int_equal(utrace_tsc_to_ns(&t, UINT64_MAX), UINT64_MAX);
	assert_int_equal(utrace_tsc_to_ns(&t, 0), 0);
}

/* ---- consumer ----------------------------------------------------------- */

static void consumer_delivers_events_in_order(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	uint64_t tsc = utrace_rdtsc();
	uint64_t pos[4];
	struct ut_stats st;
	struct fake f;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 1, T_PID, T_TID);
	pos[0] = produce(&f, 1, UT_REC_ENTRY, 0, 0, tsc);
	pos[1] = produce(&f, 1, UT_REC_ENTRY, 1, 1, tsc + 1000);
	pos[2] = produce(&f, 1, UT_REC_EXIT, 1, 1, tsc + 3000);
	pos[3] = produce(&f, 1, UT_REC_EXIT, 0, 0, tsc + 7000);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 4);
	assert_int_equal(s->n, 4);
	check_event(&s->ev[0], UT_REC_ENTRY, 0, 0, pos[0]);
	check_event(&s->ev[1], UT_REC_ENTRY, 1, 1, pos[1]);
	check_event(&s->ev[2], UT_REC_EXIT, 1, 1, pos[2]);
	check_event(&s->ev[3], UT_REC_EXIT, 0, 0, pos[3]);
	assert_false(s->ev[0].has_dur);
	assert_false(s->ev[1].has_dur);
	assert_true(s->ev[2].has_dur);
	assert_int_equal(s->ev[2].dur_ns, s->ev[2].ts - s->ev[1].ts);
	assert_true(s->ev[3].has_dur);
	assert_int_equal(s->ev[3].dur_ns, s->ev[3].ts - s->ev[0].ts);
	assert_true(s->ev[3].dur_ns > s->ev[2].dur_ns);
	assert_true(s->ev[1].ts >= s->ev[0].ts && s->ev[3].ts >= s->ev[2].ts);
	/* the tail is written back for the producer */
	assert_int_equal(fake_slot(&f, 1)->tail, 4 * T_REC);
	/* nothing more */
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.events, 4);
	assert_int_equal(st.torn + st.invalid + st.drops, 0);
	fake_fini(&f);
	free(s);
}

static void consumer_ignores_closed_slots(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct fake f;

	fake_init(&f);
	produce(&f, 0, UT_REC_ENTRY, 0, 0, 1);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	assert_int_equal(s->n, 0);
	fake_fini(&f);
	free(s);
}

static void consumer_open_starts_at_head(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct fake f;
	uint64_t pos;

	fake_init(&f);
	/* left over from the slot's previous owner */
	produce(&f, 0, UT_REC_ENTRY, 0, 0, 1);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	assert_int_equal(fake_slot(&f, 0)->tail, T_REC);
	pos = produce(&f, 0, UT_REC_ENTRY, 2, 0, 1);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);
	check_event(&s->ev[0], UT_REC_ENTRY, 2, 0, pos);
	fake_fini(&f);
	free(s);
}

static void consumer_wraps_ring(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	uint64_t pos[12];
	struct fake f;
	int i;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	for (i = 0; i < 6; i++)
		pos[i] = produce(&f, 0, UT_REC_ENTRY, (uint32_t)i % T_NFUNCS, (uint32_t)i, 10);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 6);
	/* the next six wrap around the 8-record ring */
	for (i = 6; i < 12; i++)
		pos[i] =
			produce(&f, 0, UT_REC_EXIT, (uint32_t)i % T_NFUNCS, (uint32_t)(11 - i), 20);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 6);
	assert_int_equal(s->n, 12);
	for (i = 0; i < 6; i++)
		check_event(&s->ev[i], UT_REC_ENTRY, (uint32_t)i % T_NFUNCS, (uint32_t)i, pos[i]);
	for (i = 6; i < 12; i++) {
		check_event(&s->ev[i], UT_REC_EXIT, (uint32_t)i % T_NFUNCS, (uint32_t)(11 - i),
			    pos[i]);
		/* exits pair with the entries at their depth, innermost first */
		assert_true(s->ev[i].has_dur);
	}
	assert_int_equal(fake_slot(&f, 0)->tail, 12 * T_REC);
	fake_fini(&f);
	free(s);
}

static void consumer_full_ring_is_drained(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct fake f;
	int i;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	for (i = 0; i < T_RING_RECS; i++)
		produce(&f, 0, UT_REC_ENTRY, 0, 0, 1);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), T_RING_RECS);
	fake_fini(&f);
	free(s);
}

static void consumer_stale_record_not_committed(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct ut_stats st;
	struct fake f;
	uint64_t pos;
	int i;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	for (i = 0; i < T_RING_RECS; i++)
		produce(&f, 0, UT_REC_ENTRY, 1, 0, 1);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), T_RING_RECS);
	/* lap 1 reserves the index of lap 0's first record, still committed for lap 0 */
	pos = reserve(&f, 0);
	assert_int_equal(pos, T_RING);
	assert_int_equal(fake_rec(&f, 0, pos)->commit, ut_rec_commit(0, UT_REC_ENTRY, 0, 1));
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	fill(&f, 0, pos, 2);
	commit(&f, 0, pos, UT_REC_EXIT, 3, 0);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);
	check_event(&s->ev[T_RING_RECS], UT_REC_EXIT, 3, 0, pos);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.torn, 0);
	assert_int_equal(st.invalid, 0);
	fake_fini(&f);
	free(s);
}

static void consumer_rejects_bad_kind_in_commit(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct fake f;
	uint64_t pos;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	pos = reserve(&f, 0);
	fill(&f, 0, pos, 1);
	/* kind 0 is never committed, whatever the rest of the word (lap, func, depth) says */
	fake_rec(&f, 0, pos)->commit = commit_word(&f, pos, 0, 1, 0);
	assert_int_not_equal(fake_rec(&f, 0, pos)->commit, 0);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	/* the kind bits' values above UT_REC_KIND_MAX are no kind: never committed */
	for (unsigned int k = UT_REC_KIND_MAX + 1; k < 1U << UT_REC_KIND_BITS; k++) {
		fake_rec(&f, 0, pos)->commit = commit_word(&f, pos, k, 1, 0);
		assert_int_equal(ut_rec_kind(fake_rec(&f, 0, pos)->commit), k);
		assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	}
	commit(&f, 0, pos, UT_REC_UNWIND, 0, 0);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);
	assert_int_equal(s->ev[0].kind, UT_REC_UNWIND);
	fake_fini(&f);
	free(s);
}

/* An abandoned record (written but for its commit word), in records of rec_size bytes. */
static void torn_record_skipped_after_grace(uint32_t rec_size, bool rec_args, bool rec_retval)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct ut_stats st;
	uint64_t torn_pos, pos;
	struct fake f;
	int i;

	fake_init_fmt(&f, T_RING_RECS * rec_size, rec_size, rec_args, rec_retval);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	torn_pos = reserve(&f, 0);
	fill(&f, 0, torn_pos, 1);
	pos = produce(&f, 0, UT_REC_ENTRY, 2, 0, 2);
	assert_int_equal(pos, torn_pos + rec_size);
	/* three quick drains: not yet 20 ms */
	for (i = 0; i < 3; i++)
		assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.torn, 0);
	sleep_ns(GRACE_SLEEP_NS);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);
	check_event(&s->ev[0], UT_REC_ENTRY, 2, 0, pos);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.torn, 1);
	assert_int_equal(fake_slot(&f, 0)->tail, 2 * rec_size);
	fake_fini(&f);
	free(s);
}

static void consumer_torn_record_skipped_after_grace(void **state)
{
	torn_record_skipped_after_grace(T_REC, true, true);
}

/* The same in 16-byte records (neither --args nor --retval), in the middle of a run. */
static void consumer_torn_16_byte_record_skipped_after_grace(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	uint64_t pos[4], torn_pos;
	struct ut_stats st;
	struct fake f;
	int i;

	torn_record_skipped_after_grace(UT_REC_MIN, false, false);

	fake_init_fmt(&f, T_RING_RECS * UT_REC_MIN, UT_REC_MIN, false, false);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	pos[0] = produce(&f, 0, UT_REC_ENTRY, 1, 0, 1);
	pos[1] = produce(&f, 0, UT_REC_ENTRY, 2, 1, 2);
	torn_pos = reserve(&f, 0);
	fill(&f, 0, torn_pos, 3);
	pos[2] = produce(&f, 0, UT_REC_EXIT, 2, 1, 4);
	pos[3] = produce(&f, 0, UT_REC_EXIT, 1, 0, 5);
	assert_int_equal(fake_slot(&f, 0)->head, 5 * UT_REC_MIN);
	/* the two before it at once, then nothing for three quick drains */
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 2);
	for (i = 0; i < 3; i++)
		assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	assert_int_equal(fake_slot(&f, 0)->tail, 2 * UT_REC_MIN);
	sleep_ns(GRACE_SLEEP_NS);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 2);
	for (i = 0; i < 4; i++)
		check_event(&s->ev[i], i < 2 ? UT_REC_ENTRY : UT_REC_EXIT, i == 1 || i == 2 ? 2 : 1,
			    i == 1 || i == 2 ? 1 : 0, pos[i]);
	assert_true(s->ev[2].has_dur && s->ev[3].has_dur);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.torn, 1);
	assert_int_equal(st.invalid, 0);
	assert_int_equal(st.events, 4);
	assert_int_equal(fake_slot(&f, 0)->tail, 5 * UT_REC_MIN);
	fake_fini(&f);
	free(s);
}

static void consumer_torn_needs_three_drains(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct ut_stats st;
	struct fake f;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	reserve(&f, 0);
	produce(&f, 0, UT_REC_ENTRY, 2, 0, 2);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	sleep_ns(GRACE_SLEEP_NS);
	/* 20 ms have passed but this is only the second drain to see it */
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.torn, 1);
	fake_fini(&f);
	free(s);
}

/* Signals delivered one after another hold an interrupted recorder's record: not torn. */
static void consumer_torn_grace_restarts_at_each_signal(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct ut_stats st;
	uint64_t torn_pos;
	struct fake f;
	int i;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	torn_pos = reserve(&f, 0);
	produce(&f, 0, UT_REC_ENTRY, 2, 0, 2);
	for (i = 0; i < 3; i++)
		assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	sleep_ns(GRACE_SLEEP_NS);
	utrace_consumer_slot_signalled(f.c, 0);
	for (i = 0; i < 3; i++)
		assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.torn, 0);
	/* the handlers are done: the recorder commits, nothing was lost */
	fill(&f, 0, torn_pos, 1);
	commit(&f, 0, torn_pos, UT_REC_ENTRY, 0, 0);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 2);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.torn, 0);
	fake_fini(&f);
	free(s);
}

static void consumer_uncommitted_tail_alone_waits(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct ut_stats st;
	struct fake f;
	uint64_t pos;
	int i;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	/* a record being written with nothing committed after it: just slow */
	pos = reserve(&f, 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
		sleep_ns(GRACE_SLEEP_NS / 4);
	}
	sleep_ns(GRACE_SLEEP_NS);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.torn, 0);
	fill(&f, 0, pos, 1);
	commit(&f, 0, pos, UT_REC_ENTRY, 1, 0);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);
	check_event(&s->ev[0], UT_REC_ENTRY, 1, 0, pos);
	fake_fini(&f);
	free(s);
}

static void consumer_late_commit_is_delivered(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct ut_stats st;
	uint64_t slow, fast;
	struct fake f;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	/* a signal handler's records committed while the interrupted one is pending */
	slow = reserve(&f, 0);
	fast = produce(&f, 0, UT_REC_ENTRY, 3, 1, 5);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	fill(&f, 0, slow, 4);
	commit(&f, 0, slow, UT_REC_ENTRY, 1, 0);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 2);
	check_event(&s->ev[0], UT_REC_ENTRY, 1, 0, slow);
	check_event(&s->ev[1], UT_REC_ENTRY, 3, 1, fast);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.torn, 0);
	fake_fini(&f);
	free(s);
}

static void consumer_torn_run_shares_grace(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct ut_stats st;
	struct fake f;
	int i;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	/* two abandoned records in a row, then a committed one */
	reserve(&f, 0);
	reserve(&f, 0);
	produce(&f, 0, UT_REC_ENTRY, 2, 0, 2);
	for (i = 0; i < 2; i++)
		assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	sleep_ns(GRACE_SLEEP_NS);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.torn, 2);
	fake_fini(&f);
	free(s);
}

static void consumer_close_counts_uncommitted_as_torn(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct ut_stats st;
	struct fake f;
	uint64_t pos;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	reserve(&f, 0);
	pos = produce(&f, 0, UT_REC_EXIT, 1, 2, 9);
	reserve(&f, 0);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	assert_int_equal(utrace_consumer_slot_close(f.c, 0, collect, s), 0);
	assert_int_equal(s->n, 1);
	check_event(&s->ev[0], UT_REC_EXIT, 1, 2, pos);
	assert_false(s->ev[0].has_dur);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.torn, 2);
	assert_int_equal(st.events, 1);
	/* forgotten: later records are not delivered */
	produce(&f, 0, UT_REC_ENTRY, 0, 0, 1);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	/* closing twice or out of range */
	assert_int_equal(utrace_consumer_slot_close(f.c, 0, collect, s), 0);
	assert_int_equal(utrace_consumer_slot_close(f.c, T_NSLOTS, collect, s), -EINVAL);
	fake_fini(&f);
	free(s);
}

/*
 * A thread killed in the recorder: the records it was writing (uncommitted,
 * none committed after them) are left out, not torn; an uncommitted record
 * with a committed one after it still is torn.
 */
static void consumer_close_killed_leaves_out_records_in_progress(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct ut_stats st;
	struct fake f;
	uint64_t pos;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	reserve(&f, 0);
	pos = produce(&f, 0, UT_REC_EXIT, 1, 2, 9);
	reserve(&f, 0);
	reserve(&f, 0); /* a handler's recorder interrupted it, and was killed too */
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	assert_int_equal(utrace_consumer_slot_close_killed(f.c, 0, collect, s), 0);
	assert_int_equal(s->n, 1);
	check_event(&s->ev[0], UT_REC_EXIT, 1, 2, pos);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.torn, 1);
	assert_int_equal(st.events, 1);
	/* the slot is forgotten, and the next thread's ring starts at its head */
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	pos = produce(&f, 0, UT_REC_ENTRY, 0, 0, 10);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);
	check_event(&s->ev[1], UT_REC_ENTRY, 0, 0, pos);
	assert_int_equal(utrace_consumer_slot_close_killed(f.c, 0, collect, s), 0);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.torn, 1);
	assert_int_equal(st.events, 2);
	fake_fini(&f);
	free(s);
}

/* Calls left open when the thread goes get unwind events, innermost first. */
static void consumer_close_unwinds_open_entries(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct ut_stats st;
	struct fake f;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	produce(&f, 0, UT_REC_ENTRY, 1, 0, utrace_rdtsc());
	produce(&f, 0, UT_REC_ENTRY, 2, 1, utrace_rdtsc());
	produce(&f, 0, UT_REC_ENTRY, 3, 2, utrace_rdtsc());
	produce(&f, 0, UT_REC_EXIT, 3, 2, utrace_rdtsc());
	/* the next entry at depth 2 was dropped: nothing is known of depth 2 */
	produce(&f, 0, UT_REC_ENTRY, 0, 3, utrace_rdtsc());
	fake_rstack(&f, 0, (const uint32_t[][2]){ { 1, 0 }, { 2, 1 }, { 0, 3 } }, 3);
	assert_int_equal(utrace_consumer_slot_close(f.c, 0, collect, s), 0);
	assert_int_equal(s->n, 8);
	assert_int_equal(s->ev[5].kind, UT_REC_UNWIND);
	assert_int_equal(s->ev[5].func, 0);
	assert_int_equal(s->ev[5].depth, 3);
	assert_int_equal(s->ev[6].kind, UT_REC_UNWIND);
	assert_int_equal(s->ev[6].func, 2);
	assert_int_equal(s->ev[6].depth, 1);
	assert_int_equal(s->ev[7].kind, UT_REC_UNWIND);
	assert_int_equal(s->ev[7].func, 1);
	assert_int_equal(s->ev[7].depth, 0);
	for (size_t k = 5; k < 8; k++) {
		assert_int_equal(s->ev[k].pid, T_PID);
		assert_int_equal(s->ev[k].tid, T_TID);
		assert_true(s->ev[k].has_dur);
		assert_true(s->ev[k].ts >= s->ev[4].ts);
	}
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.events, 8);
	fake_fini(&f);
	free(s);
}

/*
 * The calls open at close are the shadow stack's, not the consumer's own
 * depth model: a coroutine's call suspended at depth 1 (its later depth-1
 * neighbour came and went on the main stack) is unwound; an entry-only call
 * (no shadow entry) and one claimed by another thread are not.
 */
static void consumer_close_unwinds_what_the_shadow_stack_holds(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct ut_rs_entry *rs;
	struct fake f;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	produce(&f, 0, UT_REC_ENTRY, 1, 0, utrace_rdtsc()); /* main */
	produce(&f, 0, UT_REC_ENTRY, 2, 1, utrace_rdtsc()); /* suspended on the coroutine */
	produce(&f, 0, UT_REC_ENTRY, 3, 1, utrace_rdtsc()); /* main's next call */
	produce(&f, 0, UT_REC_EXIT, 3, 1, utrace_rdtsc());
	produce(&f, 0, UT_REC_ENTRY, 0, 1, utrace_rdtsc()); /* entry only */
	produce(&f, 0, UT_REC_ENTRY, 3, 2, utrace_rdtsc()); /* returned on another thread */
	fake_rstack(&f, 0, (const uint32_t[][2]){ { 1, 0 }, { 2, 1 }, { 3, 2 } }, 3);
	rs = (struct ut_rs_entry *)(f.mem + f.geo.rstacks_off);
	rs[2].flags = UT_RS_CLAIMED;
	assert_int_equal(utrace_consumer_slot_close(f.c, 0, collect, s), 0);
	assert_int_equal(s->n, 8);
	assert_int_equal(s->ev[6].kind, UT_REC_UNWIND);
	assert_int_equal(s->ev[6].func, 2);
	assert_int_equal(s->ev[6].depth, 1);
	assert_false(s->ev[6].has_dur); /* depth 1 of the model is another call's now */
	assert_int_equal(s->ev[7].kind, UT_REC_UNWIND);
	assert_int_equal(s->ev[7].func, 1);
	assert_int_equal(s->ev[7].depth, 0);
	assert_true(s->ev[7].has_dur);
	fake_fini(&f);
	free(s);
}

/*
 * A thread that lives on untraced (detach): its records are delivered, but
 * its open calls go on, so nothing is unwound; the same records closed
 * (the thread is gone) get one unwind per open entry, innermost first.
 */
static void consumer_release_does_not_unwind(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct ut_stats st;
	uint64_t pos[5];
	struct fake f;
	int gone;

	for (gone = 0; gone <= 1; gone++) {
		s->n = 0;
		fake_init(&f);
		utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
		pos[0] = produce(&f, 0, UT_REC_ENTRY, 1, 0, utrace_rdtsc());
		assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);
		/* left in the ring when the slot goes */
		pos[1] = produce(&f, 0, UT_REC_ENTRY, 2, 1, utrace_rdtsc());
		pos[2] = produce(&f, 0, UT_REC_EXIT, 2, 1, utrace_rdtsc());
		pos[3] = produce(&f, 0, UT_REC_ENTRY, 3, 1, utrace_rdtsc());
		pos[4] = produce(&f, 0, UT_REC_ENTRY, 0, 2, utrace_rdtsc());
		fake_rstack(&f, 0, (const uint32_t[][2]){ { 1, 0 }, { 3, 1 }, { 0, 2 } }, 3);
		if (gone)
			assert_int_equal(utrace_consumer_slot_close(f.c, 0, collect, s), 0);
		else
			assert_int_equal(utrace_consumer_slot_release(f.c, 0, collect, s), 0);
		assert_int_equal(s->n, gone ? 8 : 5);
		check_event(&s->ev[0], UT_REC_ENTRY, 1, 0, pos[0]);
		check_event(&s->ev[1], UT_REC_ENTRY, 2, 1, pos[1]);
		check_event(&s->ev[2], UT_REC_EXIT, 2, 1, pos[2]);
		assert_true(s->ev[2].has_dur);
		check_event(&s->ev[3], UT_REC_ENTRY, 3, 1, pos[3]);
		check_event(&s->ev[4], UT_REC_ENTRY, 0, 2, pos[4]);
		if (gone) {
			static const uint32_t funcs[] = { 0, 3, 1 };

			for (size_t k = 5; k < 8; k++) {
				assert_int_equal(s->ev[k].kind, UT_REC_UNWIND);
				assert_int_equal(s->ev[k].func, funcs[k - 5]);
				assert_int_equal(s->ev[k].depth, 7 - k);
				assert_true(s->ev[k].has_dur);
				assert_true(s->ev[k].ts >= s->ev[4].ts);
			}
		}
		utrace_consumer_stats(f.c, &st);
		assert_int_equal(st.events, s->n);
		assert_int_equal(st.torn + st.invalid + st.drops, 0);
		/* forgotten either way */
		produce(&f, 0, UT_REC_EXIT, 0, 2, utrace_rdtsc());
		assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
		/* the slot's next thread inherits none of the open calls (nor its shadow stack) */
		fake_slot(&f, 0)->rs_top = 0;
		utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
		pos[0] = produce(&f, 0, UT_REC_EXIT, 3, 1, utrace_rdtsc());
		assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);
		assert_false(s->ev[s->n - 1].has_dur);
		assert_int_equal(utrace_consumer_slot_close(f.c, 0, collect, s), 0);
		assert_int_equal(s->ev[s->n - 1].kind, UT_REC_EXIT);
		fake_fini(&f);
	}
	free(s);
}

/* Uncommitted records left at release are torn, as at close. */
static void consumer_release_counts_uncommitted_as_torn(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct ut_stats st;
	struct fake f;
	uint64_t pos;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 1, T_PID, T_TID);
	reserve(&f, 1);
	pos = produce(&f, 1, UT_REC_ENTRY, 1, 0, 9);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	assert_int_equal(utrace_consumer_slot_release(f.c, 1, collect, s), 0);
	assert_int_equal(s->n, 1);
	check_event(&s->ev[0], UT_REC_ENTRY, 1, 0, pos);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.torn, 1);
	assert_int_equal(utrace_consumer_slot_release(f.c, 1, collect, s), 0);
	assert_int_equal(utrace_consumer_slot_release(f.c, T_NSLOTS, collect, s), -EINVAL);
	fake_fini(&f);
	free(s);
}

/*
 * The recorder dropped records of the thread: which exits were among them is
 * unknown, so closing synthesizes no unwind.  Drops left by the slot's
 * previous owner do not count.
 */
static void consumer_close_after_drops_does_not_unwind(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct ut_stats st;
	struct fake f;
	int grew;

	for (grew = 0; grew <= 1; grew++) {
		s->n = 0;
		fake_init(&f);
		fake_slot(&f, 0)->drops = 3; /* the previous owner's */
		utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
		produce(&f, 0, UT_REC_ENTRY, 1, 0, utrace_rdtsc());
		produce(&f, 0, UT_REC_ENTRY, 2, 1, utrace_rdtsc());
		assert_int_equal(utrace_consumer_drain(f.c, collect, s), 2);
		produce(&f, 0, UT_REC_ENTRY, 3, 2, utrace_rdtsc());
		fake_rstack(&f, 0, (const uint32_t[][2]){ { 1, 0 }, { 2, 1 }, { 3, 2 } }, 3);
		/* seen first by the close itself */
		if (grew)
			fake_slot(&f, 0)->drops = 4;
		assert_int_equal(utrace_consumer_slot_close(f.c, 0, collect, s), 0);
		assert_int_equal(s->n, grew ? 3 : 6);
		for (size_t k = 0; k < s->n; k++)
			assert_int_equal(s->ev[k].kind, k < 3 ? UT_REC_ENTRY : UT_REC_UNWIND);
		utrace_consumer_stats(f.c, &st);
		assert_int_equal(st.drops, grew ? 1 : 0);
		assert_int_equal(st.events, s->n);
		fake_fini(&f);
	}
	free(s);
}

/* Drops seen by an earlier drain suppress the unwinds too; a release never has any. */
static void consumer_drops_seen_before_close(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct fake f;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	utrace_consumer_slot_open(f.c, 1, T_PID, T_TID + 1);
	produce(&f, 0, UT_REC_ENTRY, 1, 0, utrace_rdtsc());
	produce(&f, 1, UT_REC_ENTRY, 1, 0, utrace_rdtsc());
	fake_rstack(&f, 0, (const uint32_t[][2]){ { 1, 0 } }, 1);
	fake_rstack(&f, 1, (const uint32_t[][2]){ { 1, 0 } }, 1);
	fake_slot(&f, 0)->drops = 1;
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 2);
	/* the other slot's drops are not this one's */
	assert_int_equal(utrace_consumer_slot_close(f.c, 1, collect, s), 0);
	assert_int_equal(s->n, 3);
	assert_int_equal(s->ev[2].kind, UT_REC_UNWIND);
	assert_int_equal(s->ev[2].tid, T_TID + 1);
	assert_int_equal(utrace_consumer_slot_close(f.c, 0, collect, s), 0);
	assert_int_equal(s->n, 3);
	fake_fini(&f);
	free(s);
}

#define MANY_RECORDS 3000 /* more than a batch of delivery (1024) */

/* Many times the ring's worth, refilled between drains: all of it, in order. */
static void consumer_refilled_ring_loses_nothing(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	uint64_t pos0 = 0;
	struct ut_stats st;
	struct fake f;
	size_t i, k;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	for (i = 0; i < MANY_RECORDS; i += k) {
		for (k = 0; k < T_RING_RECS && i + k < MANY_RECORDS; k++) {
			uint64_t pos = produce(&f, 0, (i + k) % 2 ? UT_REC_EXIT : UT_REC_ENTRY,
					       (uint32_t)((i + k) / 2 % T_NFUNCS), 0, i + k);

			if (i + k == 0)
				pos0 = pos;
		}
		assert_int_equal(utrace_consumer_drain(f.c, collect, s), (long)k);
	}
	assert_int_equal(s->n, MANY_RECORDS);
	for (i = 0; i < MANY_RECORDS; i++) {
		check_event(&s->ev[i], i % 2 ? UT_REC_EXIT : UT_REC_ENTRY,
			    (uint32_t)(i / 2 % T_NFUNCS), 0, pos0 + i * T_REC);
		assert_int_equal(s->ev[i].has_dur, i % 2 == 1);
	}
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.events, MANY_RECORDS);
	assert_int_equal(st.torn + st.invalid + st.drops, 0);
	fake_fini(&f);
	free(s);
}

#define BIG_RING_RECS 1024
#define REFILL_RECORDS 9000
#define REFILL_PER_EVENT 2

/* A producer that writes while the consumer delivers: REFILL_PER_EVENT records per event. */
struct refill {
	struct fake *f;
	uint64_t next_pos; /* position of the record the next event must come from */
	size_t delivered, produced;
};

static void refill_produce(struct refill *r, size_t n)
{
	struct ut_slot *slot = fake_slot(r->f, 0);

	while (n-- && r->produced < REFILL_RECORDS &&
	       slot->head - slot->tail < (uint64_t)BIG_RING_RECS * T_REC) {
		produce(r->f, 0, r->produced % 2 ? UT_REC_EXIT : UT_REC_ENTRY,
			(uint32_t)(r->produced % T_NFUNCS), (uint32_t)(r->produced % 2), 1);
		r->produced++;
	}
}

static int refill_on_event(const struct ut_event *ev, void *arg)
{
	struct refill *r = arg;

	/* fail_msg rather than assert: the event's position says what went missing */
	if (ev->w[0] != r->next_pos * 10)
		fail_msg("event %zu from record at %llu, want %llu", r->delivered,
			 (unsigned long long)(ev->w[0] / 10), (unsigned long long)r->next_pos);
	assert_int_equal(ev->kind, r->delivered % 2 ? UT_REC_EXIT : UT_REC_ENTRY);
	assert_int_equal(ev->func, r->delivered % T_NFUNCS);
	r->next_pos += T_REC;
	r->delivered++;
	refill_produce(r, REFILL_PER_EVENT);
	return 0;
}

/*
 * The ring is refilled while its records are delivered, faster than they
 * are, as room appears (the tail moves back to the producer after each
 * batch), and between drains as a waiting recorder does.  Nothing is lost
 * or reordered.
 */
static void consumer_ring_refilled_while_delivered(void **state)
{
	struct refill r = { 0 };
	struct ut_stats st;
	struct fake f;
	long total = 0, n;
	int drains;

	fake_init_ring(&f, BIG_RING_RECS * T_REC);
	r.f = &f;
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	r.next_pos = fake_slot(&f, 0)->head;
	refill_produce(&r, BIG_RING_RECS);
	for (drains = 0; r.delivered < REFILL_RECORDS && drains < 100; drains++) {
		n = utrace_consumer_drain(f.c, refill_on_event, &r);
		assert_true(n >= 0);
		total += n;
		refill_produce(&r, BIG_RING_RECS);
	}
	assert_int_equal(r.produced, REFILL_RECORDS);
	assert_int_equal(r.delivered, REFILL_RECORDS);
	assert_int_equal(total, REFILL_RECORDS);
	/* more than one drain: each is bounded by the backlog it found */
	assert_true(drains > 1);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.events, REFILL_RECORDS);
	assert_int_equal(st.torn + st.invalid + st.drops, 0);
	fake_fini(&f);
}

static void consumer_bad_head_is_invalid(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct ut_slot *slot;
	struct ut_stats st;
	struct fake f;

	fake_init(&f);
	slot = fake_slot(&f, 0);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	produce(&f, 0, UT_REC_ENTRY, 0, 0, 1);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);

	/* beyond the ring: counted once while it stays bad */
	slot->head = T_REC + T_RING + T_REC;
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.invalid, 1);

	/* sane again: draining resumes */
	slot->head = T_REC;
	produce(&f, 0, UT_REC_ENTRY, 1, 0, 1);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);

	/* not aligned */
	slot->head = 2 * T_REC + 1;
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	/* behind our tail, still bad: not counted again */
	slot->head = 0;
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.invalid, 2);
	slot->head = 2 * T_REC;
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	slot->head = UINT64_MAX;
	slot->tail = 7; /* scribbled: repaired by the next drain */
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.invalid, 3);
	assert_int_equal(st.events, 2);
	/* the consumer's tail never moved past what it consumed */
	assert_int_equal(slot->tail, 2 * T_REC);
	fake_fini(&f);
	free(s);
}

static void consumer_invalid_records_skipped(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct ut_stats st;
	uint64_t pos[3];
	struct fake f;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	produce(&f, 0, UT_REC_ENTRY, T_NFUNCS, 0, 1);
	produce(&f, 0, UT_REC_ENTRY, UINT32_MAX, 0, 1);
	pos[0] = produce(&f, 0, UT_REC_ENTRY, T_NFUNCS - 1, T_DEPTH, 1);
	produce(&f, 0, UT_REC_ENTRY, 0, T_DEPTH + 1, 1);
	produce(&f, 0, UT_REC_EXIT, 0, UINT32_MAX, 1);
	pos[1] = produce(&f, 0, UT_REC_EXIT, T_NFUNCS - 1, T_DEPTH, 1);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 2);
	check_event(&s->ev[0], UT_REC_ENTRY, T_NFUNCS - 1, T_DEPTH, pos[0]);
	check_event(&s->ev[1], UT_REC_EXIT, T_NFUNCS - 1, T_DEPTH, pos[1]);
	assert_true(s->ev[1].has_dur);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.invalid, 4);
	fake_fini(&f);
	free(s);
}

/* ---- record formats --------------------------------------------------------- */

/*
 * Three laps of the ring in records of rec_size bytes carrying what rec_args
 * and rec_retval say, drained every 4 records: every event has the words of
 * its record's format (check_event), no more, whatever else the record holds
 * (fill() writes every word a record has room for).
 */
static void deliver_in_format(uint32_t rec_size, bool rec_args, bool rec_retval)
{
	static const enum ut_rec_kind kinds[] = { UT_REC_ENTRY, UT_REC_EXIT, UT_REC_ENTRY,
						  UT_REC_UNWIND };
	struct sink *s = calloc(1, sizeof(*s));
	const size_t n = 3 * T_RING_RECS;
	uint64_t pos[3 * T_RING_RECS];
	struct ut_stats st;
	struct fake f;
	size_t i;

	fake_init_fmt(&f, T_RING_RECS * rec_size, rec_size, rec_args, rec_retval);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	for (i = 0; i < n; i++) {
		pos[i] = produce(&f, 0, kinds[i % 4], (uint32_t)(i / 2 % T_NFUNCS), 0, i + 1);
		assert_int_equal(pos[i], i * rec_size);
		assert_int_equal(fake_slot(&f, 0)->head, (i + 1) * rec_size);
		if (i % 4 == 3)
			assert_int_equal(utrace_consumer_drain(f.c, collect, s), 4);
	}
	assert_int_equal(s->n, n);
	for (i = 0; i < n; i++) {
		check_event(&s->ev[i], kinds[i % 4], (uint32_t)(i / 2 % T_NFUNCS), 0, pos[i]);
		assert_int_equal(s->ev[i].has_dur, kinds[i % 4] != UT_REC_ENTRY);
	}
	assert_int_equal(fake_slot(&f, 0)->tail, n * rec_size);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.events, n);
	assert_int_equal(st.torn + st.invalid + st.drops, 0);
	fake_fini(&f);
	free(s);
}

/* Neither --args nor --retval: 16 bytes a record, not one word in any event. */
static void consumer_16_byte_records_carry_no_words(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct fake f;
	size_t i;

	deliver_in_format(UT_REC_MIN, false, false);

	fake_init_fmt(&f, T_RING_RECS * UT_REC_MIN, UT_REC_MIN, false, false);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	for (i = 0; i < T_RING_RECS; i++)
		produce(&f, 0, i % 2 ? UT_REC_EXIT : UT_REC_ENTRY, 1, 0, i + 1);
	/* the whole ring: 8 records in 128 bytes */
	assert_int_equal(fake_slot(&f, 0)->head, T_RING_RECS * UT_REC_MIN);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), T_RING_RECS);
	for (i = 0; i < T_RING_RECS; i++) {
		assert_int_equal(s->ev[i].nw, 0);
		for (size_t k = 0; k < UT_REC_WORDS; k++)
			assert_int_equal(s->ev[i].w[k], 0);
	}
	fake_fini(&f);
	free(s);
}

/* --retval alone: 32-byte records, exits with rax and rdx, entries with no word. */
static void consumer_retval_only_exits_carry_rax_rdx(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	uint64_t entry, exit;
	struct fake f;

	deliver_in_format(UT_REC_RETVAL_SIZE, false, true);

	fake_init_fmt(&f, T_RING_RECS * UT_REC_RETVAL_SIZE, UT_REC_RETVAL_SIZE, false, true);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	entry = produce(&f, 0, UT_REC_ENTRY, 2, 0, 1);
	exit = produce(&f, 0, UT_REC_EXIT, 2, 0, 2);
	assert_int_equal(exit, UT_REC_RETVAL_SIZE);
	fake_words(&f, 0, exit)[0] = 0xaaa; /* rax */
	fake_words(&f, 0, exit)[1] = 0xddd; /* rdx */
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 2);
	check_event(&s->ev[0], UT_REC_ENTRY, 2, 0, entry);
	assert_int_equal(s->ev[0].nw, 0);
	assert_int_equal(s->ev[1].kind, UT_REC_EXIT);
	assert_int_equal(s->ev[1].nw, UT_REC_RETVAL_WORDS);
	assert_int_equal(s->ev[1].w[0], 0xaaa);
	assert_int_equal(s->ev[1].w[1], 0xddd);
	assert_int_equal(s->ev[1].w[2], 0);
	assert_true(s->ev[1].has_dur);
	fake_fini(&f);
	free(s);
}

/* --args alone: 64-byte records, entries with 5 words, exits with none. */
static void consumer_args_only_exits_carry_no_words(void **state)
{
	deliver_in_format(UT_REC_ARGS_SIZE, true, false);
}

/* --args --retval: the default of the other tests, in three laps. */
static void consumer_args_and_retval_records(void **state)
{
	deliver_in_format(UT_REC_ARGS_SIZE, true, true);
}

/*
 * A record left over from an earlier lap, at the position the producer has
 * reserved, is not taken as committed: its commit word holds another lap.
 * But the word keeps only the lap's low 8 bits (UT_REC_LAP_BITS): a word
 * written exactly 256 laps before (or 512, ...) carries the same lap tag
 * and is taken as committed.  That is the limit of the format: it takes
 * a position whose every reservation of the 255 laps since was abandoned
 * before its commit (or a program writing its ring itself, whose records
 * are only ever validated, never trusted).
 */
static void consumer_stale_lap_tag_is_8_bits(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	const uint64_t lap = 300; /* past 256: the tag has wrapped */
	struct ut_stats st;
	struct fake f;
	uint64_t pos;
	int i;

	fake_init_fmt(&f, T_RING_RECS * UT_REC_MIN, UT_REC_MIN, false, false);
	fake_slot(&f, 0)->head = lap * f.geo.ring_size;
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	pos = reserve(&f, 0);
	assert_int_equal(ut_rec_lap_of(pos, f.geo.ring_size), lap);
	fill(&f, 0, pos, 1);

	/* one lap older: not committed (nothing after it either: not torn, just pending) */
	fake_rec(&f, 0, pos)->commit = ut_rec_commit(lap - 1, UT_REC_ENTRY, 0, 1);
	for (i = 0; i < 3; i++)
		assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	/* 255 laps older: the tag still differs */
	fake_rec(&f, 0, pos)->commit = ut_rec_commit(lap - 255, UT_REC_ENTRY, 0, 1);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	/* one lap newer: neither */
	fake_rec(&f, 0, pos)->commit = ut_rec_commit(lap + 1, UT_REC_ENTRY, 0, 1);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.events + st.torn + st.invalid, 0);

	/* 256 laps older: the same 8 bits, taken as this lap's record */
	fake_rec(&f, 0, pos)->commit = ut_rec_commit(lap - 256, UT_REC_ENTRY, 0, 1);
	assert_int_equal(ut_rec_lap(fake_rec(&f, 0, pos)->commit), ut_rec_lap_tag(lap));
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);
	check_event(&s->ev[0], UT_REC_ENTRY, 1, 0, pos);
	/* and 512 */
	pos = reserve(&f, 0);
	fill(&f, 0, pos, 2);
	fake_rec(&f, 0, pos)->commit = ut_rec_commit(lap - 512, UT_REC_EXIT, 0, 1);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);
	check_event(&s->ev[1], UT_REC_EXIT, 1, 0, pos);
	/* the current lap, of course */
	pos = produce(&f, 0, UT_REC_ENTRY, 3, 0, 3);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);
	check_event(&s->ev[2], UT_REC_ENTRY, 3, 0, pos);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.events, 3);
	assert_int_equal(st.torn + st.invalid, 0);
	fake_fini(&f);
	free(s);
}

/*
 * Commit words a hostile program may write, in 16-byte records: kind 0, or a
 * lap not the position's, everything else right, is never committed (torn
 * once records after it are, after the grace period); func >= nfuncs or
 * depth > rstack_depth is invalid.  None is delivered.
 */
static void consumer_hostile_commit_words_never_delivered(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	uint64_t pos[2], p;
	struct ut_stats st;
	struct fake f;
	int i;

	fake_init_fmt(&f, T_RING_RECS * UT_REC_MIN, UT_REC_MIN, false, false);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	pos[0] = produce(&f, 0, UT_REC_ENTRY, 1, 0, 1);
	p = reserve(&f, 0);
	fill(&f, 0, p, 2);
	fake_rec(&f, 0, p)->commit = commit_word(&f, p, 0, 1, 1); /* kind 0 */
	p = reserve(&f, 0);
	fill(&f, 0, p, 3);
	fake_rec(&f, 0, p)->commit = ut_rec_commit(ut_rec_lap_of(p, f.geo.ring_size) + 1,
						   UT_REC_ENTRY, 1, 2); /* the next lap */
	produce(&f, 0, UT_REC_ENTRY, T_NFUNCS, 1, 4);
	produce(&f, 0, UT_REC_ENTRY, UINT32_MAX, 1, 5);
	produce(&f, 0, UT_REC_EXIT, 1, T_DEPTH + 1, 6);
	produce(&f, 0, UT_REC_UNWIND, 1, UT_REC_DEPTH_MAX, 7);
	pos[1] = produce(&f, 0, UT_REC_EXIT, 1, 0, 8);
	assert_int_equal(fake_slot(&f, 0)->head, T_RING_RECS * UT_REC_MIN);

	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);
	for (i = 0; i < 3; i++)
		assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	sleep_ns(GRACE_SLEEP_NS);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);
	assert_int_equal(s->n, 2);
	check_event(&s->ev[0], UT_REC_ENTRY, 1, 0, pos[0]);
	check_event(&s->ev[1], UT_REC_EXIT, 1, 0, pos[1]);
	assert_true(s->ev[1].has_dur);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.torn, 2);
	assert_int_equal(st.invalid, 4);
	assert_int_equal(st.events, 2);
	assert_int_equal(fake_slot(&f, 0)->tail, T_RING_RECS * UT_REC_MIN);
	fake_fini(&f);
	free(s);
}

static void consumer_durations_pair_by_depth(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct fake f;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	produce(&f, 0, UT_REC_EXIT, 3, 2, 100); /* its entry was before the slot opened */
	produce(&f, 0, UT_REC_ENTRY, 0, 0, 200);
	produce(&f, 0, UT_REC_ENTRY, 1, 1, 300);
	produce(&f, 0, UT_REC_ENTRY, 2, 2, 400);
	produce(&f, 0, UT_REC_UNWIND, 2, 2, 500); /* longjmp out of 2 and 1 */
	produce(&f, 0, UT_REC_UNWIND, 1, 1, 600);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 6);
	produce(&f, 0, UT_REC_EXIT, 0, 0, 700); /* across drains */
	produce(&f, 0, UT_REC_EXIT, 0, 0, 800); /* no entry left at depth 0 */
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 2);
	assert_false(s->ev[0].has_dur);
	assert_true(s->ev[4].has_dur);
	assert_int_equal(s->ev[4].dur_ns, s->ev[4].ts - s->ev[3].ts);
	assert_true(s->ev[5].has_dur);
	assert_int_equal(s->ev[5].dur_ns, s->ev[5].ts - s->ev[2].ts);
	assert_true(s->ev[6].has_dur);
	assert_int_equal(s->ev[6].dur_ns, s->ev[6].ts - s->ev[1].ts);
	assert_false(s->ev[7].has_dur);
	fake_fini(&f);
	free(s);
}

static void consumer_callback_error_stops_drain(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct fake f;
	int i;

	fake_init(&f);
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	for (i = 0; i < 3; i++)
		produce(&f, 0, UT_REC_ENTRY, (uint32_t)i, (uint32_t)i, 1);
	s->fail_at = 2;
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), -42);
	assert_int_equal(s->n, 2);
	/* the failed event counts as consumed; the rest follows next time */
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 1);
	assert_int_equal(s->ev[2].func, 2);
	fake_fini(&f);
	free(s);
}

static void consumer_stats_report_losses(void **state)
{
	struct sink *s = calloc(1, sizeof(*s));
	struct ut_func *funcs;
	struct ut_stats st;
	struct fake f;

	fake_init(&f);
	funcs = ut_ctl_funcs(f.ctl);
	/* counts left by the slot's previous owner are not this thread's */
	fake_slot(&f, 0)->drops = 5;
	fake_slot(&f, 0)->rs_overflow = 2;
	utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
	utrace_consumer_slot_open(f.c, 1, T_PID, T_TID + 1);
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	fake_slot(&f, 0)->drops = 12;
	fake_slot(&f, 0)->rs_overflow = 3;
	funcs[1].drops = 4;
	funcs[3].drops = 3;
	f.ctl->no_slot = 9;
	f.ctl->lost_return = 1;
	assert_int_equal(utrace_consumer_drain(f.c, collect, s), 0);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.drops, 7);
	assert_int_equal(st.rs_overflow, 1);
	assert_int_equal(st.no_slot, 9);
	assert_int_equal(st.lost_return, 1);
	assert_int_equal(st.nthreads, 1);
	assert_int_equal(st.threads[0].pid, T_PID);
	assert_int_equal(st.threads[0].tid, T_TID);
	assert_int_equal(st.threads[0].drops, 7);
	assert_true(st.threads[0].first_ns > 0);
	assert_true(st.threads[0].last_ns >= st.threads[0].first_ns);
	assert_int_equal(st.nfuncs, T_NFUNCS);
	assert_int_equal(st.func_drops[0], 0);
	assert_int_equal(st.func_drops[1], 4);
	assert_int_equal(st.func_drops[3], 3);

	/* the thread leaves: its losses stay reported, growth before close included */
	fake_slot(&f, 0)->drops = 15;
	assert_int_equal(utrace_consumer_slot_close(f.c, 0, collect, s), 0);
	fake_slot(&f, 0)->drops = 0; /* the tracer recycles the slot */
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.drops, 10);
	assert_int_equal(st.rs_overflow, 1);
	assert_int_equal(st.nthreads, 1);
	assert_int_equal(st.threads[0].tid, T_TID);
	assert_int_equal(st.threads[0].drops, 10);

	/* a second thread drops too */
	fake_slot(&f, 1)->drops = 2;
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.drops, 12);
	assert_int_equal(st.nthreads, 2);
	assert_int_equal(st.threads[1].tid, T_TID + 1);
	assert_int_equal(st.threads[1].drops, 2);
	fake_fini(&f);
	free(s);
}

/* Counters of ids past those with probes (spares) are not read: zero, whatever is written there. */
static void consumer_stats_read_only_the_ids_in_use(void **state)
{
	struct ut_func *funcs;
	struct ut_stats st;
	struct fake f;

	fake_init(&f);
	funcs = ut_ctl_funcs(f.ctl);
	for (uint32_t i = 0; i < T_NFUNCS; i++) {
		funcs[i].drops = i + 1;
		funcs[i].notls = 10 * (i + 1);
	}
	utrace_consumer_funcs_used(f.c, 2);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.nfuncs, T_NFUNCS);
	assert_int_equal(st.func_drops[0], 1);
	assert_int_equal(st.func_drops[1], 2);
	assert_int_equal(st.func_notls[1], 20);
	for (uint32_t i = 2; i < T_NFUNCS; i++) {
		assert_int_equal(st.func_drops[i], 0);
		assert_int_equal(st.func_notls[i], 0);
	}
	assert_int_equal(st.notls, 30);
	/* more than there are: all of them */
	utrace_consumer_funcs_used(f.c, T_NFUNCS + 5);
	utrace_consumer_stats(f.c, &st);
	assert_int_equal(st.func_drops[T_NFUNCS - 1], T_NFUNCS);
	fake_fini(&f);
}

static void consumer_new_rejects_bad_geometry(void **state)
{
	struct ut_consumer *c = NULL;
	struct ut_geometry g;
	unsigned char *mem;

	fake_layout(&g, T_NSLOTS, T_RING);
	mem = aligned_alloc(PAGE, align_page(g.area_size));
	assert_non_null(mem);
	g.ring_size = T_RING + T_REC; /* not a power of two */
	assert_int_equal(utrace_consumer_new(&c, mem, &g, NULL), -EINVAL);
	g.ring_size = T_REC / 2; /* smaller than a record */
	assert_int_equal(utrace_consumer_new(&c, mem, &g, NULL), -EINVAL);
	g.ring_size = T_RING;
	g.nslots = 3;
	assert_int_equal(utrace_consumer_new(&c, mem, &g, NULL), -EINVAL);
	g.nslots = T_NSLOTS;
	g.area_size -= 1; /* the last ring does not fit */
	assert_int_equal(utrace_consumer_new(&c, mem, &g, NULL), -EINVAL);
	g.area_size += 1;
	g.funcs_off = UINT64_MAX - 7;
	assert_int_equal(utrace_consumer_new(&c, mem, &g, NULL), -EINVAL);
	g.funcs_off = PAGE;
	g.nfuncs = UINT32_MAX;
	assert_int_equal(utrace_consumer_new(&c, mem, &g, NULL), -EINVAL);
	g.nfuncs = T_NFUNCS;
	assert_int_equal(utrace_consumer_new(&c, mem + 1, &g, NULL), -EINVAL);
	assert_null(c);
	assert_int_equal(utrace_consumer_new(&c, mem, &g, NULL), 0);
	utrace_consumer_free(c);
	free(mem);
}

/*
 * Records are 16, 32 or 64 bytes: a power of two from UT_REC_MIN to
 * UT_REC_MAX, no larger than the ring (one record is a ring).
 */
static void consumer_new_rejects_bad_record_size(void **state)
{
	static const uint32_t bad[] = { 0, 1, 8, 24, 48, 96, 128, 256, UINT32_MAX };
	static const uint32_t good[] = { UT_REC_MIN, UT_REC_RETVAL_SIZE, UT_REC_ARGS_SIZE };
	struct ut_consumer *c = NULL;
	struct ut_geometry g;
	unsigned char *mem;
	size_t k;

	fake_layout(&g, T_NSLOTS, T_RING);
	mem = aligned_alloc(PAGE, align_page(g.area_size));
	assert_non_null(mem);
	memset(mem, 0, g.area_size);
	for (k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		g.rec_size = bad[k];
		assert_int_equal(utrace_consumer_new(&c, mem, &g, NULL), -EINVAL);
		assert_null(c);
	}
	for (k = 0; k < sizeof(good) / sizeof(good[0]); k++) {
		g.rec_size = good[k];
		g.rec_args = good[k] == UT_REC_ARGS_SIZE;
		g.rec_retval = good[k] >= UT_REC_RETVAL_SIZE;
		g.ring_size = T_RING;
		assert_int_equal(utrace_consumer_new(&c, mem, &g, NULL), 0);
		utrace_consumer_free(c);
		c = NULL;
		g.ring_size = good[k];
		assert_int_equal(utrace_consumer_new(&c, mem, &g, NULL), 0);
		utrace_consumer_free(c);
		c = NULL;
		/* a ring smaller than one record */
		g.ring_size = good[k] / 2;
		assert_int_equal(utrace_consumer_new(&c, mem, &g, NULL), -EINVAL);
		assert_null(c);
	}
	/* words asked for that the records have no room for: read past them */
	g.ring_size = T_RING;
	g.rec_size = UT_REC_MIN;
	g.rec_args = true;
	g.rec_retval = false;
	assert_int_equal(utrace_consumer_new(&c, mem, &g, NULL), -EINVAL);
	g.rec_size = UT_REC_RETVAL_SIZE;
	assert_int_equal(utrace_consumer_new(&c, mem, &g, NULL), -EINVAL);
	g.rec_size = UT_REC_MIN;
	g.rec_args = false;
	g.rec_retval = true;
	assert_int_equal(utrace_consumer_new(&c, mem, &g, NULL), -EINVAL);
	assert_null(c);
	free(mem);
}

/*
 * A commit word holds 22 bits of depth (UT_REC_DEPTH_MAX): a deeper shadow
 * stack would hand out depths the records cannot tell.  The area is reserved,
 * never touched: 128 MiB of shadow stack.
 */
static void consumer_new_rejects_deeper_shadow_stacks_than_records_tell(void **state)
{
	const uint64_t rs_bytes = ((uint64_t)UT_REC_DEPTH_MAX + 1) * sizeof(struct ut_rs_entry);
	struct ut_geometry g = {
		.nfuncs = T_NFUNCS,
		.nslots = 1,
		.ring_size = T_RING,
		.rstack_depth = UT_REC_DEPTH_MAX + 1,
		.rec_size = T_REC,
		.rec_args = true,
		.rec_retval = true,
		.funcs_off = PAGE,
		.slots_off = 2 * PAGE,
		.rstacks_off = 3 * PAGE,
	};
	struct ut_consumer *c = NULL;
	void *mem;

	g.rings_off = align_page(g.rstacks_off + rs_bytes);
	g.area_size = g.rings_off + T_RING;
	mem = mmap(NULL, g.area_size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(mem != MAP_FAILED);
	assert_int_equal(utrace_consumer_new(&c, mem, &g, NULL), -EINVAL);
	assert_null(c);
	g.rstack_depth = UT_REC_DEPTH_MAX;
	assert_int_equal(utrace_consumer_new(&c, mem, &g, NULL), 0);
	utrace_consumer_free(c);
	munmap(mem, g.area_size);
}

/* ---- fuzz ----------------------------------------------------------------- */

#define FUZZ_SEEDS 4
#define FUZZ_ROUNDS 1000

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

static int check_sane(const struct ut_event *ev, void *arg)
{
	size_t *n = arg;

	assert_true(ev->func < T_NFUNCS);
	assert_true(ev->depth <= T_DEPTH);
	assert_true(ev->kind >= UT_REC_ENTRY && ev->kind <= UT_REC_EVENT_MAX);
	/* words only where the format has them: 5 for an entry, 2 for an exit */
	assert_true(ev->nw == 0 || (ev->kind == UT_REC_ENTRY && ev->nw == UT_REC_WORDS) ||
		    (ev->kind == UT_REC_EXIT && ev->nw == UT_REC_RETVAL_WORDS));
	(*n)++;
	return 0;
}

static void fuzz_random_bytes(struct fake *f, uint64_t *rng)
{
	size_t i;

	for (i = 0; i + sizeof(uint64_t) <= f->geo.area_size; i += sizeof(uint64_t)) {
		uint64_t v = xorshift(rng);

		memcpy(f->mem + i, &v, sizeof(v));
	}
}

/* A hostile head: near the consumer's tail (which it wrote back), or absurd. */
static uint64_t fuzz_head(const struct fake *f, uint64_t tail, uint64_t *rng)
{
	const uint64_t rec = f->geo.rec_size, ring = f->geo.ring_size;
	const uint64_t absurd[] = { UINT64_MAX, UINT64_MAX - rec + 1, 0, 1ULL << 63 };
	uint64_t r = xorshift(rng);

	switch (r % 4) {
	case 0:
		return absurd[(r >> 8) % 4];
	case 1:
		return tail + (r >> 8) % (ring + 2 * rec);
	default:
		return tail + ((r >> 8) % (ring / rec + 2)) * rec;
	}
}

/*
 * Committed-looking records with adversarial fields: func and depth out of
 * range, kind 0 (never committed), now and then the lap before or after.
 */
static void fuzz_records(struct fake *f, uint32_t i, uint64_t tail, uint64_t *rng)
{
	static const uint32_t funcs[] = { 0, T_NFUNCS - 1, T_NFUNCS, UINT32_MAX };
	static const uint32_t depths[] = { 0, T_DEPTH, T_DEPTH + 1, UT_REC_DEPTH_MAX };
	uint64_t pos;

	for (pos = tail; pos < tail + f->geo.ring_size; pos += f->geo.rec_size) {
		uint64_t r = xorshift(rng);
		uint64_t lap = ut_rec_lap_of(pos, f->geo.ring_size);

		if (r % 3 == 0)
			continue; /* stays random */
		if ((r >> 16) % 8 == 0)
			lap += (r >> 20) % 2 ? 1 : -1;
		fake_rec(f, i, pos)->commit =
			ut_rec_commit(lap, (unsigned int)((r >> 12) % 4), depths[(r >> 8) % 4],
				      funcs[(r >> 4) % 4]);
	}
}

static void fuzz_round(struct fake *f, uint64_t *rng, size_t *delivered)
{
	uint64_t tails[T_NSLOTS];
	struct ut_stats st;
	uint32_t i;

	for (i = 0; i < T_NSLOTS; i++)
		tails[i] = fake_slot(f, i)->tail;
	fuzz_random_bytes(f, rng);
	if (xorshift(rng) % 2) {
		for (i = 0; i < T_NSLOTS; i++) {
			fake_slot(f, i)->head = fuzz_head(f, tails[i], rng);
			fuzz_records(f, i, tails[i], rng);
		}
	}
	assert_true(utrace_consumer_drain(f->c, check_sane, delivered) >= 0);
	utrace_consumer_stats(f->c, &st);
	for (i = 0; i < st.nthreads; i++)
		assert_true(st.threads[i].drops > 0 || st.threads[i].waits > 0);
	if (xorshift(rng) % 8 == 0) {
		i = (uint32_t)(xorshift(rng) % T_NSLOTS);
		assert_int_equal(utrace_consumer_slot_close(f->c, i, check_sane, delivered), 0);
		utrace_consumer_slot_open(f->c, i, T_PID, T_TID + (pid_t)i);
	}
}

/* Every record format the tracer makes (lib/inject/inject.c): size, --args, --retval. */
static const struct {
	uint32_t rec_size;
	bool args, retval;
} formats[] = {
	{ UT_REC_MIN, false, false },
	{ UT_REC_RETVAL_SIZE, false, true },
	{ UT_REC_ARGS_SIZE, true, false },
	{ UT_REC_ARGS_SIZE, true, true },
};
#define NFORMATS (sizeof(formats) / sizeof(formats[0]))

static void consumer_fuzz_hostile_area(void **state)
{
	size_t delivered = 0;
	uint64_t seed;
	struct fake f;
	int round;

	for (seed = 1; seed <= FUZZ_SEEDS; seed++) {
		uint64_t rng = seed * 0x9E3779B97F4A7C15ULL;
		size_t k = seed % NFORMATS;

		fake_init_fmt(&f, T_RING_RECS * formats[k].rec_size, formats[k].rec_size,
			      formats[k].args, formats[k].retval);
		utrace_consumer_slot_open(f.c, 0, T_PID, T_TID);
		utrace_consumer_slot_open(f.c, 1, T_PID, T_TID + 1);
		for (round = 0; round < FUZZ_ROUNDS; round++)
			fuzz_round(&f, &rng, &delivered);
		assert_int_equal(utrace_consumer_slot_close(f.c, 0, check_sane, &delivered), 0);
		assert_int_equal(utrace_consumer_slot_close(f.c, 1, check_sane, &delivered), 0);
		fake_fini(&f);
	}
	/* the adversarial records did get through validation sometimes */
	assert_true(delivered > 0);
}

/* Random geometry over a real buffer: rejected, or safe to drain. */
static void consumer_fuzz_geometry(void **state)
{
	static const uint32_t rec_sizes[] = { 0, 8, 16, 16, 24, 32, 32, 48, 64, 64, 96, 128 };
	const size_t size = 8 * PAGE;
	unsigned char *mem = aligned_alloc(PAGE, size);
	uint64_t rng = 42;
	size_t delivered = 0;
	int round, accepted = 0;

	assert_non_null(mem);
	for (round = 0; round < 2000 && accepted < 50; round++) {
		struct ut_geometry g = { .area_size = size };
		struct ut_consumer *c = NULL;
		uint32_t i;

		g.nfuncs = (uint32_t)(xorshift(&rng) % 64);
		g.nslots = 1U << (xorshift(&rng) % 4);
		/* any record size, the valid ones more often; rings from 8 bytes */
		g.rec_size = rec_sizes[xorshift(&rng) % (sizeof(rec_sizes) / sizeof(rec_sizes[0]))];
		/* what the tracer asks of records of that size (lib/inject/inject.c) */
		g.rec_args = g.rec_size >= UT_REC_ARGS_SIZE;
		g.rec_retval =
			g.rec_size == UT_REC_RETVAL_SIZE || (g.rec_args && xorshift(&rng) % 2);
		g.ring_size = 8U << (xorshift(&rng) % 8);
		g.rstack_depth = (uint32_t)(xorshift(&rng) % 16);
		g.funcs_off = xorshift(&rng) % size;
		g.slots_off = xorshift(&rng) % size;
		g.rstacks_off = xorshift(&rng) % size;
		g.rings_off = xorshift(&rng) % size;
		if (xorshift(&rng) % 2) {
			g.funcs_off &= ~7ULL;
			g.slots_off &= ~7ULL;
			g.rstacks_off &= ~7ULL;
			g.rings_off &= ~7ULL;
		}
		for (i = 0; i < size; i++)
			mem[i] = (unsigned char)xorshift(&rng);
		if (utrace_consumer_new(&c, mem, &g, NULL) < 0)
			continue;
		accepted++;
		for (i = 0; i < g.nslots; i++)
			utrace_consumer_slot_open(c, i, T_PID, T_TID);
		assert_true(utrace_consumer_drain(c, check_sane, &delivered) >= 0);
		for (i = 0; i < g.nslots; i++)
			assert_int_equal(utrace_consumer_slot_close(c, i, check_sane, &delivered),
					 0);
		utrace_consumer_free(c);
	}
	assert_true(accepted > 0);
	free(mem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(tsc_converts_to_monotonic_clock),
		cmocka_unit_test(tsc_calibrates_after_begin),
		cmocka_unit_test(tsc_conversion_is_monotonic_and_saturates),
		cmocka_unit_test(consumer_delivers_events_in_order),
		cmocka_unit_test(consumer_ignores_closed_slots),
		cmocka_unit_test(consumer_open_starts_at_head),
		cmocka_unit_test(consumer_wraps_ring),
		cmocka_unit_test(consumer_full_ring_is_drained),
		cmocka_unit_test(consumer_stale_record_not_committed),
		cmocka_unit_test(consumer_rejects_bad_kind_in_commit),
		cmocka_unit_test(consumer_torn_record_skipped_after_grace),
		cmocka_unit_test(consumer_torn_16_byte_record_skipped_after_grace),
		cmocka_unit_test(consumer_torn_needs_three_drains),
		cmocka_unit_test(consumer_torn_grace_restarts_at_each_signal),
		cmocka_unit_test(consumer_uncommitted_tail_alone_waits),
		cmocka_unit_test(consumer_late_commit_is_delivered),
		cmocka_unit_test(consumer_torn_run_shares_grace),
		cmocka_unit_test(consumer_close_counts_uncommitted_as_torn),
		cmocka_unit_test(consumer_close_killed_leaves_out_records_in_progress),
		cmocka_unit_test(consumer_close_unwinds_open_entries),
		cmocka_unit_test(consumer_close_unwinds_what_the_shadow_stack_holds),
		cmocka_unit_test(consumer_release_does_not_unwind),
		cmocka_unit_test(consumer_release_counts_uncommitted_as_torn),
		cmocka_unit_test(consumer_close_after_drops_does_not_unwind),
		cmocka_unit_test(consumer_drops_seen_before_close),
		cmocka_unit_test(consumer_refilled_ring_loses_nothing),
		cmocka_unit_test(consumer_ring_refilled_while_delivered),
		cmocka_unit_test(consumer_bad_head_is_invalid),
		cmocka_unit_test(consumer_invalid_records_skipped),
		cmocka_unit_test(consumer_16_byte_records_carry_no_words),
		cmocka_unit_test(consumer_retval_only_exits_carry_rax_rdx),
		cmocka_unit_test(consumer_args_only_exits_carry_no_words),
		cmocka_unit_test(consumer_args_and_retval_records),
		cmocka_unit_test(consumer_stale_lap_tag_is_8_bits),
		cmocka_unit_test(consumer_hostile_commit_words_never_delivered),
		cmocka_unit_test(consumer_durations_pair_by_depth),
		cmocka_unit_test(consumer_callback_error_stops_drain),
		cmocka_unit_test(consumer_stats_report_losses),
		cmocka_unit_test(consumer_stats_read_only_the_ids_in_use),
		cmocka_unit_test(consumer_new_rejects_bad_geometry),
		cmocka_unit_test(consumer_new_rejects_bad_record_size),
		cmocka_unit_test(consumer_new_rejects_deeper_shadow_stacks_than_records_tell),
		cmocka_unit_test(consumer_fuzz_hostile_area),
		cmocka_unit_test(consumer_fuzz_geometry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
