/* SPDX-License-Identifier: MIT */
/*
 * The consumer: drains the per-thread rings of a data area, validates every
 * record (the area is untrusted input), and turns records into events with
 * CLOCK_MONOTONIC timestamps and durations.
 *
 * The geometry (nfuncs, nslots, ring size) is the tracer's own copy, never
 * re-read from the area.  Which thread owns which slot is told by the tracer
 * (utrace_consumer_slot_open/close); the area's own tid fields are ignored.
 */
#ifndef UTRACE_CONSUMER_H
#define UTRACE_CONSUMER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "inject.h"
#include "tsc.h"
#include "utrace/shm.h"

struct ut_event {
	uint64_t ts; /* CLOCK_MONOTONIC ns */
	pid_t pid, tid;
	enum ut_rec_kind kind;
	uint32_t func; /* < nfuncs, validated */
	uint32_t depth;
	uint64_t w
		[UT_REC_WORDS]; /* entry: rdi rsi rdx rcx r8 r9 (--args); exit: rax rdx (--retval) */
	uint32_t nw; /* words of w[] recorded: 0 unless asked for */
	/* items beyond the words (items.h), checked; valid until the next event */
	const unsigned char *data;
	uint32_t data_len;
	bool has_dur; /* exits and unwinds whose entry was seen */
	uint64_t dur_ns; /* since the matching entry */
};

/* What the events of a function id are reported with. */
struct ut_func_info {
	const char *name;
	const char *module; /* basename */
	uint64_t addr; /* runtime address of the function (symbol start) */
	const char *mangled; /* a C++ function's symbol when `name` is demangled, else NULL */
	const char *proto; /* its prototype from DWARF (protos.h), else NULL */
	const char *srcline; /* "file.c:LINE" of its definition (--srcline), else NULL */
};

/* A thread that lost records or waited for room in its ring. */
struct ut_thread_drops {
	pid_t pid, tid;
	uint64_t drops;
	uint64_t first_ns, last_ns; /* window in which drops were seen (0 when unknown) */
	uint64_t waits, wait_ns; /* waits for room in a full ring, and their time */
};

struct ut_stats {
	uint64_t events; /* delivered */
	uint64_t drops; /* records the tracee could not write: ring full */
	uint64_t torn; /* records reserved but never committed */
	uint64_t invalid; /* records that failed validation */
	uint64_t rs_overflow; /* entries that got no return probe: shadow stack full */
	uint64_t waits, wait_ns; /* the program's waits for room in full rings */
	uint64_t no_slot; /* events of threads without a slot */
	uint64_t lost_return;
	const char *no_returns; /* why returns are not traced at all, NULL when they are */
	/* why tracing stopped before the program's end ("after 2s (--duration)"), else NULL */
	const char *stopped;
	struct ut_thread_drops *threads; /* threads with drops or waits > 0 */
	size_t nthreads;
	uint64_t *func_drops; /* [nfuncs] */
	/* [nfuncs]: entries not recorded while a thread had no TLS (no FSGSBASE) */
	uint64_t *func_notls;
	uint64_t notls; /* their sum */
	size_t nfuncs; /* entries of func_drops and func_notls: the geometry's nfuncs */
};

typedef int (*ut_event_fn)(const struct ut_event *ev, void *arg);

struct ut_consumer;

/*
 * A consumer of the data area `area` laid out as `geo`.  tsc: a calibration
 * taken earlier (the tracer takes it before it stops the program), or NULL to
 * calibrate now, which takes some 2 ms.
 */
int utrace_consumer_new(struct ut_consumer **out, void *area, const struct ut_geometry *geo,
			const struct ut_tsc *tsc);
void utrace_consumer_free(struct ut_consumer *c);
/* The slot now belongs to thread tid of process pid (its ring starts empty). */
void utrace_consumer_slot_open(struct ut_consumer *c, uint32_t slot, pid_t pid, pid_t tid);
/*
 * From now on the slot's records are thread tid of process pid's: a vfork
 * child runs on its parent's slot (same TLS) while the parent waits.
 */
void utrace_consumer_slot_lend(struct ut_consumer *c, uint32_t slot, pid_t pid, pid_t tid);
/*
 * A signal is being delivered to the slot's thread: an uncommitted record
 * may be a recorder its handlers interrupted, not torn (see consumer.c).
 */
void utrace_consumer_slot_signalled(struct ut_consumer *c, uint32_t slot);
/*
 * The thread is gone: drain what is left (uncommitted records count as torn),
 * close the calls it left open with unwind events, and forget the slot.
 */
int utrace_consumer_slot_close(struct ut_consumer *c, uint32_t slot, ut_event_fn fn, void *arg);
/*
 * The same for a thread killed inside the recorder (a fatal signal, SIGKILL
 * anywhere): the uncommitted records at the end of its ring, none committed
 * after them, are the ones it was writing; they are left out, not torn.
 */
int utrace_consumer_slot_close_killed(struct ut_consumer *c, uint32_t slot, ut_event_fn fn,
				      void *arg);
/* The same for a thread that lives on untraced (detach): its open calls just go on. */
int utrace_consumer_slot_release(struct ut_consumer *c, uint32_t slot, ut_event_fn fn, void *arg);
/*
 * Deliver every committed record of every open slot, in ring order per
 * thread.  Returns the number of events delivered, or the first negative
 * value fn returned.  A record that stays uncommitted while later ones are
 * committed is declared torn after a grace period and skipped.
 */
long utrace_consumer_drain(struct ut_consumer *c, ut_event_fn fn, void *arg);
/*
 * Only ids below n have probes (the rest are spares for libraries loaded
 * later): the statistics read no other function counter, which only a
 * hostile program could have written, and whose pages reading would
 * allocate.  All of them until this is called.
 */
void utrace_consumer_funcs_used(struct ut_consumer *c, uint32_t n);
/* Fill stats (drops read from the area's counters, bounds-checked); owned by c. */
void utrace_consumer_stats(struct ut_consumer *c, struct ut_stats *st);

#endif
