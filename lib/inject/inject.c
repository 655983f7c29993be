// SPDX-License-Identifier: MIT
/*
 * The two areas we put into the tracee (docs/ARCHITECTURE.md, "The areas"):
 *
 *  - the data area: a sealed memfd mapped MAP_SHARED by the tracee and by
 *    us; the tracee's descriptor is closed once mapped;
 *  - one code area per probed module, private anonymous memory mapped
 *    PROT_READ|PROT_EXEC directly (never mprotect'ed to executable) within
 *    rel32 reach of the module, filled through /proc/PID/mem.
 *
 * And the per-thread slots inside the data area.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <unistd.h>

#include "arch.h"
#include "procfs.h"
#include "inject.h"
#include "log.h"
#include "remote.h"

#define PAGE_SIZE_UT 4096UL
#define MEMFD_NAME "utrace"
#define BRK_RESERVE (1ULL << 30) /* heap growth we keep clear of */
/*
 * Function-table entries reserved for libraries loaded later (rtld.c): ids
 * are never reused (events of an unloaded library's functions may still
 * wait in the rings), so this bounds the functions of all libraries a
 * session ever sees loaded.  32 bytes each, 2 MiB of the memfd, only the
 * pages used take memory.
 */
#define FUNCS_SPARE (1U << 16)
#define REL32_REACH (1ULL << 31)
/* A recorder on a full ring spins this long before it sleeps: a drain is often that close. */
#define BLOCK_SPIN_NS 10000ULL

static uint64_t page_align(uint64_t x)
{
	return (x + PAGE_SIZE_UT - 1) & ~(PAGE_SIZE_UT - 1);
}

static int remote_call(struct ut_remote *r, long nr, uint64_t a0, uint64_t a1, uint64_t a2,
		       uint64_t a3, uint64_t a4, uint64_t a5, int64_t *ret)
{
	const uint64_t args[6] = { a0, a1, a2, a3, a4, a5 };
	int e = utrace_remote_syscall(r, nr, args, ret);

	if (e < 0)
		return e;
	return *ret < 0 && *ret > -4096 ? (int)*ret : 0;
}

static void geometry_init(struct ut_inject *in)
{
	struct ut_geometry *g = &in->geo;

	g->nfuncs = (uint32_t)in->pr->nprobes + (in->pr->may_load ? FUNCS_SPARE : 0);
	g->nslots = in->opts.nslots;
	g->ring_size = in->opts.ring_size;
	g->rstack_depth = in->opts.rstack_depth;
	g->rec_args = in->opts.record_args;
	g->rec_retval = in->opts.record_retval;
	/* a stack copy goes in data records: a 64-byte one carries 56 bytes of it */
	g->rec_size = g->rec_args || in->opts.stack_bytes ? UT_REC_ARGS_SIZE :
		      g->rec_retval			  ? UT_REC_RETVAL_SIZE :
							    UT_REC_MIN;
	g->funcs_off = page_align(sizeof(struct ut_ctl));
	g->slots_off = g->funcs_off + page_align((uint64_t)g->nfuncs * sizeof(struct ut_func));
	g->rstacks_off = g->slots_off + page_align((uint64_t)g->nslots * sizeof(struct ut_slot));
	g->rings_off = g->rstacks_off + page_align((uint64_t)g->nslots * g->rstack_depth *
						   sizeof(struct ut_rs_entry));
	g->area_size = g->rings_off + (uint64_t)g->nslots * g->ring_size;
}

/*
 * memfd_create needs its name in tracee memory: put it right after the
 * syscall gadget, inside the bytes remote_begin already swapped out of the
 * text at the thread's ip, and restore them after.
 */
static int remote_memfd(struct ut_remote *r, int64_t *fd)
{
	uint64_t name_at = r->gadget + ARCH_SYSCALL_GADGET_SIZE;
	char saved[sizeof(MEMFD_NAME)];
	int e;

	if (utrace_mem_read(r->tid, name_at, saved, sizeof(saved)) < 0 ||
	    utrace_mem_write(r->tid, name_at, MEMFD_NAME, sizeof(MEMFD_NAME)) < 0)
		return -EFAULT;
	e = remote_call(r, SYS_memfd_create, name_at, MFD_CLOEXEC | MFD_ALLOW_SEALING, 0, 0, 0, 0,
			fd);
	if (utrace_mem_write(r->tid, name_at, saved, sizeof(saved)) < 0 && !e)
		e = -EFAULT;
	return e;
}

