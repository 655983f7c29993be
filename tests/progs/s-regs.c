// SPDX-License-Identifier: MIT
/*
 * Every general register and the arithmetic flags survive a traced call,
 * for every patch kind.  regs_call() loads known values into all fifteen
 * general registers but rsp, sets CF PF AF ZF SF OF to a pattern with popfq,
 * calls the traced function, and stores what it finds right after the call:
 *
 *   regs_in[0..14]  rax rbx rcx rdx rsi rdi rbp r8 .. r15   loaded
 *   regs_in[15]     rflags                                  popfq'd
 *   call *regs_fn(%rip)
 *   regs_out[0..15] the same, pushfq'd; regs_out[16] rsp    stored
 *
 * The traced functions themselves preserve everything (pushfq/popfq around
 * their counter), so any difference is the tracer's.  One function per kind:
 *
 *   work_regs_jmp     push rbp; mov rbp, rsp; ...          ordinary prologue: jmp
 *   work_regs_ripjcc  jc; pushfq; addq $1, [rip]; ...      a short jcc and a rip-
 *                                                          relative insn in its
 *                                                          first 5 bytes: jmp; CF
 *                                                          must reach the jc intact
 *   work_regs_pfe     5 x nop, in __patchable_function_entries     call
 *   work_regs_fentry  nop5, in __mcount_loc                        call
 *   work_regs_short   nop; ret: shorter than a 5-byte patch        int3
 *
 * (`utrace --probe=int3` makes every one of them an int3 probe.)  The prog
 * counts its calls, prints the mismatches per function and exits with
 * CORRUPT_STATUS when there is any.
 */
#include <stdint.h>
#include <stdio.h>

#include "attach-gate.h"

#define ITERATIONS 3000
#define EXIT_STATUS 13
#define CORRUPT_STATUS 99
#define NREGS 15 /* general registers but rsp */
#define FLAGS_SLOT NREGS
#define RSP_SLOT (NREGS + 1)

#define X86_CF 0x0001
#define X86_PF 0x0004
#define X86_AF 0x0010
#define X86_ZF 0x0040
#define X86_SF 0x0080
#define X86_OF 0x0800
#define X86_FIXED1 0x0002 /* reads as 1 */
#define ARITH_FLAGS (X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF | X86_OF)

uint64_t regs_in[NREGS + 1], regs_out[RSP_SLOT + 1], regs_rsp_before;
void (*regs_fn)(void);
/* Calls of work_regs_ripjcc that found CF set and clear: the jc's two ways. */
unsigned long regs_ripjcc_cf, regs_ripjcc_nocf;

void regs_call(void);
void work_regs_jmp(void);
void work_regs_ripjcc(void);
void work_regs_pfe(void);
void work_regs_fentry(void);
void work_regs_short(void);

#define LOAD(reg, k) "	movq regs_in+8*" #k "(%rip), %" #reg "\n"
#define STORE(reg, k) "	movq %" #reg ", regs_out+8*" #k "(%rip)\n"
/* clang-format off */
#define EACH_REG(X)							\
	X(rax, 0) X(rbx, 1) X(rcx, 2) X(rdx, 3) X(rsi, 4) X(rdi, 5)	\
	X(rbp, 6) X(r8, 7) X(r9, 8) X(r10, 9) X(r11, 10) X(r12, 11)	\
	X(r13, 12) X(r14, 13) X(r15, 14)
/* clang-format on */

/*
 *   regs_call entry    rsp = 16n + 8
 *   6 callee-saved     rsp = 16n - 40
 *   sub $8             rsp = 16n - 48: aligned for the call
 */
