// SPDX-License-Identifier: MIT
/*
 * The metadata of a trace directory: info (key, value), funcs (one line a
 * function, ids in order), tasks (pid, tid, name) and stats (the losses,
 * present once the trace is complete).  Lines of tab-separated escaped
 * fields (trace-text.h); an unknown key of info or stats is skipped, so
 * that a later utrace may add some, and anything else malformed is an error
 * naming the file and line.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trace-format.h"
#include "trace-meta.h"
#include "trace-text.h"
#include "log.h"

static int info_line(struct tm_trace *m, struct tt_lines *l, bool *versioned)
{
	struct ut_trace_meta *mi = &m->meta;
	const char *k = l->fv[0];
	unsigned long long v = 0;
	char **str = NULL;

	if (l->nf != 2)
		return tt_lines_bad(l, "not a key and a value");
	if (!strcmp(k, "utrace_version"))
		str = &mi->utrace_version;
	else if (!strcmp(k, "cmdline"))
		str = &mi->cmdline;
	else if (!strcmp(k, "probe_mode"))
		str = &mi->probe_mode;
	else if (!strcmp(k, "tsc_ns_per_tick"))
		mi->ns_per_tick = strtod(l->fv[1], NULL);
	if (str) {
		free(*str);
		*str = strdup(l->fv[1]);
		return *str ? 0 : -ENOMEM;
	}
	if (!strcmp(k, "clock") || !strcmp(k, "tsc_ns_per_tick"))
		return 0;
	if (!tt_num(l, 1, &v))
		return strcmp(k, "trace_version") ? 0 : tt_lines_bad(l, "a bad trace_version");
	if (!strcmp(k, "trace_version")) {
		if (v < UT_TRACE_VERSION_MIN || v > UT_TRACE_VERSION) {
			ut_error(
				"%s: trace format version %llu; this utrace reads versions %d to %d",
				l->dir, v, UT_TRACE_VERSION_MIN, UT_TRACE_VERSION);
			return -EINVAL;
		}
		*versioned = true;
	} else if (!strcmp(k, "pid"))
		mi->pid = (pid_t)v;
	else if (!strcmp(k, "start_realtime_ns"))
		mi->start_realtime_ns = v;
	else if (!strcmp(k, "start_monotonic_ns"))
		mi->start_monotonic_ns = v;
	else if (!strcmp(k, "tsc0"))
		mi->tsc0 = v;
	else if (!strcmp(k, "tsc_ns0"))
		mi->ns0 = v;
	else if (!strcmp(k, "args"))
		mi->args = v != 0;
	else if (!strcmp(k, "retval"))
		mi->retval = v != 0;
	return 0;
}

static int read_info(struct tm_trace *m, int dirfd, const char *dir)
{
	struct tt_lines l;
	bool versioned = false;
	int e = tt_lines_open(&l, dirfd, dir, TF_INFO, true);

	while (e == 0 && (e = tt_lines_next(&l)) > 0)
		e = info_line(m, &l, &versioned);
	if (e == -EINVAL && !utrace_error_last())
		e = tt_lines_bad(&l, "a malformed line");
	if (e == 0 && !versioned)
		e = tt_lines_bad(&l, "no trace_version");
	tt_lines_close(&l);
	return e;
}

static char *dup_or_null(const char *s)
{
	return *s ? strdup(s) : NULL;
}

static int func_line(struct tm_trace *m, struct tt_lines *l, size_t *cap)
{
	struct ut_trace_func *f;
	unsigned long long id, addr;

	/* the prototype (9th) and source line (10th) came later: a line may end before */
	if (l->nf < 8 || l->nf > 10 || !tt_num(l, 0, &id) || !tt_num(l, 1, &addr) || !*l->fv[6])
		return tt_lines_bad(l, "not a function");
	if (id != m->nfuncs)
		return tt_lines_bad(l, "function ids out of order");
	if (m->nfuncs == *cap) {
		size_t c = *cap ? 2 * *cap : 256;
		void *v = realloc(m->funcs, c * sizeof(*m->funcs));

		if (!v)
			return -ENOMEM;
		m->funcs = v;
		*cap = c;
	}
	f = &m->funcs[m->nfuncs++];
	*f = (struct ut_trace_func){ .info = { .name = strdup(l->fv[6]),
					       .module = strdup(l->fv[3]),
					       .addr = addr,
					       .mangled = dup_or_null(l->fv[7]),
					       .proto = l->nf > 8 ? dup_or_null(l->fv[8]) : NULL,
					       .srcline =
						       l->nf > 9 ? dup_or_null(l->fv[9]) : NULL },
				     .probe = strdup(l->fv[2]),
				     .path = strdup(l->fv[4]),
				     .build_id = strdup(l->fv[5]) };
	if (!f->info.name || !f->info.module || !f->probe || !f->path || !f->build_id ||
	    (*l->fv[7] && !f->info.mangled) || (l->nf > 8 && *l->fv[8] && !f->info.proto) ||
	    (l->nf > 9 && *l->fv[9] && !f->info.srcline))
		return -ENOMEM;
	return 0;
}

