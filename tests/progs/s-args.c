// SPDX-License-Identifier: MIT
/*
 * Typed arguments and return values: CALLS calls of each arg_* function,
 * whose arguments are computed from the call's index i (the tests compute
 * the same values) and whose return values are printed as a checksum.  Each
 * function counts its calls ("count arg_ints N").  Built with debug info;
 * s-args-debuglink is the same program with its debug info in a separate
 * file found through .gnu_debuglink.  arg_strs gets a wild pointer, NULL, a
 * string that runs into an unmapped page and one longer than utrace's
 * default bound (64 bytes); arg_fp9 has more floating-point arguments than
 * vector registers, its ninth on the stack.
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "attach-gate.h"

#define CALLS 100
#define NOINL __attribute__((noinline, noclone))

enum color { RED, GREEN = 5, BLUE };
struct pt {
	int x, y;
};
struct wide {
	long a, b;
};
struct big {
	long a, b, c;
};
struct dd {
	double x, y;
};
typedef unsigned long ulong_t;

static unsigned long n_ints, n_misc, n_ptrs, n_structs, n_six, n_fp, n_big, n_strs, n_fp9;
static const char *const words[] = { "alpha", "beta", "gamma" };

NOINL int arg_ints(int a, unsigned b, long c, short d, signed char e);
NOINL bool arg_misc(bool b, char c, enum color k, ulong_t u);
NOINL const char *arg_ptrs(const char *s, char *t, void *p);
NOINL struct pt arg_structs(struct pt p, struct wide w, int z);
NOINL long arg_six(int a, int b, int c, int d, int e, int f);
NOINL double arg_fp(double x, int i, float y);
NOINL struct big arg_big(struct big b, unsigned char z);
NOINL int arg_strs(const char *wild, const char *null, const char *cut, const char *lng);
NOINL double arg_fp9(double a, double b, double c, double d, double e, double f, double g,
		     struct dd h, double i);

NOINL int arg_ints(int a, unsigned b, long c, short d, signed char e)
{
	n_ints++;
	return a + (int)b + (int)c + d + e;
}

NOINL bool arg_misc(bool b, char c, enum color k, ulong_t u)
{
	n_misc++;
	__asm__ volatile("");
	return !b;
}

NOINL const char *arg_ptrs(const char *s, char *t, void *p)
{
	n_ptrs++;
	__asm__ volatile("" : : "r"(t), "r"(p));
	return s;
}

NOINL struct pt arg_structs(struct pt p, struct wide w, int z)
{
	n_structs++;
	p.x += z + (int)w.a;
	p.y -= (int)w.b;
	return p;
}

NOINL long arg_six(int a, int b, int c, int d, int e, int f)
{
	n_six++;
	return (long)a + b + c + d + e + f;
}

NOINL double arg_fp(double x, int i, float y)
{
	n_fp++;
	return x + i + y;
}

NOINL struct big arg_big(struct big b, unsigned char z)
{
	n_big++;
	b.a += z;
	return b;
}

NOINL int arg_strs(const char *wild, const char *null, const char *cut, const char *lng)
{
	n_strs++;
	__asm__ volatile("" : : "r"(wild), "r"(null), "r"(cut), "r"(lng));
	return (int)strlen(lng);
}

NOINL double arg_fp9(double a, double b, double c, double d, double e, double f, double g,
		     struct dd h, double i)
{
	n_fp9++;
	return a + b + c + d + e + f + g + h.x + h.y + i;
}

/* "abc" with no NUL, at the very end of a page followed by an unmapped one. */
static const char *unterminated(void)
{
	long page = sysconf(_SC_PAGESIZE);
	char *p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || munmap(p + page, page))
		return "abc";
	memcpy(p + page - 3, "abc", 3);
	return p + page - 3;
}

static const enum color colors[] = { RED, GREEN, BLUE };

int main(void)
{
	unsigned long sum = 0;
	char buf[8], lng[101];
	const char *cut = unterminated();

	memset(lng, 'x', 100);
	lng[100] = 0;
	for (int i = 0; i < CALLS; i++) {
		struct pt p = { i, -i };
		struct wide w = { 3L * i, 7 };
		struct big b = { i, 2, 3 };

		sum += (unsigned long)arg_ints(i - 50, 3u * (unsigned)i, -7L * i, (short)(i - 3),
					       (signed char)('a' + i % 26));
		sum += arg_misc(i % 2, (char)('A' + i % 26), colors[i % 3], 11UL * (unsigned)i);
		snprintf(buf, sizeof(buf), "b%d", i);
		sum += (unsigned long)arg_ptrs(words[i % 3], i % 2 ? buf : NULL, NULL)[0];
		sum += (unsigned long)arg_structs(p, w, 2).x;
		sum += (unsigned long)arg_six(i, i + 1, i + 2, i + 3, i + 4, i + 5);
		sum += (unsigned long)arg_fp(1.5 * i, i, 2.5f);
		sum += (unsigned long)arg_big(b, (unsigned char)(200 + i)).a;
		sum += (unsigned long)arg_strs((const char *)0x10, NULL, cut, lng);
		sum += (unsigned long)arg_fp9(i, 1, 2, 3, 4, 5, 6, (struct dd){ 0.5, 0.25 }, -i);
	}
	printf("sum %lu\n", sum);
	printf("count arg_ints %lu\ncount arg_misc %lu\ncount arg_ptrs %lu\n", n_ints, n_misc,
	       n_ptrs);
	printf("count arg_structs %lu\ncount arg_six %lu\ncount arg_fp %lu\ncount arg_big %lu\n",
	       n_structs, n_six, n_fp, n_big);
	printf("count arg_strs %lu\ncount arg_fp9 %lu\n", n_strs, n_fp9);
	return 0;
}
