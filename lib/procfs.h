/* SPDX-License-Identifier: MIT */
/* Reading /proc/PID files. */
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
/* The path of the program pid runs (/proc/PID/exe) into buf[len]: 0 or -errno. */
int ut_proc_exe(pid_t pid, char *buf, size_t len);
/* The name of thread tid of process pid (its comm), without the newline. */
int ut_proc_comm(pid_t pid, pid_t tid, char *buf, size_t len);
/* CPU time (user + system, clock ticks) a thread has used; -1 when unknown. */
int64_t ut_proc_thread_cpu_ticks(pid_t pid, pid_t tid);

#endif
