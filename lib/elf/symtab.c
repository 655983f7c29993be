// SPDX-License-Identifier: MIT
/*
 * ELF function symbols of one file, read with libelf from a private read-only
 * mapping of the file.  The mapping stays for the life of the symtab so
 * utrace_symtab_read() can hand out the file's original bytes (to compare
 * with the live process and to decode the text).
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addrs.h"
#include "clones.h"
#include "log.h"
#include "symtab.h"

/* x86_64 user space always uses 4 KiB base pages. */
#define PAGE_SIZE_4K 0x1000ULL
/* A GNU build-id note: name "GNU\0", descriptor up to 20 bytes (SHA-1). */
#define GNU_NOTE_NAME "GNU"
#define BUILD_ID_MAX (sizeof(((struct ut_symtab *)0)->build_id) / 2)

/* One function symbol as found in the table; names point into the image. */
struct raw_sym {
	const char *name;
	size_t len; /* up to any "@VERSION" suffix */
	uint64_t addr, size;
	int rank; /* binding preference: lower wins */
};

struct raw_syms {
	struct raw_sym *v;
	size_t n;
};

static uint64_t page_down(uint64_t x)
{
	return x & ~(PAGE_SIZE_4K - 1);
}

static int open_image(const char *path, void **image, size_t *size)
{
	struct stat sb;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		ut_error("cannot open %s: %s", path, strerror(errno));
		return err;
	}
	if (fstat(fd, &sb) < 0) {
		err = -errno;
		ut_error("cannot stat %s: %s", path, strerror(errno));
		goto close_fd;
	}
	if (!S_ISREG(sb.st_mode) || (size_t)sb.st_size < EI_NIDENT) {
		err = -ENOEXEC;
		ut_error("%s is not an ELF file", path);
		goto close_fd;
	}
	*size = sb.st_size;
	*image = mmap(NULL, *size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (*image == MAP_FAILED) {
		err = -errno;
		ut_error("cannot map %s: %s", path, strerror(errno));
	}
close_fd:
	close(fd);
	return err;
}

static const char *machine_name(unsigned int machine)
{
	switch (machine) {
	case EM_386:
		return "i386";
	case EM_ARM:
		return "arm";
	case EM_AARCH64:
		return "aarch64";
	case EM_PPC:
		return "ppc";
	case EM_PPC64:
		return "ppc64";
	case EM_S390:
		return "s390";
	case EM_MIPS:
		return "mips";
	case EM_RISCV:
		return "riscv";
	case EM_SPARCV9:
		return "sparc64";
	case EM_LOONGARCH:
		return "loongarch";
	default:
		return NULL;
	}
}

static int check_machine(const char *path, const GElf_Ehdr *eh)
{
	const char *name;

	if (eh->e_machine == EM_X86_64)
		return 0;
	name = machine_name(eh->e_machine);
	if (name)
		ut_error("%s is an ELF for %s, not x86_64", path, name);
	else
		ut_error("%s is an ELF for machine %u, not x86_64", path, eh->e_machine);
	return -EINVAL;
}

/* Only x86_64 ELF64 executables and shared objects can be traced. */
static int check_header(Elf *elf, const char *path, GElf_Ehdr *eh)
{
	const char *ident;
	int err;

	if (elf_kind(elf) != ELF_K_ELF || !(ident = elf_getident(elf, NULL))) {
		ut_error("%s is not an ELF file", path);
		return -ENOEXEC;
	}
	if (ident[EI_CLASS] == ELFCLASS32) {
		ut_error("%s is a 32-bit ELF", path);
		return -EINVAL;
	}
	if (ident[EI_CLASS] != ELFCLASS64 || !gelf_getehdr(elf, eh)) {
		ut_error("%s is a corrupt ELF file: %s", path, elf_errmsg(-1));
		return -ENOEXEC;
	}
	err = check_machine(path, eh);
	if (err)
		return err;
	if (ident[EI_DATA] != ELFDATA2LSB) {
		ut_error("%s is a big-endian ELF, not x86_64", path);
		return -EINVAL;
	}
	if (eh->e_type != ET_EXEC && eh->e_type != ET_DYN) {
		ut_error("%s is not an executable or shared library (ELF type %u)", path,
			 eh->e_type);
		return -ENOEXEC;
	}
	return 0;
}