asm(".pushsection .text\n"
    ".globl regs_call\n"
    ".type regs_call, @function\n"
    "regs_call:\n"
    "	pushq %rbx\n"
    "	pushq %rbp\n"
    "	pushq %r12\n"
    "	pushq %r13\n"
    "	pushq %r14\n"
    "	pushq %r15\n"
    "	subq $8, %rsp\n"
    "	movq %rsp, regs_rsp_before(%rip)\n" EACH_REG(
	    LOAD) "	pushq regs_in+8*15(%rip)\n"
		  "	popfq\n"
		  "	call *regs_fn(%rip)\n"
		  "	pushfq\n"
		  "	popq regs_out+8*15(%rip)\n" EACH_REG(
			  STORE) "	movq %rsp, regs_out+8*16(%rip)\n"
				 "	cld\n"
				 "	addq $8, %rsp\n"
				 "	popq %r15\n"
				 "	popq %r14\n"
				 "	popq %r13\n"
				 "	popq %r12\n"
				 "	popq %rbp\n"
				 "	popq %rbx\n"
				 "	ret\n"
				 ".size regs_call, .-regs_call\n"

				 /* Ordinary prologue: the five bytes are push, mov, push. */
				 ".p2align 4\n"
				 ".globl work_regs_jmp\n"
				 ".type work_regs_jmp, @function\n"
				 "work_regs_jmp:\n"
				 "	pushq %rbp\n" /* 55 */
				 "	movq %rsp, %rbp\n" /* 48 89 e5 */
				 "	pushq %rbx\n" /* 53 */
				 "	popq %rbx\n"
				 "	popq %rbp\n"
				 "	ret\n"
				 ".size work_regs_jmp, .-work_regs_jmp\n"

				 /* jc rel8, then a rip-relative add: 2 + 1 + 8 bytes displaced. */
				 ".p2align 4\n"
				 ".globl work_regs_ripjcc\n"
				 ".type work_regs_ripjcc, @function\n"
				 "work_regs_ripjcc:\n"
				 "	jc 1f\n" /* 72 rel8 */
				 "	pushfq\n" /* 9c */
				 "	addq $1, regs_ripjcc_nocf(%rip)\n" /* 48 83 05 disp32 01 */
				 "	popfq\n"
				 "	ret\n"
				 "1:	pushfq\n"
				 "	addq $1, regs_ripjcc_cf(%rip)\n"
				 "	popfq\n"
				 "	ret\n"
				 ".size work_regs_ripjcc, .-work_regs_ripjcc\n"

				 /* As gcc -fpatchable-function-entry=5 emits it. */
				 ".p2align 4\n"
				 ".globl work_regs_pfe\n"
				 ".type work_regs_pfe, @function\n"
				 "work_regs_pfe:\n"
				 ".section __patchable_function_entries,\"awo\",@progbits,work_regs_pfe\n"
				 ".align 8\n"
				 ".quad 2f\n"
				 ".text\n"
				 "2:	nop\n"
				 "	nop\n"
				 "	nop\n"
				 "	nop\n"
				 "	nop\n"
				 "	pushq %rbp\n"
				 "	popq %rbp\n"
				 "	ret\n"
				 ".size work_regs_pfe, .-work_regs_pfe\n"

				 /* As gcc -pg -mfentry -mnop-mcount -mrecord-mcount emits it. */
				 ".p2align 4\n"
				 ".globl work_regs_fentry\n"
				 ".type work_regs_fentry, @function\n"
				 "work_regs_fentry:\n"
				 "3:	.byte 0x0f, 0x1f, 0x44, 0x00, 0x00\n" /* nopl 0(%rax,%rax,1) */
				 ".section __mcount_loc, \"a\",@progbits\n"
				 ".quad 3b\n"
				 ".previous\n"
				 "	pushq %rbp\n"
				 "	popq %rbp\n"
				 "	ret\n"
				 ".size work_regs_fentry, .-work_regs_fentry\n"

				 /* Two bytes: no room for a 5-byte patch. */
				 ".p2align 4\n"
				 ".globl work_regs_short\n"
				 ".type work_regs_short, @function\n"
				 "work_regs_short:\n"
				 "	nop\n"
				 "	ret\n"
				 ".size work_regs_short, .-work_regs_short\n"
				 ".popsection\n");

struct traced {
	const char *name;
	void (*fn)(void);
	unsigned long calls, corrupt;
};

