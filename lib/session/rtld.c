// SPDX-License-Identifier: MIT
/*
 * Libraries loaded and unloaded while we trace (dlopen, dlclose), followed
 * through the dynamic linker's rendezvous, as debuggers do (glibc <link.h>):
 *
 *   main executable's DT_DEBUG ──▶ struct r_debug { r_version, r_map, r_brk, r_state, ... }
 *   r_map ──▶ struct link_map { l_addr, l_name, l_ld, l_next, l_prev } ──▶ ...
 *
 * ld.so calls r_brk (_dl_debug_state, an empty function) with r_state set
 * to RT_ADD before it maps new objects, RT_DELETE before it unmaps some and
 * RT_CONSISTENT once its list is stable again.  We put an int3 there (a
 * ptrace-level breakpoint like run's AT_ENTRY one, answered by emulating the
 * function's `ret`) and at each RT_CONSISTENT compare the link_map list with
 * the one seen last:
 *
 *  - A new library: plan its probes, put them in a code area near it, patch
 *    it.  The RT_CONSISTENT after an add comes before the library is
 *    relocated and its constructors run (glibc's dl_open_worker), so the
 *    calls its constructors make are traced.  Only the dlopening thread is
 *    held, the world is not stopped: no other thread can run the new text
 *    (only the dynamic linker, under dl_load_lock, knows its addresses until
 *    dlopen returns or a constructor hands them out); the new area is mapped
 *    by the dlopening thread on the `syscall` gadget of an area already
 *    there (no text another thread may run is touched); the data area gets
 *    function entries for ids no stub in use refers to yet.  Nothing another
 *    thread can be running is written.
 *  - A library gone: its text was unmapped after RT_DELETE, so its probes
 *    are forgotten (never restored, never written again) and its code area
 *    kept for the next library that fits.  No shadow-stack entry, and no
 *    thread in one of its stubs or trampolines, can belong to it: those
 *    exist only while one of its traced functions is live (being entered or
 *    returning), and a program that dlcloses a library with a function of it
 *    live crashes untraced too.
 *
 * A kill -9 of utrace leaves the int3 in the program: its next dlopen or
 * dlclose dies of SIGTRAP (README, utrace(1)).
 *
 * Only the base namespace (r_debug's list) is followed: dlmopen namespaces
 * are not.  Everything read from the tracee is untrusted: bounded and checked.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/user.h>
#include <unistd.h>

#include "arch.h"
#include "procfs.h"
#include "tracer.h"
#include "log.h"
#include "remote.h"
#include "base.h"

#define PHDRS_MAX 256
#define DYN_MAX 1024
#define LINK_MAP_MAX 4096 /* longer lists (or a loop) are not believed */

/* <link.h>: enum r_state */
enum { RT_CONSISTENT, RT_ADD, RT_DELETE };

/* <link.h> struct r_debug, as 64-bit ld.so lays it out. */
struct r_debug64 {
	int32_t r_version;
	int32_t pad;
	uint64_t r_map;
	uint64_t r_brk;
	int32_t r_state;
	int32_t pad2;
	uint64_t r_ldbase;
};

/* The public head of <link.h> struct link_map. */
struct link_map64 {
	uint64_t l_addr, l_name, l_ld, l_next, l_prev;
};

/* A library of the link_map list as we last saw it. */
struct rtld_lib {
	uint64_t l_ld; /* its dynamic section: identifies it while it is loaded */
	uint64_t l_addr;
	uint64_t lo, hi; /* its module's range in the maps ([0, 0) when none: vdso) */
	char *name; /* its module's basename, or NULL */
};

struct ut_rtld {
	uint64_t r_debug; /* tracee address */
	uint64_t brk; /* r_brk: where our int3 goes (in s->bps once it is in place) */
	bool deleting; /* RT_DELETE seen, its RT_CONSISTENT not yet */
	struct rtld_lib *libs;
	size_t nlibs;
	bool *seen; /* [filter->n]: some library loaded matched the pattern's module */
	unsigned long loads, unloads;
};

