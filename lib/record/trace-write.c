// SPDX-License-Identifier: MIT
/*
 * Writing a trace directory (utrace/trace.h, docs/trace-format.md).
 *
 * Events are encoded into a buffer as they are drained and written out in
 * whole chunks with one write() per flush, so a reader following the file
 * (or a utrace killed between two flushes) only ever sees whole chunks.
 * The text files are appended line by line and flushed at once, so that a
 * trace left by a killed utrace still names every function and thread of
 * its events.  `stats` is written last, through a rename: its presence
 * says the trace is complete.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace-format.h"
#include "trace-text.h"
#include "log.h"
#include "trace.h"

/* A flush writes this much at least when the buffer fills: a few ms of a hot thread. */
#define BUF_SIZE (1U << 20)
#define REC_MAX (sizeof(struct tf_rec) + UT_REC_WORDS * sizeof(uint64_t) + 8 + TF_DATA_MAX)

struct ut_trace_writer {
	int dirfd; /* -1: an unnamed stream */
	int fd; /* events */
	FILE *funcs, *tasks;
	unsigned char *buf;
	size_t len; /* bytes in buf */
	size_t chunk; /* offset in buf of the open chunk's header, SIZE_MAX: none */
	pid_t pid, tid; /* the open chunk's thread */
	int err; /* the first write error: everything after it fails */
};

/* what a trace directory may hold: stats.new is a finish cut short */
static const char *const trace_files[] = { TF_EVENTS, TF_INFO,	TF_FUNCS,
					   TF_TASKS,  TF_STATS, TF_STATS ".new" };

static FILE *open_text(int dirfd, const char *name)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");

	if (!f && fd >= 0)
		close(fd);
	return f;
}

/* Whether the directory holds nothing but the files of a trace. */
static bool only_trace_files(int dirfd)
{
	DIR *d = fdopendir(dup(dirfd));
	struct dirent *de;
	bool ok = d != NULL;

	while (ok && (de = readdir(d))) {
		bool known = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");

		for (size_t i = 0; i < sizeof(trace_files) / sizeof(*trace_files); i++)
			known |= !strcmp(de->d_name, trace_files[i]);
		ok = known;
	}
	if (d)
		closedir(d);
	return ok;
}

static int open_dir(const char *dir)
{
	int fd;

	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		ut_error("%s: cannot create the trace directory: %s", dir, strerror(errno));
		return -errno;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ut_error("%s: %s", dir, strerror(errno));
		return -errno;
	}
	if (!only_trace_files(fd)) {
		ut_error("%s: holds files that are not a trace's: give another -d", dir);
		close(fd);
		return -EEXIST;
	}
	for (size_t i = 0; i < sizeof(trace_files) / sizeof(*trace_files); i++)
		unlinkat(fd, trace_files[i], 0);
	return fd;
}

static int open_stream(void)
{
	const char *tmp = getenv("TMPDIR");
	char path[4096];
	int fd;

	if (!tmp || !*tmp)
		tmp = "/tmp";
	fd = open(tmp, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	snprintf(path, sizeof(path), "%s/utrace-events-XXXXXX", tmp);
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0) {
		ut_error("%s: cannot create the file events are kept in: %s", tmp, strerror(errno));
		return -errno;
	}
	unlink(path);
	return fd;
}

static void put_field(FILE *f, const char *key, const char *val)
{
	fprintf(f, "%s\t", key);
	tt_put(f, val ? val : "");
	fputc('\n', f);
}

int ut_trace_writer_info(struct ut_trace_writer *w, const struct ut_trace_meta *m)
{
	FILE *f;

	if (w->dirfd < 0)
		return 0;
	f = open_text(w->dirfd, TF_INFO);
	if (!f)
		return -errno;
	fprintf(f, "trace_version\t%d\n", UT_TRACE_VERSION);
	put_field(f, "utrace_version", m->utrace_version);
	put_field(f, "cmdline", m->cmdline);
	fprintf(f, "pid\t%d\n", m->pid);
	fprintf(f, "start_realtime_ns\t%llu\n", (unsigned long long)m->start_realtime_ns);
	fprintf(f, "start_monotonic_ns\t%llu\n", (unsigned long long)m->start_monotonic_ns);
	fprintf(f, "clock\tmonotonic\n");
	fprintf(f, "tsc0\t%llu\n", (unsigned long long)m->tsc0);
	fprintf(f, "tsc_ns0\t%llu\n", (unsigned long long)m->ns0);
	fprintf(f, "tsc_ns_per_tick\t%.9g\n", m->ns_per_tick);
	fprintf(f, "args\t%d\n", m->args);
	fprintf(f, "retval\t%d\n", m->retval);
	put_field(f, "probe_mode", m->probe_mode);
	return fclose(f) ? -EIO : 0;
}