static int prot_from_flags(GElf_Word flags)
{
	return (flags & PF_R ? PROT_READ : 0) | (flags & PF_W ? PROT_WRITE : 0) |
	       (flags & PF_X ? PROT_EXEC : 0);
}

static int read_loads(Elf *elf, struct ut_symtab *st)
{
	size_t phnum;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &phnum) < 0) {
		ut_error("%s: bad program headers: %s", st->path, elf_errmsg(-1));
		return -ENOEXEC;
	}
	st->loads = calloc(phnum ? phnum : 1, sizeof(*st->loads));
	if (!st->loads)
		return -ENOMEM;
	for (size_t i = 0; i < phnum; i++) {
		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_LOAD)
			continue;
		st->loads[st->nloads++] = (struct ut_load){
			.vaddr = ph.p_vaddr,
			.offset = ph.p_offset,
			.filesz = ph.p_filesz,
			.memsz = ph.p_memsz,
			.prot = prot_from_flags(ph.p_flags),
		};
	}
	return 0;
}

static void hex_encode(char *out, const unsigned char *in, size_t n)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * n] = '\0';
}

/* Whether the notes in data hold NT_GNU_BUILD_ID; if so, store it in hex. */
static bool find_build_id(Elf_Data *data, struct ut_symtab *st)
{
	size_t off = 0, name_off, desc_off, next;
	GElf_Nhdr nh;

	if (!data)
		return false;
	while ((next = gelf_getnote(data, off, &nh, &name_off, &desc_off)) > 0) {
		const char *base = data->d_buf;

		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == sizeof(GNU_NOTE_NAME) &&
		    !memcmp(base + name_off, GNU_NOTE_NAME, sizeof(GNU_NOTE_NAME)) &&
		    nh.n_descsz > 0 && nh.n_descsz <= BUILD_ID_MAX) {
			hex_encode(st->build_id, (const unsigned char *)base + desc_off,
				   nh.n_descsz);
			return true;
		}
		off = next;
	}
	return false;
}

/* From the PT_NOTE segments, which survive even section-header stripping. */
static void read_build_id(Elf *elf, struct ut_symtab *st)
{
	size_t phnum;
	GElf_Phdr ph;

	if (elf_getphdrnum(elf, &phnum) < 0)
		return;
	for (size_t i = 0; i < phnum; i++) {
		Elf_Type type;

		if (!gelf_getphdr(elf, i, &ph) || ph.p_type != PT_NOTE)
			continue;
		/* Notes aligned to 8 (e.g. .note.gnu.property) use the 8-byte layout. */
		type = ph.p_align == 8 ? ELF_T_NHDR8 : ELF_T_NHDR;
		if (find_build_id(elf_getdata_rawchunk(elf, ph.p_offset, ph.p_filesz, type), st))
			return;
	}
}

/* The symbol table sections: .symtab and .dynsym (NULL when absent). */
static void find_tables(Elf *elf, Elf_Scn **symtab, Elf_Scn **dynsym)
{
	Elf_Scn *scn = NULL;
	GElf_Shdr sh;

	*symtab = *dynsym = NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh))
			continue;
		if (sh.sh_type == SHT_SYMTAB && !*symtab)
			*symtab = scn;
		else if (sh.sh_type == SHT_DYNSYM && !*dynsym)
			*dynsym = scn;
	}
}

/* Iterate the symbols of one table section. */
struct sym_iter {
	Elf *elf;
	Elf_Data *data;
	size_t strndx, i, n;
};

static bool sym_iter_init(struct sym_iter *it, Elf *elf, Elf_Scn *scn)
{
	GElf_Shdr sh;
	size_t entsize = gelf_fsize(elf, ELF_T_SYM, 1, EV_CURRENT);

	if (!scn || !gelf_getshdr(scn, &sh) || !entsize)
		return false;
	it->elf = elf;
	it->data = elf_getdata(scn, NULL);
	it->strndx = sh.sh_link;
	it->i = 0;
	it->n = it->data ? it->data->d_size / entsize : 0;
	return it->data != NULL;
}

static bool sym_iter_next(struct sym_iter *it, GElf_Sym *sym, const char **name)
{
	while (it->i < it->n) {
		if (gelf_getsym(it->data, it->i++, sym)) {
			*name = elf_strptr(it->elf, it->strndx, sym->st_name);
			return true;
		}
	}
	return false;
}

