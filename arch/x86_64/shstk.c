// SPDX-License-Identifier: MIT
/* Which processes run with a CET shadow stack (shstk.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "shstk.h"

#define FEATURES_KEY "x86_Thread_features:"
#define STATUS_MAX 8192

/* `word` is one of the blank-separated words of the line starting at `line`. */
static bool line_has_word(const char *line, const char *word)
{
	size_t n = strlen(word);
	const char *end = strchr(line, '\n');
	const char *p = line;

	if (!end)
		end = line + strlen(line);
	while (p < end) {
		size_t len;

		p += strspn(p, " \t");
		len = strcspn(p, " \t\n");
		if (len == n && p + len <= end && !strncmp(p, word, n))
			return true;
		p += len ? len : 1;
	}
	return false;
}

bool arch_status_has_shstk(const char *status)
{
	const char *line = status;

	while (line && *line) {
		if (!strncmp(line, FEATURES_KEY, strlen(FEATURES_KEY)))
			return line_has_word(line + strlen(FEATURES_KEY), "shstk");
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return false;
}

static int read_status(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	return 0;
}

/* Threads enable shadow stacks one by one: any of them forbids hijacking. */
const char *arch_no_return_hijack(pid_t pid)
{
	char path[64], buf[STATUS_MAX];
	struct dirent *d;
	bool shstk = false;
	DIR *dir;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	dir = opendir(path);
	if (!dir)
		return NULL;
	while (!shstk && (d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/status", pid, d->d_name);
		shstk = read_status(path, buf, sizeof(buf)) == 0 && arch_status_has_shstk(buf);
	}
	closedir(dir);
	return shstk ? "it runs with a CET shadow stack" : NULL;
}
