/* SPDX-License-Identifier: MIT */
/* A growing list of addresses that ends as a sorted, unique struct ut_targets. */
#ifndef UTRACE_ADDRS_H
#define UTRACE_ADDRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "utrace/targets.h"

struct ut_addrs {
	uint64_t *v;
	size_t n, cap;
};

/* Append one address: 0 or -ENOMEM. */
int ut_addrs_add(struct ut_addrs *a, uint64_t addr);

/* Sort and deduplicate a's addresses into out, which takes them over (a ends empty). */
void ut_addrs_finish(struct ut_addrs *a, struct ut_targets *out);

void ut_addrs_free(struct ut_addrs *a);

/* Whether some address of the sorted v[n] lies strictly inside (lo, hi). */
bool ut_addrs_any_within(const uint64_t *v, size_t n, uint64_t lo, uint64_t hi);

#endif
