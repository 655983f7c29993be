// SPDX-License-Identifier: MIT
/*
 * utrace's own hidden probes on the unwinder (docs/ARCHITECTURE.md, "C++
 * exceptions and unwinding").  A hijacked return address points at the return
 * trampoline, for which the unwinder has no unwind info: an exception, a
 * forced unwind (pthread_exit, cancellation) or a backtrace walking through
 * a traced frame would end in std::terminate.  So, wherever the unwinder is
 * (libgcc_s.so.1, or linked into a module):
 *
 *  - at entry to each function that starts a walk, the thread's hijacked
 *    slots get their original return addresses back (UT_FUNC_UNHIJACK);
 *  - at entry to __cxa_begin_catch, and at each `ret` of _Unwind_Backtrace
 *    (whose own return address it reads: it cannot be hijacked), the
 *    frames that survived are hijacked again and those left behind are
 *    reported as unwound (UT_FUNC_REHIJACK).
 *
 * The hooks are probes like any other (5-byte or int3 as the mode allows;
 * the `ret` sites always int3), flagged UT_FUNC_HIDDEN: no event, no return
 * probe.  A traced function that is also a hook keeps its entry events but
 * loses its return probe when the unwinder reads its own return address.
 * When the unwinder cannot be hooked at install, return probes are refused
 * for the whole process: entry events only.  An unwinder in a library
 * loaded later whose hooks fail is only warned about.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "probes.h"
#include "log.h"
#include "targets.h"
#include "remote.h"

#define MAX_RET_SITES 8

struct hook {
	const char *name;
	uint32_t flags;
	bool walks; /* the unwinder: reads its own return address */
};

static const struct hook hooks[] = {
	{ "_Unwind_RaiseException", UT_FUNC_UNHIJACK, true },
	{ "_Unwind_Resume", UT_FUNC_UNHIJACK, true },
	{ "_Unwind_Resume_or_Rethrow", UT_FUNC_UNHIJACK, true },
	{ "_Unwind_ForcedUnwind", UT_FUNC_UNHIJACK, true },
	{ "_Unwind_Backtrace", UT_FUNC_UNHIJACK, true },
	{ "__cxa_begin_catch", UT_FUNC_REHIJACK, false },
};

#define NHOOKS (sizeof(hooks) / sizeof(hooks[0]))
#define BACKTRACE_HOOK 4

static bool sym_named(const struct ut_sym *sym, const char *name)
{
	if (!strcmp(sym->name, name))
		return true;
	for (char *const *a = sym->aliases; a && *a; a++)
		if (!strcmp(*a, name))
			return true;
	return false;
}

/* The hook sym is, or -1. */
static int hook_of(const struct ut_sym *sym)
{
	for (size_t k = 0; k < NHOOKS; k++)
		if (sym_named(sym, hooks[k].name))
			return (int)k;
	return -1;
}

static bool return_probes_used(const struct ut_probes *pr)
{
	for (size_t i = 0; i < pr->nprobes; i++)
		if (!(pr->probes[i].flags & UT_FUNC_NORET))
			return true;
	return false;
}

static struct ut_probe *probe_at(struct ut_probes *pr, uint64_t func_addr)
{
	for (size_t i = 0; i < pr->nprobes; i++)
		if (pr->probes[i].func_addr == func_addr)
			return &pr->probes[i];
	return NULL;
}

/*
 * An int3 at a `ret` of _Unwind_Backtrace: its stub runs the recorder,
 * then the relocated `ret`.
 */
static int add_ret_site(struct ut_probes *pr, size_t *cap, const struct ut_module *m, uint64_t addr)
{
	struct ut_probe *p = ut_probe_append(pr, cap);

	if (!p)
		return -ENOMEM;
	if (utrace_mem_read(pr->proc->mm_pid, addr, p->code, sizeof(p->code)) < 0)
		return -EFAULT;
	p->ncode = sizeof(p->code);
	p->func_addr = p->addr = addr;
	p->kind = UT_PROBE_INT3;
	p->displaced = ARCH_BREAKPOINT_SIZE;
	p->why = "utrace's hook at a return of the unwinder";
	p->flags = UT_FUNC_HIDDEN | UT_FUNC_NORET | UT_FUNC_REHIJACK;
	p->name = strdup(hooks[BACKTRACE_HOOK].name);
	p->module = strdup(m->name);
	/* counted even half made: dropping it frees what it holds */
	pr->nprobes++;
	return p->name && p->module ? 0 : -ENOMEM;
}

