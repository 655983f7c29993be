// SPDX-License-Identifier: MIT
/*
 * Where a session's events go: the trace (lib/record), and for run and
 * attach the live view formatting it behind the tracer (lib/output).  The
 * ptrace loop only encodes events into the trace's buffer and writes it
 * out after each drain; it never formats, and never waits on the view.
 *
 * Function ids are per image (they index the image's data area), so the
 * trace's table is the concatenation of every image's functions (and of
 * the libraries each one dlopened, and of every followed process's) and
 * each image's events are mapped by its gid on their way to the trace:
 * the names and the per-function losses stay right across execs.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "procfs.h"
#include "tracer.h"
#include "live.h"
#include "log.h"

#define CMDLINE_MAX 4096

/* run and attach: the writer of their format, fed by a thread that reads the trace. */
static int live_new(struct ut_output *out, const struct ut_session_opts *o)
{
	int fd;

	out->writer = utrace_writer_new(o->format, o->out, NULL, 0);
	if (!out->writer)
		return -ENOMEM;
	fd = dup(ut_trace_writer_events_fd(out->trace));
	return fd < 0 ? -errno : ut_live_new(&out->live, fd, out->writer);
}

struct ut_output *ut_output_new(const struct ut_session_opts *o)
{
	struct ut_output *out = calloc(1, sizeof(*out));
	pthread_mutexattr_t ma;
	int e;

	if (!out)
		return NULL;
	pthread_mutexattr_init(&ma);
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&out->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	out->max_events = o->max_events;
	out->duration_ns = o->duration_ns;
	e = ut_trace_writer_new(&out->trace, o->trace_dir);
	if (e == 0 && o->live)
		e = live_new(out, o);
	if (e < 0) {
		ut_output_free(out);
		return NULL;
	}
	return out;
}

