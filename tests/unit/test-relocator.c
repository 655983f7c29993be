// SPDX-License-Identifier: MIT
/*
 * The x86_64 relocator, byte for byte: each case gives the input instructions
 * with their disassembly and the whole expected stub; a mismatch prints a
 * capstone disassembly of both.  One case runs a real stub.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <capstone/capstone.h>
#include <cmocka.h>

#include "arch.h"
#include "utrace/shm.h"

/* Where the probed code, its stub and the entry trampoline are, unless a case says. */
#define PC 0x400000ULL
#define STUB 0x401000ULL
#define ENTRY 0x402000ULL
#define GIB 0x40000000ULL
#define FAR_PC 0x7f1234560000ULL /* room for stubs 2 GiB below */

#define CALL_SIZE 5 /* the stub's leading call entry_tramp */
#define CODE_BUF 64 /* >= 2 * ARCH_INSN_MAX, as callers give */
#define INT3 0xcc

/* Little-endian immediates of an address difference, truncated as the CPU does. */
#define LE32(v)                                                                                \
	(uint8_t)(uint32_t)(v), (uint8_t)((uint32_t)(v) >> 8), (uint8_t)((uint32_t)(v) >> 16), \
		(uint8_t)((uint32_t)(v) >> 24)
#define LE64(v) LE32((uint64_t)(v)), LE32((uint64_t)(v) >> 32)

/* The entry call every stub at STUB starts with. */
#define CALL_ENTRY 0xe8, LE32(ENTRY - (STUB + CALL_SIZE)) /* call ENTRY */

struct where {
	uint64_t pc, stub, entry;
};

static const struct where near = { PC, STUB, ENTRY };

/* Build a stub for `code` (padded with int3 like the rest of a function's text). */
static int build(const struct where *at, const uint8_t *code, size_t n, size_t min_len,
		 uint8_t *out, const char **why)
{
	uint8_t buf[CODE_BUF];

	memset(buf, INT3, sizeof(buf));
	memcpy(buf, code, n);
	memset(out, 0, UT_STUB_SIZE);
	*why = NULL;
	return arch_stub_build(at->pc, buf, sizeof(buf), min_len, at->stub, at->entry, out, why);
}

static void print_disasm(const char *title, const uint8_t *bytes, uint64_t addr)
{
	const uint8_t *p = bytes;
	size_t left = UT_STUB_SIZE;
	uint64_t a = addr;
	cs_insn *insn;
	csh h;

	/* The int3 padding is summed up in one line. */
	while (left && bytes[left - 1] == INT3)
		left--;
	print_message("%s (int3 from %#" PRIx64 "):\n", title, addr + left);
	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return;
	insn = cs_malloc(h);
	while (insn && left) {
		if (cs_disasm_iter(h, &p, &left, &a, insn)) {
			print_message("  %#" PRIx64 ":", insn->address);
			for (size_t i = 0; i < insn->size; i++)
				print_message(" %02x", insn->bytes[i]);
			print_message("\t%s %s\n", insn->mnemonic, insn->op_str);
			continue;
		}
		print_message("  %#" PRIx64 ": %02x\t.byte\n", a, *p);
		p++;
		left--;
		a++;
	}
	if (insn)
		cs_free(insn, 1);
	cs_close(&h);
}

/* The whole stub: `expected` then int3 padding. */
static void assert_stub(const uint8_t *out, const uint8_t *expected, size_t n, uint64_t stub)
{
	uint8_t want[UT_STUB_SIZE];

	assert_true(n <= UT_STUB_SIZE);
	memset(want, INT3, sizeof(want));
	memcpy(want, expected, n);
	if (!memcmp(out, want, sizeof(want)))
		return;
	print_disasm("expected", want, stub);
	print_disasm("got", out, stub);
	fail_msg("stub bytes differ");
}

/* Building a stub for `code` fails with `err` for the static `reason`. */
static void assert_refused(const struct where *at, const uint8_t *code, size_t n, size_t min_len,
			   int err, const char *reason)
{
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	assert_int_equal(build(at, code, n, min_len, out, &why), err);
	assert_non_null(why);
	assert_string_equal(why, reason);
}

static void relocator_breakpoint_is_int3(void **state)
{
	assert_int_equal(ARCH_BREAKPOINT_SIZE, 1);
	assert_int_equal(arch_breakpoint[0], 0xcc);
}

static void relocator_push_rbp(void **state)
{
	static const uint8_t code[] = {
		0x55, /* push rbp */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY, 0x55, /* push rbp */
		0xe9, LE32(PC + 1 - (STUB + 11)), /* jmp PC+1 */
	};
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	/* An int3 probe displaces one byte. */
	assert_int_equal(build(&near, code, sizeof(code), 1, out, &why), 1);
	assert_stub(out, expected, sizeof(expected), STUB);
}

static void relocator_prologue_multi(void **state)
{
	static const uint8_t code[] = {
		0x55, /* push rbp */
		0x48, 0x89, 0xe5, /* mov rbp, rsp */
		0x48, 0x83, 0xec, 0x20, /* sub rsp, 0x20 */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY, 0x55, /* push rbp */
		0x48,	    0x89,
		0xe5, /* mov rbp, rsp */
		0x48,	    0x83,
		0xec,	    0x20, /* sub rsp, 0x20 */
		0xe9,	    LE32(PC + 8 - (STUB + 18)), /* jmp PC+8 */
	};
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	/* Five bytes end inside sub: the whole instruction goes. */
	assert_int_equal(build(&near, code, sizeof(code), 5, out, &why), 8);
	assert_stub(out, expected, sizeof(expected), STUB);
}

