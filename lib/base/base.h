/* SPDX-License-Identifier: MIT */
/* What every layer of the library shares: units and small helpers. */
#ifndef UTRACE_BASE_H
#define UTRACE_BASE_H

#include <stddef.h>

/* Time units, in nanoseconds: unsigned, so that sums of them do not overflow early. */
#define NSEC_PER_USEC 1000ULL
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC 1000000000ULL

/*
 * The structure that holds `ptr` as its `member`: how a layer's callback,
 * given that layer's part of a larger structure, finds the whole.
 */
#define ut_container_of(ptr, type, member) ((type *)((char *)(ptr)-offsetof(type, member)))

#endif
