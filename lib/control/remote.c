// SPDX-License-Identifier: MIT
/*
 * Tracee memory access and remote system calls, after CRIU compel's infect.c:
 * save the thread's state, swap in code, run it, check why the thread
 * stopped, and restore everything, also when something failed.
 *
 * One remote syscall, with the thread ptrace-stopped at `ip`:
 *
 *   _begin    GETREGS/GETSIGMASK/GETSIGINFO saved; gadget checked, or written
 *             over the bytes at ip; signals blocked (all but SIGTRAP)
 *   _syscall  SETREGS {rax = nr, args, orig_rax = -1, rip = gadget}
 *             PTRACE_CONT 0 ──▶ gadget:   syscall
 *                                         int3      ──▶ SIGTRAP stop, ip = gadget + 3
 *             GETREGS: rax = result
 *   _end      bytes, registers, mask and siginfo written back
 *
 * Between syscalls and after _end the thread sits in the SIGTRAP
 * signal-delivery-stop of the int3; the caller's resume (with signal 0)
 * discards that SIGTRAP.  Restoring the saved registers puts back orig_rax and
 * the -ERESTART* value of a syscall the stop interrupted, so the kernel
 * restarts it on that resume exactly as it would have after the first stop.
 *
 * Other stops while the gadget runs: a PTRACE_EVENT_STOP of an earlier
 * PTRACE_INTERRUPT is continued; an exit (left unreaped for the caller) or a
 * PTRACE_EVENT_EXIT stop gives -ESRCH; a signal-delivery-stop gives -EINTR
 * with the signal kept in r->pending_sig and its siginfo left in the stop, so
 * the caller, after _end, resumes the thread with that signal instead of 0;
 * any other event or a group-stop gives -EINTR with the thread left in it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "arch.h"
#include "procfs.h"
#include "log.h"
#include "remote.h"

#define PROC_PATH_MAX 64
#define WORD_SIZE sizeof(long)

_Static_assert(ARCH_SYSCALL_GADGET_SIZE <= sizeof(((struct ut_remote *)0)->saved_bytes),
	       "saved_bytes must hold the bytes the gadget replaces");

/* The bit of `sig` in a kernel sigset (signal numbers start at 1). */
static uint64_t sig_bit(int sig)
{
	return 1ULL << (sig - 1);
}

/*
 * The mask while remote syscalls run.  SIGTRAP stays unblocked, as in compel:
 * the int3 raises a forced SIGTRAP, and forcing a blocked signal makes the
 * kernel reset the tracee's handler to SIG_DFL (force_sig_info_to_task).
 */
static uint64_t remote_blocked_mask(void)
{
	return ~sig_bit(SIGTRAP);
}

