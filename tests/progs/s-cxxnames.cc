// SPDX-License-Identifier: MIT
/*
 * C++ names: functions in a namespace, a class, overloads and a template,
 * CALLS calls each, counted and printed under their demangled names
 * ("calls ns::Foo::bar(int)\tN": names hold spaces), for the demangling of
 * names in patterns and output.
 */
#include <cstdio>

#include "attach-gate.h"

#define CALLS 1000
#define NOINL __attribute__((noinline, noclone))

namespace ns
{
struct Foo {
	static unsigned long n_bar_int, n_bar_long, n_baz;
	NOINL static int bar(int x);
	NOINL static long bar(long x);
	NOINL int baz(double d) const;
	int k;
};
unsigned long Foo::n_bar_int, Foo::n_bar_long, Foo::n_baz;
static unsigned long n_twice;

int Foo::bar(int x)
{
	n_bar_int++;
	__asm__ volatile("");
	return x + 1;
}

long Foo::bar(long x)
{
	n_bar_long++;
	__asm__ volatile("");
	return x + 2;
}

int Foo::baz(double d) const
{
	n_baz++;
	__asm__ volatile("");
	return k + (int)d;
}

template <typename T> NOINL T twice(T v)
{
	n_twice++;
	__asm__ volatile("");
	return v + v;
}
template int twice<int>(int);
} // namespace ns

int main()
{
	ns::Foo f{ 3 };
	long sum = 0;

	for (int i = 0; i < CALLS; i++)
		sum += ns::Foo::bar(i) + ns::Foo::bar((long)i) + f.baz(i) + ns::twice(i);
	printf("sum %ld\n", sum);
	printf("calls ns::Foo::bar(int)\t%lu\n", ns::Foo::n_bar_int);
	printf("calls ns::Foo::bar(long)\t%lu\n", ns::Foo::n_bar_long);
	printf("calls ns::Foo::baz(double) const\t%lu\n", ns::Foo::n_baz);
	printf("calls int ns::twice<int>(int)\t%lu\n", ns::n_twice);
	return 0;
}
