// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/elf/targets.c: branch targets and FDE starts of the
 * fx-targets fixture (a PIE, path in $UTRACE_FX_TARGETS) and of the system
 * libc, the build-id cache and what it refuses, and within()'s bounds.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "symtab.h"
#include "targets.h"

#define LIBC_PATH "/lib/x86_64-linux-gnu/libc.so.6"
#define CACHE_HDR_SIZE 72 /* lib/elf/targets.c's file layout */
#define CACHE_COUNT_OFF 64
#define PATCH_SIZE 5

static char cache_dir[] = "/tmp/utrace-targets-XXXXXX";

struct fixture {
	struct ut_symtab st;
	struct ut_targets t;
	char cache_file[PATH_MAX];
};

static uint64_t sym_addr(const struct ut_symtab *st, const char *name)
{
	for (size_t i = 0; i < st->n; i++)
		if (!strcmp(st->syms[i].name, name))
			return st->syms[i].addr;
	fail_msg("no symbol %s in %s", name, st->path);
	return 0;
}

static bool has_target(const struct ut_targets *t, uint64_t addr)
{
	return utrace_targets_within(t, addr - 1, addr + 1);
}

static void remove_cache_file(const struct fixture *f)
{
	if (unlink(f->cache_file) < 0)
		assert_int_equal(errno, ENOENT);
}

static int fixture_setup(void **state)
{
	const char *path = getenv("UTRACE_FX_TARGETS");
	struct fixture *f = calloc(1, sizeof(*f));

	if (!f || !path || utrace_symtab_load(path, &f->st) < 0)
		return -1;
	snprintf(f->cache_file, sizeof(f->cache_file), "%s/targets-%s.bin", cache_dir,
		 f->st.build_id);
	remove_cache_file(f);
	if (utrace_targets_load(&f->st, &f->t) < 0)
		return -1;
	*state = f;
	return 0;
}

static int fixture_teardown(void **state)
{
	struct fixture *f = *state;

	utrace_targets_free(&f->t);
	utrace_symtab_free(&f->st);
	free(f);
	return 0;
}

static void assert_sorted_unique(const struct ut_targets *t)
{
	for (size_t i = 1; i < t->n; i++)
		assert_true(t->v[i - 1] < t->v[i]);
}

static void targets_fixture_branch_into_second_insn(void **state)
{
	struct fixture *f = *state;
	uint64_t entered = sym_addr(&f->st, "fx_entered");

	assert_true(f->st.is_dyn);
	assert_sorted_unique(&f->t);
	assert_true(has_target(&f->t, entered + 1)); /* jmp fx_entered + 1 */
	assert_true(utrace_targets_within(&f->t, entered, entered + PATCH_SIZE));
}

static void targets_fixture_call_target(void **state)
{
	struct fixture *f = *state;

	assert_true(has_target(&f->t, sym_addr(&f->st, "fx_callee")));
}

/* FDE starts read pc-relative from the PIE's .eh_frame land on the exact link-time addresses. */
static void targets_fixture_fde_starts(void **state)
{
	struct fixture *f = *state;
	uint64_t split = sym_addr(&f->st, "fx_split"), quiet = sym_addr(&f->st, "fx_quiet");

	assert_true(has_target(&f->t, split));
	assert_true(has_target(&f->t, split + 4)); /* the second FDE, no symbol, no branch */
	assert_true(has_target(&f->t, sym_addr(&f->st, "fx_jumper")));
	assert_true(has_target(&f->t, quiet));
	assert_false(utrace_targets_within(&f->t, quiet, quiet + PATCH_SIZE));
	assert_false(has_target(&f->t, split + 2));
	assert_false(has_target(&f->t, quiet + PATCH_SIZE));
}

