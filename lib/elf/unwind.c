// SPDX-License-Identifier: MIT
/*
 * Stack unwinding over a copy (unwind.h), with libunwind in a "remote" address
 * space whose accessors are ours, as perf --call-graph dwarf does:
 *
 *   access_reg      the saved registers (read-only)
 *   access_mem      a word of the stack copy, or else of the file of the
 *                   module mapped at that address (mapping offset): CFI,
 *                   code, read-only data -- never the process's memory, which
 *                   may be gone or changing under us
 *   find_proc_info  the module's .eh_frame_hdr, found with libelf, handed to
 *                   libunwind's binary search as a remote table
 *
 * A frame without CFI is stepped here, not by libunwind: its own guess on
 * x86_64 (-UNW_ENOINFO from find_proc_info) reads [rbp] and [rbp + 8] right
 * but moves the CFA by 16 instead of setting it to rbp + 16, so the first
 * frame with rsp-based CFI above it is read at the wrong place, and at a
 * function's first instruction it skips the caller.  So a frame is looked up
 * first: with CFI, unw_step(); without, a frame-pointer step (or, innermost
 * at a function's entry, the return address at [rsp]), and the cursor is
 * started again from the registers that gives.
 *
 * .debug_frame is not looked at: Debian's libunwind is built without it
 * (dwarf_find_debug_frame is not exported), and handing it a table in its
 * private layout would not be clean.
 */
#include <dwarf.h>
#include <errno.h>
#include <gelf.h>
#include <libunwind.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "maps.h"
#include "procfs.h"
#include "symtab.h"
#include "unwind.h"

/*
 * libunwind's binary search in an .eh_frame_hdr table: exported by
 * libunwind-<arch>.so but declared in no installed header.
 */
extern int UNW_OBJ(dwarf_search_unwind_table)(unw_addr_space_t as, unw_word_t ip,
					      unw_dyn_info_t *di, unw_proc_info_t *pi,
					      int need_unwind_info, void *arg);

/* proc(5): the process's start time, which a reused pid does not share */
#define STAT_STARTTIME 22

/*
 * .eh_frame_hdr (LSB, "Exception Frame Header"):
 *
 *   u8 version (1) | u8 eh_frame_ptr_enc | u8 fde_count_enc | u8 table_enc
 *   eh_frame_ptr   (eh_frame_ptr_enc)
 *   fde_count      (fde_count_enc)
 *   table          fde_count x { initial location, FDE address } (table_enc)
 *
 * libunwind's remote search reads the table as pairs of 32-bit offsets from
 * the header's own address, which is what linkers write.
 */
#define EH_HDR_VERSION 1
#define EH_HDR_HEAD_SIZE 4
#define EH_TABLE_ENC (DW_EH_PE_datarel | DW_EH_PE_sdata4)
#define EH_TABLE_ENTRY_SIZE 8
#define EH_PE_FORMAT_MASK 0x0f /* the value's format; the high bits say relative to what */
#define EH_PE_APPL_MASK 0x70

/* A module's .eh_frame_hdr, by link-time address. */
struct eh_index {
	uint64_t hdr; /* the header: the table's offsets are from here */
	uint64_t table; /* its first entry */
	uint64_t nfdes;
};

/*
 * One ELF file, loaded on first use and kept for the unwinder's life, so the
 * names ut_unwinder_symbolize() hands out stay valid across mapping reloads.
 */
struct unw_file {
	char *path;
	const char *name; /* basename, in path */
	bool tried; /* load attempted (once) */
	bool loaded; /* st and elf are usable */
	bool has_index;
	struct ut_symtab st;
	Elf *elf; /* over st's image: the file is mapped once */
	struct eh_index index;
};

/* A module of the current mappings: its file and where it is loaded. */
struct unw_mod {
	const struct ut_module *mod;
	struct unw_file *file;
	uint64_t bias;
	bool has_bias;
};

struct ut_unwinder {
	pid_t pid;
	uint64_t start_time;
	bool gone; /* the last mappings read stay */
	struct ut_maps maps;
	struct ut_modules mods;
	int *map_mod; /* per mapping: its module's index in mods, -1 for none */
	struct unw_mod *umods; /* per module of mods */
	struct unw_file **files; /* every file met, by path */
	size_t nfiles;
	/* the file mapping read last: CFI is read in runs of words, each a call */
	struct {
		const struct ut_map *map;
		const unsigned char *image;
		size_t size;
	} hot;
	unw_addr_space_t as;
	/* the unwind under way, for the accessors */
	struct ut_unwind_regs regs; /* of the frame the cursor was (re)started at */
	uint64_t base; /* stack[0]'s address: the first frame's rsp */
	const unsigned char *stack;
	size_t len;
};

