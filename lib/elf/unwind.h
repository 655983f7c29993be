/* SPDX-License-Identifier: MIT */
/*
 * Stack unwinding over a copy, with libunwind, the way perf --call-graph dwarf
 * does it: a recorder saved a few registers and the top of the stack, and the
 * tracer unwinds them later, whether the process still runs or has exited.
 * Only the copy and the modules' files are read, never the process's memory.
 */
#ifndef UTRACE_UNWIND_H
#define UTRACE_UNWIND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/*
 * The registers unwinding needs: the instruction pointer, the stack pointer,
 * and those a callee must preserve (one of them may be a caller's CFA base).
 * Saved at a function's entry, rip is its first instruction and rsp points at
 * its return address; any other point with matching registers works too.
 */
struct ut_unwind_regs {
	uint64_t rip, rsp, rbp, rbx, r12, r13, r14, r15;
};

struct ut_unwinder;

/*
 * An unwinder for process pid.  Its mappings are read from /proc/PID/maps now,
 * and again whenever an address falls in no mapping at all (a library loaded
 * since); once the process is gone (exited, a zombie, or its pid taken by
 * another process) the last mappings read stay in use.  A module's ELF file
 * and symbols are loaded on first use and kept for the unwinder's life.
 * After an exec the process is another program: make a new unwinder.
 * 0, or (with ut_error()) -ESRCH when pid is no process or a zombie, the error
 * of utrace_maps_read() (-EACCES: another user's), -ENOMEM.
 * Not thread-safe: one caller at a time per unwinder.
 */
int ut_unwinder_new(struct ut_unwinder **out, pid_t pid);
void ut_unwinder_free(struct ut_unwinder *u);

/*
 * Unwind from regs over the `len` bytes of stack copied from regs->rsp into
 * `stack`.  pcs[0] = regs->rip, then each caller's return address, innermost
 * first, at most max of them.  Returns how many (>= 1; 0 only when max < 1);
 * it never fails: it stops where libunwind stops, at a return address in no
 * module (not stored), and where a read would leave the copy (any address
 * that is neither in the copy nor in a module's file mapping).  Words outside
 * the copy are read from the module's file at the mapping's offset.
 * Frames are found through .eh_frame; a frame without it is taken for a
 * frame-pointer frame ([rbp] the caller's rbp, [rbp + 8] the return address),
 * except the innermost at a function's first instruction (return address at
 * [rsp]).  A return address utrace replaced with its return trampoline is in
 * no module: put the real one back in the copy first.
 */
int ut_unwind(struct ut_unwinder *u, const struct ut_unwind_regs *regs, const void *stack,
	      size_t len, uint64_t *pcs, int max);

/*
 * Where pc is: the function containing it (for a return address, pcs[k] with
 * k > 0, pass is_return: pc - 1 is looked up, so that a call ending a function
 * is attributed to it), its module's basename, and pc's offset from the
 * function's start.  Returns false when no symbol covers it: then *func is
 * NULL, and when pc is in a module *module is set and *offset is pc's
 * link-time address in it (pc minus the load bias: for a shared object or a
 * PIE, its offset from where the module is loaded; when the file cannot be
 * read, pc's offset in the file); when pc is in no module *module is NULL
 * and *offset 0.  The strings live as long as the unwinder.
 */
bool ut_unwinder_symbolize(struct ut_unwinder *u, uint64_t pc, bool is_return, const char **func,
			   const char **module, uint64_t *offset);

#endif
