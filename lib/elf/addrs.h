/* SPDX-License-Identifier: MIT */
/* A growing list of addresses that ends as a sorted, unique struct ut_targets. */
#ifndef UTRACE_ADDRS_H
#define UTRACE_ADDRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "targets.h"

struct ut_addrs {
	uint64_t *v;
	size_t n, cap;
};

/* Append one address: 0 or -ENOMEM. */
int ut_addrs_add(struct ut_addrs *a, uint64_t addr);

/* Sort and deduplicate a's addresses into out, which takes them over (a ends empty). */
void ut_addrs_finish(struct ut_addrs *a, struct ut_targets *out);

void ut_addrs_free(struct ut_addrs *a);

/*
 * In base[n], elements of `size` bytes sorted by the uint64_t at `key_off`
 * in each: how many have a key at or below `key` (the last one of them is
 * the one whose range may hold `key`).
 */
size_t ut_sorted_upto(const void *base, size_t n, size_t size, size_t key_off, uint64_t key);

/* Whether some address of the sorted v[n] lies strictly inside (lo, hi). */
bool ut_addrs_any_within(const uint64_t *v, size_t n, uint64_t lo, uint64_t hi);

#endif
