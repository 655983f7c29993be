// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/elf/unwind.c, on this process itself: chains a -> b -> c
 * (unwind-chain.h) save their registers and stack in c, and the copy is
 * unwound afterwards, as the tracer unwinds a recorder's copy.  Expected:
 * the return addresses taken in c, b, a and a's caller, and glibc's
 * backtrace() in c.  Three chains: this file's (normal flags), one without
 * frame pointers (CFI only), one with frame pointers and no CFI; each
 * unwound from inside c, from c's entry, and over the whole stack.  Then:
 * short and garbage copies, a library dlopened later, a process that has
 * exited, no process at all, addresses without symbols.
 */
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <gnu/lib-names.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "maps.h"
#include "unwind-chain.h"
#include "unwind.h"

#define COPY_LEN 4096 /* what a recorder might copy */
#define SHORT_LEN 64
#define MAX_PCS 256
#define GARBAGE_WORD 0xa5a5a5a5a5a5a5a5ULL
#define GARBAGE_RIP 0x10 /* below mmap_min_addr: in no mapping */
#define PROG_NAME "test-unwind"

struct chain_snap chain_snap;
int (*chain_backtrace)(void **bt, int max);
static uint64_t stack_end; /* end of the main thread's stack mapping */

UNWIND_CHAIN(cfi)

int unwind_run_chain(int (*a)(int));

/* a's caller: a named frame for the chain to return into. */
__attribute__((noinline, noclone)) int unwind_run_chain(int (*a)(int))
{
	chain_snap.ret[3] = __builtin_return_address(0);
	return a(1) + 1;
}

/*
 * Word by word and unchecked by ASan: the live frames above rsp hold other
 * functions' redzones, which a recorder copies just the same.
 */
__attribute__((no_sanitize_address, noinline)) void chain_snap_stack(void)
{
	const volatile uint64_t *src = (const volatile uint64_t *)chain_snap.regs.rsp;
	size_t len = stack_end - chain_snap.regs.rsp;

	if (len > CHAIN_STACK_MAX)
		len = CHAIN_STACK_MAX;
	for (size_t i = 0; i < len / sizeof(uint64_t); i++)
		chain_snap.stack[i] = src[i];
	chain_snap.len = len / sizeof(uint64_t) * sizeof(uint64_t);
}

static size_t min_len(size_t a, size_t b)
{
	return a < b ? a : b;
}

static struct ut_unwinder *self_unwinder(void)
{
	struct ut_unwinder *u;

	assert_int_equal(ut_unwinder_new(&u, getpid()), 0);
	assert_non_null(u);
	return u;
}

static int unwind_snap(struct ut_unwinder *u, size_t len, uint64_t *pcs)
{
	return ut_unwind(u, &chain_snap.regs, chain_snap.stack, min_len(len, chain_snap.len), pcs,
			 MAX_PCS);
}

/* pcs[1..4] are the return addresses into b, a, a's caller and the test. */
static void assert_chain_returns(const uint64_t *pcs, int n)
{
	assert_true(n >= 5);
	for (int k = 1; k <= 4; k++)
		assert_int_equal(pcs[k], (uintptr_t)chain_snap.ret[k - 1]);
}

/* Wherever both unwinders got, they agree. */
static void assert_matches_backtrace(const uint64_t *pcs, int n)
{
	for (int k = 1; k < n && k < chain_snap.nbt; k++)
		assert_int_equal(pcs[k], (uintptr_t)chain_snap.bt[k]);
}

static void assert_symbol(struct ut_unwinder *u, uint64_t pc, bool is_return, const char *name)
{
	const char *func, *module;
	uint64_t offset;

	assert_true(ut_unwinder_symbolize(u, pc, is_return, &func, &module, &offset));
	assert_string_equal(func, name);
	assert_string_equal(module, PROG_NAME);
}

static void assert_chain_symbols(struct ut_unwinder *u, const uint64_t *pcs, const char *prefix)
{
	static const char *const names[] = { "c", "b", "a" };
	char name[64];

	for (int k = 0; k < 3; k++) {
		snprintf(name, sizeof(name), "%s_%s", prefix, names[k]);
		assert_symbol(u, pcs[k], k > 0, name);
	}
	assert_symbol(u, pcs[3], true, "unwind_run_chain");
}

