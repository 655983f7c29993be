/* SPDX-License-Identifier: MIT */
/*
 * The per-thread state of the views (view-filter.c, report.c, chrome.c,
 * folded.c), not part of the library's interface: a table of structs of the
 * view's own, one per thread of the trace, and the growth of the arrays they
 * hold.
 */
#ifndef UTRACE_VIEW_THREADS_H
#define UTRACE_VIEW_THREADS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* A thread of the trace; a tid may come again in another process. */
struct ut_thread_id {
	pid_t pid, tid;
};

/*
 * The table's elements are the view's structs, `size` bytes, each starting
 * with its struct ut_thread_id.  They never move: a view may keep pointers.
 * all[0..n) walks them in the order they were made, until sorted.
 */
struct ut_threads {
	size_t size;
	void *tree; /* tsearch() tree of the elements, by id */
	void **all;
	size_t n, cap;
	void *last; /* events come in chunks of one thread: likely the next one's */
};

/*
 * v grown to hold `need` elements of `size` (doubling, *cap updated); v
 * itself when it holds them already, NULL when out of memory (v is kept).
 */
void *ut_array_grow(void *v, size_t *cap, size_t need, size_t size);

/* An empty table of elements of `size` bytes (at least a struct ut_thread_id). */
void ut_threads_init(struct ut_threads *ts, size_t size);
/*
 * The element of thread (pid, tid); made on first sight, zeroed but for its
 * id, and then *created (when not NULL) is true.  NULL when out of memory.
 */
void *ut_threads_get(struct ut_threads *ts, pid_t pid, pid_t tid, bool *created);
/* Orders the elements by cmp(element, element); ut_thread_cmp orders them by pid, then tid. */
void ut_threads_sort(struct ut_threads *ts, int (*cmp)(const void *, const void *));
int ut_thread_cmp(const void *a, const void *b);
/* Frees every element, after free_elem(element) (when not NULL) for what it holds. */
void ut_threads_free(struct ut_threads *ts, void (*free_elem)(void *));

#endif
