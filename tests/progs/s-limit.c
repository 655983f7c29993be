// SPDX-License-Identifier: MIT
/*
 * A program that works on after utrace stops tracing it at a limit
 * (--max-events, --duration).
 *
 *   s-limit ROUNDS [detached]
 *
 * ROUNDS rounds of ROUND_CALLS calls of work_limit_outer -> work_limit_inner,
 * each followed by a short sleep, so that a limit falls while it works; then
 * the count lines, and exit status EXIT_STATUS.  With "detached", before the
 * counts it waits (TRACER_WAIT_S at most) until no tracer is attached, runs
 * one more round, now untraced, and compares its code with its file:
 * "tracer 0" and "text intact" are what an untraced run prints, and what a
 * tracer that let go at its limit must leave.
 */
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "attach-gate.h"

#define ROUND_CALLS 500
#define ROUND_PAUSE_NS 1000000L
#define TRACER_WAIT_S 60
#define TRACER_POLL_NS 1000000L
#define EXIT_STATUS 3

static unsigned long calls_outer, calls_inner;

__attribute__((noinline, noclone)) unsigned long work_limit_inner(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_limit_outer(unsigned long x);

__attribute__((noinline, noclone)) unsigned long work_limit_inner(unsigned long x)
{
	calls_inner++;
	__asm__ volatile("");
	return x * 7;
}

__attribute__((noinline, noclone)) unsigned long work_limit_outer(unsigned long x)
{
	unsigned long r;

	calls_outer++;
	r = work_limit_inner(x);
	__asm__ volatile("" : "+r"(r));
	return r + 1;
}

static unsigned long one_round(unsigned long acc)
{
	struct timespec pause = { 0, ROUND_PAUSE_NS };

	for (int i = 0; i < ROUND_CALLS; i++)
		acc += work_limit_outer((unsigned long)i);
	nanosleep(&pause, NULL);
	return acc;
}

static long tracer_pid(void)
{
	char line[256];
	long pid = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "TracerPid: %ld", &pid) == 1)
			break;
	fclose(f);
	return pid;
}

/* The tracer, or 0 once there is none (within TRACER_WAIT_S). */
static long wait_untraced(void)
{
	struct timespec pause = { 0, TRACER_POLL_NS };
	long pid = tracer_pid();

	for (long waited = 0; pid != 0 && waited < TRACER_WAIT_S * 1000000000L;
	     waited += TRACER_POLL_NS) {
		nanosleep(&pause, NULL);
		pid = tracer_pid();
	}
	return pid;
}

/* Whether the segment ph of the object at info holds the bytes of file fd. */
static int segment_intact(int fd, const struct dl_phdr_info *info, const ElfW(Phdr) * ph)
{
	char *file = malloc(ph->p_filesz);
	int intact =
		file && pread(fd, file, ph->p_filesz, (off_t)ph->p_offset) == (ssize_t)ph->p_filesz;

	if (intact)
		intact = !memcmp(file, (const void *)(info->dlpi_addr + ph->p_vaddr), ph->p_filesz);
	free(file);
	return intact;
}

/* Whether each executable segment of the main program holds its file's bytes. */
static int text_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC), *intact = arg;

	(void)size;
	*intact = fd >= 0;
	for (int i = 0; i < info->dlpi_phnum && *intact; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X))
			*intact = segment_intact(fd, info, ph);
	}
	if (fd >= 0)
		close(fd);
	return 1; /* the first object is the main program */
}

static int text_intact(void)
{
	int intact = 0;

	dl_iterate_phdr(text_cb, &intact);
	return intact;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 1;
	int detached = argc > 2 && !strcmp(argv[2], "detached");
	unsigned long acc = 0;

	for (int r = 0; r < rounds; r++)
		acc = one_round(acc);
	if (detached) {
		printf("tracer %ld\n", wait_untraced());
		acc = one_round(acc);
		printf("text %s\n", text_intact() ? "intact" : "differs");
	}
	printf("result %lu\n", acc);
	printf("count work_limit_outer %lu\n", calls_outer);
	printf("count work_limit_inner %lu\n", calls_inner);
	return EXIT_STATUS;
}
