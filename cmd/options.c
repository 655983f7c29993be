// SPDX-License-Identifier: MIT
/*
 * Options shared by the subcommands.  GNU getopt_long permutation: options
 * may stand before or after the program, and "--" ends them, so
 * `utrace run ./prog -f foo` traces foo and `utrace run -f foo -- ./prog -f x`
 * passes -f x to the program.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "cli.h"
#include "items.h"
#include "log.h"

#define DEFAULT_RING_SIZE (8U << 20)
/*
 * Calls live at once per thread: 100,000-deep recursion must fit.  The area
 * is sparse: only the entries a thread reaches take memory (32 bytes each).
 */
#define DEFAULT_RSTACK_DEPTH (1U << 17)
#define DEFAULT_NSLOTS 128U
#define MIN_RING_SIZE 4096U
#define MIN_STACK_COPY 64U
#define DEFAULT_STR_MAX 64U
#define DEFAULT_STACK_COPY 4096U
#define MAX_RING_SIZE (1U << 30)
#define MAX_NSLOTS 4096U
/* How long a full ring holds a thread up before it drops: the tracer is gone or stuck. */
#define DEFAULT_BLOCK_TIMEOUT_NS 1000000000ULL
#define MAX_BLOCK_TIMEOUT_NS (3600ULL * 1000000000ULL)
#define MAX_DURATION_NS (7ULL * 24 * 3600 * 1000000000ULL)

enum {
	OPT_FIRST_LONG = 256,
	OPT_FORMAT = OPT_FIRST_LONG,
	OPT_JSON,
	OPT_BUFSIZE,
	OPT_MAX_THREADS,
	OPT_PROBE,
	OPT_PATCH,
	OPT_FOLLOW_EXEC,
	OPT_NO_FOLLOW_EXEC,
	OPT_LOSSY,
	OPT_BLOCK_TIMEOUT,
	OPT_ARGS,
	OPT_RETVAL,
	OPT_DEBUG_DIR,
	OPT_SRCLINE,
	OPT_STACK,
	OPT_CALLER,
	OPT_STRING_SIZE,
	OPT_STACK_SIZE,
	OPT_MAX_EVENTS,
	OPT_DURATION,
};

static const struct option long_opts[] = {
	{ "function", required_argument, NULL, 'f' },
	{ "notrace", required_argument, NULL, 'N' },
	{ "output", required_argument, NULL, 'o' },
	{ "format", required_argument, NULL, OPT_FORMAT },
	{ "json", no_argument, NULL, OPT_JSON },
	{ "args", no_argument, NULL, OPT_ARGS },
	{ "retval", no_argument, NULL, OPT_RETVAL },
	{ "argument", required_argument, NULL, 'A' },
	{ "return", required_argument, NULL, 'R' },
	{ "debug-dir", required_argument, NULL, OPT_DEBUG_DIR },
	{ "srcline", no_argument, NULL, OPT_SRCLINE },
	{ "stack", required_argument, NULL, OPT_STACK },
	{ "caller", required_argument, NULL, OPT_CALLER },
	{ "string-size", required_argument, NULL, OPT_STRING_SIZE },
	{ "stack-size", required_argument, NULL, OPT_STACK_SIZE },
	{ "bufsize", required_argument, NULL, OPT_BUFSIZE },
	{ "lossy", no_argument, NULL, OPT_LOSSY },
	{ "block-timeout", required_argument, NULL, OPT_BLOCK_TIMEOUT },
	{ "max-threads", required_argument, NULL, OPT_MAX_THREADS },
	{ "max-events", required_argument, NULL, OPT_MAX_EVENTS },
	{ "duration", required_argument, NULL, OPT_DURATION },
	{ "probe", required_argument, NULL, OPT_PROBE },
	{ "patch", required_argument, NULL, OPT_PATCH },
	{ "follow-exec", no_argument, NULL, OPT_FOLLOW_EXEC },
	{ "no-follow-exec", no_argument, NULL, OPT_NO_FOLLOW_EXEC },
	{ "follow-fork", no_argument, NULL, 'F' },
	{ "dir", required_argument, NULL, 'd' },
	{ "pid", required_argument, NULL, 'p' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 },
};

void cli_usage_head(FILE *f, const char *cmd)
{
	for (const struct cli_command *c = cli_commands; c->name; c++)
		if (!strcmp(c->name, cmd))
			fprintf(f, "usage: utrace %s\n  %s\n\n", c->synopsis, c->summary);
}

