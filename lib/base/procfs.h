/* SPDX-License-Identifier: MIT */
/* Reading /proc/PID files. */
#ifndef UTRACE_PROCFS_H
#define UTRACE_PROCFS_H

#include <stdbool.h>
#include <stddef.h>
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
/*
 * Numeric field `field` (numbered as in proc(5), from 4 on) of /proc/PID/stat,
 * or of /proc/PID/task/TID/stat when tid is not 0: 0, -ESRCH when it cannot
 * be read, -EINVAL when it does not parse.
 */
int ut_proc_stat_field(pid_t pid, pid_t tid, int field, uint64_t *val);
/* The state letter of thread tid of process pid ('R', 'Z', ...), 0 when unknown. */
char ut_proc_task_state(pid_t pid, pid_t tid);
/* The path of pid's program, or "a new program" when it cannot be read: for messages. */
const char *ut_proc_exe_name(pid_t pid, char *buf, size_t len);
/* Whether pid's program is a 64-bit ELF file for `machine` (EM_X86_64, ...). */
bool ut_proc_exe_is_elf64(pid_t pid, uint16_t machine);
/* Entry `type` (AT_ENTRY, AT_PHDR, ...) of /proc/PID/auxv: 0, -ENOENT or -errno. */
int ut_proc_auxv(pid_t pid, uint64_t type, uint64_t *val);

#endif