static uint64_t now_ns(void)
{
	return utrace_monotonic_ns();
}

/* ---- finding r_debug ---------------------------------------------------- */

/* The main executable's dynamic section (from its program headers in memory). */
static int find_dynamic(pid_t pid, uint64_t *dyn, uint64_t *size)
{
	uint64_t at_phdr, phnum, bias = 0;
	Elf64_Phdr ph[PHDRS_MAX];
	int e = ut_proc_auxv(pid, AT_PHDR, &at_phdr);

	if (e == 0)
		e = ut_proc_auxv(pid, AT_PHNUM, &phnum);
	if (e == 0 && (phnum == 0 || phnum > PHDRS_MAX))
		e = -EINVAL;
	if (e == 0)
		e = utrace_mem_read(pid, at_phdr, ph, phnum * sizeof(ph[0]));
	if (e < 0)
		return e;
	for (uint64_t i = 0; i < phnum; i++)
		if (ph[i].p_type == PT_PHDR)
			bias = at_phdr - ph[i].p_vaddr;
	for (uint64_t i = 0; i < phnum; i++)
		if (ph[i].p_type == PT_DYNAMIC) {
			*dyn = ph[i].p_vaddr + bias;
			*size = ph[i].p_memsz < DYN_MAX * sizeof(Elf64_Dyn) ?
					ph[i].p_memsz :
					DYN_MAX * sizeof(Elf64_Dyn);
			return 0;
		}
	return -ENOENT; /* static: no dynamic linker */
}

/* DT_DEBUG: ld.so stores &r_debug there before the program's entry point. */
static int find_r_debug(pid_t pid, uint64_t *r_debug)
{
	Elf64_Dyn d[DYN_MAX];
	uint64_t dyn, size;
	int e = find_dynamic(pid, &dyn, &size);

	if (e == 0)
		e = utrace_mem_read(pid, dyn, d, size);
	if (e < 0)
		return e;
	for (size_t i = 0; i < size / sizeof(d[0]) && d[i].d_tag != DT_NULL; i++)
		if (d[i].d_tag == DT_DEBUG && d[i].d_un.d_ptr) {
			*r_debug = d[i].d_un.d_ptr;
			return 0;
		}
	return -ENOENT;
}

static int read_r_debug(pid_t pid, uint64_t addr, struct r_debug64 *r)
{
	int e = utrace_mem_read(pid, addr, r, sizeof(*r));

	if (e == 0 && (r->r_version < 1 || !r->r_brk))
		e = -EINVAL;
	return e;
}

int ut_rtld_find(struct ut_session *s)
{
	struct r_debug64 r;
	uint64_t addr;
	int e;

	/* a new image (exec): nothing of an earlier rendezvous holds */
	ut_rtld_free(s);
	e = find_r_debug(s->proc.mm_pid, &addr);
	if (e == 0)
		e = read_r_debug(s->proc.mm_pid, addr, &r);
	if (e < 0) {
		ut_debug("process %d: no dynamic linker rendezvous (%s): dlopen not followed",
			 s->proc.pid, strerror(-e));
		return e;
	}
	s->rtld = calloc(1, sizeof(*s->rtld));
	if (!s->rtld)
		return -ENOMEM;
	s->rtld->seen = calloc(s->opts.filter->n + 1, sizeof(bool));
	if (!s->rtld->seen) {
		ut_rtld_free(s);
		return -ENOMEM;
	}
	s->rtld->r_debug = addr;
	s->rtld->brk = r.r_brk;
	s->pr.may_load = true;
	return 0;
}

/* ---- the link_map list --------------------------------------------------- */

static void libs_free(struct rtld_lib *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
}