static int binding_rank(unsigned int bind)
{
	switch (bind) {
	case STB_GLOBAL:
	case STB_GNU_UNIQUE:
		return 0;
	case STB_WEAK:
		return 1;
	case STB_LOCAL:
		return 2;
	default:
		return 3;
	}
}

static bool is_function(const GElf_Sym *sym, const char *name)
{
	unsigned int type = GELF_ST_TYPE(sym->st_info);

	return (type == STT_FUNC || type == STT_GNU_IFUNC) && sym->st_shndx != SHN_UNDEF &&
	       sym->st_size > 0 && name && name[0] && name[0] != '@' && !utrace_is_cold_part(name);
}

static int collect_functions(Elf *elf, Elf_Scn *scn, struct raw_syms *out)
{
	struct sym_iter it;
	GElf_Sym sym;
	const char *name;

	out->v = NULL;
	out->n = 0;
	if (!sym_iter_init(&it, elf, scn))
		return 0;
	out->v = calloc(it.n ? it.n : 1, sizeof(*out->v));
	if (!out->v)
		return -ENOMEM;
	while (sym_iter_next(&it, &sym, &name)) {
		if (!is_function(&sym, name))
			continue;
		out->v[out->n++] = (struct raw_sym){
			.name = name,
			/* "name@VER" / "name@@VER": the version is not part of the name. */
			.len = strcspn(name, "@"),
			.addr = sym.st_value,
			.size = sym.st_size,
			.rank = binding_rank(GELF_ST_BIND(sym.st_info)),
		};
	}
	return 0;
}

static size_t leading_underscores(const struct raw_sym *s)
{
	size_t n = 0;

	while (n < s->len && s->name[n] == '_')
		n++;
	return n;
}

/*
 * Preferred name first: the public one.  Exported over local, fewer leading
 * underscores ("malloc" over "__libc_malloc", the weak "puts" over the
 * global "_IO_puts"), global over weak, shorter, then alphabetical.
 */
static int pref_cmp(const struct raw_sym *a, const struct raw_sym *b)
{
	size_t ua = leading_underscores(a), ub = leading_underscores(b);
	bool la = a->rank >= binding_rank(STB_LOCAL), lb = b->rank >= binding_rank(STB_LOCAL);

	if (la != lb)
		return la ? 1 : -1;
	if (ua != ub)
		return ua < ub ? -1 : 1;
	if (a->rank != b->rank)
		return a->rank - b->rank;
	if (a->len != b->len)
		return a->len < b->len ? -1 : 1;
	return memcmp(a->name, b->name, a->len);
}

static int raw_cmp(const void *pa, const void *pb)
{
	const struct raw_sym *a = pa, *b = pb;

	if (a->addr != b->addr)
		return a->addr < b->addr ? -1 : 1;
	return pref_cmp(a, b);
}

static bool same_name(const struct raw_sym *a, const struct raw_sym *b)
{
	return a->len == b->len && !memcmp(a->name, b->name, a->len);
}

/* Whether v[i]'s name already appeared in v[first..i). */
static bool name_seen(const struct raw_sym *v, size_t first, size_t i)
{
	for (size_t j = first; j < i; j++)
		if (same_name(&v[j], &v[i]))
			return true;
	return false;
}

/* v[0..n) share one address, preferred first: build the entry and its aliases. */
static int make_sym(const struct raw_sym *v, size_t n, struct ut_sym *out)
{
	size_t nalias = 0;

	out->addr = v[0].addr;
	out->size = v[0].size;
	out->global = v[0].rank < binding_rank(STB_LOCAL);
	out->name = strndup(v[0].name, v[0].len);
	if (!out->name)
		return -ENOMEM;
	out->demangled = utrace_demangle(out->name);
	if (out->demangled) {
		out->typed = utrace_cxx_typed_name(out->demangled, false);
		out->typed_bare = utrace_cxx_typed_name(out->demangled, true);
	}
	for (size_t i = 1; i < n; i++) {
		if (name_seen(v, 0, i))
			continue;
		if (!out->aliases) {
			out->aliases = calloc(n, sizeof(*out->aliases));
			if (!out->aliases)
				return -ENOMEM;
		}
		out->aliases[nalias] = strndup(v[i].name, v[i].len);
		if (!out->aliases[nalias++])
			return -ENOMEM;
	}
	return 0;
}

