// SPDX-License-Identifier: MIT
/* The names closest to one that matched nothing (closest.h). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "closest.h"

/* Longer names are compared by their first UT_CLOSEST_NAME - 1 bytes. */
static unsigned edit_distance(const char *a, const char *b)
{
	unsigned row[UT_CLOSEST_NAME];
	size_t la = strnlen(a, UT_CLOSEST_NAME - 1), lb = strnlen(b, UT_CLOSEST_NAME - 1);

	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];

		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

void ut_closest_init(struct ut_closest *c, const char *glob)
{
	size_t n = 0;

	memset(c, 0, sizeof(*c));
	for (const char *p = glob; *p && n + 1 < sizeof(c->want); p++)
		if (!strchr("*?[]", *p))
			c->want[n++] = *p;
}

/* A name that holds the wanted one whole: ranked by what it adds (its own limit). */
static bool holds(const struct ut_closest *c, const char *name, unsigned *d)
{
	size_t lw = strlen(c->want);

	if (lw < 3 || !strstr(name, c->want))
		return false;
	*d = (unsigned)(strlen(name) - lw) / 4 + 1;
	return true;
}

/* Near enough otherwise: a third of the wanted name's letters wrong at most. */
void ut_closest_add(struct ut_closest *c, const char *name, const char *module)
{
	unsigned d;
	size_t i;

	if (!*c->want || !strcmp(name, c->want))
		return;
	if (!holds(c, name, &d)) {
		d = edit_distance(c->want, name);
		if (d > (unsigned)strlen(c->want) / 3 + 1)
			return;
	}
	for (i = 0; i < c->n; i++)
		if (!strncmp(c->v[i].name, name, sizeof(c->v[i].name) - 1))
			return; /* the same name in another module, or as an alias */
	for (i = c->n; i > 0 && c->v[i - 1].dist > d; i--)
		;
	if (i == UT_CLOSEST_MAX)
		return;
	if (c->n < UT_CLOSEST_MAX)
		c->n++;
	memmove(&c->v[i + 1], &c->v[i], (c->n - 1 - i) * sizeof(c->v[0]));
	snprintf(c->v[i].name, sizeof(c->v[i].name), "%s", name);
	snprintf(c->v[i].module, sizeof(c->v[i].module), "%s", module);
	c->v[i].dist = d;
}

void ut_closest_format(const struct ut_closest *c, char *buf, size_t cap)
{
	size_t len = 0;

	if (cap)
		buf[0] = 0;
	for (size_t i = 0; i < c->n && len < cap; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%s'%s' (%s)", i ? ", " : "",
					c->v[i].name, c->v[i].module);
}
