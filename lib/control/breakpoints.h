/* SPDX-License-Identifier: MIT */
/*
 * The breakpoints utrace owns, besides the probes: one table, so that a
 * trap is told apart in one place, and a forked copy of the process is
 * cleaned of all of them at once.
 */
#ifndef UTRACE_BREAKPOINTS_H
#define UTRACE_BREAKPOINTS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "arch.h"

enum ut_bp_kind {
	UT_BP_ENTRY, /* run: the program's entry point, where the probes go in */
	UT_BP_RTLD, /* the dynamic linker's r_brk: a library came or went */
	UT_BP_EXIT, /* detach: a trampoline's exit, where a thread is let out to */
};

struct ut_bp {
	uint64_t addr;
	enum ut_bp_kind kind;
	uint8_t orig[ARCH_BREAKPOINT_SIZE]; /* the bytes the breakpoint replaced */
};

/* Entry and r_brk, and detach's two exits: room to spare. */
#define UT_BP_MAX 8

struct ut_bps {
	struct ut_bp v[UT_BP_MAX];
	size_t n;
};

/* Put a breakpoint at addr in process pid: 0, -ENOSPC or the memory access's -errno. */
int ut_bp_insert(struct ut_bps *b, pid_t pid, uint64_t addr, enum ut_bp_kind kind);
/* Take it out of pid (where it still is) and forget it: 0, -ENOENT or -errno. */
int ut_bp_remove(struct ut_bps *b, pid_t pid, uint64_t addr);
/* Put the bytes back in pid, a forked copy of the process, where it still holds them. */
void ut_bp_restore(const struct ut_bps *b, pid_t pid, uint64_t addr);
void ut_bp_restore_all(const struct ut_bps *b, pid_t pid);
/* A breakpoint a forked copy inherited in place: the copy's own table takes it over. */
int ut_bp_adopt(struct ut_bps *b, const struct ut_bp *bp);
/* The breakpoint at addr (the trap's address), or of this kind; NULL when none. */
const struct ut_bp *ut_bp_find(const struct ut_bps *b, uint64_t addr);
const struct ut_bp *ut_bp_of_kind(const struct ut_bps *b, enum ut_bp_kind kind);

#endif
