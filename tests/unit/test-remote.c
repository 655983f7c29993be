// SPDX-License-Identifier: MIT
/*
 * Tests of lib/control/remote.c on real children: tracee memory access, remote
 * syscalls and how a thread interrupted in a blocking call, or holding a
 * pending signal, comes back from them.
 *
 * Every child is forked from this process, so it shares our address layout:
 * the addresses of heap_buf, gadget_page and remote_text_target are valid in
 * it.  A child reports through its exit status (CHILD_*); the teardown kills
 * and reaps whatever a failed test left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

/*
 * The library source itself, so that the PTRACE_POKEDATA writer (a static
 * helper the kernel here never makes us fall back to) can be tested directly.
 * The test then needs nothing of libutrace's remote.o, which the linker leaves out.
 */
#include "remote.c"

#include "child-harness.h"

/* Kernel-internal syscall results a ptrace-stop exposes in rax (include/linux/errno.h). */
#define ERESTARTSYS 512
#define ERESTART_RESTARTBLOCK 516

#define HEAP_BUF_SIZE 64
#define GADGET_OFFSET 16 /* the gadget sits inside its page, not at its start */
#define SLEEP_NS 300000000L
#define NS_PER_SEC 1000000000L
#define BLOCK_POLL_US 1000
#define BLOCK_POLL_TRIES 2000
#define SIGQUEUE_VALUE 1234
#define EXIT_GROUP_STATUS 7

/*
 * remote_text_target, in read-only .text:
 *   b8 2a 00 00 00    mov $42, %eax
 *   c3                ret
 */
#define TEXT_IMM_OFFSET 1
#define TEXT_IMM 42
__asm__(".pushsection .text\n"
	".globl remote_text_target\n"
	".hidden remote_text_target\n"
	".type remote_text_target, @function\n"
	"remote_text_target:\n"
	".byte 0xb8, 0x2a, 0x00, 0x00, 0x00\n" /* mov $42, %eax */
	".byte 0xc3\n" /* ret */
	".size remote_text_target, 6\n"
	".popsection\n");
int remote_text_target(void);

static const uint8_t text_target_bytes[] = {
	0xb8, 0x2a, 0x00, 0x00, 0x00, /* mov $42, %eax */
	0xc3, /* ret */
};

enum child_exit {
	CHILD_OK = 0,
	CHILD_BAD_DATA = 2,
	CHILD_EINTR = 3,
	CHILD_SHORT = 4,
	CHILD_SIGNAL_LOST = 5,
	CHILD_SETUP = 6,
};

struct child {
	pid_t pid;
	int go; /* we write: wakes the child's read() */
	int report; /* the child writes: "ready", values */
};

static struct child child = { .pid = 0, .go = -1, .report = -1 };
static uint8_t *heap_buf;
static uint8_t *gadget_page;
static volatile sig_atomic_t signal_count;
static volatile sig_atomic_t signal_code;
static volatile sig_atomic_t signal_value;

static long page_size(void)
{
	return sysconf(_SC_PAGESIZE);
}

/* ---- child side: no cmocka here, results go to the exit status ---- */

static int child_ready(int report)
{
	char c = 'r';

	return write(report, &c, 1) == 1 ? CHILD_OK : CHILD_SETUP;
}

/* One read() of the go pipe, never retried: an EINTR is what the tests look for. */
static int child_wait_go(int go)
{
	char c;
	ssize_t n = read(go, &c, 1);

	if (n < 0)
		return errno == EINTR ? CHILD_EINTR : CHILD_SETUP;
	return n == 1 ? CHILD_OK : CHILD_SHORT;
}

static int child_idle(int go, int report)
{
	int ret = child_ready(report);

	return ret ? ret : child_wait_go(go);
}

static void child_start(int (*body)(int go, int report))
{
	struct test_child c = test_child_start(body);

	assert_true(c.pid > 0);
	child = (struct child){ .pid = c.pid, .go = c.go, .report = c.report };
}

static void child_wait_ready(void)
{
	char c;

	assert_int_equal(read(child.report, &c, 1), 1);
	assert_int_equal(c, 'r');
}

static int child_read_int(void)
{
	int v;

	assert_int_equal(read(child.report, &v, sizeof(v)), sizeof(v));
	return v;
}

static void child_send_go(const void *data, size_t len)
{
	assert_int_equal(write(child.go, data, len), (ssize_t)len);
}