/* The registers ut_unwind_regs holds, by libunwind's number. */
static const struct {
	unw_regnum_t reg;
	size_t off;
} regs_kept[] = {
	{ UNW_X86_64_RIP, offsetof(struct ut_unwind_regs, rip) },
	{ UNW_X86_64_RSP, offsetof(struct ut_unwind_regs, rsp) },
	{ UNW_X86_64_RBP, offsetof(struct ut_unwind_regs, rbp) },
	{ UNW_X86_64_RBX, offsetof(struct ut_unwind_regs, rbx) },
	{ UNW_X86_64_R12, offsetof(struct ut_unwind_regs, r12) },
	{ UNW_X86_64_R13, offsetof(struct ut_unwind_regs, r13) },
	{ UNW_X86_64_R14, offsetof(struct ut_unwind_regs, r14) },
	{ UNW_X86_64_R15, offsetof(struct ut_unwind_regs, r15) },
};
#define NREGS_KEPT (sizeof(regs_kept) / sizeof(regs_kept[0]))
_Static_assert(NREGS_KEPT * sizeof(uint64_t) == sizeof(struct ut_unwind_regs),
	       "every register of ut_unwind_regs is given to libunwind");

/* On the stack, below a frame-pointer frame's rbp: the caller's rbp, the return address. */
#define FP_SAVED_RBP 0
#define FP_RETURN 8
#define FP_CFA 16

/* Bytes of a value encoded with DW_EH_PE `enc`, 0 for a variable or unknown size. */
static size_t eh_value_size(uint8_t enc)
{
	switch (enc & EH_PE_FORMAT_MASK) {
	case DW_EH_PE_udata2:
	case DW_EH_PE_sdata2:
		return 2;
	case DW_EH_PE_udata4:
	case DW_EH_PE_sdata4:
		return 4;
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		return 8;
	default:
		return 0;
	}
}

static uint64_t read_le(const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	while (n--)
		v = v << 8 | p[n];
	return v;
}

/*
 * The binary-search table of an .eh_frame_hdr of `size` bytes at link-time
 * address vaddr, when it has one libunwind can search.
 */
static bool parse_eh_hdr(const unsigned char *hdr, uint64_t size, uint64_t vaddr,
			 struct eh_index *out)
{
	size_t ptr_size, count_size;
	uint64_t pos, nfdes;

	if (size < EH_HDR_HEAD_SIZE || hdr[0] != EH_HDR_VERSION || hdr[3] != EH_TABLE_ENC)
		return false;
	ptr_size = eh_value_size(hdr[1]);
	count_size = eh_value_size(hdr[2]);
	/* the count is a plain number: not omitted, not relative to anything */
	if (hdr[1] == DW_EH_PE_omit || !ptr_size || hdr[2] == DW_EH_PE_omit || !count_size ||
	    (hdr[2] & EH_PE_APPL_MASK))
		return false;
	pos = EH_HDR_HEAD_SIZE + ptr_size;
	if (size - EH_HDR_HEAD_SIZE < ptr_size + count_size)
		return false;
	nfdes = read_le(hdr + pos, count_size);
	pos += count_size;
	if (!nfdes || nfdes > (size - pos) / EH_TABLE_ENTRY_SIZE)
		return false;
	out->hdr = vaddr;
	out->table = vaddr + pos;
	out->nfdes = nfdes;
	return true;
}

/* The .eh_frame_hdr through its program header, which stripped files keep. */
static bool find_eh_index(Elf *elf, const unsigned char *image, size_t size, struct eh_index *out)
{
	size_t nphdrs;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &nphdrs) < 0)
		return false;
	for (size_t i = 0; i < nphdrs; i++) {
		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_GNU_EH_FRAME)
			continue;
		if (ph.p_offset > size || ph.p_filesz > size - ph.p_offset)
			return false;
		return parse_eh_hdr(image + ph.p_offset, ph.p_filesz, ph.p_vaddr, out);
	}
	return false;
}