static int write_file_hdr(struct ut_trace_writer *w)
{
	struct tf_file_hdr h = { .version = UT_TRACE_VERSION, .hdr_size = sizeof(h) };

	memcpy(h.magic, TF_MAGIC, sizeof(h.magic));
	if (write(w->fd, &h, sizeof(h)) != (ssize_t)sizeof(h))
		return -EIO;
	return 0;
}

static int open_files(struct ut_trace_writer *w, const char *dir)
{
	int e;

	if (!dir) {
		w->fd = open_stream();
		return w->fd < 0 ? w->fd : 0;
	}
	w->dirfd = open_dir(dir);
	if (w->dirfd < 0)
		return w->dirfd;
	w->fd = openat(w->dirfd, TF_EVENTS, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	w->funcs = open_text(w->dirfd, TF_FUNCS);
	w->tasks = open_text(w->dirfd, TF_TASKS);
	e = w->fd < 0 || !w->funcs || !w->tasks ? -errno : 0;
	if (e < 0)
		ut_error("%s: cannot write the trace: %s", dir, strerror(-e));
	return e;
}

int ut_trace_writer_new(struct ut_trace_writer **out, const char *dir)
{
	struct ut_trace_writer *w = calloc(1, sizeof(*w));
	int e;

	*out = NULL;
	if (!w)
		return -ENOMEM;
	w->dirfd = w->fd = -1;
	w->chunk = SIZE_MAX;
	w->buf = malloc(BUF_SIZE);
	e = w->buf ? open_files(w, dir) : -ENOMEM;
	if (e == 0)
		e = write_file_hdr(w);
	if (e < 0) {
		ut_trace_writer_free(w);
		return e;
	}
	*out = w;
	return 0;
}

int ut_trace_writer_funcs(struct ut_trace_writer *w, const struct ut_trace_func *f, size_t first,
			  size_t n)
{
	if (!w->funcs)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct ut_func_info *fi = &f[i].info;

		fprintf(w->funcs, "%zu\t0x%llx\t", first + i, (unsigned long long)fi->addr);
		tt_put(w->funcs, f[i].probe ? f[i].probe : "");
		fputc('\t', w->funcs);
		tt_put(w->funcs, fi->module ? fi->module : "");
		fputc('\t', w->funcs);
		tt_put(w->funcs, f[i].path ? f[i].path : "");
		fputc('\t', w->funcs);
		tt_put(w->funcs, f[i].build_id ? f[i].build_id : "");
		fputc('\t', w->funcs);
		tt_put(w->funcs, fi->name);
		fputc('\t', w->funcs);
		tt_put(w->funcs, fi->mangled ? fi->mangled : "");
		fputc('\t', w->funcs);
		tt_put(w->funcs, fi->proto ? fi->proto : "");
		fputc('\t', w->funcs);
		tt_put(w->funcs, fi->srcline ? fi->srcline : "");
		fputc('\n', w->funcs);
	}
	return fflush(w->funcs) ? -EIO : 0;
}

int ut_trace_writer_task(struct ut_trace_writer *w, pid_t pid, pid_t tid, const char *comm)
{
	if (!w->tasks)
		return 0;
	fprintf(w->tasks, "%d\t%d\t", pid, tid);
	tt_put(w->tasks, comm ? comm : "");
	fputc('\n', w->tasks);
	return fflush(w->tasks) ? -EIO : 0;
}

static void close_chunk(struct ut_trace_writer *w)
{
	struct tf_chunk_hdr *h;

	if (w->chunk == SIZE_MAX)
		return;
	h = (struct tf_chunk_hdr *)(w->buf + w->chunk);
	h->len = (uint32_t)(w->len - w->chunk - sizeof(*h));
	w->chunk = SIZE_MAX;
}

