// SPDX-License-Identifier: MIT
/* Events kept past the next one, with their items (output-internal.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "output-internal.h"

int ut_event_keep(struct ut_kept *k, const struct ut_event *ev)
{
	k->ev = *ev;
	if (!ev->data_len) {
		k->ev.data = NULL;
		return 0;
	}
	if (ev->data_len > k->cap) {
		unsigned char *p = realloc(k->data, ev->data_len);

		if (!p) {
			k->ev.data = NULL;
			k->ev.data_len = 0;
			return -ENOMEM;
		}
		k->data = p;
		k->cap = ev->data_len;
	}
	memcpy(k->data, ev->data, ev->data_len);
	k->ev.data = k->data;
	return 0;
}

void ut_kept_free(struct ut_kept *k)
{
	free(k->data);
	memset(k, 0, sizeof(*k));
}
