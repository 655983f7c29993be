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

/* The '(' that opens the parameter list closed by d[close], or -1. */
static long params_open(const char *d, size_t close)
{
	long depth = 0;

	for (long i = (long)close; i >= 0; i--) {
		depth += d[i] == ')';
		depth -= d[i] == '(';
		if (depth == 0)
			return i;
	}
	return -1;
}

/*
 * Where the name starts in "RET name" (a template function's demangled
 * name carries its return type): after the last space outside <> and (),
 * looking no further than an "operator" (whose own spaces and brackets are
 * its name: "operator new", "operator<").
 */
static size_t name_start(const char *d, size_t end)
{
	size_t start = 0;
	long depth = 0;

	for (size_t i = 0; i < end; i++) {
		if (!strncmp(d + i, "operator", 8) &&
		    (i == 0 || d[i - 1] == ':' || d[i - 1] == ' '))
			break;
		if (d[i] == '<' || d[i] == '(')
			depth++;
		else if ((d[i] == '>' || d[i] == ')') && depth > 0)
			depth--;
		else if (d[i] == ' ' && depth == 0)
			start = i + 1;
	}
	return start;
}

/* Drop a trailing "[abi:...]" tag from d[0, *end). */
static void drop_abi_tags(const char *d, size_t *end)
{
	while (*end > 0 && d[*end - 1] == ']') {
		size_t i = *end - 1;

		while (i > 0 && d[i] != '[')
			i--;
		if (strncmp(d + i, "[abi:", 5))
			return;
		*end = i;
	}
}

/* The '<' that opens the template arguments closed by d[end - 1], or end. */
static size_t template_open(const char *d, size_t start, size_t end)
{
	long depth = 0;

	for (size_t i = end; i > start; i--) {
		depth += d[i - 1] == '>';
		depth -= d[i - 1] == '<';
		if (depth == 0)
			return i - 1;
	}
	return end;
}

char *utrace_cxx_typed_name(const char *demangled, bool drop_template)
{
	const char *close = strrchr(demangled, ')');
	const char *op;
	size_t start, end;
	long open;

	if (!close)
		return NULL; /* not a function: "vtable for X", a variable */
	open = params_open(demangled, (size_t)(close - demangled));
	if (open <= 0)
		return NULL;
	end = (size_t)open;
	drop_abi_tags(demangled, &end);
	start = name_start(demangled, end);
	op = strstr(demangled + start, "operator");
	if (drop_template) {
		/* an operator's brackets are its name ("operator<", "operator->"): kept whole */
		if (op && op < demangled + end)
			return NULL;
		if (end <= start || demangled[end - 1] != '>')
			return NULL;
		end = template_open(demangled, start, end);
		if (end == start)
			return NULL;
	}
	return strndup(demangled + start, end - start);
}
