// SPDX-License-Identifier: MIT
/*
 * test-unwind.c's chain with frame pointers and no unwind tables
 * (-fno-omit-frame-pointer -fno-asynchronous-unwind-tables -fno-unwind-tables):
 * no .eh_frame entry covers it, so libunwind can only follow the rbp chain.
 * (With -g the compiler writes .debug_frame instead, which Debian's libunwind
 * does not read.)
 */
#include "unwind-chain.h"

UNWIND_CHAIN(fponly)