static void relocator_endbr64_patch_offset(void **state)
{
	static const uint8_t endbr[] = {
		0xf3, 0x0f, 0x1e, 0xfa, /* endbr64 */
		0x55, /* push rbp */
	};
	static const uint8_t plain[] = {
		0x55, /* push rbp */
		0xf3, 0x0f, 0x1e, 0xfa, /* endbr64 (not first) */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY, 0x55, /* push rbp */
		0xe9, LE32(PC + 5 - (STUB + 11)), /* jmp PC+5 */
	};
	const struct where after = { PC + 4, STUB, ENTRY };
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	assert_int_equal(arch_patch_offset(endbr, sizeof(endbr)), 4);
	assert_int_equal(arch_patch_offset(plain, sizeof(plain)), 0);
	/* Too short to hold an endbr64. */
	assert_int_equal(arch_patch_offset(endbr, 3), 0);
	/* The probe is past the endbr64, which stays in place. */
	assert_int_equal(build(&after, endbr + 4, 1, 1, out, &why), 1);
	assert_stub(out, expected, sizeof(expected), STUB);
}

/* _dl_debug_state, whose breakpoint utrace answers by returning for it (rtld.c). */
static void relocator_bare_return(void **state)
{
	static const uint8_t ret[] = {
		0xc3, /* ret */
	};
	static const uint8_t endbr_ret[] = {
		0xf3, 0x0f, 0x1e, 0xfa, /* endbr64 */
		0xc3, /* ret */
	};
	static const uint8_t push_ret[] = {
		0x55, /* push rbp */
		0xc3, /* ret */
	};
	static const uint8_t endbr_only[] = {
		0xf3, 0x0f, 0x1e, 0xfa, /* endbr64 */
	};

	(void)state;
	assert_true(arch_is_bare_return(ret, sizeof(ret)));
	assert_true(arch_is_bare_return(endbr_ret, sizeof(endbr_ret)));
	assert_false(arch_is_bare_return(push_ret, sizeof(push_ret)));
	assert_false(arch_is_bare_return(endbr_only, sizeof(endbr_only)));
	assert_false(arch_is_bare_return(ret, 0));
}

static const uint8_t mov_rip[] = {
	0x48, 0x8b, 0x05, LE32(0x1234), /* mov rax, qword ptr [rip + 0x1234] */
};

static void relocator_rip_load_near(void **state)
{
	static const uint8_t expected[] = {
		CALL_ENTRY,
		0x48,
		0x8b,
		0x05,
		LE32(PC + 7 + 0x1234 - (STUB + 12)), /* mov rax, [PC+0x123b] */
		0xe9,
		LE32(PC + 7 - (STUB + 17)), /* jmp PC+7 */
	};
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	assert_int_equal(build(&near, mov_rip, sizeof(mov_rip), 5, out, &why), 7);
	assert_stub(out, expected, sizeof(expected), STUB);
}

static void relocator_rip_load_far(void **state)
{
	/* Almost 2 GiB below the code: the disp32 and the jmp back still reach. */
	const uint64_t stub = FAR_PC - 2 * GIB + 0x2000;
	const struct where far = { FAR_PC, stub, stub + 0x1000 };
	const uint8_t expected[] = {
		0xe8, LE32(0x1000 - CALL_SIZE), /* call stub+0x1000 */
		0x48, 0x8b,
		0x05, LE32(FAR_PC + 7 + 0x1234 - (stub + 12)), /* mov rax, [FAR_PC+0x123b] */
		0xe9, LE32(FAR_PC + 7 - (stub + 17)), /* jmp FAR_PC+7 */
	};
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	assert_true(FAR_PC + 7 + 0x1234 - (stub + 12) > 0x7fff0000); /* a long way */
	assert_int_equal(build(&far, mov_rip, sizeof(mov_rip), 5, out, &why), 7);
	assert_stub(out, expected, sizeof(expected), stub);
}

static void relocator_rip_load_out_of_reach(void **state)
{
	const uint64_t stub = PC + 3 * GIB;
	const struct where far = { PC, stub, stub + 0x1000 };
	assert_refused(&far, mov_rip, sizeof(mov_rip), 5, -ERANGE,
		       "rip-relative operand out of reach of the stub");
}

static void relocator_rip_lea(void **state)
{
	static const uint8_t code[] = {
		0x48, 0x8d, 0x3d, LE32(-0x100), /* lea rdi, [rip - 0x100] */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY,
		0x48,
		0x8d,
		0x3d,
		LE32(PC + 7 - 0x100 - (STUB + 12)), /* lea rdi, [PC-0xf9] */
		0xe9,
		LE32(PC + 7 - (STUB + 17)), /* jmp PC+7 */
	};
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	assert_int_equal(build(&near, code, sizeof(code), 5, out, &why), 7);
	assert_stub(out, expected, sizeof(expected), STUB);
}