static int group_functions(struct raw_syms *raw, struct ut_symtab *st)
{
	size_t i = 0, j;
	int err;

	qsort(raw->v, raw->n, sizeof(*raw->v), raw_cmp);
	st->syms = calloc(raw->n, sizeof(*st->syms));
	if (!st->syms)
		return -ENOMEM;
	for (; i < raw->n; i = j) {
		for (j = i + 1; j < raw->n && raw->v[j].addr == raw->v[i].addr; j++)
			;
		/* Count the entry first so that free() sees a partial one. */
		err = make_sym(&raw->v[i], j - i, &st->syms[st->n++]);
		if (err)
			return err;
	}
	return 0;
}

/* Prefer .symtab; fall back to .dynsym when it is absent or has no function. */
static int load_functions(Elf *elf, Elf_Scn *symtab, Elf_Scn *dynsym, struct ut_symtab *st)
{
	struct raw_syms raw;
	int err;

	err = collect_functions(elf, symtab, &raw);
	if (err)
		return err;
	st->from_symtab = raw.n > 0;
	if (!st->from_symtab) {
		free(raw.v);
		err = collect_functions(elf, dynsym, &raw);
		if (err)
			return err;
	}
	if (raw.n) {
		err = group_functions(&raw, st);
	} else {
		ut_error("%s has no function symbols (stripped?)", st->path);
		err = -ENODATA;
	}
	free(raw.v);
	return err;
}

/* Symbols whose value is not an address in the image. */
static bool is_located(const GElf_Sym *sym)
{
	unsigned int type = GELF_ST_TYPE(sym->st_info);

	return sym->st_shndx != SHN_UNDEF && sym->st_shndx != SHN_ABS &&
	       sym->st_shndx != SHN_COMMON && type != STT_FILE && type != STT_TLS;
}

static int u64_cmp(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;

	return a < b ? -1 : a > b;
}

static int add_starts(Elf *elf, Elf_Scn *scn, struct ut_symtab *st, size_t *cap)
{
	struct sym_iter it;
	GElf_Sym sym;
	const char *name;
	uint64_t *bigger;

	if (!sym_iter_init(&it, elf, scn))
		return 0;
	bigger = realloc(st->starts, (*cap + it.n + 1) * sizeof(*st->starts));
	if (!bigger)
		return -ENOMEM;
	st->starts = bigger;
	*cap += it.n + 1;
	while (sym_iter_next(&it, &sym, &name))
		if (is_located(&sym))
			st->starts[st->nstarts++] = sym.st_value;
	return 0;
}

/* Every symbol start (labels, objects, other entry points) from both tables. */
static int load_starts(Elf *elf, Elf_Scn *symtab, Elf_Scn *dynsym, struct ut_symtab *st)
{
	size_t cap = 0, n = 0;
	int err;

	err = add_starts(elf, symtab, st, &cap);
	if (!err)
		err = add_starts(elf, dynsym, st, &cap);
	if (err || !st->nstarts)
		return err;
	qsort(st->starts, st->nstarts, sizeof(*st->starts), u64_cmp);
	for (size_t i = 0; i < st->nstarts; i++)
		if (!n || st->starts[n - 1] != st->starts[i])
			st->starts[n++] = st->starts[i];
	st->nstarts = n;
	return 0;
}

static int load_elf(Elf *elf, struct ut_symtab *st)
{
	Elf_Scn *symtab, *dynsym;
	GElf_Ehdr eh;
	int err;

	err = check_header(elf, st->path, &eh);
	if (err)
		return err;
	st->is_dyn = eh.e_type == ET_DYN;
	st->entry = eh.e_entry;
	err = read_loads(elf, st);
	if (err)
		return err;
	read_build_id(elf, st);
	find_tables(elf, &symtab, &dynsym);
	err = load_functions(elf, symtab, dynsym, st);
	if (err)
		return err;
	return load_starts(elf, symtab, dynsym, st);
}

