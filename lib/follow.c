// SPDX-License-Identifier: MIT
/*
 * Following a traced process into the programs it executes (--follow-exec),
 * and the output that all of its images share.
 *
 * An exec replaces the whole image: the threads but the exec'ing one (which
 * the kernel gives the leader's tid), the patched text, our code areas and
 * the tracee's mapping of the data area are gone.  Our own mapping of the
 * memfd survives it, so the rings are drained at the exec event, then every
 * per-image piece of the session is dropped and the new program is treated
 * as `run` treats the first one: an int3 at its AT_ENTRY, where ld.so has
 * loaded its libraries, and the probes installed there with the same
 * patterns.
 *
 * Function ids are per image (they index the image's data area), so the
 * output's table is the concatenation of every image's functions (and of
 * the libraries each one dlopened) and each image's events are mapped by its
 * gid on their way to the writer: the names and the per-function losses stay
 * right across execs.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"
#include "tracer.h"
#include "utrace/log.h"

struct ut_output *ut_output_new(enum ut_format fmt, FILE *out)
{
	struct ut_output *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->writer = utrace_writer_new(fmt, out, NULL, 0);
	if (!o->writer) {
		free(o);
		return NULL;
	}
	return o;
}

static void func_clear(struct ut_func_info *f)
{
	free((char *)f->name);
	free((char *)f->mangled);
	free((char *)f->module);
}

/* The output's own copy of a probe's names: they outlive the image. */
static int func_set(struct ut_func_info *f, const struct ut_probe *p)
{
	*f = (struct ut_func_info){ .name = strdup(p->name),
				    .mangled = p->mangled ? strdup(p->mangled) : NULL,
				    .module = strdup(p->module),
				    .addr = p->func_addr };
	if (f->name && f->module && (f->mangled || !p->mangled))
		return 0;
	func_clear(f);
	return -ENOMEM;
}

static void funcs_free(struct ut_func_info *f, size_t n)
{
	for (size_t i = 0; i < n; i++)
		func_clear(&f[i]);
	free(f);
}

void ut_stats_free(struct ut_stats *st)
{
	free(st->threads);
	free(st->func_drops);
	free(st->func_notls);
	memset(st, 0, sizeof(*st));
}

void ut_output_free(struct ut_output *o)
{
	if (!o)
		return;
	utrace_writer_free(o->writer);
	funcs_free(o->funcs, o->nfuncs);
	ut_stats_free(&o->past);
	free(o);
}