static int add_ret_sites(struct ut_probes *pr, size_t *cap, const struct ut_module *m,
			 const struct ut_sym *sym, uint64_t bias)
{
	uint64_t rets[MAX_RET_SITES];
	uint8_t *code = malloc(sym->size);
	int n = -ENOMEM;

	if (code)
		n = utrace_mem_read(pr->proc->mm_pid, sym->addr + bias, code, sym->size);
	if (n == 0)
		n = arch_find_returns(code, sym->size, sym->addr + bias, rets, MAX_RET_SITES);
	free(code);
	if (n == 0)
		n = -ENOENT;
	for (int k = 0; k < n; k++) {
		int e = add_ret_site(pr, cap, m, rets[k]);

		if (e < 0)
			return e;
	}
	return n < 0 ? n : 0;
}

/* Hook k at sym: a hidden probe, or flags on the user's probe of the same function. */
static int add_hook(struct ut_probes *pr, size_t *cap, const struct ut_module *m,
		    const struct ut_facts *f, enum ut_probe_mode mode, const struct ut_sym *sym,
		    uint64_t bias, size_t k)
{
	struct ut_probe *p = probe_at(pr, sym->addr + bias);
	size_t before = pr->nprobes;
	int e;

	if (!p) {
		e = ut_probe_add(pr, cap, m, &f->m, mode, sym, bias, NULL);
		if (e < 0)
			return e;
		if (pr->nprobes == before)
			return -ENOEXEC;
		p = &pr->probes[before];
		p->flags |= UT_FUNC_HIDDEN | UT_FUNC_NORET;
		free((char *)p->name);
		p->name = strdup(hooks[k].name);
		if (!p->name)
			return -ENOMEM;
	}
	p->flags |= hooks[k].flags | (hooks[k].walks ? UT_FUNC_NORET : 0);
	if (k == BACKTRACE_HOOK)
		return add_ret_sites(pr, cap, m, sym, bias);
	return 0;
}

/* The hooks one module holds; *found counts the unwinder's. */
static int hook_module(struct ut_probes *pr, size_t *cap, const struct ut_module *m, size_t *found)
{
	enum ut_probe_mode mode = pr->mode;
	struct ut_symtab st = { 0 };
	struct ut_facts f;
	bool any = false;
	uint64_t bias;
	int e;

	if (utrace_symtab_load(m->path, &st) == 0)
		for (size_t i = 0; i < st.n && !any; i++)
			any = hook_of(&st.syms[i]) >= 0;
	utrace_symtab_free(&st);
	utrace_error_clear();
	if (!any)
		return 0;
	e = utrace_facts_load(&f, m->path, m->name, &mode);
	bias = e < 0 ? 0 : utrace_symtab_bias(&f.st, m->first_start, m->first_offset);
	for (size_t i = 0; i < f.st.n && e >= 0; i++) {
		int k = hook_of(&f.st.syms[i]);

		if (k < 0)
			continue;
		e = add_hook(pr, cap, m, &f, mode, &f.st.syms[i], bias, (size_t)k);
		if (e < 0)
			ut_error("%s: cannot hook %s (%s)", m->name, hooks[k].name, strerror(-e));
		*found += hooks[k].walks;
	}
	utrace_facts_free(&f);
	return e;
}

/* Whether the file has a section of that name. */
static bool has_section(const char *path, const char *name)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool found;
	GElf_Shdr sh;
	Elf *elf;

	if (fd < 0)
		return false;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	found = elf && utrace_elf_find_section(elf, name, &sh);
	elf_end(elf);
	close(fd);
	return found;
}

/* Without the hooks, no return probe: entry events only, said once. */
static void refuse_returns(struct ut_probes *pr, const char *why)
{
	ut_warn("return probes refused: %s; tracing function entries only", why);
	for (size_t i = 0; i < pr->nprobes; i++)
		pr->probes[i].flags |= UT_FUNC_NORET;
}

