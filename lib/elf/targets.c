// SPDX-License-Identifier: MIT
/*
 * Where execution can enter a module's code other than by falling through:
 * the target of every direct branch in its text (arch_scan_branches() over
 * each executable section) and the initial location of every FDE in
 * .eh_frame (alternative entry points the unwinder knows).  Decoding a large
 * library takes long enough to matter, so the sorted result is cached per
 * build-id; the cache file is untrusted input and validated before use.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
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
#include "arch.h"
#include "log.h"
#include "targets.h"

/* A DW_EH_PE_* pointer encoding: the low nibble is the format, bits 4-6 the base. */
#define EH_PE_FORMAT_MASK 0x0f
#define EH_PE_APPL_MASK 0x70

/* Augmentation letters of an .eh_frame CIE (after the leading 'z'). */
#define AUG_SIZED 'z'
#define AUG_FDE_ENCODING 'R'
#define AUG_PERSONALITY 'P'
#define AUG_LSDA 'L'
#define AUG_SIGNAL_FRAME 'S'
#define AUG_BOUNDS 'B'
#define AUG_MTE_TAGGED 'G'
#define LEB128_MORE 0x80

/* State of one scan: addresses found so far, and the first allocation failure. */
struct scan {
	struct ut_addrs addrs;
	int err;
};

static void add_target(uint64_t target, void *arg)
{
	struct scan *s = arg;

	if (!s->err)
		s->err = ut_addrs_add(&s->addrs, target);
}

/* Decode every executable section; returns how many there were, or -errno. */
static int scan_sections(Elf *elf, struct scan *s)
{
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr sh;
	int nexec = 0, err;

	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS ||
		    (sh.sh_flags & (SHF_ALLOC | SHF_EXECINSTR)) != (SHF_ALLOC | SHF_EXECINSTR))
			continue;
		data = elf_rawdata(scn, NULL);
		if (!data || !data->d_buf)
			continue;
		nexec++;
		err = arch_scan_branches(data->d_buf, data->d_size, sh.sh_addr, add_target, s);
		if (err || s->err)
			return err ? err : s->err;
	}
	return nexec;
}

/* Without section headers (sstrip), decode the executable segments instead. */
static int scan_segments(const struct ut_symtab *st, struct scan *s)
{
	size_t size;
	const uint8_t *image = utrace_symtab_image(st, &size);
	int err;

	for (size_t i = 0; i < st->nloads; i++) {
		const struct ut_load *l = &st->loads[i];
		uint64_t len = l->filesz;

		if (!(l->prot & PROT_EXEC) || l->offset >= size)
			continue;
		if (len > size - l->offset)
			len = size - l->offset;
		err = arch_scan_branches(image + l->offset, len, l->vaddr, add_target, s);
		if (err || s->err)
			return err ? err : s->err;
	}
	return 0;
}

/* The .eh_frame section and its link-time address, from which pc-relative values count. */
struct eh_frame {
	const unsigned char *ident;
	Elf_Data *data;
	uint64_t addr;
	Dwarf_Off cie_off; /* the last CIE read, and its FDE pointer encoding */
	int cie_enc; /* -1 before the first */
};

Elf_Scn *utrace_elf_find_section(Elf *elf, const char *name, GElf_Shdr *sh)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	const char *n;

	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, sh) || sh->sh_type == SHT_NOBITS)
			continue;
		n = elf_strptr(elf, shstrndx, sh->sh_name);
		if (n && !strcmp(n, name))
			return scn;
	}
	return NULL;
}

/* Bytes of a fixed-size pointer format, 0 for the LEB128 ones (never used for addresses). */
static size_t eh_pe_size(int enc)
{
	switch (enc & EH_PE_FORMAT_MASK) {
	case DW_EH_PE_absptr:
	case DW_EH_PE_udata8:
	case DW_EH_PE_sdata8:
		return 8;
	case DW_EH_PE_udata4:
	case DW_EH_PE_sdata4:
		return 4;
	case DW_EH_PE_udata2:
	case DW_EH_PE_sdata2:
		return 2;
	default:
		return 0;
	}
}

static uint64_t read_fixed(int enc, const uint8_t *p)
{
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;

	switch (enc & EH_PE_FORMAT_MASK) {
	case DW_EH_PE_udata2:
		memcpy(&u16, p, sizeof(u16));
		return u16;
	case DW_EH_PE_sdata2:
		memcpy(&u16, p, sizeof(u16));
		return (uint64_t)(int64_t)(int16_t)u16;
	case DW_EH_PE_udata4:
		memcpy(&u32, p, sizeof(u32));
		return u32;
	case DW_EH_PE_sdata4:
		memcpy(&u32, p, sizeof(u32));
		return (uint64_t)(int64_t)(int32_t)u32;
	default:
		memcpy(&u64, p, sizeof(u64));
		return u64;
	}
}

