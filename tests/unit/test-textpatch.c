// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/control/textpatch.c: ut_text_write() into this very process
 * (utrace_mem_read/write reach our own memory through process_vm_readv and
 * /proc/self/mem), on pages mapped here: read-write ones, a read-only
 * executable one (which /proc/PID/mem still writes, as on a tracee's text),
 * and holes unmapped on purpose.
 *
 * Patches whose pages touch or adjoin form one run, read and written whole:
 * a run that reaches an unmapped page fails as a whole, and the others are
 * written all the same.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "textpatch.h"

#define PAGE 4096
#define NPAGES 12
#define FILL 0x5a /* every byte of the mapping before a test writes */

static unsigned char *pages;

static uint64_t at(size_t page, size_t off)
{
	return (uint64_t)(uintptr_t)(pages + page * PAGE + off);
}

static const uint8_t new_bytes[] = { 0xe9, 0x11, 0x22, 0x33, 0x44, 0xcc, 0xcc };
static const uint8_t old_bytes[] = { FILL, FILL, FILL, FILL, FILL, FILL, FILL };
static const uint8_t other_bytes[] = { 0x55, 0x48, 0x89, 0xe5, 0x53, 0x90, 0x90 };

static struct ut_text_patch patch(uint64_t addr, size_t len)
{
	assert_true(len <= sizeof(new_bytes));
	return (struct ut_text_patch){
		.addr = addr,
		.bytes = new_bytes,
		.expect = old_bytes,
		.len = len,
	};
}

/* Every byte of the mapping is FILL, except those of the patches marked done. */
static void assert_only_done_written(const struct ut_text_patch *v, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < NPAGES * PAGE; i++) {
		uint64_t a = at(0, i);

		while (k < n && a >= v[k].addr + v[k].len)
			k++;
		if (k < n && a >= v[k].addr && v[k].done) {
			if (pages[i] != v[k].bytes[a - v[k].addr])
				fail_msg("patch %zu: byte %#zx not written", k, i);
		} else if (pages[i] != FILL) {
			fail_msg("byte %#zx (page %zu) written: %#x", i, i / PAGE, pages[i]);
		}
	}
}

static int map_pages(void **state)
{
	pages = mmap(NULL, NPAGES * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		     0);
	if (pages == MAP_FAILED)
		return -1;
	memset(pages, FILL, NPAGES * PAGE);
	return 0;
}

static int unmap_pages(void **state)
{
	return munmap(pages, NPAGES * PAGE);
}

static void textpatch_none(void **state)
{
	assert_int_equal(ut_text_write(getpid(), NULL, 0), 0);
	assert_only_done_written(NULL, 0);
}

static void textpatch_one_page(void **state)
{
	struct ut_text_patch v[] = {
		patch(at(3, 0), 5), /* the page's first bytes */
		patch(at(3, 100), 1), /* one byte */
		patch(at(3, 105), 7), /* 4 bytes after the previous one */
		patch(at(3, PAGE - 5), 5), /* its last bytes */
	};

	assert_int_equal(ut_text_write(getpid(), v, 4), 0);
	for (size_t i = 0; i < 4; i++)
		assert_true(v[i].done);
	assert_only_done_written(v, 4);
}

/* Adjacent pages, a patch across a page boundary: one run over three pages. */
static void textpatch_adjacent_pages(void **state)
{
	struct ut_text_patch v[] = {
		patch(at(1, 17), 5), /* page 1 */
		patch(at(2, PAGE - 2), 5), /* pages 2 and 3 */
		patch(at(4, 0), 5), /* page 4 adjoins page 3 */
	};

	assert_int_equal(ut_text_write(getpid(), v, 3), 0);
	for (size_t i = 0; i < 3; i++)
		assert_true(v[i].done);
	assert_only_done_written(v, 3);
}

/* Pages far apart: several runs. */
static void textpatch_far_pages(void **state)
{
	struct ut_text_patch v[] = {
		patch(at(0, 8), 5),
		patch(at(0, 64), 5),
		patch(at(5, 300), 5),
		patch(at(NPAGES - 1, PAGE - 5), 5),
	};

	assert_int_equal(ut_text_write(getpid(), v, 4), 0);
	for (size_t i = 0; i < 4; i++)
		assert_true(v[i].done);
	assert_only_done_written(v, 4);
}

/* Bytes that are not the expected ones (another tracer's) are left alone. */
static void textpatch_unexpected_bytes_skipped(void **state)
{
	struct ut_text_patch v[] = {
		patch(at(2, 0), 5), /* written */
		patch(at(2, 40), 5), /* skipped */
		patch(at(3, 10), 5), /* same run, written */
		patch(at(8, 0), 5), /* a run of its own, all skipped */
	};

	v[1].expect = other_bytes;
	v[3].expect = other_bytes;
	assert_int_equal(ut_text_write(getpid(), v, 4), 0);
	assert_true(v[0].done);
	assert_false(v[1].done);
	assert_true(v[2].done);
	assert_false(v[3].done);
	assert_only_done_written(v, 4);
	/* one expected byte differs: skipped as well */
	memset(pages, FILL, NPAGES * PAGE);
	v[0] = patch(at(6, 0), 5);
	pages[6 * PAGE + 4] = 0x90;
	assert_int_equal(ut_text_write(getpid(), v, 1), 0);
	assert_false(v[0].done);
	assert_int_equal(pages[6 * PAGE], FILL);
	pages[6 * PAGE + 4] = FILL;
	assert_only_done_written(v, 1);
}

