/* SPDX-License-Identifier: MIT */
/* Reading /proc/PID/status fields. */
#ifndef UTRACE_PROCFS_H
#define UTRACE_PROCFS_H

#include <stdint.h>
#include <sys/types.h>

/*
 * The number after `key` (e.g. "Tgid:") in /proc/PID/status, read in `base`
 * (10, or 16 for the signal masks).  0 with *val set; -ENOENT when the line
 * is absent; -ESRCH when the process is gone; -EINVAL when it does not parse.
 */
int ut_proc_status_field(pid_t pid, const char *key, int base, uint64_t *val);

#endif
