// SPDX-License-Identifier: MIT
/*
 * Direct branch targets of a whole module's text, for the 5-byte patch's "no
 * branch lands inside the displaced range" rule.  A linear sweep with
 * capstone in no-detail mode (several times faster than with operand
 * details, and a module holds hundreds of thousands of instructions): the
 * decoder only delimits instructions; which of them are direct relative
 * branches, and how wide their displacement is, is read from the opcode after
 * the prefixes, with the table below.
 *
 *   [prefixes][0f]<opcode>[modrm]<rel8 | rel32>
 *                                 \__ last bytes: target = end of insn + rel
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "arch.h"

#define REL8_SIZE 1
#define REL32_SIZE 4

/* Legacy prefixes (lock, rep/bnd, segment/branch hints/notrack, sizes) and REX. */
#define PFX_LOCK 0xf0
#define PFX_REPNE 0xf2 /* also bnd before a branch */
#define PFX_REP 0xf3
#define PFX_CS 0x2e /* also "branch not taken" hint */
#define PFX_SS 0x36
#define PFX_DS 0x3e /* also "branch taken" hint and notrack */
#define PFX_ES 0x26
#define PFX_FS 0x64
#define PFX_GS 0x65
#define PFX_OPSIZE 0x66
#define PFX_ADDRSIZE 0x67
#define REX_FIRST 0x40
#define REX_LAST 0x4f

#define TWO_BYTE_ESCAPE 0x0f
#define NO_ESCAPE 0x00

/* Opcodes of the direct relative branches. */
#define OP_JCC_REL8_FIRST 0x70 /* jo rel8 */
#define OP_JCC_REL8_LAST 0x7f /* jg rel8 */
#define OP_LOOPNE 0xe0
#define OP_LOOPE 0xe1
#define OP_LOOP 0xe2
#define OP_JRCXZ 0xe3
#define OP_CALL_REL32 0xe8
#define OP_JMP_REL32 0xe9
#define OP_JMP_REL8 0xeb
#define OP_JCC_REL32_FIRST 0x80 /* 0f 80: jo rel32 */
#define OP_JCC_REL32_LAST 0x8f /* 0f 8f: jg rel32 */
/* xbegin is c7 f8 rel32: its abort handler is a branch target too (glibc lock elision). */
#define OP_XBEGIN 0xc7
#define MODRM_XBEGIN 0xf8

/*
 * A range of opcodes (after an optional 0f escape, and with an exact ModRM
 * byte when `modrm` is set) that end in a relative displacement of rel_size
 * bytes.  Indirect forms (ff /2, ff /4) are absent: their target is unknown.
 */
struct rel_branch {
	uint8_t escape;
	uint8_t first, last;
	bool has_modrm;
	uint8_t modrm;
	uint8_t rel_size;
};

static const struct rel_branch rel_branches[] = {
	{ NO_ESCAPE, OP_JCC_REL8_FIRST, OP_JCC_REL8_LAST, false, 0, REL8_SIZE }, /* jcc rel8 */
	{ NO_ESCAPE, OP_LOOPNE, OP_LOOP, false, 0, REL8_SIZE }, /* loopne, loope, loop rel8 */
	{ NO_ESCAPE, OP_JRCXZ, OP_JRCXZ, false, 0, REL8_SIZE }, /* jrcxz / jecxz rel8 */
	{ NO_ESCAPE, OP_CALL_REL32, OP_CALL_REL32, false, 0, REL32_SIZE }, /* call rel32 */
	{ NO_ESCAPE, OP_JMP_REL32, OP_JMP_REL32, false, 0, REL32_SIZE }, /* jmp rel32 */
	{ NO_ESCAPE, OP_JMP_REL8, OP_JMP_REL8, false, 0, REL8_SIZE }, /* jmp rel8 */
	{ TWO_BYTE_ESCAPE, OP_JCC_REL32_FIRST, OP_JCC_REL32_LAST, false, 0, REL32_SIZE }, /* jcc */
	{ NO_ESCAPE, OP_XBEGIN, OP_XBEGIN, true, MODRM_XBEGIN, REL32_SIZE }, /* xbegin rel32 */
};

