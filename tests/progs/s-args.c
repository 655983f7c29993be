// SPDX-License-Identifier: MIT
/*
 * Typed arguments and return values: CALLS calls of each arg_* function,
 * whose arguments are computed from the call's index i (the tests compute
 * the same values) and whose return values are printed as a checksum.  Each
 * function counts its calls ("count arg_ints N").  Built with debug info;
 * s-args-debuglink is the same program with its debug info in a separate
 * file found through .gnu_debuglink.
 */
#include <stdbool.h>
#include <stdio.h>

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
typedef unsigned long ulong_t;

static unsigned long n_ints, n_misc, n_ptrs, n_structs, n_six, n_fp, n_big;
static const char *const words[] = { "alpha", "beta", "gamma" };

NOINL int arg_ints(int a, unsigned b, long c, short d, signed char e);
NOINL bool arg_misc(bool b, char c, enum color k, ulong_t u);
NOINL const char *arg_ptrs(const char *s, char *t, void *p);
NOINL struct pt arg_structs(struct pt p, struct wide w, int z);
NOINL long arg_six(int a, int b, int c, int d, int e, int f);
NOINL double arg_fp(double x, int i, float y);
NOINL struct big arg_big(struct big b, unsigned char z);

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

static const enum color colors[] = { RED, GREEN, BLUE };

int main(void)
{
	unsigned long sum = 0;
	char buf[8];

	for (int i = 0; i < CALLS; i++) {
		struct pt p = { i, -i };
		struct wide w = { 3L * i, 7 };
		struct big b = { i, 2, 3 };

		sum += (unsigned long)arg_ints(i - 50, 3u * (unsigned)i, -7L * i, (short)(i - 3),
					       (signed char)('a' + i % 26));
		sum += arg_misc(i % 2, (char)('A' + i % 26), colors[i % 3], 11UL * (unsigned)i);
		sum += (unsigned long)arg_ptrs(words[i % 3], i % 2 ? buf : NULL, NULL)[0];
		sum += (unsigned long)arg_structs(p, w, 2).x;
		sum += (unsigned long)arg_six(i, i + 1, i + 2, i + 3, i + 4, i + 5);
		sum += (unsigned long)arg_fp(1.5 * i, i, 2.5f);
		sum += (unsigned long)arg_big(b, (unsigned char)(200 + i)).a;
	}
	printf("sum %lu\n", sum);
	printf("count arg_ints %lu\ncount arg_misc %lu\ncount arg_ptrs %lu\n", n_ints, n_misc,
	       n_ptrs);
	printf("count arg_structs %lu\ncount arg_six %lu\ncount arg_fp %lu\ncount arg_big %lu\n",
	       n_structs, n_six, n_fp, n_big);
	return 0;
}
