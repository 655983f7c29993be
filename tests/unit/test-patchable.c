// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/elf/patchable.c: the probe utrace_probe_choose() gives each
 * function of the fx-patchable fixture (a PIE, path in $UTRACE_FX_PATCHABLE),
 * one function per condition of a 5-byte patch, with the facts that
 * utrace_facts_load() reads from the file.  The code handed in is the file's,
 * as many bytes as the tracer reads (struct ut_probe, lib/probes/probes.h), changed where a test says.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch.h"
#include "patchable.h"
#include "utrace/shm.h"

#define CODE_BYTES (2 * ARCH_INSN_MAX) /* struct ut_probe's code[] */
#define ENDBR64_SIZE 4
#define PATCH_SIZE 5

static char cache_dir[] = "/tmp/utrace-patchable-XXXXXX";
static struct ut_facts facts;

static const struct ut_sym *sym_named(const char *name)
{
	for (size_t i = 0; i < facts.st.n; i++)
		if (!strcmp(facts.st.syms[i].name, name))
			return &facts.st.syms[i];
	fail_msg("no function %s in %s", name, facts.st.path);
	return NULL;
}

/* The file's first bytes of sym, as the tracer would read them live (fewer at the text's end). */
static size_t file_code(const struct ut_sym *sym, uint8_t *code)
{
	long n = utrace_symtab_read(&facts.st, sym->addr, code, CODE_BYTES);

	assert_true(n >= (long)sym->size);
	return (size_t)n;
}

static void choose_mode(const char *name, enum ut_probe_mode mode, bool patch_call,
			struct ut_probe_choice *c)
{
	const struct ut_sym *sym = sym_named(name);
	uint8_t code[CODE_BYTES];
	size_t n = file_code(sym, code);

	memset(c, 0xa5, sizeof(*c)); /* every field must be set */
	utrace_probe_choose(&facts.m, sym, code, n, mode, patch_call, c);
}

static void choose(const char *name, struct ut_probe_choice *c)
{
	choose_mode(name, UT_PROBE_MODE_AUTO, false, c);
}

static void assert_choice(const struct ut_probe_choice *c, enum ut_probe_kind kind, uint8_t off,
			  uint8_t displaced, const char *why)
{
	if (c->kind != kind)
		fail_msg("kind %s, want %s (why: %s)", utrace_probe_kind_name(c->kind),
			 utrace_probe_kind_name(kind), c->why ? c->why : "-");
	assert_int_equal(c->off, off);
	assert_int_equal(c->displaced, displaced);
	if (!why) {
		assert_null(c->why);
		return;
	}
	assert_non_null(c->why);
	if (!strstr(c->why, why))
		fail_msg("why \"%s\", want \"%s\" in it", c->why, why);
}

static void patchable_facts_load_keeps_auto(void **state)
{
	enum ut_probe_mode mode = UT_PROBE_MODE_AUTO;
	struct ut_facts f;

	assert_int_equal(utrace_facts_load(&f, getenv("UTRACE_FX_PATCHABLE"), "fx", &mode), 0);
	assert_int_equal(mode, UT_PROBE_MODE_AUTO);
	assert_ptr_equal(f.m.st, &f.st);
	assert_ptr_equal(f.m.targets, &f.targets);
	assert_ptr_equal(f.m.sites, &f.sites);
	assert_true(f.targets.n > 0);
	assert_int_equal(f.sites.n, 2); /* fx_pfe, fx_pfe_endbr + 4 */
	utrace_facts_free(&f);
}

static void patchable_prologue_gets_jmp(void **state)
{
	struct ut_probe_choice c;

	/* push %rbp; mov %rsp,%rbp; push %rbx: exactly 5 bytes */
	choose("fx_prologue", &c);
	assert_choice(&c, UT_PROBE_JMP, 0, PATCH_SIZE, NULL);
	assert_int_equal(c.flags, 0);
}

static void patchable_patch_call_gets_callstub(void **state)
{
	struct ut_probe_choice c;

	choose_mode("fx_prologue", UT_PROBE_MODE_AUTO, true, &c);
	assert_choice(&c, UT_PROBE_CALLSTUB, 0, PATCH_SIZE, NULL);
	choose_mode("fx_endbr", UT_PROBE_MODE_AUTO, true, &c);
	assert_choice(&c, UT_PROBE_CALLSTUB, ENDBR64_SIZE, PATCH_SIZE, NULL);
}

