// SPDX-License-Identifier: MIT
/*
 * A long-running target for `utrace attach`.
 *
 *   s-attach [seccomp]
 *
 * Prints "ready", then waits: each SIGUSR1 runs one phase of PHASE_CALLS
 * calls of work_phase -> work_phase_leaf and prints "phase <k> done";
 * SIGTERM ends it with the count lines.  Throughout, a second thread sits
 * in read() on a pipe; an attach or detach must never make that read fail
 * with EINTR ("reader eintr <n>" reports it).  With "seccomp", a filter
 * that kills the process on memfd_create is installed first (with
 * NO_NEW_PRIVS): a tracer that injects syscalls without suspending seccomp
 * would kill it.
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#define PHASE_CALLS 2000
#define EXIT_STATUS 15

static unsigned long calls_phase, calls_leaf;
static unsigned long reader_eintr;
static int wake_pipe[2];

__attribute__((noinline, noclone)) unsigned long work_phase_leaf(unsigned long x);
__attribute__((noinline, noclone)) unsigned long work_phase(unsigned long x);

__attribute__((noinline, noclone)) unsigned long work_phase_leaf(unsigned long x)
{
	calls_leaf++;
	__asm__ volatile("");
	return x * 9;
}

__attribute__((noinline, noclone)) unsigned long work_phase(unsigned long x)
{
	unsigned long r;

	calls_phase++;
	r = work_phase_leaf(x);
	__asm__ volatile("" : "+r"(r));
	return r + 1;
}

static void *reader_main(void *arg)
{
	char c;
	ssize_t n;

	(void)arg;
	for (;;) {
		n = read(wake_pipe[0], &c, 1);
		if (n < 0 && errno == EINTR) {
			reader_eintr++;
			continue;
		}
		return NULL;
	}
}

/* Kill the process on memfd_create(); allow everything else. */
static int install_seccomp(void)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_memfd_create, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static void run_phase(int k)
{
	unsigned long sum = 0;

	for (unsigned long i = 0; i < PHASE_CALLS; i++)
		sum += work_phase(i);
	printf("phase %d done sum %lu calls %d\n", k, sum, PHASE_CALLS);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	pthread_t reader;
	sigset_t set;
	int phase = 0, sig;

	if (argc > 1 && strcmp(argv[1], "seccomp") == 0 && install_seccomp() != 0) {
		perror("seccomp");
		return 1;
	}
	/* Without Yama this fails harmlessly; with it, any tracer may attach. */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGTERM);
	/* Blocked before the reader starts, so only sigwait() takes them. */
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	if (pipe(wake_pipe) != 0 || pthread_create(&reader, NULL, reader_main, NULL) != 0) {
		perror("s-attach");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGTERM)
			break;
		run_phase(++phase);
	}
	if (write(wake_pipe[1], "x", 1) != 1)
		perror("write");
	pthread_join(reader, NULL);
	printf("reader eintr %lu\n", reader_eintr);
	printf("count work_phase %lu\n", calls_phase);
	printf("count work_phase_leaf %lu\n", calls_leaf);
	return EXIT_STATUS;
}
