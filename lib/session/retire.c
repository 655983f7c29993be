// SPDX-License-Identifier: MIT
/*
 * The end of an image: what the session had of the program it traced goes
 * when the process executes another one (follow.c) or when a program
 * cannot be traced (utrace follows it untraced).  Its events are drained
 * and its calls left open closed, its losses kept for the summary, its
 * data area, probes and function ids dropped.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"
#include "tracer.h"
#include "log.h"

/*
 * Everything of the present image: its events (every slot closed, so calls
 * left open get their unwind events), its losses, its data area and probes.
 */
void ut_session_retire(struct ut_session *s)
{
	struct ut_stats st = { 0 };

	ut_lock(s);
	ut_drain(s);
	for (size_t i = 0; i < s->proc.nthreads; i++)
		if (s->proc.threads[i].slot != UT_NO_SLOT)
			ut_slot_free(s, &s->proc.threads[i], UT_SLOT_END_GONE);
	if (s->consumer) {
		utrace_consumer_stats(s->consumer, &st);
		if (ut_output_retire_stats(s, &st) < 0)
			ut_warn("out of memory: the losses of process %d's last program are not counted",
				s->proc.pid);
		utrace_consumer_free(s->consumer);
		s->consumer = NULL;
	}
	ut_stacks_free(&s->stacks); /* its mappings were the old image's */
	ut_release_data(&s->inj);
	ut_probes_free(&s->pr);
	ut_rtld_free(s);
	/* the exec took our breakpoints (r_brk's, an entry point's) with the old image */
	s->bps.n = 0;
	s->pr.no_returns = NULL;
	s->inj.area_addr = 0;
	s->inj.geo = (struct ut_geometry){ 0 }; /* the next image's is made for it */
	s->injected = false;
	free(s->gid);
	s->gid = NULL;
	s->ngid = 0;
	ut_unlock(s);
}

int ut_install_nothing(struct ut_session *s, int err)
{
	const char *why = utrace_error_last();
	char exe[PATH_MAX];

	ut_warn("process %d executed %s: %s; following it untraced", s->proc.pid,
		ut_proc_exe_name(s->proc.pid, exe, sizeof(exe)), why ? why : strerror(-err));
	utrace_error_clear();
	ut_session_retire(s);
	return 0;
}
