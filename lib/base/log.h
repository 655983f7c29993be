/* SPDX-License-Identifier: MIT */
/*
 * Logging and error reporting for lib/.  The library never prints: it hands
 * messages to a callback the CLI installs.  Functions that fail return
 * -errno and may first record one human-readable line with ut_error(), which
 * the CLI prints as "utrace: <line>".
 */
#ifndef UTRACE_LOG_H
#define UTRACE_LOG_H

#include <stdarg.h>

enum ut_log_level {
	UT_LOG_ERROR,
	UT_LOG_WARN,
	UT_LOG_INFO,
	UT_LOG_DEBUG,
};

typedef void (*ut_log_fn)(enum ut_log_level level, const char *msg);

void utrace_log_set(ut_log_fn fn, enum ut_log_level max_level);
void ut_log(enum ut_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define ut_warn(...) ut_log(UT_LOG_WARN, __VA_ARGS__)
#define ut_info(...) ut_log(UT_LOG_INFO, __VA_ARGS__)
#define ut_debug(...) ut_log(UT_LOG_DEBUG, __VA_ARGS__)

/* Record the reason of the failure about to be returned (overwrites any earlier one). */
void ut_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The last recorded reason, or NULL when none was recorded since utrace_error_clear(). */
const char *utrace_error_last(void);
void utrace_error_clear(void);

#endif
