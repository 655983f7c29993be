// SPDX-License-Identifier: MIT
/*
 * Tests of lib/inject/inject.c's data area on real children: the sealed memfd that
 * the child and we map shared, its geometry, the control block's fields
 * taken from the session, and taking the area out again.
 *
 * Every child is forked from this process and blocks reading its go pipe;
 * stopped and in a remote-syscall session, it gets the area.  Resumed, it
 * loads the byte at the address it is sent (0: none), writes it back to us
 * and exits with the status it is sent: it ran on normally.  The teardown
 * kills and reaps whatever a failed test left, and frees the session's area.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "child-harness.h"
#include "inject.h"
#include "log.h"

#define PAGE 4096UL
#define NPROBES 200 /* 6400 bytes of functions: a page and a part */
#define NSLOTS 8
#define RING_SIZE 8192
#define RSTACK_DEPTH 100 /* 8 x 100 x 32 bytes: not whole pages either */
#define EXIT_STATUS 42
#define CHILD_SETUP 1
#define MARK 0x5a
#define MEMFD_PATH "/memfd:utrace"
#define BLOCK_TIMEOUT_NS 1000000ULL
#define NS_PER_TICK 0.5 /* exact in binary: no rounding in the ticks */
#define TICKS_PER_NS 2
#define SPIN_NS 10000ULL /* what a recorder spins before it sleeps (inject.c) */
#define REFUSED EACCES /* what the seccomp child's filter answers shared mmaps */
#define LINE_MAX_UT 512

struct go_msg {
	uint64_t addr; /* a byte the child loads and reports, 0: none */
	int status; /* it exits with this */
};

struct mapping {
	uint64_t lo, hi, offset;
	unsigned long inode;
	char perms[5];
	char path[256];
};

static struct fixture {
	/* the parts of a session that injection reads, and its own */
	struct ut_proc proc;
	struct ut_probes pr;
	struct ut_tsc tsc;
	struct ut_inject in;
	struct ut_remote r;
	pid_t child;
	int go, report;
	/* the child's memfd mappings and descriptors once stopped: a failed test may leak ours */
	int base_maps, base_fds;
	void *old_area; /* an area replaced by another (a followed child's) */
	int old_fd;
} fx;

/* ---- child side: no cmocka here, results go to the exit status ---- */

static int child_idle(int go, int report)
{
	struct go_msg m;
	uint8_t b = 'r';

	if (write(report, &b, 1) != 1 || read(go, &m, sizeof(m)) != sizeof(m))
		return CHILD_SETUP;
	/* the child's own load: the memory it sees there */
	if (m.addr) {
		b = *(volatile uint8_t *)(uintptr_t)m.addr;
		if (write(report, &b, 1) != 1)
			return CHILD_SETUP;
	}
	return m.status;
}

/* Shared mmaps (the data area's) fail with REFUSED; nothing else is filtered. */
static int child_refuse_shared_maps(int go, int report)
{
	struct sock_filter insns[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_mmap, 0, 3),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[3])),
		BPF_JUMP(BPF_JMP | BPF_JSET | BPF_K, MAP_SHARED, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | REFUSED),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(insns) / sizeof(insns[0]), .filter = insns };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog))
		return CHILD_SETUP;
	return child_idle(go, report);
}

/* ---- test side ---- */

/* A child that said it is ready (running or blocked in its read). */
static void child_start(int (*body)(int go, int report))
{
	struct test_child c = test_child_start(body);
	uint8_t b = 0;

	assert_true(c.pid > 0);
	fx.child = c.pid;
	fx.go = c.go;
	fx.report = c.report;
	fx.proc.pid = fx.proc.mm_pid = fx.child;
	assert_int_equal(read(fx.report, &b, 1), 1);
	assert_int_equal(b, 'r');
}

/* The child's mappings of a utrace memfd. */
static int child_memfd_maps(void)
{
	char path[64], line[LINE_MAX_UT];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)fx.child);
	f = fopen(path, "re");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		n += strstr(line, " " MEMFD_PATH) != NULL;
	fclose(f);
	return n;
}