/* Symbols, the ELF and the CFI index of f's file: tried once, whatever comes of it. */
static void file_load(struct unw_file *f)
{
	const void *image;
	size_t size;

	f->tried = true;
	if (utrace_symtab_load(f->path, &f->st) < 0) {
		ut_debug("unwind: %s cannot be read: not unwound through", f->path);
		return;
	}
	image = utrace_symtab_image(&f->st, &size);
	/* libelf only reads a native-endian image (as utrace_symtab_load's own use) */
	f->elf = elf_memory((char *)image, size);
	if (!f->elf) {
		ut_debug("unwind: %s: %s", f->path, elf_errmsg(-1));
		utrace_symtab_free(&f->st);
		return;
	}
	f->loaded = true;
	f->has_index = find_eh_index(f->elf, image, size, &f->index);
}

static void file_free(struct unw_file *f)
{
	if (f->loaded) {
		elf_end(f->elf);
		utrace_symtab_free(&f->st);
	}
	free(f->path);
	free(f);
}

/* The file at path, added (not loaded) when first met; NULL when out of memory. */
static struct unw_file *file_get(struct ut_unwinder *u, const char *path)
{
	struct unw_file **files, *f;

	for (size_t i = 0; i < u->nfiles; i++)
		if (!strcmp(u->files[i]->path, path))
			return u->files[i];
	files = realloc(u->files, (u->nfiles + 1) * sizeof(*files));
	if (!files)
		return NULL;
	u->files = files;
	f = calloc(1, sizeof(*f));
	if (!f || !(f->path = strdup(path))) {
		free(f);
		return NULL;
	}
	f->name = strrchr(f->path, '/') + 1; /* a module's path is absolute */
	u->files[u->nfiles++] = f;
	return f;
}

/* m's file, loaded, and m's load bias: NULL when the file cannot be read. */
static struct unw_file *mod_file(struct unw_mod *m)
{
	struct unw_file *f = m->file;

	if (!f->tried)
		file_load(f);
	if (!f->loaded)
		return NULL;
	if (!m->has_bias) {
		m->bias = utrace_symtab_bias(&f->st, m->mod->first_start, m->mod->first_offset);
		m->has_bias = true;
	}
	return f;
}

static int module_index(const struct ut_modules *mods, const char *path)
{
	for (size_t i = 0; i < mods->n; i++)
		if (!strcmp(mods->v[i].path, path))
			return (int)i;
	return -1;
}

/*
 * Index maps' mappings by module and give each module its file.  On success
 * the unwinder owns maps and the mappings it had before are freed.
 */
static int install_maps(struct ut_unwinder *u, struct ut_maps *maps)
{
	struct ut_modules mods;
	struct unw_mod *umods;
	int *map_mod, err;

	err = utrace_modules_from_maps(maps, NULL, &mods);
	if (err)
		return err;
	map_mod = calloc(maps->n ? maps->n : 1, sizeof(*map_mod));
	umods = calloc(mods.n ? mods.n : 1, sizeof(*umods));
	err = -ENOMEM;
	if (!map_mod || !umods)
		goto free_new;
	for (size_t i = 0; i < mods.n; i++) {
		umods[i].mod = &mods.v[i];
		umods[i].file = file_get(u, mods.v[i].path);
		if (!umods[i].file)
			goto free_new;
	}
	for (size_t i = 0; i < maps->n; i++)
		map_mod[i] = module_index(&mods, maps->v[i].path);
	free(u->map_mod);
	free(u->umods);
	utrace_modules_free(&u->mods);
	utrace_maps_free(&u->maps);
	u->hot.map = NULL;
	u->maps = *maps;
	u->mods = mods;
	u->map_mod = map_mod;
	u->umods = umods;
	return 0;
free_new:
	free(umods);
	free(map_mod);
	utrace_modules_free(&mods);
	return err;
}

/* Whether pid is still the process the unwinder was made for. */
static bool same_process(const struct ut_unwinder *u)
{
	uint64_t start;

	return ut_proc_stat_field(u->pid, 0, STAT_STARTTIME, &start) == 0 && start == u->start_time;
}

/*
 * Read the mappings again.  A zombie's maps are empty and a reused pid's are
 * another process's: either way the process is gone and the old ones stay.
 */
static int refresh_maps(struct ut_unwinder *u)
{
	struct ut_maps maps;
	int err;

	if (u->gone)
		return -ESRCH;
	err = utrace_maps_read(u->pid, &maps);
	if (err) {
		u->gone = err == -ENOENT || err == -ESRCH;
		return err;
	}
	/* checked after the read: had the pid been reused before it, this fails */
	if (!maps.n || !same_process(u)) {
		utrace_maps_free(&maps);
		u->gone = true;
		return -ESRCH;
	}
	err = install_maps(u, &maps);
	if (err) {
		utrace_maps_free(&maps);
		return err;
	}
	/* libunwind caches CFI by address: a module may have moved */
	unw_flush_cache(u->as, 0, 0);
	return 0;
}

