/* SPDX-License-Identifier: MIT */
/*
 * The blob's assembly: the image header, the entry and return trampolines,
 * the exits the tracer needs to know about, and the parameters the tracer
 * fills in.  blob.lds puts all of it, with the recorder, in one section that
 * starts with the header; every symbol is hidden and every reference
 * rip-relative, so the image runs wherever it is copied.
 *
 * Both trampolines preserve every general register and the flags: gcc's
 * -fipa-ra lets callers keep live values in call-clobbered registers across
 * calls to functions known not to touch them, and hand-written code may
 * jump to a traced symbol with flags it tests there.
 *
 * The arithmetic flags (CF PF AF ZF SF OF) go through %ax: lahf puts SF ZF
 * AF PF CF in %ah, seto puts OF in %al; on the way back, adding 0x7f to %al
 * sets OF exactly when it was set, and sahf sets the rest.  pushfq/popfq
 * would do the same at several times the cost (popfq is microcoded), twice
 * per traced call.  No other flag (DF, which the ABI keeps clear at calls,
 * TF, AC) is changed here.  lahf in 64-bit mode needs CPUID's LAHF-SAHF
 * bit: utrace refuses to start without it (arch_cpu_unsupported).
 */
#include "regs.h"
#include "blob.h"

	.section .blob.hdr, "ax", @progbits

/* struct ut_blob_hdr, offsets from the start of the image */
	.globl	ut_blob_start
	.hidden	ut_blob_start
ut_blob_start:
	.quad	BLOB_MAGIC
	.long	ut_blob_end - ut_blob_start		/* size */
	.long	ut_entry_trampoline - ut_blob_start	/* entry_tramp */
	.long	ut_return_trampoline - ut_blob_start	/* return_tramp */
	.long	ut_blob_params - ut_blob_start		/* params */
	.long	ut_entry_exit - ut_blob_start		/* entry_exit */
	.long	ut_return_exit - ut_blob_start		/* return_exit */
	.long	ut_lost_return - ut_blob_start		/* lost_return */
	.long	ut_syscall_gadget - ut_blob_start	/* syscall_gadget */
	.long	ut_blob_text_end - ut_blob_start	/* text_end */
	.long	0					/* pad */
.Lhdr_end:
	.if	.Lhdr_end - ut_blob_start - BLOB_HDR_SIZE
	.error	"struct ut_blob_hdr layout"
	.endif

/*
 * Entry trampoline: reached by the `call` that starts a probe's stub, at the
 * traced function's entry.  No assumption on the alignment of %rsp.
 *
 *   rsp0 + 8  | caller's return address |  <- function entry sp = regs->sp
 *   rsp0      | stub + 5 (site + 5)     |  <- %rsp on entry: ret goes back here
 *   rsp0 - 8  | caller's rbp            |  <- %rbp
 *   rsp0 - 16 | rax                     |
 *   rsp0 - 24 | flags: %ax of lahf/seto |
 *             | 0..15 bytes: alignment  |
 *             | struct user_regs_struct |  REGS_FRAME_SIZE
 *             |   r15 .. gs             |  <- %rsp, 16-byte aligned: the C call
 *
 * Flags are saved before the first instruction that changes them (and).
 * The frame holds the general registers, the arithmetic flags in eflags
 * (with IF and the always-set bit 1), rsp, orig_rax = -1 and (from the
 * recorder) rip; the segment and base fields are not filled in.
 */
	.text
	.p2align 4
	.globl	ut_entry_trampoline
	.hidden	ut_entry_trampoline
