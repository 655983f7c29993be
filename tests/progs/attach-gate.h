/* SPDX-License-Identifier: MIT */
/*
 * The attach gate of the target programs, for tests that attach to a prog
 * before it makes its first traced call (tests/integration/test_attach_progs.py).
 *
 * With UTRACE_TEST_ATTACH_GATE set, a constructor holds the prog before main:
 * it writes "gate <pid>\n" to stderr (stdout stays byte-identical to an
 * untraced run), then blocks until one byte or end of file arrives on stdin.
 * It removes the variable first, so programs the prog starts are not held.
 * Without the variable it does nothing.
 */
#ifndef UTRACE_PROGS_ATTACH_GATE_H
#define UTRACE_PROGS_ATTACH_GATE_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define ATTACH_GATE_ENV "UTRACE_TEST_ATTACH_GATE"

__attribute__((constructor)) static void attach_gate(void)
{
	char byte;

	if (!getenv(ATTACH_GATE_ENV))
		return;
	unsetenv(ATTACH_GATE_ENV);
	fprintf(stderr, "gate %d\n", (int)getpid());
	/* A tracer attaching may interrupt the read: wait on. */
	while (read(STDIN_FILENO, &byte, 1) < 0 && errno == EINTR)
		;
}

#endif