static int open_tracee_fd(pid_t pid, int fd)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", pid, fd);
	return open(path, O_RDWR | O_CLOEXEC);
}

void ut_ctl_set(const struct ut_inject *in, struct ut_ctl *c)
{
	const struct ut_geometry *g = &in->geo;

	c->funcs_off = g->funcs_off;
	c->slots_off = g->slots_off;
	c->rstacks_off = g->rstacks_off;
	c->rings_off = g->rings_off;
	c->rec_size = g->rec_size;
	c->rec_args = g->rec_args;
	c->rec_retval = g->rec_retval;
	c->str_max = in->opts.str_max;
	c->stack_bytes = in->opts.stack_bytes;
	c->caller_only = in->opts.caller_only;
	memcpy(c->stable, in->stable, sizeof(c->stable));
	c->nstable = in->nstable;
	c->block_ticks = utrace_tsc_ticks(in->tsc, in->opts.block_timeout_ns);
	c->spin_ticks = in->opts.block_timeout_ns ? utrace_tsc_ticks(in->tsc, BLOCK_SPIN_NS) : 0;
	c->no_sleep = utrace_seccomp_mode(in->pr->proc->mm_pid) != 0;
}

/*
 * A function as the recorder sees it: the data its events carry, of what
 * was asked (argument strings, vector registers and stack arguments with
 * --args, a floating-point return value with --retval).
 */
static void func_set(const struct ut_inject *in, struct ut_func *f, const struct ut_probe *p)
{
	uint32_t x = p->extras;

	if (!in->opts.record_args)
		x &= ~(UT_X_STRS_MASK | UT_X_XMM_MASK << UT_X_XMM_SHIFT |
		       UT_X_STKARGS_MASK << UT_X_STKARGS_SHIFT);
	if (!in->opts.record_retval)
		x &= ~UT_X_XMM_RET;
	if (!in->opts.stack_bytes)
		x &= ~UT_X_STACK;
	f->addr = p->addr;
	f->flags = p->flags;
	f->extras = x;
}

static void ctl_init(struct ut_inject *in)
{
	struct ut_ctl *c = in->area;
	const struct ut_geometry *g = &in->geo;
	struct ut_func *f;

	c->magic = UT_SHM_MAGIC;
	c->version = UT_SHM_VERSION;
	c->nfuncs = g->nfuncs;
	c->nslots = g->nslots;
	c->ring_size = g->ring_size;
	c->rstack_depth = g->rstack_depth;
	c->use_rdfsbase = arch_has_rdfsbase();
	ut_ctl_set(in, c);
	c->total_size = g->area_size;
	f = ut_ctl_funcs(c);
	for (size_t i = 0; i < in->pr->nprobes; i++)
		func_set(in, &f[i], &in->pr->probes[i]);
	for (size_t i = 0; i < in->pr->nareas; i++)
		c->ret_tramps[i] = in->pr->areas[i].addr + in->pr->areas[i].hdr->return_tramp;
	c->nret_tramps = (uint32_t)in->pr->nareas;
}

