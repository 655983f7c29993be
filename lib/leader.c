// SPDX-License-Identifier: MIT
/*
 * A zombie leader: the main thread called pthread_exit while other threads
 * run on.  Until the last thread exits it stays listed in /proc/PID/task, in
 * state 'Z', and it can neither be seized (EPERM) nor report a stop.  It has
 * no memory, files or maps any more: /proc/PID/{maps,mem,auxv,exe,fd,stat}
 * are empty or fail.  The session reaches the process through s->mm_pid, a
 * live thread of it, and ends when its last traced thread is gone.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tracer.h"

/* The state letter of /proc/PID/task/TID/stat ('Z', 'R', ...), 0 when unknown. */
static char task_state(pid_t pid, pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", (int)pid, (int)tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* comm may hold spaces and parentheses: the state follows the last ')' */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

bool ut_task_is_zombie(pid_t pid, pid_t tid)
{
	return task_state(pid, tid) == 'Z';
}

/* Keep s->mm_pid on a task whose /proc entries still show the process's memory. */
void ut_mm_pid_update(struct ut_session *s)
{
	if (ut_thread_find(s, s->pid) || !s->nthreads)
		s->mm_pid = s->pid;
	else if (s->mm_pid == s->pid || !ut_thread_find(s, s->mm_pid))
		for (size_t i = 0; i < s->nthreads; i++)
			if (s->threads[i].pid == s->pid && !s->threads[i].exiting) {
				s->mm_pid = s->threads[i].tid;
				break;
			}
}

/* Attached to a process whose leader was a zombie: it is gone with its last thread. */
bool ut_leader_gone_with(const struct ut_session *s, const struct ut_thread *t)
{
	if (t->tid == s->pid)
		return true;
	if (s->launched || t->pid != s->pid || ut_thread_find((struct ut_session *)s, s->pid))
		return false;
	for (size_t i = 0; i < s->nthreads; i++)
		if (&s->threads[i] != t && s->threads[i].pid == s->pid)
			return false;
	return true;
}
