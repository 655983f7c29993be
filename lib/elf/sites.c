// SPDX-License-Identifier: MIT
/*
 * Compiler-made entry sites, read from the sections gcc records them in.
 * Each section is an array of 8-byte addresses:
 *
 *   __patchable_function_entries / __mcount_loc
 *   +----------------+----------------+----
 *   | site address   | site address   | ...     link-time addresses
 *   +----------------+----------------+----
 *
 * In a PIE or shared library every word is relocated by an R_X86_64_RELATIVE
 * relocation.  GNU ld and gold also store the address in the word itself;
 * lld (RELA without --apply-dynamic-relocs) leaves it 0, and the address is
 * only the relocation's addend.  So a word that is 0 is looked up among the
 * relocations.
 */
#include <errno.h>
#include <gelf.h>
#include <stdlib.h>
#include <string.h>

#include "addrs.h"
#include "arch.h"
#include "log.h"
#include "sites.h"

#define SITE_WORD_SIZE 8

static const char *const site_sections[] = {
	"__patchable_function_entries", /* -fpatchable-function-entry */
	"__mcount_loc", /* -mrecord-mcount */
};

/* One site section: its words, and the addends of the relocations that fill them. */
struct site_section {
	uint64_t addr;
	const uint8_t *words;
	size_t n;
	uint64_t *addends; /* per word, 0 when no RELATIVE relocation targets it */
};

static bool is_site_section(const char *name)
{
	for (size_t i = 0; i < sizeof(site_sections) / sizeof(site_sections[0]); i++)
		if (name && !strcmp(name, site_sections[i]))
			return true;
	return false;
}

static void add_relocs(Elf_Data *data, struct site_section *sec)
{
	size_t n = data->d_size / sizeof(Elf64_Rela);
	GElf_Rela r;

	for (size_t i = 0; i < n; i++) {
		uint64_t off;

		if (!gelf_getrela(data, i, &r) || GELF_R_TYPE(r.r_info) != R_X86_64_RELATIVE)
			continue;
		off = r.r_offset - sec->addr;
		if (r.r_offset < sec->addr || off / SITE_WORD_SIZE >= sec->n ||
		    off % SITE_WORD_SIZE)
			continue;
		sec->addends[off / SITE_WORD_SIZE] = (uint64_t)r.r_addend;
	}
}

/* The RELATIVE addends aimed at sec's words, from every SHT_RELA section (.rela.dyn). */
static int read_addends(Elf *elf, struct site_section *sec)
{
	Elf_Scn *scn = NULL;
	Elf_Data *data;
	GElf_Shdr sh;

	sec->addends = calloc(sec->n ? sec->n : 1, sizeof(*sec->addends));
	if (!sec->addends)
		return -ENOMEM;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA)
			continue;
		data = elf_getdata(scn, NULL);
		if (data)
			add_relocs(data, sec);
	}
	return 0;
}

/* A site is kept only if the file holds there what the compiler emits at one. */
static bool site_bytes_ok(const struct ut_symtab *st, uint64_t site)
{
	uint8_t code[ARCH_ENTRY_SITE_SIZE];

	if (utrace_symtab_read(st, site, code, sizeof(code)) != (long)sizeof(code)) {
		ut_debug("sites: %s: %#llx is outside the file's segments", st->path,
			 (unsigned long long)site);
		return false;
	}
	if (!arch_is_entry_site(code)) {
		ut_debug("sites: %s: %#llx holds no compiler-made entry (%02x %02x %02x %02x %02x)",
			 st->path, (unsigned long long)site, code[0], code[1], code[2], code[3],
			 code[4]);
		return false;
	}
	return true;
}

static int add_sites(const struct ut_symtab *st, const struct site_section *sec,
		     struct ut_addrs *addrs)
{
	uint64_t site;
	int err;

	for (size_t i = 0; i < sec->n; i++) {
		memcpy(&site, sec->words + i * SITE_WORD_SIZE, sizeof(site));
		if (!site)
			site = sec->addends[i];
		/* Still 0: an entry of a function the linker discarded. */
		if (!site || !site_bytes_ok(st, site))
			continue;
		err = ut_addrs_add(addrs, site);
		if (err)
			return err;
	}
	return 0;
}

static int read_section(const struct ut_symtab *st, Elf *elf, Elf_Scn *scn, const GElf_Shdr *sh,
			struct ut_addrs *addrs)
{
	struct site_section sec = { .addr = sh->sh_addr };
	Elf_Data *data = elf_rawdata(scn, NULL);
	int err;

	if (!data || !data->d_buf)
		return 0;
	sec.words = data->d_buf;
	sec.n = data->d_size / SITE_WORD_SIZE;
	err = read_addends(elf, &sec);
	if (!err)
		err = add_sites(st, &sec, addrs);
	free(sec.addends);
	return err;
}

static int read_sites(const struct ut_symtab *st, Elf *elf, struct ut_addrs *addrs)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	GElf_Shdr sh;
	int err;

	if (elf_getshdrstrndx(elf, &shstrndx) < 0)
		return 0;
	while ((scn = elf_nextscn(elf, scn))) {
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !is_site_section(elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		err = read_section(st, elf, scn, &sh, addrs);
		if (err)
			return err;
	}
	return 0;
}

int utrace_entry_sites_load(const struct ut_symtab *st, struct ut_targets *out)
{
	struct ut_addrs addrs = { 0 };
	size_t size;
	const void *image = utrace_symtab_image(st, &size);
	Elf *elf;
	int err;

	memset(out, 0, sizeof(*out));
	elf = elf_memory((char *)image, size);
	if (!elf) {
		ut_error("%s: %s", st->path, elf_errmsg(-1));
		return -ENOEXEC;
	}
	err = read_sites(st, elf, &addrs);
	elf_end(elf);
	if (err) {
		ut_addrs_free(&addrs);
		return err;
	}
	ut_addrs_finish(&addrs, out);
	ut_debug("sites: %s: %zu entry sites", st->path, out->n);
	return 0;
}
