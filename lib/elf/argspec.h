/* SPDX-License-Identifier: MIT */
/*
 * Prototypes that do not come from DWARF (protos.h gives the same string):
 *   - explicit specs, -A 'GLOB@arg1/d,arg3/s' and -R 'GLOB@retval/x': argN
 *     is the Nth integer argument (1 to 6: rdi .. r9), retval rax; the
 *     format d (signed), u (unsigned), x (hex), c (char), s (string), p
 *     (pointer), optionally with a width in bits for d, u and x (d32, u8);
 *   - built-in prototypes of common libc functions, for a libc without
 *     debug information.
 */
#ifndef UTRACE_ARGSPEC_H
#define UTRACE_ARGSPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ut_argspec {
	char *glob; /* the functions it applies to */
	char *args; /* prototype entries of the arguments ("KIND,SIZE,WORD,NAME,TYPE;...") */
	char *ret; /* the return value's entry, or NULL */
};

struct ut_argspecs {
	struct ut_argspec *v;
	size_t n;
};

/* Add -A (ret false) or -R (ret true) SPEC: -EINVAL with ut_error() when malformed. */
int utrace_argspec_add(struct ut_argspecs *s, const char *spec, bool ret);
void utrace_argspec_free(struct ut_argspecs *s);
/*
 * The prototype (malloc'd) the specs give the function named `name`: the
 * first -A and the first -R that match it; NULL when none does.  What a
 * spec leaves out comes from `base` (its DWARF prototype, or NULL).
 */
char *utrace_argspec_proto(const struct ut_argspecs *s, const char *name, const char *base);
/* The built-in prototype of libc's function `name`, or NULL. */
const char *utrace_libc_proto(const char *name);
/*
 * What the entries and exits of a function with this prototype carry
 * beyond their words (shm.h, UT_X_*): the strings its char * arguments
 * point to, its vector registers, its stack arguments.
 */
uint32_t utrace_proto_extras(const char *proto);

#endif
