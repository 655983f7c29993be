// SPDX-License-Identifier: MIT
/*
 * Following a traced process into the programs it executes (--follow-exec).
 *
 * An exec replaces the whole image: the threads but the exec'ing one (which
 * the kernel gives the leader's tid), the patched text, our code areas and
 * the tracee's mapping of the data area are gone.  Our own mapping of the
 * memfd survives it, so the rings are drained at the exec event, then every
 * per-image piece of the session is dropped and the new program is treated
 * as `run` treats the first one: an int3 at its AT_ENTRY, where ld.so has
 * loaded its libraries, and the probes installed there with the same
 * patterns.
 *
 * Function ids are per image; sink.c maps them to the trace's table.
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "procfs.h"
#include "tracer.h"
#include "log.h"

/*
 * Only the exec'ing thread is left of the process, under the leader's tid;
 * the others' exits may still be reported (unknown tids are adopted and
 * reaped).  Tasks of other processes stay.
 */
static void keep_only(struct ut_session *s, pid_t tid)
{
	size_t n = 0;

	for (size_t i = 0; i < s->proc.nthreads; i++) {
		struct ut_thread *t = &s->proc.threads[i];

		if (t->pid == s->proc.pid && t->tid != tid)
			continue;
		s->proc.threads[n++] = *t;
	}
	s->proc.nthreads = n;
}

int ut_exec_follow(struct ut_session *s, struct ut_thread *t)
{
	char exe[PATH_MAX];
	pid_t tid = t->tid;

	ut_session_retire(s);
	keep_only(s, tid);
	t = ut_thread_find(&s->proc, tid);
	if (!t)
		return -ESRCH;
	t->pid = s->proc.pid;
	s->proc.mm_pid =
		s->proc.pid; /* the exec'ing thread took the leader's tid: a zombie no more */
	t->exiting = t->in_vfork = t->group_stop = t->interrupted = false;
	t->state = UT_THREAD_STOPPED;
	s->images++;
	ut_info("process %d executed %s: following it", s->proc.pid,
		ut_proc_exe_name(s->proc.pid, exe, sizeof(exe)));
	return ut_set_entry_breakpoint(s, tid);
}