static bool is_prefix(uint8_t b)
{
	switch (b) {
	case PFX_LOCK:
	case PFX_REPNE:
	case PFX_REP:
	case PFX_CS:
	case PFX_SS:
	case PFX_DS:
	case PFX_ES:
	case PFX_FS:
	case PFX_GS:
	case PFX_OPSIZE:
	case PFX_ADDRSIZE:
		return true;
	default:
		return b >= REX_FIRST && b <= REX_LAST;
	}
}

/* Whether the opcode at insn[op] (escape already consumed when `escape` is set) matches e. */
static bool branch_matches(const struct rel_branch *e, uint8_t escape, const uint8_t *insn,
			   size_t op, size_t size)
{
	if (e->escape != escape || insn[op] < e->first || insn[op] > e->last)
		return false;
	if (!e->has_modrm)
		return true;
	return op + 1 < size && insn[op + 1] == e->modrm;
}

/*
 * The size of the relative displacement a decoded instruction ends with, or 0
 * when it is no direct relative branch.  An instruction whose length is not
 * exactly prefixes + opcode + displacement (a 16-bit form under 66/67) is no
 * branch we can follow: it truncates rip and gcc never emits it.
 */
static size_t rel_size(const uint8_t *insn, size_t size)
{
	size_t op = 0, opcode_len;
	uint8_t escape = NO_ESCAPE;

	while (op < size && is_prefix(insn[op]))
		op++;
	if (op < size && insn[op] == TWO_BYTE_ESCAPE) {
		escape = TWO_BYTE_ESCAPE;
		op++;
	}
	if (op >= size)
		return 0;
	for (size_t i = 0; i < sizeof(rel_branches) / sizeof(rel_branches[0]); i++) {
		const struct rel_branch *e = &rel_branches[i];

		if (!branch_matches(e, escape, insn, op, size))
			continue;
		opcode_len = 1 + e->has_modrm;
		return op + opcode_len + e->rel_size == size ? e->rel_size : 0;
	}
	return 0;
}

/* End of the instruction plus its sign-extended trailing displacement. */
static uint64_t rel_target(const uint8_t *insn, size_t size, uint64_t addr, size_t rel)
{
	int32_t rel32;

	if (rel == REL8_SIZE)
		return addr + size + (int64_t)(int8_t)insn[size - 1];
	memcpy(&rel32, insn + size - REL32_SIZE, REL32_SIZE);
	return addr + size + (int64_t)rel32;
}

static void sweep(csh h, cs_insn *insn, const uint8_t *code, size_t len, uint64_t addr,
		  void (*fn)(uint64_t target, void *arg), void *arg)
{
	while (len) {
		size_t rel;

		/* Padding, data in text or an instruction capstone lacks: resync a byte on. */
		if (!cs_disasm_iter(h, &code, &len, &addr, insn)) {
			code++;
			len--;
			addr++;
			continue;
		}
		rel = rel_size(insn->bytes, insn->size);
		if (rel)
			fn(rel_target(insn->bytes, insn->size, insn->address, rel), arg);
	}
}

int arch_scan_branches(const uint8_t *code, size_t len, uint64_t addr,
		       void (*fn)(uint64_t target, void *arg), void *arg)
{
	cs_insn *insn;
	cs_err cerr;
	csh h;
	int err = 0;

	cerr = cs_open(CS_ARCH_X86, CS_MODE_64, &h);
	if (cerr != CS_ERR_OK)
		return cerr == CS_ERR_MEM ? -ENOMEM : -ENOSYS;
	/* Only lengths are needed: no operand details, the fast path of the decoder. */
	cs_option(h, CS_OPT_DETAIL, CS_OPT_OFF);
	insn = cs_malloc(h);
	if (!insn) {
		err = -ENOMEM;
		goto close_handle;
	}
	sweep(h, insn, code, len, addr, fn, arg);
	cs_free(insn, 1);
close_handle:
	cs_close(&h);
	return err;
}
