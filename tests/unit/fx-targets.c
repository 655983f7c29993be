// SPDX-License-Identifier: MIT
/*
 * Fixture for test-targets: a PIE whose text holds entries the targets
 * scan must find, written in assembly so the bytes are exact.
 *
 * fx_entered:  55          push %rbp
 *              48 89 e5    mov %rsp,%rbp     <- fx_jumper jumps here (+1)
 *              5d          pop %rbp
 *              c3          ret
 * fx_jumper:   eb/e9 ..    jmp fx_entered+1
 * fx_split:    31 c0       xor %eax,%eax     one FDE ...
 *              ff c0       inc %eax
 *              ff c0       inc %eax          <- ... and a second one (+4), no symbol
 *              90 x4       nop
 *              c3          ret
 * fx_callee:   b8 07 00 00 00  mov $7,%eax   <- called by fx_caller
 *              c3          ret
 * fx_caller:   e8 ..       call fx_callee
 *              c3          ret
 * fx_quiet:    b8 01 00 00 00  mov $1,%eax   only its own FDE starts here
 *              b9 02 00 00 00  mov $2,%ecx
 *              c3          ret
 */
__asm__(".pushsection .text\n"
	".type fx_entered, @function\n"
	"fx_entered:\n"
	".cfi_startproc\n"
	"\tpush %rbp\n"
	"\tmov %rsp, %rbp\n"
	"\tpop %rbp\n"
	"\tret\n"
	".cfi_endproc\n"
	".size fx_entered, . - fx_entered\n"

	".type fx_jumper, @function\n"
	"fx_jumper:\n"
	".cfi_startproc\n"
	"\tjmp fx_entered + 1\n"
	".cfi_endproc\n"
	".size fx_jumper, . - fx_jumper\n"

	".type fx_split, @function\n"
	"fx_split:\n"
	".cfi_startproc\n"
	"\txorl %eax, %eax\n"
	"\tincl %eax\n"
	".cfi_endproc\n"
	".cfi_startproc\n"
	"\tincl %eax\n"
	"\tnop\n\tnop\n\tnop\n\tnop\n"
	"\tret\n"
	".cfi_endproc\n"
	".size fx_split, . - fx_split\n"

	".type fx_callee, @function\n"
	"fx_callee:\n"
	".cfi_startproc\n"
	"\tmovl $7, %eax\n"
	"\tret\n"
	".cfi_endproc\n"
	".size fx_callee, . - fx_callee\n"

	".type fx_caller, @function\n"
	"fx_caller:\n"
	".cfi_startproc\n"
	"\tcall fx_callee\n"
	"\tret\n"
	".cfi_endproc\n"
	".size fx_caller, . - fx_caller\n"

	".type fx_quiet, @function\n"
	"fx_quiet:\n"
	".cfi_startproc\n"
	"\tmovl $1, %eax\n"
	"\tmovl $2, %ecx\n"
	"\tret\n"
	".cfi_endproc\n"
	".size fx_quiet, . - fx_quiet\n"
	".popsection\n");

int main(void)
{
	return 0;
}
