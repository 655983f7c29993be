// SPDX-License-Identifier: MIT
/*
 * Small x86_64 hooks of arch/arch.h: the breakpoint, where a function's patch
 * point is, and what the CPU lets user code do.  The relocator is in
 * relocator.c.
 */
#include <cpuid.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>

#include "arch.h"

/* Older kernel headers lack it: arch/x86/include/uapi/asm/hwcap2.h. */
#ifndef HWCAP2_FSGSBASE
#define HWCAP2_FSGSBASE (1UL << 1)
#endif

#define INT3_INSN 0xcc

const uint8_t arch_breakpoint[ARCH_BREAKPOINT_SIZE] = {
	INT3_INSN, /* int3 */
};

/* What -fcf-protection puts first in every function that may be called indirectly. */
static const uint8_t endbr64_insn[] = {
	0xf3, 0x0f, 0x1e, 0xfa, /* endbr64 */
};
#define ENDBR64_SIZE 4
_Static_assert(sizeof(endbr64_insn) == ENDBR64_SIZE, "endbr64 is 4 bytes");

/*
 * Indirect branches must still land on the endbr64 under IBT, so the patch
 * goes after it; regs->ip of a probe then reports the address past it.
 */
size_t arch_patch_offset(const uint8_t *code, size_t len)
{
	if (len >= ENDBR64_SIZE && !memcmp(code, endbr64_insn, ENDBR64_SIZE))
		return ENDBR64_SIZE;
	return 0;
}

#define RET_INSN 0xc3

bool arch_is_bare_return(const uint8_t *code, size_t len)
{
	size_t off = arch_patch_offset(code, len);

	return off < len && code[off] == RET_INSN;
}

/* -fpatchable-function-entry=5 emits five one-byte nops. */
static const uint8_t nop1_x5_insns[] = {
	0x90, /* nop */
	0x90, /* nop */
	0x90, /* nop */
	0x90, /* nop */
	0x90, /* nop */
};
_Static_assert(sizeof(nop1_x5_insns) == ARCH_ENTRY_SITE_SIZE, "five 1-byte nops");

/* -mfentry -mnop-mcount emits one 5-byte nop. */
static const uint8_t nop5_insn[] = {
	0x0f, 0x1f, 0x44, 0x00, 0x00, /* nopl 0x0(%rax,%rax,1) */
};
_Static_assert(sizeof(nop5_insn) == ARCH_ENTRY_SITE_SIZE, "5-byte nop");

#define CALL_REL32_OPCODE 0xe8 /* e8 rel32: call __fentry__ (-mfentry) */
#define JMP_REL32_OPCODE 0xe9

bool arch_is_patch_site(const uint8_t *code, size_t len)
{
	return len >= ARCH_ENTRY_SITE_SIZE && (!memcmp(code, nop1_x5_insns, ARCH_ENTRY_SITE_SIZE) ||
					       !memcmp(code, nop5_insn, ARCH_ENTRY_SITE_SIZE));
}

/*
 * Only these forms: a PIE's -mfentry site is `call *__fentry__@GOTPCREL(%rip)`
 * (6 bytes), which one 5-byte call cannot replace.
 */
bool arch_is_entry_site(const uint8_t *code)
{
	return arch_is_patch_site(code, ARCH_ENTRY_SITE_SIZE) || code[0] == CALL_REL32_OPCODE;
}

static const uint8_t patch_opcode[] = {
	[ARCH_PATCH_JMP] = JMP_REL32_OPCODE, /* jmp rel32 */
	[ARCH_PATCH_CALL] = CALL_REL32_OPCODE, /* call rel32 */
};

int arch_patch_encode(enum arch_patch_insn insn, uint64_t at, uint64_t target, uint8_t *out)
{
	int64_t rel = (int64_t)(target - (at + ARCH_PATCH_SIZE));
	int32_t rel32 = (int32_t)rel;

	if (rel != rel32)
		return -ERANGE;
	out[0] = patch_opcode[insn];
	memcpy(out + 1, &rel32, sizeof(rel32));
	return 0;
}

bool arch_has_rdfsbase(void)
{
	const char *off = getenv("UTRACE_NO_FSGSBASE");

	if (off && *off && strcmp(off, "0") != 0)
		return false;
	return getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE;
}

#define CPUID_EXT_FEATURES 0x80000001

/* The trampolines keep the flags with lahf/sahf (arch/x86_64/blob/trampoline.S). */
const char *arch_cpu_unsupported(void)
{
	unsigned int a, b, c, d;

	if (!__get_cpuid(CPUID_EXT_FEATURES, &a, &b, &c, &d) || !(c & bit_LAHF_LM))
		return "this CPU has no LAHF/SAHF in 64-bit mode, which utrace's trampolines use";
	return NULL;
}
