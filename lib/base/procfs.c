// SPDX-License-Identifier: MIT
#include <elf.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"

/* Room for a stat line: some 50 numbers and a command name of 16 bytes at most. */
#define STAT_MAX 1024
/* proc(5)'s field number of the CPU time in user mode (clock ticks); system mode's follows. */
#define STAT_UTIME 14
/* auxv entries read at most: the kernel writes some 25 (AT_VECTOR_SIZE). */
#define AUXV_MAX 64

int ut_proc_status_field(pid_t pid, const char *key, int base, uint64_t *val)
{
	char path[64], line[256], *end;
	size_t klen = strlen(key);
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen))
			continue;
		errno = 0;
		*val = strtoull(line + klen, &end, base);
		err = errno || end == line + klen || (*end && *end != '\n') ? -EINVAL : 0;
		break;
	}
	fclose(f);
	return err;
}

/*
 * /proc/PID/stat (tid 0) or /proc/PID/task/TID/stat into buf[len], and
 * where its field 3 (the state) starts: the command name before it may
 * hold spaces and parentheses, so the fields follow its last ')'.
 */
static char *read_stat(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[64], *p;
	ssize_t n;
	int fd;

	if (tid)
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	else
		snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return NULL;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p + 2 : NULL;
}

/*
 * Numeric fields first, first + 1, ... (n of them) of one read of the stat
 * file: 0, -ESRCH when it cannot be read, -EINVAL when they do not parse.
 */
static int stat_fields(pid_t pid, pid_t tid, int first, uint64_t *vals, int n)
{
	char buf[STAT_MAX], *p = read_stat(pid, tid, buf, sizeof(buf)), *end;

	if (!p)
		return -ESRCH;
	if (first < 4)
		return -EINVAL;
	for (int f = 3; f < first && p; f++) {
		p = strchr(p, ' ');
		p = p ? p + 1 : NULL;
	}
	for (int i = 0; i < n; i++) {
		if (!p)
			return -EINVAL;
		errno = 0;
		vals[i] = strtoull(p, &end, 10);
		if (errno || end == p)
			return -EINVAL;
		p = *end == ' ' ? end + 1 : NULL;
	}
	return 0;
}

int ut_proc_stat_field(pid_t pid, pid_t tid, int field, uint64_t *val)
{
	return stat_fields(pid, tid, field, val, 1);
}

char ut_proc_task_state(pid_t pid, pid_t tid)
{
	char buf[STAT_MAX], *p = read_stat(pid, tid, buf, sizeof(buf));

	return p ? p[0] : 0;
}

int64_t ut_proc_thread_cpu_ticks(pid_t pid, pid_t tid)
{
	uint64_t times[2]; /* utime, stime: next to each other */

	if (stat_fields(pid, tid, STAT_UTIME, times, 2) < 0)
		return -1;
	return (int64_t)(times[0] + times[1]);
}

int ut_proc_auxv(pid_t pid, uint64_t type, uint64_t *val)
{
	Elf64_auxv_t av[AUXV_MAX];
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/auxv", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, av, sizeof(av));
	close(fd);
	for (ssize_t i = 0; n > 0 && i < n / (ssize_t)sizeof(av[0]); i++) {
		if (av[i].a_type == AT_NULL)
			break;
		if (av[i].a_type == type) {
			*val = av[i].a_un.a_val;
			return 0;
		}
	}
	return -ENOENT;
}

int ut_proc_exe(pid_t pid, char *buf, size_t len)
{
	char link[64];
	ssize_t n;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, buf, len - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

int ut_proc_comm(pid_t pid, pid_t tid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", (int)pid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}

const char *ut_proc_exe_name(pid_t pid, char *buf, size_t len)
{
	return ut_proc_exe(pid, buf, len) == 0 && buf[0] ? buf : "a new program";
}

bool ut_proc_exe_is_elf64(pid_t pid, uint16_t machine)
{
	char path[64];
	Elf64_Ehdr eh;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	n = read(fd, &eh, sizeof(eh));
	close(fd);
	return n == (ssize_t)sizeof(eh) && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
	       eh.e_machine == machine;
}