int ut_trace_writer_flush(struct ut_trace_writer *w)
{
	size_t done = 0;

	close_chunk(w);
	while (!w->err && done < w->len) {
		ssize_t n = write(w->fd, w->buf + done, w->len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			w->err = n < 0 ? -errno : -EIO;
		else
			done += (size_t)n;
	}
	w->len = 0;
	return w->err;
}

static void open_chunk(struct ut_trace_writer *w, pid_t pid, pid_t tid)
{
	struct tf_chunk_hdr h = { .magic = TF_CHUNK_MAGIC, .pid = pid, .tid = tid };

	memcpy(w->buf + w->len, &h, sizeof(h));
	w->chunk = w->len;
	w->len += sizeof(h);
	w->pid = pid;
	w->tid = tid;
}

int ut_trace_writer_event(struct ut_trace_writer *w, const struct ut_event *ev)
{
	return ut_trace_writer_event_as(w, ev, ev->func);
}

int ut_trace_writer_event_as(struct ut_trace_writer *w, const struct ut_event *ev, uint32_t func)
{
	uint32_t nw = ev->nw > UT_REC_WORDS ? UT_REC_WORDS : ev->nw;
	uint32_t dlen = ev->data && ev->data_len <= TF_DATA_MAX ? ev->data_len : 0;
	struct tf_rec r = {
		.ts = ev->ts,
		.func = func,
		.bits = ((uint32_t)ev->kind & TF_KIND_MASK) | (ev->has_dur ? TF_HAS_DUR : 0) |
			nw << TF_NW_SHIFT | (dlen ? TF_HAS_DATA : 0) |
			(ev->depth > TF_DEPTH_MAX ? TF_DEPTH_MAX : ev->depth) << TF_DEPTH_SHIFT,
	};
	uint32_t dhdr[2] = { dlen, 0 };
	size_t dpad = dlen ? sizeof(dhdr) + ((dlen + 7) & ~7U) : 0;
	size_t need = sizeof(r) + nw * sizeof(uint64_t) + dpad;

	if (w->chunk != SIZE_MAX &&
	    (w->pid != ev->pid || w->tid != ev->tid || w->len - w->chunk + need > TF_CHUNK_MAX))
		close_chunk(w);
	if (w->len + sizeof(struct tf_chunk_hdr) + REC_MAX > BUF_SIZE &&
	    ut_trace_writer_flush(w) < 0)
		return w->err;
	if (w->chunk == SIZE_MAX)
		open_chunk(w, ev->pid, ev->tid);
	memcpy(w->buf + w->len, &r, sizeof(r));
	memcpy(w->buf + w->len + sizeof(r), ev->w, nw * sizeof(uint64_t));
	if (dlen) {
		unsigned char *d = w->buf + w->len + sizeof(r) + nw * sizeof(uint64_t);

		memcpy(d, dhdr, sizeof(dhdr));
		memcpy(d + sizeof(dhdr), ev->data, dlen);
		memset(d + sizeof(dhdr) + dlen, 0, dpad - sizeof(dhdr) - dlen);
	}
	w->len += need;
	return 0;
}

static void write_stats_body(FILE *f, const struct ut_stats *st)
{
	fprintf(f, "events\t%llu\n", (unsigned long long)st->events);
	fprintf(f, "dropped\t%llu\n", (unsigned long long)st->drops);
	fprintf(f, "torn\t%llu\n", (unsigned long long)st->torn);
	fprintf(f, "invalid\t%llu\n", (unsigned long long)st->invalid);
	fprintf(f, "rstack_overflow\t%llu\n", (unsigned long long)st->rs_overflow);
	fprintf(f, "no_slot\t%llu\n", (unsigned long long)st->no_slot);
	fprintf(f, "lost_return\t%llu\n", (unsigned long long)st->lost_return);
	fprintf(f, "no_tls\t%llu\n", (unsigned long long)st->notls);
	fprintf(f, "waits\t%llu\n", (unsigned long long)st->waits);
	fprintf(f, "wait_ns\t%llu\n", (unsigned long long)st->wait_ns);
	if (st->no_returns)
		put_field(f, "no_returns", st->no_returns);
	if (st->stopped)
		put_field(f, "stopped", st->stopped);
	for (size_t i = 0; i < st->nthreads; i++) {
		const struct ut_thread_drops *t = &st->threads[i];

		fprintf(f, "thread\t%d\t%d\t%llu\t%llu\t%llu\t%llu\t%llu\n", t->pid, t->tid,
			(unsigned long long)t->drops, (unsigned long long)t->first_ns,
			(unsigned long long)t->last_ns, (unsigned long long)t->waits,
			(unsigned long long)t->wait_ns);
	}
	for (size_t i = 0; i < st->nfuncs; i++)
		if (st->func_drops[i] || st->func_notls[i])
			fprintf(f, "func\t%zu\t%llu\t%llu\n", i,
				(unsigned long long)st->func_drops[i],
				(unsigned long long)st->func_notls[i]);
}

int ut_trace_writer_finish(struct ut_trace_writer *w, const struct ut_stats *st)
{
	FILE *f;
	int e = ut_trace_writer_flush(w);

	if (e < 0 || w->dirfd < 0)
		return e;
	f = open_text(w->dirfd, TF_STATS ".new");
	if (!f)
		return -errno;
	write_stats_body(f, st);
	e = fclose(f) ? -EIO : 0;
	if (e == 0 && renameat(w->dirfd, TF_STATS ".new", w->dirfd, TF_STATS) < 0)
		e = -errno;
	return e;
}

int ut_trace_writer_events_fd(const struct ut_trace_writer *w)
{
	return w->fd;
}

bool ut_trace_writer_pending(const struct ut_trace_writer *w)
{
	return w->len > 0;
}

void ut_trace_writer_free(struct ut_trace_writer *w)
{
	if (!w)
		return;
	if (w->funcs)
		fclose(w->funcs);
	if (w->tasks)
		fclose(w->tasks);
	if (w->fd >= 0)
		close(w->fd);
	if (w->dirfd >= 0)
		close(w->dirfd);
	free(w->buf);
	free(w);
}
