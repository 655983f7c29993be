// SPDX-License-Identifier: MIT
/* The views' per-thread tables and growing arrays (view-threads.h). */
#include <search.h>
#include <stdlib.h>

#include "view-threads.h"

#define ALLOC_MIN 16

void *ut_array_grow(void *v, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : ALLOC_MIN;

	if (need <= *cap)
		return v;
	while (c < need)
		c *= 2;
	v = realloc(v, c * size);
	if (v)
		*cap = c;
	return v;
}

int ut_thread_cmp(const void *a, const void *b)
{
	const struct ut_thread_id *x = a, *y = b;

	if (x->pid != y->pid)
		return x->pid < y->pid ? -1 : 1;
	return x->tid < y->tid ? -1 : x->tid > y->tid;
}

void ut_threads_init(struct ut_threads *ts, size_t size)
{
	*ts = (struct ut_threads){ .size = size };
}

static bool is_thread(const struct ut_thread_id *id, pid_t pid, pid_t tid)
{
	return id->pid == pid && id->tid == tid;
}

void *ut_threads_get(struct ut_threads *ts, pid_t pid, pid_t tid, bool *created)
{
	struct ut_thread_id key = { .pid = pid, .tid = tid }, *id;
	void **all, *found;

	if (created)
		*created = false;
	if (ts->last && is_thread(ts->last, pid, tid))
		return ts->last;
	found = tfind(&key, &ts->tree, ut_thread_cmp);
	if (found)
		return ts->last = *(void **)found;
	all = ut_array_grow(ts->all, &ts->cap, ts->n + 1, sizeof(*all));
	if (!all)
		return NULL;
	ts->all = all;
	id = calloc(1, ts->size);
	if (!id)
		return NULL;
	*id = key;
	if (!tsearch(id, &ts->tree, ut_thread_cmp)) {
		free(id);
		return NULL;
	}
	all[ts->n++] = id;
	if (created)
		*created = true;
	return ts->last = id;
}

/* all[] holds pointers to the elements; arg points to the caller's cmp. */
static int cmp_elements(const void *a, const void *b, void *arg)
{
	int (*const *cmp)(const void *, const void *) = arg;

	return (*cmp)(*(void *const *)a, *(void *const *)b);
}

void ut_threads_sort(struct ut_threads *ts, int (*cmp)(const void *, const void *))
{
	/* the tree and `last` point at the elements, which stay put */
	if (ts->n)
		qsort_r(ts->all, ts->n, sizeof(*ts->all), cmp_elements, &cmp);
}

static void noop_free(void *p)
{
	(void)p;
}

void ut_threads_free(struct ut_threads *ts, void (*free_elem)(void *))
{
	tdestroy(ts->tree, noop_free);
	for (size_t i = 0; i < ts->n; i++) {
		if (free_elem)
			free_elem(ts->all[i]);
		free(ts->all[i]);
	}
	free(ts->all);
	*ts = (struct ut_threads){ .size = ts->size };
}
