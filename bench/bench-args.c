// SPDX-License-Identifier: GPL-2.0
/*
 * bench-args - call one traced function N times, for bench/args-cost.py;
 * built three times, as KIND says:
 *
 *   -DKIND_INTS   int bench_target(int a, int b, int c)
 *   -DKIND_STR    int bench_target(const char *s)  (s: 16 to 40 bytes)
 *   -DKIND_DEEP   bench_target(a, b, c) called 16 frames down an untraced
 *                 recursion, for --stack
 *
 *   bench-args N          the calls; prints the checksum and the CLOCK_MONOTONIC
 *                         nanoseconds of the loop alone (loop_ns)
 *   bench-args --readv N  no calls: N process_vm_readv() of 64 bytes from this
 *                         process, then from a child process (what a tracer
 *                         reading a string at its leisure would pay); prints
 *                         the ns of each (self_ns, child_ns)
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NSEC_PER_SEC 1000000000ULL
#define DEPTH 16
#define READ_BYTES 64

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * NSEC_PER_SEC + (unsigned long long)ts.tv_nsec;
}

#ifdef KIND_STR
static const char *const strs[] = { "sixteen bytes...", "a string of twenty-seven b",
				    "forty bytes, as a path might be: /a/b/c" };

__attribute__((noinline)) int bench_target(const char *s);
__attribute__((noinline)) int bench_target(const char *s)
{
	__asm__ volatile("");
	return s[0] + s[1];
}

static unsigned long run_calls(long n)
{
	unsigned long sum = 0;

	for (long i = 0; i < n; i++)
		sum += (unsigned long)bench_target(strs[i % 3]);
	return sum;
}
#else
__attribute__((noinline)) int bench_target(int a, int b, int c);
__attribute__((noinline)) int bench_target(int a, int b, int c)
{
	__asm__ volatile("");
	return (a ^ b) + c;
}

static unsigned long calls(long n)
{
	unsigned long sum = 0;

	for (long i = 0; i < n; i++)
		sum += (unsigned long)bench_target((int)i, 7, (int)(i >> 3));
	return sum;
}

#ifdef KIND_DEEP
/* Untraced frames above the calls: --stack then unwinds DEPTH of them. */
__attribute__((noinline)) unsigned long descend(int depth, long n);
__attribute__((noinline)) unsigned long descend(int depth, long n)
{
	unsigned long r = depth ? descend(depth - 1, n) : calls(n);

	__asm__ volatile("" : "+r"(r));
	return r;
}

static unsigned long run_calls(long n)
{
	return descend(DEPTH - 2, n);
}
#else
static unsigned long run_calls(long n)
{
	return calls(n);
}
#endif
#endif

/* ns per 64-byte process_vm_readv of pid's buf. */
static double readv_ns(pid_t pid, const char *buf, long n)
{
	char out[READ_BYTES];
	struct iovec local = { out, sizeof(out) }, remote = { (void *)buf, sizeof(out) };
	unsigned long long t0 = now_ns();

	for (long i = 0; i < n; i++)
		if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != READ_BYTES) {
			perror("process_vm_readv");
			exit(1);
		}
	return (double)(now_ns() - t0) / (double)n;
}

static int readv_bench(long n)
{
	static char buf[READ_BYTES] = "a string in the data segment, the same address in the child";
	pid_t child = fork();

	if (child < 0)
		return 1;
	if (child == 0) {
		pause();
		_exit(0);
	}
	printf("self_ns %.1f\n", readv_ns(getpid(), buf, n));
	printf("child_ns %.1f\n", readv_ns(child, buf, n));
	kill(child, SIGKILL);
	waitpid(child, NULL, 0);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned long long t0;
	unsigned long sum;
	long n;

	if (argc == 3 && !strcmp(argv[1], "--readv"))
		return readv_bench(atol(argv[2]));
	if (argc != 2 || (n = atol(argv[1])) <= 0) {
		fprintf(stderr, "usage: bench-args N | --readv N\n");
		return 2;
	}
	t0 = now_ns();
	sum = run_calls(n);
	printf("checksum %lu\nloop_ns %llu\n", sum, now_ns() - t0);
	return 0;
}
