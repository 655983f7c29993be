/* SPDX-License-Identifier: MIT */
/*
 * CET user shadow stacks (Linux 6.6+, CONFIG_X86_USER_SHADOW_STACK): a thread
 * that enabled one (arch_prctl(ARCH_SHSTK_ENABLE, ARCH_SHSTK_SHSTK)) faults
 * on any `ret` whose address differs from its shadow stack's copy, so the
 * tracer must not hijack its return addresses.  The kernel lists what a
 * thread enabled in /proc/PID/task/TID/status:
 *
 *   x86_Thread_features:	shstk wrss
 *   x86_Thread_features_locked:	shstk
 */
#ifndef UTRACE_ARCH_SHSTK_H
#define UTRACE_ARCH_SHSTK_H

#include <stdbool.h>

/* Whether a /proc status text says its thread runs with a shadow stack. */
bool arch_status_has_shstk(const char *status);

#endif
