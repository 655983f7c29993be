// SPDX-License-Identifier: MIT
/*
 * Reading a trace directory (utrace/trace.h, docs/trace-format.md).
 *
 * A trace is untrusted input: every chunk header and record is checked
 * before use (magic, sizes, kinds, function ids, per-thread timestamps that
 * never go back), and the first failure ends the reading with one error
 * line.  Durations are rebuilt here: the tracer marks the exits whose entry
 * it delivered, and that entry is the last one at the same depth of the
 * same thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace-format.h"
#include "items.h"
#include "trace-meta.h"
#include "log.h"
#include "trace.h"

#define BUF_SIZE (2 * TF_CHUNK_MAX + sizeof(struct tf_chunk_hdr))
/* Entries remembered per thread for durations; deeper calls get none. */
#define OPEN_MAX (1U << 16)

struct task_state {
	uint64_t key; /* pid << 32 | tid (a tid may come again in another process); 0: free */
	uint64_t last_ts;
	uint64_t *open_ts; /* [depth]: the entry's timestamp */
	uint32_t cap;
};

struct ut_trace {
	struct tm_trace m; /* metadata (trace-meta.h) */
	int fd;
	bool stream; /* an unnamed stream: no metadata, ids not checked */
	uint32_t max_words; /* words a record may carry in this version */
	uint32_t version;
	const char *name; /* for messages */
	unsigned char *buf;
	size_t pos, len; /* unread bytes: buf[pos, len) */
	uint64_t off; /* file offset of buf[len] */
	/* the chunk being read */
	pid_t pid, tid;
	size_t chunk_end; /* in buf; 0: between chunks */
	struct task_state *cur;
	struct task_state *tasks; /* open addressing by key */
	size_t ntasks, cap_tasks;
	int err;
};

static int corrupt(struct ut_trace *t, const char *what)
{
	ut_error("%s: corrupt trace: %s at byte %llu of %s", t->name, what,
		 (unsigned long long)(t->off - (t->len - t->pos)), TF_EVENTS);
	t->err = -EINVAL;
	return t->err;
}

static struct task_state *task_slot(struct task_state *v, size_t cap, uint64_t key)
{
	size_t i = (size_t)(key * 0x9e3779b97f4a7c15ULL >> 32) & (cap - 1);

	while (v[i].key && v[i].key != key)
		i = (i + 1) & (cap - 1);
	return &v[i];
}

static int tasks_grow(struct ut_trace *t)
{
	size_t cap = t->cap_tasks ? 2 * t->cap_tasks : 64;
	struct task_state *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap_tasks; i++)
		if (t->tasks[i].key)
			*task_slot(v, cap, t->tasks[i].key) = t->tasks[i];
	free(t->tasks);
	t->tasks = v;
	t->cap_tasks = cap;
	return 0;
}

static struct task_state *task_get(struct ut_trace *t, pid_t pid, pid_t tid)
{
	uint64_t key = (uint64_t)(uint32_t)pid << 32 | (uint32_t)tid;
	struct task_state *ts;

	if ((t->ntasks + 1) * 2 > t->cap_tasks && tasks_grow(t) < 0)
		return NULL;
	ts = task_slot(t->tasks, t->cap_tasks, key);
	if (!ts->key) {
		ts->key = key;
		t->ntasks++;
	}
	return ts;
}

static int open_events(struct ut_trace *t)
{
	struct tf_file_hdr h;

	t->buf = malloc(BUF_SIZE);
	if (!t->buf)
		return -ENOMEM;
	if (pread(t->fd, &h, sizeof(h), 0) != (ssize_t)sizeof(h) ||
	    memcmp(h.magic, TF_MAGIC, sizeof(h.magic)) || h.hdr_size < sizeof(h) ||
	    h.hdr_size > TF_CHUNK_MAX) {
		ut_error("%s: not a utrace trace (its %s file has no valid header)", t->name,
			 TF_EVENTS);
		return -EINVAL;
	}
	if (h.version < UT_TRACE_VERSION_MIN || h.version > UT_TRACE_VERSION) {
		ut_error("%s: trace format version %u; this utrace reads versions %d to %d",
			 t->name, h.version, UT_TRACE_VERSION_MIN, UT_TRACE_VERSION);
		return -EINVAL;
	}
	t->max_words = h.version == 1 ? UT_TRACE_V1_WORDS : UT_REC_WORDS;
	t->version = h.version;
	t->off = h.hdr_size;
	return 0;
}

