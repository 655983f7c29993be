// SPDX-License-Identifier: MIT
/* What every writer reads of its own: the function table, and whether its stream failed. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output-internal.h"

const char *ut_writer_func_name(struct ut_writer *w, uint32_t func)
{
	if (func < w->nfuncs && w->funcs[func].name)
		return w->funcs[func].name;
	snprintf(w->fallback, sizeof(w->fallback), "func#%" PRIu32, func);
	return w->fallback;
}

const char *ut_writer_func_module(const struct ut_writer *w, uint32_t func)
{
	if (func < w->nfuncs && w->funcs[func].module)
		return w->funcs[func].module;
	return "";
}

uint64_t ut_writer_func_addr(const struct ut_writer *w, uint32_t func)
{
	return func < w->nfuncs ? w->funcs[func].addr : 0;
}

int ut_writer_status(const struct ut_writer *w)
{
	return ferror(w->out) ? -EIO : 0;
}

int utrace_writer_set_funcs(struct ut_writer *w, const struct ut_func_info *funcs, size_t nfuncs)
{
	struct ut_func_info *copy = NULL;

	if (nfuncs) {
		copy = calloc(nfuncs, sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		memcpy(copy, funcs, nfuncs * sizeof(*copy));
	}
	free(w->funcs);
	w->funcs = copy;
	w->nfuncs = nfuncs;
	return 0;
}
