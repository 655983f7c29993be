// SPDX-License-Identifier: MIT
/*
 * A thread stopped strictly inside the range a 5-byte patch displaces.
 * work_park's first instruction is a 2-byte syscall:
 *
 *   work_park:  0f 05        syscall          <- rip = F+2 while it blocks
 *               0f 1f 40 00  nopl 0(%rax)
 *               c3           ret
 *
 * so a `jmp stub` over F+0..F+5 puts a thread blocked in it in the middle of
 * the jmp.  park_syscall(nr, seq) calls it with eax = nr and rdi = seq (an
 * entry event's first argument, so a trace shows which calls it saw).
 *
 *   s-park pause  main calls work_park with SYS_pause and blocks at F+2;
 *                 it says "parked" on stdout first.  SIGUSR1 (the handler
 *                 counts it) makes pause return -EINTR; main then calls
 *                 work_park CALLS more times with SYS_getpid.  Attached to
 *                 while parked, only those CALLS calls can be traced.
 *   s-park busy   a thread calls work_park with SYS_getpid in a loop, so it
 *                 is inside F+2 at most stops; main waits for SIGTERM, stops
 *                 it and prints the count.
 *
 * Every getpid result is checked: "bad 0" says the syscall always worked.
 * Non-PIE: the test knows F's address from the file.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "attach-gate.h"

#define CALLS 20000
#define EXIT_STATUS 17

long park_syscall(long nr, unsigned long seq);
long work_park(void);

asm(".pushsection .text\n"
    ".p2align 4\n"
    ".globl park_syscall\n"
    ".type park_syscall, @function\n"
    "park_syscall:\n"
    "	movq %rdi, %rax\n"
    "	movq %rsi, %rdi\n"
    "	call work_park\n"
    "	ret\n"
    ".size park_syscall, .-park_syscall\n"
    ".p2align 4\n"
    ".globl work_park\n"
    ".type work_park, @function\n"
    "work_park:\n"
    "	syscall\n" /* 0f 05 */
    "	.byte 0x0f, 0x1f, 0x40, 0x00\n" /* nopl 0(%rax) */
    "	ret\n"
    ".size work_park, .-work_park\n"
    ".popsection\n");

static volatile sig_atomic_t signals;
static volatile int stop;
static unsigned long calls, bad;

static void on_usr1(int sig)
{
	(void)sig;
	signals++;
}

static void call_getpid(unsigned long seq, long pid)
{
	calls++;
	if (park_syscall(SYS_getpid, seq) != pid)
		bad++;
}

static int park(void)
{
	struct sigaction sa;
	long pid = getpid(), r;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_usr1; /* no SA_RESTART: pause returns -EINTR */
	sigaction(SIGUSR1, &sa, NULL);
	printf("parked\n");
	fflush(stdout);
	calls++;
	r = park_syscall(SYS_pause, 0);
	printf("pause returned %ld\n", r);
	for (unsigned long i = 1; i <= CALLS; i++)
		call_getpid(i, pid);
	printf("signals %d\n", (int)signals);
	printf("bad %lu\n", bad);
	printf("count work_park %lu\n", calls);
	return EXIT_STATUS;
}

static void *busy_main(void *arg)
{
	long pid = getpid();

	(void)arg;
	for (unsigned long i = 0; !__atomic_load_n(&stop, __ATOMIC_RELAXED); i++)
		call_getpid(i, pid);
	return NULL;
}

static int busy(void)
{
	pthread_t t;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pthread_create(&t, NULL, busy_main, NULL) != 0) {
		perror("pthread_create");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	while (sigwait(&set, &sig) != 0)
		;
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(t, NULL);
	printf("bad %lu\n", bad);
	printf("count work_park %lu\n", calls);
	return EXIT_STATUS;
}

int main(int argc, char **argv)
{
	/* Without Yama this fails harmlessly; with it, any tracer may attach. */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	if (argc > 1 && strcmp(argv[1], "busy") == 0)
		return busy();
	return park();
}