/*
 * Decode the pointer at p (link-time address p_addr) in encoding enc.  In a
 * PIE or library gcc encodes FDE addresses pc-relative (DW_EH_PE_pcrel |
 * sdata4): relative to where the field itself lies.  Returns 0 or -ENOTSUP.
 */
static int read_eh_pointer(int enc, const uint8_t *p, const uint8_t *end, uint64_t p_addr,
			   uint64_t *val)
{
	size_t size = eh_pe_size(enc);

	if (enc == DW_EH_PE_omit || (enc & DW_EH_PE_indirect) || !size || (size_t)(end - p) < size)
		return -ENOTSUP;
	*val = read_fixed(enc, p);
	switch (enc & EH_PE_APPL_MASK) {
	case DW_EH_PE_absptr:
		return 0;
	case DW_EH_PE_pcrel:
		*val += p_addr;
		return 0;
	default:
		return -ENOTSUP; /* textrel/datarel/funcrel: not used by x86_64 .eh_frame */
	}
}

/* Skip the personality pointer of a 'P' augmentation; false when it cannot be sized. */
static bool skip_eh_pointer(int enc, const uint8_t **p, const uint8_t *end)
{
	size_t size = eh_pe_size(enc);
	int fmt = enc & EH_PE_FORMAT_MASK;

	if (fmt == DW_EH_PE_uleb128 || fmt == DW_EH_PE_sleb128) {
		while (*p < end && (*(*p)++ & LEB128_MORE))
			;
		return *p <= end;
	}
	if (!size || (size_t)(end - *p) < size)
		return false;
	*p += size;
	return true;
}

/* The FDE pointer encoding a CIE announces ('R'), absptr without one; -1 if unreadable. */
static int cie_fde_encoding(const Dwarf_CIE *cie)
{
	const uint8_t *p = cie->augmentation_data;
	const uint8_t *end = p ? p + cie->augmentation_data_size : NULL;
	const char *aug = cie->augmentation;

	if (!aug || aug[0] != AUG_SIZED)
		return DW_EH_PE_absptr;
	for (aug++; *aug; aug++) {
		switch (*aug) {
		case AUG_FDE_ENCODING:
			return p && p < end ? *p : -1;
		case AUG_PERSONALITY:
			if (!p || p >= end)
				return -1;
			p++;
			if (!skip_eh_pointer(p[-1], &p, end))
				return -1;
			break;
		case AUG_LSDA:
			p++;
			break;
		case AUG_SIGNAL_FRAME:
		case AUG_BOUNDS:
		case AUG_MTE_TAGGED:
			break;
		default:
			return -1;
		}
	}
	return DW_EH_PE_absptr;
}

/* The encoding of the FDEs under the CIE at cie_off (FDEs of one CIE come in runs). */
static int fde_encoding(struct eh_frame *eh, Dwarf_Off cie_off)
{
	Dwarf_CFI_Entry entry;
	Dwarf_Off next;

	if (eh->cie_enc >= 0 && eh->cie_off == cie_off)
		return eh->cie_enc;
	if (dwarf_next_cfi(eh->ident, eh->data, true, cie_off, &next, &entry) != 0 ||
	    !dwarf_cfi_cie_p(&entry))
		return -1;
	eh->cie_off = cie_off;
	eh->cie_enc = cie_fde_encoding(&entry.cie);
	return eh->cie_enc;
}

static int add_fde_start(struct eh_frame *eh, const Dwarf_FDE *fde, struct ut_addrs *addrs)
{
	int enc = fde_encoding(eh, fde->CIE_pointer);
	uint64_t field = eh->addr + (uint64_t)(fde->start - (const uint8_t *)eh->data->d_buf);
	uint64_t start;

	if (enc < 0 || read_eh_pointer(enc, fde->start, fde->end, field, &start) < 0) {
		ut_debug("targets: FDE at .eh_frame+%#llx: unreadable initial location",
			 (unsigned long long)(field - eh->addr));
		return 0;
	}
	return ut_addrs_add(addrs, start);
}

