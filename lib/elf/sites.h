/* SPDX-License-Identifier: MIT */
/*
 * Compiler-made entry sites: the addresses gcc records in
 * __patchable_function_entries (-fpatchable-function-entry=5) and
 * __mcount_loc (-pg -mfentry -mrecord-mcount).  Only these may be patched
 * with a call straight into the entry trampoline; they are never guessed
 * from byte patterns (docs/ARCHITECTURE.md, "What a 5-byte patch may not
 * do").
 */
#ifndef UTRACE_SITES_H
#define UTRACE_SITES_H

#include "symtab.h"
#include "targets.h"

/*
 * The sorted, unique link-time addresses recorded in st->path's entry-site
 * sections (relocated words of a PIE or library read from their
 * R_X86_64_RELATIVE relocations), keeping only those whose bytes in the file
 * are what the compiler leaves there (arch_is_entry_site()).  Whether a site
 * lies at a function's start is for the caller to decide.  A file without
 * such sections yields none.  Returns 0, -ENOMEM, or -ENOEXEC when the image
 * is no readable ELF.
 */
int utrace_entry_sites_load(const struct ut_symtab *st, struct ut_targets *out);

#endif
