// SPDX-License-Identifier: MIT
/*
 * A library whose constructor forks: the dynamic linker runs it before the
 * program's entry point, where `utrace run` keeps a breakpoint until it has
 * installed its probes, so the child starts with that breakpoint in its text
 * (s-ctorfork).
 */
#include <sys/types.h>
#include <unistd.h>

int ctorfork_child; /* 1 in the child */
pid_t ctorfork_pid; /* in the parent: the child's pid (-1: fork failed) */

__attribute__((constructor)) static void ctorfork(void)
{
	ctorfork_pid = fork();
	ctorfork_child = ctorfork_pid == 0;
}
