// SPDX-License-Identifier: MIT
/*
 * arch_scan_branches(): byte sequences with their disassembly, and exactly the
 * branch targets the sweep must report, in order.
 */
#include <errno.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "arch.h"

/* Where every sequence is taken to be mapped. */
#define PC 0x401000ULL
#define MAX_TARGETS 32

struct found {
	uint64_t v[MAX_TARGETS];
	size_t n;
};

static void collect(uint64_t target, void *arg)
{
	struct found *f = arg;

	assert_true(f->n < MAX_TARGETS);
	f->v[f->n++] = target;
}

static void check_scan(const uint8_t *code, size_t len, const uint64_t *want, size_t nwant)
{
	struct found f = { .n = 0 };

	assert_int_equal(arch_scan_branches(code, len, PC, collect, &f), 0);
	for (size_t i = 0; i < f.n && i < nwant; i++)
		if (f.v[i] != want[i])
			fail_msg("target %zu: got %#" PRIx64 ", want %#" PRIx64, i, f.v[i],
				 want[i]);
	assert_int_equal(f.n, nwant);
}

#define CHECK(code, ...)                                                                 \
	do {                                                                             \
		static const uint64_t want_[] = { __VA_ARGS__ };                         \
		check_scan(code, sizeof(code), want_, sizeof(want_) / sizeof(want_[0])); \
	} while (0)

#define CHECK_NONE(code) check_scan(code, sizeof(code), NULL, 0)

static void scan_jmp_rel8_and_rel32(void **state)
{
	static const uint8_t code[] = {
		0xeb, 0x05, /* PC+0: jmp PC+7 */
		0xe9, 0x00, 0x01, 0x00, 0x00, /* PC+2: jmp PC+0x107 */
		0xeb, 0xfe, /* PC+7: jmp PC+7 (itself) */
		0xe9, 0xf2, 0xff, 0xff, 0xff, /* PC+9: jmp PC+0 (backwards) */
	};

	CHECK(code, PC + 7, PC + 0x107, PC + 7, PC);
}

static void scan_jcc_both_forms(void **state)
{
	static const uint8_t code[] = {
		0x74, 0x10, /* PC+0: je PC+0x12 */
		0x7f, 0x80, /* PC+2: jg PC+4-0x80 */
		0x0f, 0x85, 0x10, 0x00, 0x00, 0x00, /* PC+4: jne PC+0x1a */
		0x0f, 0x8c, 0xf0, 0xff, 0xff, 0xff, /* PC+10: jl PC+0 */
	};

	CHECK(code, PC + 0x12, PC + 4 - 0x80, PC + 0x1a, PC);
}

static void scan_call_rel32(void **state)
{
	static const uint8_t code[] = {
		0xe8, 0x00, 0x00, 0x00, 0x00, /* PC+0: call PC+5 */
		0xe8, 0xfb, 0xff, 0xff, 0x7f, /* PC+5: call PC+10+0x7ffffffb */
		0xe8, 0x00, 0x00, 0x00, 0x80, /* PC+10: call PC+15-2GiB */
	};

	CHECK(code, PC + 5, PC + 10 + 0x7ffffffbULL, PC + 15 - 0x80000000ULL);
}

static void scan_loop_and_jrcxz(void **state)
{
	static const uint8_t code[] = {
		0xe2, 0xfe, /* PC+0: loop PC+0 */
		0xe1, 0x02, /* PC+2: loope PC+6 */
		0xe0, 0x00, /* PC+4: loopne PC+6 */
		0xe3, 0x7f, /* PC+6: jrcxz PC+0x87 */
		0x67, 0xe3, 0x01, /* PC+8: jecxz PC+0xc */
	};

	CHECK(code, PC, PC + 6, PC + 6, PC + 0x87, PC + 0xc);
}

static void scan_xbegin(void **state)
{
	static const uint8_t code[] = {
		0xc7, 0xf8, 0x10, 0x00, 0x00, 0x00, /* PC+0: xbegin PC+0x16 */
	};

	CHECK(code, PC + 0x16);
}

static void scan_indirect_not_reported(void **state)
{
	static const uint8_t code[] = {
		0xff, 0xe0, /* jmp *%rax */
		0xff, 0xd0, /* call *%rax */
		0xff, 0x25, 0x10, 0x00, 0x00, 0x00, /* jmp *0x10(%rip) */
		0xff, 0x15, 0x10, 0x00, 0x00, 0x00, /* call *0x10(%rip) */
		0x3e, 0xff, 0xe0, /* notrack jmp *%rax */
		0x41, 0xff, 0xe3, /* jmp *%r11 */
		0xf2, 0xff, 0xe0, /* bnd jmp *%rax */
		0xc3, /* ret */
	};

	CHECK_NONE(code);
}

