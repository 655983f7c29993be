// SPDX-License-Identifier: MIT
#include <stdio.h>

#include "log.h"

static ut_log_fn log_fn;
static enum ut_log_level log_max = UT_LOG_WARN;
static char last_error[512];
static int have_error;

void utrace_log_set(ut_log_fn fn, enum ut_log_level max_level)
{
	log_fn = fn;
	log_max = max_level;
}

void ut_log(enum ut_log_level level, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	if (!log_fn || level > log_max)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_fn(level, buf);
}

void ut_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	have_error = 1;
}

const char *utrace_error_last(void)
{
	return have_error ? last_error : NULL;
}

void utrace_error_clear(void)
{
	have_error = 0;
}
