// SPDX-License-Identifier: MIT
/* Unit tests for lib/elf/maps.c: /proc/PID/maps parsing, modules, gap search. */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "maps.h"

/* A PIE run from a path with a space, with odd neighbours of every kind. */
static const char sample[] =
	"555555554000-555555556000 r--p 00000000 fe:00 1001                       /opt/my app/bin/prog\n"
	"555555556000-555555558000 r-xp 00002000 fe:00 1001                       /opt/my app/bin/prog\n"
	"555555558000-555555559000 r--p 00004000 fe:00 1001                       /opt/my app/bin/prog\n"
	"555555559000-55555555a000 rw-p 00005000 fe:00 1001                       /opt/my app/bin/prog\n"
	"55555555a000-55555557b000 rw-p 00000000 00:00 0                          [heap]\n"
	"7ffff7c00000-7ffff7c01000 rw-s 00000000 00:01 2048                       /memfd:utrace-data (deleted)\n"
	"7ffff7d00000-7ffff7d01000 rw-s 00000000 00:05 3                          /dev/zero (deleted)\n"
	"7ffff7d80000-7ffff7d81000 r--s 00000000 00:17 77                         /dev/shm/sem.x\n"
	"7ffff7d90000-7ffff7d91000 r-xp 00000000 fe:00 4040                       /tmp/old plugin.so (deleted)\n"
	"7ffff7da0000-7ffff7dc3000 rw-p 00000000 00:00 0 \n"
	"7ffff7dc3000-7ffff7de9000 r--p 00000000 fe:00 332835                     /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7ffff7de9000-7ffff7f3f000 r-xp 00026000 fe:00 332835                     /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7ffff7f3f000-7ffff7f92000 r--p 0017c000 fe:00 332835                     /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7ffff7f92000-7ffff7f96000 r--p 001cf000 fe:00 332835                     /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7ffff7f96000-7ffff7f98000 rw-p 001d3000 fe:00 332835                     /usr/lib/x86_64-linux-gnu/libc.so.6\n"
	"7ffff7fc1000-7ffff7fc5000 r--p 00000000 00:00 0                          [vvar]\n"
	"7ffff7fc5000-7ffff7fc7000 r-xp 00000000 00:00 0                          [vdso]\n"
	"7ffff7fc7000-7ffff7fc8000 r--p 00000000 fe:00 332383                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2\n"
	"7ffff7fc8000-7ffff7fee000 r-xp 00001000 fe:00 332383                     /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2\n"
	"7ffffffde000-7ffffffff000 rw-p 00000000 00:00 0                          [stack]\n"
	"ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]\n";

#define SAMPLE_LINES 21
#define PROG "/opt/my app/bin/prog"
#define LIBC "/usr/lib/x86_64-linux-gnu/libc.so.6"
#define LDSO "/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"

/* Lowest and highest addresses the gap search may use. */
#define MIN_ADDR 0x10000ULL
#define USER_END 0x7ffffffff000ULL
#define GAP_LEN 0x10000ULL
#define PAGE 0x1000ULL

static void parse_ok(const char *text, struct ut_maps *maps)
{
	assert_int_equal(utrace_maps_parse(text, maps), 0);
}

static void maps_parse_fields(void **state)
{
	struct ut_maps maps;
	const struct ut_map *m;

	parse_ok(sample, &maps);
	assert_int_equal(maps.n, SAMPLE_LINES);

	m = &maps.v[1];
	assert_int_equal(m->start, 0x555555556000ULL);
	assert_int_equal(m->end, 0x555555558000ULL);
	assert_int_equal(m->offset, 0x2000);
	assert_int_equal(m->inode, 1001);
	assert_int_equal(m->prot, PROT_READ | PROT_EXEC);
	assert_false(m->shared);
	assert_string_equal(m->path, PROG);

	m = &maps.v[5];
	assert_int_equal(m->prot, PROT_READ | PROT_WRITE);
	assert_true(m->shared);
	assert_string_equal(m->path, "/memfd:utrace-data (deleted)");

	m = &maps.v[20];
	assert_int_equal(m->start, 0xffffffffff600000ULL);
	assert_int_equal(m->end, 0xffffffffff601000ULL);
	assert_int_equal(m->prot, PROT_EXEC);
	assert_string_equal(m->path, "[vsyscall]");
	utrace_maps_free(&maps);
	assert_null(maps.v);
	assert_int_equal(maps.n, 0);
}