/* The child's descriptors of a utrace memfd. */
static int child_memfd_fds(void)
{
	char dir[64], path[LINE_MAX_UT], target[256];
	struct dirent *de;
	int n = 0;
	DIR *d;

	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)fx.child);
	d = opendir(dir);
	assert_non_null(d);
	while ((de = readdir(d))) {
		ssize_t len;

		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		len = readlink(path, target, sizeof(target) - 1);
		target[len > 0 ? len : 0] = '\0';
		n += !strncmp(target, MEMFD_PATH, strlen(MEMFD_PATH));
	}
	closedir(d);
	return n;
}

/* PTRACE_SEIZE + PTRACE_INTERRUPT; skips the test only when ptrace is refused here. */
static void child_stop(void)
{
	int status;

	if (ptrace(PTRACE_SEIZE, fx.child, 0, 0) && errno == EPERM)
		skip();
	assert_int_equal(ptrace(PTRACE_INTERRUPT, fx.child, 0, 0), 0);
	assert_int_equal(waitpid(fx.child, &status, __WALL), fx.child);
	assert_true(WIFSTOPPED(status));
	assert_int_equal(status >> 16, PTRACE_EVENT_STOP);
	fx.base_maps = child_memfd_maps();
	fx.base_fds = child_memfd_fds();
}

/* End the remote session if on; the child goes on, loads addr's byte (unless 0) and exits. */
static void child_finish(uint64_t addr, int want_byte)
{
	struct go_msg m = { .addr = addr, .status = EXIT_STATUS };
	uint8_t b;
	int status;

	if (fx.r.active)
		assert_int_equal(utrace_remote_end(&fx.r), 0);
	assert_int_equal(ptrace(PTRACE_DETACH, fx.child, 0, 0), 0);
	assert_int_equal(write(fx.go, &m, sizeof(m)), sizeof(m));
	if (addr) {
		assert_int_equal(read(fx.report, &b, 1), 1);
		assert_int_equal(b, want_byte);
	}
	assert_int_equal(waitpid(fx.child, &status, 0), fx.child);
	fx.child = 0;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), EXIT_STATUS);
}

/* A stopped child in a remote-syscall session. */
static void stopped_child(int (*body)(int go, int report))
{
	child_start(body);
	child_stop();
	assert_int_equal(utrace_remote_begin(&fx.r, fx.child, 0), 0);
}

/* The session's data area in a stopped child. */
static void injected_child(void)
{
	stopped_child(child_idle);
	assert_int_equal(ut_inject_data(&fx.in, &fx.r), 0);
	assert_non_null(fx.in.area);
	assert_true(fx.in.area_addr != 0);
}

/* The child's mapping holding addr, from its maps: false when none. */
static bool child_mapping(uint64_t addr, struct mapping *m)
{
	char path[64], line[LINE_MAX_UT];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)fx.child);
	f = fopen(path, "re");
	assert_non_null(f);
	while (!found && fgets(line, sizeof(line), f)) {
		memset(m, 0, sizeof(*m));
		found = sscanf(line,
			       "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %*x:%*x %lu %255[^\n]",
			       &m->lo, &m->hi, m->perms, &m->offset, &m->inode, m->path) >= 5 &&
			addr >= m->lo && addr < m->hi;
	}
	fclose(f);
	return found;
}

/* The area is mapped in the child at area_addr: all of it, shared rw, our memfd's alone. */
static void assert_child_maps_area(void)
{
	struct mapping m;
	struct stat st;

	assert_true(child_mapping(fx.in.area_addr, &m));
	assert_int_equal(m.lo, fx.in.area_addr);
	assert_int_equal(m.hi - m.lo, fx.in.geo.area_size);
	assert_string_equal(m.perms, "rw-s");
	assert_int_equal(m.offset, 0);
	assert_memory_equal(m.path, MEMFD_PATH, strlen(MEMFD_PATH));
	assert_int_equal(fstat(fx.in.memfd, &st), 0);
	assert_int_equal(m.inode, st.st_ino);
	assert_int_equal(child_memfd_maps(), fx.base_maps + 1);
	/* the tracee's descriptor is closed once mapped */
	assert_int_equal(child_memfd_fds(), fx.base_fds);
}

