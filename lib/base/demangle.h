/* SPDX-License-Identifier: MIT */
#ifndef UTRACE_DEMANGLE_H
#define UTRACE_DEMANGLE_H

/* A C++ name demangled (malloc'd), or NULL when `name` is not a mangled one. */
char *utrace_demangle(const char *name);

#endif
