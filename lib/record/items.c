// SPDX-License-Identifier: MIT
/*
 * Checking and walking the items an event carries (items.h).  Every length
 * is checked against what is left before it is used: the bytes come from a
 * traced program's shared memory or from a trace file.
 */
#include <string.h>

#include "items.h"

static bool item_header(const unsigned char *data, size_t len, size_t off, struct ut_item_view *it)
{
	struct ut_item h;

	if (len - off < sizeof(h))
		return false;
	memcpy(&h, data + off, sizeof(h));
	*it = (struct ut_item_view){ h.type, h.arg, h.status, h.len, data + off + sizeof(h) };
	return h.type != UT_ITEM_END && h.len <= UT_ITEMS_MAX &&
	       len - off - sizeof(h) >= ((h.len + 7ULL) & ~7ULL);
}

static bool item_is_valid(const struct ut_item_view *it, bool frames)
{
	switch (it->type) {
	case UT_ITEM_STR:
		return it->arg < UT_REC_WORDS && it->len <= UT_STR_MAX &&
		       !(it->status & ~(unsigned)(UT_STR_CUT | UT_STR_FAULT | UT_STR_REFUSED));
	case UT_ITEM_XMM:
		return it->arg <= 8 && it->len == 8 * it->arg && !it->status;
	case UT_ITEM_STKARGS:
		return it->len <= UT_STKARGS_MAX && !(it->len & 7) && !it->status;
	case UT_ITEM_STACK:
		return !frames && it->len >= sizeof(struct ut_stack_regs) &&
		       it->len <= sizeof(struct ut_stack_regs) + UT_STACK_COPY_MAX &&
		       !(it->len & 7);
	case UT_ITEM_FRAMES:
		return frames && it->arg <= UT_FRAMES_MAX;
	default:
		return false;
	}
}

size_t ut_items_check(const unsigned char *data, size_t len, bool frames)
{
	struct ut_item_view it;
	size_t off = 0;

	while (item_header(data, len, off, &it) && item_is_valid(&it, frames))
		off += ut_item_size(it.len);
	return off;
}

bool ut_item_next(const unsigned char *data, size_t len, size_t *off, struct ut_item_view *it)
{
	if (!item_header(data, len, *off, it))
		return false;
	*off += ut_item_size(it->len);
	return true;
}

bool ut_item_find(const unsigned char *data, size_t len, unsigned int type, int arg,
		  struct ut_item_view *it)
{
	size_t off = 0;

	while (ut_item_next(data, len, &off, it))
		if (it->type == type && (arg < 0 || it->arg == (unsigned)arg))
			return true;
	return false;
}

bool ut_frame_next(const struct ut_item_view *it, size_t *off, struct ut_frame *f)
{
	struct ut_frame_hdr h;
	size_t left = it->len - *off, need;

	if (*off >= it->len || left < sizeof(h))
		return false;
	memcpy(&h, it->bytes + *off, sizeof(h));
	need = (sizeof(h) + h.func_len + h.module_len + 7) & ~(size_t)7;
	if (need > left)
		return false;
	*f = (struct ut_frame){ h.addr,
				h.offset,
				(const char *)it->bytes + *off + sizeof(h),
				(const char *)it->bytes + *off + sizeof(h) + h.func_len,
				h.func_len,
				h.module_len };
	*off += need;
	return true;
}
