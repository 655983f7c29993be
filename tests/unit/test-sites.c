// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/elf/sites.c on the fx-sites fixtures, one per way of making
 * entry sites (paths in $UTRACE_FX_SITES_*): the sites found must be exactly
 * the fixture's C functions, each at its start or just past its endbr64.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch.h"
#include "sites.h"
#include "symtab.h"

#define SITE_FUNC_PREFIX "fx_site_"
#define ENDBR64_SIZE 4

/* The C functions of fx-sites.c, each compiled with an entry site. */
static bool is_fixture_func(const char *name)
{
	return !strncmp(name, SITE_FUNC_PREFIX, strlen(SITE_FUNC_PREFIX)) || !strcmp(name, "main");
}

/* Where each fixture function's site must be: past an endbr64, as arch_patch_offset() says. */
static size_t expected_sites(const struct ut_symtab *st, uint64_t *want, size_t max,
			     size_t *past_endbr)
{
	uint8_t code[ARCH_INSN_MAX];
	size_t n = 0, off;
	long len;

	*past_endbr = 0;
	for (size_t i = 0; i < st->n; i++) {
		if (!is_fixture_func(st->syms[i].name))
			continue;
		len = utrace_symtab_read(st, st->syms[i].addr, code, sizeof(code));
		assert_true(len > 0);
		off = arch_patch_offset(code, (size_t)len);
		*past_endbr += off == ENDBR64_SIZE;
		assert_true(n < max);
		want[n++] = st->syms[i].addr + off;
	}
	return n;
}

static int addr_cmp(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;

	return a < b ? -1 : a > b;
}

/*
 * Load the fixture named by env and compare its sites with its functions.
 * Returns how many sites were past an endbr64.
 */
static size_t check_fixture(const char *env, bool optional)
{
	const char *path = getenv(env);
	struct ut_symtab st;
	struct ut_targets sites;
	uint64_t want[16];
	size_t nwant, past_endbr;

	if (!path && optional) {
		print_message("skipped: no %s (its linker is not installed)\n", env);
		skip();
	}
	assert_non_null(path);
	assert_int_equal(utrace_symtab_load(path, &st), 0);
	nwant = expected_sites(&st, want, sizeof(want) / sizeof(want[0]), &past_endbr);
	assert_int_equal(nwant, 4); /* fx_site_a, fx_site_b, fx_site_local, main */
	qsort(want, nwant, sizeof(want[0]), addr_cmp);
	assert_int_equal(utrace_entry_sites_load(&st, &sites), 0);
	for (size_t i = 0; i < sites.n && i < nwant; i++)
		if (sites.v[i] != want[i])
			fail_msg("%s: site %zu at %#" PRIx64 ", want %#" PRIx64, path, i,
				 sites.v[i], want[i]);
	assert_int_equal(sites.n, nwant);
	utrace_targets_free(&sites);
	utrace_symtab_free(&st);
	return past_endbr;
}

static void sites_pfe_pie(void **state)
{
	assert_int_equal(check_fixture("UTRACE_FX_SITES_PFE_PIE", false), 0);
}

static void sites_pfe_nopie(void **state)
{
	assert_int_equal(check_fixture("UTRACE_FX_SITES_PFE_NOPIE", false), 0);
}

/* lld leaves the relocated words 0: the sites come from the RELATIVE addends. */
static void sites_pfe_pie_zero_words_use_relocations(void **state)
{
	check_fixture("UTRACE_FX_SITES_PFE_LLD", true);
}

static void sites_pfe_after_endbr64(void **state)
{
	/* fx_site_local is static and never called indirectly: gcc gives it no endbr64. */
	assert_int_equal(check_fixture("UTRACE_FX_SITES_PFE_CET", false), 3);
}

/* __mcount_loc also names fx_plain_asm, an ordinary prologue: dropped. */
static void sites_fentry_nop5_and_bogus_dropped(void **state)
{
	check_fixture("UTRACE_FX_SITES_FENTRY_NOP", false);
}

static void sites_fentry_call(void **state)
{
	check_fixture("UTRACE_FX_SITES_FENTRY_CALL", false);
}

static void sites_none_without_sections(void **state)
{
	struct ut_symtab st;
	struct ut_targets sites;
	const char *path = getenv("UTRACE_FX_TARGETS");

	assert_non_null(path);
	assert_int_equal(utrace_symtab_load(path, &st), 0);
	assert_int_equal(utrace_entry_sites_load(&st, &sites), 0);
	assert_int_equal(sites.n, 0);
	utrace_targets_free(&sites);
	utrace_symtab_free(&st);
}

static void sites_entry_site_bytes(void **state)
{
	static const uint8_t nops[] = { 0x90, 0x90, 0x90, 0x90, 0x90 }; /* nop x5 */
	static const uint8_t nop5[] = { 0x0f, 0x1f, 0x44, 0x00, 0x00 }; /* nopl 0(%rax,%rax,1) */
	static const uint8_t call[] = { 0xe8, 0x10, 0x20, 0x30, 0x40 }; /* call rel32 */
	static const uint8_t push[] = { 0x55, 0x48, 0x89, 0xe5,
					0x90 }; /* push %rbp; mov ...; nop */
	static const uint8_t nop4[] = { 0x90, 0x90, 0x90, 0x90, 0xc3 }; /* nop x4; ret */
	static const uint8_t nopw[] = { 0x66, 0x0f, 0x1f, 0x44,
					0x00 }; /* start of nopw (6 bytes) */

	assert_true(arch_is_entry_site(nops));
	assert_true(arch_is_entry_site(nop5));
	assert_true(arch_is_entry_site(call));
	assert_false(arch_is_entry_site(push));
	assert_false(arch_is_entry_site(nop4));
	assert_false(arch_is_entry_site(nopw));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sites_pfe_pie),
		cmocka_unit_test(sites_pfe_nopie),
		cmocka_unit_test(sites_pfe_pie_zero_words_use_relocations),
		cmocka_unit_test(sites_pfe_after_endbr64),
		cmocka_unit_test(sites_fentry_nop5_and_bogus_dropped),
		cmocka_unit_test(sites_fentry_call),
		cmocka_unit_test(sites_none_without_sections),
		cmocka_unit_test(sites_entry_site_bytes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
