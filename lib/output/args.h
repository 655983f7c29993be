/* SPDX-License-Identifier: MIT */
/*
 * Typed arguments and return values: a function's prototype (the string
 * lib/elf/protos.h describes, read back from the trace's function table:
 * untrusted, checked) applied to the words its events carry.
 */
#ifndef UTRACE_ARGS_H
#define UTRACE_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "consumer.h"

struct ut_arg {
	char kind; /* protos.h: i u b c e p s f S m v */
	uint32_t size;
	/*
	 * Where it is: loc 'w', its first word among those recorded (-1 for
	 * none); 'x', its first vector register; 's', its offset among the
	 * stack arguments (protos.h)
	 */
	char loc;
	int word;
	char *name, *type;
	char *enums; /* "NAME:VALUE:..." of an enum, else NULL */
	/* made once: what every event prints before the value */
	char *json_head; /* {"name":"n","type":"int", (a return value: "type":"int",) */
	char *text_head; /* n= (a return value: "") */
};

struct ut_proto {
	struct ut_arg ret;
	struct ut_arg *v;
	size_t n;
};

/* -EINVAL for a malformed prototype, -ENOMEM; *p is empty then. */
int ut_proto_parse(const char *s, struct ut_proto *p);
void ut_proto_free(struct ut_proto *p);

/* A bounded output buffer: what does not fit is cut, and `full` says so. */
struct ut_sbuf {
	char *p;
	size_t len, cap;
	bool full;
};

void ut_sbuf_put(struct ut_sbuf *b, const char *s, size_t n);

/*
 * JSON: `,"args":[{"name":..,"type":..,"value":..},...]` of an entry (the
 * strings, vector registers and stack arguments from its items).
 */
void ut_args_json(struct ut_sbuf *b, const struct ut_proto *p, const struct ut_event *ev);
/* JSON: `,"retval":{"type":..,"value":..}` of an exit (nothing for void). */
void ut_retval_json(struct ut_sbuf *b, const struct ut_proto *p, const struct ut_event *ev);
/* Text: "n=3, s=0x7ffd..." of an entry; "7" of an exit (false: nothing to show). */
void ut_args_text(struct ut_sbuf *b, const struct ut_proto *p, const struct ut_event *ev);
bool ut_retval_text(struct ut_sbuf *b, const struct ut_proto *p, const struct ut_event *ev);

#endif
