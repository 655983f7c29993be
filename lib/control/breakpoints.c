// SPDX-License-Identifier: MIT
/* The breakpoints utrace owns besides the probes (breakpoints.h). */
#include <errno.h>
#include <string.h>

#include "breakpoints.h"
#include "remote.h"

const struct ut_bp *ut_bp_find(const struct ut_bps *b, uint64_t addr)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i].addr == addr)
			return &b->v[i];
	return NULL;
}

const struct ut_bp *ut_bp_of_kind(const struct ut_bps *b, enum ut_bp_kind kind)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i].kind == kind)
			return &b->v[i];
	return NULL;
}

int ut_bp_adopt(struct ut_bps *b, const struct ut_bp *bp)
{
	if (ut_bp_find(b, bp->addr))
		return -EEXIST;
	if (b->n == UT_BP_MAX)
		return -ENOSPC;
	b->v[b->n++] = *bp;
	return 0;
}

int ut_bp_insert(struct ut_bps *b, pid_t pid, uint64_t addr, enum ut_bp_kind kind)
{
	struct ut_bp bp = { .addr = addr, .kind = kind };
	int e;

	if (ut_bp_find(b, addr))
		return -EEXIST;
	if (b->n == UT_BP_MAX)
		return -ENOSPC;
	e = utrace_mem_read(pid, addr, bp.orig, sizeof(bp.orig));
	if (e == 0)
		e = utrace_mem_write(pid, addr, arch_breakpoint, ARCH_BREAKPOINT_SIZE);
	if (e == 0)
		b->v[b->n++] = bp;
	return e;
}

/* Only where our breakpoint still is: an exec or the program itself may have replaced it. */
static int put_back(const struct ut_bp *bp, pid_t pid)
{
	uint8_t cur[ARCH_BREAKPOINT_SIZE];
	int e = utrace_mem_read(pid, bp->addr, cur, sizeof(cur));

	if (e < 0 || memcmp(cur, arch_breakpoint, ARCH_BREAKPOINT_SIZE))
		return e;
	return utrace_mem_write(pid, bp->addr, bp->orig, sizeof(bp->orig));
}

int ut_bp_remove(struct ut_bps *b, pid_t pid, uint64_t addr)
{
	const struct ut_bp *bp = ut_bp_find(b, addr);
	size_t i;
	int e;

	if (!bp)
		return -ENOENT;
	e = put_back(bp, pid);
	i = (size_t)(bp - b->v);
	memmove(&b->v[i], &b->v[i + 1], (b->n - i - 1) * sizeof(b->v[0]));
	b->n--;
	return e;
}

void ut_bp_restore(const struct ut_bps *b, pid_t pid, uint64_t addr)
{
	const struct ut_bp *bp = ut_bp_find(b, addr);

	if (bp)
		put_back(bp, pid);
}

void ut_bp_restore_all(const struct ut_bps *b, pid_t pid)
{
	for (size_t i = 0; i < b->n; i++)
		put_back(&b->v[i], pid);
}
