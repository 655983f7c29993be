// SPDX-License-Identifier: MIT
/*
 * A zombie leader: the main thread called pthread_exit while other threads
 * run on.  Until the last thread exits it stays listed in /proc/PID/task, in
 * state 'Z', and it can neither be seized (EPERM) nor report a stop.  It has
 * no memory, files or maps any more: /proc/PID/{maps,mem,auxv,exe,fd,stat}
 * are empty or fail.  The session reaches the process through s->mm_pid, a
 * live thread of it, and ends when its last traced thread is gone.
 */
#include "procfs.h"
#include "tracer.h"

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
