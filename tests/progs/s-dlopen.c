// SPDX-License-Identifier: MIT
/*
 * Functions of a library loaded at run time (dlopen), traced from its
 * constructor on, and released before dlclose unmaps it.
 *
 *   s-dlopen [reload]  main loads libutdl.so, calls it through work_main,
 *                      unloads it, and does it again LOADS times (the
 *                      library may come back at another address)
 *   s-dlopen thread    a second thread loads, calls and unloads the
 *                      library LOADS times while main calls work_main
 *                      (traced, in the executable) until it is done
 *   s-dlopen none      never loads it: only work_main is called
 *   s-dlopen textrel   loads libuttextrel.so, which has text relocations,
 *                      and calls its tr_work CALLS_PER_LOAD times
 *   s-dlopen fork      loads it once, then a child process loads it twice
 *                      (a tracer's breakpoint in the dynamic linker must
 *                      not kill it), prints its own counts and exits with
 *                      CHILD_STATUS
 *   s-dlopen loop      loads, calls and unloads it, with a pause after each,
 *                      until a byte (or the end) comes on stdin (a tracer
 *                      may detach meanwhile), then LOOP_LOADS times more
 *
 * It prints `count <func> <n>`: the library's counts (its constructor's
 * calls included) summed over every load, and its own.
 */
#include <dlfcn.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "attach-gate.h"

#define LIBRARY "libutdl.so"
#define TEXTREL_LIBRARY "libuttextrel.so"
#define LOADS 3
#define CALLS_PER_LOAD 1000
#define EXIT_STATUS 6
#define CHILD_STATUS 7
/* main's pace while the loader works: a burst of calls, then a pause (no ring overflows) */
#define BURST 8
#define PAUSE_NS 20000
#define LOOP_LOADS 100
#define LOOP_PAUSE_MS 5

typedef int (*dl_fn)(int);
typedef void (*counts_fn)(unsigned long *, unsigned long *);

static unsigned long calls_main, total_a, total_b, loads;
static volatile int done;

__attribute__((noinline, noclone)) int work_main(dl_fn fn, int x);

__attribute__((noinline, noclone)) int work_main(dl_fn fn, int x)
{
	calls_main++;
	__asm__ volatile("");
	return fn ? fn(x) + 1 : x + 1;
}

/* The library next to this program. */
static void library_path(char *buf, size_t len, const char *name)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	char *slash;

	if (n < 0) {
		perror("readlink");
		exit(1);
	}
	buf[n] = 0;
	slash = strrchr(buf, '/');
	snprintf(slash + 1, len - (size_t)(slash + 1 - buf), "%s", name);
}

static void *must_sym(void *h, const char *name)
{
	void *p = dlsym(h, name);

	if (!p) {
		fprintf(stderr, "dlsym %s: %s\n", name, dlerror());
		exit(1);
	}
	return p;
}

/* One load: calls through work_main (from main) or straight (another thread). */
static long one_load(const char *path, int via_main)
{
	void *h = dlopen(path, RTLD_NOW);
	unsigned long a, b;
	dl_fn fa, fb;
	long sum = 0;

	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		exit(1);
	}
	fa = (dl_fn)must_sym(h, "dl_work_a");
	fb = (dl_fn)must_sym(h, "dl_work_b");
	for (int i = 0; i < CALLS_PER_LOAD; i++)
		sum += via_main ? work_main(i & 1 ? fa : fb, i) : fa(i) + fb(i);
	((counts_fn)must_sym(h, "utdl_counts"))(&a, &b);
	total_a += a;
	total_b += b;
	loads++;
	if (dlclose(h)) {
		fprintf(stderr, "dlclose: %s\n", dlerror());
		exit(1);
	}
	return sum;
}

static void *loader(void *arg)
{
	long sum = 0;

	for (int k = 0; k < LOADS; k++)
		sum += one_load(arg, 0);
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	return (void *)sum;
}

static long run_thread(const char *path)
{
	pthread_t th;
	void *ret;
	long sum = 0;

	if (pthread_create(&th, NULL, loader, (void *)path)) {
		fprintf(stderr, "pthread_create failed\n");
		exit(1);
	}
	while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE)) {
		struct timespec pause = { 0, PAUSE_NS };

		for (int i = 0; i < BURST; i++)
			sum += work_main(NULL, (int)sum & 0xff);
		nanosleep(&pause, NULL);
	}
	pthread_join(th, &ret);
	return sum + (long)ret;
}

static long run_textrel(const char *path)
{
	void *h = dlopen(path, RTLD_NOW);
	long sum = 0;
	dl_fn f;

	if (!h) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		exit(1);
	}
	f = (dl_fn)must_sym(h, "tr_work");
	for (int i = 0; i < CALLS_PER_LOAD; i++)
		sum += work_main(f, i);
	dlclose(h);
	return sum;
}

/* The child counts its own loads only, and prints them as `child count <func> <n>`. */
static long run_fork(const char *path)
{
	long sum = one_load(path, 1);
	int status;
	pid_t child;

	fflush(stdout);
	child = fork();
	if (child < 0) {
		perror("fork");
		exit(1);
	}
	if (child == 0) {
		calls_main = total_a = total_b = 0;
		one_load(path, 1);
		one_load(path, 0);
		printf("child count work_main %lu\nchild count dl_work_a %lu\n"
		       "child count dl_work_b %lu\n",
		       calls_main, total_a, total_b);
		fflush(stdout);
		_exit(CHILD_STATUS);
	}
	if (waitpid(child, &status, 0) != child) {
		perror("waitpid");
		exit(1);
	}
	printf("child status %d\n",
	       WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	return sum;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "reload";
	char path[PATH_MAX];
	long sum = 0;

	library_path(path, sizeof(path), strcmp(mode, "textrel") ? LIBRARY : TEXTREL_LIBRARY);
	if (!strcmp(mode, "thread")) {
		sum = run_thread(path);
	} else if (!strcmp(mode, "loop")) {
		struct pollfd in = { STDIN_FILENO, POLLIN, 0 };

		do
			one_load(path, 1);
		while (poll(&in, 1, LOOP_PAUSE_MS) <= 0);
		loads = 0;
		for (int k = 0; k < LOOP_LOADS; k++)
			one_load(path, 1);
		printf("loads after the byte %lu\n", loads);
		return EXIT_STATUS;
	} else if (!strcmp(mode, "textrel")) {
		sum = run_textrel(path);
	} else if (!strcmp(mode, "fork")) {
		sum = run_fork(path);
	} else if (!strcmp(mode, "none")) {
		for (int i = 0; i < CALLS_PER_LOAD; i++)
			sum += work_main(NULL, i);
	} else {
		for (int k = 0; k < LOADS; k++)
			sum += one_load(path, 1);
	}
	/* the thread mode's sum depends on timing: only the loads' part is printed */
	printf("loads %lu\n", loads);
	if (strcmp(mode, "thread"))
		printf("sum %ld\n", sum);
	printf("count work_main %lu\n", calls_main);
	printf("count dl_work_a %lu\n", total_a);
	printf("count dl_work_b %lu\n", total_b);
	return EXIT_STATUS;
}
