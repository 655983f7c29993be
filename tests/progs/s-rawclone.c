// SPDX-License-Identifier: MIT
/*
 * A thread made by a raw clone(2), as runtimes that manage their own threads
 * do, calling traced code while main does too:
 *
 *   s-rawclone share   without CLONE_SETTLS: it runs on main's TCB (same fs base)
 *   s-rawclone tls0    CLONE_SETTLS with 0: no TLS at all (fs base 0, %fs:0 faults)
 *
 * The thread touches neither libc nor TLS (with fs base 0 even a lazy PLT
 * binding faults): it calls work_thread and exits with a raw exit(2); main
 * waits for it on CLONE_CHILD_CLEARTID, then prints both counts.
 */
#include <linux/futex.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attach-gate.h"

#define CALLS 5000
#define STACK_SIZE (256 * 1024)
#define CLONE_THREAD_FLAGS                                                                  \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | \
	 CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)

static unsigned long calls_main, calls_thread;
static volatile int child_tid;

__attribute__((noinline, noclone)) unsigned long work_main(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_thread(unsigned long x);

__attribute__((noinline, noclone)) unsigned long work_main(unsigned long x)
{
	calls_main++;
	__asm__ volatile("");
	return x + 1;
}

__attribute__((noinline, noclone)) unsigned long work_thread(unsigned long x)
{
	calls_thread++;
	__asm__ volatile("");
	return x ^ 3;
}

static __attribute__((noreturn)) void thread_main(void)
{
	unsigned long sum = 0;

	for (unsigned long i = 0; i < CALLS; i++)
		sum += work_thread(i);
	__asm__ volatile("syscall" ::"a"(SYS_exit), "D"(sum ? 0 : 1) : "rcx", "r11", "memory");
	__builtin_unreachable();
}

/* clone(2) by hand: the child starts on its own stack in thread_main and never returns here. */
static long raw_clone(unsigned long flags, void *stack_top, volatile int *tid)
{
	register long r10 __asm__("r10") = (long)tid;
	register long r8 __asm__("r8") = 0; /* the fs base with CLONE_SETTLS */
	long ret;

	__asm__ volatile("syscall\n\t"
			 "test %%rax, %%rax\n\t"
			 "jnz 1f\n\t"
			 "xor %%ebp, %%ebp\n\t"
			 "call *%%rbx\n\t"
			 "ud2\n"
			 "1:"
			 : "=a"(ret)
			 : "0"(SYS_clone), "D"(flags), "S"(stack_top), "d"(tid), "r"(r10), "r"(r8),
			   "b"(thread_main)
			 : "rcx", "r11", "memory");
	return ret;
}

int main(int argc, char **argv)
{
	unsigned long flags = CLONE_THREAD_FLAGS, sum = 0;
	char *stack = malloc(STACK_SIZE);

	if (argc != 2 || (strcmp(argv[1], "share") && strcmp(argv[1], "tls0"))) {
		fprintf(stderr, "usage: s-rawclone share|tls0\n");
		return 2;
	}
	if (!strcmp(argv[1], "tls0"))
		flags |= CLONE_SETTLS;
	if (!stack || raw_clone(flags, stack + STACK_SIZE, &child_tid) < 0) {
		perror("clone");
		return 1;
	}
	for (unsigned long i = 0; i < CALLS; i++)
		sum += work_main(i);
	while (child_tid)
		syscall(SYS_futex, &child_tid, FUTEX_WAIT, child_tid, NULL, NULL, 0);
	printf("sum %lu\ncount work_main %lu\ncount work_thread %lu\n", sum, calls_main,
	       calls_thread);
	return 0;
}
