// SPDX-License-Identifier: MIT
/*
 * swapcontext coroutines: traced functions suspended on one stack while
 * another runs, and resumed later.
 *
 *   s-coro [pingpong]  a generator: main calls work_co_next, which switches
 *                      to the generator's stack; there work_co_produce calls
 *                      work_co_yield, which switches back: work_co_next
 *                      returns on main's stack while work_co_yield and
 *                      work_co_produce stay suspended on the generator's,
 *                      and return when the next work_co_next resumes it.
 *                      SWITCHES values; work_co_leaf runs on both stacks.
 *   s-coro migrate     FIBERS fibers, each started on thread A, suspended
 *                      inside work_fiber_suspend, then resumed by thread B,
 *                      where work_fiber_suspend and work_fiber_body return;
 *                      A lives on meanwhile.
 *   s-coro orphan      the same, but A has exited before B resumes the fibers.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "attach-gate.h"

#define SWITCHES 20000
#define FIBERS 200
#define STACK_SIZE (256 * 1024)
#define EXIT_STATUS 14

static ucontext_t main_ctx, gen_ctx;
static unsigned long value;
static unsigned long calls_next, calls_produce, calls_yield, calls_leaf, calls_consume;

__attribute__((noinline, noclone)) unsigned long work_co_leaf(unsigned long x);
__attribute__((noinline, noclone)) void work_co_yield(unsigned long v);
__attribute__((noinline, noclone)) unsigned long work_co_produce(unsigned long i);
__attribute__((noinline, noclone)) unsigned long work_co_next(void);
__attribute__((noinline, noclone)) unsigned long work_co_consume(unsigned long v);

__attribute__((noinline, noclone)) unsigned long work_co_leaf(unsigned long x)
{
	__atomic_fetch_add(&calls_leaf, 1, __ATOMIC_RELAXED);
	__asm__ volatile("");
	return x * 5 + 1;
}

/* Hand v to main and suspend until the next work_co_next. */
__attribute__((noinline, noclone)) void work_co_yield(unsigned long v)
{
	calls_yield++;
	value = v;
	if (swapcontext(&gen_ctx, &main_ctx) != 0)
		abort();
}

__attribute__((noinline, noclone)) unsigned long work_co_produce(unsigned long i)
{
	unsigned long v;

	calls_produce++;
	v = work_co_leaf(i);
	work_co_yield(v);
	__asm__ volatile("" : "+r"(v));
	return v;
}

static void generator(void)
{
	for (unsigned long i = 0;; i++)
		work_co_produce(i);
}

__attribute__((noinline, noclone)) unsigned long work_co_next(void)
{
	calls_next++;
	if (swapcontext(&main_ctx, &gen_ctx) != 0)
		abort();
	return value;
}

__attribute__((noinline, noclone)) unsigned long work_co_consume(unsigned long v)
{
	calls_consume++;
	return work_co_leaf(v) ^ v;
}

static int run_pingpong(void)
{
	volatile unsigned long sum = 0;

	if (getcontext(&gen_ctx) != 0)
		return -1;
	gen_ctx.uc_stack.ss_sp = malloc(STACK_SIZE);
	gen_ctx.uc_stack.ss_size = STACK_SIZE;
	gen_ctx.uc_link = NULL;
	if (!gen_ctx.uc_stack.ss_sp)
		return -1;
	makecontext(&gen_ctx, generator, 0);
	for (unsigned long i = 0; i < SWITCHES; i++)
		sum += work_co_consume(work_co_next());
	printf("sum %lu\n", sum);
	printf("count work_co_next %lu\n", calls_next);
	printf("count work_co_produce %lu\n", calls_produce);
	printf("count work_co_yield %lu\n", calls_yield);
	printf("count work_co_consume %lu\n", calls_consume);
	printf("count work_co_leaf %lu\n", calls_leaf);
	/* the generator's last work_co_produce and work_co_yield never return */
	printf("suspended 2\n");
	return 0;
}

/* ---- a fiber resumed on another thread -------------------------------- */

struct fiber {
	ucontext_t ctx, home;
	unsigned long result;
	int done;
};

static struct fiber fibers[FIBERS];
static unsigned long calls_body, calls_suspend;
static int resumed_on_other_thread;
static pthread_barrier_t fibers_started, fibers_finished;
static int orphan; /* A exits before B starts: no barriers */

__attribute__((noinline, noclone)) unsigned long work_fiber_suspend(struct fiber *f);
__attribute__((noinline, noclone)) unsigned long work_fiber_body(struct fiber *f);

