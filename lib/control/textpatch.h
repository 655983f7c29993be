/* SPDX-License-Identifier: MIT */
/*
 * Writing many small patches into a tracee's text at once
 * (docs/ARCHITECTURE.md, "Text patches"): each run of adjacent pages that
 * hold patches is read once, patched here and written back once, instead of
 * one write per site.
 */
#ifndef UTRACE_TEXTPATCH_H
#define UTRACE_TEXTPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct ut_text_patch {
	uint64_t addr;
	const uint8_t *bytes; /* what to write */
	const uint8_t *expect; /* what must be there now, or the patch is skipped */
	size_t len;
	bool done; /* set by ut_text_write: written */
};

/*
 * Write every patch of v[n] (sorted by addr, not overlapping) into pid's
 * memory, where the bytes there are still the expected ones: another tracer,
 * or a library unloaded and another loaded in its place, is never
 * overwritten.  A run that cannot be read or written does not stop the
 * others.  Returns 0 or the first -errno; v[i].done says what was written.
 */
int ut_text_write(pid_t pid, struct ut_text_patch *v, size_t n);

#endif
