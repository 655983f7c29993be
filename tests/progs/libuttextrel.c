// SPDX-License-Identifier: MIT
/*
 * A library with a text relocation (linked -z notext): the dynamic linker
 * writes tr_data's address into tr_work's first instruction after it
 * announces the library (RT_CONSISTENT).  utrace must leave it alone.
 */
int tr_data = 5;

__attribute__((noinline, noclone)) int tr_work(int x);

__attribute__((noinline, noclone)) int tr_work(int x)
{
	int r;

	/* an absolute address in the text: relocated at load */
	__asm__ volatile("movabs $tr_data, %%rax\n\tmov (%%rax), %0" : "=r"(r) : : "rax");
	return r + x;
}
