// SPDX-License-Identifier: MIT
/*
 * C++ exceptions through traced frames, from THREADS std::threads at once,
 * ITERATIONS rounds each (or argv[1]).  Every round:
 *   - work_catch_traced catches, in a traced frame, what work_throw_leaf
 *     throws two traced frames down (work_pass has a local whose destructor
 *     runs as a cleanup and calls the traced work_cleanup, which itself
 *     throws and catches inside the cleanup: work_nested_throw);
 *   - the thread's body (untraced) catches what work_rethrow rethrew after
 *     catching it from work_throw_leaf;
 *   - work_bt takes a backtrace (_Unwind_Backtrace) from three traced frames
 *     down and checks that it reaches main or the thread's start;
 *   - every RETURN_EVERY-th round work_pass returns normally instead.
 * Each function's calls and the calls an exception left are counted:
 * "count F N" and "unwound F N" (exits = count - unwound).
 */
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <execinfo.h>
#include <stdexcept>
#include <thread>
#include <vector>

#include "attach-gate.h"

#define THREADS 4
#define ITERATIONS 1000
#define RETURN_EVERY 5
#define BT_MAX 64
#define EXIT_STATUS 9

#define NOINL __attribute__((noinline, noclone))

namespace
{
std::atomic<unsigned long> c_leaf, c_pass, c_catch_traced, c_cleanup, c_nested, c_rethrow,
	c_bt_outer, c_bt_mid, c_bt_leaf, bt_short;
std::atomic<unsigned long> u_leaf, u_pass, u_nested, u_rethrow;
std::atomic<unsigned long> caught_traced, caught_untraced, caught_nested;
} // namespace

extern "C" {
NOINL unsigned long work_throw_leaf(unsigned long i);
NOINL unsigned long work_pass(unsigned long i);
NOINL unsigned long work_catch_traced(unsigned long i);
NOINL unsigned long work_cleanup(unsigned long i);
NOINL unsigned long work_nested_throw(unsigned long i);
NOINL unsigned long work_rethrow(unsigned long i);
NOINL int work_bt_leaf(void);
NOINL int work_bt_mid(void);
NOINL int work_bt_outer(void);
}

struct Guard {
	unsigned long i;
	~Guard()
	{
		work_cleanup(i);
	}
};

unsigned long work_throw_leaf(unsigned long i)
{
	c_leaf++;
	__asm__ volatile("");
	if (i % RETURN_EVERY != 0) {
		u_leaf++;
		throw std::runtime_error("leaf");
	}
	return i + 1;
}

unsigned long work_pass(unsigned long i)
{
	Guard g{ i };
	unsigned long r;

	c_pass++;
	u_pass++; /* undone below when the call returns */
	r = work_throw_leaf(i);
	u_pass--;
	__asm__ volatile("" : "+r"(r));
	return r * 2;
}

unsigned long work_nested_throw(unsigned long i)
{
	c_nested++;
	u_nested++;
	__asm__ volatile("");
	throw(int) i;
}

/* Runs as the cleanup of work_pass (while an exception unwinds) and on normal returns. */
unsigned long work_cleanup(unsigned long i)
{
	c_cleanup++;
	try {
		work_nested_throw(i);
	} catch (int v) {
		if ((unsigned long)v == i)
			caught_nested++;
	}
	return i;
}

unsigned long work_catch_traced(unsigned long i)
{
	unsigned long r = 0;

	c_catch_traced++;
	try {
		r = work_pass(i);
	} catch (const std::runtime_error &e) {
		if (!strcmp(e.what(), "leaf"))
			caught_traced++;
	}
	return r;
}

unsigned long work_rethrow(unsigned long i)
{
	c_rethrow++;
	try {
		return work_throw_leaf(i);
	} catch (...) {
		u_rethrow++;
		throw;
	}
}

int work_bt_leaf(void)
{
	void *frames[BT_MAX];
	int n;

	c_bt_leaf++;
	n = backtrace(frames, BT_MAX);
	/* leaf, mid, outer, the thread's body and whatever is above it */
	if (n < 5)
		bt_short++;
	__asm__ volatile("");
	return n;
}

int work_bt_mid(void)
{
	int n;

	c_bt_mid++;
	n = work_bt_leaf();
	__asm__ volatile("" : "+r"(n));
	return n;
}

int work_bt_outer(void)
{
	int n;

	c_bt_outer++;
	n = work_bt_mid();
	__asm__ volatile("" : "+r"(n));
	return n;
}

static unsigned long iterations = ITERATIONS;

static void body(unsigned long seed)
{
	for (unsigned long k = 0; k < iterations; k++) {
		unsigned long i = seed + k;

		work_catch_traced(i);
		try {
			work_rethrow(i);
		} catch (const std::runtime_error &) {
			caught_untraced++;
		}
		work_bt_outer();
	}
}

int main(int argc, char **argv)
{
	std::vector<std::thread> threads;

	if (argc > 1)
		iterations = strtoul(argv[1], NULL, 10);
	for (unsigned long t = 0; t < THREADS; t++)
		threads.emplace_back(body, t * iterations);
	for (auto &t : threads)
		t.join();
	printf("caught traced %lu untraced %lu nested %lu\n", caught_traced.load(),
	       caught_untraced.load(), caught_nested.load());
	printf("short backtraces %lu\n", bt_short.load());
	printf("count work_throw_leaf %lu\n", c_leaf.load());
	printf("count work_pass %lu\n", c_pass.load());
	printf("count work_catch_traced %lu\n", c_catch_traced.load());
	printf("count work_cleanup %lu\n", c_cleanup.load());
	printf("count work_nested_throw %lu\n", c_nested.load());
	printf("count work_rethrow %lu\n", c_rethrow.load());
	printf("count work_bt_outer %lu\n", c_bt_outer.load());
	printf("count work_bt_mid %lu\n", c_bt_mid.load());
	printf("count work_bt_leaf %lu\n", c_bt_leaf.load());
	printf("unwound work_throw_leaf %lu\n", u_leaf.load());
	printf("unwound work_pass %lu\n", u_pass.load());
	printf("unwound work_nested_throw %lu\n", u_nested.load());
	printf("unwound work_rethrow %lu\n", u_rethrow.load());
	return EXIT_STATUS;
}