/* Written over a read-only executable page, as on a tracee's text. */
static void textpatch_read_exec_page(void **state)
{
	struct ut_text_patch v[] = {
		patch(at(7, 0), 5), /* read-only, executable */
		patch(at(7, PAGE - 7), 7), /* the same page's end */
		patch(at(9, 1000), 5), /* read-write, a run of its own */
	};

	int e;

	assert_int_equal(mprotect(pages + 7 * PAGE, PAGE, PROT_READ | PROT_EXEC), 0);
	e = ut_text_write(getpid(), v, 3);
	/* writable again before any assertion can return: the next test refills it */
	assert_int_equal(mprotect(pages + 7 * PAGE, PAGE, PROT_READ | PROT_WRITE), 0);
	assert_int_equal(e, 0);
	for (size_t i = 0; i < 3; i++)
		assert_true(v[i].done);
	assert_only_done_written(v, 3);
}

/*
 * A run that reaches an unmapped page fails as a whole (its patches not done,
 * its mapped bytes untouched); the runs before and after it are written.
 */
static void textpatch_unmapped_run_fails_alone(void **state)
{
	struct ut_text_patch v[] = {
		patch(at(0, 0), 5), /* run 1 */
		patch(at(3, 200), 5), /* run 2: pages 3, 4 (mapped) and 5 (unmapped) */
		patch(at(4, 10), 5), /* run 2 */
		patch(at(5, 10), 5), /* run 2, on the hole */
		patch(at(8, 0), 5), /* run 3 */
		patch(at(10, PAGE - 3), 5), /* run 4: pages 10 and 11 */
	};
	int e;

	assert_int_equal(munmap(pages + 5 * PAGE, PAGE), 0);
	e = ut_text_write(getpid(), v, 6);
	/* put the hole back before any assertion can return */
	assert_ptr_equal(mmap(pages + 5 * PAGE, PAGE, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
			 pages + 5 * PAGE);
	memset(pages + 5 * PAGE, FILL, PAGE);
	assert_int_equal(e, -EFAULT);
	assert_true(v[0].done);
	assert_false(v[1].done);
	assert_false(v[2].done);
	assert_false(v[3].done);
	assert_true(v[4].done);
	assert_true(v[5].done);
	assert_only_done_written(v, 6);
}

/* The hole at a run's first page, and two failing runs: the first error is returned. */
static void textpatch_unmapped_first_page(void **state)
{
	struct ut_text_patch v[] = {
		patch(at(2, 0), 5), /* run 1: unmapped */
		patch(at(4, 0), 5), /* run 2 */
		patch(at(6, 50), 5), /* run 3: unmapped */
		patch(at(9, 0), 5), /* run 4 */
	};
	int e;

	assert_int_equal(munmap(pages + 2 * PAGE, PAGE), 0);
	assert_int_equal(munmap(pages + 6 * PAGE, PAGE), 0);
	e = ut_text_write(getpid(), v, 4);
	for (size_t p = 2; p <= 6; p += 4) {
		assert_ptr_equal(mmap(pages + p * PAGE, PAGE, PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
				 pages + p * PAGE);
		memset(pages + p * PAGE, FILL, PAGE);
	}
	assert_int_equal(e, -EFAULT);
	assert_false(v[0].done);
	assert_true(v[1].done);
	assert_false(v[2].done);
	assert_true(v[3].done);
	assert_only_done_written(v, 4);
}

/*
 * A run that is read but cannot be written (a shared read-only file mapping,
 * which even a forced write refuses): its patches, matched and copied into
 * the run's buffer, are not done after all.
 */
static void textpatch_unwritable_run_not_done(void **state)
{
	char path[] = "/tmp/utrace-textpatch-XXXXXX";
	unsigned char *ro, buf[PAGE];
	int fd = mkstemp(path), e;
	struct ut_text_patch v[3];

	assert_true(fd >= 0);
	memset(buf, FILL, sizeof(buf));
	assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
	fd = open(path, O_RDONLY);
	unlink(path);
	assert_true(fd >= 0);
	ro = mmap(NULL, PAGE, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	assert_true(ro != MAP_FAILED);
	v[0] = patch((uint64_t)(uintptr_t)ro, 5);
	v[1] = patch((uint64_t)(uintptr_t)ro + 64, 5);
	v[2] = patch(at(1, 0), 5);
	if (v[2].addr < v[0].addr) { /* sorted by address */
		struct ut_text_patch t = v[2];

		v[2] = v[1];
		v[1] = v[0];
		v[0] = t;
	}
	e = ut_text_write(getpid(), v, 3);
	assert_true(e < 0);
	for (size_t i = 0; i < 3; i++)
		assert_int_equal(v[i].done, v[i].addr == at(1, 0));
	assert_memory_equal(ro, buf, PAGE);
	assert_int_equal(munmap(ro, PAGE), 0);
	assert_only_done_written(v[0].addr == at(1, 0) ? v : v + 2, 1);
}

static int refill(void **state)
{
	memset(pages, FILL, NPAGES * PAGE);
	return 0;
}

#define TEXTPATCH_TEST(fn) cmocka_unit_test_setup(fn, refill)

int main(void)
{
	const struct CMUnitTest tests[] = {
		TEXTPATCH_TEST(textpatch_none),
		TEXTPATCH_TEST(textpatch_one_page),
		TEXTPATCH_TEST(textpatch_adjacent_pages),
		TEXTPATCH_TEST(textpatch_far_pages),
		TEXTPATCH_TEST(textpatch_unexpected_bytes_skipped),
		TEXTPATCH_TEST(textpatch_read_exec_page),
		TEXTPATCH_TEST(textpatch_unmapped_run_fails_alone),
		TEXTPATCH_TEST(textpatch_unmapped_first_page),
		TEXTPATCH_TEST(textpatch_unwritable_run_not_done),
	};

	return cmocka_run_group_tests(tests, map_pages, unmap_pages);
}