ut_entry_trampoline:
	pushq	%rbp
	movq	%rsp, %rbp
	pushq	%rax
	lahf
	seto	%al
	pushq	%rax
	andq	$-16, %rsp
	subq	$REGS_FRAME_SIZE, %rsp
	movq	%r15, REGS_R15(%rsp)
	movq	%r14, REGS_R14(%rsp)
	movq	%r13, REGS_R13(%rsp)
	movq	%r12, REGS_R12(%rsp)
	movq	%rbx, REGS_RBX(%rsp)
	movq	%r11, REGS_R11(%rsp)
	movq	%r10, REGS_R10(%rsp)
	movq	%r9, REGS_R9(%rsp)
	movq	%r8, REGS_R8(%rsp)
	movq	%rcx, REGS_RCX(%rsp)
	movq	%rdx, REGS_RDX(%rsp)
	movq	%rsi, REGS_RSI(%rsp)
	movq	%rdi, REGS_RDI(%rsp)
	movq	-8(%rbp), %rax			/* rax */
	movq	%rax, REGS_RAX(%rsp)
	movq	(%rbp), %rax			/* caller's rbp */
	movq	%rax, REGS_RBP(%rsp)
	movzbl	-15(%rbp), %eax			/* SF ZF AF PF CF, where eflags has them */
	movzbl	-16(%rbp), %ecx			/* OF */
	shll	$11, %ecx
	orl	%ecx, %eax
	orl	$0x202, %eax			/* IF, bit 1 */
	movq	%rax, REGS_EFLAGS(%rsp)
	leaq	16(%rbp), %rax			/* function entry sp */
	movq	%rax, REGS_RSP(%rsp)
	movq	$-1, REGS_ORIG_RAX(%rsp)	/* not in a syscall */

	movq	%rsp, %rdi			/* regs; rip is the recorder's to fill */
	movq	8(%rbp), %rsi			/* stub or site + 5: identifies the probe */
	call	ut_recorder_entry

	movq	REGS_R15(%rsp), %r15
	movq	REGS_R14(%rsp), %r14
	movq	REGS_R13(%rsp), %r13
	movq	REGS_R12(%rsp), %r12
	movq	REGS_RBX(%rsp), %rbx
	movq	REGS_R11(%rsp), %r11
	movq	REGS_R10(%rsp), %r10
	movq	REGS_R9(%rsp), %r9
	movq	REGS_R8(%rsp), %r8
	movq	REGS_RCX(%rsp), %rcx
	movq	REGS_RDX(%rsp), %rdx
	movq	REGS_RSI(%rsp), %rsi
	movq	REGS_RDI(%rsp), %rdi
	movq	-16(%rbp), %rax			/* the flags, back: nothing below changes them */
	addb	$0x7f, %al
	sahf
	movq	REGS_RAX(%rsp), %rax
	movq	%rbp, %rsp
	popq	%rbp
	.globl	ut_entry_exit
	.hidden	ut_entry_exit
ut_entry_exit:
	ret

/*
 * Return trampoline: a hijacked return address; the traced function's `ret`
 * lands here with %rsp = S + 8, S being the vacated return slot.
 *
 *   S + 8     |  ...                    |  <- %rsp on entry
 *   S         | (stale) -> resume addr  |  written last, read by the final jmp
 *   S - 8     | caller's rbp            |  <- %rbp
 *   S - 16    | rax                     |
 *   S - 24    | flags: %ax of lahf/seto |
 *   S - 32    | rcx rdx rsi rdi         |
 *   .. S - 88 | r8 r9 r10 r11           |  call-clobbered registers
 *             | 0..15 bytes: alignment  |  <- %rsp, 16-byte aligned: the C call
 *
 * Callee-saved registers are left to the C code.  The exit is `jmp *-8(%rsp)`
 * with %rsp = S + 8, exactly as after a plain `ret`: no `ret` unbalances the
 * return-stack buffer, and signal delivery skips the red zone holding S.
 */
	.p2align 4
	.globl	ut_return_trampoline
	.hidden	ut_return_trampoline
ut_return_trampoline:
	leaq	-8(%rsp), %rsp			/* keep S: the exit address goes there */
	pushq	%rbp
	movq	%rsp, %rbp
	pushq	%rax
	lahf
	seto	%al
	pushq	%rax
	pushq	%rcx
	pushq	%rdx
	pushq	%rsi
	pushq	%rdi
	pushq	%r8
	pushq	%r9
	pushq	%r10
	pushq	%r11
	andq	$-16, %rsp

	leaq	8(%rbp), %rdi			/* S */
	movq	-8(%rbp), %rsi			/* rax; rdx is already the third argument */
	call	ut_recorder_exit
	movq	%rax, 8(%rbp)			/* original return address, or ut_lost_return */

	leaq	-80(%rbp), %rsp
	popq	%r11
	popq	%r10
	popq	%r9
	popq	%r8
	popq	%rdi
	popq	%rsi
	popq	%rdx
	popq	%rcx
	popq	%rax				/* the flags, back: nothing below changes them */
	addb	$0x7f, %al
	sahf
	popq	%rax
	popq	%rbp
	leaq	8(%rsp), %rsp			/* S + 8, as the function's ret left it */
	.globl	ut_return_exit
	.hidden	ut_return_exit
ut_return_exit:
	jmp	*-8(%rsp)

/*
 * A return with no shadow entry: where it should go is unknown.  The thread
 * traps here with every register as the function's `ret` left it, for the
 * tracer to report.
 */
	.globl	ut_lost_return
	.hidden	ut_lost_return
ut_lost_return:
	int3

/* For the tracer's remote syscalls: the blob is executable where it is mapped. */
	.globl	ut_syscall_gadget
	.hidden	ut_syscall_gadget
ut_syscall_gadget:
	syscall
	int3

/* struct ut_blob_params: written by the tracer into each copy of the image. */
	.section .blob.params, "a", @progbits
	.p2align 3
	.globl	ut_blob_params
	.hidden	ut_blob_params
ut_blob_params:
	.skip	BLOB_PARAMS_SIZE

	.section .note.GNU-stack, "", @progbits
