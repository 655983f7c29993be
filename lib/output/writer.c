// SPDX-License-Identifier: MIT
/* The writer front end: one writer of the format asked for, its calls dispatched. */
#include <errno.h>
#include <stdlib.h>

#include "output-internal.h"

struct writer_ops {
	int (*init)(struct ut_writer *w);
	int (*event)(struct ut_writer *w, const struct ut_event *ev);
	int (*finish)(struct ut_writer *w, const struct ut_stats *st);
	void (*free)(struct ut_writer *w);
};

static const struct writer_ops writer_ops[UT_FORMAT_COUNT] = {
	[UT_FORMAT_TEXT] = { ut_text_init, ut_text_event, ut_text_finish, ut_text_free },
	[UT_FORMAT_JSON] = { ut_json_init, ut_json_event, ut_json_finish, ut_json_free },
	[UT_FORMAT_SUMMARY] = { ut_summary_init, ut_summary_event, ut_summary_finish,
				ut_summary_free },
};

struct ut_writer *utrace_writer_new(enum ut_format fmt, FILE *out, const struct ut_func_info *funcs,
				    size_t nfuncs)
{
	struct ut_writer *w;
	int ret;

	if (!out || (unsigned int)fmt >= UT_FORMAT_COUNT)
		return NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	w->fmt = fmt;
	w->out = out;
	if (utrace_writer_set_funcs(w, funcs, nfuncs) < 0)
		goto err_free;
	ret = writer_ops[fmt].init(w);
	if (ret < 0)
		goto err_free;
	return w;

err_free:
	ut_writer_funcs_free(w);
	free(w);
	return NULL;
}

int utrace_writer_event(struct ut_writer *w, const struct ut_event *ev)
{
	if (ev->kind < UT_REC_ENTRY || ev->kind > UT_REC_EVENT_MAX)
		return -EINVAL;
	return writer_ops[w->fmt].event(w, ev);
}

int utrace_writer_finish(struct ut_writer *w, const struct ut_stats *st)
{
	static const struct ut_stats clean;
	int ret;

	if (!st)
		st = &clean;
	ret = writer_ops[w->fmt].finish(w, st);
	if (ret < 0)
		return ret;
	if (fflush(w->out))
		return -EIO;
	return ut_writer_status(w);
}

void utrace_writer_free(struct ut_writer *w)
{
	if (!w)
		return;
	writer_ops[w->fmt].free(w);
	ut_writer_funcs_free(w);
	free(w);
}
