// SPDX-License-Identifier: MIT
/*
 * tsc -> CLOCK_MONOTONIC nanoseconds.  The recorder stamps events with rdtsc
 * (no syscalls in the tracee); the tracer maps those ticks onto the clock
 * users know.  One anchor pair (tsc0, ns0) is taken at init and never moves;
 * the rate is first estimated over a short calibration and then refined from
 * ever longer baselines, so its error shrinks as the trace runs.
 */
#include <time.h>

#include "arch.h"
#include "tsc.h"
#include "base.h"

/* Initial calibration: long enough for a rate good to ~1e-5 with ~20 ns of read jitter. */
#define TSC_CALIBRATE_NS 2000000ULL
/* Below this baseline a refinement would be noisier than the calibration it replaces. */
#define TSC_REFINE_MIN_NS TSC_CALIBRATE_NS
/* 2^64 as a double: the first value a uint64_t cannot hold. */
#define TWO_POW_64 18446744073709551616.0

uint64_t utrace_rdtsc(void)
{
	return arch_rdtsc();
}

uint64_t utrace_monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

/* One (tsc, ns) pair: the tsc read is bracketed by two clock reads, ns is their midpoint. */
static void tsc_sample(uint64_t *tsc, uint64_t *ns)
{
	uint64_t before = utrace_monotonic_ns();

	*tsc = arch_rdtsc();
	*ns = before + (utrace_monotonic_ns() - before) / 2;
}

/* Adopt the rate seen between the anchor and (tsc, ns) when the baseline is long enough. */
static void tsc_rate_from(struct ut_tsc *t, uint64_t tsc, uint64_t ns)
{
	if (tsc <= t->tsc0 || ns < t->ns0 + TSC_REFINE_MIN_NS)
		return;
	t->ns_per_tick = (double)(ns - t->ns0) / (double)(tsc - t->tsc0);
}

void utrace_tsc_begin(struct ut_tsc *t)
{
	tsc_sample(&t->tsc0, &t->ns0);
	/* 1 GHz until utrace_tsc_calibrate() has a baseline to measure the rate over. */
	t->ns_per_tick = 1.0;
}

void utrace_tsc_calibrate(struct ut_tsc *t)
{
	struct timespec pause = { .tv_sec = 0 };
	uint64_t tsc, ns;

	for (;;) {
		tsc_sample(&tsc, &ns);
		if (ns >= t->ns0 + TSC_REFINE_MIN_NS)
			break;
		pause.tv_nsec = (long)(t->ns0 + TSC_REFINE_MIN_NS - ns);
		nanosleep(&pause, NULL);
	}
	tsc_rate_from(t, tsc, ns);
}

void utrace_tsc_init(struct ut_tsc *t)
{
	utrace_tsc_begin(t);
	utrace_tsc_calibrate(t);
}

void utrace_tsc_refine(struct ut_tsc *t)
{
	uint64_t tsc, ns;

	tsc_sample(&tsc, &ns);
	tsc_rate_from(t, tsc, ns);
}

/* ticks * ns_per_tick as a uint64_t, saturating (and 0 for a nonsensical rate). */
static uint64_t ticks_to_ns(uint64_t ticks, double ns_per_tick)
{
	double d = (double)ticks * ns_per_tick;

	if (!(d >= 0.0))
		return 0;
	if (d >= TWO_POW_64)
		return UINT64_MAX;
	return (uint64_t)d;
}

/*
 * Monotonic in tsc for a given t: the product is monotonic in the tick count
 * (IEEE rounding is), and both branches saturate instead of wrapping.
 */
uint64_t utrace_tsc_to_ns(const struct ut_tsc *t, uint64_t tsc)
{
	uint64_t delta;

	if (tsc >= t->tsc0) {
		delta = ticks_to_ns(tsc - t->tsc0, t->ns_per_tick);
		return delta > UINT64_MAX - t->ns0 ? UINT64_MAX : t->ns0 + delta;
	}
	delta = ticks_to_ns(t->tsc0 - tsc, t->ns_per_tick);
	return delta >= t->ns0 ? 0 : t->ns0 - delta;
}

uint64_t utrace_tsc_span_ns(const struct ut_tsc *t, uint64_t ticks)
{
	return ticks_to_ns(ticks, t->ns_per_tick);
}

uint64_t utrace_tsc_ticks(const struct ut_tsc *t, uint64_t ns)
{
	double d = t->ns_per_tick > 0.0 ? (double)ns / t->ns_per_tick : 0.0;

	if (!(d >= 0.0))
		return 0;
	return d >= TWO_POW_64 ? UINT64_MAX : (uint64_t)d;
}
