// SPDX-License-Identifier: MIT
/*
 * The x86_64 relocator: builds the stub a probe enters, with a relocated copy
 * of the instructions the patch displaces (the kernel's optprobe detour
 * buffer, frida-gum's GumX86Relocator).
 *
 *   stub + 0   +--------------------------------+
 *              | e8 rel32     call entry_tramp  |  records the entry, returns here
 *   stub + 5   +--------------------------------+
 *              | the displaced instructions,    |  whole instructions from pc,
 *              | one relocated copy each        |  rip-relative operands and
 *              |                                |  branch targets re-aimed
 *              +--------------------------------+
 *              | e9 rel32     jmp pc+displaced  |  ff 25 + abs64 when far; absent
 *              |                                |  when the copy ends in a jmp,
 *              |                                |  ret or call
 *              +--------------------------------+
 *              | cc cc ...    int3 padding      |
 *   stub + 64  +--------------------------------+
 *
 * Capstone decodes; its operand details (a memory operand based on rip, the
 * immediate target of a relative branch) and encoding offsets say which bytes
 * to rewrite.  Nothing here decodes x86 by hand.
 */
#include <capstone/capstone.h>
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "arch.h"
#include "utrace/shm.h"

#define REL32_SIZE 4
#define LITERAL_SIZE 8
#define CALL_REL32_SIZE 5
#define JMP_REL32_SIZE 5
#define JCC_REL32_SIZE 6
#define PUSH_RIP_SIZE 6
#define JMP_ABS64_SIZE 14
#define INT3_INSN 0xcc

/* Conditional jumps: 70+cc rel8 and 0f 80+cc rel32 share the condition code cc. */
#define JCC_REL8_OPCODE 0x70
#define JCC_REL32_OPCODE 0x80
#define TWO_BYTE_ESCAPE 0x0f
#define JCC_CC_MASK 0x0f
#define JCC_CC_BYTE 1 /* the byte of jcc_rel32_insn the condition goes into */

/* ff /2 is call r/m64, ff /4 jmp r/m64: the reg field of the ModRM byte. */
#define MODRM_REG_SHIFT 3
#define MODRM_REG_MASK (7 << MODRM_REG_SHIFT)
#define FF_JMP_REG 4

/* Every copied instruction takes at least one byte of the stub. */
#define MAX_INSNS UT_STUB_SIZE

static const uint8_t call_rel32_insn[] = {
	0xe8, 0x00, 0x00, 0x00, 0x00, /* call rel32 */
};
_Static_assert(sizeof(call_rel32_insn) == CALL_REL32_SIZE, "call rel32 size");

/* A stub entered by a call drops the return address that call pushed. */
static const uint8_t drop_ret_insn[] = {
	0x48, 0x8d, 0x64, 0x24, 0x08, /* lea 0x8(%rsp), %rsp (flags untouched) */
};
#define DROP_RET_SIZE 5
_Static_assert(sizeof(drop_ret_insn) == DROP_RET_SIZE, "lea 8(%rsp), %rsp size");
_Static_assert(DROP_RET_SIZE + CALL_REL32_SIZE <= UT_STUB_HEAD + CALL_REL32_SIZE,
	       "the entry call stays in the stub head");

static const uint8_t jmp_rel32_insn[] = {
	0xe9, 0x00, 0x00, 0x00, 0x00, /* jmp rel32 */
};
_Static_assert(sizeof(jmp_rel32_insn) == JMP_REL32_SIZE, "jmp rel32 size");

static const uint8_t jcc_rel32_insn[] = {
	0x0f, 0x80, 0x00, 0x00, 0x00, 0x00, /* jcc rel32 (condition or'ed into 0x80) */
};
_Static_assert(sizeof(jcc_rel32_insn) == JCC_REL32_SIZE, "jcc rel32 size");

static const uint8_t push_rip_insn[] = {
	0xff, 0x35, 0x00, 0x00, 0x00, 0x00, /* push qword [rip + disp32] */
};
_Static_assert(sizeof(push_rip_insn) == PUSH_RIP_SIZE, "push [rip] size");

/* Reaches anywhere: the 8-byte target follows the instruction. */
static const uint8_t jmp_abs64_insn[] = {
	0xff, 0x25, 0x00, 0x00, 0x00, 0x00, /* jmp qword [rip + 0] */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* .quad target */
};
_Static_assert(sizeof(jmp_abs64_insn) == JMP_ABS64_SIZE, "jmp [rip] + abs64 size");
#define JMP_ABS64_TARGET 6 /* offset of the target in jmp_abs64_insn */