int ut_trace_open(struct ut_trace **out, const char *dir)
{
	struct ut_trace *t = calloc(1, sizeof(*t));
	int dirfd, e;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	t->fd = -1;
	t->name = dir;
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		e = -errno;
		ut_error("%s: no trace here: %s (record one with 'utrace record')", dir,
			 strerror(errno));
		free(t);
		return e;
	}
	e = tm_read(&t->m, dirfd, dir);
	if (e == 0) {
		t->fd = openat(dirfd, TF_EVENTS, O_RDONLY | O_CLOEXEC);
		if (t->fd < 0) {
			e = -errno;
			ut_error("%s: cannot read %s: %s", dir, TF_EVENTS, strerror(errno));
		}
	}
	close(dirfd);
	if (e == 0)
		e = open_events(t);
	if (e < 0) {
		ut_trace_close(t);
		return e;
	}
	*out = t;
	return 0;
}

int ut_trace_open_stream(struct ut_trace **out, int fd)
{
	struct ut_trace *t = calloc(1, sizeof(*t));
	int e;

	*out = NULL;
	if (!t) {
		close(fd);
		return -ENOMEM;
	}
	t->fd = fd;
	t->stream = true;
	t->name = "the events of this session";
	e = open_events(t);
	if (e < 0) {
		ut_trace_close(t);
		return e;
	}
	*out = t;
	return 0;
}

void ut_trace_close(struct ut_trace *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->cap_tasks; i++)
		free(t->tasks[i].open_ts);
	free(t->tasks);
	free(t->buf);
	if (t->fd >= 0)
		close(t->fd);
	tm_free(&t->m);
	free(t);
}

const struct ut_trace_meta *ut_trace_meta(const struct ut_trace *t)
{
	return &t->m.meta;
}

const struct ut_trace_func *ut_trace_funcs(const struct ut_trace *t, size_t *n)
{
	*n = t->m.nfuncs;
	return t->m.funcs;
}

const struct ut_func_info *ut_trace_func_infos(const struct ut_trace *t, size_t *n)
{
	*n = t->m.nfuncs;
	return t->m.infos;
}

const struct ut_trace_task *ut_trace_tasks(const struct ut_trace *t, size_t *n)
{
	*n = t->m.ntasks;
	return t->m.tasks;
}

const char *ut_trace_task_comm(const struct ut_trace *t, pid_t tid)
{
	for (size_t i = t->m.ntasks; i-- > 0;)
		if (t->m.tasks[i].tid == tid)
			return t->m.tasks[i].comm;
	return NULL;
}

bool ut_trace_complete(const struct ut_trace *t)
{
	return t->m.complete;
}

const struct ut_stats *ut_trace_stats(const struct ut_trace *t)
{
	return &t->m.stats;
}