static int funcs_reserve(struct ut_output *o, size_t more)
{
	struct ut_func_info *v;
	size_t cap = o->cap_funcs ? o->cap_funcs : 64;

	while (cap < o->nfuncs + more)
		cap *= 2;
	if (cap == o->cap_funcs)
		return 0;
	v = realloc(o->funcs, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	o->funcs = v;
	o->cap_funcs = cap;
	return 0;
}

int ut_output_add_funcs(struct ut_session *s, size_t first)
{
	struct ut_output *o = s->output;
	size_t n = s->nprobes - first;
	uint32_t *gid = realloc(s->gid, (s->nprobes ? s->nprobes : 1) * sizeof(*gid));
	int e;

	if (!gid)
		return -ENOMEM;
	s->gid = gid;
	e = funcs_reserve(o, n);
	if (e < 0)
		return e;
	for (size_t i = 0; i < n; i++) {
		if (func_set(&o->funcs[o->nfuncs + i], &s->probes[first + i]) < 0) {
			while (i--)
				func_clear(&o->funcs[o->nfuncs + i]);
			return -ENOMEM;
		}
		gid[first + i] = (uint32_t)(o->nfuncs + i);
	}
	s->ngid = s->nprobes;
	o->nfuncs += n;
	return utrace_writer_set_funcs(o->writer, o->funcs, o->nfuncs);
}

int ut_output_event(const struct ut_event *ev, void *session)
{
	struct ut_session *s = session;
	struct ut_event shifted;

	shifted = *ev;
	/* an id the image never had (a corrupt record) stays unknown to the writer */
	shifted.func = ev->func < s->ngid ? s->gid[ev->func] : UINT32_MAX;
	return utrace_writer_event(s->writer, &shifted);
}

/* Where st's function `i` is counted in acc: gid[i], or i itself without a map. */
static size_t stats_func(const uint32_t *gid, size_t i)
{
	return gid ? gid[i] : i;
}

/* Grow the counters *v from n to nf entries, the new ones 0. */
static int grow_zeroed(uint64_t **v, size_t n, size_t nf)
{
	uint64_t *d = realloc(*v, nf * sizeof(*d));

	if (!d)
		return -ENOMEM;
	memset(d + n, 0, (nf - n) * sizeof(*d));
	*v = d;
	return 0;
}

/*
 * acc += st, st's function ids mapped by gid[ngid] (NULL: the same ids);
 * drops of ids outside the map stay in the totals only.
 */
static int stats_add(struct ut_stats *acc, const struct ut_stats *st, const uint32_t *gid,
		     size_t ngid, size_t nf)
{

	acc->events += st->events;
	acc->drops += st->drops;
	acc->torn += st->torn;
	acc->invalid += st->invalid;
	acc->rs_overflow += st->rs_overflow;
	acc->waits += st->waits;
	acc->wait_ns += st->wait_ns;
	acc->no_slot += st->no_slot;
	acc->notls += st->notls;
	acc->lost_return += st->lost_return;
	if (st->nthreads) {
		struct ut_thread_drops *t =
			realloc(acc->threads, (acc->nthreads + st->nthreads) * sizeof(*t));

		if (!t)
			return -ENOMEM;
		memcpy(t + acc->nthreads, st->threads, st->nthreads * sizeof(*t));
		acc->threads = t;
		acc->nthreads += st->nthreads;
	}
	if (nf > acc->nfuncs) {
		if (grow_zeroed(&acc->func_drops, acc->nfuncs, nf) < 0 ||
		    grow_zeroed(&acc->func_notls, acc->nfuncs, nf) < 0)
			return -ENOMEM;
		acc->nfuncs = nf;
	}
	for (size_t i = 0; i < st->nfuncs && (!gid || i < ngid); i++) {
		acc->func_drops[stats_func(gid, i)] += st->func_drops[i];
		acc->func_notls[stats_func(gid, i)] += st->func_notls[i];
	}
	return 0;
}

int ut_output_stats(struct ut_session *s, struct ut_stats *st)
{
	struct ut_stats cur = { 0 };
	int e;

	memset(st, 0, sizeof(*st));
	/* the writer names func_drops[i] by the output's table: one entry each */
	e = stats_add(st, &s->output->past, NULL, 0, s->output->nfuncs);
	if (e == 0 && s->consumer) {
		utrace_consumer_stats(s->consumer, &cur);
		e = stats_add(st, &cur, s->gid, s->ngid, s->output->nfuncs);
	}
	return e;
}

/*
 * Everything of the present image: its events (every slot closed, so calls
 * left open get their unwind events), its losses, its data area and probes.
 */
void ut_session_retire(struct ut_session *s)
{
	struct ut_stats st = { 0 };

	ut_drain(s);
	for (size_t i = 0; i < s->nthreads; i++)
		if (s->threads[i].slot != UT_NO_SLOT)
			ut_slot_free(s, &s->threads[i], UT_SLOT_END_GONE);
	if (s->consumer) {
		utrace_consumer_stats(s->consumer, &st);
		if (stats_add(&s->output->past, &st, s->gid, s->ngid, s->output->nfuncs) < 0)
			ut_warn("out of memory: the losses of process %d's last program are not counted",
				s->pid);
		utrace_consumer_free(s->consumer);
		s->consumer = NULL;
	}
	ut_release_data(s);
	ut_probes_free(s);
	ut_rtld_free(s); /* the exec took our int3 with the old image */
	s->no_returns = NULL;
	s->area_addr = 0;
	s->geo = (struct ut_geometry){ 0 }; /* the next image's is made for it */
	s->injected = false;
	free(s->gid);
	s->gid = NULL;
	s->ngid = 0;
}

/*
 * Only the exec'ing thread is left of the process, under the leader's tid;
 * the others' exits may still be reported (unknown tids are adopted and
 * reaped).  Tasks of other processes stay.
 */
static void keep_only(struct ut_session *s, pid_t tid)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nthreads; i++) {
		struct ut_thread *t = &s->threads[i];

		if (t->pid == s->pid && t->tid != tid)
			continue;
		s->threads[n++] = *t;
	}
	s->nthreads = n;
}

const char *ut_exe_name(pid_t pid, char *buf, size_t len)
{
	return ut_proc_exe(pid, buf, len) == 0 && buf[0] ? buf : "a new program";
}

bool ut_runs_x86_64(pid_t pid)
{
	char path[64];
	Elf64_Ehdr eh;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, &eh, sizeof(eh));
	close(fd);
	return n == (ssize_t)sizeof(eh) && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
	       eh.e_machine == EM_X86_64;
}

int ut_exec_follow(struct ut_session *s, struct ut_thread *t)
{
	char exe[PATH_MAX];
	pid_t tid = t->tid;

	ut_session_retire(s);
	keep_only(s, tid);
	t = ut_thread_find(s, tid);
	if (!t)
		return -ESRCH;
	t->pid = s->pid;
	s->mm_pid = s->pid; /* the exec'ing thread took the leader's tid: a zombie no more */
	t->exiting = t->in_vfork = t->group_stop = t->interrupted = false;
	t->state = UT_THREAD_STOPPED;
	s->images++;
	ut_info("process %d executed %s: following it", s->pid,
		ut_exe_name(s->pid, exe, sizeof(exe)));
	return ut_set_entry_breakpoint(s, tid);
}

int ut_install_nothing(struct ut_session *s, int err)
{
	const char *why = utrace_error_last();
	char exe[PATH_MAX];

	ut_warn("process %d executed %s: %s; following it untraced", s->pid,
		ut_exe_name(s->pid, exe, sizeof(exe)), why ? why : strerror(-err));
	utrace_error_clear();
	ut_session_retire(s);
	return 0;
}