/* Its module in the maps of now (found by its dynamic section), and which patterns it answers. */
static int lib_locate(struct ut_rtld *rt, const struct ut_filter *f, struct rtld_lib *l,
		      const struct ut_modules *mods)
{
	const struct ut_module *m = utrace_modules_find(mods, l->l_ld);

	if (!m || m->is_main)
		return 0;
	l->lo = m->lo;
	l->hi = m->hi;
	l->name = strdup(m->name);
	if (!l->name)
		return -ENOMEM;
	for (size_t i = 0; i < f->n; i++)
		if (f->v[i].module && !fnmatch(f->v[i].module, m->name, 0))
			rt->seen[i] = true;
	return 0;
}

/* The libraries of the link_map list, located in the maps of now. */
static int read_libs(struct ut_session *s, const struct ut_modules *mods, struct rtld_lib **out,
		     size_t *nout)
{
	struct r_debug64 r;
	struct link_map64 lm;
	struct rtld_lib *v = calloc(LINK_MAP_MAX, sizeof(*v));
	size_t n = 0;
	int e = v ? read_r_debug(s->proc.mm_pid, s->rtld->r_debug, &r) : -ENOMEM;

	for (uint64_t at = e ? 0 : r.r_map; at && !e; at = lm.l_next) {
		if (n == LINK_MAP_MAX) {
			e = -ELOOP;
			break;
		}
		e = utrace_mem_read(s->proc.mm_pid, at, &lm, sizeof(lm));
		if (e == 0 && lm.l_ld) {
			v[n] = (struct rtld_lib){ .l_ld = lm.l_ld, .l_addr = lm.l_addr };
			e = lib_locate(s->rtld, s->opts.filter, &v[n++], mods);
		}
	}
	if (e < 0) {
		libs_free(v, n);
		return e;
	}
	*out = v;
	*nout = n;
	return 0;
}

static const struct rtld_lib *lib_in(const struct rtld_lib *v, size_t n, const struct rtld_lib *l)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].l_ld == l->l_ld && v[i].l_addr == l->l_addr && v[i].lo == l->lo &&
		    v[i].hi == l->hi)
			return &v[i];
	return NULL;
}

/* ---- libraries coming and going ------------------------------------------ */

static void lib_gone(struct ut_session *s, const struct rtld_lib *l)
{
	size_t forgotten = 0;

	if (!l->name)
		return;
	for (size_t i = 0; i < s->pr.nareas; i++) {
		struct ut_area *a = &s->pr.areas[i];

		if (a->free || a->near < l->lo || a->near >= l->hi)
			continue;
		forgotten += a->nstubs;
		ut_area_free(&s->inj, a);
	}
	s->rtld->unloads++;
	ut_info("%s unloaded from process %d: %zu traced functions forgotten", l->name, s->proc.pid,
		forgotten);
}

/*
 * Text relocations (DT_TEXTREL) are applied after the RT_CONSISTENT where
 * we patch: over our patches, and after we copied the unrelocated bytes
 * into the stubs.  Such a library is not traced (x86_64 linkers make them
 * only when told to: -z notext).
 */
static bool has_textrel(pid_t pid, uint64_t l_ld)
{
	Elf64_Dyn d[DYN_MAX];

	/* the dynamic section may end before DYN_MAX entries: read what is mapped */
	for (size_t n = DYN_MAX; n; n /= 2) {
		if (utrace_mem_read(pid, l_ld, d, n * sizeof(d[0])) < 0)
			continue;
		for (size_t i = 0; i < n && d[i].d_tag != DT_NULL; i++)
			if (d[i].d_tag == DT_TEXTREL ||
			    (d[i].d_tag == DT_FLAGS && (d[i].d_un.d_val & DF_TEXTREL)))
				return true;
		return false;
	}
	return false;
}

