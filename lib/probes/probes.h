/* SPDX-License-Identifier: MIT */
/*
 * Probes: which functions get which probe (the plan), the stubs that 5-byte
 * patches jump to, the patches themselves, and utrace's hidden probes on
 * the unwinder.  The code areas the stubs live in are planned here and
 * mapped into the tracee by the injection layer above.
 */
#ifndef UTRACE_PROBES_H
#define UTRACE_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "arch.h"
#include "argspec.h"
#include "control.h"
#include "filter.h"
#include "maps.h"
#include "patchable.h"
#include "utrace/shm.h"

/* One code area: blob copy + stubs, near the module it serves. */
struct ut_area {
	uint64_t addr; /* tracee address */
	size_t size;
	uint64_t stubs; /* tracee address of stub 0 */
	uint64_t sites; /* tracee address of its site table (0: none) */
	uint32_t site_entries;
	uint32_t first_id, nstubs;
	const struct ut_blob_hdr *hdr; /* arch_blob's header */
	uint64_t near; /* an address in the module it serves */
	bool free; /* its library was unloaded: still mapped, no probe uses it (rtld.c) */
};

struct ut_probe {
	uint64_t addr; /* patch point (past endbr64) */
	uint64_t func_addr; /* runtime start of the function */
	uint32_t id;
	uint32_t flags; /* UT_FUNC_* */
	uint32_t extras; /* UT_X_*: what its events carry beyond their words, as planned */
	enum ut_probe_kind kind;
	uint8_t displaced; /* bytes from addr its patch covers */
	const char *why; /* static: why an int3 rather than a 5-byte patch */
	bool installed;
	bool broken; /* its stub could not be built at the area's address */
	uint8_t code[2 * ARCH_INSN_MAX]; /* live bytes at func_addr */
	uint8_t ncode;
	const char *name; /* owned by the probe table */
	const char *mangled; /* the symbol when name is demangled (C++), else NULL; owned */
	const char *module; /* basename, owned by the probe table */
	const char *path; /* the module's file, owned; NULL for hidden probes */
	char *proto; /* its prototype from DWARF (protos.h), owned; NULL when unknown */
	char *srcline; /* "file.c:LINE" of its definition (--srcline), owned; or NULL */
	char build_id[41]; /* the module's, hex; "" when none */
	uint32_t area; /* index in struct ut_probes areas */
	uint8_t stub[UT_STUB_SIZE];
};

/* The probes of one image of a process: the session's part that this layer keeps. */
struct ut_probes {
	struct ut_proc *proc; /* the process they go into */
	/* what the user asked */
	struct ut_filter *filter; /* its patterns count their matches */
	enum ut_probe_mode mode;
	bool patch_call; /* `call stub_F` over prologues instead of `jmp` (bench only) */
	bool protos; /* events carry words (--args, --retval): read prototypes from DWARF */
	const struct ut_argspecs *specs; /* -A, -R; may be NULL */
	bool srcline; /* --srcline: where each function is defined, from DWARF */
	const char *debug_dir; /* --debug-dir: separate debug files; NULL: /usr/lib/debug */
	/* --stack, --caller: globs of the functions (without module) given the UT_X_ bits */
	const char *const *stack_funcs;
	size_t nstack_funcs;
	const char *const *caller_funcs;
	size_t ncaller_funcs;
	/* the dynamic linker reports libraries loaded later: patterns may wait for them */
	bool may_load;
	struct ut_probe *probes; /* sorted by addr; a probe's id is its index */
	size_t nprobes;
	struct ut_area *areas;
	size_t nareas;
	const char *no_returns; /* static: why no return is hijacked, NULL when they are */
};

/* probes.c */
/*
 * Probes a plan adds after the user's (utrace's hidden probes on the
 * unwinder, hooks.c): given by the caller, as hooks.c plans with probes.c.
 */
typedef int (*ut_plan_extra_fn)(struct ut_probes *pr, size_t *cap, const struct ut_modules *mods);
typedef int (*ut_plan_extra_module_fn)(struct ut_probes *pr, size_t *cap,
				       const struct ut_module *m);
int ut_probes_plan(struct ut_probes *pr, const struct ut_maps *maps, const struct ut_modules *mods,
		   ut_plan_extra_fn extra);
void ut_probes_build(struct ut_probes *pr);
void ut_probes_build_area(struct ut_probes *pr, const struct ut_area *a);
int ut_probes_install(struct ut_probes *pr, pid_t pid);
int ut_probes_remove(struct ut_probes *pr, pid_t pid);
void ut_probes_count(const struct ut_probes *pr, size_t count[UT_PROBE_NKINDS]);
const struct ut_probe *ut_probe_find(const struct ut_probes *pr, uint64_t addr);
uint64_t ut_probe_translate(const struct ut_probes *pr, const struct ut_probe *p, uint64_t ip);
uint64_t ut_probe_stub(const struct ut_probes *pr, const struct ut_probe *p);
uint32_t ut_area_site_entries(const struct ut_probes *pr, const struct ut_area *a);
void ut_area_sites_fill(const struct ut_probes *pr, const struct ut_area *a, struct ut_site *table,
			uint32_t entries);
void ut_probes_free(struct ut_probes *pr);
/* Plan the probes of a module loaded later: appended at [*first, nprobes), sorted, ids = index. */
int ut_probes_plan_module(struct ut_probes *pr, const struct ut_module *m, size_t *first,
			  ut_plan_extra_module_fn extra);
/* Install probes [first, first + n) only (pid stopped where they could run). */
int ut_probes_install_range(struct ut_probes *pr, pid_t pid, size_t first, size_t n);
/* Whether any include pattern names a module that is not loaded (yet). */
bool ut_probes_pending(const struct ut_probes *pr, const struct ut_modules *mods);
/*
 * Planning: a probe for sym (none when refused, with a warning), named
 * `name` (NULL: the symbol's name to show), or a bare one to fill in.
 */
int ut_probe_add(struct ut_probes *pr, size_t *cap, const struct ut_module *m,
		 const struct ut_module_facts *facts, enum ut_probe_mode mode,
		 const struct ut_sym *sym, uint64_t bias, const char *name);
struct ut_probe *ut_probe_append(struct ut_probes *pr, size_t *cap);
void ut_probe_drop_last(struct ut_probes *pr);
/* A copy of src whose strings dst owns (a followed child's table): 0 or -ENOMEM, dst freeable. */
int ut_probe_copy(struct ut_probe *dst, const struct ut_probe *src);
/* Forget the probes from `first` on (planned, never installed). */
void ut_probes_truncate(struct ut_probes *pr, size_t first);

/* hooks.c: hidden probes on the unwinder, so that return probes survive exceptions */
int ut_hooks_plan(struct ut_probes *pr, size_t *cap, const struct ut_modules *mods);
/* Whether a module loaded later may hold the unwinder (worth hooking unasked). */
bool ut_hooks_wanted(const struct ut_probes *pr, const struct ut_module *m);
/* The same for a module loaded later: its hooks are appended to the probes. */
int ut_hooks_plan_module(struct ut_probes *pr, size_t *cap, const struct ut_module *m);
/* After install: return probes refused if a hook did not go in; funcs: the data area's table. */
int ut_hooks_check(struct ut_probes *pr, struct ut_func *funcs);
/* Probes that are hooks only (not the user's functions). */
size_t ut_hooks_count(const struct ut_probes *pr, size_t first);
/* Return probes are used and no unwinder is hooked yet: one may be dlopened later. */
bool ut_hooks_awaited(const struct ut_probes *pr);

#endif
