// SPDX-License-Identifier: MIT
/*
 * The views of a trace directory: replay, report, dump and info.  They
 * share the options that say which trace (-d), where to (-o) and which
 * events (the filters); each then hands the filtered events to its format.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "log.h"
#include "view.h"
#include "base.h"

#define MAX_FILTER_NS (3600ULL * NSEC_PER_SEC)

enum view_kind { VIEW_REPLAY, VIEW_REPORT, VIEW_DUMP, VIEW_INFO };
enum dump_format { DUMP_NONE, DUMP_JSON, DUMP_CHROME, DUMP_FOLDED };

struct view_cli {
	const char *cmd;
	enum view_kind kind;
	const char *dir, *output;
	struct ut_view_filter filter;
	struct ut_report_opts report;
	enum dump_format dump;
};

enum {
	OPT_TID = 256,
	OPT_THREADS,
	OPT_JSON,
	OPT_CHROME,
	OPT_FOLDED,
};

static const struct option view_opts[] = {
	{ "dir", required_argument, NULL, 'd' },
	{ "output", required_argument, NULL, 'o' },
	{ "depth", required_argument, NULL, 'D' },
	{ "time-filter", required_argument, NULL, 't' },
	{ "filter", required_argument, NULL, 'F' },
	{ "notrace", required_argument, NULL, 'N' },
	{ "tid", required_argument, NULL, OPT_TID },
	{ "sort", required_argument, NULL, 's' },
	{ "threads", no_argument, NULL, OPT_THREADS },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "chrome", no_argument, NULL, OPT_CHROME },
	{ "folded", no_argument, NULL, OPT_FOLDED },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

static void view_usage(FILE *f, const struct view_cli *v)
{
	cli_usage_head(f, v->cmd);
	fprintf(f, "options:\n"
		   "  -d, --dir DIR          the trace directory (default utrace.data)\n");
	if (v->kind == VIEW_INFO) {
		fprintf(f, "  -h, --help             this help\n");
		return;
	}
	fprintf(f, "  -o, --output FILE      write to FILE (default: standard output)\n"
		   "  -D, --depth N          only calls nested less than N deep\n"
		   "  -t, --time-filter TIME only calls that took at least TIME (e.g. 10us)\n"
		   "  -F, --filter GLOB      only what runs inside functions matching GLOB\n"
		   "                         (repeatable; depths count from them)\n"
		   "  -N, --notrace GLOB     hide functions matching GLOB and what they call\n"
		   "                         (repeatable)\n"
		   "      --tid TID          only thread TID (repeatable)\n");
	if (v->kind == VIEW_REPORT)
		fprintf(f,
			"  -s, --sort KEY         total (default), self, calls, avg, max or name\n"
			"      --threads          one table per thread\n");
	if (v->kind == VIEW_DUMP)
		fprintf(f,
			"      --json             JSON Lines, as 'utrace run --json' writes\n"
			"      --chrome           Trace Event Format (Perfetto, chrome://tracing)\n"
			"      --folded           folded stacks weighted by time (flame graphs)\n");
	fprintf(f, "  -h, --help             this help\n");
}

static int add_str(const char ***v, size_t *n, const char *s)
{
	const char **d = realloc(*v, (*n + 1) * sizeof(*d));

	if (!d)
		return -1;
	d[(*n)++] = s;
	*v = d;
	return 0;
}

static int add_tid(struct ut_view_filter *f, const char *s)
{
	pid_t tid, *d;

	if (cli_parse_pid(s, &tid) < 0)
		return -1;
	d = realloc(f->tids, (f->ntids + 1) * sizeof(*d));
	if (!d)
		return -1;
	d[f->ntids++] = tid;
	f->tids = d;
	return 0;
}

static int parse_depth(const char *s, uint32_t *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v <= 0 || v > (long)UINT32_MAX / 2)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int set_dump(struct view_cli *v, enum dump_format d)
{
	if (v->kind != VIEW_DUMP)
		return -1;
	if (v->dump != DUMP_NONE && v->dump != d) {
		cli_error("dump: one of --json, --chrome, --folded");
		return -2;
	}
	v->dump = d;
	return 0;
}

/* 0 taken; -1 not an option of this view; -2 a bad value (said). */
static int view_option(struct view_cli *v, int opt, const char *arg)
{
	struct ut_view_filter *f = &v->filter;
	int k;

	if (v->kind == VIEW_INFO && opt != 'd')
		return -1;
	switch (opt) {
	case 'd':
		v->dir = arg;
		return 0;
	case 'o':
		v->output = arg;
		return 0;
	case 'D':
		if (parse_depth(arg, &f->max_depth) == 0)
			return 0;
		cli_error("%s: -D %s: need a depth from 1", v->cmd, arg);
		return -2;
	case 't':
		if (cli_parse_duration(arg, MAX_FILTER_NS, &f->min_ns) == 0)
			return 0;
		cli_error("%s: -t %s: need a time from 1ns to 1h (e.g. 10us, 2ms)", v->cmd, arg);
		return -2;
	case 'F':
		return add_str(&f->only, &f->nonly, arg) < 0 ? -2 : 0;
	case 'N':
		return add_str(&f->hide, &f->nhide, arg) < 0 ? -2 : 0;
	case OPT_TID:
		if (add_tid(f, arg) == 0)
			return 0;
		cli_error("%s: --tid %s: not a thread id", v->cmd, arg);
		return -2;
	case 's':
		if (v->kind != VIEW_REPORT)
			return -1;
		k = ut_report_key_parse(arg);
		if (k >= 0) {
			v->report.key = (enum ut_report_key)k;
			return 0;
		}
		cli_error("report: unknown sort key '%s' (total, self, calls, avg, max, name)",
			  arg);
		return -2;
	case OPT_THREADS:
		if (v->kind != VIEW_REPORT)
			return -1;
		v->report.threads = true;
		return 0;
	case OPT_JSON:
		return set_dump(v, DUMP_JSON);
	case OPT_CHROME:
		return set_dump(v, DUMP_CHROME);
	case OPT_FOLDED:
		return set_dump(v, DUMP_FOLDED);
	default:
		return -1;
	}
}

