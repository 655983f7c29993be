/* SPDX-License-Identifier: MIT */
/*
 * The register frame the entry trampoline builds: the layout of the kernel's
 * struct user_regs_struct, so one frame type serves ptrace stops and probes.
 * Plain #defines, usable from assembly; C includers get the offsets checked
 * against <sys/user.h> (a header without includes, fine in freestanding code).
 *
 *   +0   r15      +40  rbx      +80  rax      +120 orig_rax  +160 ss
 *   +8   r14      +48  r11      +88  rcx      +128 rip       +168 fs_base
 *   +16  r13      +56  r10      +96  rdx      +136 cs        +176 gs_base
 *   +24  r12      +64  r9       +104 rsi      +144 eflags    +184 ds .. +208 gs
 *   +32  rbp      +72  r8       +112 rdi      +152 rsp       +216 end
 */
#ifndef UTRACE_X86_64_REGS_H
#define UTRACE_X86_64_REGS_H

#define REGS_R15 0
#define REGS_R14 8
#define REGS_R13 16
#define REGS_R12 24
#define REGS_RBP 32
#define REGS_RBX 40
#define REGS_R11 48
#define REGS_R10 56
#define REGS_R9 64
#define REGS_R8 72
#define REGS_RAX 80
#define REGS_RCX 88
#define REGS_RDX 96
#define REGS_RSI 104
#define REGS_RDI 112
#define REGS_ORIG_RAX 120
#define REGS_RIP 128
#define REGS_CS 136
#define REGS_EFLAGS 144
#define REGS_RSP 152
#define REGS_SS 160
#define REGS_FS_BASE 168
#define REGS_GS_BASE 176
#define REGS_DS 184
#define REGS_ES 192
#define REGS_FS 200
#define REGS_GS 208
#define REGS_SIZE 216

/* The frame rounded up so that the stack stays 16-byte aligned below it. */
#define REGS_FRAME_SIZE 224

/* The arithmetic flags (CF PF AF ZF SF OF) every trampoline preserves. */
#define REGS_EFLAGS_ARITH 0x8d5

#ifndef __ASSEMBLER__
#include <stddef.h>
#include <sys/user.h>

#define REGS_CHECK(field, off) \
	_Static_assert(offsetof(struct user_regs_struct, field) == (off), "regs.h: " #field)
REGS_CHECK(r15, REGS_R15);
REGS_CHECK(r14, REGS_R14);
REGS_CHECK(r13, REGS_R13);
REGS_CHECK(r12, REGS_R12);
REGS_CHECK(rbp, REGS_RBP);
REGS_CHECK(rbx, REGS_RBX);
REGS_CHECK(r11, REGS_R11);
REGS_CHECK(r10, REGS_R10);
REGS_CHECK(r9, REGS_R9);
REGS_CHECK(r8, REGS_R8);
REGS_CHECK(rax, REGS_RAX);
REGS_CHECK(rcx, REGS_RCX);
REGS_CHECK(rdx, REGS_RDX);
REGS_CHECK(rsi, REGS_RSI);
REGS_CHECK(rdi, REGS_RDI);
REGS_CHECK(orig_rax, REGS_ORIG_RAX);
REGS_CHECK(rip, REGS_RIP);
REGS_CHECK(cs, REGS_CS);
REGS_CHECK(eflags, REGS_EFLAGS);
REGS_CHECK(rsp, REGS_RSP);
REGS_CHECK(ss, REGS_SS);
REGS_CHECK(fs_base, REGS_FS_BASE);
REGS_CHECK(gs_base, REGS_GS_BASE);
REGS_CHECK(ds, REGS_DS);
REGS_CHECK(es, REGS_ES);
REGS_CHECK(fs, REGS_FS);
REGS_CHECK(gs, REGS_GS);
_Static_assert(sizeof(struct user_regs_struct) == REGS_SIZE, "regs.h: frame size");
_Static_assert(REGS_FRAME_SIZE >= REGS_SIZE && REGS_FRAME_SIZE % 16 == 0, "regs.h: frame pad");
#undef REGS_CHECK
#endif

#endif
