// SPDX-License-Identifier: MIT
/*
 * A session is composed of the lower layers' parts (tracer.h); each part
 * points at the parts below it that it reads, and keeps its own copy of
 * what the user asked of it.  Made once for every session: the one we
 * start and each followed child's.
 */
#include "tracer.h"

void ut_session_parts_link(struct ut_session *s)
{
	const struct ut_session_opts *o = &s->opts;

	s->pr.proc = &s->proc;
	s->pr.filter = o->filter;
	s->pr.mode = o->probe_mode;
	s->pr.patch_call = o->patch_call;
	s->pr.protos = o->record_args || o->record_retval;
	s->pr.specs = o->argspecs;
	s->pr.debug_dir = o->debug_dir;
	s->pr.srcline = o->srcline;
	s->pr.stack_funcs = o->stack_funcs;
	s->pr.nstack_funcs = o->nstack_funcs;
	s->pr.caller_funcs = o->caller_funcs;
	s->pr.ncaller_funcs = o->ncaller_funcs;
	s->inj.pr = &s->pr;
	s->inj.tsc = &s->tsc;
	s->inj.opts = (struct ut_inject_opts){
		.nslots = o->nslots,
		.ring_size = o->ring_size,
		.rstack_depth = o->rstack_depth,
		.record_args = o->record_args,
		.record_retval = o->record_retval,
		.block_timeout_ns = o->block_timeout_ns,
		.str_max = o->str_max,
		.stack_bytes = o->nstack_funcs ? o->stack_bytes : 0,
		.caller_only = o->ncaller_funcs > 0,
	};
}