static void view_cli_free(struct view_cli *v)
{
	free(v->filter.only);
	free(v->filter.hide);
	free(v->filter.tids);
}

/* 0 parsed; 1 help printed; -1 error said. */
static int view_parse(struct view_cli *v, int argc, char **argv)
{
	int opt, r;

	v->cmd = argv[0];
	v->dir = UT_TRACE_DEFAULT_DIR;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":d:o:D:t:F:N:s:h", view_opts, NULL)) != -1) {
		if (opt == 'h') {
			view_usage(stdout, v);
			return 1;
		}
		if (opt == '?' || opt == ':') {
			cli_option_error(v->cmd, opt, argv);
			return -1;
		}
		r = view_option(v, opt, optarg);
		if (r == -1)
			cli_error("%s: unknown option '%s' (try 'utrace %s --help')", v->cmd,
				  argv[optind - 1], v->cmd);
		if (r < 0)
			return -1;
	}
	if (optind < argc) {
		cli_error("%s: unexpected argument '%s' (the trace is given with -d DIR)", v->cmd,
			  argv[optind]);
		return -1;
	}
	if (v->kind == VIEW_DUMP && v->dump == DUMP_NONE) {
		cli_error("dump: say which format: --json, --chrome or --folded");
		return -1;
	}
	return 0;
}

/* A writer of run's formats fed from the view, with the trace's losses at the end. */
static int run_writer(struct ut_view *view, struct ut_trace *t, enum ut_format fmt, FILE *out)
{
	size_t nfuncs;
	const struct ut_func_info *funcs = ut_trace_func_infos(t, &nfuncs);
	struct ut_writer *w = utrace_writer_new(fmt, out, funcs, nfuncs);
	struct ut_event ev;
	int r = w ? 0 : -ENOMEM;

	while (r == 0 && (r = ut_view_next(view, &ev)) > 0)
		r = utrace_writer_event(w, &ev);
	if (r == 0)
		r = utrace_writer_finish(w, ut_trace_stats(t));
	utrace_writer_free(w);
	return r;
}

static int show(struct view_cli *v, struct ut_trace *t, FILE *out)
{
	struct ut_view *view;
	int r;

	if (v->kind == VIEW_INFO)
		return cli_print_info(t, out);
	r = ut_view_new(&view, t, &v->filter);
	if (r < 0)
		return r;
	if (v->kind == VIEW_REPLAY)
		r = run_writer(view, t, UT_FORMAT_TEXT, out);
	else if (v->kind == VIEW_REPORT)
		r = ut_view_report(view, t, &v->report, out);
	else if (v->dump == DUMP_JSON)
		r = run_writer(view, t, UT_FORMAT_JSON, out);
	else if (v->dump == DUMP_CHROME)
		r = ut_view_chrome(view, t, out);
	else
		r = ut_view_folded(view, t, out);
	ut_view_free(view);
	return r;
}

static int view_main(enum view_kind kind, int argc, char **argv)
{
	struct view_cli v = { .kind = kind };
	struct ut_trace *t = NULL;
	FILE *out = stdout;
	int r = view_parse(&v, argc, argv);

	if (r) {
		view_cli_free(&v);
		return r > 0 ? 0 : EXIT_UTRACE_ERROR;
	}
	cli_log_init(0);
	r = ut_trace_open(&t, v.dir);
	if (r == 0 && !ut_trace_complete(t))
		cli_error("warning: %s: utrace did not finish this trace (killed?): it ends "
			  "where utrace stopped, and its losses are unknown",
			  v.dir);
	if (r == 0 && v.output && !(out = fopen(v.output, "we"))) {
		r = -errno;
		cli_error("cannot write %s: %s", v.output, strerror(-r));
		out = NULL;
	} else if (r == 0) {
		r = show(&v, t, out);
		if (fflush(out) && r == 0)
			r = -EIO;
	}
	if (r == -EIO && out && !utrace_error_last())
		cli_error("%s: cannot write the output", v.cmd);
	else if (r < 0 && out)
		cli_lib_error(r, v.cmd);
	if (out && out != stdout)
		fclose(out);
	ut_trace_close(t);
	view_cli_free(&v);
	return r < 0 ? EXIT_UTRACE_ERROR : 0;
}

int cmd_replay(int argc, char **argv)
{
	return view_main(VIEW_REPLAY, argc, argv);
}

int cmd_report(int argc, char **argv)
{
	return view_main(VIEW_REPORT, argc, argv);
}

int cmd_dump(int argc, char **argv)
{
	return view_main(VIEW_DUMP, argc, argv);
}

int cmd_info(int argc, char **argv)
{
	return view_main(VIEW_INFO, argc, argv);
}
