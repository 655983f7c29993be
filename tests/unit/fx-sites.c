// SPDX-License-Identifier: MIT
/*
 * Fixture for test-sites, built with -fpatchable-function-entry=5 or
 * -pg -mfentry [-mnop-mcount] -mrecord-mcount: every C function here gets a
 * compiler-made entry site, and only these (the C runtime's objects are not
 * built with those flags).
 *
 * With FX_BOGUS_MCOUNT_LOC, __mcount_loc also records fx_plain_asm, whose
 * first bytes are an ordinary prologue and must be dropped:
 *   55          push %rbp
 *   48 89 e5    mov %rsp,%rbp
 *   5d          pop %rbp
 *   c3          ret
 */
#ifdef FX_BOGUS_MCOUNT_LOC
__asm__(".pushsection .text\n"
	".type fx_plain_asm, @function\n"
	"fx_plain_asm:\n"
	"\tpush %rbp\n"
	"\tmov %rsp, %rbp\n"
	"\tpop %rbp\n"
	"\tret\n"
	".size fx_plain_asm, . - fx_plain_asm\n"
	".popsection\n"
	".pushsection __mcount_loc, \"a\", @progbits\n"
	"\t.quad fx_plain_asm\n"
	".popsection\n");
#endif

int fx_site_a(int x);
int fx_site_b(int x);

__attribute__((noinline, noclone)) int fx_site_a(int x)
{
	return x * 3 + 1;
}

__attribute__((noinline, noclone)) int fx_site_b(int x)
{
	return fx_site_a(x) + 2;
}

__attribute__((noinline, noclone)) static int fx_site_local(int x)
{
	return fx_site_b(x) ^ 5;
}

int main(int argc, char **argv)
{
	(void)argv;
	return fx_site_local(argc) & 1;
}
