/* SPDX-License-Identifier: MIT */
/* /proc/PID/maps: mappings and the modules (ELF files) they belong to. */
#ifndef UTRACE_MAPS_H
#define UTRACE_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ut_map {
	uint64_t start, end; /* [start, end) */
	uint64_t offset; /* file offset of start */
	uint64_t inode;
	int prot; /* PROT_READ | PROT_WRITE | PROT_EXEC */
	bool shared;
	char *path; /* as in maps ("" for anonymous, "[stack]", "/memfd:x (deleted)", ...) */
};

struct ut_maps {
	struct ut_map *v; /* sorted by start */
	size_t n;
};

/* A file-backed ELF image in the address space: all mappings with one path. */
struct ut_module {
	char *path; /* absolute path */
	const char *name; /* basename of path, points into path */
	uint64_t lo, hi; /* lowest start, highest end of its mappings */
	uint64_t first_start; /* start of the mapping with the lowest file offset */
	uint64_t first_offset; /* ... and that offset (for the load bias) */
	bool is_main; /* the executable (path equals /proc/PID/exe) */
};

struct ut_modules {
	struct ut_module *v; /* sorted by lo */
	size_t n;
};

int utrace_maps_read(pid_t pid, struct ut_maps *out);
int utrace_maps_parse(const char *text, struct ut_maps *out); /* for tests */
void utrace_maps_free(struct ut_maps *maps);
const struct ut_map *utrace_maps_find(const struct ut_maps *maps, uint64_t addr);

/*
 * Group mappings into modules: every mapping whose path starts with '/' and is
 * not a deleted file or memfd.  exe_path (the target of /proc/PID/exe) marks
 * the main executable; NULL marks none.
 */
int utrace_modules_from_maps(const struct ut_maps *maps, const char *exe_path,
			     struct ut_modules *out);
void utrace_modules_free(struct ut_modules *mods);
const struct ut_module *utrace_modules_find(const struct ut_modules *mods, uint64_t addr);

/*
 * A free gap of `len` bytes (page multiple) whose every byte lies within
 * +-2 GiB (rel32 reach) of every byte of [lo, hi), not adjacent to any mapping
 * (one guard page each side) and not in [brk_lo, brk_hi).  Returns the start
 * address, or 0 when there is none.
 */
uint64_t utrace_maps_find_gap(const struct ut_maps *maps, uint64_t lo, uint64_t hi, uint64_t len,
			      uint64_t brk_lo, uint64_t brk_hi);

#endif