/* Nothing of [addr, addr + size) is mapped in the child any more. */
static void assert_child_unmapped(uint64_t addr, uint64_t size)
{
	struct mapping m;

	assert_false(child_mapping(addr, &m));
	assert_false(child_mapping(addr + size - 1, &m));
}

/* A byte written on either side at off is read on the other: one memory. */
static void assert_one_memory(uint64_t off)
{
	uint8_t *ours = (uint8_t *)fx.in.area + off, b = 0, mark = MARK + 1;

	*ours = MARK;
	assert_int_equal(utrace_mem_read(fx.child, fx.in.area_addr + off, &b, 1), 0);
	assert_int_equal(b, MARK);
	assert_int_equal(utrace_mem_write(fx.child, fx.in.area_addr + off, &mark, 1), 0);
	assert_int_equal(*ours, MARK + 1);
}

static bool all_zero(const void *p, size_t len)
{
	const uint8_t *b = p;

	for (size_t i = 0; i < len; i++)
		if (b[i])
			return false;
	return true;
}

/* ---- ut_inject_data ---- */

/*
 * One memory in the child and here.  The child runs on where it stopped,
 * over the bytes the memfd's name was written to: they were put back.
 */
static void inject_data_maps_shared_memfd(void **state)
{
	uint64_t last;

	injected_child();
	assert_child_maps_area();
	/* a launched program must not inherit our descriptor */
	assert_true(fcntl(fx.in.memfd, F_GETFD) & FD_CLOEXEC);
	/* a zeroed ring holds no record: the area starts zeroed */
	assert_true(all_zero(fx.in.area, fx.in.geo.area_size));
	last = fx.in.geo.area_size - 2;
	assert_one_memory(0);
	assert_one_memory(last);
	child_finish(fx.in.area_addr + last, MARK + 1); /* utrace_mem_write's byte */
}

