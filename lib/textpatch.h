/* SPDX-License-Identifier: MIT */
/*
 * Writing many small patches into a tracee's text at once (DESIGN.md,
 * "Memory access"): each run of adjacent pages that hold patches is read
 * once, patched here and written back once, instead of one write per site.
 */
#ifndef UTRACE_TEXTPATCH_H
#define UTRACE_TEXTPATCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ut_text_patch {
	uint64_t addr;
	const uint8_t *bytes;
	size_t len;
};

/*
 * Write every patch of v[n] (sorted by addr, not overlapping) into pid's
 * memory.  Returns 0 or the first -errno; runs before a failed one stay written.
 */
int ut_text_write(pid_t pid, const struct ut_text_patch *v, size_t n);

#endif