/* Plan, place, build and patch the probes of a library just mapped; t is held meanwhile. */
static int lib_new(struct ut_session *s, struct ut_thread *t, const struct ut_modules *mods,
		   const struct rtld_lib *l)
{
	const struct ut_module *m = utrace_modules_find(mods, l->l_ld);
	uint64_t start = now_ns();
	size_t first, n;
	int e;

	if (!m || m->is_main)
		return 0;
	s->rtld->loads++;
	if (!utrace_filter_wants_module(s->opts.filter, m->name, false) &&
	    !ut_hooks_wanted(&s->pr, m))
		return 0;
	if (has_textrel(s->proc.mm_pid, l->l_ld)) {
		ut_warn("%s not traced: it has text relocations, which the dynamic linker applies "
			"after utrace would patch it",
			m->name);
		return 0;
	}
	e = ut_probes_plan_module(&s->pr, m, &first, ut_hooks_plan_module);
	n = s->pr.nprobes - first;
	if (e < 0 || !n)
		return e;
	if (s->pr.nprobes > s->inj.geo.nfuncs) {
		ut_warn("%s not traced: more than %u functions in all", m->name, s->inj.geo.nfuncs);
		ut_probes_truncate(&s->pr, first);
		return 0;
	}
	if (utrace_seccomp_mode(s->proc.mm_pid) > 0) {
		ut_warn("%s not traced: process %d runs under seccomp, where utrace maps no code "
			"after the start",
			m->name, s->proc.pid);
		ut_probes_truncate(&s->pr, first);
		return 0;
	}
	e = ut_area_add(&s->inj, t->tid, m, (uint32_t)first, (uint32_t)n);
	if (e < 0) {
		for (size_t i = first; i < s->pr.nprobes; i++)
			s->pr.probes[i].broken = true;
		return 0;
	}
	e = ut_output_add_funcs(s, first);
	if (e == 0)
		e = ut_probes_install_range(&s->pr, s->proc.mm_pid, first, n);
	ut_info("%s loaded in process %d: %zu functions traced; thread %d held %.3f ms", m->name,
		s->proc.pid, n - ut_hooks_count(&s->pr, first), t->tid,
		(double)(now_ns() - start) / NSEC_PER_MSEC);
	return e;
}

static int read_modules(pid_t pid, struct ut_modules *mods)
{
	struct ut_maps maps = { 0 };
	char exe[PATH_MAX];
	int e = ut_proc_exe(pid, exe, sizeof(exe));

	if (e < 0)
		return e;
	e = utrace_maps_read(pid, &maps);
	if (e == 0)
		e = utrace_modules_from_maps(&maps, exe, mods);
	utrace_maps_free(&maps);
	return e;
}

/* RT_CONSISTENT: what came and what went since the last time. */
static int rtld_sync(struct ut_session *s, struct ut_thread *t)
{
	struct ut_rtld *rt = s->rtld;
	struct ut_modules mods = { 0 };
	struct rtld_lib *v = NULL;
	size_t n = 0;
	int e = read_modules(s->proc.mm_pid, &mods);

	if (e == 0)
		e = read_libs(s, &mods, &v, &n);
	if (e < 0) {
		ut_warn("process %d: cannot read the dynamic linker's list of libraries: %s",
			s->proc.pid, strerror(-e));
		utrace_modules_free(&mods);
		return e;
	}
	for (size_t i = 0; i < rt->nlibs; i++)
		if (!lib_in(v, n, &rt->libs[i]))
			lib_gone(s, &rt->libs[i]);
	for (size_t i = 0; i < n && !e; i++)
		if (!lib_in(rt->libs, rt->nlibs, &v[i]))
			e = lib_new(s, t, &mods, &v[i]);
	libs_free(rt->libs, rt->nlibs);
	rt->libs = v;
	rt->nlibs = n;
	rt->deleting = false;
	utrace_modules_free(&mods);
	return e;
}

/* ---- the breakpoint -------------------------------------------------------- */