void cli_usage(FILE *f, const char *cmd)
{
	bool record = !strcmp(cmd, "record");

	cli_usage_head(f, cmd);
	fprintf(f,
		"options (before or after the program; '--' ends them):\n"
		"  -f, --function [MODULE:]GLOB  trace matching functions (repeatable); without\n"
		"                                MODULE, in the main executable, else in its\n"
		"                                libraries; C++ names with or without parameters\n"
		"  -N, --notrace [MODULE:]GLOB   do not trace matching functions (repeatable)\n");
	if (record)
		fprintf(f,
			"  -d, --dir DIR                 the trace directory (default utrace.data)\n"
			"  -p, --pid PID                 attach to process PID instead of running a\n"
			"                                program\n");
	else
		fprintf(f,
			"  -o, --output FILE             write the trace to FILE (default: stderr)\n"
			"      --format text|json|summary  call graph (default), JSON Lines, or one\n"
			"                                line per function (calls, returns, times)\n"
			"      --json                    same as --format json\n");
	fprintf(f,
		"      --args                    record each call's six argument registers\n"
		"                                (rdi rsi rdx rcx r8 r9), typed from DWARF\n"
		"      --retval                  record each return's value (rax), typed from DWARF\n"
		"  -A, --argument FUNC@ARGS      show FUNC's arguments so (repeatable): ARGS like\n"
		"                                arg1/d,arg2/s,arg3/x (d u x c s p; d32, u8...)\n"
		"  -R, --return FUNC@retval/FMT  show FUNC's return value so (repeatable)\n"
		"      --string-size N           bytes of a char * argument recorded (default 64)\n"
		"      --stack [MODULE:]GLOB     trace these functions, each entry with its caller\n"
		"                                chain (repeatable)\n"
		"      --stack-size SIZE         bytes of stack copied for --stack (default 4K)\n"
		"      --caller [MODULE:]GLOB    record only calls made inside a call of these\n"
		"                                functions, and those calls (repeatable)\n"
		"      --srcline                 the file and line of each function (DWARF)\n"
		"      --debug-dir DIR           separate debug files by build-id or debuglink\n"
		"                                under DIR (default /usr/lib/debug)\n"
		"      --bufsize SIZE            event ring per thread, power of two (default 8M)\n"
		"      --block-timeout TIME      a thread waiting for room in its full ring drops\n"
		"                                and counts once utrace drained nothing for this\n"
		"                                long (default 1s; units ns, us, ms, s)\n"
		"      --lossy                   never wait on a full ring: drop and count\n"
		"      --max-threads N           threads traced at once, power of two (default 128)\n"
		"      --max-events N            stop tracing once N events are recorded: detach\n"
		"                                as attach does on SIGINT (run still waits for\n"
		"                                the program and exits with its status)\n"
		"      --duration TIME           the same, TIME after tracing began (e.g. 10s,\n"
		"                                500ms; units ns, us, ms, s)\n"
		"      --probe=auto|int3         5-byte patches where safe, else int3 (auto, the\n"
		"                                default); or int3 probes everywhere\n"
		"      --patch=jmp|call          over a prologue, write `jmp stub` (default) or, to\n"
		"                                measure the difference, `call stub`\n"
		"      --follow-exec             after the program executes another, trace that one\n"
		"                                from its entry point with the same patterns\n"
		"                                (default in run; attach lets go of the process)\n"
		"      --no-follow-exec          stop tracing a process when it executes a program\n"
		"  -F, --follow-fork             trace the children the program forks too (each with\n"
		"                                its own rings; events carry their pid); with\n"
		"                                --follow-exec, also what vfork/posix_spawn children\n"
		"                                execute\n"
		"  -v, --verbose                 say more about what utrace does\n"
		"  -h, --help                    this help\n");
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("utrace: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void cli_lib_error(int err, const char *what)
{
	const char *why = utrace_error_last();

	if (why)
		cli_error("%s", why);
	else
		cli_error("%s: %s", what, strerror(-err));
}

static void log_to_stderr(enum ut_log_level level, const char *msg)
{
	fprintf(stderr, "utrace: %s%s\n", level == UT_LOG_DEBUG ? "debug: " : "", msg);
}

void cli_log_init(int verbose)
{
	utrace_log_set(log_to_stderr, verbose > 1 ? UT_LOG_DEBUG :
				      verbose	  ? UT_LOG_INFO :
						    UT_LOG_WARN);
}

/* "64K", "1M", "4096": a power of two within bounds. */
static int parse_size(const char *s, uint64_t min, uint64_t max, uint32_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);

	if (end == s)
		return -1;
	if (*end == 'K' || *end == 'k')
		v <<= 10, end++;
	else if (*end == 'M' || *end == 'm')
		v <<= 20, end++;
	else if (*end == 'G' || *end == 'g')
		v <<= 30, end++;
	if (*end || v < min || v > max || (v & (v - 1)))
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/*
 * The function part of [MODULE:]GLOB: a single ':' ends the module; the
 * '::' of C++ names do not.
 */
static const char *func_part(const char *spec)
{
	for (const char *p = spec; *p; p++) {
		if (p[0] == ':' && p[1] == ':') {
			p++;
			continue;
		}
		if (*p == ':')
			return p + 1;
	}
	return spec;
}

/* --stack, --caller: the function is traced, and named in the option's list. */
static int add_named_func(struct cli *c, const char *opt, const char *spec, const char ***list,
			  size_t *n)
{
	const char **v;

	if (!*func_part(spec)) {
		cli_error("%s '%s': no function named", opt, spec);
		return -1;
	}
	v = realloc(*list, (*n + 1) * sizeof(*v));
	if (!v || utrace_filter_add(&c->filter, spec, false) < 0) {
		cli_lib_error(-ENOMEM, spec);
		if (v)
			*list = v;
		return -1;
	}
	v[(*n)++] = func_part(spec);
	*list = v;
	return 0;
}

int cli_parse_pid(const char *s, pid_t *pid)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v <= 0 || v > INT32_MAX)
		return -1;
	*pid = (pid_t)v;
	return 0;
}

