// SPDX-License-Identifier: MIT
/*
 * The `ret` instructions of one function, for hooks that must run as it
 * returns without hijacking its return address (the unwinder's
 * _Unwind_Backtrace reads its own).  A linear sweep: the functions asked
 * about (libgcc's) hold no data in their text.
 */
#include <capstone/capstone.h>
#include <errno.h>

#include "arch.h"

static int sweep_returns(csh h, cs_insn *insn, const uint8_t *code, size_t len, uint64_t addr,
			 uint64_t *out, size_t max)
{
	const uint8_t *p = code;
	uint64_t at = addr;
	size_t left = len, n = 0;

	while (left) {
		if (!cs_disasm_iter(h, &p, &left, &at, insn))
			return -EILSEQ;
		if (insn->id != X86_INS_RET)
			continue;
		if (n == max)
			return -E2BIG;
		out[n++] = insn->address;
	}
	return (int)n;
}

int arch_find_returns(const uint8_t *code, size_t len, uint64_t addr, uint64_t *out, size_t max)
{
	cs_insn *insn;
	csh h;
	int r;

	if (cs_open(CS_ARCH_X86, CS_MODE_64, &h) != CS_ERR_OK)
		return -ENOSYS;
	insn = cs_malloc(h);
	r = insn ? sweep_returns(h, insn, code, len, addr, out, max) : -ENOMEM;
	if (insn)
		cs_free(insn, 1);
	cs_close(&h);
	return r;
}
