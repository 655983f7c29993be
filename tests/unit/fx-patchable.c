// SPDX-License-Identifier: MIT
/*
 * Fixture for test-patchable: a PIE whose functions each meet, or break,
 * one condition of a 5-byte patch (docs/ARCHITECTURE.md, "What a 5-byte
 * patch may not do").  Written in assembly so the bytes are exact; no CFI, so
 * that the only targets inside a function are the branches shown.  All are
 * local symbols.
 *
 * fx_prologue:  55             push %rbp          a 5-byte patch covers
 *               48 89 e5       mov %rsp,%rbp      exactly the first three
 *               53             push %rbx
 *               31 c0          xor %eax,%eax
 *               5b             pop %rbx
 *               5d             pop %rbp
 *               c3             ret
 * fx_short:     31 c0          xor %eax,%eax      3 bytes
 *               c3             ret
 * fx_landed:    53             push %rbx
 *               48 89 fb       mov %rdi,%rbx      <- fx_jumper jumps here (+1)
 *               48 89 d8       mov %rbx,%rax
 *               5b             pop %rbx
 *               c3             ret
 * fx_jumper:    e9 ..          jmp fx_landed+1
 * fx_outer:     31 c0          xor %eax,%eax
 * fx_inner:     ff c0          inc %eax           a second function at +2
 *               ff c0          inc %eax
 *               90             nop
 *               c3             ret
 * fx_labelled:  31 c0          xor %eax,%eax
 * fx_label:     ff c0          inc %eax           a local label (no type) at +2
 *               ff c0          inc %eax
 *               90             nop
 *               c3             ret
 * fx_pfe:       90 x5          nop                recorded in __patchable_function_entries
 *               31 c0          xor %eax,%eax
 *               c3             ret
 * fx_nop5:      90 x5          nop                the same bytes, not recorded
 *               31 c0          xor %eax,%eax
 *               c3             ret
 * fx_endbr:     f3 0f 1e fa    endbr64
 *               55             push %rbp          patched from +4
 *               48 89 e5       mov %rsp,%rbp
 *               53             push %rbx
 *               5b             pop %rbx
 *               5d             pop %rbp
 *               c3             ret
 * fx_pfe_endbr: f3 0f 1e fa    endbr64
 *               90 x5          nop                recorded at +4
 *               c3             ret
 * fx_endbr_only: f3 0f 1e fa   endbr64            nothing after it
 * fx_loop:      90             nop
 *               e2 03          loop fx_loop+6     beyond the 5 bytes
 *               90 90 90       nop x3
 *               c3             ret                (+6)
 * fx_loop_first: e2 03         loop fx_loop_first+5
 *               90 90 90       nop x3
 *               c3             ret                (+5)
 * _setjmp, _dl_runtime_resolve_fx, fx_setjmp_like: the fx_prologue body
 *               under names that break (or, the last, do not) call/ret
 */
/* clang-format off */
#define FX_BODY_PROLOGUE                                                                        \
	"\tpush %rbp\n\tmov %rsp, %rbp\n\tpush %rbx\n\txorl %eax, %eax\n\tpop %rbx\n\tpop %rbp\n" \
	"\tret\n"
#define FX_FUNC(name, body)                                                                     \
	".p2align 4, 0xcc\n"                                                                    \
	".type " name ", @function\n" name ":\n" body ".size " name ", . - " name "\n"

__asm__(".pushsection .text\n"
	FX_FUNC("fx_prologue", FX_BODY_PROLOGUE)
	FX_FUNC("fx_short", "\txorl %eax, %eax\n\tret\n")
	FX_FUNC("fx_landed", "\tpush %rbx\n\tmov %rdi, %rbx\n\tmov %rbx, %rax\n\tpop %rbx\n\tret\n")
	FX_FUNC("fx_jumper", "\tjmp.d32 fx_landed + 1\n")
	FX_FUNC("fx_outer", "\txorl %eax, %eax\n"
			    ".type fx_inner, @function\n"
			    "fx_inner:\n"
			    "\tincl %eax\n\tincl %eax\n\tnop\n\tret\n"
			    ".size fx_inner, . - fx_inner\n")
	FX_FUNC("fx_labelled", "\txorl %eax, %eax\n"
			       "fx_label:\n"
			       "\tincl %eax\n\tincl %eax\n\tnop\n\tret\n")
	FX_FUNC("fx_pfe", "\tnop\n\tnop\n\tnop\n\tnop\n\tnop\n\txorl %eax, %eax\n\tret\n")
	FX_FUNC("fx_nop5", "\tnop\n\tnop\n\tnop\n\tnop\n\tnop\n\txorl %eax, %eax\n\tret\n")
	FX_FUNC("fx_endbr", "\tendbr64\n\tpush %rbp\n\tmov %rsp, %rbp\n\tpush %rbx\n\tpop %rbx\n"
			    "\tpop %rbp\n\tret\n")
	FX_FUNC("fx_pfe_endbr", "\tendbr64\n\tnop\n\tnop\n\tnop\n\tnop\n\tnop\n\tret\n")
	FX_FUNC("fx_endbr_only", "\tendbr64\n")
	FX_FUNC("fx_loop", "\tnop\n\tloop 1f\n\tnop\n\tnop\n\tnop\n1:\tret\n")
	FX_FUNC("fx_loop_first", "\tloop 1f\n\tnop\n\tnop\n\tnop\n1:\tret\n")
	FX_FUNC("_setjmp", FX_BODY_PROLOGUE)
	FX_FUNC("_dl_runtime_resolve_fx", FX_BODY_PROLOGUE)
	FX_FUNC("fx_setjmp_like", FX_BODY_PROLOGUE)
	".popsection\n"
	".pushsection __patchable_function_entries, \"aw\", @progbits\n"
	".p2align 3\n"
	"\t.quad fx_pfe\n"
	"\t.quad fx_pfe_endbr + 4\n"
	".popsection\n");
/* clang-format on */

int main(void)
{
	return 0;
}
