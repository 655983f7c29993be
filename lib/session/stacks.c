// SPDX-License-Identifier: MIT
/*
 * Stack traces (--stack): an entry's stack copy (a UT_ITEM_STACK item, the
 * registers and the top of the stack the recorder copied at the function's
 * entry) is unwound here, in the tracer, as the rings are drained, with
 * libunwind over the copied bytes (lib/elf/unwind.c), and replaced in the
 * trace by the frames it gave, symbolized while the process's mappings are
 * known: the trace stays small and its readers need no unwinder.
 *
 * The recorder already wrote each hijacked return address of the copy back
 * as the caller's (recorder-data.h); a frame that still lands in one of
 * utrace's code areas (its shadow entry was gone) ends the trace there, so
 * that no trampoline ever shows.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "items.h"
#include "tracer.h"
#include "unwind.h"

#define STACK_FRAMES_MAX 64 /* frames unwound at most (an item holds UT_FRAMES_MAX) */
#define FRAME_NAME_MAX 1024 /* bytes of a function's or module's name kept */

/* Room for n more bytes of the rewritten items. */
static int out_room(struct ut_stacks *st, size_t n)
{
	size_t cap = st->cap ? st->cap : 4096;
	unsigned char *p;

	if (st->len + n <= st->cap)
		return 0;
	while (cap < st->len + n)
		cap *= 2;
	p = realloc(st->buf, cap);
	if (!p)
		return -ENOMEM;
	st->buf = p;
	st->cap = cap;
	return 0;
}

static void out_put(struct ut_stacks *st, const void *p, size_t n)
{
	if (!n)
		return; /* p may be NULL: a frame without a name */
	memcpy(st->buf + st->len, p, n);
	st->len += n;
}

static void out_pad(struct ut_stacks *st)
{
	static const unsigned char zero[8];

	out_put(st, zero, (8 - st->len % 8) % 8);
}

/* Whether pc is in one of utrace's code areas: a trampoline, never a caller. */
static bool in_our_code(const struct ut_session *s, uint64_t pc)
{
	for (size_t i = 0; i < s->pr.nareas; i++)
		if (pc >= s->pr.areas[i].addr && pc - s->pr.areas[i].addr < s->pr.areas[i].size)
			return true;
	return false;
}

static size_t name_len(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n < FRAME_NAME_MAX ? n : FRAME_NAME_MAX;
}

static int put_frame(struct ut_stacks *st, uint64_t pc, bool is_return)
{
	const char *func = NULL, *module = NULL;
	uint64_t offset = 0;
	struct ut_frame_hdr h;

	ut_unwinder_symbolize(st->unwinder, pc, is_return, &func, &module, &offset);
	h = (struct ut_frame_hdr){ pc, offset > UINT32_MAX ? UINT32_MAX : (uint32_t)offset,
				   (uint16_t)name_len(func), (uint16_t)name_len(module) };
	if (out_room(st, sizeof(h) + h.func_len + h.module_len + 8) < 0)
		return -ENOMEM;
	out_put(st, &h, sizeof(h));
	out_put(st, func, h.func_len);
	out_put(st, module, h.module_len);
	out_pad(st);
	return 0;
}

/* A stack item's frames, as a UT_ITEM_FRAMES item. */
static int put_frames(struct ut_session *s, struct ut_stacks *st, const struct ut_item_view *it)
{
	struct ut_unwind_regs regs;
	uint64_t pcs[STACK_FRAMES_MAX];
	struct ut_item h = { UT_ITEM_FRAMES, 0, 0, 0 };
	size_t at = st->len;
	int n;

	/* asked once, not at every event: /proc is read each time */
	if (!st->unwinder && !st->no_unwinder)
		st->no_unwinder = ut_unwinder_new(&st->unwinder, s->proc.pid) < 0;
	if (!st->unwinder)
		return 0; /* no frames: the process was gone already */
	memcpy(&regs, it->bytes, sizeof(regs));
	n = ut_unwind(st->unwinder, &regs, it->bytes + sizeof(regs), it->len - sizeof(regs), pcs,
		      STACK_FRAMES_MAX);
	if (out_room(st, sizeof(h)) < 0)
		return -ENOMEM;
	out_put(st, &h, sizeof(h));
	for (int k = 0; k < n && !in_our_code(s, pcs[k]); k++, h.arg++)
		if (put_frame(st, pcs[k], k > 0) < 0)
			return -ENOMEM;
	h.len = (uint32_t)(st->len - at - sizeof(h));
	memcpy(st->buf + at, &h, sizeof(h));
	return 0;
}

int ut_stacks_rewrite(struct ut_session *s, struct ut_stacks *st, struct ut_event *ev)
{
	struct ut_item_view it;
	size_t off = 0;
	int e = 0;

	if (!ut_item_find(ev->data, ev->data_len, UT_ITEM_STACK, -1, &it))
		return 0;
	st->len = 0;
	while (e == 0 && ut_item_next(ev->data, ev->data_len, &off, &it)) {
		if (it.type == UT_ITEM_STACK) {
			e = put_frames(s, st, &it);
			continue;
		}
		e = out_room(st, ut_item_size(it.len));
		if (e == 0)
			out_put(st, it.bytes - sizeof(struct ut_item), ut_item_size(it.len));
	}
	ev->data = st->buf;
	ev->data_len = (uint32_t)st->len;
	return e;
}

void ut_stacks_free(struct ut_stacks *st)
{
	ut_unwinder_free(st->unwinder);
	free(st->buf);
	memset(st, 0, sizeof(*st));
}