/* Whether the unwind got to main, as it does over the whole stack. */
static bool reaches_main(struct ut_unwinder *u, const uint64_t *pcs, int n)
{
	const char *func, *module;
	uint64_t offset;

	for (int k = 1; k < n; k++)
		if (ut_unwinder_symbolize(u, pcs[k], true, &func, &module, &offset) &&
		    !strcmp(func, "main") && !strcmp(module, PROG_NAME))
			return true;
	return false;
}

/*
 * The registers at c's first instruction, rebuilt from the copy made later
 * in c (the frames above c's have not changed since): rsp at the slot of c's
 * return address; rbp saved just below it when c keeps a frame pointer, else
 * left alone by c.  The copy starts at that rsp.
 */
static void entry_regs(int (*c)(int), struct ut_unwind_regs *r, const void **stack, size_t *len)
{
	size_t words = chain_snap.len / sizeof(uint64_t), i = 0;

	while (i < words && chain_snap.stack[i] != (uintptr_t)chain_snap.ret[0])
		i++;
	assert_true(i > 0 && i < words);
	*r = chain_snap.regs;
	r->rip = (uintptr_t)c;
	r->rsp = chain_snap.regs.rsp + i * sizeof(uint64_t);
	if (chain_snap.regs.rbp == r->rsp - sizeof(uint64_t))
		r->rbp = chain_snap.stack[i - 1];
	*stack = &chain_snap.stack[i];
	*len = min_len((words - i) * sizeof(uint64_t), COPY_LEN);
}

/* From c's first instruction, where a recorder copies: the same callers. */
static void check_from_entry(struct ut_unwinder *u, int (*c)(int), const char *prefix)
{
	struct ut_unwind_regs regs;
	uint64_t pcs[MAX_PCS];
	const void *stack;
	size_t len;

	entry_regs(c, &regs, &stack, &len);
	assert_chain_returns(pcs, ut_unwind(u, &regs, stack, len, pcs, MAX_PCS));
	assert_chain_symbols(u, pcs, prefix);
}

/*
 * Run the chain a -> b -> c and unwind it from inside c over COPY_LEN bytes,
 * from c's entry, and over the whole stack.  With CFI glibc's backtrace()
 * (libgcc's unwinder) has the same frames; without, it stops in c.
 */
static void check_chain(int (*a)(int), int (*c)(int), const char *prefix, bool cfi)
{
	struct ut_unwinder *u = self_unwinder();
	uint64_t pcs[MAX_PCS], offset;
	const char *func, *module;
	int n;

	unwind_run_chain(a);
	n = unwind_snap(u, COPY_LEN, pcs);
	assert_int_equal(pcs[0], chain_snap.regs.rip);
	assert_chain_returns(pcs, n);
	assert_chain_symbols(u, pcs, prefix);
	assert_true(ut_unwinder_symbolize(u, pcs[0], false, &func, &module, &offset));
	assert_int_equal(offset, pcs[0] - (uintptr_t)c);
	if (cfi)
		assert_matches_backtrace(pcs, n);
	else
		assert_true(chain_snap.nbt < 3);
	check_from_entry(u, c, prefix);
	assert_true(chain_snap.len < CHAIN_STACK_MAX); /* else the environment is huge */
	n = unwind_snap(u, chain_snap.len, pcs);
	assert_true(reaches_main(u, pcs, n));
	if (cfi) {
		assert_int_equal(n, chain_snap.nbt);
		assert_matches_backtrace(pcs, n);
	}
	ut_unwinder_free(u);
}

static void unwind_cfi_chain(void **state)
{
	check_chain(cfi_a, cfi_c, "cfi", true);
}

/* Without frame pointers (rbp a plain register) only the CFI finds the frames. */
static void unwind_nofp_chain(void **state)
{
	check_chain(nofp_a, nofp_c, "nofp", true);
}

/*
 * No CFI: frame-pointer steps, from inside c and from its entry, and on into
 * the frames with CFI above.
 */
static void unwind_fponly_chain(void **state)
{
	check_chain(fponly_a, fponly_c, "fponly", false);
}