static void maps_parse_odd_paths(void **state)
{
	struct ut_maps maps;

	parse_ok(sample, &maps);
	assert_string_equal(maps.v[4].path, "[heap]");
	assert_string_equal(maps.v[6].path, "/dev/zero (deleted)");
	assert_string_equal(maps.v[8].path, "/tmp/old plugin.so (deleted)");
	/* Anonymous: the kernel pads with a blank and prints no path. */
	assert_string_equal(maps.v[9].path, "");
	assert_int_equal(maps.v[9].inode, 0);
	assert_string_equal(maps.v[15].path, "[vvar]");
	assert_string_equal(maps.v[16].path, "[vdso]");
	assert_string_equal(maps.v[19].path, "[stack]");
	utrace_maps_free(&maps);
}

static void maps_parse_sorts_and_skips_blank_lines(void **state)
{
	struct ut_maps maps;

	parse_ok("2000-3000 r--p 00000000 00:00 0 [b]\n\n1000-2000 r--p 00000000 00:00 0 [a]",
		 &maps);
	assert_int_equal(maps.n, 2);
	assert_int_equal(maps.v[0].start, 0x1000);
	assert_string_equal(maps.v[0].path, "[a]");
	assert_string_equal(maps.v[1].path, "[b]");
	utrace_maps_free(&maps);

	parse_ok("", &maps);
	assert_int_equal(maps.n, 0);
	utrace_maps_free(&maps);
}

static void maps_parse_rejects_garbage(void **state)
{
	struct ut_maps maps = { 0 };

	utrace_error_clear();
	assert_int_equal(utrace_maps_parse("1000-2000 r-xp 0\n3000-4000 r-xp 0 00:00 0\n", &maps),
			 -EINVAL);
	assert_non_null(utrace_error_last());
	assert_non_null(strstr(utrace_error_last(), "'1000-2000 r-xp 0'"));
	assert_int_equal(utrace_maps_parse("2000-1000 r-xp 00000000 00:00 0\n", &maps), -EINVAL);
	assert_int_equal(utrace_maps_parse("hello\n", &maps), -EINVAL);
	assert_null(maps.v);
}

static void maps_find_by_address(void **state)
{
	struct ut_maps maps;

	parse_ok(sample, &maps);
	assert_ptr_equal(utrace_maps_find(&maps, 0x555555554000ULL), &maps.v[0]);
	assert_ptr_equal(utrace_maps_find(&maps, 0x555555555fffULL), &maps.v[0]);
	assert_ptr_equal(utrace_maps_find(&maps, 0x555555556000ULL), &maps.v[1]);
	assert_ptr_equal(utrace_maps_find(&maps, 0x7ffffffff000ULL - 1), &maps.v[19]);
	assert_null(utrace_maps_find(&maps, 0x555555553fffULL));
	assert_null(utrace_maps_find(&maps, 0x7ffff7f98000ULL)); /* end is exclusive */
	assert_null(utrace_maps_find(&maps, 0));
	utrace_maps_free(&maps);
}

static void maps_read_self(void **state)
{
	struct ut_maps maps;
	const struct ut_map *m;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	assert_true(n > 0);
	exe[n] = '\0';
	assert_int_equal(utrace_maps_read(getpid(), &maps), 0);
	m = utrace_maps_find(&maps, (uint64_t)(uintptr_t)maps_read_self);
	assert_non_null(m);
	assert_string_equal(m->path, exe);
	assert_int_equal(m->prot, PROT_READ | PROT_EXEC);
	utrace_maps_free(&maps);
}

static void maps_read_missing_process(void **state)
{
	struct ut_maps maps = { 0 };

	utrace_error_clear();
	/* Above any pid_max: no such process. */
	assert_int_equal(utrace_maps_read(INT_MAX, &maps), -ENOENT);
	assert_string_equal(utrace_error_last(),
			    "cannot open /proc/2147483647/maps: No such file or directory");
}