static void targets_libc_fdes_and_calls(void **state)
{
	struct ut_symtab st;
	struct ut_targets t;
	size_t nfunc = 0;

	assert_int_equal(utrace_symtab_load(LIBC_PATH, &st), 0);
	assert_int_equal(utrace_targets_load(&st, &t), 0);
	assert_sorted_unique(&t);
	assert_true(t.n > 10000);
	/* Nearly every libc function starts an FDE; a broken decoder finds few. */
	for (size_t i = 0; i < st.n; i++)
		nfunc += has_target(&t, st.syms[i].addr);
	assert_true(nfunc > st.n * 9 / 10);
	utrace_targets_free(&t);
	utrace_symtab_free(&st);
}

static void *read_whole(const char *path, size_t *size)
{
	struct stat sb;
	void *buf;
	int fd = open(path, O_RDONLY);

	assert_true(fd >= 0);
	assert_int_equal(fstat(fd, &sb), 0);
	*size = sb.st_size;
	buf = malloc(*size + 1);
	assert_non_null(buf);
	assert_int_equal(read(fd, buf, *size), (ssize_t)*size);
	close(fd);
	return buf;
}

static void write_whole(const char *path, const void *buf, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, size), (ssize_t)size);
	close(fd);
}

static void assert_same_targets(const struct ut_targets *a, const struct ut_targets *b)
{
	assert_int_equal(a->n, b->n);
	assert_memory_equal(a->v, b->v, a->n * sizeof(*a->v));
}

static void targets_cache_round_trip(void **state)
{
	struct fixture *f = *state;
	struct ut_targets again;
	uint64_t *v, extra;
	size_t size;
	char *buf;

	/* fixture_setup scanned with no cache file: it wrote one. */
	buf = read_whole(f->cache_file, &size);
	assert_int_equal(size, CACHE_HDR_SIZE + f->t.n * sizeof(uint64_t));
	assert_memory_equal(buf + CACHE_HDR_SIZE, f->t.v, f->t.n * sizeof(uint64_t));
	assert_int_equal(utrace_targets_load(&f->st, &again), 0);
	assert_same_targets(&again, &f->t);
	utrace_targets_free(&again);

	/* A valid file is used as is: add a target past the end and see it come back. */
	buf = realloc(buf, size + sizeof(uint64_t));
	assert_non_null(buf);
	extra = f->t.v[f->t.n - 1] + 1;
	memcpy(buf + size, &extra, sizeof(extra));
	v = (uint64_t *)(buf + CACHE_COUNT_OFF);
	*v += 1;
	write_whole(f->cache_file, buf, size + sizeof(extra));
	assert_int_equal(utrace_targets_load(&f->st, &again), 0);
	assert_int_equal(again.n, f->t.n + 1);
	assert_true(has_target(&again, extra));
	utrace_targets_free(&again);
	free(buf);
	remove_cache_file(f);
}

enum corruption {
	BAD_MAGIC,
	BAD_VERSION,
	OTHER_BUILD_ID,
	TRUNCATED,
	SHORT_HEADER,
	EXTRA_BYTES,
	COUNT_TOO_BIG,
	UNSORTED,
	DUPLICATE,
	EMPTY_FILE
};

/* Corrupt a copy of the good file bytes; returns the new size. */
static size_t corrupt(char *buf, size_t size, enum corruption how)
{
	uint64_t *v = (uint64_t *)(buf + CACHE_HDR_SIZE),
		 *count = (uint64_t *)(buf + CACHE_COUNT_OFF);

	switch (how) {
	case BAD_MAGIC:
		buf[0] ^= 1;
		return size;
	case BAD_VERSION:
		buf[8] += 1;
		return size;
	case OTHER_BUILD_ID:
		buf[16] = buf[16] == 'a' ? 'b' : 'a';
		return size;
	case TRUNCATED:
		return size - 3;
	case SHORT_HEADER:
		return CACHE_HDR_SIZE - 1;
	case EXTRA_BYTES:
		return size + 8; /* buf has room: count no longer matches */
	case COUNT_TOO_BIG:
		*count = UINT64_MAX / 8;
		return size;
	case UNSORTED:
		v[1] ^= v[2];
		v[2] ^= v[1];
		v[1] ^= v[2];
		return size;
	case DUPLICATE:
		v[2] = v[1];
		return size;
	case EMPTY_FILE:
		return 0;
	}
	return size;
}