/* A copy cut short: the frames it holds, then a clean stop. */
static void unwind_short_copy_stops(void **state)
{
	struct ut_unwinder *u = self_unwinder();
	uint64_t full[MAX_PCS], pcs[MAX_PCS];
	int nfull, n;

	unwind_run_chain(cfi_a);
	nfull = unwind_snap(u, chain_snap.len, full);
	n = unwind_snap(u, SHORT_LEN, pcs);
	assert_true(n >= 1 && n < nfull);
	assert_memory_equal(pcs, full, n * sizeof(pcs[0]));
	assert_int_equal(ut_unwind(u, &chain_snap.regs, NULL, 0, pcs, MAX_PCS), 1);
	assert_int_equal(pcs[0], chain_snap.regs.rip);
	ut_unwinder_free(u);
}

static void unwind_garbage_stops_at_first_pc(void **state)
{
	struct ut_unwinder *u = self_unwinder();
	struct ut_unwind_regs regs;
	static uint64_t garbage[COPY_LEN / sizeof(uint64_t)];
	uint64_t pcs[MAX_PCS];

	memset(&regs, 0xa5, sizeof(regs));
	regs.rip = GARBAGE_RIP;
	memset(garbage, 0xa5, sizeof(garbage));
	assert_int_equal(ut_unwind(u, &regs, garbage, sizeof(garbage), pcs, MAX_PCS), 1);
	assert_int_equal(pcs[0], GARBAGE_RIP);
	/* a real pc over a garbage stack: the return address is in no module */
	unwind_run_chain(cfi_a);
	regs = chain_snap.regs;
	assert_int_equal(ut_unwind(u, &regs, garbage, sizeof(garbage), pcs, MAX_PCS), 1);
	/* ... and over a stack pointer that points nowhere, with nothing copied */
	regs.rsp = GARBAGE_WORD;
	assert_int_equal(ut_unwind(u, &regs, NULL, 0, pcs, MAX_PCS), 1);
	ut_unwinder_free(u);
}

static void unwind_stops_at_max(void **state)
{
	struct ut_unwinder *u = self_unwinder();
	uint64_t pcs[MAX_PCS];
	size_t len;

	unwind_run_chain(cfi_a);
	len = min_len(COPY_LEN, chain_snap.len);
	pcs[2] = 0;
	assert_int_equal(ut_unwind(u, &chain_snap.regs, chain_snap.stack, len, pcs, 2), 2);
	assert_int_equal(pcs[1], (uintptr_t)chain_snap.ret[0]);
	assert_int_equal(pcs[2], 0);
	assert_int_equal(ut_unwind(u, &chain_snap.regs, chain_snap.stack, len, pcs, 1), 1);
	assert_int_equal(ut_unwind(u, &chain_snap.regs, chain_snap.stack, len, pcs, 0), 0);
	ut_unwinder_free(u);
}

/* A frame in a library dlopened after the unwinder was made: maps are read again. */
static void unwind_library_loaded_later(void **state)
{
	const char *path = getenv("UTRACE_UNWIND_DL");
	struct ut_unwinder *u = self_unwinder();
	int (*call)(int (*)(int), int);
	const char *func, *module;
	uint64_t pcs[MAX_PCS], offset;
	void *lib;
	int n;

	assert_non_null(path);
	lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	assert_non_null(lib);
	*(void **)&call = dlsym(lib, "unwind_dl_call");
	assert_non_null(call);
	call(cfi_c, 1);
	n = unwind_snap(u, COPY_LEN, pcs);
	assert_true(n >= 3);
	assert_int_equal(pcs[1], (uintptr_t)chain_snap.ret[0]);
	assert_matches_backtrace(pcs, n);
	assert_true(ut_unwinder_symbolize(u, pcs[1], true, &func, &module, &offset));
	assert_string_equal(func, "unwind_dl_call");
	assert_string_equal(module, strrchr(path, '/') + 1);
	dlclose(lib);
	ut_unwinder_free(u);
}

/* A child that waits to be killed, with this process's mappings. */
static pid_t spawn_idle_child(void)
{
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		for (;;)
			pause();
	}
	return pid;
}

/* Killed and left a zombie (not reaped): its maps read empty. */
static void make_zombie(pid_t pid)
{
	siginfo_t si;

	assert_int_equal(kill(pid, SIGKILL), 0);
	assert_int_equal(waitid(P_PID, pid, &si, WEXITED | WNOWAIT), 0);
}