/* At least `need` unread bytes in buf; false when the file has no more yet. */
static bool fill(struct ut_trace *t, size_t need)
{
	if (t->len - t->pos >= need)
		return true;
	memmove(t->buf, t->buf + t->pos, t->len - t->pos);
	if (t->chunk_end)
		t->chunk_end -= t->pos;
	t->len -= t->pos;
	t->pos = 0;
	while (t->len < need) {
		ssize_t n = pread(t->fd, t->buf + t->len, BUF_SIZE - t->len, (off_t)t->off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return false;
		t->len += (size_t)n;
		t->off += (uint64_t)n;
	}
	return true;
}

/* The end of the file (for now): an error when a complete trace ends inside a chunk. */
static int at_end(struct ut_trace *t)
{
	if (t->len == t->pos || t->stream || !t->m.complete)
		return 0;
	return corrupt(t, "truncated chunk");
}

static int next_chunk(struct ut_trace *t)
{
	struct tf_chunk_hdr h;

	if (!fill(t, sizeof(h)))
		return at_end(t);
	memcpy(&h, t->buf + t->pos, sizeof(h));
	if (h.magic != TF_CHUNK_MAGIC)
		return corrupt(t, "no chunk header");
	if (h.len > TF_CHUNK_MAX || h.len % sizeof(uint64_t) || h.pid <= 0 || h.tid <= 0)
		return corrupt(t, "bad chunk header");
	if (!fill(t, sizeof(h) + h.len))
		return at_end(t);
	t->pos += sizeof(h);
	t->chunk_end = t->pos + h.len;
	t->pid = h.pid;
	t->tid = h.tid;
	t->cur = task_get(t, h.pid, h.tid);
	return t->cur ? 1 : -ENOMEM;
}

/* Where the entry at `depth` keeps its timestamp, NULL past OPEN_MAX. */
static uint64_t *open_slot(struct task_state *ts, uint32_t depth)
{
	uint32_t cap = ts->cap ? ts->cap : 16;
	uint64_t *v;

	if (depth >= OPEN_MAX)
		return NULL;
	if (depth < ts->cap)
		return &ts->open_ts[depth];
	while (cap <= depth)
		cap *= 2;
	v = realloc(ts->open_ts, cap * sizeof(*v));
	if (!v)
		return NULL;
	memset(v + ts->cap, 0xff, (cap - ts->cap) * sizeof(*v)); /* no entry yet */
	ts->open_ts = v;
	ts->cap = cap;
	return &v[depth];
}

/* A record's items (version 3): a u32 length, a u32 0, the bytes padded to 8; checked. */
static int decode_data(struct ut_trace *t, struct ut_event *ev)
{
	uint32_t h[2];
	size_t padded;

	if (t->chunk_end - t->pos < sizeof(h))
		return corrupt(t, "record across a chunk's end");
	memcpy(h, t->buf + t->pos, sizeof(h));
	padded = ((size_t)h[0] + 7) & ~(size_t)7;
	if (h[0] > TF_DATA_MAX || h[1] || t->chunk_end - t->pos - sizeof(h) < padded)
		return corrupt(t, "bad record data");
	ev->data = t->buf + t->pos + sizeof(h);
	ev->data_len = h[0];
	if (ut_items_check(ev->data, ev->data_len, true) != ev->data_len)
		return corrupt(t, "bad record data");
	t->pos += sizeof(h) + padded;
	return 1;
}

static int decode(struct ut_trace *t, const struct tf_rec *r, struct ut_event *ev)
{
	uint32_t kind = r->bits & TF_KIND_MASK, nw = r->bits >> TF_NW_SHIFT & TF_NW_MASK;
	bool v3 = t->version >= 3, has_data = v3 && (r->bits & TF_HAS_DATA);
	uint64_t *open;

	if (!kind || nw > t->max_words || (nw && kind == UT_REC_UNWIND))
		return corrupt(t, "bad record");
	if (!t->stream && r->func >= t->m.nfuncs)
		return corrupt(t, "record of a function not in the table");
	if (r->ts < t->cur->last_ts)
		return corrupt(t, "a thread's time going back");
	if (t->chunk_end - t->pos < sizeof(*r) + nw * sizeof(uint64_t))
		return corrupt(t, "record across a chunk's end");
	t->cur->last_ts = r->ts;
	*ev = (struct ut_event){ .ts = r->ts,
				 .pid = t->pid,
				 .tid = t->tid,
				 .kind = kind,
				 .func = r->func,
				 .depth = r->bits >> (v3 ? TF_DEPTH_SHIFT : TF_V2_DEPTH_SHIFT),
				 .nw = nw };
	memcpy(ev->w, t->buf + t->pos + sizeof(*r), nw * sizeof(uint64_t));
	t->pos += sizeof(*r) + nw * sizeof(uint64_t);
	if (has_data && decode_data(t, ev) < 0)
		return t->err;
	open = open_slot(t->cur, ev->depth);
	if (kind == UT_REC_ENTRY && open)
		*open = ev->ts;
	else if (kind != UT_REC_ENTRY && (r->bits & TF_HAS_DUR) && open && *open <= ev->ts) {
		ev->has_dur = true;
		ev->dur_ns = ev->ts - *open;
	}
	return 1;
}

int ut_trace_next(struct ut_trace *t, struct ut_event *ev)
{
	struct tf_rec r;
	int e;

	if (t->err)
		return t->err;
	while (!t->chunk_end || t->pos == t->chunk_end) {
		t->chunk_end = 0;
		e = next_chunk(t);
		if (e <= 0)
			return e;
	}
	if (t->chunk_end - t->pos < sizeof(r))
		return corrupt(t, "record across a chunk's end");
	memcpy(&r, t->buf + t->pos, sizeof(r));
	return decode(t, &r, ev);
}