size_t ut_hooks_count(const struct ut_probes *pr, size_t first)
{
	size_t n = 0;

	for (size_t i = first; i < pr->nprobes; i++)
		n += !!(pr->probes[i].flags & UT_FUNC_HIDDEN);
	return n;
}

bool ut_hooks_awaited(const struct ut_probes *pr)
{
	return return_probes_used(pr) && !ut_hooks_count(pr, 0);
}

int ut_hooks_plan(struct ut_probes *pr, size_t *cap, const struct ut_modules *mods)
{
	size_t before = pr->nprobes, found = 0;

	if (!return_probes_used(pr))
		return 0;
	for (size_t i = 0; i < mods->n; i++) {
		if (hook_module(pr, cap, &mods->v[i], &found) < 0) {
			/* the user's probes stay, the hidden ones go */
			while (pr->nprobes > before)
				ut_probe_drop_last(pr);
			refuse_returns(pr, utrace_error_last());
			return 0;
		}
	}
	/*
	 * C++ code in the program with no unwinder to hook: it is linked in
	 * without symbols.  (Libraries such as libc have exception tables of
	 * their own and load libgcc_s when they need it.)
	 */
	for (size_t i = 0; i < mods->n && !found; i++)
		if (mods->v[i].is_main && has_section(mods->v[i].path, ".gcc_except_table")) {
			ut_error("%s has C++ exception tables but no unwinder utrace can hook "
				 "(linked in without symbols?)",
				 mods->v[i].name);
			refuse_returns(pr, utrace_error_last());
			return 0;
		}
	if (found)
		ut_info("the unwinder is hooked: %zu hidden probes", pr->nprobes - before);
	return 0;
}

/*
 * Whether a library loaded later is one the unwinder lives in, to hook even
 * when no pattern names it.  Known by its name, so that other dlopens do
 * not pay for reading a symbol table while their thread is held.
 */
bool ut_hooks_wanted(const struct ut_probes *pr, const struct ut_module *m)
{
	static const char *const unwinder_libs[] = { "libgcc_s.so", "libstdc++.so", "libc++abi.so",
						     "libunwind.so" };

	if (!return_probes_used(pr))
		return false;
	for (size_t i = 0; i < sizeof(unwinder_libs) / sizeof(unwinder_libs[0]); i++)
		if (!strncmp(m->name, unwinder_libs[i], strlen(unwinder_libs[i])))
			return true;
	return false;
}

/*
 * A library loaded later (rtld.c) may be the unwinder: glibc dlopens
 * libgcc_s.so.1 at a C program's first backtrace() or pthread_exit(), and
 * the walk it starts right after would stop at the first hijacked frame.
 * Its hooks join the library's probes, installed before anything runs it.
 */
int ut_hooks_plan_module(struct ut_probes *pr, size_t *cap, const struct ut_module *m)
{
	size_t before = pr->nprobes, found = 0;

	if (!return_probes_used(pr))
		return 0;
	if (hook_module(pr, cap, m, &found) < 0) {
		while (pr->nprobes > before)
			ut_probe_drop_last(pr);
		ut_warn("%s: its unwinder is not hooked (%s): an exception or backtrace through a "
			"traced frame may fail",
			m->name, utrace_error_last());
		utrace_error_clear();
		return 0;
	}
	if (found)
		ut_info("the unwinder in %s is hooked: %zu hidden probes", m->name,
			pr->nprobes - before);
	return 0;
}

/*
 * After install: a hook that did not go in (its code changed, or a stub
 * that could not be built) leaves the unwinder unprotected.  The world is
 * still stopped and nothing hijacked yet: refuse return probes now.
 */
int ut_hooks_check(struct ut_probes *pr, struct ut_func *funcs)
{
	for (size_t i = 0; i < pr->nprobes; i++) {
		const struct ut_probe *p = &pr->probes[i];

		if (!(p->flags & UT_FUNC_HIDDEN) || p->installed)
			continue;
		ut_error("%s: its hook on %s could not be installed", p->module, p->name);
		refuse_returns(pr, utrace_error_last());
		for (size_t k = 0; k < pr->nprobes; k++)
			__atomic_store_n(&funcs[k].flags, pr->probes[k].flags, __ATOMIC_RELEASE);
		return 0;
	}
	return 0;
}