/* Capstone 4 reports disp_size 2 for this SSE load: the disp32 is still re-aimed. */
static void relocator_rip_sse_compare(void **state)
{
	static const uint8_t code[] = {
		0x66, 0x0f, 0x2f, 0x05, LE32(0x1b4920), /* comisd xmm0, [rip + 0x1b4920] */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY, 0x66,
		0x0f,	    0x2f,
		0x05,	    LE32(PC + 8 + 0x1b4920 - (STUB + 13)), /* comisd xmm0, [PC+0x1b4928] */
		0xe9,	    LE32(PC + 8 - (STUB + 18)), /* jmp PC+8 */
	};
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	assert_int_equal(build(&near, code, sizeof(code), 1, out, &why), 8);
	assert_stub(out, expected, sizeof(expected), STUB);
}

static void relocator_jmp_rel8_widened(void **state)
{
	static const uint8_t code[] = {
		0xeb, 0x10, /* jmp PC+0x12 */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY, 0xe9, LE32(PC + 0x12 - (STUB + 10)), /* jmp PC+0x12 */
	};
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	/* The jmp ends the flow: the three bytes after it are displaced, not copied. */
	assert_int_equal(build(&near, code, sizeof(code), 5, out, &why), 5);
	assert_stub(out, expected, sizeof(expected), STUB);
}

static void relocator_jmp_into_range_refused(void **state)
{
	static const uint8_t code[] = {
		0xeb, 0x01, /* jmp PC+3 */
	};
	assert_refused(&near, code, sizeof(code), 5, -ENOTSUP, "branch into the displaced range");
}

static void relocator_je_rel8_widened(void **state)
{
	static const uint8_t code[] = {
		0x48, 0x85, 0xff, /* test rdi, rdi */
		0x74, 0x10, /* je PC+0x15 */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY,
		0x48,
		0x85,
		0xff, /* test rdi, rdi */
		0x0f,
		0x84,
		LE32(PC + 0x15 - (STUB + 14)), /* je PC+0x15 */
		0xe9,
		LE32(PC + 5 - (STUB + 19)), /* jmp PC+5 */
	};
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	assert_int_equal(build(&near, code, sizeof(code), 5, out, &why), 5);
	assert_stub(out, expected, sizeof(expected), STUB);
}

static void relocator_jne_rel32_adjusted(void **state)
{
	static const uint8_t code[] = {
		0x0f, 0x85, LE32(0x100), /* jne PC+0x106 */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY, 0x0f,
		0x85,	    LE32(PC + 0x106 - (STUB + 11)), /* jne PC+0x106 */
		0xe9,	    LE32(PC + 6 - (STUB + 16)), /* jmp PC+6 */
	};
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	assert_int_equal(build(&near, code, sizeof(code), 5, out, &why), 6);
	assert_stub(out, expected, sizeof(expected), STUB);
}

static void relocator_call_last(void **state)
{
	static const uint8_t code[] = {
		0x55, /* push rbp */
		0xe8, LE32(0x1000), /* call PC+0x1006 */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY,   0x55, /* push rbp */
		0xff,	      0x35,
		LE32(5), /* push qword ptr [rip + 5]: the literal */
		0xe9,	      LE32(PC + 0x1006 - (STUB + 17)), /* jmp PC+0x1006 */
		LE64(PC + 6), /* .quad PC+6: the original return address */
	};
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	assert_int_equal(build(&near, code, sizeof(code), 5, out, &why), 6);
	assert_stub(out, expected, sizeof(expected), STUB);
}

static void relocator_call_last_far_target(void **state)
{
	static const uint8_t code[] = {
		0xe8, LE32(0x7ffffff0), /* call PC+0x7ffffff5 */
	};
	/* The stub reaches PC but not the callee, 2 GiB further up. */
	const uint64_t stub = PC - 0x1000;
	const struct where far = { PC, stub, stub - 0x1000 };
	const uint8_t expected[] = {
		0xe8,
		LE32(-0x1000 - CALL_SIZE), /* call stub-0x1000 */
		0xff,
		0x35,
		LE32(14), /* push qword ptr [rip + 14]: the literal */
		0xff,
		0x25,
		LE32(0), /* jmp qword ptr [rip] */
		LE64(PC + 0x7ffffff5), /* .quad PC+0x7ffffff5 */
		LE64(PC + 5), /* .quad PC+5: the original return address */
	};
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	assert_int_equal(build(&far, code, sizeof(code), 5, out, &why), 5);
	assert_stub(out, expected, sizeof(expected), stub);
}

static void relocator_call_not_last_refused(void **state)
{
	static const uint8_t code[] = {
		0xe8, LE32(0x1000), /* call PC+0x1005 */
		0x55, /* push rbp */
	};
	assert_refused(&near, code, sizeof(code), 6, -ENOTSUP, "call inside the displaced range");
}

static void relocator_call_indirect_last(void **state)
{
	static const uint8_t code[] = {
		0xff, 0x15, LE32(0x2000), /* call qword ptr [rip + 0x2000] */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY,
		0xff,
		0x35,
		LE32(6), /* push qword ptr [rip + 6]: the literal */
		0xff,
		0x25,
		LE32(PC + 6 + 0x2000 - (STUB + 17)), /* jmp qword ptr [PC+0x2006] */
		LE64(PC + 6), /* .quad PC+6: the original return address */
	};
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	assert_int_equal(build(&near, code, sizeof(code), 5, out, &why), 6);
	assert_stub(out, expected, sizeof(expected), STUB);
}

