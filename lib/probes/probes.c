// SPDX-License-Identifier: MIT
/*
 * Which functions get probes, and the probes themselves (patchable.c says
 * which kind): a 5-byte jmp to the function's stub over its first
 * instructions, a call into the entry trampoline at a compiler-made site,
 * or an int3 at the patch point (after endbr64) that the tracer answers by
 * sending the thread into the stub.
 */
#include <errno.h>
#include <stddef.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addrs.h"
#include "arch.h"
#include "textpatch.h"
#include "clones.h"
#include "closest.h"
#include "probes.h"
#include "protos.h"
#include "log.h"
#include "remote.h"

static int probes_grow(struct ut_probes *pr, size_t *cap)
{
	struct ut_probe *v;

	if (pr->nprobes < *cap)
		return 0;
	*cap = *cap ? *cap * 2 : 256;
	v = realloc(pr->probes, *cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	pr->probes = v;
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

/* A zeroed probe at the end of the table, not yet counted in nprobes; NULL without memory. */
struct ut_probe *ut_probe_append(struct ut_probes *pr, size_t *cap)
{
	if (probes_grow(pr, cap) < 0)
		return NULL;
	memset(&pr->probes[pr->nprobes], 0, sizeof(pr->probes[0]));
	return &pr->probes[pr->nprobes];
}

/* The strings a probe owns. */
static void probe_strings_free(struct ut_probe *p)
{
	free((char *)p->name);
	free((char *)p->mangled);
	free((char *)p->module);
	free((char *)p->path);
	free(p->proto);
	free(p->srcline);
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

int ut_probe_copy(struct ut_probe *dst, const struct ut_probe *src)
{
	*dst = *src;
	dst->name = dup_or_null(src->name);
	dst->module = dup_or_null(src->module);
	dst->mangled = dup_or_null(src->mangled);
	dst->path = dup_or_null(src->path);
	dst->proto = dup_or_null(src->proto);
	dst->srcline = dup_or_null(src->srcline);
	if (!dst->name != !src->name || !dst->module != !src->module ||
	    !dst->mangled != !src->mangled || !dst->path != !src->path ||
	    !dst->proto != !src->proto || !dst->srcline != !src->srcline)
		return -ENOMEM;
	return 0;
}

void ut_probe_drop_last(struct ut_probes *pr)
{
	probe_strings_free(&pr->probes[--pr->nprobes]);
}

void ut_probes_truncate(struct ut_probes *pr, size_t first)
{
	while (pr->nprobes > first)
		ut_probe_drop_last(pr);
}

int ut_probe_add(struct ut_probes *pr, size_t *cap, const struct ut_module *m,
		 const struct ut_module_facts *facts, enum ut_probe_mode mode,
		 const struct ut_sym *sym, uint64_t bias, const char *name)
{
	struct ut_probe_choice c;
	struct ut_probe *p;
	uint8_t code[sizeof(p->code)];
	uint64_t addr = sym->addr + bias;
	size_t n = read_code(pr->proc->mm_pid, addr, sym->size, code);

	if (!n) {
		ut_warn("%s:%s not traced: its code cannot be read", m->name, sym->name);
		return 0;
	}
	utrace_probe_choose(facts, sym, code, n, mode, pr->patch_call, &c);
	if (c.kind == UT_PROBE_NONE) {
		ut_warn("%s:%s not traced: %s", m->name, sym->name, c.why);
		return 0;
	}
	p = ut_probe_append(pr, cap);
	if (!p)
		return -ENOMEM;
	p->func_addr = addr;
	p->addr = addr + c.off;
	p->kind = c.kind;
	p->displaced = c.displaced;
	p->why = c.why;
	p->flags = c.flags;
	memcpy(p->code, code, n);
	p->ncode = (uint8_t)n;
	p->name = strdup(name ? name : utrace_sym_display(sym));
	p->mangled = sym->demangled ? strdup(sym->name) : NULL;
	p->module = strdup(m->name);
	p->path = strdup(facts->st->path);
	snprintf(p->build_id, sizeof(p->build_id), "%s", facts->st->build_id);
	if (!p->name || !p->module || !p->path || (sym->demangled && !p->mangled))
		return -ENOMEM;
	pr->nprobes++;
	return 0;
}

/* glibc's file, whose common functions have prototypes built in. */
static bool is_libc(const struct ut_module *m)
{
	return !strncmp(m->name, "libc.so", 7) || !strncmp(m->name, "libc-", 5);
}

/* A module's debug information, looked for once, at its first probe. */
struct debug_info {
	struct ut_protos *protos; /* NULL: none (yet) */
	bool looked;
};

/*
 * Its prototype: from the module's debug information, else built in
 * (libc), as -A and -R change it.  A clone (foo.constprop.0) has another
 * signature than the one DWARF declares.
 */
static void add_proto(const struct ut_probes *pr, struct ut_probe *p, const struct ut_sym *sym,
		      const struct ut_module *m, struct debug_info *d)
{
	char *dwarf = NULL, *spec;
	const char *base;

	if (!d->looked) {
		d->protos = utrace_protos_open(m->path, pr->debug_dir);
		d->looked = true;
	}
	if (d->protos && !sym->name[utrace_clone_base_len(sym->name)]) {
		if (pr->protos)
			dwarf = utrace_proto_at(d->protos, sym->addr);
		if (pr->srcline)
			p->srcline = utrace_srcline_at(d->protos, sym->addr);
	}
	base = dwarf ? dwarf : is_libc(m) && pr->protos ? utrace_libc_proto(p->name) : NULL;
	spec = pr->protos ? utrace_argspec_proto(pr->specs, p->name, base) : NULL;
	p->proto = spec ? spec : base ? strdup(base) : NULL;
	free(dwarf);
}

/* Whether one of the globs matches the probe by its name or its symbol. */
static bool named_in(const char *const *globs, size_t n, const struct ut_probe *p)
{
	for (size_t i = 0; i < n; i++)
		if (!fnmatch(globs[i], p->name, 0) ||
		    (p->mangled && !fnmatch(globs[i], p->mangled, 0)))
			return true;
	return false;
}

/* What its events carry beyond their words: by its prototype, --stack and --caller. */
static void add_extras(const struct ut_probes *pr, struct ut_probe *p)
{
	p->extras = p->proto ? utrace_proto_extras(p->proto) : 0;
	if (named_in(pr->stack_funcs, pr->nstack_funcs, p))
		p->extras |= UT_X_STACK;
	if (named_in(pr->caller_funcs, pr->ncaller_funcs, p))
		p->extras |= UT_X_CALLER;
}

static int plan_module(struct ut_probes *pr, size_t *cap, const struct ut_module *m)
{
	enum ut_probe_mode mode = pr->mode;
	struct debug_info debug = { 0 };
	struct ut_facts f;
	uint64_t bias;
	int e;

	if (!utrace_filter_wants_module(pr->filter, m->name, m->is_main))
		return 0;
	e = utrace_facts_load(&f, m->path, m->name, &mode);
	if (e < 0) {
		/* a stripped program: its functions are looked for in its libraries */
		if (!m->is_main || e == -ENODATA)
			ut_info("%s: no symbols (%s)", m->name, utrace_error_last());
		e = m->is_main && e != -ENODATA ? e : 0;
		goto free;
	}
	bias = utrace_symtab_bias(&f.st, m->first_start, m->first_offset);
	for (size_t i = 0; i < f.st.n && !e; i++) {
		const char *asked;
		size_t n = pr->nprobes;

		if (!utrace_filter_select_sym(pr->filter, m->name, m->is_main, &f.st.syms[i],
					      &asked))
			continue;
		e = ut_probe_add(pr, cap, m, &f.m, mode, &f.st.syms[i], bias, asked);
		if (e == 0 && pr->nprobes > n && (pr->protos || pr->srcline))
			add_proto(pr, &pr->probes[n], &f.st.syms[i], m, &debug);
		if (e == 0 && pr->nprobes > n)
			add_extras(pr, &pr->probes[n]);
	}
	utrace_protos_close(debug.protos);
free:
	utrace_facts_free(&f);
	return e;
}

static bool module_loaded(const struct ut_modules *mods, const char *glob)
{
	for (size_t i = 0; i < mods->n; i++)
		if (!fnmatch(glob, mods->v[i].name, 0))
			return true;
	return false;
}

static bool is_pending(const struct ut_pattern *pat, const struct ut_modules *mods)
{
	return !pat->exclude && pat->module && !module_loaded(mods, pat->module);
}

bool ut_probes_pending(const struct ut_probes *pr, const struct ut_modules *mods)
{
	for (size_t i = 0; i < pr->filter->n; i++)
		if (is_pending(&pr->filter->v[i], mods))
			return true;
	return false;
}

/*
 * A pattern naming a module that is not loaded waits for it when the
 * program can load libraries (rtld.c follows dlopen); else it is an error.
 * Attaching, say so: the user may have expected the library there already.
 */
static int check_modules_loaded(const struct ut_probes *pr, const struct ut_modules *mods)
{
	const struct ut_filter *f = pr->filter;

	for (size_t i = 0; i < f->n; i++) {
		if (!is_pending(&f->v[i], mods))
			continue;
		if (!pr->may_load) {
			ut_error("module '%s' is not loaded in process %d (pattern '%s')",
				 f->v[i].module, pr->proc->pid, f->v[i].spec);
			return -ENOENT;
		}
		ut_log(pr->proc->launched ? UT_LOG_INFO : UT_LOG_WARN,
		       "module '%s' is not loaded in process %d: pattern '%s' waits for it to be "
		       "loaded (dlopen)",
		       f->v[i].module, pr->proc->pid, f->v[i].spec);
	}
	return 0;
}

/*
 * Offer every name of every module's functions to the closest-name search:
 * the main program's name when it has none (stripped), else NULL.
 */
static const char *offer_names(struct ut_closest *c, const struct ut_modules *mods)
{
	const char *stripped = NULL;

	for (size_t i = 0; i < mods->n; i++) {
		struct ut_symtab st = { 0 };

		if (utrace_symtab_load(mods->v[i].path, &st) < 0) {
			stripped = mods->v[i].is_main ? mods->v[i].name : stripped;
			continue;
		}
		for (size_t k = 0; k < st.n; k++) {
			const struct ut_sym *sym = &st.syms[k];

			ut_closest_add(c, sym->typed ? sym->typed : sym->name, mods->v[i].name);
			for (char **a = sym->aliases; a && *a; a++)
				ut_closest_add(c, *a, mods->v[i].name);
		}
		utrace_symtab_free(&st);
	}
	return stripped;
}

/* "no function matches": the first pattern that matched nothing, its closest names, the syntax. */
static int no_match_error(const struct ut_probes *pr, const struct ut_modules *mods)
{
	const struct ut_pattern *p = NULL;
	const char *stripped;
	struct ut_closest c;
	char near[3 * UT_CLOSEST_NAME + 256], where[160];

	for (size_t i = 0; i < pr->filter->n && !p; i++)
		if (!pr->filter->v[i].exclude && !pr->filter->v[i].matches)
			p = &pr->filter->v[i];
	if (!p) {
		ut_error("no function matches (no -f pattern given)");
		return -ENOENT;
	}
	ut_closest_init(&c, p->glob);
	stripped = offer_names(&c, mods);
	ut_closest_format(&c, near, sizeof(near));
	if (stripped && !p->module && !strcmp(p->glob, "*")) {
		ut_error("%s has no function symbols (stripped?): name the functions to trace "
			 "with -f NAME or -f MODULE:GLOB ('libc.so.6:*alloc')",
			 stripped);
		return -ENOENT;
	}
	if (stripped && !p->module)
		snprintf(where, sizeof(where),
			 ": %s has no function symbols (stripped?) and no "
			 "library has one by that name",
			 stripped);
	else
		snprintf(where, sizeof(where), " in %s",
			 p->module ? p->module : "the program or its libraries");
	ut_error("no function matches '%s'%s%s%s; -f takes NAME, a glob or MODULE:GLOB "
		 "(e.g. '%s:%s')",
		 p->spec, where, *near ? "; closest: " : "", near,
		 c.n ? c.v[0].module : "libc.so.6", c.n ? c.v[0].name : p->glob);
	return -ENOENT;
}

/* Say once where a pattern without module was found, since it was not in the program. */
static void tell_found(struct ut_probes *pr)
{
	for (size_t i = 0; i < pr->filter->n; i++) {
		struct ut_pattern *p = &pr->filter->v[i];

		if (!p->anywhere || !p->found_in || p->told || p->exclude)
			continue;
		p->told = true;
		ut_warn("'%s' is not in the program: tracing it in %s (-f '%s:%s')", p->spec,
			p->found_in, p->found_in, p->glob);
	}
}

/*
 * Patterns that found nothing, while others did: they wait for a library
 * loaded later (the end of the run says if none came), or, in a program
 * that loads none, trace nothing.
 */
static void tell_unmatched(const struct ut_probes *pr)
{
	for (size_t i = 0; i < pr->filter->n; i++) {
		const struct ut_pattern *p = &pr->filter->v[i];

		if (!p->anywhere || p->matches || p->exclude)
			continue;
		if (pr->may_load)
			ut_warn("'%s' matches nothing in the program or its libraries: it waits for "
				"a library loaded later",
				p->spec);
		else
			ut_warn("'%s' matches nothing: not traced", p->spec);
	}
}

/* Plan the main program first: what its patterns do not find there is looked for elsewhere. */
static int plan_modules(struct ut_probes *pr, size_t *cap, const struct ut_modules *mods)
{
	int e = 0;

	for (size_t i = 0; i < mods->n && !e; i++)
		if (mods->v[i].is_main)
			e = plan_module(pr, cap, &mods->v[i]);
	if (e == 0 && utrace_filter_widen(pr->filter))
		ut_debug(
			"patterns that match nothing in the program are looked for in its libraries");
	for (size_t i = 0; i < mods->n && !e; i++)
		if (!mods->v[i].is_main)
			e = plan_module(pr, cap, &mods->v[i]);
	tell_found(pr);
	return e;
}

static int cmp_probe(const void *a, const void *b)
{
	const struct ut_probe *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Ids follow address order, so each module's probes are contiguous: one area each. */
static int assign_areas(struct ut_probes *pr, const struct ut_modules *mods)
{
	const struct ut_module *cur = NULL;

	free(pr->areas);
	/* room for the areas of libraries loaded later (ut_area_add) */
	pr->areas = calloc(pr->nprobes > UT_MAX_CODE_AREAS ? pr->nprobes : UT_MAX_CODE_AREAS,
			   sizeof(*pr->areas));
	if (!pr->areas)
		return -ENOMEM;
	pr->nareas = 0;
	for (size_t i = 0; i < pr->nprobes; i++) {
		const struct ut_module *m = utrace_modules_find(mods, pr->probes[i].func_addr);

		if (m != cur || !pr->nareas) {
			pr->areas[pr->nareas].first_id = (uint32_t)i;
			pr->areas[pr->nareas++].near = pr->probes[i].func_addr;
			cur = m;
		}
		pr->probes[i].id = (uint32_t)i;
		pr->probes[i].area = (uint32_t)(pr->nareas - 1);
		pr->areas[pr->nareas - 1].nstubs++;
	}
	if (pr->nareas > UT_MAX_CODE_AREAS) {
		ut_error("probes in %zu modules; at most %d can be traced at once", pr->nareas,
			 UT_MAX_CODE_AREAS);
		return -E2BIG;
	}
	return 0;
}

/*
 * Nothing to trace until a library comes: still one code area, without
 * stubs, whose `syscall; int3` maps the areas of the libraries to come from
 * the dlopening thread alone (rtld.c), never over text others may run.
 */
static void add_gadget_area(struct ut_probes *pr, const struct ut_modules *mods)
{
	uint64_t near = mods->n ? mods->v[0].lo : 0;

	for (size_t i = 0; i < mods->n; i++)
		if (mods->v[i].is_main)
			near = mods->v[i].lo;
	pr->areas[0] = (struct ut_area){ .near = near };
	pr->nareas = 1;
}

/*
 * Where a return address must not be rewritten (a CET shadow stack would
 * fault at the hijacked `ret`), every probe from `first` on records entries
 * only; the warning is given once per process.
 */
static void refuse_returns(struct ut_probes *pr, size_t first)
{
	if (!pr->no_returns) {
		pr->no_returns = arch_no_return_hijack(pr->proc->mm_pid);
		if (!pr->no_returns)
			return;
		ut_warn("process %d: %s: entry events only, returns are not traced", pr->proc->pid,
			pr->no_returns);
	}
	for (size_t i = first; i < pr->nprobes; i++)
		pr->probes[i].flags |= UT_FUNC_NORET;
}

int ut_probes_plan(struct ut_probes *pr, const struct ut_maps *maps, const struct ut_modules *mods,
		   ut_plan_extra_fn extra)
{
	size_t cap = 0;
	int e = check_modules_loaded(pr, mods);

	(void)maps;
	if (e == 0)
		e = plan_modules(pr, &cap, mods);
	if (e < 0)
		return e;
	if (!pr->nprobes && !(pr->may_load && ut_probes_pending(pr, mods)))
		return no_match_error(pr, mods);
	tell_unmatched(pr);
	e = extra ? extra(pr, &cap, mods) : 0;
	if (e < 0)
		return e;
	if (pr->nprobes)
		qsort(pr->probes, pr->nprobes, sizeof(*pr->probes), cmp_probe);
	refuse_returns(pr, 0);
	e = assign_areas(pr, mods);
	if (e == 0 && !pr->nareas)
		add_gadget_area(pr, mods);
	return e;
}

int ut_probes_plan_module(struct ut_probes *pr, const struct ut_module *m, size_t *first,
			  ut_plan_extra_module_fn extra)
{
	size_t cap = pr->nprobes;
	int e;

	*first = pr->nprobes;
	e = plan_module(pr, &cap, m);
	tell_found(pr);
	if (e == 0 && extra)
		e = extra(pr, &cap, m);
	if (e < 0) {
		ut_probes_truncate(pr, *first);
		return e;
	}
	if (pr->nprobes > *first)
		qsort(pr->probes + *first, pr->nprobes - *first, sizeof(*pr->probes), cmp_probe);
	for (size_t i = *first; i < pr->nprobes; i++)
		pr->probes[i].id = (uint32_t)i;
	refuse_returns(pr, *first);
	return 0;
}

uint64_t ut_probe_stub(const struct ut_probes *pr, const struct ut_probe *p)
{
	const struct ut_area *a = &pr->areas[p->area];

	return a->stubs + (uint64_t)(p->id - a->first_id) * UT_STUB_SIZE;
}

/* The bytes the probe puts at p->addr: how many, or -ERANGE. */
static int patch_bytes(const struct ut_probes *pr, const struct ut_probe *p, uint8_t *out);

static uint64_t entry_tramp(const struct ut_probes *pr, const struct ut_probe *p)
{
	const struct ut_area *a = &pr->areas[p->area];

	return a->addr + a->hdr->entry_tramp;
}

/*
 * The stub at its final address.  It relocates as much as the patch
 * displaces, so an int3 fallback at the patch point can use it too; a stub
 * entered by a call (--patch=call) cannot.
 */
static int build_stub(struct ut_probes *pr, struct ut_probe *p, const char **why)
{
	size_t off = (size_t)(p->addr - p->func_addr);
	size_t min_len = p->kind == UT_PROBE_CALL ? ARCH_PATCH_SIZE : p->displaced;
	int r;

	if (p->kind == UT_PROBE_CALLSTUB)
		r = arch_callstub_build(p->addr, p->code + off, p->ncode - off, min_len,
					ut_probe_stub(pr, p), entry_tramp(pr, p), p->stub, why);
	else
		r = arch_stub_build(p->addr, p->code + off, p->ncode - off, min_len,
				    ut_probe_stub(pr, p), entry_tramp(pr, p), p->stub, why);
	/* what a jmp or call over the prologue displaces was planned: it must not change */
	if (r >= 0 && p->displaced > ARCH_BREAKPOINT_SIZE && p->kind != UT_PROBE_CALL &&
	    (size_t)r != p->displaced) {
		*why = "relocation differs from the plan";
		r = -EINVAL;
	}
	return r;
}

static void build_probe(struct ut_probes *pr, struct ut_probe *p)
{
	const char *why = "stub or trampoline out of reach of a 5-byte patch";
	uint8_t patch[ARCH_INSN_MAX];

	p->broken = false;
	if (build_stub(pr, p, &why) < 0 || patch_bytes(pr, p, patch) < 0) {
		ut_warn("%s:%s not traced: %s", p->module, p->name, why);
		p->broken = true;
		memset(p->stub, arch_breakpoint[0], sizeof(p->stub));
	}
}

/* The stubs of area a at its (placed) address; a probe whose stub cannot be built is broken. */
void ut_probes_build_area(struct ut_probes *pr, const struct ut_area *a)
{
	for (uint32_t k = 0; k < a->nstubs; k++)
		build_probe(pr, &pr->probes[a->first_id + k]);
}

/* Stubs at their final addresses; a probe whose stub cannot be built stays uninstalled. */
void ut_probes_build(struct ut_probes *pr)
{
	for (size_t i = 0; i < pr->nareas; i++)
		ut_probes_build_area(pr, &pr->areas[i]);
}

static uint32_t site_table_size(uint32_t nsites)
{
	uint32_t n = 1;

	while (n < 2 * nsites)
		n <<= 1;
	return n;
}

/* Entries of the area's site table (0 when it has no call site): a power of two. */
uint32_t ut_area_site_entries(const struct ut_probes *pr, const struct ut_area *a)
{
	uint32_t nsites = 0;

	for (uint32_t k = 0; k < a->nstubs; k++)
		nsites += pr->probes[a->first_id + k].kind == UT_PROBE_CALL;
	return nsites ? site_table_size(nsites) : 0;
}

/* Fill the area's site table (entries from ut_area_site_entries) for the recorder. */
void ut_area_sites_fill(const struct ut_probes *pr, const struct ut_area *a, struct ut_site *table,
			uint32_t entries)
{
	for (uint32_t k = 0; k < a->nstubs; k++) {
		const struct ut_probe *p = &pr->probes[a->first_id + k];
		uint64_t ret = p->addr + ARCH_PATCH_SIZE;
		uint32_t h = ut_site_hash(ret, entries - 1);

		if (p->kind != UT_PROBE_CALL || p->broken)
			continue;
		while (table[h].ret)
			h = (h + 1) & (entries - 1);
		table[h].ret = ret;
		table[h].id = p->id;
	}
}

static int patch_bytes(const struct ut_probes *pr, const struct ut_probe *p, uint8_t *out)
{
	enum arch_patch_insn insn = p->kind == UT_PROBE_JMP ? ARCH_PATCH_JMP : ARCH_PATCH_CALL;
	uint64_t target = p->kind == UT_PROBE_CALL ? entry_tramp(pr, p) : ut_probe_stub(pr, p);
	int e;

	if (p->kind == UT_PROBE_INT3) {
		memcpy(out, arch_breakpoint, ARCH_BREAKPOINT_SIZE);
		return ARCH_BREAKPOINT_SIZE;
	}
	e = arch_patch_encode(insn, p->addr, target, out);
	if (e < 0)
		return e;
	/* A displaced byte past the patch is never run: trap if something does. */
	memset(out + ARCH_PATCH_SIZE, arch_breakpoint[0], p->displaced - ARCH_PATCH_SIZE);
	return p->displaced;
}

/* The original bytes at p->addr that its patch covers. */
static const uint8_t *orig_bytes(const struct ut_probe *p)
{
	return p->code + (p->addr - p->func_addr);
}

static int cmp_probe_ptr(const void *a, const void *b)
{
	return cmp_probe(*(const struct ut_probe *const *)a, *(const struct ut_probe *const *)b);
}

/*
 * One batch of text writes: the patches (install) or the original bytes
 * (remove) of the probes among [first, first + n) that `want` selects, each
 * only over the bytes it expects, in address order (each module's probes
 * are sorted, the modules loaded later come after).  Installing marks the
 * probes written as installed; removing leaves the probes alone (pid may be
 * a forked copy of the process).
 */
static int write_probes(struct ut_probes *pr, pid_t pid, bool install, size_t first, size_t count,
			bool (*want)(const struct ut_probe *p))
{
	size_t cap = count ? count : 1, n = 0;
	struct ut_text_patch *v = calloc(cap, sizeof(*v));
	uint8_t(*bytes)[ARCH_INSN_MAX] = calloc(cap, sizeof(*bytes));
	struct ut_probe **of = calloc(cap, sizeof(*of));
	int e = -ENOMEM;

	if (!v || !bytes || !of)
		goto free;
	for (size_t i = first; i < first + count; i++)
		if (want(&pr->probes[i]))
			of[n++] = &pr->probes[i];
	qsort(of, n, sizeof(*of), cmp_probe_ptr);
	for (size_t k = 0; k < n; k++) {
		struct ut_probe *p = of[k];

		v[k].addr = p->addr;
		v[k].len = (size_t)patch_bytes(pr, p, bytes[k]); /* checked by ut_probes_build */
		v[k].bytes = install ? bytes[k] : orig_bytes(p);
		v[k].expect = install ? orig_bytes(p) : bytes[k];
	}
	e = ut_text_write(pid, v, n);
	for (size_t k = 0; install && k < n; k++)
		of[k]->installed = v[k].done;
free:
	free(of);
	free(bytes);
	free(v);
	return e;
}

/* The probe of area a whose patched bytes may hold addr (each area's probes are sorted). */
static const struct ut_probe *area_probe_at(const struct ut_probes *pr, const struct ut_area *a,
					    uint64_t addr)
{
	const struct ut_probe *v = &pr->probes[a->first_id];

	if (a->free || !a->nstubs || addr < v[0].addr)
		return NULL;
	/* probes do not overlap: the last one at or below addr */
	return &v[ut_sorted_upto(v, a->nstubs, sizeof(*v), offsetof(struct ut_probe, addr), addr) -
		  1];
}

/* The installed probe whose patched bytes hold addr, or NULL. */
const struct ut_probe *ut_probe_find(const struct ut_probes *pr, uint64_t addr)
{
	for (size_t i = 0; i < pr->nareas; i++) {
		const struct ut_probe *p = area_probe_at(pr, &pr->areas[i], addr);

		if (p && p->installed && addr < p->addr + p->displaced)
			return p;
	}
	return NULL;
}

/*
 * Where a thread stopped at ip inside the bytes of probe p goes on in the
 * stub; 0 when it cannot.
 */
uint64_t ut_probe_translate(const struct ut_probes *pr, const struct ut_probe *p, uint64_t ip)
{
	size_t off = (size_t)(p->addr - p->func_addr);

	if (p->kind == UT_PROBE_CALLSTUB || p->broken)
		return 0;
	return arch_stub_translate(p->addr, orig_bytes(p), p->ncode - off, p->displaced,
				   ut_probe_stub(pr, p), ip);
}

/* Where a stopped thread is, and where it goes on (before it, over a syscall to restart). */
struct stopped_at {
	pid_t tid;
	uint64_t ip, resume;
};

/*
 * A stopped thread that would go on inside a range about to be patched
 * (docs/ARCHITECTURE.md, "What a 5-byte patch may not do"): moved to the
 * same point of the stub.  At the patch point itself only a syscall restart
 * needs it (the call already began).  Where that is impossible the probe
 * falls back to an int3, which leaves the bytes after the patch point alone;
 * where even that cannot serve (a thread restarting a syscall at the patch
 * point, a --patch=call probe) the function is not traced.
 */
static void clear_threads_from(struct ut_probes *pr, struct ut_probe *p, const struct stopped_at *v,
			       size_t n)
{
	for (size_t k = 0; k < n; k++) {
		uint64_t to;

		if (v[k].resume < p->addr || v[k].resume >= p->addr + p->displaced ||
		    (v[k].resume == p->addr && v[k].ip == p->addr))
			continue;
		to = ut_probe_translate(pr, p, v[k].resume);
		if (to && ut_thread_set_ip(v[k].tid, to + (v[k].ip - v[k].resume)) == 0)
			continue;
		ut_info("%s:%s: a thread is inside its first bytes; using an int3", p->module,
			p->name);
		p->kind = p->kind == UT_PROBE_CALLSTUB || v[k].resume == p->addr ? UT_PROBE_NONE :
										   UT_PROBE_INT3;
		p->displaced = ARCH_BREAKPOINT_SIZE;
		return;
	}
}

static bool is_installable(const struct ut_probe *p)
{
	return !p->broken && p->kind != UT_PROBE_NONE;
}

static bool is_installed(const struct ut_probe *p)
{
	return p->installed;
}

/* The stopped threads of pid, *n of them. */
static struct stopped_at *stopped_threads(struct ut_probes *pr, pid_t pid, size_t *n)
{
	struct stopped_at *v = calloc(pr->proc->nthreads ? pr->proc->nthreads : 1, sizeof(*v));
	struct user_regs_struct regs;

	*n = 0;
	for (size_t k = 0; v && k < pr->proc->nthreads; k++) {
		const struct ut_thread *t = &pr->proc->threads[k];

		if (t->pid != pid || t->state != UT_THREAD_STOPPED ||
		    ut_thread_get_regs(t->tid, &regs) < 0)
			continue;
		v[*n] = (struct stopped_at){ t->tid, arch_regs_ip(&regs),
					     arch_regs_resume_ip(&regs) };
		(*n)++;
	}
	return v;
}

/*
 * With every thread of pid that could run them stopped: patch probes
 * [first, first + n) in one batch of writes.
 */
int ut_probes_install_range(struct ut_probes *pr, pid_t pid, size_t first, size_t n)
{
	size_t nstopped;
	struct stopped_at *v = stopped_threads(pr, pid, &nstopped);
	int e;

	if (!v)
		return -ENOMEM;
	for (size_t i = first; i < first + n; i++)
		clear_threads_from(pr, &pr->probes[i], v, nstopped);
	free(v);
	e = write_probes(pr, pid, true, first, n, is_installable);
	if (e < 0) {
		ut_error("cannot write probes into process %d: %s", pid, strerror(-e));
		return e;
	}
	for (size_t i = first; i < first + n; i++)
		if (is_installable(&pr->probes[i]) && !pr->probes[i].installed)
			ut_warn("%s:%s not traced: its code changed since utrace read it",
				pr->probes[i].module, pr->probes[i].name);
	return 0;
}

/* With every thread of pid stopped: patch all probes in one batch of writes. */
int ut_probes_install(struct ut_probes *pr, pid_t pid)
{
	return ut_probes_install_range(pr, pid, 0, pr->nprobes);
}

/* Put back the original bytes (in pid: the process, or a forked copy of it). */
int ut_probes_remove(struct ut_probes *pr, pid_t pid)
{
	return write_probes(pr, pid, false, 0, pr->nprobes, is_installed);
}

/* How many installed probes are of each kind. */
void ut_probes_count(const struct ut_probes *pr, size_t count[UT_PROBE_NKINDS])
{
	memset(count, 0, UT_PROBE_NKINDS * sizeof(*count));
	for (size_t i = 0; i < pr->nprobes; i++)
		if (pr->probes[i].installed)
			count[pr->probes[i].kind]++;
}

void ut_probes_free(struct ut_probes *pr)
{
	for (size_t i = 0; i < pr->nprobes; i++)
		probe_strings_free(&pr->probes[i]);
	free(pr->probes);
	free(pr->areas);
	pr->probes = NULL;
	pr->areas = NULL;
	pr->nprobes = pr->nareas = 0;
}