/* The module mapped at addr, or NULL. */
static struct unw_mod *mod_at(struct ut_unwinder *u, uint64_t addr)
{
	const struct ut_map *map = utrace_maps_find(&u->maps, addr);
	int i;

	/* A mapping known already is not a library loaded since: no need to look. */
	if (!map && refresh_maps(u) == 0)
		map = utrace_maps_find(&u->maps, addr);
	if (!map)
		return NULL;
	i = u->map_mod[map - u->maps.v];
	return i < 0 ? NULL : &u->umods[i];
}

static bool read_stack(const struct ut_unwinder *u, uint64_t addr, unw_word_t *val)
{
	uint64_t off = addr - u->base;

	if (addr < u->base || off > u->len || u->len - off < sizeof(*val))
		return false;
	memcpy(val, u->stack + off, sizeof(*val));
	return true;
}

/* Make the module mapping at addr the hot one, without reading the maps again. */
static bool heat_map(struct ut_unwinder *u, uint64_t addr)
{
	const struct ut_map *map;
	struct unw_file *f;
	int i;

	if (u->hot.map && addr >= u->hot.map->start && addr < u->hot.map->end)
		return true;
	map = utrace_maps_find(&u->maps, addr);
	if (!map)
		return false;
	i = u->map_mod[map - u->maps.v];
	if (i < 0 || !(f = mod_file(&u->umods[i])))
		return false;
	u->hot.map = map;
	u->hot.image = utrace_symtab_image(&f->st, &u->hot.size);
	return true;
}

/* A word of the file mapped at addr, at the mapping's offset. */
static bool read_file(struct ut_unwinder *u, uint64_t addr, unw_word_t *val)
{
	uint64_t off;

	if (!heat_map(u, addr) || u->hot.map->end - addr < sizeof(*val))
		return false;
	off = u->hot.map->offset + (addr - u->hot.map->start);
	if (off > u->hot.size || u->hot.size - off < sizeof(*val))
		return false;
	memcpy(val, u->hot.image + off, sizeof(*val));
	return true;
}

static int access_mem(unw_addr_space_t as, unw_word_t addr, unw_word_t *val, int write, void *arg)
{
	struct ut_unwinder *u = arg;

	if (write)
		return -UNW_EINVAL;
	if (read_stack(u, addr, val) || read_file(u, addr, val))
		return 0;
	return -UNW_EINVAL;
}

static uint64_t *reg_slot(struct ut_unwind_regs *r, size_t i)
{
	return (uint64_t *)((char *)r + regs_kept[i].off);
}

/* Only a (re)started frame's registers come from here; libunwind finds the rest. */
static int access_reg(unw_addr_space_t as, unw_regnum_t reg, unw_word_t *val, int write, void *arg)
{
	struct ut_unwinder *u = arg;

	if (write)
		return -UNW_EREADONLYREG;
	for (size_t i = 0; i < NREGS_KEPT; i++) {
		if (regs_kept[i].reg == reg) {
			*val = *reg_slot(&u->regs, i);
			return 0;
		}
	}
	return -UNW_EBADREG;
}

static int access_fpreg(unw_addr_space_t as, unw_regnum_t reg, unw_fpreg_t *val, int write,
			void *arg)
{
	return -UNW_EBADREG;
}

static int find_proc_info(unw_addr_space_t as, unw_word_t ip, unw_proc_info_t *pi,
			  int need_unwind_info, void *arg)
{
	struct ut_unwinder *u = arg;
	struct unw_mod *m = mod_at(u, ip);
	struct unw_file *f = m ? mod_file(m) : NULL;
	unw_dyn_info_t di;

	if (!f || !f->has_index)
		return -UNW_ENOINFO;
	memset(&di, 0, sizeof(di));
	di.format = UNW_INFO_FORMAT_REMOTE_TABLE;
	/* libunwind asserts ip is in [start_ip, end_ip) */
	di.start_ip = m->mod->lo;
	di.end_ip = m->mod->hi;
	di.u.rti.segbase = m->bias + f->index.hdr;
	di.u.rti.table_data = m->bias + f->index.table;
	di.u.rti.table_len = f->index.nfdes * EH_TABLE_ENTRY_SIZE / sizeof(unw_word_t);
	return UNW_OBJ(dwarf_search_unwind_table)(as, ip, &di, pi, need_unwind_info, arg);
}

