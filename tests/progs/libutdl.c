// SPDX-License-Identifier: MIT
/*
 * The library s-dlopen loads at run time (libutdl.so).  Its constructor
 * makes CTOR_CALLS calls of dl_work_a before dlopen returns: utrace patches
 * a library before its constructors run, so those are traced too.
 * dl_work_b calls dl_work_a (a nested call inside the library).  The counts
 * live in the library: they start again at 0 each time it is loaded, and
 * utdl_counts (untraced) reports them.
 */
#define CTOR_CALLS 3

static unsigned long calls_a, calls_b;

__attribute__((noinline, noclone)) int dl_work_a(int x);
__attribute__((noinline, noclone)) int dl_work_b(int x);
void utdl_counts(unsigned long *a, unsigned long *b);

__attribute__((noinline, noclone)) int dl_work_a(int x)
{
	calls_a++;
	__asm__ volatile("");
	return x * 7 + 3;
}

__attribute__((noinline, noclone)) int dl_work_b(int x)
{
	int r;

	calls_b++;
	r = dl_work_a(x ^ 9);
	__asm__ volatile("" : "+r"(r));
	return r - 1;
}

__attribute__((constructor)) static void utdl_init(void)
{
	for (int i = 0; i < CTOR_CALLS; i++)
		dl_work_a(i);
}

void utdl_counts(unsigned long *a, unsigned long *b)
{
	*a = calls_a;
	*b = calls_b;
}
