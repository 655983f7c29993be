// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "textpatch.h"
#include "remote.h"

#define TEXT_PAGE 4096ULL

static uint64_t page_down(uint64_t x)
{
	return x & ~(TEXT_PAGE - 1);
}

static uint64_t page_up(uint64_t x)
{
	return page_down(x + TEXT_PAGE - 1);
}

/* The patches v[first..*end) whose pages touch or adjoin: one run. */
static size_t run_end(const struct ut_text_patch *v, size_t n, size_t first, uint64_t *hi)
{
	size_t i = first;

	*hi = page_up(v[i].addr + v[i].len);
	for (i++; i < n && page_down(v[i].addr) <= *hi; i++)
		if (page_up(v[i].addr + v[i].len) > *hi)
			*hi = page_up(v[i].addr + v[i].len);
	return i;
}

static int write_run(pid_t pid, struct ut_text_patch *v, size_t first, size_t end, uint64_t lo,
		     uint64_t hi)
{
	size_t len = (size_t)(hi - lo);
	uint8_t *buf = malloc(len);
	bool any = false;
	int e;

	if (!buf)
		return -ENOMEM;
	e = utrace_mem_read(pid, lo, buf, len);
	for (size_t i = first; i < end && !e; i++) {
		uint8_t *at = buf + (v[i].addr - lo);

		if (memcmp(at, v[i].expect, v[i].len))
			continue;
		memcpy(at, v[i].bytes, v[i].len);
		v[i].done = any = true;
	}
	if (!e && any)
		e = utrace_mem_write(pid, lo, buf, len);
	for (size_t i = first; i < end && e; i++)
		v[i].done = false;
	free(buf);
	return e;
}

int ut_text_write(pid_t pid, struct ut_text_patch *v, size_t n)
{
	size_t first = 0;
	int err = 0;

	while (first < n) {
		uint64_t hi;
		size_t end = run_end(v, n, first, &hi);
		int e = write_run(pid, v, first, end, page_down(v[first].addr), hi);

		if (e < 0 && !err)
			err = e;
		first = end;
	}
	return err;
}