static void patchable_mode_int3_everywhere(void **state)
{
	static const char *const names[] = { "fx_prologue", "fx_pfe", "fx_short" };
	struct ut_probe_choice c;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		choose_mode(names[i], UT_PROBE_MODE_INT3, false, &c);
		assert_choice(&c, UT_PROBE_INT3, 0, ARCH_BREAKPOINT_SIZE, "--probe=int3");
		choose_mode(names[i], UT_PROBE_MODE_INT3, true, &c);
		assert_choice(&c, UT_PROBE_INT3, 0, ARCH_BREAKPOINT_SIZE, "--probe=int3");
	}
	choose_mode("fx_endbr", UT_PROBE_MODE_INT3, false, &c);
	assert_choice(&c, UT_PROBE_INT3, ENDBR64_SIZE, ARCH_BREAKPOINT_SIZE, "--probe=int3");
}

/* xor %eax,%eax; ret: a jmp would overwrite 2 bytes past the function's end. */
static void patchable_short_function_int3(void **state)
{
	struct ut_probe_choice c;

	choose("fx_short", &c);
	assert_choice(&c, UT_PROBE_INT3, 0, ARCH_BREAKPOINT_SIZE,
		      "function shorter than a 5-byte patch");
	choose_mode("fx_short", UT_PROBE_MODE_AUTO, true, &c);
	assert_choice(&c, UT_PROBE_INT3, 0, ARCH_BREAKPOINT_SIZE,
		      "function shorter than a 5-byte patch");
}

/* fx_jumper jumps to fx_landed + 1, inside the 5 bytes a jmp would cover. */
static void patchable_branch_inside_int3(void **state)
{
	struct ut_probe_choice c;

	choose("fx_landed", &c);
	assert_choice(&c, UT_PROBE_INT3, 0, ARCH_BREAKPOINT_SIZE,
		      "a branch lands inside the first 5 bytes");
	/* the jumper itself: one 5-byte jmp, nothing lands inside it */
	choose("fx_jumper", &c);
	assert_choice(&c, UT_PROBE_JMP, 0, PATCH_SIZE, NULL);
}

/* A second entry point at +2: a function symbol, or a label of no type. */
static void patchable_symbol_inside_int3(void **state)
{
	struct ut_probe_choice c;

	choose("fx_outer", &c);
	assert_choice(&c, UT_PROBE_INT3, 0, ARCH_BREAKPOINT_SIZE,
		      "a symbol starts inside the first 5 bytes");
	choose("fx_labelled", &c);
	assert_choice(&c, UT_PROBE_INT3, 0, ARCH_BREAKPOINT_SIZE,
		      "a symbol starts inside the first 5 bytes");
	/* the inner function's own start is fine: 6 bytes to its end, nothing inside */
	choose("fx_inner", &c);
	assert_choice(&c, UT_PROBE_JMP, 0, PATCH_SIZE, NULL);
}

/* Five nops recorded in __patchable_function_entries: a call, nothing displaced. */
static void patchable_entry_site_gets_call(void **state)
{
	struct ut_probe_choice c;

	choose("fx_pfe", &c);
	assert_choice(&c, UT_PROBE_CALL, 0, PATCH_SIZE, NULL);
	/* --patch=call changes only what prologues get */
	choose_mode("fx_pfe", UT_PROBE_MODE_AUTO, true, &c);
	assert_choice(&c, UT_PROBE_CALL, 0, PATCH_SIZE, NULL);
	/* the same nops, not recorded: never guessed from the bytes */
	choose("fx_nop5", &c);
	assert_choice(&c, UT_PROBE_JMP, 0, PATCH_SIZE, NULL);
}

static void patchable_entry_site_live_bytes_differ(void **state)
{
	const struct ut_sym *sym = sym_named("fx_pfe");
	uint8_t code[CODE_BYTES];
	size_t n = file_code(sym, code);
	struct ut_probe_choice c;

	/* no longer the file's nops: compared before the site is looked up */
	code[2] = 0xcc;
	utrace_probe_choose(&facts.m, sym, code, n, UT_PROBE_MODE_AUTO, false, &c);
	assert_choice(&c, UT_PROBE_NONE, 0, 0, "differs from the file");
}

