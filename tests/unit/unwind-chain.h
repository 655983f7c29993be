/* SPDX-License-Identifier: MIT */
/*
 * Call chains a -> b -> c for test-unwind.c, one per way of compiling them:
 * c saves its registers and the stack above them, as a recorder would, plus
 * the return addresses and glibc's backtrace() taken at the same point, for
 * the test to unwind the copy afterwards and compare.
 */
#ifndef UTRACE_TEST_UNWIND_CHAIN_H
#define UTRACE_TEST_UNWIND_CHAIN_H

#include <stddef.h>
#include <stdint.h>

#include "unwind.h"

#define CHAIN_STACK_MAX (256 * 1024) /* the whole main stack, unless the environment is huge */
#define CHAIN_BT_MAX 128

struct chain_snap {
	struct ut_unwind_regs regs;
	/* __builtin_return_address(0) of c, b, a and a's caller: into b, a, a's caller, the test */
	void *ret[4];
	void *bt[CHAIN_BT_MAX]; /* backtrace() in c: bt[0] is in c, bt[k] should be pcs[k] */
	int nbt;
	size_t len; /* bytes of stack copied from regs.rsp, up to the stack's end */
	uint64_t stack[CHAIN_STACK_MAX / sizeof(uint64_t)];
};

extern struct chain_snap chain_snap;
/* glibc's backtrace() (libgcc's unwinder: .eh_frame only) */
extern int (*chain_backtrace)(void **bt, int max);
/* Copies the stack above chain_snap.regs.rsp, as far as CHAIN_STACK_MAX. */
void chain_snap_stack(void);

/*
 * The registers as they are at the instruction after the lea: rip is its
 * address, and rsp and the callee-saved registers hold what the CFI of that
 * address describes, since nothing in between moves the stack.
 */
#define CHAIN_SAVE_REGS(r)                                                              \
	__asm__ volatile("lea 0(%%rip), %%rax\n\t"                                      \
			 "mov %%rax, %c[rip](%[p])\n\t"                                 \
			 "mov %%rsp, %c[rsp](%[p])\n\t"                                 \
			 "mov %%rbp, %c[rbp](%[p])\n\t"                                 \
			 "mov %%rbx, %c[rbx](%[p])\n\t"                                 \
			 "mov %%r12, %c[r12](%[p])\n\t"                                 \
			 "mov %%r13, %c[r13](%[p])\n\t"                                 \
			 "mov %%r14, %c[r14](%[p])\n\t"                                 \
			 "mov %%r15, %c[r15](%[p])\n\t"                                 \
			 :                                                              \
			 : [p] "r"(r), [rip] "i"(offsetof(struct ut_unwind_regs, rip)), \
			   [rsp] "i"(offsetof(struct ut_unwind_regs, rsp)),             \
			   [rbp] "i"(offsetof(struct ut_unwind_regs, rbp)),             \
			   [rbx] "i"(offsetof(struct ut_unwind_regs, rbx)),             \
			   [r12] "i"(offsetof(struct ut_unwind_regs, r12)),             \
			   [r13] "i"(offsetof(struct ut_unwind_regs, r13)),             \
			   [r14] "i"(offsetof(struct ut_unwind_regs, r14)),             \
			   [r15] "i"(offsetof(struct ut_unwind_regs, r15))              \
			 : "rax", "memory")

/*
 * The chain prefix##_a -> prefix##_b -> prefix##_c.  Each call is followed by
 * arithmetic on its result, so none is a tail call and every frame stays;
 * noclone keeps the symbol names the test looks for.
 */
#define UNWIND_CHAIN(prefix)                                                   \
	int prefix##_a(int x);                                                 \
	int prefix##_b(int x);                                                 \
	int prefix##_c(int x);                                                 \
	__attribute__((noinline, noclone)) int prefix##_c(int x)               \
	{                                                                      \
		CHAIN_SAVE_REGS(&chain_snap.regs);                             \
		chain_snap.ret[0] = __builtin_return_address(0);               \
		chain_snap_stack();                                            \
		chain_snap.nbt = chain_backtrace(chain_snap.bt, CHAIN_BT_MAX); \
		return x + 1;                                                  \
	}                                                                      \
	__attribute__((noinline, noclone)) int prefix##_b(int x)               \
	{                                                                      \
		chain_snap.ret[1] = __builtin_return_address(0);               \
		return prefix##_c(x + 1) * 3;                                  \
	}                                                                      \
	__attribute__((noinline, noclone)) int prefix##_a(int x)               \
	{                                                                      \
		chain_snap.ret[2] = __builtin_return_address(0);               \
		return prefix##_b(x + 1) * 5;                                  \
	}

/* The chains of the other files: unwind-chain-nofp.c, unwind-chain-fponly.c. */
int nofp_a(int x);
int nofp_c(int x);
int fponly_a(int x);
int fponly_c(int x);

#endif