int cli_parse_duration(const char *s, uint64_t max, uint64_t *out)
{
	static const struct {
		const char *suffix;
		double ns;
	} units[] = { { "ns", 1 }, { "us", 1e3 }, { "ms", 1e6 }, { "s", 1e9 }, { "", 1e9 } };
	char *end;
	double v = strtod(s, &end);

	if (end == s || !(v > 0))
		return -1;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		double ns = v * units[i].ns;

		if (strcmp(end, units[i].suffix))
			continue;
		if (ns < 1 || ns > (double)max)
			return -1;
		*out = (uint64_t)ns;
		return 0;
	}
	return -1;
}

/* A count: a decimal from 1 to UINT64_MAX, no sign; -ERANGE past it. */
static int parse_count(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno == ERANGE)
		return -ERANGE;
	if (*end || v == 0)
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_limit(struct cli *c, int opt, const char *arg)
{
	int e;

	if (opt == OPT_DURATION) {
		if (cli_parse_duration(arg, MAX_DURATION_NS, &c->duration_ns) == 0)
			return 0;
		cli_error("--duration %s: need a time from 1ns to a week (e.g. 10s, 500ms; units "
			  "ns, us, ms, s)",
			  arg);
		return -1;
	}
	e = parse_count(arg, &c->max_events);
	if (e == 0)
		return 0;
	if (e == -ERANGE)
		cli_error("--max-events %s: too large (at most %llu)", arg, ULLONG_MAX);
	else
		cli_error("--max-events %s: need a whole number of events, 1 or more", arg);
	return -1;
}

static int parse_format(const char *s, enum ut_format *f)
{
	if (!strcmp(s, "text"))
		*f = UT_FORMAT_TEXT;
	else if (!strcmp(s, "json"))
		*f = UT_FORMAT_JSON;
	else if (!strcmp(s, "summary"))
		*f = UT_FORMAT_SUMMARY;
	else
		return -1;
	return 0;
}

