// SPDX-License-Identifier: MIT
/*
 * Live text that differs from the file.  Before main (and before the
 * attach gate: a constructor with a priority runs first), the prog
 * rewrites work_live_edited's `mov %rsp,%rbp` in its own memory with the
 * other encoding of the same instruction:
 *
 *   file:  55 48 89 e5   push %rbp; mov %rsp,%rbp   (89 /r)
 *   live:  55 48 8b ec   push %rbp; mov %rsp,%rbp   (8b /r)
 *
 * as another tracer or a hot patch might.  A tracer must not patch over
 * bytes it did not expect: work_live_edited is refused, with a warning; the
 * other work_* functions are traced exactly.  It prints the bytes it
 * rewrote ("rewrote 2").
 *
 * Attach only: under `utrace run` the probes are in before the constructor
 * runs, and the constructor would write over them.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "attach-gate.h"

#define CALLS 3000
#define EXIT_STATUS 19
#define REWRITE_OFFSET 2 /* of the 89 e5 in work_live_edited */

/* Global: work_live_edited's asm counts in it. */
unsigned long calls_edited;
static unsigned long calls_outer, calls_leaf, rewrote;

unsigned long work_live_edited(void);

asm(".pushsection .text\n"
    ".p2align 4\n"
    ".globl work_live_edited\n"
    ".type work_live_edited, @function\n"
    "work_live_edited:\n"
    "	pushq %rbp\n" /* 55 */
    "	movq %rsp, %rbp\n" /* 48 89 e5 */
    "	addq $1, calls_edited(%rip)\n"
    "	movq calls_edited(%rip), %rax\n"
    "	popq %rbp\n"
    "	ret\n"
    ".size work_live_edited, .-work_live_edited\n"
    ".popsection\n");

__attribute__((noinline, noclone)) unsigned long work_live_leaf(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_live_outer(unsigned long x);

__attribute__((noinline, noclone)) unsigned long work_live_leaf(unsigned long x)
{
	calls_leaf++;
	__asm__ volatile("");
	return x + 2;
}

__attribute__((noinline, noclone)) unsigned long work_live_outer(unsigned long x)
{
	unsigned long r;

	calls_outer++;
	r = work_live_leaf(x) + work_live_edited();
	__asm__ volatile("" : "+r"(r));
	return r;
}

__attribute__((constructor(101))) static void rewrite_prologue(void)
{
	static const uint8_t file[] = { 0x55, 0x48, 0x89, 0xe5 }; /* push %rbp; mov %rsp,%rbp */
	static const uint8_t live[] = { 0x8b, 0xec }; /* mov %rsp,%rbp, 8b /r */
	uint8_t *f = (uint8_t *)(uintptr_t)work_live_edited;
	uintptr_t page = (uintptr_t)f & ~(uintptr_t)(sysconf(_SC_PAGESIZE) - 1);
	size_t len = (uintptr_t)f + sizeof(file) - page;

	if (memcmp(f, file, sizeof(file)) != 0)
		return;
	if (mprotect((void *)page, len, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) {
		perror("mprotect");
		return;
	}
	memcpy(f + REWRITE_OFFSET, live, sizeof(live));
	rewrote = sizeof(live);
	mprotect((void *)page, len, PROT_READ | PROT_EXEC);
}

int main(void)
{
	unsigned long sum = 0;

	for (unsigned long i = 0; i < CALLS; i++)
		sum += work_live_outer(i);
	printf("rewrote %lu\n", rewrote);
	printf("sum %lu\n", sum);
	printf("count work_live_edited %lu\n", calls_edited);
	printf("count work_live_outer %lu\n", calls_outer);
	printf("count work_live_leaf %lu\n", calls_leaf);
	return EXIT_STATUS;
}
