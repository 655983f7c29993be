// SPDX-License-Identifier: MIT
/*
 * /proc/PID/maps: the tracee's mappings, the modules (ELF files) they belong
 * to, and where in the address space the injected areas may go.
 */
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "addrs.h"
#include "log.h"
#include "maps.h"

/* x86_64 user space always uses 4 KiB base pages. */
#define PAGE_SIZE_4K 0x1000ULL
/* Lowest address mmap may use by default (vm.mmap_min_addr). */
#define MMAP_MIN_ADDR 0x10000ULL
/* End of the x86_64 4-level user address space (TASK_SIZE_MAX). */
#define USER_ADDR_END 0x7ffffffff000ULL
/* rel32 reach, kept 64 KiB short of 2 GiB so rounding never breaks it. */
#define REL32_REACH 0x7fff0000ULL
/*
 * The kernel keeps at least this much room below the stack for it to grow
 * (MIN_GAP in mm/util.c); never place an area there either.
 */
#define STACK_GROWTH_GAP (128ULL << 20)
/* First buffer for /proc/PID/maps: the size of a typical process's maps. */
#define PROC_READ_CHUNK (64UL << 10)
/* Longest possible line head before the path: 3 * 16 hex digits, perms, dev, inode, blanks. */
#define MAPS_HEAD_MAX 128

static uint64_t page_down(uint64_t x)
{
	return x & ~(PAGE_SIZE_4K - 1);
}

static uint64_t page_up(uint64_t x)
{
	return page_down(x + PAGE_SIZE_4K - 1);
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static int perms_to_prot(const char *perms, bool *shared)
{
	int prot = 0;

	if (perms[0] == 'r')
		prot |= PROT_READ;
	if (perms[1] == 'w')
		prot |= PROT_WRITE;
	if (perms[2] == 'x')
		prot |= PROT_EXEC;
	*shared = perms[3] == 's';
	return prot;
}

/*
 * One line: "start-end perms offset major:minor inode   path".  The path is
 * everything after the inode's padding, spaces and " (deleted)" included.
 */
static int parse_line(const char *line, size_t len, struct ut_map *m)
{
	char head[MAPS_HEAD_MAX + 1], perms[5];
	unsigned int major, minor;
	unsigned long long start, end, offset, inode;
	int n = 0;
	const char *path;
	size_t plen;

	/* sscanf() may strlen() its input: give it this line's head, not the rest of maps. */
	plen = len < MAPS_HEAD_MAX ? len : MAPS_HEAD_MAX;
	memcpy(head, line, plen);
	head[plen] = '\0';
	if (sscanf(head, "%llx-%llx %4s %llx %x:%x %llu%n", &start, &end, perms, &offset, &major,
		   &minor, &inode, &n) != 7 ||
	    strlen(perms) != 4 || start > end) {
		ut_error("malformed line in /proc/PID/maps: '%.*s'", (int)len, line);
		return -EINVAL;
	}
	path = line + n;
	plen = len - n;
	while (plen && (*path == ' ' || *path == '\t')) {
		path++;
		plen--;
	}
	m->path = strndup(path, plen);
	if (!m->path)
		return -ENOMEM;
	m->start = start;
	m->end = end;
	m->offset = offset;
	m->inode = inode;
	m->prot = perms_to_prot(perms, &m->shared);
	return 0;
}

static int map_cmp(const void *a, const void *b)
{
	const struct ut_map *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return 0;
}

static size_t count_lines(const char *text)
{
	size_t n = 1;

	for (; *text; text++)
		n += *text == '\n';
	return n;
}

int utrace_maps_parse(const char *text, struct ut_maps *out)
{
	struct ut_maps maps = { 0 };
	const char *line = text;
	int err;

	maps.v = calloc(count_lines(text), sizeof(*maps.v));
	if (!maps.v)
		return -ENOMEM;
	while (*line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);

		if (len) {
			err = parse_line(line, len, &maps.v[maps.n]);
			if (err) {
				utrace_maps_free(&maps);
				return err;
			}
			maps.n++;
		}
		line += len + (nl != NULL);
	}
	/* The kernel lists mappings in order; sort anyway: lookups rely on it. */
	qsort(maps.v, maps.n, sizeof(*maps.v), map_cmp);
	*out = maps;
	return 0;
}

/* The whole of a /proc file whose size stat() does not know. */
static int read_proc_text(const char *path, char **out)
{
	size_t cap = PROC_READ_CHUNK, len = 0;
	char *buf = malloc(cap), *bigger;
	int fd, err = 0;
	ssize_t r;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		ut_error("cannot open %s: %s", path, strerror(errno));
		goto free_buf;
	}
	for (;;) {
		if (cap - len < 2) {
			bigger = realloc(buf, cap * 2);
			if (!bigger) {
				err = -ENOMEM;
				goto close_fd;
			}
			buf = bigger;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			err = -errno;
			ut_error("cannot read %s: %s", path, strerror(errno));
			goto close_fd;
		}
		if (r == 0)
			break;
		len += r;
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
close_fd:
	close(fd);
free_buf:
	free(buf);
	return err;
}