static void scan_prefixed_branches(void **state)
{
	static const uint8_t code[] = {
		0xf2, 0xe9, 0x00, 0x00, 0x00, 0x00, /* PC+0: bnd jmp PC+6 */
		0xf2, 0xe8, 0x04, 0x00, 0x00, 0x00, /* PC+6: bnd call PC+0x10 */
		0x3e, 0x74, 0x02, /* PC+12: je,pt PC+0x11 (ds hint) */
		0x2e, 0x0f, 0x85, 0x00, 0x00, 0x00, 0x00, /* PC+15: jne,pn PC+0x16 (cs hint) */
		0xf2, 0x0f, 0x84, 0x00, 0x00, 0x00, 0x00, /* PC+22: bnd je PC+0x1d */
		0xf2, 0xeb, 0x00, /* PC+29: bnd jmp PC+0x20 */
	};

	CHECK(code, PC + 6, PC + 0x10, PC + 0x11, PC + 0x16, PC + 0x1d, PC + 0x20);
}

static void scan_branch_opcodes_in_operands_ignored(void **state)
{
	static const uint8_t code[] = {
		0xb8, 0xe9, 0x00, 0x00, 0x00, /* mov $0xe9,%eax */
		0x48, 0x8d, 0x05, 0xe8, 0xeb, 0x74, 0x00, /* lea 0x74ebe8(%rip),%rax */
		0xc7, 0xc0, 0x00, 0x00, 0x00, 0x00, /* mov $0,%eax (c7 /0, not xbegin) */
		0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00, /* nopw 0(%rax,%rax,1) */
		0xf3, 0x0f, 0x1e, 0xfa, /* endbr64 */
	};

	CHECK_NONE(code);
}

static void scan_undecodable_bytes_skipped(void **state)
{
	static const uint8_t code[] = {
		0x06, /* PC+0: (bad) push %es is invalid in 64-bit mode */
		0xd6, /* PC+1: (bad) salc */
		0xeb, 0x02, /* PC+2: jmp PC+6 */
		0x0f, 0x0b, /* PC+4: ud2 */
		0x74, 0x00, /* PC+6: je PC+8 */
	};

	CHECK(code, PC + 6, PC + 8);
}

static void scan_truncated_branch_at_end_ignored(void **state)
{
	static const uint8_t code[] = {
		0x74, 0x00, /* PC+0: je PC+2 */
		0xe9, 0x00, 0x00, /* PC+2: jmp rel32, cut short */
	};

	CHECK(code, PC + 2);
}

static void scan_empty_code(void **state)
{
	struct found f = { .n = 0 };

	assert_int_equal(arch_scan_branches(NULL, 0, PC, collect, &f), 0);
	assert_int_equal(f.n, 0);
}

/* The `ret` instructions of a function, for the hooks at _Unwind_Backtrace's returns. */
static void find_returns_of_a_function(void **state)
{
	/* test %edi,%edi; je +1; ret; xor %eax,%eax; rep ret; ret $8; mov $0xc3,%al */
	static const uint8_t code[] = { 0x85, 0xff, 0x74, 0x01, 0xc3, 0x31, 0xc0,
					0xf3, 0xc3, 0xc2, 0x08, 0x00, 0xb0, 0xc3 };
	uint64_t rets[4];

	assert_int_equal(arch_find_returns(code, sizeof(code), 0x1000, rets, 4), 3);
	assert_int_equal(rets[0], 0x1004);
	assert_int_equal(rets[1], 0x1007);
	assert_int_equal(rets[2], 0x1009);
	assert_int_equal(arch_find_returns(code, sizeof(code), 0x1000, rets, 2), -E2BIG);
	assert_int_equal(arch_find_returns(code, 4, 0x1000, rets, 4), 0);
	/* push %es: invalid in 64-bit mode */
	assert_int_equal(arch_find_returns((const uint8_t[]){ 0x06 }, 1, 0, rets, 4), -EILSEQ);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(find_returns_of_a_function),
		cmocka_unit_test(scan_jmp_rel8_and_rel32),
		cmocka_unit_test(scan_jcc_both_forms),
		cmocka_unit_test(scan_call_rel32),
		cmocka_unit_test(scan_loop_and_jrcxz),
		cmocka_unit_test(scan_xbegin),
		cmocka_unit_test(scan_indirect_not_reported),
		cmocka_unit_test(scan_prefixed_branches),
		cmocka_unit_test(scan_branch_opcodes_in_operands_ignored),
		cmocka_unit_test(scan_undecodable_bytes_skipped),
		cmocka_unit_test(scan_truncated_branch_at_end_ignored),
		cmocka_unit_test(scan_empty_code),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
