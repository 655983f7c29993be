/* SPDX-License-Identifier: MIT */
/*
 * -f / -N patterns: "GLOB" (main executable) or "MODULE:GLOB" (fnmatch on
 * both; MODULE matches a module's basename, e.g. "libc.so.6" or "libc*").
 * A ':' that is part of "::" (C++ names) never splits.  A GLOB matches a
 * function by any of its names: the symbol, its aliases, and for C++ the
 * demangled name, with or without its parameters and template arguments
 * ("ns::Foo::bar" is every overload).  A GLOB without MODULE that matches
 * nothing in the main executable is looked up in the libraries (widened).
 */
#ifndef UTRACE_FILTER_H
#define UTRACE_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "symtab.h"

struct ut_pattern {
	char *spec; /* as the user wrote it */
	char *module; /* NULL: the main executable */
	char *glob;
	bool exclude;
	size_t matches; /* functions it selected (exclusions: removed) */
	bool anywhere; /* no MODULE and nothing in the main executable: every module */
	char *found_in; /* anywhere: the first module it matched in (owned), or NULL */
	bool told; /* where it was found was said */
};

struct ut_filter {
	struct ut_pattern *v;
	size_t n;
};

/* -EINVAL with ut_error() for an empty glob or module. */
int utrace_filter_add(struct ut_filter *f, const char *spec, bool exclude);
void utrace_filter_free(struct ut_filter *f);

/* Whether any include pattern could select functions in this module. */
bool utrace_filter_wants_module(const struct ut_filter *f, const char *module_name, bool is_main);

/*
 * Whether a function with these names (name, then aliases, NULL-terminated
 * or NULL) is selected: some include pattern matches and no exclusion does.
 * Counts matches on the patterns involved.
 */
bool utrace_filter_select(struct ut_filter *f, const char *module_name, bool is_main,
			  const char *name, char *const *aliases);
/*
 * The same for a symbol: its name, its aliases and, for C++, its demangled
 * and typed names.  *asked (may be NULL): the alias an include pattern
 * without wildcards named ("puts" of "_IO_puts"), the name its events should
 * carry; else NULL.
 */
bool utrace_filter_select_sym(struct ut_filter *f, const char *module_name, bool is_main,
			      const struct ut_sym *sym, const char **asked);

/*
 * Patterns without MODULE that matched nothing (in the main executable,
 * planned first) apply to every module from now on: how many there are.
 */
size_t utrace_filter_widen(struct ut_filter *f);
/* Whether the glob has wildcards (else it names one function). */
bool utrace_glob_is_name(const char *glob);

#endif