static int parse_one(struct cli *c, int opt, const char *arg)
{
	uint64_t count;

	switch (opt) {
	case 'f':
	case 'N':
		if (utrace_filter_add(&c->filter, arg, opt == 'N') < 0) {
			cli_lib_error(-EINVAL, arg);
			return -1;
		}
		return 0;
	case 'o':
		if (!strcmp(c->cmd, "record")) {
			cli_error("record: -o is for the live output of run and attach; the trace "
				  "goes to -d DIR");
			return -1;
		}
		c->output = arg;
		return 0;
	case OPT_FORMAT:
	case OPT_JSON:
		if (!strcmp(c->cmd, "record")) {
			cli_error("record: --format and --json are for the live output of run and "
				  "attach; the views read the trace (utrace dump --json)");
			return -1;
		}
		if (opt == OPT_JSON) {
			c->format = UT_FORMAT_JSON;
			return 0;
		}
		if (parse_format(arg, &c->format) == 0)
			return 0;
		cli_error("unknown format '%s' (text, json or summary)", arg);
		return -1;
	case OPT_BUFSIZE:
		if (parse_size(arg, MIN_RING_SIZE, MAX_RING_SIZE, &c->ring_size) == 0)
			return 0;
		cli_error("--bufsize %s: need a power of two from 4K to 1G", arg);
		return -1;
	case OPT_ARGS:
		c->record_args = true;
		return 0;
	case OPT_DEBUG_DIR:
		c->debug_dir = arg;
		return 0;
	case OPT_SRCLINE:
		c->srcline = true;
		return 0;
	case OPT_STACK:
	case OPT_CALLER:
		return add_named_func(c, opt == OPT_STACK ? "--stack" : "--caller", arg,
				      opt == OPT_STACK ? &c->stack_funcs : &c->caller_funcs,
				      opt == OPT_STACK ? &c->nstack_funcs : &c->ncaller_funcs);
	case OPT_STRING_SIZE:
		if (parse_count(arg, &count) == 0 && count <= UT_STR_MAX) {
			c->str_max = (uint32_t)count;
			return 0;
		}
		cli_error("--string-size %s: need a number of bytes from 1 to %u", arg, UT_STR_MAX);
		return -1;
	case OPT_STACK_SIZE:
		if (parse_size(arg, MIN_STACK_COPY, UT_STACK_COPY_MAX, &c->stack_bytes) == 0)
			return 0;
		cli_error("--stack-size %s: need a power of two from %u to 64K", arg,
			  MIN_STACK_COPY);
		return -1;
	case 'A':
	case 'R':
		if (utrace_argspec_add(&c->argspecs, arg, opt == 'R') < 0) {
			cli_lib_error(-EINVAL, arg);
			return -1;
		}
		/* a spec is asked for its words */
		*(opt == 'A' ? &c->record_args : &c->record_retval) = true;
		return 0;
	case OPT_RETVAL:
		c->record_retval = true;
		return 0;
	case OPT_LOSSY:
		c->lossy = true;
		return 0;
	case OPT_BLOCK_TIMEOUT:
		if (cli_parse_duration(arg, MAX_BLOCK_TIMEOUT_NS, &c->block_timeout_ns) == 0)
			return 0;
		cli_error("--block-timeout %s: need a time from 1ns to 1h (e.g. 1s, 200ms)", arg);
		return -1;
	case OPT_MAX_EVENTS:
	case OPT_DURATION:
		return parse_limit(c, opt, arg);
	case OPT_MAX_THREADS:
		if (parse_size(arg, 1, MAX_NSLOTS, &c->nslots) == 0)
			return 0;
		cli_error("--max-threads %s: need a power of two from 1 to %u", arg, MAX_NSLOTS);
		return -1;
	case OPT_PROBE:
		if (!strcmp(arg, "auto") || !strcmp(arg, "int3")) {
			c->probe_mode = arg[0] == 'a' ? UT_PROBE_MODE_AUTO : UT_PROBE_MODE_INT3;
			return 0;
		}
		cli_error("unknown probe kind '%s' (auto or int3)", arg);
		return -1;
	case OPT_PATCH:
		if (!strcmp(arg, "jmp") || !strcmp(arg, "call")) {
			c->patch_call = arg[0] == 'c';
			return 0;
		}
		cli_error("unknown patch '%s' (jmp or call)", arg);
		return -1;
	case OPT_FOLLOW_EXEC:
	case OPT_NO_FOLLOW_EXEC:
		c->follow_exec = opt == OPT_FOLLOW_EXEC;
		return 0;
	case 'F':
		c->follow_fork = true;
		return 0;
	case 'd':
	case 'p':
		if (strcmp(c->cmd, "record")) {
			cli_error("%s: -%c is an option of 'utrace record'", c->cmd, opt);
			return -1;
		}
		if (opt == 'd')
			c->dir = arg;
		else
			c->pid = arg;
		return 0;
	case 'v':
		c->verbose++;
		return 0;
	default:
		return -1;
	}
}

void cli_option_error(const char *cmd, int opt, char **argv)
{
	char name[3] = { '-', (char)optopt, 0 };
	/* optopt is the val of a long option: name it as it was written */
	const char *what = optopt > 0 && optopt < OPT_FIRST_LONG ? name : argv[optind - 1];

	if (opt == ':')
		cli_error("%s: option '%s' needs an argument (try 'utrace %s --help')", cmd, what,
			  cmd);
	else
		cli_error("%s: unknown option '%s' (try 'utrace %s --help')", cmd, what, cmd);
}

/*
 * An entry that carries strings and a stack copy takes many records, all
 * reserved at once: the ring must hold a few of them.  The bound: six
 * strings, the vector registers, the stack arguments and the stack copy
 * as items (shm.h), and the end, in the data records of 64-byte entries.
 */
