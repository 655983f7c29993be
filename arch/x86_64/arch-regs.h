/* SPDX-License-Identifier: MIT */
/* x86_64 register accessors for ptrace'd threads (struct user_regs_struct). */
#ifndef UTRACE_ARCH_REGS_H
#define UTRACE_ARCH_REGS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/user.h>

/* Offset of the instruction pointer for PTRACE_PEEKUSER / PTRACE_POKEUSER. */
#define ARCH_USER_IP_OFFSET offsetof(struct user, regs.rip)

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

/*
 * Return from a function at its first instruction: ip = the return address
 * (read from sp by the caller), sp past it.
 */
static inline void arch_regs_emulate_return(struct user_regs_struct *r, uint64_t ret)
{
	r->rip = ret;
	r->rsp += sizeof(uint64_t);
}

/* The address of the breakpoint that trapped, given the ip reported after it. */
static inline uint64_t arch_breakpoint_addr(uint64_t ip)
{
	return ip - 1;
}

/* What a syscall that a stop interrupted returns when the kernel will restart it. */
#define ARCH_ERESTARTSYS 512
#define ARCH_ERESTARTNOINTR 513
#define ARCH_ERESTARTNOHAND 514
#define ARCH_ERESTART_RESTARTBLOCK 516
#define ARCH_SYSCALL_INSN_SIZE 2

/*
 * Where a stopped thread goes on: a syscall its stop interrupted is restarted
 * (no handler runs for a ptrace stop) by moving ip back over the syscall.
 */
static inline uint64_t arch_regs_resume_ip(const struct user_regs_struct *r)
{
	int64_t ret = (int64_t)r->rax;

	if ((int64_t)r->orig_rax < 0)
		return r->rip;
	if (ret == -ARCH_ERESTARTSYS || ret == -ARCH_ERESTARTNOINTR ||
	    ret == -ARCH_ERESTARTNOHAND || ret == -ARCH_ERESTART_RESTARTBLOCK)
		return r->rip - ARCH_SYSCALL_INSN_SIZE;
	return r->rip;
}

/* Time stamp counter, the clock the recorder stamps events with. */
static inline uint64_t arch_rdtsc(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

/* `syscall; int3`: what a remote syscall runs when no gadget exists yet. */
#define ARCH_SYSCALL_GADGET_SIZE 3
static const uint8_t arch_syscall_gadget[ARCH_SYSCALL_GADGET_SIZE] = {
	0x0f, 0x05, /* syscall */
	0xcc, /* int3 */
};

/* Registers for one syscall at `gadget`; orig_rax = -1 so no restart logic applies. */
static inline void arch_syscall_prepare(struct user_regs_struct *r, long nr, const uint64_t args[6],
					uint64_t gadget)
{
	r->rax = (uint64_t)nr;
	r->orig_rax = (uint64_t)-1;
	r->rdi = args[0];
	r->rsi = args[1];
	r->rdx = args[2];
	r->r10 = args[3];
	r->r8 = args[4];
	r->r9 = args[5];
	r->rip = gadget;
}

static inline int64_t arch_syscall_result(const struct user_regs_struct *r)
{
	return (int64_t)r->rax;
}

/* Where the ip stands after the gadget's syscall and int3 have run. */
static inline uint64_t arch_syscall_gadget_end(uint64_t gadget)
{
	return gadget + ARCH_SYSCALL_GADGET_SIZE;
}

#endif
