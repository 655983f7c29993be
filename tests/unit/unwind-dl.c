// SPDX-License-Identifier: MIT
/*
 * A library test-unwind.c dlopens once its unwinder exists: a frame in it
 * sends the unwinder back to /proc/PID/maps.
 */
int unwind_dl_call(int (*fn)(int), int x);

__attribute__((noinline)) int unwind_dl_call(int (*fn)(int), int x)
{
	/* not a tail call: this frame stays on the stack */
	return fn(x + 1) * 7;
}