/* The memfd cannot shrink, grow or take more seals (a write seal would stop the recorder). */
static void inject_data_memfd_sealed(void **state)
{
	off_t size;

	injected_child();
	size = (off_t)fx.in.geo.area_size;
	assert_int_equal(fcntl(fx.in.memfd, F_GET_SEALS),
			 F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
	assert_int_equal(ftruncate(fx.in.memfd, size + (off_t)PAGE), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(ftruncate(fx.in.memfd, size - (off_t)PAGE), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(fcntl(fx.in.memfd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(lseek(fx.in.memfd, 0, SEEK_END), size);
	child_finish(0, 0);
}

/* Part [off, next) is page aligned, holds `bytes` and wastes less than a page. */
static void assert_part(uint64_t off, uint64_t next, uint64_t bytes)
{
	assert_int_equal(off % PAGE, 0);
	assert_true(next >= off + bytes);
	assert_true(next < off + bytes + PAGE);
}

static void assert_geometry(const struct ut_geometry *g)
{
	assert_int_equal(g->nfuncs, NPROBES);
	assert_int_equal(g->nslots, NSLOTS);
	assert_int_equal(g->ring_size, RING_SIZE);
	assert_int_equal(g->rstack_depth, RSTACK_DEPTH);
	assert_part(0, g->funcs_off, sizeof(struct ut_ctl));
	assert_part(g->funcs_off, g->slots_off, NPROBES * sizeof(struct ut_func));
	assert_part(g->slots_off, g->rstacks_off, NSLOTS * sizeof(struct ut_slot));
	assert_part(g->rstacks_off, g->rings_off,
		    (uint64_t)NSLOTS * RSTACK_DEPTH * sizeof(struct ut_rs_entry));
	assert_int_equal(g->rings_off % PAGE, 0);
	assert_int_equal(g->area_size, g->rings_off + (uint64_t)NSLOTS * RING_SIZE);
}

/* The geometry from nprobes and the options; each record format its record size. */
static void inject_data_geometry(void **state)
{
	static const struct {
		bool args, retval;
		uint32_t rec_size;
	} formats[] = {
		{ false, false, UT_REC_MIN },
		{ false, true, UT_REC_RETVAL_SIZE },
		{ true, false, UT_REC_ARGS_SIZE },
		{ true, true, UT_REC_ARGS_SIZE }, /* exits use two of its words */
	};

	stopped_child(child_idle);
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		fx.in.opts.record_args = formats[i].args;
		fx.in.opts.record_retval = formats[i].retval;
		assert_int_equal(ut_inject_data(&fx.in, &fx.r), 0);
		assert_geometry(&fx.in.geo);
		assert_int_equal(fx.in.geo.rec_args, formats[i].args);
		assert_int_equal(fx.in.geo.rec_retval, formats[i].retval);
		assert_int_equal(fx.in.geo.rec_size, formats[i].rec_size);
		assert_child_maps_area();
		assert_int_equal(ut_areas_unmap(&fx.in, &fx.r), 0);
		ut_release_data(&fx.in);
		fx.in.geo = (struct ut_geometry){ 0 }; /* the next one is computed afresh */
		fx.in.area_addr = 0;
	}
	child_finish(0, 0);
}

/*
 * A followed child keeps its parent's geometry and address (follow-fork.c):
 * a fresh area replaces the one it inherited, at the same place.
 */
static void inject_data_over_inherited_area(void **state)
{
	struct ut_geometry geo;
	uint64_t addr;

	injected_child();
	geo = fx.in.geo;
	addr = fx.in.area_addr;
	fx.old_area = fx.in.area;
	fx.old_fd = fx.in.memfd;
	*(uint8_t *)fx.old_area = MARK;
	/* options that would make another geometry: the one kept wins */
	fx.in.opts.nslots = 2 * NSLOTS;
	fx.in.opts.record_args = true;
	assert_int_equal(ut_inject_data(&fx.in, &fx.r), 0);
	assert_int_equal(fx.in.area_addr, addr);
	assert_memory_equal(&fx.in.geo, &geo, sizeof(geo));
	assert_true(fx.in.memfd != fx.old_fd);
	assert_child_maps_area(); /* one memfd mapped still: replaced, not added */
	assert_true(all_zero(fx.in.area, fx.in.geo.area_size));
	assert_int_equal(*(uint8_t *)fx.old_area, MARK);
	child_finish(addr, 0);
}

/* A refused step leaves nothing behind in the child, and says why. */
static void inject_data_failure_leaves_nothing(void **state)
{
	char said[96];

	stopped_child(child_refuse_shared_maps);
	utrace_error_clear();
	assert_int_equal(ut_inject_data(&fx.in, &fx.r), -REFUSED);
	assert_null(fx.in.area);
	assert_int_equal(fx.in.memfd, -1);
	assert_int_equal(fx.in.area_addr, 0);
	/* the memfd made before the refused mmap is closed again */
	assert_int_equal(child_memfd_fds(), fx.base_fds);
	assert_int_equal(child_memfd_maps(), fx.base_maps);
	snprintf(said, sizeof(said), "cannot create the data area in process %d", (int)fx.child);
	assert_non_null(utrace_error_last());
	assert_int_equal(strncmp(utrace_error_last(), said, strlen(said)), 0);
	assert_non_null(strstr(utrace_error_last(), strerror(REFUSED)));
	child_finish(0, 0);
}

/* ---- ut_ctl_set ---- */

/* The layout and format from the geometry, the waits in ticks, the tracee's counters kept. */
static void ctl_set_session_fields(void **state)
{
	const uint64_t untouched = 0xa5a5a5a5a5a5a5a5ULL;
	struct ut_ctl c;

	if (utrace_seccomp_mode(getpid()) != 0)
		skip(); /* our children would run under our filter */
	child_start(child_idle);
	fx.in.geo = (struct ut_geometry){ .funcs_off = 1 * PAGE,
					  .slots_off = 3 * PAGE,
					  .rstacks_off = 4 * PAGE,
					  .rings_off = 11 * PAGE,
					  .rec_size = UT_REC_RETVAL_SIZE,
					  .rec_retval = true };
	fx.tsc.ns_per_tick = NS_PER_TICK;
	fx.in.opts.block_timeout_ns = BLOCK_TIMEOUT_NS;
	memset(&c, 0xa5, sizeof(c));
	ut_ctl_set(&fx.in, &c);
	assert_int_equal(c.funcs_off, 1 * PAGE);
	assert_int_equal(c.slots_off, 3 * PAGE);
	assert_int_equal(c.rstacks_off, 4 * PAGE);
	assert_int_equal(c.rings_off, 11 * PAGE);
	assert_int_equal(c.rec_size, UT_REC_RETVAL_SIZE);
	assert_int_equal(c.rec_args, 0);
	assert_int_equal(c.rec_retval, 1);
	assert_int_equal(c.block_ticks, BLOCK_TIMEOUT_NS * TICKS_PER_NS);
	assert_int_equal(c.spin_ticks, SPIN_NS * TICKS_PER_NS);
	assert_int_equal(c.no_sleep, 0);
	/* not the session's: what the tracee counts, detach's switch, the drain's beat */
	assert_int_equal(c.no_slot, untouched);
	assert_int_equal(c.lost_return, untouched);
	assert_int_equal(c.heartbeat, untouched);
	assert_int_equal(c.disabled, (uint32_t)untouched);
	/* --lossy: never wait, so never spin either */
	fx.in.opts.block_timeout_ns = 0;
	ut_ctl_set(&fx.in, &c);
	assert_int_equal(c.block_ticks, 0);
	assert_int_equal(c.spin_ticks, 0);
}

/* Under a seccomp filter a futex may be refused: recorders spin, never sleep. */
static void ctl_set_session_no_sleep_under_seccomp(void **state)
{
	struct ut_ctl c = { 0 };

	child_start(child_refuse_shared_maps);
	ut_ctl_set(&fx.in, &c);
	assert_int_equal(c.no_sleep, 1);
}

/* ---- taking the areas out ---- */

/* Code areas and the data area go; the first error is returned, the rest still unmapped. */
static void areas_unmap_removes_mappings(void **state)
{
	const uint64_t args[6] = {
		0, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, (uint64_t)-1, 0
	};
	struct ut_area areas[2] = { 0 };
	uint64_t addr;
	int64_t code;

	injected_child();
	assert_int_equal(utrace_remote_syscall(&fx.r, SYS_mmap, args, &code), 0);
	assert_true(code > 0);
	/* not page aligned: munmap refuses it; the later ones succeed and must not hide that */
	areas[0] = (struct ut_area){ .addr = (uint64_t)code + 1, .size = PAGE };
	areas[1] = (struct ut_area){ .addr = (uint64_t)code, .size = PAGE };
	fx.pr.areas = areas;
	fx.pr.nareas = 2;
	addr = fx.in.area_addr;
	assert_int_equal(ut_areas_unmap(&fx.in, &fx.r), -EINVAL);
	fx.pr.areas = NULL;
	fx.pr.nareas = 0;
	assert_child_unmapped((uint64_t)code, PAGE);
	assert_child_unmapped(addr, fx.in.geo.area_size);
	assert_int_equal(child_memfd_maps(), fx.base_maps);
	/* kept: detach and a released child only take the areas out of the tracee */
	assert_int_equal(fx.in.area_addr, addr);
	child_finish(0, 0);
}

/* After a failed install: the child's mapping goes, ours stays for ut_release_data. */
static void inject_undo_unmaps_data_area(void **state)
{
	uint64_t addr;

	injected_child();
	addr = fx.in.area_addr;
	ut_inject_undo(&fx.in, &fx.r);
	assert_int_equal(fx.in.area_addr, 0);
	assert_child_unmapped(addr, fx.in.geo.area_size);
	assert_int_equal(child_memfd_maps(), fx.base_maps);
	assert_non_null(fx.in.area);
	assert_true(fcntl(fx.in.memfd, F_GETFD) >= 0);
	child_finish(0, 0);
}

/* The ring pages are given back; the control block and the child's mapping stay. */
static void release_data_gives_back_rings(void **state)
{
	uint64_t rings_len, held;
	struct mapping m;
	struct stat st;
	uint8_t b = 1;
	int keep;

	injected_child();
	rings_len = fx.in.geo.area_size - fx.in.geo.rings_off;
	memset((uint8_t *)fx.in.area + fx.in.geo.rings_off, MARK, rings_len);
	*(uint8_t *)fx.in.area = MARK;
	keep = dup(fx.in.memfd); /* the file, past the session's descriptor */
	assert_true(keep >= 0);
	assert_int_equal(fstat(keep, &st), 0);
	held = (uint64_t)st.st_blocks * 512;
	assert_true(held >= rings_len + PAGE);

	ut_release_data(&fx.in);
	assert_null(fx.in.area);
	assert_int_equal(fx.in.memfd, -1);
	assert_int_equal(fstat(keep, &st), 0);
	close(keep);
	/* every ring byte given back; the control block's page kept (its byte read below) */
	assert_true((uint64_t)st.st_blocks * 512 + rings_len <= held);
	assert_true(child_mapping(fx.in.area_addr, &m));
	assert_int_equal(m.lo, fx.in.area_addr);
	assert_int_equal(m.hi - m.lo, fx.in.geo.area_size);
	/* after the count: reading a hole allocates its page again */
	assert_int_equal(
		utrace_mem_read(fx.child, fx.in.area_addr + fx.in.geo.area_size - 1, &b, 1), 0);
	assert_int_equal(b, 0);
	child_finish(fx.in.area_addr, MARK);
}

/* ---- fixtures ---- */

static int setup_test(void **state)
{
	memset(&fx, 0, sizeof(fx));
	fx.go = fx.report = fx.old_fd = fx.in.memfd = -1;
	fx.pr.proc = &fx.proc;
	fx.pr.nprobes = NPROBES;
	fx.in.pr = &fx.pr;
	fx.in.tsc = &fx.tsc;
	fx.in.opts.nslots = NSLOTS;
	fx.in.opts.ring_size = RING_SIZE;
	fx.in.opts.rstack_depth = RSTACK_DEPTH;
	return 0;
}

/* Kill and reap the child, free the areas: the next test's child must not inherit them. */
static int teardown_test(void **state)
{
	int status;

	if (fx.child > 0) {
		kill(fx.child, SIGKILL);
		while (waitpid(fx.child, &status, __WALL) == fx.child && WIFSTOPPED(status))
			;
	}
	if (fx.in.area)
		munmap(fx.in.area, fx.in.geo.area_size);
	if (fx.old_area)
		munmap(fx.old_area, fx.in.geo.area_size);
	/* those never opened are -1 */
	close(fx.go);
	close(fx.report);
	close(fx.in.memfd);
	close(fx.old_fd);
	return 0;
}

#define TEST(f) cmocka_unit_test_setup_teardown(f, setup_test, teardown_test)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEST(inject_data_maps_shared_memfd),
		TEST(inject_data_memfd_sealed),
		TEST(inject_data_geometry),
		TEST(inject_data_over_inherited_area),
		TEST(inject_data_failure_leaves_nothing),
		TEST(ctl_set_session_fields),
		TEST(ctl_set_session_no_sleep_under_seccomp),
		TEST(areas_unmap_removes_mappings),
		TEST(inject_undo_unmaps_data_area),
		TEST(release_data_gives_back_rings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