/* Switch back to whoever runs the fiber; return once someone resumes it. */
__attribute__((noinline, noclone)) unsigned long work_fiber_suspend(struct fiber *f)
{
	/* pthread_self() is declared const: gcc would reuse the first call */
	volatile pid_t before = (pid_t)syscall(SYS_gettid);

	calls_suspend++;
	if (swapcontext(&f->ctx, &f->home) != 0)
		abort();
	unsigned long r;

	if (before != (pid_t)syscall(SYS_gettid))
		resumed_on_other_thread++;
	r = work_co_leaf((unsigned long)(f - fibers));
	__asm__ volatile("" : "+r"(r)); /* not a tail call */
	return r;
}

__attribute__((noinline, noclone)) unsigned long work_fiber_body(struct fiber *f)
{
	unsigned long r;

	calls_body++;
	r = work_fiber_suspend(f);
	__asm__ volatile("" : "+r"(r));
	return r + 1;
}

static void fiber_main(unsigned int lo, unsigned int hi)
{
	struct fiber *f = (struct fiber *)(((uintptr_t)hi << 32) | lo);

	f->result = work_fiber_body(f);
	f->done = 1;
	if (setcontext(&f->home) != 0)
		abort();
}

/* Thread A: start each fiber; it runs until it suspends. */
static void *start_fibers(void *arg)
{
	(void)arg;
	for (volatile int i = 0; i < FIBERS; i++) {
		struct fiber *f = &fibers[i];
		uintptr_t p = (uintptr_t)f;

		if (getcontext(&f->ctx) != 0)
			abort();
		f->ctx.uc_stack.ss_sp = malloc(STACK_SIZE);
		f->ctx.uc_stack.ss_size = STACK_SIZE;
		f->ctx.uc_link = NULL;
		if (!f->ctx.uc_stack.ss_sp)
			abort();
		makecontext(&f->ctx, (void (*)(void))fiber_main, 2, (unsigned int)p,
			    (unsigned int)(p >> 32));
		if (swapcontext(&f->home, &f->ctx) != 0)
			abort();
	}
	if (orphan)
		return NULL;
	/* live until B is done: the fibers' entries are on this thread's shadow stack */
	pthread_barrier_wait(&fibers_started);
	pthread_barrier_wait(&fibers_finished);
	return NULL;
}

/* Thread B: resume each fiber; it returns from its traced frames here. */
static void *finish_fibers(void *arg)
{
	(void)arg;
	if (!orphan)
		pthread_barrier_wait(&fibers_started);
	for (int i = 0; i < FIBERS; i++)
		if (swapcontext(&fibers[i].home, &fibers[i].ctx) != 0)
			abort();
	if (!orphan)
		pthread_barrier_wait(&fibers_finished);
	return NULL;
}

static int run_migrate(void)
{
	unsigned long sum = 0;
	int done = 0;
	pthread_t a, b;

	pthread_barrier_init(&fibers_started, NULL, 2);
	pthread_barrier_init(&fibers_finished, NULL, 2);
	if (orphan) {
		if (pthread_create(&a, NULL, start_fibers, NULL) != 0 ||
		    pthread_join(a, NULL) != 0 ||
		    pthread_create(&b, NULL, finish_fibers, NULL) != 0 ||
		    pthread_join(b, NULL) != 0)
			return -1;
	} else if (pthread_create(&a, NULL, start_fibers, NULL) != 0 ||
		   pthread_create(&b, NULL, finish_fibers, NULL) != 0 ||
		   pthread_join(a, NULL) != 0 || pthread_join(b, NULL) != 0) {
		return -1;
	}
	for (int i = 0; i < FIBERS; i++) {
		sum += fibers[i].result;
		done += fibers[i].done;
	}
	printf("sum %lu\n", sum);
	printf("fibers done %d, resumed on another thread %d\n", done, resumed_on_other_thread);
	printf("count work_fiber_body %lu\n", calls_body);
	printf("count work_fiber_suspend %lu\n", calls_suspend);
	printf("count work_co_leaf %lu\n", calls_leaf);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "pingpong";
	int err;

	if (strcmp(mode, "pingpong") == 0)
		err = run_pingpong();
	else if (strcmp(mode, "migrate") == 0 || strcmp(mode, "orphan") == 0) {
		orphan = mode[0] == 'o';
		err = run_migrate();
	} else {
		fprintf(stderr, "usage: s-coro [pingpong|migrate|orphan]\n");
		return 2;
	}
	if (err) {
		perror("s-coro");
		return 1;
	}
	return EXIT_STATUS;
}
