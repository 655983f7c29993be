// SPDX-License-Identifier: MIT
/* utrace run: launch a program and trace it until it exits. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include "symtab.h"

/* PROG as execvp would find it. */
static int resolve_program(const char *prog, char *out, size_t len)
{
	const char *path = getenv("PATH");

	if (strchr(prog, '/')) {
		snprintf(out, len, "%s", prog);
		return access(out, F_OK) == 0 ? 0 : -errno;
	}
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");

		snprintf(out, len, "%.*s/%s", (int)n, n ? path : ".", prog);
		if (access(out, X_OK) == 0)
			return 0;
		path += n + (path[n] == ':');
	}
	return -ENOENT;
}

static bool starts_with_shebang(const char *path)
{
	char buf[2] = { 0 };
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	if (fread(buf, 1, 2, f) != 2)
		buf[0] = 0;
	fclose(f);
	return buf[0] == '#' && buf[1] == '!';
}

/*
 * Everything that would make the run pointless, said before anything starts.
 * With --follow-fork the program itself may be a shell script or have
 * nothing to trace: what it runs is what is traced.
 */
static int check_program(const char *prog, const char *path, const struct cli *c)
{
	struct ut_symtab st = { 0 };
	struct stat sb;
	int e;

	if (stat(path, &sb) < 0 || !S_ISREG(sb.st_mode) || access(path, X_OK) < 0) {
		cli_error("%s: %s", prog,
			  S_ISDIR(sb.st_mode) ? "is a directory" : "not executable");
		return -1;
	}
	if (c->follow_fork)
		return 0;
	if (starts_with_shebang(path)) {
		cli_error("%s: is a script, not an ELF executable: trace its interpreter instead",
			  prog);
		return -1;
	}
	utrace_error_clear();
	e = utrace_symtab_load(path, &st);
	utrace_symtab_free(&st);
	if (e == -ENODATA)
		return 0; /* stripped: its functions are looked for in its libraries */
	if (e < 0) {
		cli_lib_error(e, prog);
		return -1;
	}
	return 0;
}

int cli_run_program(struct cli *c)
{
	char path[PATH_MAX];
	struct ut_session_opts o;
	int code = 0, e;
	FILE *out;

	if (c->nargs < 1) {
		cli_error("%s: no program given (try 'utrace %s --help')", c->cmd, c->cmd);
		return EXIT_UTRACE_ERROR;
	}
	if (!c->args[0][0]) {
		cli_error("%s: the program's name is empty", c->cmd);
		return EXIT_UTRACE_ERROR;
	}
	if (!c->filter.n)
		utrace_filter_add(&c->filter, "*", false);
	e = resolve_program(c->args[0], path, sizeof(path));
	if (e < 0) {
		cli_error("%s: program not found", c->args[0]);
		return EXIT_UTRACE_ERROR;
	}
	if (check_program(c->args[0], path, c) < 0)
		return EXIT_UTRACE_ERROR;
	out = cli_session_begin(c, &o, path);
	if (!out)
		return EXIT_UTRACE_ERROR;
	c->args[0] = path;
	e = utrace_session_run(&o, c->args, &code);
	return cli_session_end(c, out, e) ? code : EXIT_UTRACE_ERROR;
}

int cmd_run(int argc, char **argv)
{
	struct cli c;
	int r = cli_parse(argc, argv, &c);

	if (r)
		return r > 0 ? 0 : EXIT_UTRACE_ERROR;
	r = cli_run_program(&c);
	cli_free(&c);
	return r;
}