static void relocator_call_through_rsp_refused(void **state)
{
	static const uint8_t code[] = {
		0xff, 0x54, 0x24, 0x08, /* call qword ptr [rsp + 8] */
	};
	assert_refused(&near, code, sizeof(code), 4, -ENOTSUP,
		       "call through rsp inside the displaced range");
}

static void relocator_loop_refused(void **state)
{
	static const uint8_t code[] = {
		0xe2, 0x10, /* loop PC+0x12 */
	};
	assert_refused(&near, code, sizeof(code), 2, -ENOTSUP,
		       "loop (rel8 only) inside the displaced range");
}

static void relocator_jrcxz_refused(void **state)
{
	static const uint8_t code[] = {
		0xe3, 0x10, /* jrcxz PC+0x12 */
	};
	assert_refused(&near, code, sizeof(code), 2, -ENOTSUP,
		       "jrcxz (rel8 only) inside the displaced range");
}

static void relocator_ret_first(void **state)
{
	static const uint8_t code[] = {
		0xc3, /* ret */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY, 0xc3, /* ret */
	};
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	assert_int_equal(build(&near, code, sizeof(code), 1, out, &why), 1);
	assert_stub(out, expected, sizeof(expected), STUB);
	/* A jmp patch displaces the four bytes after the ret too, without copying them. */
	assert_int_equal(build(&near, code, sizeof(code), 5, out, &why), 5);
	assert_stub(out, expected, sizeof(expected), STUB);
}

static void relocator_undecodable_refused(void **state)
{
	static const uint8_t code[] = {
		0xff, 0xff, /* (ff /7: no such instruction) */
	};
	assert_refused(&near, code, sizeof(code), 1, -ENOTSUP, "undecodable instruction");
}

static void relocator_jmp_rip_plt(void **state)
{
	static const uint8_t code[] = {
		0xff, 0x25, LE32(0x2ff2), /* jmp qword ptr [rip + 0x2ff2] */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY, 0xff, 0x25,
		LE32(PC + 6 + 0x2ff2 - (STUB + 11)), /* jmp qword ptr [PC+0x2ff8] */
	};
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	assert_int_equal(build(&near, code, sizeof(code), 5, out, &why), 6);
	assert_stub(out, expected, sizeof(expected), STUB);
}

static void relocator_entry_out_of_reach(void **state)
{
	static const uint8_t code[] = {
		0x55, /* push rbp */
	};
	const struct where far = { PC, STUB, STUB + 4 * GIB };
	assert_refused(&far, code, sizeof(code), 1, -ERANGE,
		       "entry trampoline out of reach of the stub");
}

static void relocator_jmp_back_far(void **state)
{
	static const uint8_t code[] = {
		0x55, /* push rbp */
	};
	const uint64_t stub = PC + 3 * GIB;
	const struct where far = { PC, stub, stub + 0x1000 };
	const uint8_t expected[] = {
		0xe8,	      LE32(0x1000 - CALL_SIZE), /* call stub+0x1000 */
		0x55, /* push rbp */
		0xff,	      0x25,
		LE32(0), /* jmp qword ptr [rip] */
		LE64(PC + 1), /* .quad PC+1 */
	};
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	assert_int_equal(build(&far, code, sizeof(code), 1, out, &why), 1);
	assert_stub(out, expected, sizeof(expected), stub);
}

static void relocator_stub_too_small(void **state)
{
	/* Ten je rel8 widen to 60 bytes, past the 59 after the entry call. */
	static const uint8_t code[] = {
		0x74, 0x7f, 0x74, 0x7f, 0x74, 0x7f, 0x74, 0x7f, 0x74, 0x7f, /* je +0x7f x 5 */
		0x74, 0x7f, 0x74, 0x7f, 0x74, 0x7f, 0x74, 0x7f, 0x74, 0x7f, /* je +0x7f x 5 */
	};
	assert_refused(&near, code, sizeof(code), sizeof(code), -ENOSPC, "stub too small");
}

static void relocator_translate_boundaries(void **state)
{
	static const uint8_t code[] = {
		0x55, /* push rbp		-> STUB+5 */
		0x48, 0x89, 0xe5, /* mov rbp, rsp	-> STUB+6 */
		0x48, 0x85, 0xff, /* test rdi, rdi	-> STUB+9 */
		0x74, 0x10, /* je PC+0x19	-> STUB+12 (widened to 6 bytes) */
		0x48, 0x83, 0xec, 0x20, /* sub rsp, 0x20	-> STUB+18 */
	};
	const size_t displaced = sizeof(code);

	assert_int_equal(arch_stub_translate(PC, code, displaced, displaced, STUB, PC), STUB + 5);
	assert_int_equal(arch_stub_translate(PC, code, displaced, displaced, STUB, PC + 1),
			 STUB + 6);
	assert_int_equal(arch_stub_translate(PC, code, displaced, displaced, STUB, PC + 4),
			 STUB + 9);
	assert_int_equal(arch_stub_translate(PC, code, displaced, displaced, STUB, PC + 7),
			 STUB + 12);
	assert_int_equal(arch_stub_translate(PC, code, displaced, displaced, STUB, PC + 9),
			 STUB + 18);
}

