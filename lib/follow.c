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
#include "utrace/log.h"

/*
 * Everything of the present image: its events (every slot closed, so calls
 * left open get their unwind events), its losses, its data area and probes.
 */
void ut_session_retire(struct ut_session *s)
{
	struct ut_stats st = { 0 };

	ut_lock(s);
	ut_drain(s);
	for (size_t i = 0; i < s->nthreads; i++)
		if (s->threads[i].slot != UT_NO_SLOT)
			ut_slot_free(s, &s->threads[i], UT_SLOT_END_GONE);
	if (s->consumer) {
		utrace_consumer_stats(s->consumer, &st);
		if (ut_output_retire_stats(s, &st) < 0)
			ut_warn("out of memory: the losses of process %d's last program are not counted",
				s->pid);
		utrace_consumer_free(s->consumer);
		s->consumer = NULL;
	}
	ut_release_data(s);
	ut_probes_free(s);
	ut_rtld_free(s); /* the exec took our int3 with the old image */
	s->no_returns = NULL;
	s->area_addr = 0;
	s->geo = (struct ut_geometry){ 0 }; /* the next image's is made for it */
	s->injected = false;
	free(s->gid);
	s->gid = NULL;
	s->ngid = 0;
	ut_unlock(s);
}

/*
 * Only the exec'ing thread is left of the process, under the leader's tid;
 * the others' exits may still be reported (unknown tids are adopted and
 * reaped).  Tasks of other processes stay.
 */
static void keep_only(struct ut_session *s, pid_t tid)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nthreads; i++) {
		struct ut_thread *t = &s->threads[i];

		if (t->pid == s->pid && t->tid != tid)
			continue;
		s->threads[n++] = *t;
	}
	s->nthreads = n;
}

const char *ut_exe_name(pid_t pid, char *buf, size_t len)
{
	return ut_proc_exe(pid, buf, len) == 0 && buf[0] ? buf : "a new program";
}

bool ut_runs_x86_64(pid_t pid)
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
	       eh.e_machine == EM_X86_64;
}

int ut_exec_follow(struct ut_session *s, struct ut_thread *t)
{
	char exe[PATH_MAX];
	pid_t tid = t->tid;

	ut_session_retire(s);
	keep_only(s, tid);
	t = ut_thread_find(s, tid);
	if (!t)
		return -ESRCH;
	t->pid = s->pid;
	s->mm_pid = s->pid; /* the exec'ing thread took the leader's tid: a zombie no more */
	t->exiting = t->in_vfork = t->group_stop = t->interrupted = false;
	t->state = UT_THREAD_STOPPED;
	s->images++;
	ut_info("process %d executed %s: following it", s->pid,
		ut_exe_name(s->pid, exe, sizeof(exe)));
	return ut_set_entry_breakpoint(s, tid);
}

int ut_install_nothing(struct ut_session *s, int err)
{
	const char *why = utrace_error_last();
	char exe[PATH_MAX];

	ut_warn("process %d executed %s: %s; following it untraced", s->pid,
		ut_exe_name(s->pid, exe, sizeof(exe)), why ? why : strerror(-err));
	utrace_error_clear();
	ut_session_retire(s);
	return 0;
}
