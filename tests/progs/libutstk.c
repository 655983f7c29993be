// SPDX-License-Identifier: MIT
/*
 * s-stack's middle frame, in a library of its own built without frame
 * pointers (-fomit-frame-pointer): only its CFI (.eh_frame) unwinds it.
 */
#define NOINL __attribute__((noinline, noclone, visibility("default")))

int stk_inner(int i);
NOINL int stk_mid(int i);

NOINL int stk_mid(int i)
{
	int r = stk_inner(i * 2) + 1;

	__asm__ volatile("" : "+r"(r));
	return r;
}