static int task_line(struct tm_trace *m, struct tt_lines *l, size_t *cap)
{
	unsigned long long pid, tid;

	if (l->nf != 3 || !tt_num(l, 0, &pid) || !tt_num(l, 1, &tid) || !pid || !tid ||
	    pid > INT32_MAX || tid > INT32_MAX)
		return tt_lines_bad(l, "not a thread");
	if (m->ntasks == *cap) {
		size_t c = *cap ? 2 * *cap : 64;
		void *v = realloc(m->tasks, c * sizeof(*m->tasks));

		if (!v)
			return -ENOMEM;
		m->tasks = v;
		*cap = c;
	}
	m->tasks[m->ntasks] = (struct ut_trace_task){ .pid = (pid_t)pid,
						      .tid = (pid_t)tid,
						      .comm = strdup(l->fv[2]) };
	return m->tasks[m->ntasks++].comm ? 0 : -ENOMEM;
}

/* Every line of a file through fn. */
static int read_lines(struct tm_trace *m, int dirfd, const char *dir, const char *file,
		      int (*fn)(struct tm_trace *, struct tt_lines *, size_t *))
{
	struct tt_lines l;
	size_t cap = 0;
	int e = tt_lines_open(&l, dirfd, dir, file, true);

	while (e == 0 && (e = tt_lines_next(&l)) > 0)
		e = fn(m, &l, &cap);
	if (e == -EINVAL && !utrace_error_last())
		e = tt_lines_bad(&l, "a malformed line");
	tt_lines_close(&l);
	return e;
}

int tm_read(struct tm_trace *m, int dirfd, const char *dir)
{
	int e;

	memset(m, 0, sizeof(*m));
	utrace_error_clear();
	e = read_info(m, dirfd, dir);
	if (e == 0)
		e = read_lines(m, dirfd, dir, TF_FUNCS, func_line);
	if (e == 0)
		e = read_lines(m, dirfd, dir, TF_TASKS, task_line);
	if (e == 0)
		e = tm_read_stats(m, dirfd, dir);
	if (e == 0) {
		m->infos = calloc(m->nfuncs ? m->nfuncs : 1, sizeof(*m->infos));
		e = m->infos ? 0 : -ENOMEM;
		for (size_t i = 0; e == 0 && i < m->nfuncs; i++)
			m->infos[i] = m->funcs[i].info;
	}
	if (e == -ENOMEM)
		ut_error("%s: out of memory reading the trace", dir);
	if (e < 0)
		tm_free(m);
	return e;
}

void tm_free(struct tm_trace *m)
{
	struct ut_trace_meta *mi = &m->meta;

	free(mi->utrace_version);
	free(mi->cmdline);
	free(mi->probe_mode);
	for (size_t i = 0; i < m->nfuncs; i++) {
		free((char *)m->funcs[i].info.name);
		free((char *)m->funcs[i].info.module);
		free((char *)m->funcs[i].info.mangled);
		free((char *)m->funcs[i].info.proto);
		free((char *)m->funcs[i].info.srcline);
		free((char *)m->funcs[i].probe);
		free((char *)m->funcs[i].path);
		free((char *)m->funcs[i].build_id);
	}
	free(m->funcs);
	free(m->infos);
	for (size_t i = 0; i < m->ntasks; i++)
		free(m->tasks[i].comm);
	free(m->tasks);
	tm_free_stats(m);
	memset(m, 0, sizeof(*m));
}