/* Whether our int3 is at r_brk. */
static bool brk_set(const struct ut_session *s)
{
	const struct ut_bp *bp = s->rtld ? ut_bp_find(&s->bps, s->rtld->brk) : NULL;

	return bp && bp->kind == UT_BP_RTLD;
}

uint64_t ut_rtld_brk(const struct ut_session *s)
{
	return brk_set(s) ? s->rtld->brk : 0;
}

bool ut_rtld_is_brk(const struct ut_session *s, uint64_t addr)
{
	return brk_set(s) && addr == s->rtld->brk;
}

/* _dl_debug_state only returns: do that for it. */
static int emulate_return(pid_t tid)
{
	struct user_regs_struct regs;
	uint64_t ret;
	int e;

	e = ut_thread_get_regs(tid, &regs);
	if (e < 0)
		return e;
	e = utrace_mem_read(tid, arch_regs_sp(&regs), &ret, sizeof(ret));
	if (e < 0)
		return e;
	arch_regs_emulate_return(&regs, ret);
	return ptrace(PTRACE_SETREGS, tid, 0, &regs) < 0 ? -errno : 0;
}

int ut_rtld_hit(struct ut_session *s, struct ut_thread *t)
{
	struct ut_rtld *rt = s->rtld;
	struct r_debug64 r;
	int e;

	s->traps++;
	/* Detaching: the original instruction runs once our byte is gone. */
	if (s->detaching)
		return ut_thread_set_ip(t->tid, rt->brk);
	e = read_r_debug(s->proc.mm_pid, rt->r_debug, &r);
	if (e == 0 && r.r_state == RT_DELETE)
		rt->deleting = true;
	else if (e == 0 && r.r_state == RT_CONSISTENT)
		e = rtld_sync(s, t);
	if (e < 0)
		ut_warn("thread %d: following the dynamic linker: %s", t->tid, strerror(-e));
	return emulate_return(t->tid);
}

/*
 * Libraries may come (patterns wait for them) or go (patched ones): set the
 * breakpoint; `always` in run, where it costs nothing until a dlopen.
 */
static bool rtld_needed(const struct ut_session *s)
{
	const struct ut_filter *f = s->opts.filter;

	for (size_t i = 0; i < f->n; i++)
		if (!f->v[i].exclude && f->v[i].module)
			return true;
	/* glibc dlopens libgcc_s at a C program's first backtrace() or pthread_exit() */
	return ut_hooks_awaited(&s->pr);
}

static int brk_check(struct ut_session *s)
{
	uint8_t code[ARCH_INSN_MAX];
	int e = utrace_mem_read(s->proc.mm_pid, s->rtld->brk, code, sizeof(code));

	if (e < 0)
		return e;
	if (ut_probe_find(&s->pr, s->rtld->brk)) {
		ut_warn("the dynamic linker's _dl_debug_state is traced: dlopen and dlclose are not "
			"followed");
		return -EBUSY;
	}
	if (!arch_is_bare_return(code, sizeof(code))) {
		ut_warn("the dynamic linker's r_brk at 0x%llx is not an empty function: dlopen and "
			"dlclose are not followed",
			(unsigned long long)s->rtld->brk);
		return -ENOTSUP;
	}
	return 0;
}

/*
 * The list read here is what later changes are compared with.  Attaching
 * while a dlopen is under way (between its RT_ADD and RT_CONSISTENT), a
 * library already in the list but not yet in the maps when the probes were
 * planned is not traced: a window of microseconds, left as it is.
 */