/* dwarf_search_unwind_table's unwind info is freed by libunwind itself. */
static void put_unwind_info(unw_addr_space_t as, unw_proc_info_t *pi, void *arg)
{
}

/* No code registers unwind info at run time in a copy. */
static int get_dyn_info_list_addr(unw_addr_space_t as, unw_word_t *addr, void *arg)
{
	return -UNW_ENOINFO;
}

static int resume(unw_addr_space_t as, unw_cursor_t *cursor, void *arg)
{
	return -UNW_EINVAL;
}

static unw_accessors_t accessors = {
	.find_proc_info = find_proc_info,
	.put_unwind_info = put_unwind_info,
	.get_dyn_info_list_addr = get_dyn_info_list_addr,
	.access_mem = access_mem,
	.access_reg = access_reg,
	.access_fpreg = access_fpreg,
	.resume = resume,
	/* get_proc_name: optional; ut_unwinder_symbolize() names functions */
};

int ut_unwinder_new(struct ut_unwinder **out, pid_t pid)
{
	struct ut_unwinder *u = calloc(1, sizeof(*u));
	struct ut_maps maps;
	int err;

	*out = NULL;
	if (!u)
		return -ENOMEM;
	u->pid = pid;
	err = -ESRCH;
	if (ut_proc_stat_field(pid, 0, STAT_STARTTIME, &u->start_time) < 0) {
		ut_error("no process %d to unwind", (int)pid);
		goto free_u;
	}
	err = utrace_maps_read(pid, &maps);
	if (err)
		goto free_u; /* said by utrace_maps_read() */
	if (!maps.n) {
		err = -ESRCH;
		ut_error("process %d has exited: nothing to unwind", (int)pid);
		utrace_maps_free(&maps);
		goto free_u;
	}
	err = install_maps(u, &maps);
	if (err) {
		utrace_maps_free(&maps);
		goto free_u;
	}
	err = -ENOMEM;
	u->as = unw_create_addr_space(&accessors, 0);
	if (!u->as)
		goto free_u;
	/*
	 * The CFI of a module does not change while it stays mapped.  Not
	 * UNW_CACHE_PER_THREAD: where libunwind is built with that cache, one
	 * thread's is shared by all address spaces, keyed by address alone, and
	 * two processes' unwinders would read each other's entries.
	 */
	unw_set_caching_policy(u->as, UNW_CACHE_GLOBAL);
	*out = u;
	return 0;
free_u:
	ut_unwinder_free(u);
	return err;
}

void ut_unwinder_free(struct ut_unwinder *u)
{
	if (!u)
		return;
	if (u->as)
		unw_destroy_addr_space(u->as);
	for (size_t i = 0; i < u->nfiles; i++)
		file_free(u->files[i]);
	free(u->files);
	free(u->umods);
	free(u->map_mod);
	utrace_modules_free(&u->mods);
	utrace_maps_free(&u->maps);
	free(u);
}

/* Whether CFI covers ip (a frame's rip, or a return address - 1: the call). */
static bool has_cfi(struct ut_unwinder *u, uint64_t ip)
{
	unw_proc_info_t pi;

	return find_proc_info(u->as, ip, &pi, 0, u) == 0;
}

/* Whether pc is the first instruction of a function. */
static bool is_entry(struct ut_unwinder *u, uint64_t pc)
{
	struct unw_mod *m = mod_at(u, pc);
	struct unw_file *f = m ? mod_file(m) : NULL;
	const struct ut_sym *sym = f ? utrace_symtab_lookup(&f->st, pc - m->bias) : NULL;

	return sym && sym->addr + m->bias == pc;
}

/*
 * A frame without CFI past its prologue, taken for a frame-pointer frame:
 *
 *   rbp + 16   caller's frame        <- CFA
 *   rbp + 8    return address
 *   rbp        caller's rbp          <- rbp
 *   ...        locals, saved regs    <- rsp
 */
static bool fp_step(struct ut_unwinder *u, struct ut_unwind_regs *r)
{
	unw_word_t caller_rbp, ra;

	if (r->rbp < r->rsp || !read_stack(u, r->rbp + FP_SAVED_RBP, &caller_rbp) ||
	    !read_stack(u, r->rbp + FP_RETURN, &ra))
		return false;
	r->rip = ra;
	r->rsp = r->rbp + FP_CFA;
	r->rbp = caller_rbp;
	return true;
}