static void patchable_endbr64_patched_after_it(void **state)
{
	struct ut_probe_choice c;

	choose("fx_endbr", &c);
	assert_choice(&c, UT_PROBE_JMP, ENDBR64_SIZE, PATCH_SIZE, NULL);
	choose("fx_pfe_endbr", &c);
	assert_choice(&c, UT_PROBE_CALL, ENDBR64_SIZE, PATCH_SIZE, NULL);
	/* nothing after the endbr64 to put a probe on */
	choose("fx_endbr_only", &c);
	assert_choice(&c, UT_PROBE_NONE, ENDBR64_SIZE, 0, "too short for a probe");
}

/* Another tracer, or a replaced binary: the live bytes are not the file's. */
static void patchable_live_bytes_differ_refused(void **state)
{
	const struct ut_sym *sym = sym_named("fx_prologue");
	uint8_t code[CODE_BYTES];
	size_t n = file_code(sym, code);
	struct ut_probe_choice c;

	assert_true(sym->size < n);
	/* 48 89 e5 -> 48 89 e4 (mov %rsp,%rsp): still relocatable, but not the file's */
	code[3] ^= 1;
	utrace_probe_choose(&facts.m, sym, code, n, UT_PROBE_MODE_AUTO, false, &c);
	assert_choice(&c, UT_PROBE_NONE, 0, 0, "differs from the file");
	code[3] ^= 1;
	/* the last byte of the function counts too, even with --probe=int3 */
	code[sym->size - 1] = 0xcc;
	utrace_probe_choose(&facts.m, sym, code, n, UT_PROBE_MODE_INT3, false, &c);
	assert_choice(&c, UT_PROBE_NONE, 0, 0, "differs from the file");
	code[sym->size - 1] = 0xc3;
	/* an int3 already at the entry (another tracer's breakpoint) */
	code[0] = 0xcc;
	utrace_probe_choose(&facts.m, sym, code, n, UT_PROBE_MODE_AUTO, false, &c);
	assert_choice(&c, UT_PROBE_NONE, 0, 0, "differs from the file");
	code[0] = 0x55;
	/* the bytes past its end belong to others (which may be patched already) */
	memset(code + sym->size, 0xe9, n - sym->size);
	utrace_probe_choose(&facts.m, sym, code, n, UT_PROBE_MODE_AUTO, false, &c);
	assert_choice(&c, UT_PROBE_JMP, 0, PATCH_SIZE, NULL);
}

/* A jmp already written over a 3-byte function's neighbour does not refuse it. */
static void patchable_short_function_neighbour_patched(void **state)
{
	const struct ut_sym *sym = sym_named("fx_short");
	uint8_t code[CODE_BYTES];
	size_t n = file_code(sym, code);
	struct ut_probe_choice c;

	memset(code + sym->size, 0xe9, n - sym->size);
	utrace_probe_choose(&facts.m, sym, code, n, UT_PROBE_MODE_AUTO, false, &c);
	assert_choice(&c, UT_PROBE_INT3, 0, ARCH_BREAKPOINT_SIZE,
		      "function shorter than a 5-byte patch");
}

/* loop has only a rel8 form: not relocatable into a stub. */
static void patchable_loop_gets_relocator_reason(void **state)
{
	struct ut_probe_choice c;

	/* nop; loop: the int3 displaces only the nop */
	choose("fx_loop", &c);
	assert_choice(&c, UT_PROBE_INT3, 0, ARCH_BREAKPOINT_SIZE, "loop (rel8 only)");
	choose_mode("fx_loop", UT_PROBE_MODE_AUTO, true, &c);
	assert_choice(&c, UT_PROBE_INT3, 0, ARCH_BREAKPOINT_SIZE, "loop (rel8 only)");
	/* loop first: even the int3's stub cannot run it */
	choose("fx_loop_first", &c);
	assert_choice(&c, UT_PROBE_NONE, 0, 0, "loop (rel8 only)");
	choose_mode("fx_loop_first", UT_PROBE_MODE_INT3, false, &c);
	assert_choice(&c, UT_PROBE_NONE, 0, 0, "loop (rel8 only)");
}

