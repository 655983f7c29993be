/* SPDX-License-Identifier: MIT */
#ifndef UTRACE_DEMANGLE_H
#define UTRACE_DEMANGLE_H

#include <stdbool.h>

/* A C++ name demangled (malloc'd), or NULL when `name` is not a mangled one. */
char *utrace_demangle(const char *name);

/*
 * A demangled function's name as a user types it (malloc'd): its qualified
 * name without return type, parameters, qualifiers or ABI tags
 * ("ns::Foo::bar(int) const" -> "ns::Foo::bar", "int max<int>(int, int)" ->
 * "max<int>"); with drop_template, also without its last template
 * arguments ("max"), NULL when it has none.  NULL when not a function.
 */
char *utrace_cxx_typed_name(const char *demangled, bool drop_template);

#endif
