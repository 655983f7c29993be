/* SPDX-License-Identifier: MIT */
/* Clocks: the TSC, CLOCK_MONOTONIC, and the one converted to the other. */
#ifndef UTRACE_TSC_H
#define UTRACE_TSC_H

#include <stdint.h>

/* tsc -> CLOCK_MONOTONIC: rate refined on every drain as time passes. */
struct ut_tsc {
	uint64_t tsc0, ns0;
	double ns_per_tick;
};
/* Anchor and rate: the rate needs some 2 ms of baseline (it sleeps that long). */
void utrace_tsc_init(struct ut_tsc *t);
/*
 * The same in two steps, so that the wait overlaps other work: the anchor
 * now, the rate once utrace_tsc_calibrate() has waited for what is left of
 * the baseline.  Nothing may be converted in between.
 */
void utrace_tsc_begin(struct ut_tsc *t);
void utrace_tsc_calibrate(struct ut_tsc *t);
void utrace_tsc_refine(struct ut_tsc *t);
uint64_t utrace_tsc_to_ns(const struct ut_tsc *t, uint64_t tsc);
/* A span of `ticks` in ns, and back (both saturating). */
uint64_t utrace_tsc_span_ns(const struct ut_tsc *t, uint64_t ticks);
uint64_t utrace_tsc_ticks(const struct ut_tsc *t, uint64_t ns);
uint64_t utrace_rdtsc(void);
uint64_t utrace_monotonic_ns(void);

#endif