/* The initial location of every FDE in .eh_frame. */
static int read_fde_starts(Elf *elf, struct ut_addrs *addrs)
{
	struct eh_frame eh = { .cie_enc = -1 };
	Dwarf_CFI_Entry entry;
	Dwarf_Off off, next;
	Elf_Data *data;
	Elf_Scn *scn;
	GElf_Shdr sh;
	int r, err;

	scn = utrace_elf_find_section(elf, ".eh_frame", &sh);
	data = scn ? elf_rawdata(scn, NULL) : NULL;
	if (!data || !data->d_buf)
		return 0;
	eh.ident = (const unsigned char *)elf_getident(elf, NULL);
	eh.data = data;
	eh.addr = sh.sh_addr;
	for (off = 0;; off = next) {
		next = (Dwarf_Off)-1;
		r = dwarf_next_cfi(eh.ident, eh.data, true, off, &next, &entry);
		if (r > 0)
			break;
		/* Some malformed entries can be stepped over; others end the walk. */
		if (r < 0) {
			if (next == (Dwarf_Off)-1 || next <= off)
				break;
			continue;
		}
		if (dwarf_cfi_cie_p(&entry))
			continue;
		err = add_fde_start(&eh, &entry.fde, addrs);
		if (err)
			return err;
	}
	return 0;
}

/*
 * The cache file, native byte order (it never leaves the machine):
 *
 *    0  +--------------------------------+
 *       | magic "UTTARGS\0"              |
 *    8  | u32 version | u32 zero         |
 *   16  | build_id, hex, NUL-padded      |  must match the file's own
 *   64  | u64 count                      |
 *   72  +--------------------------------+
 *       | u64 target[count]              |  strictly increasing
 *       +--------------------------------+  file size = 72 + 8 * count
 *
 * Bump the version whenever what counts as a target changes.
 */
#define CACHE_MAGIC "UTTARGS"
#define CACHE_VERSION 1
#define CACHE_BUILD_ID_SIZE 48
#define CACHE_DIR_MODE 0700

struct cache_hdr {
	char magic[8];
	uint32_t version;
	uint32_t zero;
	char build_id[CACHE_BUILD_ID_SIZE];
	uint64_t count;
};
_Static_assert(sizeof(struct cache_hdr) == 72, "cache header layout");
_Static_assert(sizeof(CACHE_MAGIC) == sizeof(((struct cache_hdr *)0)->magic), "magic size");
_Static_assert(sizeof(((struct ut_symtab *)0)->build_id) <= CACHE_BUILD_ID_SIZE, "build-id");

/* $UTRACE_CACHE_DIR, else $XDG_CACHE_HOME/utrace, else $HOME/.cache/utrace (malloc'd). */
static char *cache_dir(void)
{
	const char *dir = getenv("UTRACE_CACHE_DIR");
	char *path = NULL;

	if (dir && dir[0])
		return strdup(dir);
	/* The XDG spec says to ignore relative paths. */
	dir = getenv("XDG_CACHE_HOME");
	if (dir && dir[0] == '/')
		return asprintf(&path, "%s/utrace", dir) < 0 ? NULL : path;
	dir = getenv("HOME");
	if (dir && dir[0] == '/')
		return asprintf(&path, "%s/.cache/utrace", dir) < 0 ? NULL : path;
	return NULL;
}

static char *cache_path(const struct ut_symtab *st)
{
	char *dir, *path = NULL;

	if (!st->build_id[0])
		return NULL;
	dir = cache_dir();
	if (!dir)
		return NULL;
	if (asprintf(&path, "%s/targets-%s.bin", dir, st->build_id) < 0)
		path = NULL;
	free(dir);
	return path;
}

static void cache_hdr_init(struct cache_hdr *h, const struct ut_symtab *st, uint64_t count)
{
	memset(h, 0, sizeof(*h));
	memcpy(h->magic, CACHE_MAGIC, sizeof(h->magic));
	h->version = CACHE_VERSION;
	strncpy(h->build_id, st->build_id, sizeof(h->build_id) - 1);
	h->count = count;
}

/* Whether a header read from disk is ours and agrees with the file's size. */
static bool cache_hdr_valid(const struct cache_hdr *h, const struct ut_symtab *st, off_t size)
{
	struct cache_hdr want;
	uint64_t room = (uint64_t)size - sizeof(*h);

	cache_hdr_init(&want, st, h->count);
	return !memcmp(h, &want, sizeof(want)) && room / sizeof(uint64_t) == h->count &&
	       room % sizeof(uint64_t) == 0;
}

static bool strictly_increasing(const uint64_t *v, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (v[i - 1] >= v[i])
			return false;
	return true;
}

static bool read_full(int fd, void *buf, size_t len, off_t off)
{
	while (len) {
		ssize_t r = pread(fd, buf, len, off);

		if (r <= 0)
			return false;
		buf = (char *)buf + r;
		len -= r;
		off += r;
	}
	return true;
}

