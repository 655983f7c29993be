// SPDX-License-Identifier: MIT
/*
 * C++ names for people: the Itanium C++ ABI demangler of libstdc++
 * (__cxa_demangle), the one the toolchain that made the names ships.
 */
#include <stdlib.h>
#include <string.h>

#include "demangle.h"

/* libstdc++'s <cxxabi.h>, for C */
char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

char *utrace_demangle(const char *name)
{
	int status = 0;
	char *d;

	if (strncmp(name, "_Z", 2))
		return NULL;
	d = __cxa_demangle(name, NULL, NULL, &status);
	if (status) {
		free(d);
		return NULL;
	}
	return d;
}
