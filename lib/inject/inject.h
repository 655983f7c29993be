/* SPDX-License-Identifier: MIT */
/*
 * Injection: the data area (a memfd shared with the tracee: the control
 * block, the function table, thread slots, shadow stacks and rings) and
 * the code areas (the blob and the probes' stubs, each near the module it
 * serves), made in the tracee with remote system calls.
 */
#ifndef UTRACE_INJECT_H
#define UTRACE_INJECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "maps.h"
#include "probes.h"
#include "remote.h"
#include "tsc.h"
#include "utrace/shm.h"

/* Where each part of a data area is: the tracer's own copy, never read back from the area. */
struct ut_geometry {
	uint32_t nfuncs, nslots, ring_size, rstack_depth;
	uint32_t rec_size; /* bytes per record: UT_REC_MIN, UT_REC_RETVAL_SIZE, UT_REC_ARGS_SIZE */
	bool rec_args, rec_retval; /* entries carry argument words, exits rax and rdx */
	size_t area_size; /* bytes mapped at `area` */
	uint64_t funcs_off, slots_off, rstacks_off, rings_off;
};

/* What the user asked of the data area. */
struct ut_inject_opts {
	uint32_t nslots; /* thread slots */
	uint32_t ring_size; /* bytes per thread ring */
	uint32_t rstack_depth; /* shadow stack entries per thread */
	bool record_args, record_retval; /* --args, --retval */
	uint64_t block_timeout_ns; /* a full ring holds its thread up this long; 0: never */
	uint32_t str_max; /* --string-size */
	uint32_t stack_bytes; /* --stack-size; 0 without --stack */
	bool caller_only; /* --caller */
};

/* The areas of one image of a process: the session's part that this layer keeps. */
struct ut_inject {
	struct ut_probes *pr; /* the probes whose stubs the code areas hold */
	const struct ut_tsc *tsc; /* the session's clock: waits are set in TSC ticks */
	struct ut_inject_opts opts;
	int memfd; /* the data area's, ours; -1 when none */
	void *area; /* the data area, our mapping */
	uint64_t area_addr; /* the tracee's mapping */
	struct ut_geometry geo;
	/* the process is at a program's entry point: its libraries stay loaded */
	bool at_entry;
	struct ut_range stable[UT_MAX_STABLE]; /* ut_ctl.stable, to be written */
	uint32_t nstable;
};

/* inject.c */
int ut_areas_place(struct ut_inject *in, const struct ut_maps *maps, const struct ut_modules *mods);
int ut_inject_code(struct ut_inject *in, struct ut_remote *r, const struct ut_modules *mods);
int ut_inject_data(struct ut_inject *in, struct ut_remote *r);
/* Unmap every code area and the data area from the process r runs in: the first error. */
int ut_areas_unmap(struct ut_inject *in, struct ut_remote *r);
void ut_inject_undo(struct ut_inject *in, struct ut_remote *r);
int ut_write_code(struct ut_inject *in);
/*
 * The readable mappings of the modules that stay loaded (the program's; at
 * its entry point every module's), for the control block: where the
 * recorder reads strings without a system call.
 */
void ut_stable_ranges(struct ut_inject *in, const struct ut_modules *mods);
/*
 * What the control block takes from the tracer, never from the area (the
 * program may have scribbled on it): the layout of the area, the record
 * format, the wait on full rings (--block-timeout, in TSC ticks).
 */
void ut_ctl_set(const struct ut_inject *in, struct ut_ctl *c);
bool ut_is_ret_tramp(const struct ut_inject *in, uint64_t addr);
/* The code area whose trampoline and recorder code holds ip, or NULL. */
const struct ut_area *ut_blob_code_at(const struct ut_inject *in, uint64_t ip);
/*
 * A module loaded later: put its probes [first_id, first_id + nstubs) in a
 * code area near it (a free one that fits, or a new one mapped by thread
 * tid), build their stubs and publish them in the data area.  Returns the
 * area's index or -errno.
 */
int ut_area_add(struct ut_inject *in, pid_t tid, const struct ut_module *m, uint32_t first_id,
		uint32_t nstubs);
/* The area's library is gone: forget its probes; the area stays mapped for reuse. */
void ut_area_free(struct ut_inject *in, struct ut_area *a);
void ut_release_data(struct ut_inject *in);
int ut_restore_returns(struct ut_inject *in, pid_t pid, uint32_t slot, uint64_t sp);

#endif