/* Reap the child and check it exited with `code`. */
static void child_finish(int code)
{
	int status;

	assert_int_equal(waitpid(child.pid, &status, 0), child.pid);
	child.pid = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), code);
}

static int teardown_child(void **state)
{
	int status;

	if (child.pid > 0) {
		kill(child.pid, SIGKILL);
		while (waitpid(child.pid, &status, __WALL) == child.pid && WIFSTOPPED(status))
			;
		child.pid = 0;
	}
	if (child.go >= 0)
		close(child.go);
	if (child.report >= 0)
		close(child.report);
	child.go = child.report = -1;
	return 0;
}

/* The syscall the child is blocked in, from /proc/PID/syscall; -1 while running. */
static long blocked_syscall(pid_t pid)
{
	char path[PROC_PATH_MAX];
	long nr = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/syscall", (int)pid);
	f = fopen(path, "re");
	assert_non_null(f);
	if (fscanf(f, "%ld", &nr) != 1)
		nr = -1;
	fclose(f);
	return nr;
}

static long wait_blocked(long nr, long alt_nr)
{
	for (int i = 0; i < BLOCK_POLL_TRIES; i++) {
		long cur = blocked_syscall(child.pid);

		if (cur == nr || cur == alt_nr)
			return cur;
		usleep(BLOCK_POLL_US);
	}
	fail_msg("child %d never blocked in syscall %ld", (int)child.pid, nr);
	return -1;
}

/* PTRACE_SEIZE + PTRACE_INTERRUPT; skips the test only when ptrace is refused. */
static void seize(void)
{
	if (ptrace(PTRACE_SEIZE, child.pid, NULL, NULL)) {
		if (errno == EPERM) {
			print_message("skipped: ptrace is refused here\n");
			skip();
		}
		fail_msg("PTRACE_SEIZE: %s", strerror(errno));
	}
}

static void interrupt_stop(void)
{
	int status;

	assert_int_equal(ptrace(PTRACE_INTERRUPT, child.pid, NULL, NULL), 0);
	assert_int_equal(waitpid(child.pid, &status, __WALL), child.pid);
	assert_true(WIFSTOPPED(status));
	assert_int_equal(status >> 16, PTRACE_EVENT_STOP);
}

static void seize_stop(void)
{
	seize();
	interrupt_stop();
}

static void detach(int sig)
{
	assert_int_equal(ptrace(PTRACE_DETACH, child.pid, NULL, (void *)(long)sig), 0);
}

/* A started, seized child blocked in read() of its go pipe, interrupt-stopped. */
static void stopped_idle_child(void)
{
	child_start(child_idle);
	child_wait_ready();
	wait_blocked(SYS_read, SYS_read);
	seize_stop();
}

static int64_t remote(struct ut_remote *r, long nr, uint64_t a0, uint64_t a1, uint64_t a2,
		      uint64_t a3, uint64_t a4, uint64_t a5)
{
	const uint64_t args[6] = { a0, a1, a2, a3, a4, a5 };
	int64_t ret = INT64_MIN;

	assert_int_equal(utrace_remote_syscall(r, nr, args, &ret), 0);
	return ret;
}

/* getpid, then an anonymous page mapped, written, read and unmapped. */
static void remote_workout(struct ut_remote *r)
{
	static const uint8_t data[] = "remote page";
	uint8_t back[sizeof(data)];
	int64_t page;

	assert_int_equal(remote(r, SYS_getpid, 0, 0, 0, 0, 0, 0), child.pid);
	page = remote(r, SYS_mmap, 0, (uint64_t)page_size(), PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0);
	assert_true(page > 0);
	assert_int_equal(page % page_size(), 0);
	assert_int_equal(utrace_mem_write(child.pid, (uint64_t)page, data, sizeof(data)), 0);
	assert_int_equal(utrace_mem_read(child.pid, (uint64_t)page, back, sizeof(back)), 0);
	assert_memory_equal(back, data, sizeof(data));
	assert_int_equal(remote(r, SYS_munmap, (uint64_t)page, (uint64_t)page_size(), 0, 0, 0, 0),
			 0);
	assert_int_equal(utrace_mem_read(child.pid, (uint64_t)page, back, sizeof(back)), -EFAULT);
}

#define MAPS_LINE_MAX 512