static const uint64_t flag_patterns[] = {
	ARITH_FLAGS,	 0, X86_CF | X86_OF, X86_ZF | X86_SF | X86_PF | X86_AF, X86_CF | X86_ZF,
	X86_SF | X86_OF,
};
#define NPATTERNS (sizeof(flag_patterns) / sizeof(flag_patterns[0]))

static void report(const struct traced *t, const char *what, uint64_t want, uint64_t got)
{
	/* The first few only: enough to see which register. */
	if (t->corrupt < 4)
		fprintf(stderr, "%s: %s %#llx, expected %#llx\n", t->name, what,
			(unsigned long long)got, (unsigned long long)want);
}

static void call_checked(struct traced *t, uint64_t i)
{
	static const char *const names[NREGS] = { "rax", "rbx", "rcx", "rdx", "rsi",
						  "rdi", "rbp", "r8",  "r9",  "r10",
						  "r11", "r12", "r13", "r14", "r15" };
	uint64_t flags = flag_patterns[i % NPATTERNS] | X86_FIXED1;
	int bad = 0;

	for (unsigned int k = 0; k < NREGS; k++)
		regs_in[k] = (i << 16) ^ (0x0101010101010101ULL * (k + 1)) ^ 0x8000000000000000ULL;
	regs_in[FLAGS_SLOT] = flags;
	regs_fn = t->fn;
	t->calls++;
	regs_call();
	for (unsigned int k = 0; k < NREGS; k++)
		if (regs_out[k] != regs_in[k]) {
			report(t, names[k], regs_in[k], regs_out[k]);
			bad = 1;
		}
	if ((regs_out[FLAGS_SLOT] & ARITH_FLAGS) != (flags & ARITH_FLAGS)) {
		report(t, "rflags", flags & ARITH_FLAGS, regs_out[FLAGS_SLOT] & ARITH_FLAGS);
		bad = 1;
	}
	if (regs_out[RSP_SLOT] != regs_rsp_before) {
		report(t, "rsp", regs_rsp_before, regs_out[RSP_SLOT]);
		bad = 1;
	}
	t->corrupt += bad;
}

int main(void)
{
	struct traced fns[] = {
		{ "work_regs_jmp", work_regs_jmp, 0, 0 },
		{ "work_regs_ripjcc", work_regs_ripjcc, 0, 0 },
		{ "work_regs_pfe", work_regs_pfe, 0, 0 },
		{ "work_regs_fentry", work_regs_fentry, 0, 0 },
		{ "work_regs_short", work_regs_short, 0, 0 },
	};
	const size_t n = sizeof(fns) / sizeof(fns[0]);
	unsigned long corrupt = 0, cf_calls = 0;

	for (uint64_t i = 0; i < ITERATIONS; i++)
		for (size_t f = 0; f < n; f++)
			call_checked(&fns[f], i);
	for (uint64_t i = 0; i < ITERATIONS; i++)
		cf_calls += (flag_patterns[i % NPATTERNS] & X86_CF) != 0;
	/* The jc took the way the caller's CF says, every time. */
	if (regs_ripjcc_cf != cf_calls || regs_ripjcc_nocf != ITERATIONS - cf_calls) {
		fprintf(stderr,
			"work_regs_ripjcc: jc taken %lu times, not taken %lu; expected %lu, %lu\n",
			regs_ripjcc_cf, regs_ripjcc_nocf, cf_calls, ITERATIONS - cf_calls);
		corrupt++;
	}
	printf("ripjcc cf %lu nocf %lu\n", regs_ripjcc_cf, regs_ripjcc_nocf);
	for (size_t f = 0; f < n; f++) {
		printf("corrupt %s %lu\n", fns[f].name, fns[f].corrupt);
		corrupt += fns[f].corrupt;
	}
	printf("corrupt %lu\n", corrupt);
	for (size_t f = 0; f < n; f++)
		printf("count %s %lu\n", fns[f].name, fns[f].calls);
	return corrupt ? CORRUPT_STATUS : EXIT_STATUS;
}
