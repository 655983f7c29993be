// SPDX-License-Identifier: MIT
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"

int ut_proc_status_field(pid_t pid, const char *key, int base, uint64_t *val)
{
	char path[64], line[256], *end;
	size_t klen = strlen(key);
	int err = -ENOENT;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? -ESRCH : -errno;
	while (fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen))
			continue;
		errno = 0;
		*val = strtoull(line + klen, &end, base);
		err = errno || end == line + klen || (*end && *end != '\n') ? -EINVAL : 0;
		break;
	}
	fclose(f);
	return err;
}
