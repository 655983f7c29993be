/* SPDX-License-Identifier: MIT */
/* Time units, in nanoseconds: unsigned, so that sums of them do not overflow early. */
#ifndef UTRACE_UNITS_H
#define UTRACE_UNITS_H

#define NSEC_PER_USEC 1000ULL
#define NSEC_PER_MSEC 1000000ULL
#define NSEC_PER_SEC 1000000000ULL

#endif
