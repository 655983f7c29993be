// SPDX-License-Identifier: MIT
/*
 * Address lists shared by the branch-target scan and the entry-site reader:
 * appended in any order, handed out sorted and unique so that lookups are a
 * binary search.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addrs.h"

/* A module's text yields ~10^5 targets: start big enough to skip the small doublings. */
#define ADDRS_MIN_CAP 1024

int ut_addrs_add(struct ut_addrs *a, uint64_t addr)
{
	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : ADDRS_MIN_CAP;
		uint64_t *v = reallocarray(a->v, cap, sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = addr;
	return 0;
}

static int addr_cmp(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;

	return a < b ? -1 : a > b;
}

void ut_addrs_finish(struct ut_addrs *a, struct ut_targets *out)
{
	size_t n = 0;

	if (a->n)
		qsort(a->v, a->n, sizeof(*a->v), addr_cmp);
	for (size_t i = 0; i < a->n; i++)
		if (!n || a->v[n - 1] != a->v[i])
			a->v[n++] = a->v[i];
	out->v = a->v;
	out->n = n;
	memset(a, 0, sizeof(*a));
}

void ut_addrs_free(struct ut_addrs *a)
{
	free(a->v);
	memset(a, 0, sizeof(*a));
}

bool ut_addrs_any_within(const uint64_t *v, size_t n, uint64_t lo, uint64_t hi)
{
	size_t a = 0, b = n;

	/* First address strictly above lo. */
	while (a < b) {
		size_t mid = a + (b - a) / 2;

		if (v[mid] <= lo)
			a = mid + 1;
		else
			b = mid;
	}
	return a < n && v[a] < hi;
}

size_t ut_sorted_upto(const void *base, size_t n, size_t size, size_t key_off, uint64_t key)
{
	const unsigned char *b = base;
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		uint64_t k;

		memcpy(&k, b + mid * size + key_off, sizeof(k));
		if (k <= key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}
