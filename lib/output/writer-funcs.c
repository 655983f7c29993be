// SPDX-License-Identifier: MIT
/* What every writer reads of its own: the function table, and whether its stream failed. */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "args.h"
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

/* A prototype that failed to parse: remembered, so that it is not parsed again. */
static struct ut_proto bad_proto;

const struct ut_proto *ut_writer_proto(struct ut_writer *w, uint32_t func)
{
	struct ut_proto *p;

	if (func >= w->nfuncs || !w->funcs[func].proto || !*w->funcs[func].proto || !w->protos)
		return NULL;
	if (!w->protos[func]) {
		p = calloc(1, sizeof(*p));
		if (!p || ut_proto_parse(w->funcs[func].proto, p) < 0) {
			free(p);
			p = &bad_proto;
		}
		w->protos[func] = p;
	}
	return w->protos[func] == &bad_proto ? NULL : w->protos[func];
}

static void protos_free(struct ut_writer *w)
{
	for (size_t i = 0; w->protos && i < w->nfuncs; i++)
		if (w->protos[i] && w->protos[i] != &bad_proto) {
			ut_proto_free(w->protos[i]);
			free(w->protos[i]);
		}
	free(w->protos);
	w->protos = NULL;
}

void ut_writer_funcs_free(struct ut_writer *w)
{
	protos_free(w);
	free(w->funcs);
	w->funcs = NULL;
	w->nfuncs = 0;
}

int ut_writer_status(const struct ut_writer *w)
{
	return ferror(w->out) ? -EIO : 0;
}

int utrace_writer_set_funcs(struct ut_writer *w, const struct ut_func_info *funcs, size_t nfuncs)
{
	struct ut_func_info *copy = NULL;
	struct ut_proto **protos = NULL;

	if (nfuncs) {
		copy = calloc(nfuncs, sizeof(*copy));
		protos = calloc(nfuncs, sizeof(*protos));
		if (!copy || !protos) {
			free(copy);
			free(protos);
			return -ENOMEM;
		}
		memcpy(copy, funcs, nfuncs * sizeof(*copy));
	}
	ut_writer_funcs_free(w);
	w->funcs = copy;
	w->protos = protos;
	w->nfuncs = nfuncs;
	return 0;
}