/* The permissions column of our own mapping holding addr ("r-xp"). */
static void mapping_perms(uint64_t addr, char perms[5])
{
	char line[MAPS_LINE_MAX];
	unsigned long lo, hi;
	FILE *f = fopen("/proc/self/maps", "re");

	assert_non_null(f);
	perms[0] = '\0';
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perms) == 3 && addr >= lo && addr < hi)
			break;
	fclose(f);
}

/* ---- memory access ---- */

static int child_check_heap(int go, int report)
{
	int ret = child_idle(go, report);

	for (int i = 0; !ret && i < HEAP_BUF_SIZE; i++)
		if (heap_buf[i] != (uint8_t)(0x80 + i))
			ret = CHILD_BAD_DATA;
	return ret;
}

static void remote_mem_heap_round_trip(void **state)
{
	uint8_t buf[HEAP_BUF_SIZE], want[HEAP_BUF_SIZE];

	for (int i = 0; i < HEAP_BUF_SIZE; i++) {
		heap_buf[i] = (uint8_t)i;
		want[i] = (uint8_t)(0x80 + i);
	}
	child_start(child_check_heap);
	child_wait_ready();
	seize_stop();
	assert_int_equal(utrace_mem_read(child.pid, (uint64_t)heap_buf, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, heap_buf, sizeof(buf));
	memset(buf, 0, sizeof(buf));
	assert_int_equal(mem_read_proc(child.pid, (uint64_t)heap_buf, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, heap_buf, sizeof(buf));
	assert_int_equal(utrace_mem_write(child.pid, (uint64_t)heap_buf, want, sizeof(want)), 0);
	assert_int_equal(utrace_mem_read(child.pid, (uint64_t)heap_buf, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, want, sizeof(buf));
	detach(0);
	child_send_go("g", 1);
	child_finish(CHILD_OK);
}

/* Reports remote_text_target()'s value after each go. */
static int child_call_text(int go, int report)
{
	int ret = child_idle(go, report);

	for (int round = 0; round < 2 && !ret; round++) {
		int v = remote_text_target();

		if (write(report, &v, sizeof(v)) != sizeof(v))
			return CHILD_SETUP;
		if (round == 0)
			ret = child_wait_go(go);
	}
	return ret;
}

static void remote_mem_read_only_text_round_trip(void **state)
{
	uint64_t text = (uint64_t)(uintptr_t)remote_text_target;
	uint8_t buf[sizeof(text_target_bytes)], imm = TEXT_IMM + 1;
	char perms[5];

	mapping_perms(text, perms);
	assert_string_equal(perms, "r-xp");
	child_start(child_call_text);
	child_wait_ready();
	seize_stop();
	assert_int_equal(utrace_mem_read(child.pid, text, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, text_target_bytes, sizeof(buf));
	assert_int_equal(utrace_mem_write(child.pid, text + TEXT_IMM_OFFSET, &imm, 1), 0);
	assert_int_equal(utrace_mem_read(child.pid, text + TEXT_IMM_OFFSET, &imm, 1), 0);
	assert_int_equal(imm, TEXT_IMM + 1);
	detach(0);
	child_send_go("g", 1);
	assert_int_equal(child_read_int(), TEXT_IMM + 1);

	wait_blocked(SYS_read, SYS_read);
	seize_stop();
	imm = TEXT_IMM;
	assert_int_equal(utrace_mem_write(child.pid, text + TEXT_IMM_OFFSET, &imm, 1), 0);
	assert_int_equal(utrace_mem_read(child.pid, text, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, text_target_bytes, sizeof(buf));
	detach(0);
	child_send_go("g", 1);
	assert_int_equal(child_read_int(), TEXT_IMM);
	child_finish(CHILD_OK);
}

/* A read running off the end of a mapping, or at an unmapped page, is -EFAULT. */
static void remote_mem_unmapped_is_efault(void **state)
{
	long page = page_size();
	uint8_t *map = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t buf[16] = { 0 };

	assert_true(map != MAP_FAILED);
	assert_int_equal(munmap(map + page, (size_t)page), 0);
	stopped_idle_child();
	assert_int_equal(utrace_mem_read(child.pid, (uint64_t)(map + page - 8), buf, sizeof(buf)),
			 -EFAULT);
	assert_int_equal(utrace_mem_read(child.pid, (uint64_t)(map + page), buf, sizeof(buf)),
			 -EFAULT);
	assert_int_equal(mem_read_proc(child.pid, (uint64_t)(map + page - 8), buf, sizeof(buf)),
			 -EFAULT);
	assert_int_equal(utrace_mem_write(child.pid, (uint64_t)(map + page), buf, sizeof(buf)),
			 -EFAULT);
	assert_int_equal(mem_write_poke(child.pid, (uint64_t)(map + page), buf, sizeof(buf)),
			 -EFAULT);
	assert_non_null(utrace_error_last());
	detach(0);
	child_send_go("g", 1);
	child_finish(CHILD_OK);
	munmap(map, (size_t)page);
}

/* The PTRACE_POKEDATA fallback keeps the bytes around a write that does not fill whole words. */
static void remote_poke_partial_words(void **state)
{
	static const uint8_t data[] = {
		0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7, 0xa8, 0xa9
	};
	enum { AT = 3 }; /* spans words 0 and 1, leaving both partly unwritten */
	uint64_t text = (uint64_t)(uintptr_t)remote_text_target;
	uint8_t want[HEAP_BUF_SIZE], buf[HEAP_BUF_SIZE], imm = TEXT_IMM + 2;

	for (int i = 0; i < HEAP_BUF_SIZE; i++)
		heap_buf[i] = want[i] = (uint8_t)i;
	memcpy(want + AT, data, sizeof(data));
	stopped_idle_child();
	assert_int_equal(mem_write_poke(child.pid, (uint64_t)heap_buf + AT, data, sizeof(data)), 0);
	assert_int_equal(utrace_mem_read(child.pid, (uint64_t)heap_buf, buf, sizeof(buf)), 0);
	assert_memory_equal(buf, want, sizeof(buf));

	assert_int_equal(mem_write_poke(child.pid, text + TEXT_IMM_OFFSET, &imm, 1), 0);
	assert_int_equal(utrace_mem_read(child.pid, text, buf, sizeof(text_target_bytes)), 0);
	assert_int_equal(buf[TEXT_IMM_OFFSET], TEXT_IMM + 2);
	imm = TEXT_IMM;
	assert_int_equal(mem_write_poke(child.pid, text + TEXT_IMM_OFFSET, &imm, 1), 0);
	assert_int_equal(utrace_mem_read(child.pid, text, buf, sizeof(text_target_bytes)), 0);
	assert_memory_equal(buf, text_target_bytes, sizeof(text_target_bytes));
	detach(0);
	child_send_go("g", 1);
	child_finish(CHILD_OK);
}

/* ---- remote syscalls ---- */

static void remote_getpid_and_mmap(void **state)
{
	struct ut_remote r;

	stopped_idle_child();
	assert_int_equal(utrace_remote_begin(&r, child.pid, 0), 0);
	remote_workout(&r);
	assert_int_equal(utrace_remote_end(&r), 0);
	detach(0);
	child_send_go("g", 1);
	child_finish(CHILD_OK);
}

static int child_read_ping(int go, int report)
{
	char buf[4];
	ssize_t n;
	int ret = child_ready(report);

	if (ret)
		return ret;
	n = read(go, buf, sizeof(buf));
	if (n < 0)
		return errno == EINTR ? CHILD_EINTR : CHILD_SETUP;
	if (n != sizeof(buf))
		return CHILD_SHORT;
	return memcmp(buf, "ping", sizeof(buf)) ? CHILD_BAD_DATA : CHILD_OK;
}

/* read() on a pipe, interrupted for remote syscalls, restarts and gets the data. */
static void remote_blocked_read_restarts(void **state)
{
	struct ut_remote r;

	child_start(child_read_ping);
	child_wait_ready();
	wait_blocked(SYS_read, SYS_read);
	seize_stop();
	assert_int_equal(utrace_remote_begin(&r, child.pid, 0), 0);
	assert_int_equal(r.saved_regs.orig_rax, SYS_read);
	assert_int_equal((int64_t)r.saved_regs.rax, -ERESTARTSYS);
	remote_workout(&r);
	assert_int_equal(utrace_remote_end(&r), 0);
	detach(0);
	child_send_go("ping", 4);
	child_finish(CHILD_OK);
}

static int64_t elapsed_ns(const struct timespec *a, const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * NS_PER_SEC + (b->tv_nsec - a->tv_nsec);
}

static int child_sleep(int go, int report)
{
	const struct timespec req = { .tv_sec = 0, .tv_nsec = SLEEP_NS };
	struct timespec t0, t1;
	int ret = child_ready(report);

	if (ret)
		return ret;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (nanosleep(&req, NULL))
		return errno == EINTR ? CHILD_EINTR : CHILD_SETUP;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return elapsed_ns(&t0, &t1) >= SLEEP_NS ? CHILD_OK : CHILD_SHORT;
}

/* nanosleep() interrupted for remote syscalls goes on sleeping through restart_syscall. */
static void remote_nanosleep_completes(void **state)
{
	struct ut_remote r;
	long nr;

	child_start(child_sleep);
	child_wait_ready();
	nr = wait_blocked(SYS_clock_nanosleep, SYS_nanosleep);
	seize_stop();
	assert_int_equal(utrace_remote_begin(&r, child.pid, 0), 0);
	assert_int_equal(r.saved_regs.orig_rax, nr);
	assert_int_equal((int64_t)r.saved_regs.rax, -ERESTART_RESTARTBLOCK);
	remote_workout(&r);
	assert_int_equal(utrace_remote_end(&r), 0);
	detach(0);
	child_finish(CHILD_OK);
}

static void count_signal(int sig, siginfo_t *info, void *uctx)
{
	signal_count++;
	signal_code = info->si_code;
	signal_value = info->si_value.sival_int;
}

static int install_counter(int sig)
{
	struct sigaction sa = { .sa_sigaction = count_signal, .sa_flags = SA_SIGINFO | SA_RESTART };

	signal_count = 0;
	return sigaction(sig, &sa, NULL) ? CHILD_SETUP : CHILD_OK;
}

/* SIGUSR1 blocked and pending across the remote syscalls, delivered once unblocked. */
static int child_pending_signal(int go, int report)
{
	sigset_t set, pending;
	int ret = install_counter(SIGUSR1);

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	if (ret || sigprocmask(SIG_BLOCK, &set, NULL) || kill(getpid(), SIGUSR1))
		return CHILD_SETUP;
	ret = child_idle(go, report);
	if (ret)
		return ret;
	if (sigpending(&pending) || !sigismember(&pending, SIGUSR1) || signal_count != 0)
		return CHILD_SIGNAL_LOST;
	if (sigprocmask(SIG_UNBLOCK, &set, NULL))
		return CHILD_SETUP;
	return signal_count == 1 ? CHILD_OK : CHILD_SIGNAL_LOST;
}

static void remote_pending_signal_kept(void **state)
{
	struct ut_remote r;

	child_start(child_pending_signal);
	child_wait_ready();
	wait_blocked(SYS_read, SYS_read);
	seize_stop();
	assert_int_equal(utrace_remote_begin(&r, child.pid, 0), 0);
	assert_true(r.saved_mask & sig_bit(SIGUSR1));
	remote_workout(&r);
	assert_int_equal(utrace_remote_end(&r), 0);
	detach(0);
	child_send_go("g", 1);
	child_finish(CHILD_OK);
}

/* A second PTRACE_INTERRUPT traps again on the first resume: run on to the gadget. */
static void remote_leftover_interrupt_continued(void **state)
{
	struct ut_remote r;

	stopped_idle_child();
	assert_int_equal(ptrace(PTRACE_INTERRUPT, child.pid, NULL, NULL), 0);
	assert_int_equal(utrace_remote_begin(&r, child.pid, 0), 0);
	assert_int_equal(remote(&r, SYS_getpid, 0, 0, 0, 0, 0, 0), child.pid);
	assert_int_equal(utrace_remote_end(&r), 0);
	detach(0);
	child_send_go("g", 1);
	child_finish(CHILD_OK);
}

/* Registers, mask and stop siginfo read back identical after _end, before any resume. */
static void remote_state_restored(void **state)
{
	struct user_regs_struct before, after;
	uint64_t mask_before, mask_after;
	siginfo_t info_before, info_after;
	struct ut_remote r;

	stopped_idle_child();
	assert_int_equal(ptrace(PTRACE_GETREGS, child.pid, NULL, &before), 0);
	assert_int_equal(ptrace(PTRACE_GETSIGMASK, child.pid, sizeof(mask_before), &mask_before),
			 0);
	assert_int_equal(ptrace(PTRACE_GETSIGINFO, child.pid, NULL, &info_before), 0);
	assert_int_equal(utrace_remote_begin(&r, child.pid, 0), 0);
	remote_workout(&r);
	assert_int_equal(utrace_remote_end(&r), 0);
	assert_int_equal(utrace_remote_end(&r), 0); /* idempotent */
	assert_int_equal(ptrace(PTRACE_GETREGS, child.pid, NULL, &after), 0);
	assert_int_equal(ptrace(PTRACE_GETSIGMASK, child.pid, sizeof(mask_after), &mask_after), 0);
	assert_int_equal(ptrace(PTRACE_GETSIGINFO, child.pid, NULL, &info_after), 0);
	assert_memory_equal(&after, &before, sizeof(before));
	assert_int_equal(mask_after, mask_before);
	assert_memory_equal(&info_after, &info_before, sizeof(info_before));
	detach(0);
	child_send_go("g", 1);
	child_finish(CHILD_OK);
}

static void remote_swapped_gadget_restores_text(void **state)
{
	uint8_t before[2 * ARCH_INSN_MAX], during[ARCH_SYSCALL_GADGET_SIZE],
		after[2 * ARCH_INSN_MAX];
	struct user_regs_struct regs;
	struct ut_remote r;

	stopped_idle_child();
	assert_int_equal(ptrace(PTRACE_GETREGS, child.pid, NULL, &regs), 0);
	assert_int_equal(utrace_mem_read(child.pid, regs.rip, before, sizeof(before)), 0);
	assert_int_equal(utrace_remote_begin(&r, child.pid, 0), 0);
	assert_true(r.swapped);
	assert_int_equal(r.gadget, regs.rip);
	assert_int_equal(utrace_mem_read(child.pid, regs.rip, during, sizeof(during)), 0);
	assert_memory_equal(during, arch_syscall_gadget, sizeof(during));
	assert_int_equal(remote(&r, SYS_getpid, 0, 0, 0, 0, 0, 0), child.pid);
	assert_int_equal(utrace_remote_end(&r), 0);
	assert_false(r.swapped);
	assert_int_equal(utrace_mem_read(child.pid, regs.rip, after, sizeof(after)), 0);
	assert_memory_equal(after, before, sizeof(before));
	detach(0);
	child_send_go("g", 1);
	child_finish(CHILD_OK);
}

/* A `syscall; int3` inside a mapped RX page: nothing at the thread's ip is touched. */
static void remote_mapped_gadget(void **state)
{
	uint64_t gadget = (uint64_t)(uintptr_t)(gadget_page + GADGET_OFFSET);
	uint8_t before[ARCH_SYSCALL_GADGET_SIZE], during[ARCH_SYSCALL_GADGET_SIZE];
	struct user_regs_struct regs;
	struct ut_remote r;

	stopped_idle_child();
	assert_int_equal(ptrace(PTRACE_GETREGS, child.pid, NULL, &regs), 0);
	assert_int_equal(utrace_mem_read(child.pid, regs.rip, before, sizeof(before)), 0);
	assert_int_equal(utrace_remote_begin(&r, child.pid, gadget), 0);
	assert_false(r.swapped);
	assert_int_equal(utrace_mem_read(child.pid, regs.rip, during, sizeof(during)), 0);
	assert_memory_equal(during, before, sizeof(before));
	remote_workout(&r);
	assert_int_equal(utrace_remote_end(&r), 0);
	detach(0);
	child_send_go("g", 1);
	child_finish(CHILD_OK);
}

/* A gadget address without the gadget, or a thread that is not stopped: refused, nothing changed. */
static void remote_begin_refuses(void **state)
{
	uint64_t mask_before, mask_after;
	struct ut_remote r;

	child_start(child_idle);
	child_wait_ready();
	assert_int_equal(utrace_remote_begin(&r, child.pid, 0), -ESRCH);
	assert_false(r.active);
	seize_stop();
	assert_int_equal(ptrace(PTRACE_GETSIGMASK, child.pid, sizeof(mask_before), &mask_before),
			 0);
	assert_int_equal(
		utrace_remote_begin(&r, child.pid, (uint64_t)(uintptr_t)remote_text_target),
		-EINVAL);
	assert_false(r.active);
	assert_non_null(utrace_error_last());
	assert_int_equal(ptrace(PTRACE_GETSIGMASK, child.pid, sizeof(mask_after), &mask_after), 0);
	assert_int_equal(mask_after, mask_before);
	assert_int_equal(utrace_remote_end(&r), 0);
	detach(0);
	child_send_go("g", 1);
	child_finish(CHILD_OK);
}

/* The int3's forced SIGTRAP must not reset the tracee's own SIGTRAP handler. */
static int child_sigtrap_handler(int go, int report)
{
	int ret = install_counter(SIGTRAP);

	if (!ret)
		ret = child_idle(go, report);
	if (ret)
		return ret;
	raise(SIGTRAP);
	return signal_count == 1 ? CHILD_OK : CHILD_SIGNAL_LOST;
}

static void remote_sigtrap_handler_kept(void **state)
{
	struct ut_remote r;

	child_start(child_sigtrap_handler);
	child_wait_ready();
	wait_blocked(SYS_read, SYS_read);
	seize_stop();
	assert_int_equal(utrace_remote_begin(&r, child.pid, 0), 0);
	assert_int_equal(remote(&r, SYS_getpid, 0, 0, 0, 0, 0, 0), child.pid);
	assert_int_equal(utrace_remote_end(&r), 0);
	detach(0);
	child_send_go("g", 1);
	child_finish(CHILD_OK);
}

/* Delivered with its own siginfo (SI_TKILL) once the caller resumes with pending_sig. */
static int child_count_sigtrap_tkill(int go, int report)
{
	int ret = install_counter(SIGTRAP);

	if (!ret)
		ret = child_idle(go, report);
	if (ret)
		return ret;
	return signal_count == 1 && signal_code == SI_TKILL ? CHILD_OK : CHILD_SIGNAL_LOST;
}

/* A signal stopping a remote syscall is kept in pending_sig, never swallowed. */
static void remote_signal_during_syscall_kept(void **state)
{
	const uint64_t args[6] = { 0 };
	struct user_regs_struct regs;
	struct ut_remote r;
	int64_t ret;

	child_start(child_count_sigtrap_tkill);
	child_wait_ready();
	wait_blocked(SYS_read, SYS_read);
	seize_stop();
	assert_int_equal(utrace_remote_begin(&r, child.pid, 0), 0);
	/* tgkill(pid, pid, SIGTRAP): SIGTRAP is the signal remote syscalls leave unblocked. */
	assert_int_equal(utrace_remote_syscall(&r, SYS_tgkill,
					       (const uint64_t[6]){ (uint64_t)child.pid,
								    (uint64_t)child.pid, SIGTRAP },
					       &ret),
			 -EINTR);
	assert_int_equal(r.pending_sig, SIGTRAP);
	assert_int_equal(utrace_remote_syscall(&r, SYS_getpid, args, &ret), -EINTR);
	assert_int_equal(utrace_remote_end(&r), 0);
	assert_int_equal(ptrace(PTRACE_GETREGS, child.pid, NULL, &regs), 0);
	assert_memory_equal(&regs, &r.saved_regs, sizeof(regs));
	detach(r.pending_sig);
	child_send_go("g", 1);
	child_finish(CHILD_OK);
}

/* Stops itself with sigqueue(SIGUSR1, value) while traced; checks what the handler got. */
static int child_sigqueue(int go, int report)
{
	int ret = install_counter(SIGUSR1);

	if (!ret)
		ret = child_idle(go, report);
	if (ret)
		return ret;
	if (sigqueue(getpid(), SIGUSR1, (union sigval){ .sival_int = SIGQUEUE_VALUE }))
		return CHILD_SETUP;
	return signal_count == 1 && signal_code == SI_QUEUE && signal_value == SIGQUEUE_VALUE ?
		       CHILD_OK :
		       CHILD_SIGNAL_LOST;
}

/* Begun at a signal-delivery-stop: resuming with that signal after _end keeps its siginfo. */
static void remote_at_signal_stop_keeps_siginfo(void **state)
{
	struct ut_remote r;
	int status;

	child_start(child_sigqueue);
	child_wait_ready();
	seize();
	child_send_go("g", 1);
	assert_int_equal(waitpid(child.pid, &status, __WALL), child.pid);
	assert_true(WIFSTOPPED(status));
	assert_int_equal(WSTOPSIG(status), SIGUSR1);
	assert_int_equal(status >> 16, 0);
	assert_int_equal(utrace_remote_begin(&r, child.pid, 0), 0);
	assert_int_equal(r.saved_siginfo.si_code, SI_QUEUE);
	remote_workout(&r);
	assert_int_equal(utrace_remote_end(&r), 0);
	detach(SIGUSR1);
	child_finish(CHILD_OK);
}

/* A thread exiting under a remote syscall: -ESRCH, and its exit is left for us to reap. */
static void remote_exit_is_esrch(void **state)
{
	const uint64_t args[6] = { EXIT_GROUP_STATUS };
	struct ut_remote r;
	int64_t ret;

	stopped_idle_child();
	assert_int_equal(utrace_remote_begin(&r, child.pid, 0), 0);
	assert_int_equal(utrace_remote_syscall(&r, SYS_exit_group, args, &ret), -ESRCH);
	assert_int_not_equal(utrace_remote_end(&r), 0);
	assert_false(r.active);
	child_finish(EXIT_GROUP_STATUS);
}

/* ---- seccomp ---- */

static void seccomp_mode_plain_child(void **state)
{
	if (utrace_seccomp_mode(getpid()) != 0) {
		print_message("skipped: the test runner itself runs under seccomp: no plain child "
			      "to be had\n");
		skip();
	}
	child_start(child_idle);
	child_wait_ready();
	assert_int_equal(utrace_seccomp_mode(child.pid), 0);
	child_send_go("g", 1);
	child_finish(CHILD_OK);
}

static int child_seccomp_filter(int go, int report)
{
	struct sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	struct sock_fprog prog = { .len = 1, .filter = &allow };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		return CHILD_SETUP;
	return child_idle(go, report);
}

static void seccomp_mode_filter_child(void **state)
{
	child_start(child_seccomp_filter);
	child_wait_ready();
	assert_int_equal(utrace_seccomp_mode(child.pid), SECCOMP_MODE_FILTER);
	child_send_go("g", 1);
	child_finish(CHILD_OK);
}

static void seccomp_mode_gone_process(void **state)
{
	pid_t pid;

	child_start(child_idle);
	child_wait_ready();
	child_send_go("g", 1);
	pid = child.pid;
	child_finish(CHILD_OK);
	assert_int_equal(utrace_seccomp_mode(pid), -ESRCH);
}

/* ---- fixtures ---- */

/* Before any fork: the heap buffer and an RX page with a gadget inside it. */
static int setup_shared(void **state)
{
	uint8_t *page = mmap(NULL, (size_t)page_size(), PROT_READ | PROT_WRITE,
			     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	heap_buf = malloc(HEAP_BUF_SIZE);
	if (!heap_buf || page == MAP_FAILED)
		return -1;
	memcpy(page + GADGET_OFFSET, arch_syscall_gadget, ARCH_SYSCALL_GADGET_SIZE);
	if (mprotect(page, (size_t)page_size(), PROT_READ | PROT_EXEC))
		return -1;
	gadget_page = page;
	return 0;
}

static int teardown_shared(void **state)
{
	free(heap_buf);
	munmap(gadget_page, (size_t)page_size());
	return 0;
}

#define TEST(f) cmocka_unit_test_teardown(f, teardown_child)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(remote_mem_heap_round_trip),
		TEST(remote_mem_read_only_text_round_trip),
		TEST(remote_mem_unmapped_is_efault),
		TEST(remote_poke_partial_words),
		TEST(remote_getpid_and_mmap),
		TEST(remote_blocked_read_restarts),
		TEST(remote_nanosleep_completes),
		TEST(remote_pending_signal_kept),
		TEST(remote_leftover_interrupt_continued),
		TEST(remote_state_restored),
		TEST(remote_swapped_gadget_restores_text),
		TEST(remote_mapped_gadget),
		TEST(remote_begin_refuses),
		TEST(remote_sigtrap_handler_kept),
		TEST(remote_signal_during_syscall_kept),
		TEST(remote_at_signal_stop_keeps_siginfo),
		TEST(remote_exit_is_esrch),
		TEST(seccomp_mode_plain_child),
		TEST(seccomp_mode_filter_child),
		TEST(seccomp_mode_gone_process),
	};

	return cmocka_run_group_tests(tests, setup_shared, teardown_shared);
}
