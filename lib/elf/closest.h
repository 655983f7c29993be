/* SPDX-License-Identifier: MIT */
/*
 * The names closest to one that matched nothing, for "no function matches"
 * to suggest: edit distance (Levenshtein, on the name without wildcards),
 * a name that holds the wanted one whole counting as close.
 */
#ifndef UTRACE_CLOSEST_H
#define UTRACE_CLOSEST_H

#include <stddef.h>

#define UT_CLOSEST_MAX 3
#define UT_CLOSEST_NAME 96

struct ut_candidate {
	char name[UT_CLOSEST_NAME];
	char module[64];
	unsigned dist;
};

struct ut_closest {
	char want[UT_CLOSEST_NAME]; /* the glob without its wildcards */
	struct ut_candidate v[UT_CLOSEST_MAX]; /* nearest first */
	size_t n;
};

void ut_closest_init(struct ut_closest *c, const char *glob);
/* Consider `name` of `module`: kept when among the nearest and near enough to suggest. */
void ut_closest_add(struct ut_closest *c, const char *name, const char *module);
/* "'a' (mod), 'b' (mod)" into buf; "" when there is none. */
void ut_closest_format(const struct ut_closest *c, char *buf, size_t cap);

#endif