int ut_rtld_start(struct ut_session *s, bool always)
{
	struct ut_rtld *rt = s->rtld;
	struct ut_modules mods = { 0 };
	int e;

	if (!rt || brk_set(s) || (!always && !rtld_needed(s)))
		return 0;
	e = brk_check(s);
	if (e == 0)
		e = read_modules(s->proc.mm_pid, &mods);
	if (e == 0)
		e = read_libs(s, &mods, &rt->libs, &rt->nlibs);
	utrace_modules_free(&mods);
	if (e == 0)
		e = ut_bp_insert(&s->bps, s->proc.mm_pid, rt->brk, UT_BP_RTLD);
	if (e < 0) {
		ut_warn("process %d: libraries loaded later will not be traced (%s)", s->proc.pid,
			strerror(-e));
		return 0;
	}
	ut_info("int3 at the dynamic linker's r_brk (0x%llx): dlopen and dlclose are followed",
		(unsigned long long)rt->brk);
	return 0;
}

/* Whether the first and last bytes of the library are still mapped from a file of its name. */
static bool still_mapped(const struct ut_maps *maps, const struct rtld_lib *l)
{
	const uint64_t ends[2] = { l->lo, l->hi - 1 };

	for (int i = 0; i < 2; i++) {
		const struct ut_map *m = utrace_maps_find(maps, ends[i]);
		const char *base = m ? strrchr(m->path, '/') : NULL;

		if (!base || strcmp(base + 1, l->name))
			return false;
	}
	return true;
}

/* Libraries unmapped after an RT_DELETE whose RT_CONSISTENT we will not see (detach). */
static void forget_unmapped(struct ut_session *s)
{
	struct ut_rtld *rt = s->rtld;
	struct ut_maps maps = { 0 };

	if (utrace_maps_read(s->proc.mm_pid, &maps) < 0)
		return;
	for (size_t i = 0; i < rt->nlibs; i++)
		if (rt->libs[i].name && !still_mapped(&maps, &rt->libs[i]))
			lib_gone(s, &rt->libs[i]);
	utrace_maps_free(&maps);
}

void ut_rtld_remove(struct ut_session *s, pid_t pid)
{
	struct ut_rtld *rt = s->rtld;
	bool ours = pid == s->proc.pid || pid == s->proc.mm_pid; /* not a forked copy */

	if (!brk_set(s))
		return;
	if (ours && rt->deleting)
		forget_unmapped(s);
	if (ours)
		ut_bp_remove(&s->bps, pid, rt->brk);
	else
		ut_bp_restore(&s->bps, pid, rt->brk);
}

/*
 * A loaded library whose file name starts with `module`: a user naming a
 * library by its soname ("libffi.so.8") when the file is "libffi.so.8.1.2".
 */
static const char *lib_named_like(const struct ut_rtld *rt, const char *module)
{
	for (size_t i = 0; i < rt->nlibs; i++)
		if (rt->libs[i].name && !strncmp(rt->libs[i].name, module, strlen(module)))
			return rt->libs[i].name;
	return NULL;
}

void ut_rtld_report(struct ut_session *s)
{
	const struct ut_filter *f = s->opts.filter;

	if (!s->rtld)
		return;
	ut_info("dynamic linker: %lu libraries loaded, %lu unloaded while traced", s->rtld->loads,
		s->rtld->unloads);
	for (size_t i = 0; i < f->n; i++) {
		const char *like;

		if (f->v[i].anywhere && !f->v[i].exclude && !f->v[i].matches)
			ut_warn("pattern '%s' traced nothing: no library loaded defined it",
				f->v[i].spec);
		if (f->v[i].exclude || !f->v[i].module || s->rtld->seen[i] || f->v[i].matches)
			continue;
		like = lib_named_like(s->rtld, f->v[i].module);
		ut_warn("pattern '%s' traced nothing: no module matching '%s' was loaded%s%s%s",
			f->v[i].spec, f->v[i].module,
			like ? " (module patterns match file names: '" : "", like ? like : "",
			like ? "' is loaded)" : "");
	}
}

void ut_rtld_free(struct ut_session *s)
{
	s->pr.may_load = false;
	if (!s->rtld)
		return;
	libs_free(s->rtld->libs, s->rtld->nlibs);
	free(s->rtld->seen);
	free(s->rtld);
	s->rtld = NULL;
}
