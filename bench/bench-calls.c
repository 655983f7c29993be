// SPDX-License-Identifier: GPL-2.0
/*
 * bench-calls - call one traced function N times, for bench/int3-cost.py and
 * bench/fast-path.py.
 *
 *   bench-calls N          call bench_target() N times from 4 call sites; prints
 *                          the checksum and the CLOCK_MONOTONIC nanoseconds of
 *                          the loop alone (no start-up, no tracer draining)
 *   bench-calls --rdtsc N  the same, with each call wrapped in rdtsc; prints
 *                          the TSC cycles spent between the rdtsc pairs, and
 *                          the TSC cycles and CLOCK_MONOTONIC nanoseconds of
 *                          the whole loop (their ratio converts cycles to ns)
 *
 * The calls are spread over several call sites so that a tracer that patches
 * or caches per return address cannot benefit from a single hot site.  The
 * checksum is printed so that the compiler cannot drop the calls and so that
 * a traced run can be compared with an untraced one.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <x86intrin.h>

/* Distinct call sites in each loop iteration. */
#define CALL_SITES 4

#define NSEC_PER_SEC 1000000000ULL

/*
 * Mixed into bench_target()'s result.  It makes the body 11 bytes instead of 4
 * (lea; ret), so that a tracer that patches a 5-byte jump over the entry
 * (uftrace -P) can probe it as well as one that writes a 1-byte int3.
 */
#define TARGET_MIX 0x5a5a

/* The function every tracer probes: a real call with a trivial body. */
__attribute__((noinline)) int bench_target(int x);
__attribute__((noinline)) int bench_target(int x)
{
	/* An empty asm keeps the call from being folded or cloned away. */
	__asm__ volatile("");
	return (x ^ TARGET_MIX) + 1;
}

/* Make @n calls, CALL_SITES per iteration, one site per remainder call. */
static unsigned long run_calls(long n)
{
	unsigned long sum = 0;
	long i = 0;

	for (; i + CALL_SITES <= n; i += CALL_SITES) {
		sum += (unsigned long)bench_target((int)i);
		sum ^= (unsigned long)bench_target((int)i + 1);
		sum += (unsigned long)bench_target((int)i + 2) << 1;
		sum ^= (unsigned long)bench_target((int)i + 3) << 2;
	}
	for (; i < n; i++)
		sum += (unsigned long)bench_target((int)i);
	return sum;
}

/* One call between two rdtsc, the cycles between them added to @cycles. */
static inline unsigned long timed_call(int x, unsigned long long *cycles)
{
	unsigned long long t0 = __rdtsc();
	unsigned long r = (unsigned long)bench_target(x);

	*cycles += __rdtsc() - t0;
	return r;
}

/* Like run_calls(), each call bracketed by rdtsc; returns the checksum. */
static unsigned long run_timed_calls(long n, unsigned long long *cycles)
{
	unsigned long sum = 0;
	long i = 0;

	for (; i + CALL_SITES <= n; i += CALL_SITES) {
		sum += timed_call((int)i, cycles);
		sum ^= timed_call((int)i + 1, cycles);
		sum += timed_call((int)i + 2, cycles) << 1;
		sum ^= timed_call((int)i + 3, cycles) << 2;
	}
	for (; i < n; i++)
		sum += timed_call((int)i, cycles);
	return sum;
}

static unsigned long long monotonic_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * NSEC_PER_SEC + (unsigned long long)ts.tv_nsec;
}

/* The --rdtsc mode: the floor a tracer cannot go below, one call in rdtsc. */
static void report_timed_calls(long n)
{
	unsigned long long inside = 0;
	unsigned long long ns0 = monotonic_ns();
	unsigned long long tsc0 = __rdtsc();
	unsigned long sum = run_timed_calls(n, &inside);
	unsigned long long tsc1 = __rdtsc();
	unsigned long long ns1 = monotonic_ns();

	printf("checksum %lu\n", sum);
	printf("inside_cycles %llu loop_cycles %llu loop_ns %llu\n", inside, tsc1 - tsc0,
	       ns1 - ns0);
}

/* The plain mode: the calls, timed from inside so start-up is left out. */
static void report_calls(long n)
{
	unsigned long long ns0 = monotonic_ns();
	unsigned long sum = run_calls(n);
	unsigned long long ns1 = monotonic_ns();

	printf("checksum %lu\n", sum);
	printf("loop_ns %llu\n", ns1 - ns0);
}

static int usage(void)
{
	fprintf(stderr, "usage: bench-calls [--rdtsc] N\n");
	return 2;
}

int main(int argc, char **argv)
{
	int rdtsc = 0;
	char *end;
	long n;

	if (argc == 3 && strcmp(argv[1], "--rdtsc") == 0) {
		rdtsc = 1;
		argv++;
	} else if (argc != 2) {
		return usage();
	}
	n = strtol(argv[1], &end, 10);
	if (*argv[1] == '\0' || *end != '\0' || n < 0 || n > INT_MAX)
		return usage();

	if (rdtsc)
		report_timed_calls(n);
	else
		report_calls(n);
	return 0;
}