static void modules_group_sample(void **state)
{
	struct ut_maps maps;
	struct ut_modules mods;
	const struct ut_module *m;

	parse_ok(sample, &maps);
	assert_int_equal(utrace_modules_from_maps(&maps, PROG, &mods), 0);
	/* No memfd, /dev, deleted file, anonymous or [special] mapping. */
	assert_int_equal(mods.n, 3);

	m = &mods.v[0];
	assert_string_equal(m->path, PROG);
	assert_string_equal(m->name, "prog");
	assert_int_equal(m->lo, 0x555555554000ULL);
	assert_int_equal(m->hi, 0x55555555a000ULL);
	assert_int_equal(m->first_start, 0x555555554000ULL);
	assert_int_equal(m->first_offset, 0);
	assert_true(m->is_main);

	m = &mods.v[1];
	assert_string_equal(m->path, LIBC);
	assert_string_equal(m->name, "libc.so.6");
	assert_int_equal(m->lo, 0x7ffff7dc3000ULL);
	assert_int_equal(m->hi, 0x7ffff7f98000ULL);
	assert_false(m->is_main);

	m = &mods.v[2];
	assert_string_equal(m->path, LDSO);
	assert_string_equal(m->name, "ld-linux-x86-64.so.2");
	assert_int_equal(m->hi, 0x7ffff7fee000ULL);
	assert_false(m->is_main);

	assert_ptr_equal(utrace_modules_find(&mods, 0x7ffff7de9123ULL), &mods.v[1]);
	assert_null(utrace_modules_find(&mods, 0x55555555a000ULL));
	utrace_modules_free(&mods);
	assert_null(mods.v);

	assert_int_equal(utrace_modules_from_maps(&maps, NULL, &mods), 0);
	assert_false(mods.v[0].is_main);
	utrace_modules_free(&mods);
	utrace_maps_free(&maps);
}

static void modules_first_mapping_is_lowest_offset(void **state)
{
	struct ut_maps maps;
	struct ut_modules mods;

	/* Offset 0 mapped above offset 0x1000 (e.g. a loader that maps segments itself). */
	parse_ok("10000000-10001000 r-xp 00001000 fe:00 9 /lib/odd.so\n"
		 "10002000-10003000 r--p 00000000 fe:00 9 /lib/odd.so\n"
		 "10004000-10005000 rw-p 00002000 fe:00 9 /lib/odd.so\n",
		 &maps);
	assert_int_equal(utrace_modules_from_maps(&maps, "/bin/other", &mods), 0);
	assert_int_equal(mods.n, 1);
	assert_int_equal(mods.v[0].lo, 0x10000000);
	assert_int_equal(mods.v[0].hi, 0x10005000);
	assert_int_equal(mods.v[0].first_start, 0x10002000);
	assert_int_equal(mods.v[0].first_offset, 0);
	utrace_modules_free(&mods);
	utrace_maps_free(&maps);
}

static uint64_t gap_in(const char *text, uint64_t lo, uint64_t hi, uint64_t len, uint64_t brk_lo,
		       uint64_t brk_hi)
{
	struct ut_maps maps;
	uint64_t gap;

	parse_ok(text, &maps);
	gap = utrace_maps_find_gap(&maps, lo, hi, len, brk_lo, brk_hi);
	utrace_maps_free(&maps);
	return gap;
}

/* The free space above the module is closer than the one below it. */
static void maps_gap_prefers_nearest(void **state)
{
	static const char text[] = "7effffe00000-7f0000000000 r-xp 00000000 fe:00 1 /lib/a.so\n"
				   "7f0000000000-7f0000200000 r-xp 00000000 fe:00 2 /lib/m.so\n"
				   "7f0000200000-7f0000300000 r-xp 00000000 fe:00 3 /lib/b.so\n";

	assert_int_equal(gap_in(text, 0x7f0000000000ULL, 0x7f0000200000ULL, GAP_LEN, 0, 0),
			 0x7f0000301000ULL);
	/* Below is nearer when a.so is small: the highest start below a.so's guard page. */
	assert_int_equal(gap_in("7effffff0000-7f0000000000 r-xp 00000000 fe:00 1 /lib/a.so\n"
				"7f0000000000-7f0000200000 r-xp 00000000 fe:00 2 /lib/m.so\n"
				"7f0000200000-7f0000300000 r-xp 00000000 fe:00 3 /lib/b.so\n",
				0x7f0000000000ULL, 0x7f0000200000ULL, GAP_LEN, 0, 0),
			 0x7effffff0000ULL - PAGE - GAP_LEN);
}