static void relocator_translate_mid_instruction(void **state)
{
	static const uint8_t code[] = {
		0x55, /* push rbp */
		0x48, 0x89, 0xe5, /* mov rbp, rsp */
		0x48, 0x83, 0xec, 0x20, /* sub rsp, 0x20 */
	};
	static const uint8_t ret[] = {
		0xc3, /* ret */
		0xcc, 0xcc, 0xcc, 0xcc, /* int3 padding, displaced but not copied */
	};

	assert_int_equal(arch_stub_translate(PC, code, sizeof(code), sizeof(code), STUB, PC + 2),
			 0);
	assert_int_equal(arch_stub_translate(PC, code, sizeof(code), sizeof(code), STUB, PC + 7),
			 0);
	/* Outside the range. */
	assert_int_equal(arch_stub_translate(PC, code, sizeof(code), sizeof(code), STUB, PC + 8),
			 0);
	assert_int_equal(arch_stub_translate(PC, code, sizeof(code), sizeof(code), STUB, PC - 1),
			 0);
	/* Past the end of the flow nothing was copied. */
	assert_int_equal(arch_stub_translate(PC, ret, sizeof(ret), sizeof(ret), STUB, PC),
			 STUB + 5);
	assert_int_equal(arch_stub_translate(PC, ret, sizeof(ret), sizeof(ret), STUB, PC + 1), 0);
}

/*
 * Prologues as compilers emit them, patched with a 5-byte jmp: min_len is
 * PATCH_LEN, and whole instructions go until it is covered.  The bytes are
 * copied from objdump -d of python3.11, libc.so.6 and gcc -O2 output; their
 * rip-relative displacements are kept, the addresses are the file's PC.
 */
#define PATCH_LEN 5 /* jmp rel32 over the prologue */

/* Building a stub for `code` with a 5-byte patch displaces `displaced` bytes into `expected`. */
static void assert_patch(const struct where *at, const uint8_t *code, size_t n, int displaced,
			 const uint8_t *expected, size_t m)
{
	uint8_t out[UT_STUB_SIZE];
	const char *why;

	assert_int_equal(build(at, code, n, PATCH_LEN, out, &why), displaced);
	assert_null(why);
	assert_stub(out, expected, m, at->stub);
}

/* gcc -O2 -fno-omit-frame-pointer -fcf-protection=full: small(). */
static void relocator_endbr64_push_mov_mov(void **state)
{
	static const uint8_t code[] = {
		0xf3, 0x0f, 0x1e, 0xfa, /* endbr64 */
		0x55, /* push rbp */
		0x48, 0x89, 0xfe, /* mov rsi, rdi */
		0x48, 0x89, 0xe5, /* mov rbp, rsp */
		0x48, 0x83, 0xec, 0x10, /* sub rsp, 0x10 */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY, 0x55, /* push rbp */
		0x48,	    0x89,
		0xfe, /* mov rsi, rdi */
		0x48,	    0x89,
		0xe5, /* mov rbp, rsp */
		0xe9,	    LE32(PC + 4 + 7 - (STUB + 17)), /* jmp PC+11 */
	};
	const struct where after = { PC + 4, STUB, ENTRY };

	/* The endbr64 stays at F: the patch goes after it, and covers 7 bytes. */
	assert_int_equal(arch_patch_offset(code, sizeof(code)), 4);
	assert_patch(&after, code + 4, sizeof(code) - 4, 7, expected, sizeof(expected));
}

/* gcc -O2 -fno-omit-frame-pointer -fcf-protection=full: six arguments, callee-saved. */
static void relocator_endbr64_push_rbp_push_r15(void **state)
{
	static const uint8_t code[] = {
		0xf3, 0x0f, 0x1e, 0xfa, /* endbr64 */
		0x55, /* push rbp */
		0x48, 0x89, 0xe5, /* mov rbp, rsp */
		0x41, 0x57, /* push r15 */
		0x41, 0x56, /* push r14 */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY, 0x55, /* push rbp */
		0x48,	    0x89,
		0xe5, /* mov rbp, rsp */
		0x41,	    0x57, /* push r15 */
		0xe9,	    LE32(PC + 4 + 6 - (STUB + 16)), /* jmp PC+10 */
	};
	const struct where after = { PC + 4, STUB, ENTRY };

	assert_int_equal(arch_patch_offset(code, sizeof(code)), 4);
	assert_patch(&after, code + 4, sizeof(code) - 4, 6, expected, sizeof(expected));
}

/* gcc -O2 -fno-omit-frame-pointer: a 4 KiB frame, sub with an imm32. */
static void relocator_push_mov_sub_imm32(void **state)
{
	static const uint8_t code[] = {
		0x55, /* push rbp */
		0x48, 0x89, 0xe5, /* mov rbp, rsp */
		0x48, 0x81, 0xec, LE32(0x1000), /* sub rsp, 0x1000 */
		0x48, 0x8d, 0xbd, LE32(-0x1000), /* lea rdi, [rbp - 0x1000] */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY, 0x55, /* push rbp */
		0x48,	    0x89,
		0xe5, /* mov rbp, rsp */
		0x48,	    0x81,
		0xec,	    LE32(0x1000), /* sub rsp, 0x1000 */
		0xe9,	    LE32(PC + 11 - (STUB + 21)), /* jmp PC+11 */
	};

	assert_int_equal(arch_patch_offset(code, sizeof(code)), 0);
	assert_patch(&near, code, sizeof(code), 11, expected, sizeof(expected));
}

