// SPDX-License-Identifier: MIT
/*
 * The -o file of run and attach, made so that nothing is ever destroyed: the
 * trace goes to a temporary file beside it, renamed over it only once the
 * session ended well, so that a run that fails (no function matches, the
 * program cannot start) leaves an existing file as it was.  A file that is
 * the program traced, or that some process runs, is refused: it would be
 * replaced by a trace.  A device or a FIFO (/dev/null, a pipe) is written
 * as it is.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

/* Whether a and b name the same file. */
static bool same_file(const struct stat *a, const char *b)
{
	struct stat st;

	return b && stat(b, &st) == 0 && st.st_dev == a->st_dev && st.st_ino == a->st_ino;
}

/* An existing regular file that may be replaced: not the program, not running. */
static bool may_replace(const char *path, const struct stat *st, const char *program)
{
	int fd;

	if (same_file(st, program)) {
		cli_error("-o %s: that is the program traced", path);
		return false;
	}
	/* an executable some process runs refuses to be opened for writing */
	fd = open(path, O_WRONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == ETXTBSY) {
		cli_error("-o %s: a program is running from that file", path);
		return false;
	}
	if (fd >= 0)
		close(fd);
	return true;
}

/* "DIR/.BASE.utrace-XXXXXX": the temporary file, in the target's directory (rename stays in it). */
static char *temp_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	int dir = slash ? (int)(slash - path + 1) : 0;
	char *tmp;

	if (asprintf(&tmp, "%.*s.%s.utrace-XXXXXX", dir, path, path + dir) < 0)
		return NULL;
	return tmp;
}

static FILE *open_temp(struct cli *c)
{
	mode_t mask = umask(0);
	FILE *f = NULL;
	int fd;

	umask(mask);
	c->out_tmp = temp_name(c->output);
	fd = c->out_tmp ? mkostemp(c->out_tmp, O_CLOEXEC) : -1;
	if (fd >= 0 && fchmod(fd, 0666 & ~mask) == 0)
		f = fdopen(fd, "w");
	if (!f) {
		cli_error("cannot write %s: %s", c->output, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(c->out_tmp);
		}
		free(c->out_tmp);
		c->out_tmp = NULL;
	}
	return f;
}

FILE *cli_output_open(struct cli *c, const char *program)
{
	struct stat st;
	FILE *f;

	if (!c->output)
		return stderr;
	if (stat(c->output, &st) < 0)
		return open_temp(c); /* none yet (or unreachable: mkstemp says why) */
	if (!S_ISREG(st.st_mode)) {
		f = fopen(c->output, "we");
		if (!f)
			cli_error("cannot write %s: %s", c->output, strerror(errno));
		return f;
	}
	return may_replace(c->output, &st, program) ? open_temp(c) : NULL;
}

bool cli_output_close(struct cli *c, FILE *out, bool keep)
{
	bool ok = out == stderr || fclose(out) == 0;
	int e = errno;

	if (!c->out_tmp) {
		if (!ok)
			cli_error("writing %s: %s", c->output, strerror(e));
		return ok;
	}
	if (ok && keep && rename(c->out_tmp, c->output) < 0) {
		e = errno;
		ok = false;
	}
	if (!ok)
		cli_error("writing %s: %s", c->output, strerror(e));
	if (!ok || !keep)
		unlink(c->out_tmp);
	free(c->out_tmp);
	c->out_tmp = NULL;
	return ok;
}
