// SPDX-License-Identifier: MIT
/*
 * Which functions get probes, and the probes themselves: an int3 at the
 * patch point (after endbr64), answered by sending the thread into the
 * function's stub in its module's code area.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch.h"
#include "tracer.h"
#include "utrace/log.h"
#include "utrace/remote.h"

/* Functions that break the call/ret contract get entry events only (DESIGN.md). */
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
};

static bool is_noret(const char *name)
{
	for (size_t i = 0; i < sizeof(noret_funcs) / sizeof(noret_funcs[0]); i++)
		if (!fnmatch(noret_funcs[i], name, 0))
			return true;
	return false;
}

const char *utrace_probe_refusal(const char *name, uint64_t func_addr, uint64_t size,
				 const uint8_t *code, size_t ncode, uint32_t *flags)
{
	uint8_t stub[UT_STUB_SIZE];
	size_t off = arch_patch_offset(code, ncode);
	const char *why = NULL;
	uint64_t pc = func_addr + off;

	*flags = is_noret(name) ? UT_FUNC_NORET : 0;
	if (off >= size || off >= ncode)
		return "too short for a probe";
	/* Relocatability does not depend on where the stub is, only reach does. */
	if (arch_stub_build(pc, code + off, ncode - off, ARCH_BREAKPOINT_SIZE, pc, pc, stub, &why) <
	    0)
		return why ? why : "first instruction not relocatable";
	return NULL;
}

