/* SPDX-License-Identifier: MIT */
/*
 * Addresses inside a module where execution may begin other than by falling
 * through: every direct branch target in its text and every FDE start.  None
 * may lie inside the bytes a 5-byte patch displaces past its first
 * (docs/ARCHITECTURE.md, "What a 5-byte patch may not do").
 */
#ifndef UTRACE_TARGETS_H
#define UTRACE_TARGETS_H

#include <gelf.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "symtab.h"

struct ut_targets {
	uint64_t *v; /* sorted, unique link-time addresses */
	size_t n;
};

/*
 * Decode every executable section of st->path (every executable segment when
 * the section headers are gone) and read the .eh_frame FDEs.  With a
 * build-id the result is cached in $UTRACE_CACHE_DIR, else
 * $XDG_CACHE_HOME/utrace, else $HOME/.cache/utrace, as
 * targets-<build-id>.bin; an unusable cache file is rebuilt, and failing to
 * write one is no error.  Call before stopping the world: a cold scan of a
 * large library takes a fraction of a second.  Returns 0, -ENOMEM, or
 * -ENOEXEC when the image is no readable ELF.
 */
int utrace_targets_load(const struct ut_symtab *st, struct ut_targets *out);

/* Whether some target lies strictly inside (lo, hi). */
bool utrace_targets_within(const struct ut_targets *t, uint64_t lo, uint64_t hi);

void utrace_targets_free(struct ut_targets *t);

/* The section named `name` with data in the file (its header in *sh), or NULL. */
Elf_Scn *utrace_elf_find_section(Elf *elf, const char *name, GElf_Shdr *sh);

#endif
