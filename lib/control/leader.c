// SPDX-License-Identifier: MIT
/*
 * A zombie leader: the main thread called pthread_exit while other threads
 * run on.  Until the last thread exits it stays listed in /proc/PID/task, in
 * state 'Z', and it can neither be seized (EPERM) nor report a stop.  It has
 * no memory, files or maps any more: /proc/PID/{maps,mem,auxv,exe,fd,stat}
 * are empty or fail.  The session reaches the process through p->mm_pid, a
 * live thread of it, and ends when its last traced thread is gone.
 */
#include "control.h"

/* Keep p->mm_pid on a task whose /proc entries still show the process's memory. */
void ut_mm_pid_update(struct ut_proc *p)
{
	if (ut_thread_find(p, p->pid) || !p->nthreads)
		p->mm_pid = p->pid;
	else if (p->mm_pid == p->pid || !ut_thread_find(p, p->mm_pid))
		for (size_t i = 0; i < p->nthreads; i++)
			if (p->threads[i].pid == p->pid && !p->threads[i].exiting) {
				p->mm_pid = p->threads[i].tid;
				break;
			}
}

/* Attached to a process whose leader was a zombie: it is gone with its last thread. */
bool ut_leader_gone_with(const struct ut_proc *p, const struct ut_thread *t)
{
	if (t->tid == p->pid)
		return true;
	if (p->launched || t->pid != p->pid || ut_thread_find((struct ut_proc *)p, p->pid))
		return false;
	for (size_t i = 0; i < p->nthreads; i++)
		if (&p->threads[i] != t && p->threads[i].pid == p->pid)
			return false;
	return true;
}