static int map_ours(struct ut_inject *in, int fd)
{
	void *p = mmap(NULL, in->geo.area_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

	if (p == MAP_FAILED)
		return -errno;
	in->area = p;
	in->memfd = fd;
	return 0;
}

/* Create, seal and map the data area in the tracee and here.  Needs the probes planned. */
int ut_inject_data(struct ut_inject *in, struct ut_remote *r)
{
	int64_t fd, addr = 0, ignored;
	bool mapped;
	int e, ours;

	if (!in->geo.area_size) /* a followed child keeps its parent's (follow-fork.c) */
		geometry_init(in);
	e = remote_memfd(r, &fd);
	if (e < 0)
		goto fail;
	e = remote_call(r, SYS_ftruncate, (uint64_t)fd, in->geo.area_size, 0, 0, 0, 0, &ignored);
	if (!e)
		e = remote_call(r, SYS_fcntl, (uint64_t)fd, F_ADD_SEALS,
				F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, 0, 0, 0, &ignored);
	if (!e)
		/* a followed child: over the mapping it inherited, where its code looks */
		e = remote_call(
			r, SYS_mmap, in->area_addr, in->geo.area_size, PROT_READ | PROT_WRITE,
			MAP_SHARED | (in->area_addr ? MAP_FIXED : 0), (uint64_t)fd, 0, &addr);
	mapped = e == 0;
	ours = mapped ? open_tracee_fd(in->pr->proc->mm_pid, (int)fd) : -1;
	if (mapped && ours < 0)
		e = -errno; /* now: the remote close below may change errno */
	remote_call(r, SYS_close, (uint64_t)fd, 0, 0, 0, 0, 0, &ignored);
	if (e == 0) {
		e = map_ours(in, ours);
		if (e < 0)
			close(ours);
	}
	if (e < 0) {
		if (mapped)
			remote_call(r, SYS_munmap, (uint64_t)addr, in->geo.area_size, 0, 0, 0, 0,
				    &ignored);
		goto fail;
	}
	in->area_addr = (uint64_t)addr;
	return 0;
fail:
	ut_error("cannot create the data area in process %d: %s", in->pr->proc->pid, strerror(-e));
	return e;
}

static uint64_t blob_span(void)
{
	return page_align(arch_blob_size);
}

/* proc(5)'s field of /proc/PID/stat: where the heap starts (brk grows from there). */
#define STAT_START_BRK 47

static int read_start_brk(pid_t pid, uint64_t *start_brk)
{
	return ut_proc_stat_field(pid, 0, STAT_START_BRK, start_brk);
}

/* Choose where area `a` goes: a free range within rel32 reach of its module. */
static int place_area(struct ut_inject *in, const struct ut_maps *maps, const struct ut_module *m,
		      struct ut_area *a, uint64_t start_brk)
{
	uint64_t stubs_len = page_align((uint64_t)a->nstubs * UT_STUB_SIZE);
	uint64_t sites_len = page_align((uint64_t)a->site_entries * sizeof(struct ut_site));
	uint64_t len = blob_span() + stubs_len + sites_len;
	uint64_t hint =
		utrace_maps_find_gap(maps, m->lo, m->hi, len, start_brk, start_brk + BRK_RESERVE);

	if (!hint) {
		ut_error("no free address range within 2 GiB of %s in process %d", m->name,
			 in->pr->proc->pid);
		return -ENOMEM;
	}
	a->addr = hint;
	a->size = len;
	a->stubs = hint + blob_span();
	a->sites = a->site_entries ? a->stubs + stubs_len : 0;
	a->hdr = (const struct ut_blob_hdr *)arch_blob;
	return 0;
}

static const struct ut_module *area_module(const struct ut_inject *in, const struct ut_area *a,
					   const struct ut_modules *mods)
{
	(void)in;
	return utrace_modules_find(mods, a->near);
}

/*
 * Before the world stops: where each code area goes (in->pr->areas was sized and
 * its first_id/nstubs set by the probe planner, one per probed module), so
 * that the stubs can be built for their final addresses while the program
 * runs.
 */
int ut_areas_place(struct ut_inject *in, const struct ut_maps *maps, const struct ut_modules *mods)
{
	uint64_t start_brk = 0;
	int e;

	read_start_brk(in->pr->proc->mm_pid, &start_brk);
	for (size_t i = 0; i < in->pr->nareas; i++) {
		const struct ut_module *m = area_module(in, &in->pr->areas[i], mods);

		if (!m)
			return -EINVAL;
		in->pr->areas[i].site_entries = ut_area_site_entries(in->pr, &in->pr->areas[i]);
		e = place_area(in, maps, m, &in->pr->areas[i], start_brk);
		if (e < 0)
			return e;
	}
	return 0;
}

static int map_area(struct ut_inject *in, struct ut_remote *r, const struct ut_area *a)
{
	int64_t addr, ignored;
	int e = remote_call(r, SYS_mmap, a->addr, a->size, PROT_READ | PROT_EXEC,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, (uint64_t)-1, 0,
			    &addr);

	if (e == 0 && (uint64_t)addr != a->addr) {
		remote_call(r, SYS_munmap, (uint64_t)addr, a->size, 0, 0, 0, 0, &ignored);
		e = -EEXIST;
	}
	return e;
}

/*
 * The program mapped something where an area was placed (or an area placed
 * near another module took the range): place it again with the maps of now,
 * and rebuild its stubs for the new address.
 */
static int replace_area(struct ut_inject *in, struct ut_remote *r, struct ut_area *a,
			const struct ut_modules *mods)
{
	struct ut_maps maps = { 0 };
	uint64_t start_brk = 0;
	int e = utrace_maps_read(in->pr->proc->mm_pid, &maps);

	read_start_brk(in->pr->proc->mm_pid, &start_brk);
	if (e == 0)
		e = place_area(in, &maps, area_module(in, a, mods), a, start_brk);
	utrace_maps_free(&maps);
	if (e == 0)
		e = map_area(in, r, a);
	if (e == 0)
		ut_probes_build_area(in->pr, a);
	return e;
}

/* With the world stopped: map the placed code areas. */
int ut_inject_code(struct ut_inject *in, struct ut_remote *r, const struct ut_modules *mods)
{
	for (size_t i = 0; i < in->pr->nareas; i++) {
		struct ut_area *a = &in->pr->areas[i];
		int e = map_area(in, r, a);

		if (e == -EEXIST)
			e = replace_area(in, r, a, mods);
		if (e < 0) {
			ut_error("cannot map code near %s in process %d: %s",
				 a->nstubs ? in->pr->probes[a->first_id].module : "the program",
				 in->pr->proc->pid, strerror(-e));
			return e;
		}
	}
	return 0;
}

int ut_areas_unmap(struct ut_inject *in, struct ut_remote *r)
{
	int64_t ignored;
	int e = 0, e1;

	for (size_t i = 0; i < in->pr->nareas; i++)
		if (in->pr->areas[i].addr) {
			e1 = remote_call(r, SYS_munmap, in->pr->areas[i].addr,
					 in->pr->areas[i].size, 0, 0, 0, 0, &ignored);
			e = e ? e : e1;
		}
	if (in->area_addr) {
		e1 = remote_call(r, SYS_munmap, in->area_addr, in->geo.area_size, 0, 0, 0, 0,
				 &ignored);
		e = e ? e : e1;
	}
	return e;
}

/* Unmap what ut_inject_code and ut_inject_data mapped, after a failure. */
void ut_inject_undo(struct ut_inject *in, struct ut_remote *r)
{
	ut_areas_unmap(in, r);
	in->area_addr = 0;
}

/* Write area a's blob copy (with its parameters), stubs and site table. */
static int write_area(struct ut_inject *in, const struct ut_area *a)
{
	const struct ut_blob_hdr *hdr = (const struct ut_blob_hdr *)arch_blob;
	struct ut_blob_params params = {
		.data = in->area_addr,
		.stubs = a->stubs,
		.first_id = a->first_id,
		.nstubs = a->nstubs,
		.sites = a->sites,
		.site_mask = a->site_entries ? a->site_entries - 1 : 0,
	};
	unsigned char *img = calloc(1, a->size);
	int e;

	if (!img)
		return -ENOMEM;
	memcpy(img, arch_blob, arch_blob_size);
	memcpy(img + hdr->params, &params, sizeof(params));
	for (uint32_t k = 0; k < a->nstubs; k++)
		memcpy(img + blob_span() + (uint64_t)k * UT_STUB_SIZE,
		       in->pr->probes[a->first_id + k].stub, UT_STUB_SIZE);
	if (a->sites)
		ut_area_sites_fill(in->pr, a, (struct ut_site *)(img + (a->sites - a->addr)),
				   a->site_entries);
	e = utrace_mem_write(in->pr->proc->mm_pid, a->addr, img, a->size);
	free(img);
	return e;
}

/* Whether map belongs to a module that is never unloaded while the process runs. */
static bool map_is_stable(const struct ut_inject *in, const struct ut_map *map,
			  const struct ut_modules *mods)
{
	const struct ut_module *m = utrace_modules_find(mods, map->start);

	return m && (map->prot & PROT_READ) && !strcmp(m->path, map->path) &&
	       (m->is_main || in->at_entry);
}

void ut_stable_ranges(struct ut_inject *in, const struct ut_modules *mods)
{
	struct ut_maps maps;

	in->nstable = 0;
	if (utrace_maps_read(in->pr->proc->mm_pid, &maps) < 0)
		return; /* then every string is read with a system call */
	for (size_t i = 0; i < maps.n; i++) {
		const struct ut_map *map = &maps.v[i];
		struct ut_range *last = in->nstable ? &in->stable[in->nstable - 1] : NULL;

		if (!map_is_stable(in, map, mods))
			continue;
		if (last && last->hi == map->start)
			last->hi = map->end;
		else if (in->nstable < UT_MAX_STABLE)
			in->stable[in->nstable++] = (struct ut_range){ map->start, map->end };
	}
	utrace_maps_free(&maps);
}

/* Write blob copies (with their parameters), stubs and site tables into the code areas. */
int ut_write_code(struct ut_inject *in)
{
	int e = 0;

	for (size_t i = 0; i < in->pr->nareas && !e; i++)
		e = write_area(in, &in->pr->areas[i]);
	if (e < 0) {
		ut_error("cannot write code into process %d: %s", in->pr->proc->pid, strerror(-e));
		return e;
	}
	ctl_init(in);
	return 0;
}

/* Every byte of [lo, hi) and of the module within rel32 reach of each other. */
static bool within_reach(uint64_t lo, uint64_t hi, const struct ut_module *m)
{
	uint64_t span_lo = lo < m->lo ? lo : m->lo, span_hi = hi > m->hi ? hi : m->hi;

	return span_hi - span_lo < REL32_REACH - PAGE_SIZE_UT;
}

/* Where a's stubs and site table go for its probes, within its mapping. */
static uint64_t area_layout(struct ut_area *a)
{
	uint64_t stubs_len = page_align((uint64_t)a->nstubs * UT_STUB_SIZE);
	uint64_t sites_len = page_align((uint64_t)a->site_entries * sizeof(struct ut_site));

	a->stubs = a->addr + blob_span();
	a->sites = a->site_entries ? a->stubs + stubs_len : 0;
	return blob_span() + stubs_len + sites_len;
}

/* A free area (its library unloaded) that `want` fits in, near m: its index, or -1. */
static int find_free_area(const struct ut_inject *in, const struct ut_area *want,
			  const struct ut_module *m)
{
	for (size_t i = 0; i < in->pr->nareas; i++) {
		const struct ut_area *a = &in->pr->areas[i];
		struct ut_area try = *want;

		try.addr = a->addr;
		if (a->free && area_layout(&try) <= a->size &&
		    within_reach(a->addr, a->addr + a->size, m))
			return (int)i;
	}
	return -1;
}

/*
 * Map a new area near m with thread tid alone: its syscalls run on the
 * gadget of an area already there, so no text another thread may be
 * running is touched (the others are not stopped).
 */
static int map_new_area(struct ut_inject *in, pid_t tid, const struct ut_module *m,
			struct ut_area *a)
{
	struct ut_remote r = { 0 };
	struct ut_maps maps = { 0 };
	uint64_t start_brk = 0;
	int e;

	if (!in->pr->nareas || in->pr->nareas >= UT_MAX_CODE_AREAS) {
		ut_warn("%s not traced: probes in %d modules at most", m->name, UT_MAX_CODE_AREAS);
		return -E2BIG;
	}
	e = utrace_maps_read(in->pr->proc->mm_pid, &maps);
	read_start_brk(in->pr->proc->mm_pid, &start_brk);
	if (e == 0)
		e = place_area(in, &maps, m, a, start_brk);
	utrace_maps_free(&maps);
	if (e == 0)
		e = utrace_remote_begin(
			&r, tid, in->pr->areas[0].addr + in->pr->areas[0].hdr->syscall_gadget);
	if (e == 0)
		e = map_area(in, &r, a);
	utrace_remote_end(&r);
	if (r.pending_sig && ut_thread_find(in->pr->proc, tid))
		ut_thread_find(in->pr->proc, tid)->resume_sig = r.pending_sig;
	if (e < 0)
		ut_warn("%s not traced: cannot map code near it in process %d: %s", m->name,
			in->pr->proc->pid, strerror(-e));
	return e;
}

/* Publish area i's functions and return trampoline to the recorder. */
static void publish_area(struct ut_inject *in, size_t i)
{
	struct ut_ctl *c = in->area;
	struct ut_func *f = ut_ctl_funcs(c);
	const struct ut_area *a = &in->pr->areas[i];

	for (uint32_t k = a->first_id; k < a->first_id + a->nstubs; k++)
		func_set(in, &f[k], &in->pr->probes[k]);
	c->ret_tramps[i] = a->addr + a->hdr->return_tramp;
	if (c->nret_tramps <= i)
		__atomic_store_n(&c->nret_tramps, (uint32_t)i + 1, __ATOMIC_RELEASE);
}

int ut_area_add(struct ut_inject *in, pid_t tid, const struct ut_module *m, uint32_t first_id,
		uint32_t nstubs)
{
	struct ut_area want = { .first_id = first_id, .nstubs = nstubs, .near = m->lo };
	int i, e;

	want.site_entries = ut_area_site_entries(in->pr, &want);
	i = find_free_area(in, &want, m);
	if (i >= 0) {
		want.addr = in->pr->areas[i].addr;
		want.size = in->pr->areas[i].size;
		want.hdr = in->pr->areas[i].hdr;
		area_layout(&want);
	} else {
		e = map_new_area(in, tid, m, &want);
		if (e < 0)
			return e;
		i = (int)in->pr->nareas++;
	}
	in->pr->areas[i] = want;
	for (uint32_t k = first_id; k < first_id + nstubs; k++)
		in->pr->probes[k].area = (uint32_t)i;
	ut_probes_build_area(in->pr, &in->pr->areas[i]);
	e = write_area(in, &in->pr->areas[i]);
	if (e < 0) {
		ut_warn("%s not traced: cannot write code into process %d: %s", m->name,
			in->pr->proc->pid, strerror(-e));
		ut_area_free(in, &in->pr->areas[i]);
		return e;
	}
	publish_area(in, (size_t)i);
	return i;
}

/*
 * Its library is unmapped or about to be: its probes are never written again
 * (the memory is gone or going).  The area keeps its blob, so a return
 * trampoline there would still work, but no return can be hijacked into it
 * once no function of the library is live (rtld.c).
 */
void ut_area_free(struct ut_inject *in, struct ut_area *a)
{
	for (uint32_t k = a->first_id; k < a->first_id + a->nstubs; k++) {
		in->pr->probes[k].installed = false;
		in->pr->probes[k].broken = true;
	}
	a->free = true;
}

bool ut_is_ret_tramp(const struct ut_inject *in, uint64_t addr)
{
	for (size_t i = 0; i < in->pr->nareas; i++)
		if (addr == in->pr->areas[i].addr + in->pr->areas[i].hdr->return_tramp)
			return true;
	return false;
}

const struct ut_area *ut_blob_code_at(const struct ut_inject *in, uint64_t ip)
{
	for (size_t i = 0; i < in->pr->nareas; i++) {
		const struct ut_area *a = &in->pr->areas[i];

		if (ip >= a->addr && ip < a->addr + a->hdr->text_end)
			return a;
	}
	return NULL;
}

/*
 * Put back the return addresses hijacked for the thread owning `slot`, in
 * process pid's memory (the thread itself, or a forked copy of its stack):
 * only where the stack slot still holds a return trampoline, newest entry
 * first so that it wins where two share a slot, and within the live part
 * of the stack (at or above sp) when the slot lies on the thread's own stack.
 */
int ut_restore_returns(struct ut_inject *in, pid_t pid, uint32_t slot, uint64_t sp)
{
	const struct ut_slot *sl = &ut_ctl_slots(in->area)[slot];
	const struct ut_rs_entry *rs = ut_ctl_rstack(in->area, slot);
	uint64_t top = __atomic_load_n(&sl->rs_top, __ATOMIC_ACQUIRE);
	uint64_t lo = sl->stack_lo, hi = sl->stack_hi, cur;
	int restored = 0;

	if (top > in->geo.rstack_depth)
		top = in->geo.rstack_depth;
	while (top-- > 0) {
		struct ut_rs_entry e = rs[top];

		/* claimed: returned on another thread, whose entry the slot may hold now */
		if (!(e.flags & UT_RS_VALID) || (e.flags & (UT_RS_CHAINED | UT_RS_CLAIMED)) ||
		    !e.ret)
			continue;
		if (e.slot >= lo && e.slot < hi && e.slot < sp)
			continue;
		if (utrace_mem_read(pid, e.slot, &cur, sizeof(cur)) < 0 ||
		    !ut_is_ret_tramp(in, cur))
			continue;
		if (utrace_mem_write(pid, e.slot, &e.ret, sizeof(e.ret)) == 0)
			restored++;
	}
	return restored;
}

/* Release the ring pages; the area itself stays mapped in the tracee. */
void ut_release_data(struct ut_inject *in)
{
	if (in->memfd >= 0 && in->area)
		fallocate(in->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			  (off_t)in->geo.rings_off, (off_t)(in->geo.area_size - in->geo.rings_off));
	if (in->area)
		munmap(in->area, in->geo.area_size);
	if (in->memfd >= 0)
		close(in->memfd);
	in->area = NULL;
	in->memfd = -1;
}