/* 0 with out filled from a valid cache file, -ENOENT when absent, -EINVAL when unusable. */
static int cache_read(const char *path, const struct ut_symtab *st, struct ut_targets *out)
{
	struct cache_hdr h;
	struct stat sb;
	uint64_t *v = NULL;
	int fd, err = -EINVAL;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -ENOENT;
	/*
	 * A list with targets missing would let 5-byte patches land on branch
	 * targets: only a file of our own that nobody else may write counts.
	 */
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode) || sb.st_uid != geteuid() ||
	    (sb.st_mode & (S_IWGRP | S_IWOTH)) || (size_t)sb.st_size < sizeof(h) ||
	    !read_full(fd, &h, sizeof(h), 0) || !cache_hdr_valid(&h, st, sb.st_size))
		goto close_fd;
	v = malloc(h.count ? h.count * sizeof(*v) : 1);
	if (!v) {
		err = -ENOMEM;
		goto close_fd;
	}
	if (!read_full(fd, v, h.count * sizeof(*v), sizeof(h)) || !strictly_increasing(v, h.count))
		goto free_v;
	out->v = v;
	out->n = h.count;
	close(fd);
	return 0;
free_v:
	free(v);
close_fd:
	close(fd);
	return err;
}

/* mkdir -p, private to the user: the cache says where it is safe to patch. */
static int make_dirs(const char *dir)
{
	char *p, *copy = strdup(dir);
	int err = 0;
	char c;

	if (!copy)
		return -ENOMEM;
	for (p = copy + 1;; p++) {
		if (*p != '/' && *p)
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(copy, CACHE_DIR_MODE) < 0 && errno != EEXIST) {
			err = -errno;
			break;
		}
		*p = c;
		if (!c)
			break;
	}
	free(copy);
	return err;
}

static bool write_full(int fd, const void *buf, size_t len)
{
	while (len) {
		ssize_t r = write(fd, buf, len);

		if (r <= 0)
			return false;
		buf = (const char *)buf + r;
		len -= r;
	}
	return true;
}

/* Write to a temporary file and rename it over path, so readers never see half a file. */
static int cache_write(const char *path, const struct ut_symtab *st, const struct ut_targets *t)
{
	struct cache_hdr h;
	char *tmp = NULL, *slash;
	int fd, err;

	if (asprintf(&tmp, "%s.XXXXXX", path) < 0)
		return -ENOMEM;
	slash = strrchr(tmp, '/');
	if (slash && slash != tmp) {
		*slash = '\0';
		err = make_dirs(tmp);
		*slash = '/';
		if (err)
			goto free_tmp;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		goto free_tmp;
	}
	cache_hdr_init(&h, st, t->n);
	err = write_full(fd, &h, sizeof(h)) && write_full(fd, t->v, t->n * sizeof(*t->v)) ? 0 :
											    -EIO;
	if (close(fd) < 0 && !err)
		err = -EIO;
	if (!err && rename(tmp, path) < 0)
		err = -errno;
	if (err)
		unlink(tmp);
free_tmp:
	free(tmp);
	return err;
}

static int scan_module(const struct ut_symtab *st, struct ut_targets *out)
{
	struct scan s = { .err = 0 };
	size_t size;
	const void *image = utrace_symtab_image(st, &size);
	Elf *elf;
	int err;

	elf = elf_memory((char *)image, size);
	if (!elf) {
		ut_error("%s: %s", st->path, elf_errmsg(-1));
		return -ENOEXEC;
	}
	err = scan_sections(elf, &s);
	if (err == 0)
		err = scan_segments(st, &s);
	if (err >= 0)
		err = read_fde_starts(elf, &s.addrs);
	elf_end(elf);
	if (err < 0) {
		ut_addrs_free(&s.addrs);
		return err;
	}
	ut_addrs_finish(&s.addrs, out);
	return 0;
}

int utrace_targets_load(const struct ut_symtab *st, struct ut_targets *out)
{
	char *path = cache_path(st);
	int err, cerr;

	memset(out, 0, sizeof(*out));
	if (path) {
		err = cache_read(path, st, out);
		if (!err) {
			ut_debug("targets: %s: %zu from %s", st->path, out->n, path);
			goto free_path;
		}
		if (err == -EINVAL)
			ut_info("ignoring unusable cache file %s: rebuilding it", path);
	}
	err = scan_module(st, out);
	if (err || !path)
		goto free_path;
	ut_debug("targets: %s: %zu scanned", st->path, out->n);
	cerr = cache_write(path, st, out);
	if (cerr < 0)
		ut_info("cannot write cache file %s: %s", path, strerror(-cerr));
free_path:
	free(path);
	return err;
}

bool utrace_targets_within(const struct ut_targets *t, uint64_t lo, uint64_t hi)
{
	return ut_addrs_any_within(t->v, t->n, lo, hi);
}

void utrace_targets_free(struct ut_targets *t)
{
	free(t->v);
	memset(t, 0, sizeof(*t));
}
