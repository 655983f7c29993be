/* SPDX-License-Identifier: MIT */
/*
 * Names of compiler-made copies and parts of functions.
 *
 * gcc and clang name what they derive from a function `foo` by suffixes:
 * clones that are whole functions (`foo.constprop.0`, `foo.isra.0`,
 * `foo.part.0`, `foo.lto_priv.0`, `foo.llvm.123`, `foo.localalias`,
 * `foo.specialized.0`, combined as in `foo.isra.0.constprop.0`) and parts
 * that are no function at all: `foo.cold` (and `foo.part.0.cold`), the
 * unlikely blocks moved away, entered by a jump from inside foo.
 *
 * A pattern without a dot matches a clone by its base name as well (a user
 * writing `-f foo` means foo whatever gcc did with it, as kallsyms does with
 * `.llvm.` names); a pattern with a dot matches whole names only.  Cold
 * parts are never functions.
 */
#ifndef UTRACE_CLONES_H
#define UTRACE_CLONES_H

#include <stdbool.h>
#include <stddef.h>

/* Length of `name` without its clone suffixes: strlen(name) when it has none. */
size_t utrace_clone_base_len(const char *name);
/* A `.cold` part: not a function entry, never probed. */
bool utrace_is_cold_part(const char *name);

#endif