/* python3.11 _Py_GetConfigsAsDict: callee-saved registers pushed first. */
static void relocator_push_r15_r14_r13(void **state)
{
	static const uint8_t code[] = {
		0x41, 0x57, /* push r15 */
		0x41, 0x56, /* push r14 */
		0x41, 0x55, /* push r13 */
		0x41, 0x54, /* push r12 */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY, 0x41,
		0x57, /* push r15 */
		0x41,	    0x56, /* push r14 */
		0x41,	    0x55, /* push r13 */
		0xe9,	    LE32(PC + 6 - (STUB + 16)), /* jmp PC+6 */
	};

	assert_patch(&near, code, sizeof(code), 6, expected, sizeof(expected));
}

/* python3.11 PySys_AddWarnOption: a global loaded first, then tested. */
static void relocator_rip_mov_then_test_jne(void **state)
{
	static const uint8_t code[] = {
		0x48, 0x8b, 0x05, LE32(0x63a6b6), /* mov rax, qword ptr [rip + 0x63a6b6] */
		0x48, 0x85, 0xc0, /* test rax, rax */
		0x75, 0x0d, /* jne PC+0x19 */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY,
		0x48,
		0x8b,
		0x05,
		LE32(PC + 7 + 0x63a6b6 - (STUB + 12)), /* mov rax, [PC+0x63a6bd] */
		0xe9,
		LE32(PC + 7 - (STUB + 17)), /* jmp PC+7 */
	};

	/* The mov alone covers the patch: test and jne stay in place. */
	assert_patch(&near, code, sizeof(code), 7, expected, sizeof(expected));
}

/* libc __sigsuspend: cmpb $0, __libc_single_threaded(%rip); the imm8 follows the disp32. */
static void relocator_rip_cmpb_imm8(void **state)
{
	static const uint8_t code[] = {
		0x80, 0x3d, LE32(0x19f311), 0x00, /* cmp byte ptr [rip + 0x19f311], 0 */
		0x74, 0x17, /* je PC+0x20 */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY, 0x80,
		0x3d,	    LE32(PC + 7 + 0x19f311 - (STUB + 12)),
		0x00, /* cmp [PC+0x19f318], 0 */
		0xe9,	    LE32(PC + 7 - (STUB + 17)), /* jmp PC+7 */
	};

	assert_patch(&near, code, sizeof(code), 7, expected, sizeof(expected));
}

/* libc gnu_get_libc_release: lea of a string, then ret (not displaced). */
static void relocator_rip_lea_then_ret(void **state)
{
	static const uint8_t code[] = {
		0x48, 0x8d, 0x05, LE32(0x16f53f), /* lea rax, [rip + 0x16f53f] */
		0xc3, /* ret */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY,
		0x48,
		0x8d,
		0x05,
		LE32(PC + 7 + 0x16f53f - (STUB + 12)), /* lea rax, [PC+0x16f546] */
		0xe9,
		LE32(PC + 7 - (STUB + 17)), /* jmp PC+7: the ret runs in place */
	};

	assert_patch(&near, code, sizeof(code), 7, expected, sizeof(expected));
}

/* The cmpb of __sigsuspend with the stub 3 GiB away: its operand is out of reach. */
static void relocator_rip_cmpb_out_of_reach(void **state)
{
	static const uint8_t code[] = {
		0x80, 0x3d, LE32(0x19f311), 0x00, /* cmp byte ptr [rip + 0x19f311], 0 */
	};
	const uint64_t stub = PC + 3 * GIB;
	const struct where above = { PC, stub, stub + 0x1000 };
	const struct where below = { FAR_PC, FAR_PC - 3 * GIB, FAR_PC - 3 * GIB + 0x1000 };

	assert_refused(&above, code, sizeof(code), PATCH_LEN, -ERANGE,
		       "rip-relative operand out of reach of the stub");
	assert_refused(&below, code, sizeof(code), PATCH_LEN, -ERANGE,
		       "rip-relative operand out of reach of the stub");
}

/* python3.11 Py_SetPath: test, then a short jne; the 5 bytes end right after it. */
static void relocator_test_jne_rel8_widened(void **state)
{
	static const uint8_t code[] = {
		0x48, 0x85,	      0xff, /* test rdi, rdi */
		0x75, 0x05, /* jne PC+0xa */
		0xe9, LE32(0x20a177), /* jmp PC+0x20a17c */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY,
		0x48,
		0x85,
		0xff, /* test rdi, rdi */
		0x0f,
		0x85,
		LE32(PC + 0xa - (STUB + 14)), /* jne PC+0xa */
		0xe9,
		LE32(PC + 5 - (STUB + 19)), /* jmp PC+5 */
	};

	assert_patch(&near, code, sizeof(code), 5, expected, sizeof(expected));
}

/* A short jmp in the first bytes ends the copy; the byte after it is displaced uncopied. */
static void relocator_xor_jmp_rel8_widened(void **state)
{
	static const uint8_t code[] = {
		0x31, 0xc0, /* xor eax, eax */
		0xeb, 0x20, /* jmp PC+0x24 */
		0x90, /* nop (never reached but through a branch) */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY, 0x31,
		0xc0, /* xor eax, eax */
		0xe9,	    LE32(PC + 0x24 - (STUB + 12)), /* jmp PC+0x24 */
	};

	assert_patch(&near, code, sizeof(code), 5, expected, sizeof(expected));
}

