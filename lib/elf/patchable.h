/* SPDX-License-Identifier: MIT */
/*
 * Which probe a function gets (docs/ARCHITECTURE.md, "The probe path" and
 * "What a 5-byte patch may not do"): a 5-byte patch where every condition
 * holds, an int3 with the reason where one fails, none where even the int3
 * cannot be answered, the live code differs from the file's or the function
 * is too short.  Pure logic on the file's facts: `utrace symbols` shows it,
 * the tracer applies it.
 */
#ifndef UTRACE_PROBE_H
#define UTRACE_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "symtab.h"
#include "targets.h"

enum ut_probe_kind {
	UT_PROBE_NONE, /* refused: no probe at all */
	UT_PROBE_INT3, /* int3 at the patch point, answered by the tracer */
	UT_PROBE_JMP, /* jmp stub_F over the first instructions */
	UT_PROBE_CALL, /* call entry_trampoline at a compiler-made nop site */
	UT_PROBE_CALLSTUB, /* call stub_F over the first instructions (--patch=call) */
	UT_PROBE_NKINDS,
};

enum ut_probe_mode {
	UT_PROBE_MODE_AUTO, /* 5-byte patches where safe, else int3 */
	UT_PROBE_MODE_INT3, /* int3 everywhere (--probe=int3) */
};

/* What one module's file says about where patches may go. */
struct ut_module_facts {
	const struct ut_symtab *st;
	const struct ut_targets *targets; /* direct branch targets and FDE starts */
	const struct ut_targets *sites; /* compiler-made entry sites */
};

/* Storage for one module's facts, loaded from its file. */
struct ut_facts {
	struct ut_symtab st;
	struct ut_targets targets, sites;
	struct ut_module_facts m; /* points into the above */
};

/*
 * Load the file's symbols (a failure is returned, with ut_error()), then
 * what 5-byte patches need; when that cannot be had, *mode becomes
 * UT_PROBE_MODE_INT3 (with a warning).  utrace_facts_free() in every case.
 */
int utrace_facts_load(struct ut_facts *f, const char *path, const char *name,
		      enum ut_probe_mode *mode);
void utrace_facts_free(struct ut_facts *f);

struct ut_probe_choice {
	enum ut_probe_kind kind;
	uint32_t flags; /* UT_FUNC_* (utrace/shm.h) */
	uint8_t off; /* patch point - function start (past endbr64) */
	uint8_t displaced; /* bytes the patch covers from the patch point */
	const char *why; /* INT3: why no 5-byte patch; NONE: why no probe; else NULL */
};

/*
 * Choose for sym, whose first ncode bytes (from the live process, or the
 * file) are `code`: none when they differ from the file's.  patch_call:
 * prologues get `call stub_F`.
 */
void utrace_probe_choose(const struct ut_module_facts *m, const struct ut_sym *sym,
			 const uint8_t *code, size_t ncode, enum ut_probe_mode mode,
			 bool patch_call, struct ut_probe_choice *c);

/* "int3", "jmp", "call", "callstub", or "refused". */
const char *utrace_probe_kind_name(enum ut_probe_kind k);

#endif
