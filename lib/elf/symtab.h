/* SPDX-License-Identifier: MIT */
/* ELF function symbols of one file, through libelf. */
#ifndef UTRACE_SYMTAB_H
#define UTRACE_SYMTAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "demangle.h"

struct ut_sym {
	char *name; /* preferred name: exported, fewest leading underscores, global, shortest */
	char **aliases; /* every other name at the same address, NULL-terminated (may be NULL) */
	char *demangled; /* the preferred name demangled (C++), NULL when not mangled */
	/* C++: the name as typed, "ns::f<int>" of "void ns::f<int>(int)", and "ns::f" (or NULL) */
	char *typed, *typed_bare;
	uint64_t addr; /* link-time virtual address (st_value) */
	uint64_t size;
	bool global; /* the preferred name is STB_GLOBAL, STB_WEAK or STB_GNU_UNIQUE */
};

struct ut_load {
	uint64_t vaddr, offset, filesz, memsz;
	int prot; /* PROT_* from p_flags */
};

struct ut_symtab {
	char *path;
	bool is_dyn; /* ET_DYN (PIE or shared library): load bias applies */
	bool from_symtab; /* .symtab was present; else .dynsym only */
	uint64_t entry; /* e_entry */
	struct ut_sym *
		syms; /* STT_FUNC (and STT_GNU_IFUNC resolvers) with size > 0, one per address, sorted */
	size_t n;
	struct ut_load *loads; /* PT_LOAD headers */
	size_t nloads;
	char build_id[41]; /* hex, "" when absent */
	/* private: the file image, for utrace_symtab_read() */
	void *image;
	size_t image_size;
	/* private: sorted, distinct start addresses of all defined symbols, for starts_within */
	uint64_t *starts;
	size_t nstarts;
};

/*
 * Load the function symbols of `path`.  Errors (each with ut_error()):
 * -ENOENT / -EACCES (open), -ENOEXEC not an ELF executable or shared object,
 * -EINVAL ELF for another architecture or class (needs x86_64 ELF64),
 * -ENODATA no defined function symbol in .symtab or .dynsym.
 */
int utrace_symtab_load(const char *path, struct ut_symtab *out);
void utrace_symtab_free(struct ut_symtab *st);

/* The name to show: demangled when it is a C++ name. */
const char *utrace_sym_display(const struct ut_sym *sym);
/*
 * Load bias for a module whose file offset `map_offset` is mapped at `map_start`.
 * Pass the module's first mapping (first_start, first_offset): a file page
 * shared by two segments is taken to belong to the first of them.
 */
uint64_t utrace_symtab_bias(const struct ut_symtab *st, uint64_t map_start, uint64_t map_offset);

/* The symbol whose [addr, addr + size) contains vaddr, or NULL. */
const struct ut_sym *utrace_symtab_lookup(const struct ut_symtab *st, uint64_t vaddr);

/* Whether some symbol (of any type) or alias starts strictly inside (lo, hi). */
bool utrace_symtab_starts_within(const struct ut_symtab *st, uint64_t lo, uint64_t hi);

/*
 * Copy file bytes at link-time address vaddr (within one PT_LOAD's file
 * image).  Returns the number of bytes copied (may be short at a segment's
 * end), or -EFAULT when vaddr is in no segment.
 */
long utrace_symtab_read(const struct ut_symtab *st, uint64_t vaddr, void *buf, size_t len);

/*
 * The whole file image, mapped read-only for as long as st lives: for other
 * readers of the same file (sections the symbol loader does not keep).
 */
const void *utrace_symtab_image(const struct ut_symtab *st, size_t *size);

#endif