/* A widened jcc whose target the stub cannot reach. */
static void relocator_jcc_target_out_of_reach(void **state)
{
	static const uint8_t code[] = {
		0x48, 0x85, 0xff, /* test rdi, rdi */
		0x75, 0x05, /* jne PC+0xa */
	};
	const uint64_t stub = PC + 3 * GIB;
	const struct where far = { PC, stub, stub + 0x1000 };

	assert_refused(&far, code, sizeof(code), PATCH_LEN, -ERANGE,
		       "branch target out of reach of the stub");
}

/* python3.11 _PyImport_GetModuleId: push rsi; call _PyUnicode_FromId, the last displaced. */
static void relocator_push_call_last(void **state)
{
	static const uint8_t code[] = {
		0x56, /* push rsi */
		0xe8, LE32(0x12137b), /* call PC+0x121381 */
		0x48, 0x85,	      0xc0, /* test rax, rax */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY,   0x56, /* push rsi */
		0xff,	      0x35,
		LE32(5), /* push qword ptr [rip + 5]: the literal */
		0xe9,	      LE32(PC + 0x121381 - (STUB + 17)), /* jmp PC+0x121381 */
		LE64(PC + 6), /* .quad PC+6: the original return address */
	};

	/* The callee returns to PC+6, in the original code, past the patch. */
	assert_patch(&near, code, sizeof(code), 6, expected, sizeof(expected));
}

/* python3.11 _PyTraceMalloc_GetTraceback: push r8; call (backwards). */
static void relocator_push_r8_call_back(void **state)
{
	static const uint8_t code[] = {
		0x41, 0x50, /* push r8 */
		0xe8, LE32(-0x43a2e), /* call PC-0x43a27 */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY,   0x41,
		0x50, /* push r8 */
		0xff,	      0x35,
		LE32(5), /* push qword ptr [rip + 5]: the literal */
		0xe9,	      LE32(PC + 7 - 0x43a2e - (STUB + 18)), /* jmp PC-0x43a27 */
		LE64(PC + 7), /* .quad PC+7: the original return address */
	};

	assert_patch(&near, code, sizeof(code), 7, expected, sizeof(expected));
}

/* do { } while (--n) at the top: the jne goes back to PC+2, inside the range. */
static void relocator_branch_back_into_range_refused(void **state)
{
	static const uint8_t code[] = {
		0x31, 0xc0, /* xor eax, eax */
		0xff, 0xcf, /* dec edi */
		0x75, 0xfc, /* jne PC+2 */
	};
	assert_refused(&near, code, sizeof(code), PATCH_LEN, -ENOTSUP,
		       "branch into the displaced range");
}

static void relocator_loop_in_patch_refused(void **state)
{
	static const uint8_t code[] = {
		0x31, 0xc0, /* xor eax, eax */
		0xff, 0xc0, /* inc eax */
		0xe2, 0x10, /* loop PC+0x16 */
	};
	assert_refused(&near, code, sizeof(code), PATCH_LEN, -ENOTSUP,
		       "loop (rel8 only) inside the displaced range");
}

static void relocator_jrcxz_in_patch_refused(void **state)
{
	static const uint8_t code[] = {
		0x48, 0x89, 0xf9, /* mov rcx, rdi */
		0xe3, 0x10, /* jrcxz PC+0x15 */
	};
	assert_refused(&near, code, sizeof(code), PATCH_LEN, -ENOTSUP,
		       "jrcxz (rel8 only) inside the displaced range");
}

/*
 * tests/progs/s-park.c's parked function: a thread blocked in the syscall
 * has rip = PC+2, inside the range; it resumes at the copy of the nop.
 */
static void relocator_syscall_nop4_parked(void **state)
{
	static const uint8_t code[] = {
		0x0f, 0x05, /* syscall */
		0x0f, 0x1f, 0x40, 0x00, /* nop dword ptr [rax] */
		0xc3, /* ret */
	};
	static const uint8_t expected[] = {
		CALL_ENTRY, 0x0f,
		0x05, /* syscall */
		0x0f,	    0x1f,
		0x40,	    0x00, /* nop dword ptr [rax] */
		0xe9,	    LE32(PC + 6 - (STUB + 16)), /* jmp PC+6 */
	};

	assert_patch(&near, code, sizeof(code), 6, expected, sizeof(expected));
	assert_int_equal(arch_stub_translate(PC, code, 6, 6, STUB, PC + 2), STUB + 7);
	assert_int_equal(arch_stub_translate(PC, code, 6, 6, STUB, PC + 1), 0);
}

/*
 * long exec_target(long x): exec_k + x, or -1 when x is 0.  It starts with a
 * rip-relative load and a short conditional jump, both displaced.
 */
#define EXEC_K 1000
#define EXEC_DISPLACED 12 /* mov + test + je */
#define STR(x) #x
#define XSTR(x) STR(x)
asm(".pushsection .text\n"
    ".p2align 4\n"
    ".type exec_target, @function\n"
    "exec_target:\n"
    "	movq exec_k(%rip), %rax\n" /* 48 8b 05 disp32 */
    "	testq %rdi, %rdi\n" /* 48 85 ff */
    "	je 1f\n" /* 74 rel8 */
    "	addq %rdi, %rax\n"
    "	ret\n"
    "1:	movq $-1, %rax\n"
    "	ret\n"
    ".size exec_target, .-exec_target\n"
    ".popsection\n"
    ".pushsection .data\n"
    ".p2align 3\n"
    "exec_k: .quad " XSTR(EXEC_K) "\n"
				  ".popsection\n");
