// SPDX-License-Identifier: MIT
/*
 * ltrace-style library tracing: MALLOCS malloc, CALLOCS calloc and REALLOCS
 * realloc calls of libc, counted.  stdout gets a static buffer first, so
 * that stdio makes no allocation of its own: the program is the only caller
 * of these three in its run, and a trace of -f 'libc.so.6:*alloc' counts
 * exactly these.  Calls go through volatile pointers so that the compiler
 * cannot fold a malloc with its free.
 */
#include <stdio.h>
#include <stdlib.h>

#include "attach-gate.h"

#define MALLOCS 300
#define CALLOCS 200
#define REALLOCS 500
#define EXIT_STATUS 8

static void *(*volatile do_malloc)(size_t) = malloc;
static void *(*volatile do_calloc)(size_t, size_t) = calloc;
static void *(*volatile do_realloc)(void *, size_t) = realloc;
static void (*volatile do_free)(void *) = free;
static char outbuf[BUFSIZ];

int main(void)
{
	static void *m[MALLOCS], *c[CALLOCS];
	unsigned long calls_malloc = 0, calls_calloc = 0, calls_realloc = 0, sum = 0;

	setvbuf(stdout, outbuf, _IOFBF, sizeof(outbuf));
	for (int i = 0; i < MALLOCS; i++, calls_malloc++)
		m[i] = do_malloc(16 + (size_t)i);
	for (int i = 0; i < CALLOCS; i++, calls_calloc++)
		c[i] = do_calloc((size_t)i + 1, 8);
	for (int i = 0; i < REALLOCS; i++, calls_realloc++)
		m[i % MALLOCS] = do_realloc(m[i % MALLOCS], 64 + (size_t)i * 3);
	for (int i = 0; i < MALLOCS; i++) {
		sum += m[i] != NULL;
		do_free(m[i]);
	}
	for (int i = 0; i < CALLOCS; i++) {
		sum += c[i] != NULL;
		do_free(c[i]);
	}
	printf("allocated %lu\n", sum);
	printf("count malloc %lu\n", calls_malloc);
	printf("count calloc %lu\n", calls_calloc);
	printf("count realloc %lu\n", calls_realloc);
	return EXIT_STATUS;
}
