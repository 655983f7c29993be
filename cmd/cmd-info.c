// SPDX-License-Identifier: MIT
/* utrace info: what a trace says about itself, one "key: value" line each. */
#include <string.h>
#include <time.h>

#include "cli.h"

#define ASCII_SPACE 0x20
#define ASCII_DEL 0x7f

/* s with control bytes as '?': names come from the traced program's files. */
static void put_visible(FILE *out, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		fputc(*p < ASCII_SPACE || *p == ASCII_DEL ? '?' : *p, out);
}

static void print_start(FILE *out, uint64_t realtime_ns)
{
	time_t sec = (time_t)(realtime_ns / 1000000000ULL);
	struct tm tm;
	char buf[64];

	if (gmtime_r(&sec, &tm) && strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm))
		fprintf(out, "start:          %s.%06llu UTC\n", buf,
			(unsigned long long)(realtime_ns % 1000000000ULL / 1000));
}

static void print_losses(FILE *out, const struct ut_trace *t)
{
	const struct ut_stats *st = ut_trace_stats(t);

	if (!ut_trace_complete(t)) {
		fprintf(out, "complete:       no (utrace did not finish it: losses unknown)\n");
		return;
	}
	fprintf(out, "complete:       yes\n");
	fprintf(out, "events:         %llu\n", (unsigned long long)st->events);
	fprintf(out, "dropped:        %llu\n", (unsigned long long)st->drops);
	fprintf(out, "waits:          %llu (%.3f ms)\n", (unsigned long long)st->waits,
		(double)st->wait_ns / 1e6);
	fprintf(out, "torn, invalid:  %llu, %llu\n", (unsigned long long)st->torn,
		(unsigned long long)st->invalid);
	if (st->stopped)
		fprintf(out, "stopped:        %s\n", st->stopped);
}

/* A thread is named again when it ends: its last line counts. */
static bool named_later(const struct ut_trace_task *tasks, size_t ntasks, size_t i)
{
	for (size_t j = i + 1; j < ntasks; j++)
		if (tasks[j].tid == tasks[i].tid)
			return true;
	return false;
}

static void print_threads(FILE *out, const struct ut_trace_task *tasks, size_t ntasks)
{
	size_t n = 0;

	for (size_t i = 0; i < ntasks; i++)
		n += !named_later(tasks, ntasks, i);
	fprintf(out, "threads:        %zu\n", n);
	for (size_t i = 0; i < ntasks; i++)
		if (!named_later(tasks, ntasks, i)) {
			fprintf(out, "  %d/%d ", tasks[i].pid, tasks[i].tid);
			put_visible(out, tasks[i].comm);
			fputc('\n', out);
		}
}

static void print_funcs(FILE *out, const struct ut_trace_func *funcs, size_t nfuncs)
{
	for (size_t i = 0; i < nfuncs; i++) {
		fprintf(out, "  func %zu ", i);
		put_visible(out, funcs[i].info.name);
		fputc(' ', out);
		put_visible(out, funcs[i].info.module);
		fprintf(out, " 0x%llx ", (unsigned long long)funcs[i].info.addr);
		put_visible(out, funcs[i].build_id[0] ? funcs[i].build_id : "-");
		fputc(' ', out);
		put_visible(out, funcs[i].probe);
		fputc('\n', out);
	}
}

int cli_print_info(const struct ut_trace *t, FILE *out)
{
	const struct ut_trace_meta *m = ut_trace_meta(t);
	const struct ut_trace_task *tasks;
	const struct ut_trace_func *funcs;
	size_t ntasks, nfuncs, kinds[4] = { 0 };

	tasks = ut_trace_tasks(t, &ntasks);
	funcs = ut_trace_funcs(t, &nfuncs);
	fprintf(out, "trace version:  %d\n", UT_TRACE_VERSION);
	fprintf(out, "utrace version: %s\n", m->utrace_version ? m->utrace_version : "?");
	fprintf(out, "command:        ");
	put_visible(out, m->cmdline ? m->cmdline : "");
	fputc('\n', out);
	fprintf(out, "pid:            %d\n", m->pid);
	print_start(out, m->start_realtime_ns);
	fprintf(out, "clock:          CLOCK_MONOTONIC ns (TSC: %.6f ns per tick)\n",
		m->ns_per_tick);
	fprintf(out, "recorded:       entries and exits%s%s\n", m->args ? ", arguments" : "",
		m->retval ? ", return values" : "");
	fprintf(out, "probes:         %s\n", m->probe_mode ? m->probe_mode : "?");
	for (size_t i = 0; i < nfuncs; i++) {
		const char *p = funcs[i].probe;

		kinds[!strcmp(p, "int3")			  ? 1 :
		      !strcmp(p, "jmp") || !strcmp(p, "callstub") ? 2 :
		      !strcmp(p, "call")			  ? 3 :
								    0]++;
	}
	fprintf(out, "functions:      %zu (%zu jmp, %zu call, %zu int3)\n", nfuncs, kinds[2],
		kinds[3], kinds[1]);
	print_losses(out, t);
	print_threads(out, tasks, ntasks);
	print_funcs(out, funcs, nfuncs);
	return 0;
}