static void targets_cache_rejects_bad_files(void **state)
{
	struct fixture *f = *state;
	struct ut_targets t;
	size_t size, size2;
	char *good, *now, *bad;

	assert_int_equal(utrace_targets_load(&f->st, &t), 0);
	utrace_targets_free(&t);
	good = read_whole(f->cache_file, &size);
	assert_true(f->t.n >= 3);
	bad = malloc(size + 8);
	assert_non_null(bad);
	for (int how = BAD_MAGIC; how <= EMPTY_FILE; how++) {
		memcpy(bad, good, size);
		memset(bad + size, 0, 8);
		write_whole(f->cache_file, bad, corrupt(bad, size, how));
		assert_int_equal(utrace_targets_load(&f->st, &t), 0);
		assert_same_targets(&t, &f->t);
		utrace_targets_free(&t);
		/* ... and the scan wrote a good file over it. */
		now = read_whole(f->cache_file, &size2);
		assert_int_equal(size2, size);
		assert_memory_equal(now, good, size);
		free(now);
	}
	free(bad);
	free(good);
}

static void targets_cache_unwritable_is_no_error(void **state)
{
	struct fixture *f = *state;
	struct ut_targets t;
	char *old = strdup(getenv("UTRACE_CACHE_DIR"));

	setenv("UTRACE_CACHE_DIR", "/proc/self/no-such-dir", 1);
	assert_int_equal(utrace_targets_load(&f->st, &t), 0);
	assert_same_targets(&t, &f->t);
	utrace_targets_free(&t);
	setenv("UTRACE_CACHE_DIR", old, 1);
	free(old);
}

static void targets_within_bounds(void **state)
{
	uint64_t v[] = { 10, 20, 30, UINT64_MAX };
	struct ut_targets t = { v, 4 }, empty = { NULL, 0 };

	assert_false(utrace_targets_within(&empty, 0, UINT64_MAX));
	assert_false(utrace_targets_within(&t, 10, 20)); /* both ends excluded */
	assert_false(utrace_targets_within(&t, 10, 11));
	assert_false(utrace_targets_within(&t, 20, 20));
	assert_false(utrace_targets_within(&t, 25, 10)); /* empty range */
	assert_false(utrace_targets_within(&t, 0, 10));
	assert_false(utrace_targets_within(&t, 30, UINT64_MAX));
	assert_true(utrace_targets_within(&t, 9, 11));
	assert_true(utrace_targets_within(&t, 19, 21));
	assert_true(utrace_targets_within(&t, 0, 11));
	assert_true(utrace_targets_within(&t, 29, UINT64_MAX));
	assert_true(utrace_targets_within(&t, 0, UINT64_MAX));
}

static int make_cache_dir(void **state)
{
	return mkdtemp(cache_dir) && !setenv("UTRACE_CACHE_DIR", cache_dir, 1) ? 0 : -1;
}

static int remove_cache_dir(void **state)
{
	char cmd[sizeof(cache_dir) + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", cache_dir);
	return system(cmd) == 0 ? 0 : -1;
}

#define FIXTURE_TEST(fn) cmocka_unit_test_setup_teardown(fn, fixture_setup, fixture_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		FIXTURE_TEST(targets_fixture_branch_into_second_insn),
		FIXTURE_TEST(targets_fixture_call_target),
		FIXTURE_TEST(targets_fixture_fde_starts),
		cmocka_unit_test(targets_libc_fdes_and_calls),
		FIXTURE_TEST(targets_cache_round_trip),
		FIXTURE_TEST(targets_cache_rejects_bad_files),
		FIXTURE_TEST(targets_cache_unwritable_is_no_error),
		cmocka_unit_test(targets_within_bounds),
	};

	return cmocka_run_group_tests(tests, make_cache_dir, remove_cache_dir);
}