long exec_target(long x);

/* A page within reach of `near_addr`, mapped read-write. */
static uint8_t *map_near(uint64_t near_addr, size_t size)
{
	const uint64_t step = 1 << 20;

	for (uint64_t dist = step; dist < GIB; dist += step) {
		uint64_t want = (near_addr & ~(uint64_t)(size - 1)) - dist;
		void *p = mmap((void *)(uintptr_t)want, size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

		if (p == (void *)(uintptr_t)want)
			return p;
		if (p != MAP_FAILED)
			munmap(p, size);
	}
	return NULL;
}

static void relocator_stub_executes(void **state)
{
	static const uint8_t head[] = {
		0x48, 0x8b, 0x05, /* mov rax, qword ptr [rip + disp32] */
	};
	const uint8_t *fn = (const uint8_t *)(uintptr_t)exec_target;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	uint8_t code[CODE_BUF], stub[UT_STUB_SIZE];
	long (*via_stub)(long);
	const char *why = NULL;
	uint8_t *area;

	memcpy(code, fn, sizeof(code));
	assert_memory_equal(code, head, sizeof(head));
	assert_int_equal(code[10], 0x74); /* je rel8 */

	area = map_near((uint64_t)(uintptr_t)fn, page);
	assert_non_null(area);
	/* The stub at the start of the page; its entry trampoline is a ret after it. */
	assert_int_equal(arch_stub_build((uintptr_t)fn, code, sizeof(code), EXEC_DISPLACED,
					 (uintptr_t)area, (uintptr_t)area + UT_STUB_SIZE, stub,
					 &why),
			 EXEC_DISPLACED);
	memcpy(area, stub, UT_STUB_SIZE);
	area[UT_STUB_SIZE] = 0xc3; /* ret */
	assert_int_equal(mprotect(area, page, PROT_READ | PROT_EXEC), 0);

	via_stub = (long (*)(long))(uintptr_t)area;
	assert_int_equal(exec_target(5), EXEC_K + 5);
	assert_int_equal(via_stub(5), exec_target(5));
	assert_int_equal(via_stub(-7), exec_target(-7));
	assert_int_equal(via_stub(0), -1);
	assert_int_equal(munmap(area, page), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(relocator_breakpoint_is_int3),
		cmocka_unit_test(relocator_push_rbp),
		cmocka_unit_test(relocator_prologue_multi),
		cmocka_unit_test(relocator_endbr64_patch_offset),
		cmocka_unit_test(relocator_bare_return),
		cmocka_unit_test(relocator_rip_load_near),
		cmocka_unit_test(relocator_rip_load_far),
		cmocka_unit_test(relocator_rip_load_out_of_reach),
		cmocka_unit_test(relocator_rip_lea),
		cmocka_unit_test(relocator_rip_sse_compare),
		cmocka_unit_test(relocator_jmp_rel8_widened),
		cmocka_unit_test(relocator_jmp_into_range_refused),
		cmocka_unit_test(relocator_je_rel8_widened),
		cmocka_unit_test(relocator_jne_rel32_adjusted),
		cmocka_unit_test(relocator_call_last),
		cmocka_unit_test(relocator_call_last_far_target),
		cmocka_unit_test(relocator_call_not_last_refused),
		cmocka_unit_test(relocator_call_indirect_last),
		cmocka_unit_test(relocator_call_through_rsp_refused),
		cmocka_unit_test(relocator_loop_refused),
		cmocka_unit_test(relocator_jrcxz_refused),
		cmocka_unit_test(relocator_ret_first),
		cmocka_unit_test(relocator_undecodable_refused),
		cmocka_unit_test(relocator_jmp_rip_plt),
		cmocka_unit_test(relocator_entry_out_of_reach),
		cmocka_unit_test(relocator_jmp_back_far),
		cmocka_unit_test(relocator_stub_too_small),
		cmocka_unit_test(relocator_translate_boundaries),
		cmocka_unit_test(relocator_translate_mid_instruction),
		cmocka_unit_test(relocator_endbr64_push_mov_mov),
		cmocka_unit_test(relocator_endbr64_push_rbp_push_r15),
		cmocka_unit_test(relocator_push_mov_sub_imm32),
		cmocka_unit_test(relocator_push_r15_r14_r13),
		cmocka_unit_test(relocator_rip_mov_then_test_jne),
		cmocka_unit_test(relocator_rip_cmpb_imm8),
		cmocka_unit_test(relocator_rip_lea_then_ret),
		cmocka_unit_test(relocator_rip_cmpb_out_of_reach),
		cmocka_unit_test(relocator_test_jne_rel8_widened),
		cmocka_unit_test(relocator_xor_jmp_rel8_widened),
		cmocka_unit_test(relocator_jcc_target_out_of_reach),
		cmocka_unit_test(relocator_push_call_last),
		cmocka_unit_test(relocator_push_r8_call_back),
		cmocka_unit_test(relocator_branch_back_into_range_refused),
		cmocka_unit_test(relocator_loop_in_patch_refused),
		cmocka_unit_test(relocator_jrcxz_in_patch_refused),
		cmocka_unit_test(relocator_syscall_nop4_parked),
		cmocka_unit_test(relocator_stub_executes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