static void maps_gap_keeps_guard_pages(void **state)
{
	static const char fits[] = "1000000-10000000 rw-p 00000000 00:00 0\n"
				   "10000000-10100000 r-xp 00000000 fe:00 2 /lib/m.so\n"
				   "10100000-10200000 rw-p 00000000 00:00 0\n"
				   "10212000-10300000 rw-p 00000000 00:00 0\n"
				   "10300000-7f0000000000 rw-p 00000000 00:00 0\n";
	static const char too_small[] = "1000000-10000000 rw-p 00000000 00:00 0\n"
					"10000000-10100000 r-xp 00000000 fe:00 2 /lib/m.so\n"
					"10100000-10200000 rw-p 00000000 00:00 0\n"
					"10211000-10300000 rw-p 00000000 00:00 0\n"
					"10300000-7f0000000000 rw-p 00000000 00:00 0\n";

	/* The hole [0x10200000, 0x10212000) is exactly a guard page + 64 KiB + a guard page. */
	assert_int_equal(gap_in(fits, 0x10000000, 0x10100000, GAP_LEN, 0, 0), 0x10201000);
	/* One page less: only the space below the module remains. */
	assert_int_equal(gap_in(too_small, 0x10000000, 0x10100000, GAP_LEN, 0, 0),
			 0x1000000 - PAGE - GAP_LEN);
	/* A length that is not a page multiple is rounded up to one. */
	assert_int_equal(gap_in(fits, 0x10000000, 0x10100000, GAP_LEN - 1, 0, 0), 0x10201000);
	assert_int_equal(gap_in(fits, 0x10000000, 0x10100000, 0, 0, 0), 0);
}

static void maps_gap_none_within_reach(void **state)
{
	static const char text[] = "100000000-200000000 rw-p 00000000 00:00 0\n"
				   "200000000-200100000 r-xp 00000000 fe:00 2 /lib/m.so\n"
				   "200100000-300000000 rw-p 00000000 00:00 0\n";

	assert_int_equal(gap_in(text, 0x200000000ULL, 0x200100000ULL, GAP_LEN, 0, 0), 0);
}

/* Every byte of the gap must reach every byte of the module: clip at the far end. */
static void maps_gap_clipped_to_reach(void **state)
{
	static const char above[] = "100000000-200000000 rw-p 00000000 00:00 0\n"
				    "200000000-200100000 r-xp 00000000 fe:00 2 /lib/m.so\n"
				    "200100000-27ffe8000 rw-p 00000000 00:00 0\n";
	static const char below[] = "180119000-200000000 rw-p 00000000 00:00 0\n"
				    "200000000-200100000 r-xp 00000000 fe:00 2 /lib/m.so\n"
				    "200100000-300000000 rw-p 00000000 00:00 0\n";

	/* Reach ends at lo + 0x7fff0000 = 0x27fff0000; free space starts at 0x27ffe9000. */
	assert_int_equal(gap_in(above, 0x200000000ULL, 0x200100000ULL, 0x7000, 0, 0),
			 0x27ffe9000ULL);
	assert_int_equal(gap_in(above, 0x200000000ULL, 0x200100000ULL, 0x8000, 0, 0), 0);
	/* Reach begins at hi - 1 - 0x7fff0000 = 0x18010ffff, page-aligned 0x180110000. */
	assert_int_equal(gap_in(below, 0x200000000ULL, 0x200100000ULL, 0x8000, 0, 0),
			 0x180110000ULL);
	assert_int_equal(gap_in("180118000-200000000 rw-p 00000000 00:00 0\n"
				"200000000-200100000 r-xp 00000000 fe:00 2 /lib/m.so\n"
				"200100000-300000000 rw-p 00000000 00:00 0\n",
				0x200000000ULL, 0x200100000ULL, 0x8000, 0, 0),
			 0);
}

