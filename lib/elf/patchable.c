// SPDX-License-Identifier: MIT
/*
 * The choice of a function's probe.  A 5-byte patch overwrites whole
 * instructions while other threads may run into them, so it is made only
 * where every condition of docs/ARCHITECTURE.md, "What a 5-byte patch may
 * not do", holds: the file's facts here (can_patch5), the live bytes in
 * utrace_probe_choose(), the stub at its address and the threads stopped
 * inside the range when the probe is built and installed (probes.c); the
 * int3 fallback overwrites one byte, the first of an instruction, and needs
 * only a stub.
 */
#include <fnmatch.h>
#include <string.h>

#include "arch.h"
#include "log.h"
#include "patchable.h"
#include "utrace/shm.h"
#include "sites.h"

/*
 * Functions that break the call/ret contract get entry events only
 * (docs/ARCHITECTURE.md, "What a 5-byte patch may not do").
 */
static const char *const noret_funcs[] = {
	"setjmp",
	"_setjmp",
	"__sigsetjmp",
	"sigsetjmp",
	"getcontext",
	"vfork",
	"__vfork",
	"_start",
	"_dl_start*",
	"_dl_runtime_resolve*",
	"_dl_runtime_profile*",
	/* the unwinder reads its own return address (hooks.c) */
	"_Unwind_RaiseException",
	"_Unwind_Resume",
	"_Unwind_Resume_or_Rethrow",
	"_Unwind_ForcedUnwind",
	"_Unwind_Backtrace",
};

/* clang-format off */
static const char *const kind_names[UT_PROBE_NKINDS] = {
	[UT_PROBE_NONE] = "refused",
	[UT_PROBE_INT3] = "int3",
	[UT_PROBE_JMP] = "jmp",
	[UT_PROBE_CALL] = "call",
	[UT_PROBE_CALLSTUB] = "callstub",
};
/* clang-format on */

const char *utrace_probe_kind_name(enum ut_probe_kind k)
{
	return k < UT_PROBE_NKINDS ? kind_names[k] : "?";
}

static bool is_noret(const char *name)
{
	for (size_t i = 0; i < sizeof(noret_funcs) / sizeof(noret_funcs[0]); i++)
		if (!fnmatch(noret_funcs[i], name, 0))
			return true;
	return false;
}

/* The live bytes we would patch (and put back at detach) are the file's. */
static bool is_as_in_file(const struct ut_symtab *st, const struct ut_sym *sym, const uint8_t *code,
			  size_t ncode)
{
	uint8_t file[UT_STUB_SIZE];
	size_t n = ncode < sizeof(file) ? ncode : sizeof(file);

	if (sym->size < n)
		n = (size_t)sym->size;
	return utrace_symtab_read(st, sym->addr, file, n) == (long)n && !memcmp(file, code, n);
}

static bool is_entry_site(const struct ut_module_facts *m, uint64_t pc)
{
	return m->sites && utrace_targets_within(m->sites, pc - 1, pc + 1);
}

/*
 * Relocatability does not depend on where the stub will be, only reach
 * does (checked again when the stubs are built): relocate for a stub at pc.
 */
static int relocate_dry(const uint8_t *code, size_t ncode, uint64_t pc, size_t min_len,
			bool patch_call, const char **why)
{
	uint8_t stub[UT_STUB_SIZE];

	if (patch_call)
		return arch_callstub_build(pc, code, ncode, min_len, pc, pc, stub, why);
	return arch_stub_build(pc, code, ncode, min_len, pc, pc, stub, why);
}

/* NULL when a 5-byte patch at the patch point is safe; else why not. */
static const char *can_patch5(const struct ut_module_facts *m, const struct ut_sym *sym,
			      const uint8_t *code, size_t ncode, bool patch_call,
			      struct ut_probe_choice *c)
{
	uint64_t pc = sym->addr + c->off;
	const char *why = "first instructions not relocatable";
	int displaced;

	if (is_entry_site(m, pc) && arch_is_patch_site(code + c->off, ncode - c->off)) {
		c->kind = UT_PROBE_CALL;
		c->displaced = ARCH_PATCH_SIZE;
		return NULL;
	}
	displaced =
		relocate_dry(code + c->off, ncode - c->off, pc, ARCH_PATCH_SIZE, patch_call, &why);
	if (displaced < 0)
		return why;
	if (c->off + (uint64_t)displaced > sym->size)
		return "function shorter than a 5-byte patch";
	if (utrace_targets_within(m->targets, pc, pc + (uint64_t)displaced))
		return "a branch lands inside the first 5 bytes";
	if (utrace_symtab_starts_within(m->st, pc, pc + (uint64_t)displaced))
		return "a symbol starts inside the first 5 bytes";
	c->kind = patch_call ? UT_PROBE_CALLSTUB : UT_PROBE_JMP;
	c->displaced = (uint8_t)displaced;
	return NULL;
}

void utrace_probe_choose(const struct ut_module_facts *m, const struct ut_sym *sym,
			 const uint8_t *code, size_t ncode, enum ut_probe_mode mode,
			 bool patch_call, struct ut_probe_choice *c)
{
	size_t off = arch_patch_offset(code, ncode);
	const char *why = "first instruction not relocatable";

	c->kind = UT_PROBE_NONE;
	c->flags = is_noret(sym->name) ? UT_FUNC_NORET : 0;
	c->off = (uint8_t)off;
	c->displaced = 0;
	c->why = NULL;
	if (!is_as_in_file(m->st, sym, code, ncode)) {
		c->why = "its code in memory differs from the file (another tracer, or a "
			 "replaced binary?)";
		return;
	}
	if (off >= sym->size || off >= ncode) {
		c->why = "too short for a probe";
		return;
	}
	if (relocate_dry(code + off, ncode - off, sym->addr + off, ARCH_BREAKPOINT_SIZE, false,
			 &why) < 0) {
		c->why = why;
		return;
	}
	c->why = mode == UT_PROBE_MODE_INT3 ? "--probe=int3" :
					      can_patch5(m, sym, code, ncode, patch_call, c);
	if (c->why) {
		c->kind = UT_PROBE_INT3;
		c->displaced = ARCH_BREAKPOINT_SIZE;
	}
}

int utrace_facts_load(struct ut_facts *f, const char *path, const char *name,
		      enum ut_probe_mode *mode)
{
	int e;

	memset(f, 0, sizeof(*f));
	f->m = (struct ut_module_facts){ &f->st, &f->targets, &f->sites };
	e = utrace_symtab_load(path, &f->st);
	if (e < 0)
		return e;
	/* without the module's branch targets no 5-byte patch is known to be safe */
	if (*mode != UT_PROBE_MODE_INT3 && (utrace_targets_load(&f->st, &f->targets) < 0 ||
					    utrace_entry_sites_load(&f->st, &f->sites) < 0)) {
		ut_warn("%s: cannot decode its code (%s): int3 probes only", name,
			utrace_error_last());
		*mode = UT_PROBE_MODE_INT3;
	}
	return 0;
}

void utrace_facts_free(struct ut_facts *f)
{
	utrace_targets_free(&f->sites);
	utrace_targets_free(&f->targets);
	utrace_symtab_free(&f->st);
}
