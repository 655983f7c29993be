/* SPDX-License-Identifier: MIT */
/*
 * The recorder as the blob runs it: the C side of the trampolines.  Built
 * freestanding (arch/x86_64/blob/meson.build); the logic is in
 * recorder-core.h, this file only binds it to the blob: the parameters the
 * tracer wrote into this code area, the thread's fs base, the stub layout.
 *
 * Everything is hidden: every reference is rip-relative, so the image runs
 * wherever it is copied, with no relocation.
 */
#pragma GCC visibility push(hidden)

#include <stdint.h>
#include <sys/user.h>
#include "utrace/shm.h"
#include "regs.h"
#include "blob.h"
#include "recorder-core.h"

/* In trampoline.S: this code area's parameters and exits. */
extern struct ut_blob_params ut_blob_params;
extern const char ut_return_trampoline[];
extern const char ut_lost_return[];

/* Called by the trampolines only. */
void ut_recorder_entry(struct user_regs_struct *regs, uint64_t stub_ret);
uint64_t ut_recorder_exit(uint64_t ret_slot, uint64_t rax, uint64_t rdx);

static uint64_t rec_thread_key(const struct ut_ctl *ctl)
{
	uint64_t base;

	/*
	 * rdfsbase reads 0 for a thread without TLS yet; without it, %fs:0
	 * (the TCB's self pointer under glibc) is the only way, and it faults
	 * there: rec_entry() reads no key while the tracer knows of such a
	 * thread (ut_ctl.notls_threads), and only a thread whose return was
	 * hijacked, so that had TLS, reaches rec_exit().
	 */
	if (ctl->use_rdfsbase)
		__asm__ volatile("rdfsbase %0" : "=r"(base));
	else
		__asm__ volatile("movq %%fs:0, %0" : "=r"(base));
	return base;
}

/*
 * The low words of xmm0 .. xmm(n-1), n <= 8.  The recorder is built with
 * -mgeneral-regs-only: nothing between the traced function and here touched
 * a vector register, so they still hold its arguments (or return value).
 */
static void rec_read_xmm(uint64_t *x, uint32_t n)
{
	__asm__ volatile("movq %%xmm0, %0\n\tmovq %%xmm1, %1" : "=m"(x[0]), "=m"(x[1]));
	if (n <= 2)
		return;
	__asm__ volatile("movq %%xmm2, %0\n\tmovq %%xmm3, %1\n\t"
			 "movq %%xmm4, %2\n\tmovq %%xmm5, %3\n\t"
			 "movq %%xmm6, %4\n\tmovq %%xmm7, %5"
			 : "=m"(x[2]), "=m"(x[3]), "=m"(x[4]), "=m"(x[5]), "=m"(x[6]), "=m"(x[7]));
}

static struct ut_ctl *rec_ctl(void)
{
	return (struct ut_ctl *)(uintptr_t)ut_blob_params.data;
}

/* A compiler-made site patched with a call: its return address is in the site table. */
static int rec_site_id(uint64_t ret, uint32_t *id)
{
	const struct ut_site *sites = (const struct ut_site *)(uintptr_t)ut_blob_params.sites;
	uint32_t mask = ut_blob_params.site_mask, h = ut_site_hash(ret, mask);

	if (!sites)
		return 0;
	for (uint32_t i = 0; i <= mask && sites[h].ret; i++, h = (h + 1) & mask)
		if (sites[h].ret == ret) {
			*id = sites[h].id;
			return 1;
		}
	return 0;
}

/* The probe whose stub or site called the entry trampoline, from the call's return address. */
static int rec_probe_id(uint64_t ret, uint32_t *id)
{
	uint64_t off = ret - BLOB_CALL_INSN_SIZE - ut_blob_params.stubs;

	if (off / UT_STUB_SIZE < ut_blob_params.nstubs && off % UT_STUB_SIZE < UT_STUB_HEAD) {
		*id = ut_blob_params.first_id + (uint32_t)(off / UT_STUB_SIZE);
		return 1;
	}
	return rec_site_id(ret, id);
}

void ut_recorder_entry(struct user_regs_struct *regs, uint64_t stub_ret)
{
	struct ut_ctl *ctl = rec_ctl();
	uint32_t id;

	if (ctl && rec_probe_id(stub_ret, &id))
		rec_entry(ctl, id, regs, (uint64_t)(uintptr_t)ut_return_trampoline);
}

uint64_t ut_recorder_exit(uint64_t ret_slot, uint64_t rax, uint64_t rdx)
{
	uint64_t lost = (uint64_t)(uintptr_t)ut_lost_return;
	struct ut_ctl *ctl = rec_ctl();

	if (!ctl)
		return lost;
	return rec_exit(ctl, ret_slot, rax, rdx, lost);
}
