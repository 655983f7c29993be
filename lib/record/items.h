/* SPDX-License-Identifier: MIT */
/*
 * The items an event carries beyond its words (include/utrace/shm.h, "data
 * records"): strings, vector registers, stack arguments, a stack copy, and
 * in a trace the frames the tracer unwound from it.  The bytes come from
 * the traced program or from a trace file: untrusted, checked here once
 * (ut_items_check), then walked by whoever shows them.
 */
#ifndef UTRACE_ITEMS_H
#define UTRACE_ITEMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "utrace/shm.h"

#define UT_STR_MAX 4096 /* bytes of a string an entry may carry (--string-size) */
#define UT_STACK_COPY_MAX (64 * 1024) /* bytes of stack an entry may carry (--stack-size) */
#define UT_FRAMES_MAX 255 /* frames a stack may have: its item's arg */
#define UT_ITEMS_MAX (8 * 1024 * 1024) /* bytes of items an event may carry */

struct ut_item_view {
	unsigned int type, arg, status;
	uint32_t len;
	const unsigned char *bytes;
};

/*
 * The length of the longest prefix of data[0, len) made of whole valid
 * items, without the end item: what may be kept.  frames: whether
 * UT_ITEM_FRAMES may appear (a trace's events), else UT_ITEM_STACK may (a
 * ring's).
 */
size_t ut_items_check(const unsigned char *data, size_t len, bool frames);
/* The item at *off of checked data (advanced past it); false at the end. */
bool ut_item_next(const unsigned char *data, size_t len, size_t *off, struct ut_item_view *it);
/* The first item of a type (and arg, for strings; any arg when arg < 0). */
bool ut_item_find(const unsigned char *data, size_t len, unsigned int type, int arg,
		  struct ut_item_view *it);

/* One frame of a UT_ITEM_FRAMES item: its header, then func and module bytes, padded to 8. */
struct ut_frame_hdr {
	uint64_t addr;
	uint32_t offset; /* from the function's start (or the module's, without a function) */
	uint16_t func_len, module_len;
};

struct ut_frame {
	uint64_t addr, offset;
	const char *func, *module; /* not NUL-terminated: their lengths */
	size_t func_len, module_len;
};

/* The frame at *off of a frames item's bytes (advanced past it); false at the end or a bad one. */
bool ut_frame_next(const struct ut_item_view *it, size_t *off, struct ut_frame *f);

#endif