int utrace_maps_read(pid_t pid, struct ut_maps *out)
{
	char path[64];
	char *text = NULL;
	int err;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)pid);
	err = read_proc_text(path, &text);
	if (err)
		return err;
	err = utrace_maps_parse(text, out);
	free(text);
	return err;
}

void utrace_maps_free(struct ut_maps *maps)
{
	for (size_t i = 0; i < maps->n; i++)
		free(maps->v[i].path);
	free(maps->v);
	maps->v = NULL;
	maps->n = 0;
}

const struct ut_map *utrace_maps_find(const struct ut_maps *maps, uint64_t addr)
{
	/* the last mapping starting at or below addr */
	size_t lo = ut_sorted_upto(maps->v, maps->n, sizeof(maps->v[0]),
				   offsetof(struct ut_map, start), addr);

	if (lo && addr < maps->v[lo - 1].end)
		return &maps->v[lo - 1];
	return NULL;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* A mapping of a regular file that still exists under its path. */
static bool is_module_mapping(const struct ut_map *m)
{
	return m->path[0] == '/' && !has_suffix(m->path, " (deleted)") &&
	       strncmp(m->path, "/memfd:", strlen("/memfd:")) != 0 &&
	       strncmp(m->path, "/dev/", strlen("/dev/")) != 0;
}

static struct ut_module *module_by_path(struct ut_modules *mods, const char *path)
{
	for (size_t i = 0; i < mods->n; i++)
		if (!strcmp(mods->v[i].path, path))
			return &mods->v[i];
	return NULL;
}

static int module_new(struct ut_modules *mods, const struct ut_map *m, const char *exe_path)
{
	struct ut_module *mod = &mods->v[mods->n];
	char *slash;

	mod->path = strdup(m->path);
	if (!mod->path)
		return -ENOMEM;
	slash = strrchr(mod->path, '/');
	mod->name = slash + 1;
	mod->lo = m->start;
	mod->hi = m->end;
	mod->first_start = m->start;
	mod->first_offset = m->offset;
	mod->is_main = exe_path && !strcmp(exe_path, m->path);
	mods->n++;
	return 0;
}

static void module_add(struct ut_module *mod, const struct ut_map *m)
{
	if (m->start < mod->lo)
		mod->lo = m->start;
	if (m->end > mod->hi)
		mod->hi = m->end;
	if (m->offset < mod->first_offset ||
	    (m->offset == mod->first_offset && m->start < mod->first_start)) {
		mod->first_start = m->start;
		mod->first_offset = m->offset;
	}
}

static int module_cmp(const void *a, const void *b)
{
	const struct ut_module *x = a, *y = b;

	if (x->lo != y->lo)
		return x->lo < y->lo ? -1 : 1;
	return 0;
}

int utrace_modules_from_maps(const struct ut_maps *maps, const char *exe_path,
			     struct ut_modules *out)
{
	struct ut_modules mods = { 0 };
	int err;

	/* At most one module per mapping; a few hundred of each at most. */
	mods.v = calloc(maps->n ? maps->n : 1, sizeof(*mods.v));
	if (!mods.v)
		return -ENOMEM;
	for (size_t i = 0; i < maps->n; i++) {
		const struct ut_map *m = &maps->v[i];
		struct ut_module *mod;

		if (!is_module_mapping(m))
			continue;
		mod = module_by_path(&mods, m->path);
		if (mod) {
			module_add(mod, m);
			continue;
		}
		err = module_new(&mods, m, exe_path);
		if (err) {
			utrace_modules_free(&mods);
			return err;
		}
	}
	qsort(mods.v, mods.n, sizeof(*mods.v), module_cmp);
	*out = mods;
	return 0;
}

void utrace_modules_free(struct ut_modules *mods)
{
	for (size_t i = 0; i < mods->n; i++)
		free(mods->v[i].path);
	free(mods->v);
	mods->v = NULL;
	mods->n = 0;
}

const struct ut_module *utrace_modules_find(const struct ut_modules *mods, uint64_t addr)
{
	/* Modules may interleave (one mapped inside another's hole): scan them all. */
	for (size_t i = 0; i < mods->n; i++)
		if (addr >= mods->v[i].lo && addr < mods->v[i].hi)
			return &mods->v[i];
	return NULL;
}

/* Address ranges that are free in the maps but must stay free. */
struct reserved {
	uint64_t lo, hi;
};

struct gap_search {
	uint64_t lo, hi; /* the module */
	uint64_t len;
	uint64_t win_lo, win_hi; /* the gap must lie within [win_lo, win_hi) */
	struct reserved res[2]; /* brk growth range, stack growth room */
	size_t nres;
	uint64_t best; /* 0: none yet */
	uint64_t best_dist;
};

static uint64_t distance_to_module(const struct gap_search *gs, uint64_t start)
{
	if (start + gs->len <= gs->lo)
		return gs->lo - (start + gs->len);
	if (start >= gs->hi)
		return start - gs->hi;
	return 0;
}

static void consider_start(struct gap_search *gs, uint64_t start)
{
	uint64_t dist = distance_to_module(gs, start);

	if (!gs->best || dist < gs->best_dist || (dist == gs->best_dist && start < gs->best)) {
		gs->best = start;
		gs->best_dist = dist;
	}
}

/* A free range [lo, hi), guard pages already excluded: try its best start. */
static void consider_free(struct gap_search *gs, uint64_t lo, uint64_t hi)
{
	uint64_t first, last;

	lo = page_up(lo > gs->win_lo ? lo : gs->win_lo);
	hi = page_down(hi < gs->win_hi ? hi : gs->win_hi);
	if (lo >= hi || hi - lo < gs->len)
		return;
	first = lo;
	last = hi - gs->len;
	/* Distance is monotonic on each side of the module: an end is best. */
	consider_start(gs, first);
	consider_start(gs, last);
}

/* Cut the reserved ranges (from index i on), each with guard pages, out of [lo, hi). */
static void consider_unreserved(struct gap_search *gs, uint64_t lo, uint64_t hi, size_t i)
{
	for (; i < gs->nres; i++) {
		uint64_t r_lo = gs->res[i].lo, r_hi = gs->res[i].hi;

		r_lo = r_lo > PAGE_SIZE_4K ? r_lo - PAGE_SIZE_4K : 0;
		r_hi = add_sat(r_hi, PAGE_SIZE_4K);
		if (r_lo < hi && lo < r_hi) {
			if (lo < r_lo)
				consider_unreserved(gs, lo, r_lo, i + 1);
			if (r_hi < hi)
				consider_unreserved(gs, r_hi, hi, i + 1);
			return;
		}
	}
	consider_free(gs, lo, hi);
}

static void reserve(struct gap_search *gs, uint64_t lo, uint64_t hi)
{
	if (lo < hi)
		gs->res[gs->nres++] = (struct reserved){ lo, hi };
}

static void reserve_stack_growth(struct gap_search *gs, const struct ut_maps *maps)
{
	for (size_t i = 0; i < maps->n; i++) {
		const struct ut_map *m = &maps->v[i];

		if (!strcmp(m->path, "[stack]")) {
			uint64_t room = m->end > STACK_GROWTH_GAP ? m->end - STACK_GROWTH_GAP : 0;

			reserve(gs, room, m->start);
			return;
		}
	}
}

/* Limit the search to where every byte is in rel32 reach of every module byte. */
static void set_window(struct gap_search *gs)
{
	uint64_t far_lo = gs->hi - 1 > REL32_REACH ? gs->hi - 1 - REL32_REACH : 0;
	uint64_t far_hi = gs->lo + REL32_REACH + 1;

	gs->win_lo = far_lo > MMAP_MIN_ADDR ? far_lo : MMAP_MIN_ADDR;
	gs->win_hi = far_hi < USER_ADDR_END ? far_hi : USER_ADDR_END;
}

uint64_t utrace_maps_find_gap(const struct ut_maps *maps, uint64_t lo, uint64_t hi, uint64_t len,
			      uint64_t brk_lo, uint64_t brk_hi)
{
	struct gap_search gs = { .lo = lo, .hi = hi, .len = page_up(len) };
	uint64_t free_lo = 0;

	if (!gs.len || lo >= hi || hi - lo > REL32_REACH)
		return 0;
	set_window(&gs);
	reserve(&gs, brk_lo, brk_hi);
	reserve_stack_growth(&gs, maps);
	for (size_t i = 0; i < maps->n; i++) {
		const struct ut_map *m = &maps->v[i];

		if (m->start > free_lo + PAGE_SIZE_4K)
			consider_unreserved(&gs, free_lo, m->start - PAGE_SIZE_4K, 0);
		if (add_sat(m->end, PAGE_SIZE_4K) > free_lo)
			free_lo = add_sat(m->end, PAGE_SIZE_4K);
	}
	consider_unreserved(&gs, free_lo, USER_ADDR_END, 0);
	return gs.best;
}