/* Stub bytes being written for the address `addr` in the tracee. */
struct stub_writer {
	uint8_t code[UT_STUB_SIZE];
	size_t len;
	uint64_t addr;
	const char *why; /* the reason of the last refusal */
};

/*
 * One relocation: the stub and where each displaced instruction went, which
 * arch_stub_translate() needs as much as arch_stub_build().
 */
struct relocation {
	struct stub_writer w;
	uint64_t pc;
	size_t ninsns;
	size_t src[MAX_INSNS]; /* offset of each copied instruction from pc */
	size_t dst[MAX_INSNS]; /* offset of its copy from the stub */
	size_t ntargets;
	uint64_t targets[MAX_INSNS]; /* of the relative branches copied */
	size_t copied; /* bytes of instructions copied */
	bool falls_through; /* the copy can run off its end */
};

static int refuse(struct stub_writer *w, int err, const char *why)
{
	w->why = why;
	return err;
}

static uint64_t writer_pc(const struct stub_writer *w)
{
	return w->addr + w->len;
}

/* Append bytes; NULL when the stub is full. */
static uint8_t *writer_put(struct stub_writer *w, const uint8_t *bytes, size_t n)
{
	uint8_t *p;

	if (n > UT_STUB_SIZE - w->len)
		return NULL;
	p = w->code + w->len;
	memcpy(p, bytes, n);
	w->len += n;
	return p;
}

