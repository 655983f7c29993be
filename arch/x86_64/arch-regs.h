/* SPDX-License-Identifier: MIT */
/* x86_64 register accessors for ptrace'd threads (struct user_regs_struct). */
#ifndef UTRACE_ARCH_REGS_H
#define UTRACE_ARCH_REGS_H

#include <stdint.h>
#include <sys/user.h>

static inline uint64_t arch_regs_ip(const struct user_regs_struct *r)
{
	return r->rip;
}

static inline void arch_regs_set_ip(struct user_regs_struct *r, uint64_t ip)
{
	r->rip = ip;
}

static inline uint64_t arch_regs_sp(const struct user_regs_struct *r)
{
	return r->rsp;
}

static inline uint64_t arch_regs_fs_base(const struct user_regs_struct *r)
{
	return r->fs_base;
}

/* The address of the breakpoint that trapped, given the ip reported after it. */
static inline uint64_t arch_breakpoint_addr(uint64_t ip)
{
	return ip - 1;
}

#endif