static void maps_gap_avoids_brk_range(void **state)
{
	static const char text[] = "555400000000-555555554000 rw-p 00000000 00:00 0\n"
				   "555555554000-555555559000 r-xp 00000000 fe:00 2 /bin/prog\n"
				   "555555559000-55555557a000 rw-p 00000000 00:00 0 [heap]\n"
				   "7ff000000000-7ff000001000 rw-p 00000000 00:00 0\n";
	const uint64_t brk_lo = 0x555555559000ULL, brk_hi = brk_lo + (1ULL << 30);

	/* Without a brk range the gap would follow the heap mapping. */
	assert_int_equal(gap_in(text, 0x555555554000ULL, 0x555555559000ULL, GAP_LEN, 0, 0),
			 0x55555557b000ULL);
	assert_int_equal(
		gap_in(text, 0x555555554000ULL, 0x555555559000ULL, GAP_LEN, brk_lo, brk_hi),
		brk_hi + PAGE);
}

static void maps_gap_avoids_stack_growth(void **state)
{
	static const char text[] = "7fffa0000000-7ffff7f00000 rw-p 00000000 00:00 0\n"
				   "7ffff7f00000-7ffff7ff0000 r-xp 00000000 fe:00 2 /lib/m.so\n"
				   "7ffffffdd000-7ffffffff000 rw-p 00000000 00:00 0 [stack]\n";

	/* 128 MiB below the stack's top stay free for it; the space below is the rest. */
	assert_int_equal(gap_in(text, 0x7ffff7f00000ULL, 0x7ffff7ff0000ULL, GAP_LEN, 0, 0),
			 0x7fffa0000000ULL - PAGE - GAP_LEN);
	/* A smaller area fits between the module's guard page and the stack's room. */
	assert_int_equal(gap_in(text, 0x7ffff7f00000ULL, 0x7ffff7ff0000ULL, 0xc000, 0, 0),
			 0x7ffff7ff1000ULL);
}

static void maps_gap_stays_in_user_range(void **state)
{
	/* Only [0, 0xf000) is free below: under mmap_min_addr. */
	assert_int_equal(gap_in("10000-11000 r-xp 00000000 fe:00 2 /bin/low\n"
				"11000-80000000000 rw-p 00000000 00:00 0\n",
				0x10000, 0x11000, PAGE, 0, 0),
			 0);
	/* Only 0xe000 bytes are free below the top of the user address space. */
	assert_int_equal(gap_in("7ff000000000-7ffffff00000 rw-p 00000000 00:00 0\n"
				"7ffffff00000-7fffffff0000 r-xp 00000000 fe:00 2 /lib/top.so\n",
				0x7ffffff00000ULL, 0x7fffffff0000ULL, GAP_LEN, 0, 0),
			 0);
	assert_int_equal(gap_in("7ff000000000-7ffffff00000 rw-p 00000000 00:00 0\n"
				"7ffffff00000-7fffffff0000 r-xp 00000000 fe:00 2 /lib/top.so\n",
				0x7ffffff00000ULL, 0x7fffffff0000ULL, 0xe000, 0, 0),
			 0x7fffffff1000ULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(maps_parse_fields),
		cmocka_unit_test(maps_parse_odd_paths),
		cmocka_unit_test(maps_parse_sorts_and_skips_blank_lines),
		cmocka_unit_test(maps_parse_rejects_garbage),
		cmocka_unit_test(maps_find_by_address),
		cmocka_unit_test(maps_read_self),
		cmocka_unit_test(maps_read_missing_process),
		cmocka_unit_test(modules_group_sample),
		cmocka_unit_test(modules_first_mapping_is_lowest_offset),
		cmocka_unit_test(maps_gap_prefers_nearest),
		cmocka_unit_test(maps_gap_keeps_guard_pages),
		cmocka_unit_test(maps_gap_none_within_reach),
		cmocka_unit_test(maps_gap_clipped_to_reach),
		cmocka_unit_test(maps_gap_avoids_brk_range),
		cmocka_unit_test(maps_gap_avoids_stack_growth),
		cmocka_unit_test(maps_gap_stays_in_user_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
