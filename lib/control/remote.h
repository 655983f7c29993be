/* SPDX-License-Identifier: MIT */
/*
 * Tracee memory access and remote system calls (the compel protocol).
 *
 * All functions take a thread in a ptrace-stop.  Remote syscalls run one
 * `syscall` instruction in the tracee with chosen registers: signals blocked
 * (PTRACE_SETSIGMASK), registers saved, orig_rax = -1, result read, and then
 * registers, signal mask and any swapped bytes restored, also on failure.
 * Restoring the saved registers leaves a thread that was interrupted in a
 * restartable syscall (-ERESTART*) to the kernel's restart logic on resume.
 */
#ifndef UTRACE_REMOTE_H
#define UTRACE_REMOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>
#include <signal.h>

/* process_vm_readv, falling back to /proc/PID/mem.  Returns 0 or -errno (short read: -EFAULT). */
int utrace_mem_read(pid_t pid, uint64_t addr, void *buf, size_t len);
/*
 * Write through /proc/PID/mem (works on read-only text), falling back to
 * PTRACE_POKEDATA on kernels that refuse forced writes.  0 or -errno.
 */
int utrace_mem_write(pid_t pid, uint64_t addr, const void *buf, size_t len);

struct ut_remote {
	pid_t tid;
	uint64_t gadget; /* address of `syscall; int3` in the tracee */
	bool swapped; /* gadget was written over the bytes at saved rip */
	uint8_t saved_bytes[8];
	struct user_regs_struct saved_regs;
	uint64_t saved_mask; /* kernel sigset */
	siginfo_t saved_siginfo; /* of the stop _begin found; restored by _end (si_signo 0: none) */
	int pending_sig; /* a signal stopped a remote syscall: resume the thread with it after _end */
	bool active;
};

/*
 * Prepare to run syscalls in thread `tid` (which must be ptrace-stopped, and
 * the only thread of its process not stopped by the caller must be none).
 * gadget: address of an existing `syscall; int3` sequence, or 0 to write one
 * over the bytes at the thread's rip for the duration (restored by _end).
 */
int utrace_remote_begin(struct ut_remote *r, pid_t tid, uint64_t gadget);
/* Run syscall nr with up to 6 args; *ret gets the raw result (-errno on failure in the tracee). */
int utrace_remote_syscall(struct ut_remote *r, long nr, const uint64_t args[6], int64_t *ret);
/* Restore registers, mask and bytes.  Safe to call after any failure of the above. */
int utrace_remote_end(struct ut_remote *r);

/*
 * Seccomp state of a process from /proc/PID/status: 0 none, 1 strict, 2 filter,
 * -errno when unreadable.
 */
int utrace_seccomp_mode(pid_t pid);

#endif
