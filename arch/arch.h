/* SPDX-License-Identifier: MIT */
/*
 * The whole contract an architecture implements (arch/<arch>/).  lib/ calls
 * only these; nothing else in lib/ knows instruction encodings or register
 * names beyond struct user_regs_struct accessors below.
 */
#ifndef UTRACE_ARCH_H
#define UTRACE_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/user.h>

#define ARCH_INSN_MAX 15 /* longest instruction */
#define ARCH_BREAKPOINT_SIZE 1

/* The breakpoint instruction bytes (int3). */
extern const uint8_t arch_breakpoint[ARCH_BREAKPOINT_SIZE];

/* Offset of the patch point in a function starting with `code` (past endbr64). */
size_t arch_patch_offset(const uint8_t *code, size_t len);

/* A jump or call to anywhere within +-2 GiB: what a 5-byte patch writes. */
#define ARCH_PATCH_SIZE 5
enum arch_patch_insn {
	ARCH_PATCH_JMP,
	ARCH_PATCH_CALL,
};

/*
 * Whether a compiler-made entry site (from __patchable_function_entries or
 * __mcount_loc) holds only nops, so that a call may replace them with nothing
 * displaced.  A `call __fentry__` there is kept: it is an ordinary prologue.
 */
bool arch_is_patch_site(const uint8_t *code, size_t len);

/* Encode insn at `at` aimed at `target` into out[ARCH_PATCH_SIZE]: 0, or -ERANGE. */
int arch_patch_encode(enum arch_patch_insn insn, uint64_t at, uint64_t target, uint8_t *out);

/*
 * Build the stub of a probe at `pc` into out[UT_STUB_SIZE] for the stub's
 * address `stub`: call the entry trampoline at `entry_tramp`, then a relocated
 * copy of whole instructions of `code` (the live bytes at pc, `len` >= 2 *
 * ARCH_INSN_MAX available) covering at least `min_len` bytes, then a jump back
 * to pc + displaced; padding is int3.  Copying stops after an unconditional
 * jmp, a ret or a final call (no jump back is needed): bytes after them up to
 * min_len are displaced but never copied.  Returns the number of bytes
 * displaced (> 0), or a negative errno with *why set to a static reason:
 * -ENOTSUP an instruction cannot be relocated, -ERANGE a target is out of
 * reach, -ENOSPC the stub is too small.
 */
int arch_stub_build(uint64_t pc, const uint8_t *code, size_t len, size_t min_len, uint64_t stub,
		    uint64_t entry_tramp, uint8_t *out, const char **why);

/*
 * The same, for a stub entered by a `call` (bench-only --patch=call): the
 * stub first drops that call's return address, so the entry trampoline sees
 * the stack of a function entry.
 */
int arch_callstub_build(uint64_t pc, const uint8_t *code, size_t len, size_t min_len, uint64_t stub,
			uint64_t entry_tramp, uint8_t *out, const char **why);

/*
 * Where a thread stopped at `ip` inside the displaced range [pc, pc + displaced)
 * should resume in the stub built from the same `len` bytes of `code`; 0 when
 * it is not on an instruction boundary.
 */
uint64_t arch_stub_translate(uint64_t pc, const uint8_t *code, size_t len, size_t displaced,
			     uint64_t stub, uint64_t ip);

/*
 * Call fn(target, arg) for the target of every direct relative branch (jmp,
 * jcc, call, loop, jrcxz, xbegin) found by a linear sweep of `code`, `len`
 * bytes mapped at address `addr`; undecodable bytes are skipped one at a time.
 * Targets may lie outside the code.  Returns 0, -ENOMEM, or -ENOSYS when the
 * disassembler lacks this architecture.
 */
int arch_scan_branches(const uint8_t *code, size_t len, uint64_t addr,
		       void (*fn)(uint64_t target, void *arg), void *arg);

/*
 * Addresses of the `ret` instructions in the function whose code (len bytes
 * at addr) is given: how many (at most max), or -EILSEQ when it does not
 * decode, -E2BIG when there are more than max.
 */
int arch_find_returns(const uint8_t *code, size_t len, uint64_t addr, uint64_t *out, size_t max);

/* Bytes a compiler leaves at a recorded entry site, patched with one call. */
#define ARCH_ENTRY_SITE_SIZE ARCH_PATCH_SIZE

/*
 * Whether the ARCH_ENTRY_SITE_SIZE bytes at `code` are what a compiler emits
 * at an entry site it records (__patchable_function_entries, __mcount_loc):
 * nops, or a call to __fentry__.
 */
bool arch_is_entry_site(const uint8_t *code);

/*
 * Whether the function at `code` does nothing but return (ret, or endbr64;
 * ret), as the dynamic linker's _dl_debug_state does: a breakpoint on it is
 * answered by emulating that return (arch_regs_emulate_return).
 */
bool arch_is_bare_return(const uint8_t *code, size_t len);
/* Register accessors and syscall conventions: static inline, per arch. */
#include "arch-regs.h"

/*
 * Whether the CPU lets user code read the fs base with rdfsbase (HWCAP2_FSGSBASE);
 * false when UTRACE_NO_FSGSBASE is set, so that both paths can be tested on a CPU
 * that has it.
 */
bool arch_has_rdfsbase(void);

/* Why the injected code cannot run on this CPU, or NULL. */
const char *arch_cpu_unsupported(void);

/* Why process `pid`'s return addresses must not be rewritten (CET shadow stack), or NULL. */
const char *arch_no_return_hijack(pid_t pid);

/* The injected blob (arch/<arch>/blob): image bytes, starting with struct ut_blob_hdr. */
extern const unsigned char arch_blob[];
extern const size_t arch_blob_size;

#endif