int utrace_symtab_load(const char *path, struct ut_symtab *out)
{
	struct ut_symtab st = { 0 };
	Elf *elf;
	int err;

	if (elf_version(EV_CURRENT) == EV_NONE) {
		ut_error("libelf is out of date: %s", elf_errmsg(-1));
		return -ENOSYS;
	}
	st.path = strdup(path);
	if (!st.path)
		return -ENOMEM;
	err = open_image(path, &st.image, &st.image_size);
	if (err) {
		st.image = NULL;
		goto free_st;
	}
	elf = elf_memory(st.image, st.image_size);
	if (!elf) {
		ut_error("%s: %s", path, elf_errmsg(-1));
		err = -ENOEXEC;
		goto free_st;
	}
	err = load_elf(elf, &st);
	elf_end(elf);
	if (err)
		goto free_st;
	*out = st;
	return 0;
free_st:
	utrace_symtab_free(&st);
	return err;
}

void utrace_symtab_free(struct ut_symtab *st)
{
	for (size_t i = 0; i < st->n; i++) {
		free(st->syms[i].name);
		free(st->syms[i].demangled);
		free(st->syms[i].typed);
		free(st->syms[i].typed_bare);
		for (char **a = st->syms[i].aliases; a && *a; a++)
			free(*a);
		free(st->syms[i].aliases);
	}
	free(st->syms);
	free(st->loads);
	free(st->starts);
	if (st->image)
		munmap(st->image, st->image_size);
	free(st->path);
	memset(st, 0, sizeof(*st));
}

/* The PT_LOAD whose file image holds file offset `offset`, or NULL. */
static const struct ut_load *load_at_offset(const struct ut_symtab *st, uint64_t offset)
{
	for (size_t i = 0; i < st->nloads; i++) {
		const struct ut_load *l = &st->loads[i];

		if (offset >= page_down(l->offset) && offset < l->offset + l->filesz)
			return l;
	}
	return NULL;
}

/*
 * A mapping of file offset map_offset at map_start belongs to the segment
 * holding that offset, in which vaddr - offset is constant:
 *   map_start = bias + l->vaddr + (map_offset - l->offset)
 */
uint64_t utrace_symtab_bias(const struct ut_symtab *st, uint64_t map_start, uint64_t map_offset)
{
	const struct ut_load *l;

	if (!st->is_dyn)
		return 0;
	l = load_at_offset(st, page_down(map_offset));
	if (!l && st->nloads)
		l = &st->loads[0];
	if (!l)
		return map_start - map_offset;
	return map_start - map_offset - (l->vaddr - l->offset);
}

const struct ut_sym *utrace_symtab_lookup(const struct ut_symtab *st, uint64_t vaddr)
{
	/* the last symbol starting at or below vaddr */
	size_t lo = ut_sorted_upto(st->syms, st->n, sizeof(st->syms[0]),
				   offsetof(struct ut_sym, addr), vaddr);

	if (lo && vaddr - st->syms[lo - 1].addr < st->syms[lo - 1].size)
		return &st->syms[lo - 1];
	return NULL;
}

bool utrace_symtab_starts_within(const struct ut_symtab *st, uint64_t lo, uint64_t hi)
{
	return ut_addrs_any_within(st->starts, st->nstarts, lo, hi);
}

long utrace_symtab_read(const struct ut_symtab *st, uint64_t vaddr, void *buf, size_t len)
{
	for (size_t i = 0; i < st->nloads; i++) {
		const struct ut_load *l = &st->loads[i];
		uint64_t off, avail;

		if (vaddr < l->vaddr || vaddr - l->vaddr >= l->filesz)
			continue;
		off = l->offset + (vaddr - l->vaddr);
		if (off >= st->image_size)
			return -EFAULT;
		/* Short at the segment's end, and at the file's end if truncated. */
		avail = l->vaddr + l->filesz - vaddr;
		if (avail > st->image_size - off)
			avail = st->image_size - off;
		if (len > avail)
			len = avail;
		memcpy(buf, (const char *)st->image + off, len);
		return (long)len;
	}
	return -EFAULT;
}

const void *utrace_symtab_image(const struct ut_symtab *st, size_t *size)
{
	*size = st->image_size;
	return st->image;
}

const char *utrace_sym_display(const struct ut_sym *sym)
{
	return sym->demangled ? sym->demangled : sym->name;
}