static void assert_unwinds_chain(struct ut_unwinder *u)
{
	uint64_t pcs[MAX_PCS];
	struct ut_unwind_regs regs = { .rip = GARBAGE_RIP };

	/* an address in no mapping makes the unwinder look at the maps again */
	assert_int_equal(ut_unwind(u, &regs, NULL, 0, pcs, MAX_PCS), 1);
	unwind_run_chain(cfi_a);
	assert_chain_returns(pcs, unwind_snap(u, COPY_LEN, pcs));
	assert_chain_symbols(u, pcs, "cfi");
}

/* Once the process is gone, the last mappings read stay in use. */
static void unwind_after_exit(void **state)
{
	pid_t pid = spawn_idle_child();
	struct ut_unwinder *u;

	assert_int_equal(ut_unwinder_new(&u, pid), 0);
	make_zombie(pid);
	assert_unwinds_chain(u);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_unwinds_chain(u);
	ut_unwinder_free(u);
}

/* Nothing to unwind without a live process: an error, not an empty unwinder. */
static void unwind_new_without_process(void **state)
{
	pid_t pid = spawn_idle_child();
	struct ut_unwinder *u = (struct ut_unwinder *)&u; /* not NULL: must be cleared */

	make_zombie(pid);
	assert_int_equal(ut_unwinder_new(&u, pid), -ESRCH);
	assert_null(u);
	assert_int_equal(waitpid(pid, NULL, 0), pid);
	assert_int_equal(ut_unwinder_new(&u, pid), -ESRCH);
	assert_null(u);
	assert_non_null(utrace_error_last());
}

static void unwind_symbolize_outside_symbols(void **state)
{
	struct ut_unwinder *u = self_unwinder();
	const char *func, *module;
	uint64_t offset, base;
	struct ut_modules mods;
	struct ut_maps maps;

	assert_false(ut_unwinder_symbolize(u, GARBAGE_RIP, false, &func, &module, &offset));
	assert_null(func);
	assert_null(module);
	/* the ELF header at the start of this program's first mapping */
	assert_int_equal(utrace_maps_read(getpid(), &maps), 0);
	assert_int_equal(utrace_modules_from_maps(&maps, NULL, &mods), 0);
	base = utrace_modules_find(&mods, (uintptr_t)cfi_c)->first_start;
	assert_false(ut_unwinder_symbolize(u, base + 1, false, &func, &module, &offset));
	assert_null(func);
	assert_string_equal(module, PROG_NAME);
	/* a PIE's link-time addresses start at 0; an executable's are absolute */
	if (((const Elf64_Ehdr *)base)->e_type == ET_DYN)
		assert_int_equal(offset, 1);
	else
		assert_int_equal(offset, base + 1);
	utrace_modules_free(&mods);
	utrace_maps_free(&maps);
	ut_unwinder_free(u);
}

static void find_stack_end(void)
{
	struct ut_maps maps;
	const struct ut_map *m;
	int here;

	if (utrace_maps_read(getpid(), &maps) < 0)
		abort();
	m = utrace_maps_find(&maps, (uintptr_t)&here);
	if (!m)
		abort();
	stack_end = m->end;
	utrace_maps_free(&maps);
}

/*
 * libunwind.so, which libunwind-x86_64 needs, has a backtrace() of its own
 * that the link prefers to libc's: take libc's by name.
 */
static void find_glibc_backtrace(void)
{
	void *libc = dlopen(LIBC_SO, RTLD_NOW | RTLD_NOLOAD);

	if (!libc || !(*(void **)&chain_backtrace = dlsym(libc, "backtrace")))
		abort();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(unwind_cfi_chain),
		cmocka_unit_test(unwind_nofp_chain),
		cmocka_unit_test(unwind_fponly_chain),
		cmocka_unit_test(unwind_short_copy_stops),
		cmocka_unit_test(unwind_garbage_stops_at_first_pc),
		cmocka_unit_test(unwind_stops_at_max),
		cmocka_unit_test(unwind_library_loaded_later),
		cmocka_unit_test(unwind_after_exit),
		cmocka_unit_test(unwind_new_without_process),
		cmocka_unit_test(unwind_symbolize_outside_symbols),
	};

	find_stack_end();
	find_glibc_backtrace();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
