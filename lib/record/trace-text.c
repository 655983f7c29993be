// SPDX-License-Identifier: MIT
/* Escaped, tab-separated fields of a trace's text files (trace-text.h). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include "trace-text.h"
#include "log.h"

#define ASCII_DEL 0x7f
#define ASCII_SPACE 0x20

void tt_put(FILE *f, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '\\')
			fputs("\\\\", f);
		else if (*p == '\t')
			fputs("\\t", f);
		else if (*p == '\n')
			fputs("\\n", f);
		else if (*p < ASCII_SPACE || *p == ASCII_DEL)
			fprintf(f, "\\x%02x", *p);
		else
			fputc(*p, f);
	}
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Unescape s in place; false when an escape is malformed or makes a NUL. */
static bool unescape(char *s)
{
	char *out = s;

	for (; *s; s++) {
		int hi, lo;

		if (*s != '\\') {
			*out++ = *s;
			continue;
		}
		switch (*++s) {
		case '\\':
			*out++ = '\\';
			break;
		case 't':
			*out++ = '\t';
			break;
		case 'n':
			*out++ = '\n';
			break;
		case 'x':
			hi = hex_digit(s[1]);
			lo = hi < 0 ? -1 : hex_digit(s[2]);
			if (lo < 0 || (hi == 0 && lo == 0))
				return false;
			*out++ = (char)(hi << 4 | lo);
			s += 2;
			break;
		default:
			return false;
		}
	}
	*out = 0;
	return true;
}

int tt_split(char *line, char **fields, int max)
{
	int n = 0;

	while (n < max) {
		char *tab = strchr(line, '\t');

		if (tab)
			*tab = 0;
		if (!unescape(line))
			return -1;
		fields[n++] = line;
		if (!tab)
			break;
		line = tab + 1;
	}
	return n;
}

bool tt_u64(const char *s, unsigned long long *v)
{
	char *end;

	if (!*s || *s == '-' || *s == '+' || *s == ' ')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 0);
	return !errno && !*end;
}

int tt_lines_open(struct tt_lines *l, int dirfd, const char *dir, const char *file, bool needed)
{
	int fd = openat(dirfd, file, O_RDONLY | O_CLOEXEC);

	*l = (struct tt_lines){ .dir = dir, .file = file };
	if (fd < 0) {
		if (!needed && errno == ENOENT)
			return 0;
		ut_error("%s: not a complete trace: cannot read %s: %s", dir, file,
			 strerror(errno));
		return -errno;
	}
	l->f = fdopen(fd, "r");
	if (!l->f) {
		close(fd);
		return -ENOMEM;
	}
	return 0;
}

int tt_lines_next(struct tt_lines *l)
{
	ssize_t n;

	if (!l->f || (n = getline(&l->line, &l->cap, l->f)) < 0)
		return 0;
	l->lineno++;
	if (n == 0 || l->line[n - 1] != '\n' || memchr(l->line, 0, (size_t)n))
		return -EINVAL;
	l->line[n - 1] = 0;
	l->nf = tt_split(l->line, l->fv, TT_FIELDS_MAX);
	return l->nf < 0 ? -EINVAL : 1;
}

int tt_lines_bad(struct tt_lines *l, const char *what)
{
	ut_error("%s: corrupt trace: %s, line %u of %s", l->dir, what, l->lineno, l->file);
	return -EINVAL;
}

void tt_lines_close(struct tt_lines *l)
{
	if (l->f)
		fclose(l->f);
	free(l->line);
}

bool tt_num(const struct tt_lines *l, int i, unsigned long long *v)
{
	return i < l->nf && tt_u64(l->fv[i], v);
}