static int proc_mem_open(pid_t pid, int flags)
{
	char path[PROC_PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/mem", (int)pid);
	fd = open(path, flags | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Whether [addr, addr + len) can be named by pread/pwrite offsets (off_t is signed). */
static bool is_offset_range(uint64_t addr, size_t len)
{
	return addr <= (uint64_t)INT64_MAX && len <= (uint64_t)INT64_MAX - addr;
}

/* /proc/PID/mem reports an unmapped or inaccessible page as EIO. */
static int mem_errno(int err)
{
	return err == EIO ? -EFAULT : -err;
}

static int mem_read_proc(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	size_t done = 0;
	int fd, err = 0;

	if (!is_offset_range(addr, len))
		return -EFAULT;
	fd = proc_mem_open(pid, O_RDONLY);
	if (fd < 0)
		return fd;
	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(addr + done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? mem_errno(errno) : -EFAULT;
			break;
		}
		done += (size_t)n;
	}
	close(fd);
	return err;
}

int utrace_mem_read(pid_t pid, uint64_t addr, void *buf, size_t len)
{
	struct iovec local = { .iov_base = buf, .iov_len = len };
	struct iovec remote = { .iov_base = (void *)(uintptr_t)addr, .iov_len = len };
	ssize_t n;
	int err;

	if (len == 0)
		return 0;
	n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
	if (n == (ssize_t)len)
		return 0;
	if (n >= 0)
		err = -EFAULT;
	else if (errno == EPERM || errno == ENOSYS)
		err = mem_read_proc(pid, addr, buf, len);
	else
		err = -errno;
	if (err)
		ut_error("cannot read %zu bytes at %#" PRIx64 " in process %d: %s", len, addr,
			 (int)pid, strerror(-err));
	return err;
}

/* pwrite the whole range; *done says how much landed before a failure. */
static int mem_write_proc(int fd, uint64_t addr, const uint8_t *buf, size_t len, size_t *done)
{
	*done = 0;
	while (*done < len) {
		ssize_t n = pwrite(fd, buf + *done, len - *done, (off_t)(addr + *done));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		*done += (size_t)n;
	}
	return 0;
}

/* Write n bytes at offset `off` of the aligned word at word_addr, keeping the rest of it. */
static int poke_word(pid_t pid, uint64_t word_addr, size_t off, const uint8_t *src, size_t n)
{
	long word = 0;

	if (n != WORD_SIZE) {
		errno = 0;
		word = ptrace(PTRACE_PEEKDATA, pid, (void *)(uintptr_t)word_addr, NULL);
		if (errno)
			return mem_errno(errno);
	}
	memcpy((uint8_t *)&word + off, src, n);
	if (ptrace(PTRACE_POKEDATA, pid, (void *)(uintptr_t)word_addr, (void *)word))
		return mem_errno(errno);
	return 0;
}

/*
 * PTRACE_POKEDATA word by word, for kernels that refuse forced writes through
 * /proc/PID/mem (CONFIG_PROC_MEM_NO_FORCE).  Words are aligned so that none
 * straddles a page; the thread must be a stopped tracee of ours.
 */
static int mem_write_poke(pid_t pid, uint64_t addr, const uint8_t *src, size_t len)
{
	while (len) {
		uint64_t word_addr = addr & ~(uint64_t)(WORD_SIZE - 1);
		size_t off = (size_t)(addr - word_addr);
		size_t n = WORD_SIZE - off < len ? WORD_SIZE - off : len;
		int err = poke_word(pid, word_addr, off, src, n);

		if (err)
			return err;
		addr += n;
		src += n;
		len -= n;
	}
	return 0;
}

/* Whether a /proc/PID/mem write failure may be the kernel refusing a forced write. */
static bool can_poke_instead(int err)
{
	return err == -EIO || err == -EPERM || err == -EACCES;
}

int utrace_mem_write(pid_t pid, uint64_t addr, const void *buf, size_t len)
{
	size_t done = 0;
	int fd, err, poke_err;

	if (len == 0)
		return 0;
	if (!is_offset_range(addr, len)) {
		err = -EFAULT;
		goto fail;
	}
	fd = proc_mem_open(pid, O_WRONLY);
	if (fd < 0) {
		err = fd;
	} else {
		err = mem_write_proc(fd, addr, buf, len, &done);
		close(fd);
	}
	if (!err || !can_poke_instead(err))
		goto out;
	poke_err = mem_write_poke(pid, addr + done, (const uint8_t *)buf + done, len - done);
	/* ESRCH: not our stopped tracee, so the first failure is the one to report. */
	if (poke_err != -ESRCH)
		err = poke_err;
out:
	if (err == -EIO)
		err = -EFAULT;
	if (!err)
		return 0;
fail:
	ut_error("cannot write %zu bytes at %#" PRIx64 " in process %d: %s", len, addr, (int)pid,
		 strerror(-err));
	return err;
}

/* The gadget the caller named must really be `syscall; int3`: anything else would fault. */
static int check_gadget(struct ut_remote *r, uint64_t gadget)
{
	uint8_t code[ARCH_SYSCALL_GADGET_SIZE];
	int err = utrace_mem_read(r->tid, gadget, code, sizeof(code));

	if (err)
		return err;
	if (memcmp(code, arch_syscall_gadget, sizeof(code))) {
		ut_error("no syscall gadget at %#" PRIx64 " in thread %d", gadget, (int)r->tid);
		return -EINVAL;
	}
	r->gadget = gadget;
	return 0;
}

/* Write the gadget over the bytes at the thread's ip, keeping them for _end. */
static int swap_in_gadget(struct ut_remote *r)
{
	uint64_t ip = arch_regs_ip(&r->saved_regs);
	int err;

	err = utrace_mem_read(r->tid, ip, r->saved_bytes, ARCH_SYSCALL_GADGET_SIZE);
	if (err)
		return err;
	err = utrace_mem_write(r->tid, ip, arch_syscall_gadget, ARCH_SYSCALL_GADGET_SIZE);
	if (err)
		return err;
	r->swapped = true;
	r->gadget = ip;
	return 0;
}

static int set_mask(pid_t tid, uint64_t mask)
{
	int err;

	if (!ptrace(PTRACE_SETSIGMASK, tid, sizeof(mask), &mask))
		return 0;
	err = -errno;
	ut_error("cannot set the signal mask of thread %d: %s", (int)tid, strerror(-err));
	return err;
}

static int save_state(struct ut_remote *r)
{
	int err;

	if (ptrace(PTRACE_GETREGS, r->tid, NULL, &r->saved_regs)) {
		err = -errno;
		ut_error("cannot read the registers of thread %d (not ptrace-stopped?): %s",
			 (int)r->tid, strerror(-err));
		return err;
	}
	if (ptrace(PTRACE_GETSIGMASK, r->tid, sizeof(r->saved_mask), &r->saved_mask)) {
		err = -errno;
		ut_error("cannot read the signal mask of thread %d: %s", (int)r->tid,
			 strerror(-err));
		return err;
	}
	/* EINVAL: a stop without siginfo (group-stop of a PTRACE_ATTACHed thread). */
	if (ptrace(PTRACE_GETSIGINFO, r->tid, NULL, &r->saved_siginfo) && errno != EINVAL) {
		err = -errno;
		ut_error("cannot read the stop siginfo of thread %d: %s", (int)r->tid,
			 strerror(-err));
		return err;
	}
	return 0;
}

int utrace_remote_begin(struct ut_remote *r, pid_t tid, uint64_t gadget)
{
	int err;

	memset(r, 0, sizeof(*r));
	r->tid = tid;
	err = save_state(r);
	if (err)
		return err;
	r->active = true;
	err = gadget ? check_gadget(r, gadget) : swap_in_gadget(r);
	if (!err)
		err = set_mask(tid, remote_blocked_mask());
	if (err)
		utrace_remote_end(r);
	return err;
}

/*
 * Wait for the next stop of tid.  An exit is only peeked at (WNOWAIT) so that
 * the caller still reaps it.  Returns 0 with *status, or -ESRCH when gone.
 */
static int wait_stop(pid_t tid, int *status)
{
	siginfo_t info;

	memset(&info, 0, sizeof(info));
	while (waitid(P_PID, (id_t)tid, &info, WEXITED | WSTOPPED | WNOWAIT | __WALL))
		if (errno != EINTR)
			return -errno;
	if (info.si_code != CLD_TRAPPED && info.si_code != CLD_STOPPED)
		return -ESRCH;
	while (waitpid(tid, status, __WALL) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFSTOPPED(*status) ? 0 : -ESRCH;
}

/* The PTRACE_EVENT_STOP of a PTRACE_INTERRUPT issued earlier (a group-stop has another signal). */
static bool is_interrupt_stop(int status)
{
	return status >> 16 == PTRACE_EVENT_STOP && WSTOPSIG(status) == SIGTRAP;
}

static bool is_ptrace_event(int status)
{
	return status >> 16 != 0;
}

/*
 * A stop that is not the gadget's int3: the thread is left in it.  A signal
 * is kept in pending_sig (and its siginfo in the stop) for the caller's resume.
 */
static int unexpected_stop(struct ut_remote *r, int status)
{
	if (status >> 16 == PTRACE_EVENT_EXIT) {
		ut_error("thread %d exited during a remote syscall", (int)r->tid);
		return -ESRCH;
	}
	if (is_ptrace_event(status)) {
		ut_error("thread %d reported ptrace event %d (signal %d) during a remote syscall",
			 (int)r->tid, status >> 16, WSTOPSIG(status));
		return -EINTR;
	}
	r->pending_sig = WSTOPSIG(status);
	ut_error("thread %d stopped by signal %d (%s) during a remote syscall", (int)r->tid,
		 r->pending_sig, strsignal(r->pending_sig));
	return -EINTR;
}

/* Resume the thread at the gadget until its int3 stops it; *regs are then its registers. */
static int run_gadget(struct ut_remote *r, struct user_regs_struct *regs)
{
	int status, err;

	for (;;) {
		if (ptrace(PTRACE_CONT, r->tid, NULL, NULL)) {
			err = -errno;
			ut_error("cannot resume thread %d: %s", (int)r->tid, strerror(-err));
			return err;
		}
		err = wait_stop(r->tid, &status);
		if (err == -ESRCH)
			ut_error("thread %d exited during a remote syscall", (int)r->tid);
		else if (err)
			ut_error("cannot wait for thread %d: %s", (int)r->tid, strerror(-err));
		if (err)
			return err;
		if (is_interrupt_stop(status))
			continue;
		if (WSTOPSIG(status) != SIGTRAP || is_ptrace_event(status))
			return unexpected_stop(r, status);
		if (ptrace(PTRACE_GETREGS, r->tid, NULL, regs)) {
			err = -errno;
			ut_error("cannot read the registers of thread %d: %s", (int)r->tid,
				 strerror(-err));
			return err;
		}
		if (arch_regs_ip(regs) != arch_syscall_gadget_end(r->gadget))
			return unexpected_stop(r, status);
		return 0;
	}
}

int utrace_remote_syscall(struct ut_remote *r, long nr, const uint64_t args[6], int64_t *ret)
{
	struct user_regs_struct regs = r->saved_regs;
	int err;

	if (!r->active) {
		ut_error("remote syscall %ld outside a remote session", nr);
		return -EINVAL;
	}
	/* Running on would resume the thread without the signal it stopped with. */
	if (r->pending_sig) {
		ut_error("thread %d has signal %d to deliver before more remote syscalls",
			 (int)r->tid, r->pending_sig);
		return -EINTR;
	}
	arch_syscall_prepare(&regs, nr, args, r->gadget);
	if (ptrace(PTRACE_SETREGS, r->tid, NULL, &regs)) {
		err = -errno;
		ut_error("cannot set the registers of thread %d: %s", (int)r->tid, strerror(-err));
		return err;
	}
	err = run_gadget(r, &regs);
	if (err)
		return err;
	*ret = arch_syscall_result(&regs);
	return 0;
}

static int restore_bytes(struct ut_remote *r)
{
	int err;

	if (!r->swapped)
		return 0;
	err = utrace_mem_write(r->tid, arch_regs_ip(&r->saved_regs), r->saved_bytes,
			       ARCH_SYSCALL_GADGET_SIZE);
	if (!err)
		r->swapped = false;
	return err;
}

static int restore_regs(struct ut_remote *r)
{
	int err;

	if (!ptrace(PTRACE_SETREGS, r->tid, NULL, &r->saved_regs))
		return 0;
	err = -errno;
	ut_error("cannot restore the registers of thread %d: %s", (int)r->tid, strerror(-err));
	return err;
}

/*
 * The stop's siginfo goes back too, so that a caller resuming a
 * signal-delivery-stop with its signal delivers it with its own siginfo.  Not
 * after a signal stopped a remote syscall: that stop's siginfo is the one to
 * deliver then.
 */
static int restore_siginfo(struct ut_remote *r)
{
	int err;

	if (!r->saved_siginfo.si_signo || r->pending_sig)
		return 0;
	if (!ptrace(PTRACE_SETSIGINFO, r->tid, NULL, &r->saved_siginfo))
		return 0;
	err = -errno;
	ut_error("cannot restore the siginfo of thread %d: %s", (int)r->tid, strerror(-err));
	return err;
}

static int first_error(int err, int next)
{
	return err ? err : next;
}

int utrace_remote_end(struct ut_remote *r)
{
	int err = 0;

	if (!r->active)
		return 0;
	err = first_error(err, restore_bytes(r));
	err = first_error(err, restore_regs(r));
	err = first_error(err, set_mask(r->tid, r->saved_mask));
	err = first_error(err, restore_siginfo(r));
	r->active = false;
	return err;
}

/* A kernel without CONFIG_SECCOMP has no "Seccomp:" line: mode 0. */
int utrace_seccomp_mode(pid_t pid)
{
	uint64_t mode;
	int err = ut_proc_status_field(pid, "Seccomp:", 10, &mode);

	if (err == -ENOENT)
		return 0;
	if (err < 0) {
		ut_error("cannot read the seccomp mode of process %d: %s", (int)pid,
			 strerror(-err));
		return err;
	}
	return (int)mode;
}
