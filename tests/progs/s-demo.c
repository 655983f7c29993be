// SPDX-License-Identifier: MIT
/*
 * The README's example: a small parser whose call graph reads at a glance.
 *
 *   utrace run build/tests/progs/s-demo -f 'work_*'
 */
#include <stdio.h>
#include <stdlib.h>

static unsigned long calls_number, calls_term, calls_expr;

__attribute__((noinline, noclone)) long work_number(const char **s);
__attribute__((noinline, noclone)) long work_term(const char **s);
__attribute__((noinline, noclone)) long work_expr(const char **s);

__attribute__((noinline, noclone)) long work_number(const char **s)
{
	char *end;
	long v = strtol(*s, &end, 10);

	calls_number++;
	*s = end;
	return v;
}

/* term := number ('*' number)* */
__attribute__((noinline, noclone)) long work_term(const char **s)
{
	long v = work_number(s);

	calls_term++;
	while (**s == '*') {
		(*s)++;
		v *= work_number(s);
	}
	return v;
}

/* expr := term ('+' term)* */
__attribute__((noinline, noclone)) long work_expr(const char **s)
{
	long v = work_term(s);

	calls_expr++;
	while (**s == '+') {
		(*s)++;
		v += work_term(s);
	}
	return v;
}

int main(int argc, char **argv)
{
	const char *text = argc > 1 ? argv[1] : "2*3+4";
	const char *s = text;

	printf("%s = %ld\n", text, work_expr(&s));
	printf("count work_expr %lu\ncount work_term %lu\ncount work_number %lu\n", calls_expr,
	       calls_term, calls_number);
	return 0;
}