/* At a function's first instruction nothing is pushed yet: [rsp] is the return address. */
static bool entry_step(struct ut_unwinder *u, struct ut_unwind_regs *r)
{
	unw_word_t ra;

	if (!read_stack(u, r->rsp, &ra))
		return false;
	r->rip = ra;
	r->rsp += sizeof(ra);
	return true;
}

/* The registers of the cursor's frame; one libunwind cannot tell keeps its value. */
static void frame_regs(unw_cursor_t *c, struct ut_unwind_regs *r)
{
	unw_word_t v;

	for (size_t i = 0; i < NREGS_KEPT; i++)
		if (unw_get_reg(c, regs_kept[i].reg, &v) == 0)
			*reg_slot(r, i) = v;
}

/* Out of a frame without CFI, then the cursor started again in the caller. */
static bool step_without_cfi(struct ut_unwinder *u, unw_cursor_t *c, bool innermost, uint64_t *ip,
			     uint64_t *sp)
{
	struct ut_unwind_regs *r = &u->regs;

	frame_regs(c, r);
	if (!(innermost && is_entry(u, r->rip) ? entry_step(u, r) : fp_step(u, r)))
		return false;
	*ip = r->rip;
	*sp = r->rsp;
	/*
	 * A started cursor looks the CFI up at rip itself, a stepped one at the
	 * return address - 1, inside the call: start this one there.
	 */
	r->rip--;
	return unw_init_remote(c, u->as, u) == 0;
}

/* One frame out: its return address and the caller's rsp (the frame's CFA). */
static bool step_out(struct ut_unwinder *u, unw_cursor_t *c, uint64_t lookup, bool innermost,
		     uint64_t *ip, uint64_t *sp)
{
	unw_word_t v;

	if (!has_cfi(u, lookup))
		return step_without_cfi(u, c, innermost, ip, sp);
	if (unw_step(c) <= 0 || unw_get_reg(c, UNW_REG_IP, &v) < 0)
		return false;
	*ip = v;
	if (unw_get_reg(c, UNW_REG_SP, &v) < 0)
		return false;
	*sp = v;
	return true;
}

/* Frame by frame out of the one u->regs describes, whose rip is pcs[0]. */
static int walk(struct ut_unwinder *u, uint64_t *pcs, int max)
{
	uint64_t ip, sp, prev_sp = u->regs.rsp, lookup = u->regs.rip;
	unw_cursor_t cursor;
	int n = 1;

	if (unw_init_remote(&cursor, u->as, u) < 0)
		return n;
	while (n < max && step_out(u, &cursor, lookup, n == 1, &ip, &sp)) {
		/* a caller's frame is above its callee's: else a bad guess that could loop */
		if (!ip || sp <= prev_sp || !mod_at(u, ip))
			break;
		pcs[n++] = ip;
		prev_sp = sp;
		lookup = ip - 1;
	}
	return n;
}

int ut_unwind(struct ut_unwinder *u, const struct ut_unwind_regs *regs, const void *stack,
	      size_t len, uint64_t *pcs, int max)
{
	int n;

	if (max < 1)
		return 0;
	pcs[0] = regs->rip;
	if (!mod_at(u, regs->rip))
		return 1;
	u->regs = *regs;
	u->base = regs->rsp;
	u->stack = stack;
	u->len = stack ? len : 0;
	n = walk(u, pcs, max);
	u->stack = NULL;
	u->len = 0;
	return n;
}

bool ut_unwinder_symbolize(struct ut_unwinder *u, uint64_t pc, bool is_return, const char **func,
			   const char **module, uint64_t *offset)
{
	/* a return address may be just past a call that ends its function */
	uint64_t at = is_return && pc ? pc - 1 : pc;
	struct unw_mod *m = mod_at(u, at);
	const struct ut_sym *sym;
	struct unw_file *f;

	*func = NULL;
	*module = NULL;
	*offset = 0;
	if (!m)
		return false;
	*module = m->file->name;
	f = mod_file(m);
	if (!f) {
		/* no bias without the file's headers: the offset in the file */
		const struct ut_map *map = utrace_maps_find(&u->maps, at);

		*offset = map->offset + (pc - map->start);
		return false;
	}
	sym = utrace_symtab_lookup(&f->st, at - m->bias);
	if (!sym) {
		*offset = pc - m->bias;
		return false;
	}
	*func = utrace_sym_display(sym);
	*offset = pc - (m->bias + sym->addr);
	return true;
}
