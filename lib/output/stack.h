/* SPDX-License-Identifier: MIT */
/* An entry's stack trace (--stack), as the views show it (stack.c). */
#ifndef UTRACE_STACK_H
#define UTRACE_STACK_H

#include <stdbool.h>

#include "args.h"
#include "consumer.h"
#include "items.h"

/* The frames item of an entry, when it has one. */
bool ut_stack_of(const struct ut_event *ev, struct ut_item_view *it);
/* JSON: `,"stack":[{"func":..,"module":..,"addr":"0x..","offset":N},...]`, innermost first. */
void ut_stack_json(struct ut_sbuf *b, const struct ut_item_view *it);
/* Text: "func+0xOFF (module) 0xADDR" of one frame. */
void ut_stack_frame_text(struct ut_sbuf *b, const struct ut_frame *f);

#endif