static int probes_grow(struct ut_session *s, size_t *cap)
{
	struct ut_probe *v;

	if (s->nprobes < *cap)
		return 0;
	*cap = *cap ? *cap * 2 : 256;
	v = realloc(s->probes, *cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	s->probes = v;
	return 0;
}

/* Live bytes of a function; fewer near the end of its mapping. */
static size_t read_code(pid_t pid, uint64_t addr, uint64_t size, uint8_t *buf)
{
	size_t n = sizeof(((struct ut_probe *)0)->code);

	if (utrace_mem_read(pid, addr, buf, n) == 0)
		return n;
	n = size < n ? (size_t)size : n;
	return utrace_mem_read(pid, addr, buf, n) == 0 ? n : 0;
}

static bool same_as_file(const struct ut_symtab *st, const struct ut_sym *sym, const uint8_t *code,
			 size_t n)
{
	uint8_t file[sizeof(((struct ut_probe *)0)->code)];
	size_t cmp = sym->size < n ? (size_t)sym->size : n;
	long got = utrace_symtab_read(st, sym->addr, file, cmp);

	return got == (long)cmp && !memcmp(file, code, cmp);
}

static int add_probe(struct ut_session *s, size_t *cap, const struct ut_module *m,
		     const struct ut_symtab *st, const struct ut_sym *sym, uint64_t bias)
{
	struct ut_probe *p;
	const char *why;
	uint8_t code[sizeof(p->code)];
	uint64_t addr = sym->addr + bias;
	uint32_t flags;
	size_t n = read_code(s->pid, addr, sym->size, code);

	if (!n || !same_as_file(st, sym, code, n)) {
		ut_warn("%s:%s not traced: its code in memory differs from the file "
			"(another tracer, or a replaced binary?)",
			m->name, sym->name);
		return 0;
	}
	why = utrace_probe_refusal(sym->name, addr, sym->size, code, n, &flags);
	if (why) {
		ut_warn("%s:%s not traced: %s", m->name, sym->name, why);
		return 0;
	}
	if (probes_grow(s, cap) < 0)
		return -ENOMEM;
	p = &s->probes[s->nprobes];
	memset(p, 0, sizeof(*p));
	p->func_addr = addr;
	p->addr = addr + arch_patch_offset(code, n);
	p->flags = flags;
	memcpy(p->code, code, n);
	p->ncode = (uint8_t)n;
	p->orig = code[p->addr - addr];
	p->name = strdup(sym->name);
	p->module = strdup(m->name);
	if (!p->name || !p->module)
		return -ENOMEM;
	s->nprobes++;
	return 0;
}

static int plan_module(struct ut_session *s, size_t *cap, const struct ut_module *m)
{
	struct ut_symtab st = { 0 };
	uint64_t bias;
	int e;

	if (!utrace_filter_wants_module(s->opts.filter, m->name, m->is_main))
		return 0;
	e = utrace_symtab_load(m->path, &st);
	if (e < 0) {
		if (m->is_main)
			return e;
		ut_warn("%s: no symbols (%s)", m->name, utrace_error_last());
		return 0;
	}
	bias = utrace_symtab_bias(&st, m->first_start, m->first_offset);
	for (size_t i = 0; i < st.n && !e; i++)
		if (utrace_filter_select(s->opts.filter, m->name, m->is_main, st.syms[i].name,
					 st.syms[i].aliases))
			e = add_probe(s, cap, m, &st, &st.syms[i], bias);
	utrace_symtab_free(&st);
	return e;
}

static bool module_loaded(const struct ut_modules *mods, const char *glob)
{
	for (size_t i = 0; i < mods->n; i++)
		if (!fnmatch(glob, mods->v[i].name, 0))
			return true;
	return false;
}

static int check_modules_loaded(const struct ut_session *s, const struct ut_modules *mods)
{
	const struct ut_filter *f = s->opts.filter;

	for (size_t i = 0; i < f->n; i++)
		if (!f->v[i].exclude && f->v[i].module && !module_loaded(mods, f->v[i].module)) {
			ut_error("module '%s' is not loaded in process %d (pattern '%s')",
				 f->v[i].module, s->pid, f->v[i].spec);
			return -ENOENT;
		}
	return 0;
}

/* The first library in which `glob` names a function, for a helpful message. */
static const char *library_matching(const struct ut_modules *mods, const char *glob)
{
	for (size_t i = 0; i < mods->n; i++) {
		struct ut_symtab st = { 0 };
		bool hit = false;

		if (mods->v[i].is_main || utrace_symtab_load(mods->v[i].path, &st) < 0)
			continue;
		for (size_t k = 0; k < st.n && !hit; k++)
			hit = !fnmatch(glob, st.syms[k].name, 0);
		utrace_symtab_free(&st);
		if (hit)
			return mods->v[i].name;
	}
	return NULL;
}

static int no_match_error(const struct ut_session *s, const struct ut_modules *mods)
{
	const struct ut_filter *f = s->opts.filter;
	const char *main_name = "the program";
	char pats[256] = "";
	size_t len = 0;

	for (size_t i = 0; i < mods->n; i++)
		if (mods->v[i].is_main)
			main_name = mods->v[i].name;
	for (size_t i = 0; i < f->n; i++) {
		const char *lib;

		if (f->v[i].exclude)
			continue;
		lib = f->v[i].module ? NULL : library_matching(mods, f->v[i].glob);
		if (lib) {
			ut_error("no function matches '%s' in %s; it matches in %s: use -f '%s:%s'",
				 f->v[i].spec, main_name, lib, lib, f->v[i].glob);
			return -ENOENT;
		}
		len += (size_t)snprintf(pats + len, sizeof(pats) > len ? sizeof(pats) - len : 0,
					"%s'%s'", len ? ", " : "", f->v[i].spec);
	}
	ut_error("no function matches %s", len ? pats : "(no -f pattern given)");
	return -ENOENT;
}

static int cmp_probe(const void *a, const void *b)
{
	const struct ut_probe *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Ids follow address order, so each module's probes are contiguous: one area each. */
static int assign_areas(struct ut_session *s, const struct ut_modules *mods)
{
	const struct ut_module *cur = NULL;

	free(s->areas);
	s->areas = calloc(s->nprobes ? s->nprobes : 1, sizeof(*s->areas));
	if (!s->areas)
		return -ENOMEM;
	s->nareas = 0;
	for (size_t i = 0; i < s->nprobes; i++) {
		const struct ut_module *m = utrace_modules_find(mods, s->probes[i].func_addr);

		if (m != cur || !s->nareas) {
			s->areas[s->nareas++].first_id = (uint32_t)i;
			cur = m;
		}
		s->probes[i].id = (uint32_t)i;
		s->probes[i].area = (uint32_t)(s->nareas - 1);
		s->areas[s->nareas - 1].nstubs++;
	}
	if (s->nareas > UT_MAX_CODE_AREAS) {
		ut_error("probes in %zu modules; at most %d can be traced at once", s->nareas,
			 UT_MAX_CODE_AREAS);
		return -E2BIG;
	}
	return 0;
}

int ut_probes_plan(struct ut_session *s, const struct ut_maps *maps, const struct ut_modules *mods)
{
	size_t cap = 0;
	int e = check_modules_loaded(s, mods);

	(void)maps;
	for (size_t i = 0; i < mods->n && !e; i++)
		e = plan_module(s, &cap, &mods->v[i]);
	if (e < 0)
		return e;
	if (!s->nprobes)
		return no_match_error(s, mods);
	qsort(s->probes, s->nprobes, sizeof(*s->probes), cmp_probe);
	return assign_areas(s, mods);
}

uint64_t ut_probe_stub(const struct ut_session *s, const struct ut_probe *p)
{
	const struct ut_area *a = &s->areas[p->area];

	return a->stubs + (uint64_t)(p->id - a->first_id) * UT_STUB_SIZE;
}

/* Stubs at their final addresses; a probe whose stub cannot be built stays uninstalled. */
int ut_probes_build(struct ut_session *s)
{
	for (size_t i = 0; i < s->nprobes; i++) {
		struct ut_probe *p = &s->probes[i];
		const struct ut_area *a = &s->areas[p->area];
		size_t off = (size_t)(p->addr - p->func_addr);
		const char *why = "target out of reach";
		int r = arch_stub_build(p->addr, p->code + off, p->ncode - off,
					ARCH_BREAKPOINT_SIZE, ut_probe_stub(s, p),
					a->addr + a->hdr->entry_tramp, p->stub, &why);

		if (r < 0) {
			ut_warn("%s:%s not traced: %s", p->module, p->name, why);
			p->broken = true;
			memset(p->stub, arch_breakpoint[0], sizeof(p->stub));
		}
	}
	return 0;
}

static int write_byte(pid_t pid, uint64_t addr, uint8_t b)
{
	return utrace_mem_write(pid, addr, &b, 1);
}

int ut_probes_install(struct ut_session *s, pid_t pid)
{
	for (size_t i = 0; i < s->nprobes; i++) {
		struct ut_probe *p = &s->probes[i];
		int e;

		if (p->broken)
			continue;
		e = write_byte(pid, p->addr, arch_breakpoint[0]);
		if (e < 0) {
			ut_error("cannot write a probe into process %d: %s", pid, strerror(-e));
			return e;
		}
		p->installed = true;
	}
	return 0;
}

/* Put back the original bytes (in pid: the process, or a forked copy of it). */
int ut_probes_remove(struct ut_session *s, pid_t pid)
{
	int err = 0;

	for (size_t i = 0; i < s->nprobes; i++) {
		struct ut_probe *p = &s->probes[i];
		int e;

		if (!p->installed)
			continue;
		e = write_byte(pid, p->addr, p->orig);
		if (e < 0 && !err)
			err = e;
	}
	return err;
}

const struct ut_probe *ut_probe_at(const struct ut_session *s, uint64_t addr)
{
	size_t lo = 0, hi = s->nprobes;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (s->probes[mid].addr == addr)
			return s->probes[mid].installed ? &s->probes[mid] : NULL;
		if (s->probes[mid].addr < addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void ut_probes_free(struct ut_session *s)
{
	for (size_t i = 0; i < s->nprobes; i++) {
		free((char *)s->probes[i].name);
		free((char *)s->probes[i].module);
	}
	free(s->probes);
	free(s->areas);
	free(s->finfo);
	s->probes = NULL;
	s->areas = NULL;
	s->finfo = NULL;
	s->nprobes = s->nareas = 0;
}