/* x86 immediates are little-endian, as is the host this tracer runs on. */
static void put_le32(uint8_t *p, int32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void put_le64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* The rel32 from the end of an instruction at `end` to `target`, when it fits. */
static bool rel32_reaches(uint64_t end, uint64_t target, int32_t *rel)
{
	int64_t d = (int64_t)(target - end);

	if (d < INT32_MIN || d > INT32_MAX)
		return false;
	*rel = (int32_t)d;
	return true;
}

/* Append an instruction ending in a rel32 aimed at `target`. */
static int emit_rel32_insn(struct stub_writer *w, const uint8_t *insn, size_t n, uint64_t target,
			   const char *why_far)
{
	uint8_t *p;
	int32_t rel;

	if (!rel32_reaches(writer_pc(w) + n, target, &rel))
		return refuse(w, -ERANGE, why_far);
	p = writer_put(w, insn, n);
	if (!p)
		return refuse(w, -ENOSPC, "stub too small");
	put_le32(p + n - REL32_SIZE, rel);
	return 0;
}

static int emit_literal(struct stub_writer *w, uint64_t value)
{
	uint8_t bytes[LITERAL_SIZE];

	put_le64(bytes, value);
	if (!writer_put(w, bytes, sizeof(bytes)))
		return refuse(w, -ENOSPC, "stub too small");
	return 0;
}

/* Size of the jump emit_jmp() writes at `from`. */
static size_t jmp_size(uint64_t from, uint64_t target)
{
	int32_t rel;

	return rel32_reaches(from + JMP_REL32_SIZE, target, &rel) ? JMP_REL32_SIZE : JMP_ABS64_SIZE;
}

/* A jump to anywhere: rel32 when it reaches, else through an inline literal. */
static int emit_jmp(struct stub_writer *w, uint64_t target)
{
	uint8_t *p;

	if (jmp_size(writer_pc(w), target) == JMP_REL32_SIZE)
		return emit_rel32_insn(w, jmp_rel32_insn, sizeof(jmp_rel32_insn), target,
				       "branch target out of reach of the stub");
	p = writer_put(w, jmp_abs64_insn, sizeof(jmp_abs64_insn));
	if (!p)
		return refuse(w, -ENOSPC, "stub too small");
	put_le64(p + JMP_ABS64_TARGET, target);
	return 0;
}

static bool insn_in_group(const cs_insn *insn, uint8_t group)
{
	for (uint8_t i = 0; i < insn->detail->groups_count; i++)
		if (insn->detail->groups[i] == group)
			return true;
	return false;
}

static const cs_x86_op *insn_rip_operand(const cs_insn *insn)
{
	const cs_x86 *x = &insn->detail->x86;

	for (uint8_t i = 0; i < x->op_count; i++)
		if (x->operands[i].type == X86_OP_MEM && x->operands[i].mem.base == X86_REG_RIP)
			return &x->operands[i];
	return NULL;
}

static bool insn_uses_rsp(const cs_insn *insn)
{
	const cs_x86 *x = &insn->detail->x86;

	for (uint8_t i = 0; i < x->op_count; i++) {
		const cs_x86_op *op = &x->operands[i];

		if (op->type == X86_OP_REG && op->reg == X86_REG_RSP)
			return true;
		if (op->type == X86_OP_MEM &&
		    (op->mem.base == X86_REG_RSP || op->mem.index == X86_REG_RSP))
			return true;
	}
	return false;
}

/* Nothing after it runs: the copy stops there. */
static bool insn_ends_flow(const cs_insn *insn)
{
	return insn->id == X86_INS_JMP || insn->id == X86_INS_LJMP ||
	       insn_in_group(insn, X86_GRP_RET) || insn_in_group(insn, X86_GRP_IRET) ||
	       insn_in_group(insn, X86_GRP_CALL);
}

static uint64_t branch_target(const cs_insn *insn)
{
	return (uint64_t)insn->detail->x86.operands[0].imm;
}

/* The condition code of a jcc, from the opcode bytes capstone reports; -1 if not one. */
static int jcc_condition(const cs_insn *insn)
{
	const uint8_t *op = insn->detail->x86.opcode;

	if ((op[0] & ~JCC_CC_MASK) == JCC_REL8_OPCODE)
		return op[0] & JCC_CC_MASK;
	if (op[0] == TWO_BYTE_ESCAPE && (op[1] & ~JCC_CC_MASK) == JCC_REL32_OPCODE)
		return op[1] & JCC_CC_MASK;
	return -1;
}

/* Whether the 4 bytes at off are the operand's displacement. */
static bool disp32_at(const cs_insn *insn, const cs_x86_op *rip, int off)
{
	uint32_t v;

	if (off <= 0 || off + (int)REL32_SIZE > (int)insn->size)
		return false;
	memcpy(&v, insn->bytes + off, sizeof(v));
	return (int32_t)v == (int32_t)rip->mem.disp;
}

/*
 * Where the disp32 of a rip-relative operand sits in the instruction.
 * Capstone 4 misreports disp_size for some SSE instructions (2 for comisd
 * xmm0, [rip + d]): then its disp_offset, or the last field before the
 * immediate, is taken when the bytes there are the displacement.
 */
static int rip_disp_offset(const cs_insn *insn, const cs_x86_op *rip)
{
	const cs_x86_encoding *enc = &insn->detail->x86.encoding;
	int before_imm = (int)insn->size - (int)enc->imm_size - (int)REL32_SIZE;

	if (enc->disp_size == REL32_SIZE)
		return enc->disp_offset;
	if (disp32_at(insn, rip, enc->disp_offset))
		return enc->disp_offset;
	return disp32_at(insn, rip, before_imm) ? before_imm : -1;
}

/*
 * Copy `bytes` (insn's own, or a variant of the same length) to the stub,
 * re-aiming a rip-relative operand so it still reaches the same address.
 */
static int emit_copy(struct stub_writer *w, const cs_insn *insn, const uint8_t *bytes)
{
	const cs_x86_op *rip = insn_rip_operand(insn);
	uint64_t target;
	uint8_t *p;
	int32_t disp = 0;
	int disp_off = 0;

	if (rip) {
		disp_off = rip_disp_offset(insn, rip);
		if (disp_off < 0)
			return refuse(w, -ENOTSUP, "rip-relative operand without a disp32");
		target = insn->address + insn->size + (uint64_t)rip->mem.disp;
		if (!rel32_reaches(writer_pc(w) + insn->size, target, &disp))
			return refuse(w, -ERANGE, "rip-relative operand out of reach of the stub");
	}
	p = writer_put(w, bytes, insn->size);
	if (!p)
		return refuse(w, -ENOSPC, "stub too small");
	if (rip)
		put_le32(p + disp_off, disp);
	return 0;
}

/* push qword [rip + disp32] of a literal `skip` bytes past the push. */
static int emit_push_literal(struct stub_writer *w, size_t skip)
{
	uint64_t literal = writer_pc(w) + PUSH_RIP_SIZE + skip;

	return emit_rel32_insn(w, push_rip_insn, sizeof(push_rip_insn), literal,
			       "literal out of reach of the stub");
}

/*
 * call rel32 becomes
 *	push qword [rip + lit]	; the original return address
 *	jmp target
 * lit:	.quad pc_next
 * so the callee returns into the original code, never into the stub.
 */
static int relocate_call_rel(struct stub_writer *w, const cs_insn *insn)
{
	uint64_t target = branch_target(insn);
	size_t jmp_len = jmp_size(writer_pc(w) + PUSH_RIP_SIZE, target);
	int err;

	err = emit_push_literal(w, jmp_len);
	if (!err)
		err = emit_jmp(w, target);
	if (!err)
		err = emit_literal(w, insn->address + insn->size);
	return err;
}

/* call r/m64 (ff /2) becomes push of the return address and jmp r/m64 (ff /4). */
static int relocate_call_indirect(struct stub_writer *w, const cs_insn *insn)
{
	uint8_t bytes[ARCH_INSN_MAX];
	uint8_t modrm = insn->detail->x86.encoding.modrm_offset;
	int err;

	/* The push moves rsp before the operand is read. */
	if (insn_uses_rsp(insn))
		return refuse(w, -ENOTSUP, "call through rsp inside the displaced range");
	memcpy(bytes, insn->bytes, insn->size);
	bytes[modrm] = (uint8_t)((bytes[modrm] & ~MODRM_REG_MASK) | FF_JMP_REG << MODRM_REG_SHIFT);
	err = emit_push_literal(w, insn->size);
	if (!err)
		err = emit_copy(w, insn, bytes);
	if (!err)
		err = emit_literal(w, insn->address + insn->size);
	return err;
}

/* Only the last displaced instruction may call: the return lands after the range. */
static int relocate_call(struct stub_writer *w, const cs_insn *insn, bool last)
{
	if (insn->id != X86_INS_CALL)
		return refuse(w, -ENOTSUP, "far call inside the displaced range");
	if (!last)
		return refuse(w, -ENOTSUP, "call inside the displaced range");
	if (insn_in_group(insn, X86_GRP_BRANCH_RELATIVE))
		return relocate_call_rel(w, insn);
	return relocate_call_indirect(w, insn);
}

/* jcc rel8 or rel32 becomes jcc rel32 to the same target. */
static int relocate_jcc(struct stub_writer *w, const cs_insn *insn, int cc)
{
	uint8_t bytes[JCC_REL32_SIZE];

	memcpy(bytes, jcc_rel32_insn, sizeof(bytes));
	bytes[JCC_CC_BYTE] |= (uint8_t)cc;
	return emit_rel32_insn(w, bytes, sizeof(bytes), branch_target(insn),
			       "branch target out of reach of the stub");
}

static int relocate_branch(struct stub_writer *w, const cs_insn *insn)
{
	const cs_x86_encoding *enc = &insn->detail->x86.encoding;
	int cc;

	switch (insn->id) {
	case X86_INS_LOOP:
	case X86_INS_LOOPE:
	case X86_INS_LOOPNE:
		return refuse(w, -ENOTSUP, "loop (rel8 only) inside the displaced range");
	case X86_INS_JRCXZ:
	case X86_INS_JECXZ:
	case X86_INS_JCXZ:
		return refuse(w, -ENOTSUP, "jrcxz (rel8 only) inside the displaced range");
	case X86_INS_XBEGIN:
		return refuse(w, -ENOTSUP, "xbegin inside the displaced range");
	default:
		break;
	}
	if (enc->imm_size != 1 && enc->imm_size != REL32_SIZE)
		return refuse(w, -ENOTSUP, "16-bit relative branch inside the displaced range");
	if (insn->id == X86_INS_JMP)
		return emit_jmp(w, branch_target(insn));
	cc = jcc_condition(insn);
	if (cc < 0)
		return refuse(w, -ENOTSUP, "unrelocatable relative operand");
	return relocate_jcc(w, insn, cc);
}

static int relocate_insn(struct relocation *r, const cs_insn *insn, bool last)
{
	bool relative = insn_in_group(insn, X86_GRP_BRANCH_RELATIVE);

	if (relative)
		r->targets[r->ntargets++] = branch_target(insn);
	if (insn_in_group(insn, X86_GRP_CALL))
		return relocate_call(&r->w, insn, last);
	if (relative)
		return relocate_branch(&r->w, insn);
	return emit_copy(&r->w, insn, insn->bytes);
}

/* Copy whole instructions from pc until min_len bytes are covered or the flow ends. */
static int relocate_range(struct relocation *r, csh h, cs_insn *insn, const uint8_t *code,
			  size_t len, size_t min_len)
{
	uint64_t addr = r->pc;
	int err;

	while (r->copied < min_len) {
		if (r->ninsns == MAX_INSNS)
			return refuse(&r->w, -ENOSPC, "stub too small");
		if (!cs_disasm_iter(h, &code, &len, &addr, insn))
			return refuse(&r->w, -ENOTSUP, "undecodable instruction");
		r->src[r->ninsns] = r->copied;
		r->dst[r->ninsns] = r->w.len;
		r->ninsns++;
		err = relocate_insn(r, insn, r->copied + insn->size >= min_len);
		if (err)
			return err;
		r->copied += insn->size;
		if (insn_ends_flow(insn)) {
			r->falls_through = false;
			break;
		}
	}
	return 0;
}

/*
 * Bytes after an instruction ending the flow are displaced without being
 * copied: only a branch could reach them, and none may land in the range.
 */
static size_t relocation_displaced(const struct relocation *r, size_t min_len)
{
	return r->copied > min_len ? r->copied : min_len;
}

static int relocation_finish(struct relocation *r, size_t min_len)
{
	size_t displaced = relocation_displaced(r, min_len);

	/* A copied branch into the range would land on the patch. */
	for (size_t i = 0; i < r->ntargets; i++)
		if (r->targets[i] > r->pc && r->targets[i] < r->pc + displaced)
			return refuse(&r->w, -ENOTSUP, "branch into the displaced range");
	if (r->falls_through)
		return emit_jmp(&r->w, r->pc + displaced);
	return 0;
}

static void relocation_init(struct relocation *r, uint64_t pc, uint64_t stub)
{
	memset(r, 0, sizeof(*r));
	memset(r->w.code, INT3_INSN, sizeof(r->w.code));
	r->w.addr = stub;
	r->pc = pc;
	r->falls_through = true;
}

/*
 * One decoder for the life of the tracer: opening capstone costs more than a
 * relocation, and the planner relocates every selected function.  Callers
 * are single-threaded.
 */
static int decoder_get(csh *h, cs_insn **insn)
{
	static csh handle;
	static cs_insn *buf;

	if (!buf) {
		if (cs_open(CS_ARCH_X86, CS_MODE_64, &handle) != CS_ERR_OK)
			return -ENOMEM;
		cs_option(handle, CS_OPT_DETAIL, CS_OPT_ON);
		buf = cs_malloc(handle);
		if (!buf) {
			cs_close(&handle);
			return -ENOMEM;
		}
	}
	*h = handle;
	*insn = buf;
	return 0;
}

static int relocation_run(struct relocation *r, uint64_t pc, const uint8_t *code, size_t len,
			  size_t min_len, uint64_t stub, uint64_t entry_tramp, bool drop_ret)
{
	cs_insn *insn;
	csh h;
	int err;

	relocation_init(r, pc, stub);
	if (min_len == 0 || min_len > len)
		return refuse(&r->w, -EINVAL, "displaced length outside the code given");
	if (drop_ret)
		writer_put(&r->w, drop_ret_insn, sizeof(drop_ret_insn));
	err = emit_rel32_insn(&r->w, call_rel32_insn, sizeof(call_rel32_insn), entry_tramp,
			      "entry trampoline out of reach of the stub");
	if (err)
		return err;
	if (decoder_get(&h, &insn) < 0)
		return refuse(&r->w, -ENOMEM, "cannot open the disassembler");
	err = relocate_range(r, h, insn, code, len, min_len);
	if (!err)
		err = relocation_finish(r, min_len);
	return err;
}

static int stub_build(uint64_t pc, const uint8_t *code, size_t len, size_t min_len, uint64_t stub,
		      uint64_t entry_tramp, uint8_t *out, const char **why, bool drop_ret)
{
	struct relocation r;
	int err;

	err = relocation_run(&r, pc, code, len, min_len, stub, entry_tramp, drop_ret);
	/* Refusals are routine while choosing probes: the caller reports them. */
	if (err) {
		if (why)
			*why = r.w.why;
		return err;
	}
	memcpy(out, r.w.code, UT_STUB_SIZE);
	return (int)relocation_displaced(&r, min_len);
}

int arch_stub_build(uint64_t pc, const uint8_t *code, size_t len, size_t min_len, uint64_t stub,
		    uint64_t entry_tramp, uint8_t *out, const char **why)
{
	return stub_build(pc, code, len, min_len, stub, entry_tramp, out, why, false);
}

int arch_callstub_build(uint64_t pc, const uint8_t *code, size_t len, size_t min_len, uint64_t stub,
			uint64_t entry_tramp, uint8_t *out, const char **why)
{
	return stub_build(pc, code, len, min_len, stub, entry_tramp, out, why, true);
}

/*
 * Rebuilds the relocation to learn where each instruction went; ip == pc maps
 * past the entry call, onto the copy of the first instruction.
 */
uint64_t arch_stub_translate(uint64_t pc, const uint8_t *code, size_t len, size_t displaced,
			     uint64_t stub, uint64_t ip)
{
	struct relocation r;

	if (ip < pc || ip - pc >= displaced)
		return 0;
	/* The entry call's target does not change any length: aim it at the stub itself. */
	if (relocation_run(&r, pc, code, len, displaced, stub, stub, false))
		return 0;
	for (size_t i = 0; i < r.ninsns; i++)
		if (r.src[i] == ip - pc)
			return stub + r.dst[i];
	return 0;
}
