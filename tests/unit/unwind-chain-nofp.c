// SPDX-License-Identifier: MIT
/*
 * test-unwind.c's chain without frame pointers (-fomit-frame-pointer, even in
 * a -O0 build): rbp is just a register, only the CFI (.eh_frame) unwinds it.
 */
#include "unwind-chain.h"

UNWIND_CHAIN(nofp)