/* The command line of pid, its arguments separated by spaces. */
static char *read_cmdline(pid_t pid)
{
	char path[64], *buf = malloc(CMDLINE_MAX);
	ssize_t n;
	FILE *f;

	if (!buf)
		return NULL;
	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	f = fopen(path, "re");
	n = f ? (ssize_t)fread(buf, 1, CMDLINE_MAX - 1, f) : 0;
	if (f)
		fclose(f);
	while (n > 0 && !buf[n - 1])
		n--;
	for (ssize_t i = 0; i < n; i++)
		if (!buf[i])
			buf[i] = ' ';
	buf[n] = 0;
	return buf;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int ut_output_begin(struct ut_session *s)
{
	struct ut_trace_meta m;
	int e;

	if (s->output->begun)
		return 0; /* a program executed later: the trace is the first one's */
	s->output->begun = true;
	s->output->began_ns = utrace_monotonic_ns();
	m = (struct ut_trace_meta){
		.utrace_version = (char *)UTRACE_VERSION_STRING,
		.cmdline = read_cmdline(s->proc.mm_pid),
		.pid = s->proc.pid,
		.start_realtime_ns = realtime_ns(),
		.start_monotonic_ns = utrace_monotonic_ns(),
		.tsc0 = s->tsc.tsc0,
		.ns0 = s->tsc.ns0,
		.ns_per_tick = s->tsc.ns_per_tick,
		.args = s->opts.record_args,
		.retval = s->opts.record_retval,
		.probe_mode = s->opts.probe_mode == UT_PROBE_MODE_INT3 ? "int3" : "auto",
	};
	e = ut_trace_writer_info(s->output->trace, &m);
	free(m.cmdline);
	return e;
}

static void func_clear(struct ut_trace_func *f)
{
	free((char *)f->info.name);
	free((char *)f->info.mangled);
	free((char *)f->info.proto);
	free((char *)f->info.srcline);
	free((char *)f->info.module);
	free((char *)f->path);
	free((char *)f->build_id);
}

/* The output's own copy of a probe's names: they outlive the image. */
static int func_set(struct ut_trace_func *f, const struct ut_probe *p)
{
	*f = (struct ut_trace_func){
		.info = { .name = strdup(p->name),
			  .mangled = p->mangled ? strdup(p->mangled) : NULL,
			  .proto = p->proto ? strdup(p->proto) : NULL,
			  .srcline = p->srcline ? strdup(p->srcline) : NULL,
			  .module = strdup(p->module),
			  .addr = p->func_addr },
		.path = strdup(p->path ? p->path : ""),
		.build_id = strdup(p->build_id),
		.probe = utrace_probe_kind_name(p->kind),
	};
	if (f->info.name && f->info.module && (f->info.mangled || !p->mangled) &&
	    (f->info.proto || !p->proto) && (f->info.srcline || !p->srcline) && f->path &&
	    f->build_id)
		return 0;
	func_clear(f);
	return -ENOMEM;
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
	ut_live_free(o->live);
	utrace_writer_free(o->writer);
	ut_trace_writer_free(o->trace);
	for (size_t i = 0; i < o->nfuncs; i++)
		func_clear(&o->funcs[i]);
	free(o->funcs);
	free(o->infos);
	ut_stats_free(&o->past);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

static int funcs_reserve(struct ut_output *o, size_t more)
{
	struct ut_trace_func *v;
	struct ut_func_info *infos;
	size_t cap = o->cap_funcs ? o->cap_funcs : 64;

	while (cap < o->nfuncs + more)
		cap *= 2;
	if (cap == o->cap_funcs)
		return 0;
	v = realloc(o->funcs, cap * sizeof(*v));
	if (!v)
		return -ENOMEM;
	o->funcs = v;
	infos = realloc(o->infos, cap * sizeof(*infos));
	if (!infos)
		return -ENOMEM;
	o->infos = infos;
	o->cap_funcs = cap;
	return 0;
}

/* The new functions [first, nfuncs) to the trace and the live view. */
static int publish_funcs(struct ut_output *o, size_t first)
{
	int e = ut_trace_writer_funcs(o->trace, o->funcs + first, first, o->nfuncs - first);

	for (size_t i = first; i < o->nfuncs; i++)
		o->infos[i] = o->funcs[i].info;
	if (e == 0 && o->live)
		e = ut_live_funcs(o->live, o->infos, o->nfuncs);
	return e;
}

/* The table grown and s->gid mapped, under the lock: the drainer maps ids by gid. */
static int add_funcs(struct ut_session *s, size_t first, size_t base, size_t n)
{
	struct ut_output *o = s->output;
	uint32_t *gid = realloc(s->gid, (s->pr.nprobes ? s->pr.nprobes : 1) * sizeof(*gid));
	int e;

	if (!gid)
		return -ENOMEM;
	s->gid = gid;
	e = funcs_reserve(o, n);
	if (e < 0)
		return e;
	for (size_t i = 0; i < n; i++) {
		if (func_set(&o->funcs[base + i], &s->pr.probes[first + i]) < 0) {
			while (i--)
				func_clear(&o->funcs[base + i]);
			return -ENOMEM;
		}
		gid[first + i] = (uint32_t)(base + i);
	}
	s->ngid = s->pr.nprobes;
	if (s->consumer)
		utrace_consumer_funcs_used(s->consumer, (uint32_t)s->ngid);
	o->nfuncs += n;
	return 0;
}

int ut_output_add_funcs(struct ut_session *s, size_t first)
{
	struct ut_output *o = s->output;
	size_t n = s->pr.nprobes - first, base = o->nfuncs;
	int e;

	ut_lock(s);
	e = add_funcs(s, first, base, n);
	if (e == 0)
		e = publish_funcs(o, base);
	ut_unlock(s);
	return e;
}

void ut_lock(struct ut_session *s)
{
	pthread_mutex_lock(&s->output->lock);
}

void ut_unlock(struct ut_session *s)
{
	pthread_mutex_unlock(&s->output->lock);
}

/* Whether an event of time ts was made after --duration ran out. */
static bool past_duration(const struct ut_output *o, uint64_t ts)
{
	return o->duration_ns && o->began_ns && ts >= o->began_ns &&
	       ts - o->began_ns >= o->duration_ns;
}

int ut_output_event(const struct ut_event *ev, void *session)
{
	struct ut_session *s = session;
	struct ut_output *o = s->output;
	struct ut_event copy;
	int e;

	/*
	 * An id past the image's probes (a spare slot of the function table,
	 * written by a program that scribbles on its area) names no function:
	 * counted as invalid, kept out of the trace, whose readers trust ids.
	 */
	if (ev->func >= s->ngid) {
		o->past.invalid++;
		return 0;
	}
	/*
	 * Past --max-events, and for events made after --duration, the rings
	 * are still drained until detach, so that no thread waits for room,
	 * but nothing more is written: the calls open at the cut stay open, as
	 * a detach leaves them.  (Detach takes probes out one by one: an event
	 * made meanwhile may be an exit whose callee's entry was not seen.)
	 */
	if ((o->max_events && o->written >= o->max_events) || past_duration(o, ev->ts)) {
		o->cut++;
		return 0;
	}
	if (ev->data_len) { /* its stack copy, if any, becomes its frames */
		copy = *ev;
		e = ut_stacks_rewrite(s, &s->stacks, &copy);
		if (e < 0)
			return e;
		ev = &copy;
	}
	e = ut_trace_writer_event_as(o->trace, ev, s->gid[ev->func]);
	if (e == 0 && ++o->written == o->max_events)
		__atomic_store_n(&o->full, true, __ATOMIC_RELEASE);
	return e;
}

int ut_output_flush(struct ut_session *s)
{
	int e;

	if (!ut_trace_writer_pending(s->output->trace))
		return 0;
	e = ut_trace_writer_flush(s->output->trace);
	if (s->output->live)
		ut_live_kick(s->output->live);
	return e;
}

void ut_output_task(struct ut_session *s, pid_t pid, pid_t tid)
{
	char comm[64];

	if (ut_proc_comm(pid, tid, comm, sizeof(comm)) == 0)
		ut_trace_writer_task(s->output->trace, pid, tid, comm);
}

/* A time as --duration takes it, in its largest whole unit: "2s", "250ms". */
static void format_duration(char *buf, size_t len, uint64_t ns)
{
	static const struct {
		const char *suffix;
		uint64_t ns;
	} units[] = { { "s", NSEC_PER_SEC }, { "ms", NSEC_PER_MSEC }, { "us", NSEC_PER_USEC } };

	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
		if (ns % units[i].ns == 0) {
			snprintf(buf, len, "%" PRIu64 "%s", ns / units[i].ns, units[i].suffix);
			return;
		}
	snprintf(buf, len, "%" PRIu64 "ns", ns);
}

static bool duration_over(const struct ut_output *o)
{
	return o->duration_ns && o->began_ns &&
	       utrace_monotonic_ns() - o->began_ns >= o->duration_ns;
}

bool ut_output_limit_reached(struct ut_session *s)
{
	struct ut_output *o = s->output;
	char d[32];

	if (o->stopped[0])
		return true;
	if (__atomic_load_n(&o->full, __ATOMIC_ACQUIRE)) {
		snprintf(o->stopped, sizeof(o->stopped), "after %" PRIu64 " event%s (--max-events)",
			 o->max_events, o->max_events == 1 ? "" : "s");
	} else if (duration_over(o)) {
		format_duration(d, sizeof(d), o->duration_ns);
		snprintf(o->stopped, sizeof(o->stopped), "after %s (--duration)", d);
	}
	return o->stopped[0] != 0;
}

int ut_output_finish(struct ut_session *s, const struct ut_stats *st)
{
	struct ut_output *o = s->output;
	int e = ut_trace_writer_finish(o->trace, st), le;

	if (e < 0)
		ut_error("writing the trace: %s", strerror(-e));
	if (o->live) {
		le = ut_live_finish(o->live);
		if (e == 0)
			e = le;
	}
	return e;
}