static bool ring_holds_entries(const struct cli *c)
{
	uint32_t pay = ut_data_payload(UT_REC_ARGS_SIZE);
	uint64_t bytes = 6 * (uint64_t)ut_item_size(c->str_max) + ut_item_size(8 * 8) +
			 ut_item_size(UT_STKARGS_MAX) + sizeof(struct ut_item);

	if (c->nstack_funcs)
		bytes += ut_item_size((uint32_t)sizeof(struct ut_stack_regs) + c->stack_bytes);
	bytes = ((bytes + pay - 1) / pay + 1) * UT_REC_ARGS_SIZE;
	if (!c->record_args && !c->nstack_funcs)
		return true;
	if ((uint64_t)c->ring_size >= 4 * bytes)
		return true;
	cli_error("--bufsize %u: too small for entries of up to %llu bytes (--string-size, "
		  "--stack-size); need %llu or more",
		  c->ring_size, (unsigned long long)bytes, (unsigned long long)(4 * bytes));
	return false;
}

int cli_parse(int argc, char **argv, struct cli *c)
{
	int opt;

	memset(c, 0, sizeof(*c));
	c->cmd = argv[0];
	c->format = UT_FORMAT_TEXT;
	c->ring_size = DEFAULT_RING_SIZE;
	c->str_max = DEFAULT_STR_MAX;
	c->stack_bytes = DEFAULT_STACK_COPY;
	c->rstack_depth = DEFAULT_RSTACK_DEPTH;
	c->nslots = DEFAULT_NSLOTS;
	c->block_timeout_ns = DEFAULT_BLOCK_TIMEOUT_NS;
	c->follow_exec = -1;
	optind = 1;
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":f:N:o:d:p:vhFA:R:", long_opts, NULL)) != -1) {
		if (opt == '?' || opt == ':') {
			cli_option_error(c->cmd, opt, argv);
			goto fail;
		}
		if (opt == 'h') {
			cli_usage(stdout, c->cmd);
			cli_free(c);
			return 1;
		}
		if (parse_one(c, opt, optarg) < 0)
			goto fail;
	}
	if (!ring_holds_entries(c))
		goto fail;
	c->args = argv + optind;
	c->nargs = argc - optind;
	cli_log_init(c->verbose);
	return 0;
fail:
	cli_free(c);
	return -1;
}

void cli_free(struct cli *c)
{
	utrace_filter_free(&c->filter);
	utrace_argspec_free(&c->argspecs);
	free(c->stack_funcs);
	free(c->caller_funcs);
}

static int signals_to_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &set, NULL) < 0)
		return -1;
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

FILE *cli_session_begin(struct cli *c, struct ut_session_opts *o, const char *program)
{
	FILE *out = cli_output_open(c, program);

	if (!out)
		return NULL;
	memset(o, 0, sizeof(*o));
	o->filter = (struct ut_filter *)&c->filter;
	o->live = strcmp(c->cmd, "record") != 0;
	o->trace_dir = o->live ? NULL : c->dir ? c->dir : UT_TRACE_DEFAULT_DIR;
	o->format = c->format;
	o->out = out;
	o->ring_size = c->ring_size;
	o->rstack_depth = c->rstack_depth;
	o->nslots = c->nslots;
	o->record_args = c->record_args;
	o->record_retval = c->record_retval;
	o->stack_funcs = c->stack_funcs;
	o->nstack_funcs = c->nstack_funcs;
	o->caller_funcs = c->caller_funcs;
	o->ncaller_funcs = c->ncaller_funcs;
	o->str_max = c->str_max;
	o->stack_bytes = c->stack_bytes;
	o->argspecs = &c->argspecs;
	o->debug_dir = c->debug_dir;
	o->srcline = c->srcline;
	o->block_timeout_ns = c->lossy ? 0 : c->block_timeout_ns;
	o->probe_mode = c->probe_mode;
	o->patch_call = c->patch_call;
	/* run follows its program into the programs it executes; attach does not by default */
	o->follow_fork = c->follow_fork;
	o->follow_exec = c->follow_exec < 0 ? !strcmp(c->cmd, "run") : c->follow_exec;
	o->max_events = c->max_events;
	o->duration_ns = c->duration_ns;
	o->sigfd = signals_to_fd();
	return out;
}

bool cli_session_end(struct cli *c, FILE *out, int err)
{
	bool written = cli_output_close(c, out, err == 0);

	if (err < 0)
		cli_lib_error(err, c->cmd);
	return err == 0 && written;
}