/* Fewer bytes than the tracer asks for (the end of a mapping), or none. */
static void patchable_few_code_bytes(void **state)
{
	const struct ut_sym *sym = sym_named("fx_prologue");
	uint8_t code[CODE_BYTES];
	struct ut_probe_choice c;

	file_code(sym, code);
	utrace_probe_choose(&facts.m, sym, code, 0, UT_PROBE_MODE_AUTO, false, &c);
	assert_choice(&c, UT_PROBE_NONE, 0, 0, "too short for a probe");
	/* push %rbp; mov %rsp,%rbp: an int3 fits, a 5-byte patch cannot be decided */
	utrace_probe_choose(&facts.m, sym, code, 4, UT_PROBE_MODE_AUTO, false, &c);
	assert_choice(&c, UT_PROBE_INT3, 0, ARCH_BREAKPOINT_SIZE, "outside the code given");
	/* the whole function is enough */
	utrace_probe_choose(&facts.m, sym, code, (size_t)sym->size, UT_PROBE_MODE_AUTO, false, &c);
	assert_choice(&c, UT_PROBE_JMP, 0, PATCH_SIZE, NULL);
}

/* Functions that return twice, or are no ABI functions, get entry events only. */
static void patchable_noret_flags(void **state)
{
	struct ut_probe_choice c;

	choose("_setjmp", &c);
	assert_choice(&c, UT_PROBE_JMP, 0, PATCH_SIZE, NULL);
	assert_int_equal(c.flags, UT_FUNC_NORET);
	choose("_dl_runtime_resolve_fx", &c); /* a pattern: _dl_runtime_resolve* */
	assert_int_equal(c.flags, UT_FUNC_NORET);
	choose_mode("_setjmp", UT_PROBE_MODE_INT3, false, &c);
	assert_int_equal(c.flags, UT_FUNC_NORET);
	/* the same code under another name */
	choose("fx_setjmp_like", &c);
	assert_choice(&c, UT_PROBE_JMP, 0, PATCH_SIZE, NULL);
	assert_int_equal(c.flags, 0);
}

static void patchable_kind_names(void **state)
{
	assert_string_equal(utrace_probe_kind_name(UT_PROBE_NONE), "refused");
	assert_string_equal(utrace_probe_kind_name(UT_PROBE_INT3), "int3");
	assert_string_equal(utrace_probe_kind_name(UT_PROBE_JMP), "jmp");
	assert_string_equal(utrace_probe_kind_name(UT_PROBE_CALL), "call");
	assert_string_equal(utrace_probe_kind_name(UT_PROBE_CALLSTUB), "callstub");
	assert_string_equal(utrace_probe_kind_name(UT_PROBE_NKINDS), "?");
}

static int group_setup(void **state)
{
	enum ut_probe_mode mode = UT_PROBE_MODE_AUTO;
	const char *path = getenv("UTRACE_FX_PATCHABLE");

	if (!path || !mkdtemp(cache_dir) || setenv("UTRACE_CACHE_DIR", cache_dir, 1))
		return -1;
	if (utrace_facts_load(&facts, path, "fx-patchable", &mode) < 0)
		return -1;
	return mode == UT_PROBE_MODE_AUTO ? 0 : -1;
}

static int group_teardown(void **state)
{
	char cmd[sizeof(cache_dir) + 16];

	utrace_facts_free(&facts);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", cache_dir);
	return system(cmd) == 0 ? 0 : -1;
}

/* gcc's out-of-line parts are jumped to, never called: no probe. */
int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(patchable_facts_load_keeps_auto),
		cmocka_unit_test(patchable_prologue_gets_jmp),
		cmocka_unit_test(patchable_patch_call_gets_callstub),
		cmocka_unit_test(patchable_mode_int3_everywhere),
		cmocka_unit_test(patchable_short_function_int3),
		cmocka_unit_test(patchable_branch_inside_int3),
		cmocka_unit_test(patchable_symbol_inside_int3),
		cmocka_unit_test(patchable_entry_site_gets_call),
		cmocka_unit_test(patchable_entry_site_live_bytes_differ),
		cmocka_unit_test(patchable_endbr64_patched_after_it),
		cmocka_unit_test(patchable_live_bytes_differ_refused),
		cmocka_unit_test(patchable_short_function_neighbour_patched),
		cmocka_unit_test(patchable_loop_gets_relocator_reason),
		cmocka_unit_test(patchable_few_code_bytes),
		cmocka_unit_test(patchable_noret_flags),
		cmocka_unit_test(patchable_kind_names),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
