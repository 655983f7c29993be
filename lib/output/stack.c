// SPDX-License-Identifier: MIT
/*
 * An entry's stack trace (--stack), from the frames item the tracer wrote
 * in the trace (items.h): JSON's "stack" array and the text view's block.
 * The names come from a trace file: escaped, never trusted.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "args.h"
#include "items.h"
#include "output-internal.h"
#include "stack.h"

bool ut_stack_of(const struct ut_event *ev, struct ut_item_view *it)
{
	return ev->kind == UT_REC_ENTRY &&
	       ut_item_find(ev->data, ev->data_len, UT_ITEM_FRAMES, -1, it);
}

static void json_name(struct ut_sbuf *b, const char *s, size_t n)
{
	char small[256];

	if (!n) {
		ut_sbuf_put(b, "null", 4);
		return;
	}
	n = n < (sizeof(small) - 3) / 6 ? n : (sizeof(small) - 3) / 6;
	ut_sbuf_put(b, small, utrace_json_escape(small, sizeof(small), s, n));
}

void ut_stack_json(struct ut_sbuf *b, const struct ut_item_view *it)
{
	struct ut_frame f;
	size_t off = 0;
	char num[64];
	bool first = true;

	ut_sbuf_put(b, ",\"stack\":[", 10);
	while (ut_frame_next(it, &off, &f)) {
		ut_sbuf_put(b, first ? "{\"func\":" : ",{\"func\":", first ? 8 : 9);
		json_name(b, f.func, f.func_len);
		ut_sbuf_put(b, ",\"module\":", 10);
		json_name(b, f.module, f.module_len);
		snprintf(num, sizeof(num), ",\"addr\":\"0x%" PRIx64 "\",\"offset\":%" PRIu64 "}",
			 f.addr, f.offset);
		ut_sbuf_put(b, num, strlen(num));
		first = false;
	}
	ut_sbuf_put(b, "]", 1);
}

/* "name" as the text view shows a name from the trace: visible bytes only. */
static void text_name(struct ut_sbuf *b, const char *s, size_t n, const char *none)
{
	if (!n) {
		ut_sbuf_put(b, none, strlen(none));
		return;
	}
	for (size_t i = 0; i < n; i++) {
		char c = ut_visible((unsigned char)s[i]);

		ut_sbuf_put(b, &c, 1);
	}
}

void ut_stack_frame_text(struct ut_sbuf *b, const struct ut_frame *f)
{
	char num[48];

	text_name(b, f->func, f->func_len, "??");
	snprintf(num, sizeof(num), "+0x%" PRIx64 " (", f->offset);
	ut_sbuf_put(b, num, strlen(num));
	text_name(b, f->module, f->module_len, "?");
	snprintf(num, sizeof(num), ") 0x%" PRIx64, f->addr);
	ut_sbuf_put(b, num, strlen(num));
}
