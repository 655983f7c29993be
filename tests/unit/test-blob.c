/* SPDX-License-Identifier: MIT */
/*
 * The injected blob: its image (header, exits, gadget), the intermediate ELF
 * it was flattened from (no relocation, no undefined symbol, bounded stack),
 * and the blob at work in this very process: a code area near this binary
 * holding a copy of the image and hand-made stubs, a data area with a slot
 * for this thread, and assembly targets called through their stubs.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <asm/prctl.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "arch.h"
#include "regs.h"
#include "utrace/shm.h"

#define STR(x) #x
#define XSTR(x) STR(x)

#define PAGE 4096UL
#define CALL_INSN_SIZE 5 /* e8 rel32 */
#define JMP_INSN_SIZE 5 /* e9 rel32 */
#define PUSH_RBP 0x55 /* push %rbp: every target's first instruction */
#define INT3 0xcc
#define FIRST_ID 3 /* probe id of stub 0: ids need not start at 0 */
#define DEPTH 8
#define RING_RECS 1024 /* of the largest records: more of smaller ones */
/* what the ring holds before each run: kind bits 0, never a record */
#define RING_PAINT 0xa0
#define PAINT_WORD 0xa0a0a0a0a0a0a0a0ULL
#define NSLOTS 4
#define HWCAP2_FSGSBASE_BIT (1UL << 1)

/* ---- assembly targets: each starts with push %rbp, copied into its stub --- */

void *t_stub_add; /* where t_outer and t_tail reach t_add: its stub */

long t_add(long a, long b); /* a + b; rdx = a */
void t_nop(void); /* preserves every register and the flags */
long t_outer(long a); /* t_add(a, 1) through its stub */
void t_call(void (*fn)(void)); /* calls fn */
long t_tail(long a, long b); /* tail-calls t_add through its stub */

__asm__(".text\n"
	"t_add:\n"
	"	push %rbp\n"
	"	mov %rsp, %rbp\n"
	"	lea (%rdi,%rsi), %rax\n"
	"	mov %rdi, %rdx\n"
	"	pop %rbp\n"
	"	ret\n"
	"t_nop:\n"
	"	push %rbp\n"
	"	mov %rsp, %rbp\n"
	"	pop %rbp\n"
	"	ret\n"
	"t_outer:\n"
	"	push %rbp\n"
	"	mov %rsp, %rbp\n"
	"	mov $1, %esi\n"
	"	call *t_stub_add(%rip)\n"
	"	pop %rbp\n"
	"	ret\n"
	"t_call:\n"
	"	push %rbp\n"
	"	mov %rsp, %rbp\n"
	"	call *%rdi\n"
	"	pop %rbp\n"
	"	ret\n"
	"t_tail:\n"
	"	push %rbp\n"
	"	pop %rbp\n"
	"	jmp *t_stub_add(%rip)\n");

enum { STUB_ADD, STUB_NOP, STUB_OUTER, STUB_CALL, STUB_TAIL, NSTUBS };
#define NFUNCS (FIRST_ID + NSTUBS + 2) /* one id past the stubs: blob_unknown_stub_is_ignored */
#define SITE_ID (FIRST_ID + NSTUBS + 1) /* the compiler-made site of blob_site_call_is_traced */
#define SITE_ENTRIES 4

/* ---- register-clobber harness ------------------------------------------ */

uint64_t clobber_out, clobber_fn, clobber_saved_sp, clobber_sp_before, clobber_sp_after;

/*
 * void clobber_run(const struct user_regs_struct *in, struct user_regs_struct
 * *out, void *fn, long misalign): load every general register but rsp and the
 * flags from *in, call fn with rsp misaligned by 8 * misalign from the ABI's
 * alignment, store every register and the flags into *out.
 */
void clobber_run(const struct user_regs_struct *in, struct user_regs_struct *out, void *fn,
		 long misalign);

#define LOAD(REG, reg) "	movq " XSTR(REGS_##REG) "(%rdi), %" #reg "\n"
#define STORE(REG, reg) "	movq %" #reg ", " XSTR(REGS_##REG) "(%rax)\n"

/* clang-format off */
__asm__(".text\n"
	"clobber_run:\n"
	"	push %rbx\n"
	"	push %rbp\n"
	"	push %r12\n"
	"	push %r13\n"
	"	push %r14\n"
	"	push %r15\n"
	"	movq %rsi, clobber_out(%rip)\n"
	"	movq %rdx, clobber_fn(%rip)\n"
	"	movq %rsp, clobber_saved_sp(%rip)\n"
	"	shl $3, %rcx\n"
	"	sub %rcx, %rsp\n"
	"	pushq " XSTR(REGS_EFLAGS) "(%rdi)\n"
	"	popfq\n"
	LOAD(RAX, rax)
	LOAD(RBX, rbx)
	LOAD(RCX, rcx)
	LOAD(RDX, rdx)
	LOAD(RSI, rsi)
	LOAD(RBP, rbp)
	LOAD(R8, r8)
	LOAD(R9, r9)
	LOAD(R10, r10)
	LOAD(R11, r11)
	LOAD(R12, r12)
	LOAD(R13, r13)
	LOAD(R14, r14)
	LOAD(R15, r15)
	LOAD(RDI, rdi)
	"	movq %rsp, clobber_sp_before(%rip)\n"
	"	call *clobber_fn(%rip)\n"
	"	movq %rsp, clobber_sp_after(%rip)\n"
	"	pushfq\n"
	"	push %rax\n"
	"	movq clobber_out(%rip), %rax\n"
	STORE(RBX, rbx)
	STORE(RCX, rcx)
	STORE(RDX, rdx)
	STORE(RSI, rsi)
	STORE(RDI, rdi)
	STORE(RBP, rbp)
	STORE(R8, r8)
	STORE(R9, r9)
	STORE(R10, r10)
	STORE(R11, r11)
	STORE(R12, r12)
	STORE(R13, r13)
	STORE(R14, r14)
	STORE(R15, r15)
	"	popq " XSTR(REGS_RAX) "(%rax)\n"
	"	popq " XSTR(REGS_EFLAGS) "(%rax)\n"
	"	movq clobber_saved_sp(%rip), %rsp\n"
	"	pop %r15\n"
	"	pop %r14\n"
	"	pop %r13\n"
	"	pop %r12\n"
	"	pop %rbp\n"
	"	pop %rbx\n"
	"	ret\n");
/* clang-format on */

/* void run_on_stack(void *top, void (*fn)(void)): call fn with rsp = top. */
void run_on_stack(void *top, void (*fn)(void));

__asm__(".text\n"
	"run_on_stack:\n"
	"	push %rbp\n"
	"	mov %rsp, %rbp\n"
	"	mov %rdi, %rsp\n"
	"	call *%rsi\n"
	"	mov %rbp, %rsp\n"
	"	pop %rbp\n"
	"	ret\n");

/* ---- the process's code and data areas ---------------------------------- */

struct blob_env {
	unsigned char *code; /* copy of the blob, then the stubs */
	size_t code_size;
	unsigned char *stubs;
	unsigned char *site_func; /* a function whose compiler-made site calls the trampoline */
	struct ut_ctl *ctl;
	size_t data_size;
	struct ut_slot *slot; /* this thread's */
	struct ut_rs_entry *rs;
	unsigned char *ring;
	uint64_t fs_base;
};

static struct blob_env env;

static const struct ut_blob_hdr *image_hdr(void)
{
	return (const struct ut_blob_hdr *)arch_blob;
}

static size_t page_up(size_t n)
{
	return (n + PAGE - 1) & ~(PAGE - 1);
}

static int within_rel32(uint64_t from, uint64_t to)
{
	int64_t d = (int64_t)(to - from);

	return d == (int32_t)d;
}

/* A code area within rel32 reach of this binary's text, as the tracer places them. */
static unsigned char *map_near(const void *text, size_t size)
{
	uint64_t base = (uint64_t)(uintptr_t)text & ~(PAGE - 1);
	const uint64_t step = 16UL << 20;
	int k, sign;

	for (k = 1; k < 64; k++) {
		for (sign = -1; sign <= 1; sign += 2) {
			uint64_t hint = base + (uint64_t)(sign * k) * step;
			void *p = mmap((void *)(uintptr_t)hint, size, PROT_READ | PROT_WRITE,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

			if (p == MAP_FAILED)
				continue;
			if (within_rel32(hint, base) && within_rel32(hint + size, base))
				return p;
			munmap(p, size);
		}
	}
	return NULL;
}

static void put_rel32(unsigned char *p, uint64_t insn_end, uint64_t target)
{
	int32_t rel = (int32_t)(target - insn_end);

	memcpy(p, &rel, sizeof(rel));
}

static void *stub(unsigned idx)
{
	return env.stubs + (size_t)idx * UT_STUB_SIZE;
}

/*
 * A stub as the relocator makes it for a target starting with push %rbp:
 *
 *   e8 <rel32>   call ut_entry_trampoline
 *   55           push %rbp               (the displaced first instruction)
 *   e9 <rel32>   jmp  target + 1
 *   cc ...       int3 up to UT_STUB_SIZE
 */
static int stub_write(unsigned idx, const void *target)
{
	unsigned char *p = env.stubs + (size_t)idx * UT_STUB_SIZE;
	uint64_t at = (uint64_t)(uintptr_t)p;
	uint64_t entry = (uint64_t)(uintptr_t)env.code + image_hdr()->entry_tramp;

	if (*(const unsigned char *)target != PUSH_RBP)
		return -1;
	memset(p, INT3, UT_STUB_SIZE);
	p[0] = 0xe8;
	put_rel32(p + 1, at + CALL_INSN_SIZE, entry);
	p[CALL_INSN_SIZE] = PUSH_RBP;
	p[CALL_INSN_SIZE + 1] = 0xe9;
	put_rel32(p + CALL_INSN_SIZE + 2, at + CALL_INSN_SIZE + 1 + JMP_INSN_SIZE,
		  (uint64_t)(uintptr_t)target + 1);
	return 0;
}

static uint32_t stub_id(unsigned idx)
{
	return FIRST_ID + idx;
}

static int data_area_setup(void)
{
	size_t funcs_off = page_up(sizeof(struct ut_ctl));
	size_t slots_off = funcs_off + page_up(NFUNCS * sizeof(struct ut_func));
	size_t rstacks_off = slots_off + page_up(NSLOTS * sizeof(struct ut_slot));
	size_t rings_off = rstacks_off + page_up(NSLOTS * DEPTH * sizeof(struct ut_rs_entry));
	struct ut_ctl *ctl;
	uint32_t i;

	env.data_size = rings_off + (size_t)NSLOTS * RING_RECS * UT_REC_MAX;
	ctl = mmap(NULL, env.data_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ctl == MAP_FAILED)
		return -1;
	ctl->magic = UT_SHM_MAGIC;
	ctl->version = UT_SHM_VERSION;
	ctl->nfuncs = NFUNCS;
	ctl->nslots = NSLOTS;
	ctl->ring_size = RING_RECS * UT_REC_MAX;
	ctl->rstack_depth = DEPTH;
	ctl->funcs_off = funcs_off;
	ctl->slots_off = slots_off;
	ctl->rstacks_off = rstacks_off;
	ctl->rings_off = rings_off;
	ctl->total_size = env.data_size;
	ctl->ret_tramps[0] = (uint64_t)(uintptr_t)env.code + image_hdr()->return_tramp;
	ctl->nret_tramps = 1;
	ut_ctl_funcs(ctl)[stub_id(STUB_ADD)].addr = (uint64_t)(uintptr_t)t_add;
	ut_ctl_funcs(ctl)[stub_id(STUB_NOP)].addr = (uint64_t)(uintptr_t)t_nop;
	ut_ctl_funcs(ctl)[stub_id(STUB_OUTER)].addr = (uint64_t)(uintptr_t)t_outer;
	ut_ctl_funcs(ctl)[stub_id(STUB_CALL)].addr = (uint64_t)(uintptr_t)t_call;
	ut_ctl_funcs(ctl)[stub_id(STUB_TAIL)].addr = (uint64_t)(uintptr_t)t_tail;

	syscall(SYS_arch_prctl, ARCH_GET_FS, &env.fs_base);
	i = ut_slot_hash(env.fs_base, NSLOTS);
	env.slot = &ut_ctl_slots(ctl)[i];
	env.rs = ut_ctl_rstack(ctl, i);
	env.ring = ut_ctl_ring(ctl, i);
	env.ctl = ctl;
	return 0;
}

static void thread_stack_bounds(uint64_t *lo, uint64_t *hi)
{
	pthread_attr_t attr;
	void *addr;
	size_t size;

	assert_int_equal(pthread_getattr_np(pthread_self(), &attr), 0);
	assert_int_equal(pthread_attr_getstack(&attr, &addr, &size), 0);
	pthread_attr_destroy(&attr);
	*lo = (uint64_t)(uintptr_t)addr;
	*hi = *lo + size;
}

/*
 * A function as -fpatchable-function-entry=5 leaves it once the tracer
 * patched its site: the nops became a call into the entry trampoline.
 */
static const uint8_t site_func[] = {
	0xe8, 0x00, 0x00, 0x00, 0x00, /* call entry_trampoline (was 5 nops) */
	0x48, 0x8d, 0x04, 0x37, /* lea (%rdi,%rsi,1), %rax */
	0xc3, /* ret */
};
#define SITE_CALL_SIZE 5

/* Put site_func after the stubs and its return address into a site table after that. */
static void site_setup(struct ut_blob_params *params, size_t stubs_off)
{
	uint8_t *fn = env.code + stubs_off + (NSTUBS + 1) * UT_STUB_SIZE;
	struct ut_site *sites = (struct ut_site *)(env.code + stubs_off + PAGE / 2);
	uint64_t ret = (uint64_t)(uintptr_t)fn + SITE_CALL_SIZE;
	int32_t rel =
		(int32_t)((int64_t)(uintptr_t)(env.code + image_hdr()->entry_tramp) - (int64_t)ret);

	memcpy(fn, site_func, sizeof(site_func));
	memcpy(fn + 1, &rel, sizeof(rel));
	/* a colliding entry first, so the lookup has to probe past it */
	sites[ut_site_hash(ret, SITE_ENTRIES - 1)] = (struct ut_site){ ret + 1, FIRST_ID, 0 };
	sites[(ut_site_hash(ret, SITE_ENTRIES - 1) + 1) & (SITE_ENTRIES - 1)] =
		(struct ut_site){ ret, SITE_ID, 0 };
	params->sites = (uint64_t)(uintptr_t)sites;
	params->site_mask = SITE_ENTRIES - 1;
	ut_ctl_funcs(env.ctl)[SITE_ID].addr = (uint64_t)(uintptr_t)fn;
	env.site_func = fn;
}

/* What the tracer does: copy the image, fill its parameters, add the stubs, make it RX. */
static int code_area_setup(void)
{
	size_t stubs_off = page_up(arch_blob_size);
	struct ut_blob_params params = { 0 };

	env.code_size = stubs_off + PAGE;
	env.code = map_near((const void *)t_add, env.code_size);
	if (!env.code)
		return -1;
	env.stubs = env.code + stubs_off;
	memcpy(env.code, arch_blob, arch_blob_size);
	if (data_area_setup())
		return -1;
	params.data = (uint64_t)(uintptr_t)env.ctl;
	params.stubs = (uint64_t)(uintptr_t)env.stubs;
	params.first_id = FIRST_ID;
	params.nstubs = NSTUBS;
	site_setup(&params, stubs_off);
	memcpy(env.code + image_hdr()->params, &params, sizeof(params));

	if (stub_write(STUB_ADD, (const void *)t_add) ||
	    stub_write(STUB_NOP, (const void *)t_nop) ||
	    stub_write(STUB_OUTER, (const void *)t_outer) ||
	    stub_write(STUB_CALL, (const void *)t_call) ||
	    stub_write(STUB_TAIL, (const void *)t_tail))
		return -1;
	/* one past params.nstubs: its calls must be ignored */
	if (stub_write(NSTUBS, (const void *)t_add))
		return -1;
	t_stub_add = stub(STUB_ADD);
	return mprotect(env.code, env.code_size, PROT_READ | PROT_EXEC);
}

static int group_setup(void **state)
{
	return code_area_setup();
}

static int group_teardown(void **state)
{
	if (env.code)
		munmap(env.code, env.code_size);
	if (env.ctl)
		munmap(env.ctl, env.data_size);
	return 0;
}

/*
 * Before each run: an empty (painted) ring and shadow stack, this thread's
 * slot, counters at 0, records of rec_size bytes carrying what rec_args and
 * rec_retval ask for.
 */
static int run_setup_fmt(uint32_t rec_size, int rec_args, int rec_retval)
{
	struct ut_ctl *ctl = env.ctl;
	uint32_t i;

	if (!ctl)
		return -1;
	ctl->rec_size = rec_size;
	ctl->rec_args = (uint32_t)rec_args;
	ctl->rec_retval = (uint32_t)rec_retval;
	memset(env.ring, RING_PAINT, ctl->ring_size);
	ctl->disabled = 0;
	ctl->use_rdfsbase = 0;
	ctl->no_slot = 0;
	ctl->lost_return = 0;
	for (i = 0; i < NFUNCS; i++)
		ut_ctl_funcs(ctl)[i].drops = 0;
	memset(env.slot, 0, sizeof(*env.slot));
	env.slot->key = env.fs_base;
	env.slot->tid = (uint32_t)gettid();
	env.slot->pid = (uint32_t)getpid();
	memset(env.rs, 0, DEPTH * sizeof(*env.rs));
	return 0;
}

/* --args --retval: 64-byte records, entries with 5 words, exits with rax and rdx */
static int run_setup(void **state)
{
	return run_setup_fmt(UT_REC_ARGS_SIZE, 1, 1);
}

/* neither: 16-byte records */
static int run_setup_compact(void **state)
{
	return run_setup_fmt(UT_REC_MIN, 0, 0);
}

/* --retval only: 32-byte records, exits with rax and rdx */
static int run_setup_retval(void **state)
{
	return run_setup_fmt(UT_REC_RETVAL_SIZE, 0, 1);
}

static uint64_t rec_size(void)
{
	return env.ctl->rec_size;
}

static uint64_t nrecs(void)
{
	assert_int_equal(env.slot->head % rec_size(), 0);
	return env.slot->head / rec_size();
}

static const struct ut_rec_hdr *rec_nth(uint64_t n)
{
	return (const struct ut_rec_hdr *)(env.ring +
					   ((n * rec_size()) & (env.ctl->ring_size - 1)));
}

/* Record n's words, after its header. */
static const uint64_t *rec_w(uint64_t n)
{
	return (const uint64_t *)(rec_nth(n) + 1);
}

static void check_rec(uint64_t n, enum ut_rec_kind kind, uint32_t func, uint32_t depth)
{
	const struct ut_rec_hdr *r = rec_nth(n);

	assert_int_equal(r->commit, ut_rec_commit(ut_rec_lap_of(n * rec_size(), env.ctl->ring_size),
						  kind, depth, func));
	assert_int_equal(ut_rec_kind(r->commit), kind);
	assert_int_equal(ut_rec_func(r->commit), func);
	assert_int_equal(ut_rec_depth(r->commit), depth);
}

/* Words k.. of record n, to the record's end, were never written. */
static void check_no_words_from(uint64_t n, uint32_t k)
{
	for (; k < (rec_size() - sizeof(struct ut_rec_hdr)) / sizeof(uint64_t); k++)
		assert_int_equal(rec_w(n)[k], PAINT_WORD);
}

/* Nothing was written from ring position `from` to the ring's end. */
static void check_ring_painted_from(uint64_t from)
{
	for (uint64_t i = from; i < env.ctl->ring_size; i++)
		assert_int_equal(env.ring[i], RING_PAINT);
}

static void check_clean_exit(void)
{
	assert_int_equal(env.slot->rs_top, 0);
	assert_int_equal(env.slot->rs_overflow, 0);
	assert_int_equal(env.slot->drops, 0);
	assert_int_equal(env.ctl->lost_return, 0);
	assert_int_equal(env.ctl->no_slot, 0);
}

/* ---- the image ---------------------------------------------------------- */

static void blob_header(void **state)
{
	const struct ut_blob_hdr *h = image_hdr();

	assert_int_equal(h->magic, UT_BLOB_MAGIC);
	assert_int_equal(h->size, arch_blob_size);
	assert_int_equal(arch_blob_size % 16, 0);
	assert_true(h->entry_tramp >= sizeof(*h));
	assert_true(h->return_tramp >= sizeof(*h));
	assert_true(h->entry_tramp < h->text_end);
	assert_true(h->return_tramp < h->text_end);
	assert_true(h->entry_exit < h->text_end);
	assert_true(h->return_exit < h->text_end);
	assert_true(h->lost_return < h->text_end);
	assert_true(h->syscall_gadget + ARCH_SYSCALL_GADGET_SIZE <= h->text_end);
	assert_true(h->text_end <= h->params);
	assert_int_equal(h->params % 8, 0);
	assert_true(h->params + sizeof(struct ut_blob_params) <= h->size);
	assert_int_equal(h->pad, 0);
}

static void blob_exit_bytes(void **state)
{
	static const uint8_t entry_start[] = {
		0x55, /* push %rbp */
		0x48, 0x89, 0xe5, /* mov %rsp,%rbp */
		0x50, /* push %rax */
		0x9f, /* lahf: before anything that changes the flags */
		0x0f, 0x90, 0xc0, /* seto %al */
	};
	static const uint8_t return_exit[] = {
		0xff, 0x64, 0x24, 0xf8, /* jmp *-0x8(%rsp) */
	};
	const struct ut_blob_hdr *h = image_hdr();
	static const uint8_t zero[sizeof(struct ut_blob_params)];

	assert_memory_equal(arch_blob + h->entry_tramp, entry_start, sizeof(entry_start));
	assert_int_equal(arch_blob[h->entry_exit], 0xc3); /* ret */
	assert_memory_equal(arch_blob + h->return_exit, return_exit, sizeof(return_exit));
	assert_int_equal(arch_blob[h->lost_return], INT3);
	assert_memory_equal(arch_blob + h->syscall_gadget, arch_syscall_gadget,
			    ARCH_SYSCALL_GADGET_SIZE); /* syscall; int3 */
	assert_memory_equal(arch_blob + h->params, zero, sizeof(zero));
}

/* Whether /proc/cpuinfo's first flags line has the word `flag`. */
static int cpuinfo_has(const char *flag)
{
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[8192], *tok, *save;
	int found = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "flags", 5))
			break;
	fclose(f);
	for (tok = strtok_r(line, " \t\n", &save); tok; tok = strtok_r(NULL, " \t\n", &save))
		found |= !strcmp(tok, flag);
	return found;
}

/* The trampolines' lahf/sahf: utrace runs exactly where the kernel saw the CPUID bit. */
static void blob_cpu_check_agrees_with_cpuinfo(void **state)
{
	if (cpuinfo_has("lahf_lm"))
		assert_null(arch_cpu_unsupported());
	else
		assert_non_null(arch_cpu_unsupported());
}

/* ---- the intermediate ELF ------------------------------------------------ */

struct elf_facts {
	size_t reloc_bytes;
	int undefined;
	int exec_sections;
	int header_symbols; /* symbols found at the offset the header gives */
};

static void elf_check_symbol(const char *name, uint64_t value, struct elf_facts *facts)
{
	const struct ut_blob_hdr *h = image_hdr();
	const struct {
		const char *name;
		uint32_t off;
	} expect[] = {
		{ "ut_entry_trampoline", h->entry_tramp },
		{ "ut_return_trampoline", h->return_tramp },
		{ "ut_blob_params", h->params },
		{ "ut_entry_exit", h->entry_exit },
		{ "ut_return_exit", h->return_exit },
		{ "ut_lost_return", h->lost_return },
		{ "ut_syscall_gadget", h->syscall_gadget },
		{ "ut_blob_text_end", h->text_end },
		{ "ut_blob_end", h->size },
	};
	size_t i;

	for (i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		if (strcmp(name, expect[i].name) == 0) {
			assert_int_equal(value, expect[i].off);
			facts->header_symbols++;
		}
	}
}

static void elf_scan_symbols(Elf *e, Elf_Scn *scn, const GElf_Shdr *sh, struct elf_facts *facts)
{
	Elf_Data *data = elf_getdata(scn, NULL);
	size_t i, n = sh->sh_entsize ? sh->sh_size / sh->sh_entsize : 0;

	assert_non_null(data);
	for (i = 1; i < n; i++) {
		GElf_Sym sym;

		assert_non_null(gelf_getsym(data, (int)i, &sym));
		if (sym.st_shndx == SHN_UNDEF)
			facts->undefined++;
		if (sh->sh_type == SHT_SYMTAB)
			elf_check_symbol(elf_strptr(e, sh->sh_link, sym.st_name), sym.st_value,
					 facts);
	}
}

static void elf_scan_section(Elf *e, Elf_Scn *scn, struct elf_facts *facts)
{
	GElf_Shdr sh;
	Elf_Data *data;

	assert_non_null(gelf_getshdr(scn, &sh));
	if (sh.sh_type == SHT_REL || sh.sh_type == SHT_RELA)
		facts->reloc_bytes += sh.sh_size;
	if (sh.sh_type == SHT_SYMTAB || sh.sh_type == SHT_DYNSYM)
		elf_scan_symbols(e, scn, &sh, facts);
	if (!(sh.sh_flags & SHF_EXECINSTR))
		return;
	/* the one code section, at 0, is exactly the embedded image */
	facts->exec_sections++;
	assert_int_equal(sh.sh_addr, 0);
	assert_int_equal(sh.sh_size, arch_blob_size);
	data = elf_getdata(scn, NULL);
	assert_non_null(data);
	assert_int_equal(data->d_size, arch_blob_size);
	assert_memory_equal(data->d_buf, arch_blob, arch_blob_size);
}

static void blob_elf_has_no_relocations_or_undefined_symbols(void **state)
{
	struct elf_facts facts = { 0 };
	Elf_Scn *scn = NULL;
	Elf *e;
	int fd;

	assert_int_not_equal(elf_version(EV_CURRENT), EV_NONE);
	fd = open(UT_BLOB_ELF, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0);
	e = elf_begin(fd, ELF_C_READ, NULL);
	assert_non_null(e);
	while ((scn = elf_nextscn(e, scn)) != NULL)
		elf_scan_section(e, scn, &facts);
	elf_end(e);
	close(fd);

	assert_int_equal(facts.reloc_bytes, 0);
	assert_int_equal(facts.undefined, 0);
	assert_int_equal(facts.exec_sections, 1);
	assert_int_equal(facts.header_symbols, 9);
}

/* Sum of the recorder's frames (+ return addresses), each static and within the bound. */
static size_t recorder_stack_sum(void)
{
	char line[512], qual[64];
	size_t sum = 0, n;
	int funcs = 0;
	FILE *f = fopen(UT_BLOB_SU, "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		const char *tab = strchr(line, '\t');

		assert_non_null(tab);
		assert_int_equal(sscanf(tab, "%zu %63s", &n, qual), 2);
		assert_string_equal(qual, "static");
		assert_true(n <= UT_BLOB_STACK_BOUND);
		sum += n + sizeof(uint64_t);
		funcs++;
	}
	fclose(f);
	assert_true(funcs > 0);
	return sum;
}

static void blob_stack_usage_is_static_and_bounded(void **state)
{
	assert_true(recorder_stack_sum() > 0);
}

/* ---- the blob at work ----------------------------------------------------- */

static void blob_traced_call_records_entry_and_exit(void **state)
{
	long (*add)(long, long) = stub(STUB_ADD);
	assert_int_equal(add(3, 4), 7);
	assert_int_equal(nrecs(), 2);
	check_rec(0, UT_REC_ENTRY, stub_id(STUB_ADD), 0);
	assert_int_equal(rec_w(0)[0], 3);
	assert_int_equal(rec_w(0)[1], 4);
	check_rec(1, UT_REC_EXIT, stub_id(STUB_ADD), 0);
	assert_int_equal(rec_w(1)[0], 7);
	assert_int_equal(rec_w(1)[1], 3);
	check_no_words_from(1, UT_REC_RETVAL_WORDS);
	assert_true(rec_nth(1)->tsc >= rec_nth(0)->tsc);
	check_clean_exit();
}

static void blob_rdfsbase_finds_the_slot(void **state)
{
	long (*add)(long, long) = stub(STUB_ADD);

	if (!(getauxval(AT_HWCAP2) & HWCAP2_FSGSBASE_BIT)) {
		print_message("skipped: this CPU has no FSGSBASE (the %%fs:0 path runs in every "
			      "other test)\n");
		skip();
	}
	env.ctl->use_rdfsbase = 1;
	assert_int_equal(add(1, 2), 3);
	assert_int_equal(nrecs(), 2);
	check_rec(1, UT_REC_EXIT, stub_id(STUB_ADD), 0);
	check_clean_exit();
}

static void blob_nested_calls(void **state)
{
	long (*outer)(long) = stub(STUB_OUTER);

	assert_int_equal(outer(5), 6);
	assert_int_equal(nrecs(), 4);
	check_rec(0, UT_REC_ENTRY, stub_id(STUB_OUTER), 0);
	check_rec(1, UT_REC_ENTRY, stub_id(STUB_ADD), 1);
	assert_int_equal(rec_w(1)[0], 5);
	assert_int_equal(rec_w(1)[1], 1);
	check_rec(2, UT_REC_EXIT, stub_id(STUB_ADD), 1);
	check_rec(3, UT_REC_EXIT, stub_id(STUB_OUTER), 0);
	assert_int_equal(rec_w(3)[0], 6);
	check_clean_exit();
}

/* t_tail jumps into t_add's stub with its own hijacked return: one ret, two exits. */
static void blob_chained_tail_call(void **state)
{
	long (*tail)(long, long) = stub(STUB_TAIL);

	assert_int_equal(tail(2, 3), 5);
	assert_int_equal(nrecs(), 4);
	check_rec(0, UT_REC_ENTRY, stub_id(STUB_TAIL), 0);
	check_rec(1, UT_REC_ENTRY, stub_id(STUB_ADD), 1);
	check_rec(2, UT_REC_EXIT, stub_id(STUB_ADD), 1);
	check_rec(3, UT_REC_EXIT, stub_id(STUB_TAIL), 0);
	assert_int_equal(rec_w(3)[0], 5);
	check_clean_exit();
}

static jmp_buf jump_env;

static void jump_out(void)
{
	longjmp(jump_env, 1);
}

static void __attribute__((noinline)) call_and_jump_out(void (*call)(void (*)(void)))
{
	if (!setjmp(jump_env))
		call(jump_out);
}

/* longjmp out of a traced frame far more often than the shadow stack is deep. */
static void blob_longjmp_never_overflows(void **state)
{
	void (*call)(void (*)(void)) = stub(STUB_CALL);
	long (*add)(long, long) = stub(STUB_ADD);
	const int rounds = 4 * DEPTH;
	uint64_t lo, hi, n, unwinds = 0;
	int i;

	thread_stack_bounds(&lo, &hi);
	env.slot->stack_lo = lo;
	env.slot->stack_hi = hi;
	for (i = 0; i < rounds; i++)
		call_and_jump_out(call);
	assert_true(env.slot->rs_top <= 1);
	assert_int_equal(add(1, 1), 2); /* prunes the last dead frame */
	for (n = 0; n < nrecs(); n++)
		unwinds += ut_rec_kind(rec_nth(n)->commit) == UT_REC_UNWIND;
	assert_int_equal(unwinds, rounds);
	check_rec(nrecs() - 1, UT_REC_EXIT, stub_id(STUB_ADD), 0);
	check_clean_exit();
}

static void blob_unknown_thread_is_counted(void **state)
{
	long (*add)(long, long) = stub(STUB_ADD);

	env.slot->key = env.fs_base + 64;
	assert_int_equal(add(20, 22), 42);
	assert_int_equal(env.ctl->no_slot, 1);
	assert_int_equal(env.ctl->lost_return, 0);
	assert_int_equal(env.slot->head, 0);
}

static void blob_disabled_records_nothing(void **state)
{
	long (*outer)(long) = stub(STUB_OUTER);

	env.ctl->disabled = 1;
	assert_int_equal(outer(1), 2);
	assert_int_equal(nrecs(), 0);
	check_clean_exit();
}

static void blob_unknown_stub_is_ignored(void **state)
{
	long (*add)(long, long) = stub(NSTUBS);

	assert_int_equal(add(2, 2), 4);
	assert_int_equal(nrecs(), 0);
	check_clean_exit();
}

/* A call at a compiler-made site is found through the site table, returns past the site. */
static void blob_site_call_is_traced(void **state)
{
	long (*add)(long, long) = (long (*)(long, long))(void *)env.site_func;

	assert_int_equal(add(20, 22), 42);
	assert_int_equal(nrecs(), 2);
	check_rec(0, UT_REC_ENTRY, SITE_ID, 0);
	assert_int_equal(rec_w(0)[0], 20);
	check_rec(1, UT_REC_EXIT, SITE_ID, 0);
	assert_int_equal(rec_w(1)[0], 42);
	check_clean_exit();
}

static sigjmp_buf trap_env;
static volatile uint64_t trap_ip;

static void on_trap(int sig, siginfo_t *si, void *uc_void)
{
	const ucontext_t *uc = uc_void;

	trap_ip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
	siglongjmp(trap_env, 1);
}

/* A return with no shadow entry ends on the lost_return int3, counted. */
static void blob_lost_return_traps(void **state)
{
	void (*ret_tramp)(void) = (void (*)(void))(env.code + image_hdr()->return_tramp);
	struct sigaction sa = { .sa_sigaction = on_trap, .sa_flags = SA_SIGINFO }, old;

	sigemptyset(&sa.sa_mask);
	assert_int_equal(sigaction(SIGTRAP, &sa, &old), 0);
	trap_ip = 0;
	if (!sigsetjmp(trap_env, 1))
		ret_tramp();
	sigaction(SIGTRAP, &old, NULL);
	assert_int_equal(trap_ip, (uint64_t)(uintptr_t)env.code + image_hdr()->lost_return + 1);
	assert_int_equal(env.ctl->lost_return, 1);
}

static void clobber_check(uint64_t flags, long misalign)
{
	struct user_regs_struct in = { 0 }, out = { 0 };
	uint64_t *w = (uint64_t *)&in;
	const uint64_t *rw;
	size_t i;

	for (i = 0; i < REGS_SIZE / sizeof(uint64_t); i++)
		w[i] = 0x0102030405060708ULL * (i + 1) ^ 0x8000000000000000ULL;
	in.eflags = flags;
	clobber_run(&in, &out, stub(STUB_NOP), misalign);

	assert_int_equal(out.rax, in.rax);
	assert_int_equal(out.rbx, in.rbx);
	assert_int_equal(out.rcx, in.rcx);
	assert_int_equal(out.rdx, in.rdx);
	assert_int_equal(out.rsi, in.rsi);
	assert_int_equal(out.rdi, in.rdi);
	assert_int_equal(out.rbp, in.rbp);
	assert_int_equal(out.r8, in.r8);
	assert_int_equal(out.r9, in.r9);
	assert_int_equal(out.r10, in.r10);
	assert_int_equal(out.r11, in.r11);
	assert_int_equal(out.r12, in.r12);
	assert_int_equal(out.r13, in.r13);
	assert_int_equal(out.r14, in.r14);
	assert_int_equal(out.r15, in.r15);
	assert_int_equal(out.eflags & REGS_EFLAGS_ARITH, flags & REGS_EFLAGS_ARITH);
	assert_int_equal(clobber_sp_after, clobber_sp_before);

	/* and the recorder saw the same registers (what the record format keeps of them) */
	assert_int_equal(ut_rec_kind(rec_nth(nrecs() - 2)->commit), UT_REC_ENTRY);
	rw = rec_w(nrecs() - 2);
	if (env.ctl->rec_args) {
		assert_int_equal(rw[0], in.rdi);
		assert_int_equal(rw[1], in.rsi);
		assert_int_equal(rw[2], in.rdx);
		assert_int_equal(rw[3], in.rcx);
		assert_int_equal(rw[4], in.r8);
	} else {
		check_no_words_from(nrecs() - 2, 0);
	}
	assert_int_equal(ut_rec_kind(rec_nth(nrecs() - 1)->commit), UT_REC_EXIT);
	rw = rec_w(nrecs() - 1);
	if (env.ctl->rec_retval) {
		assert_int_equal(rw[0], in.rax);
		assert_int_equal(rw[1], in.rdx);
	} else {
		check_no_words_from(nrecs() - 1, 0);
	}
	check_ring_painted_from(env.slot->head);
}

/* Every general register and the arithmetic flags survive both trampolines. */
static void blob_preserves_every_register(void **state)
{
	clobber_check(REGS_EFLAGS_ARITH, 0);
	clobber_check(REGS_EFLAGS_ARITH, 1);
	clobber_check(0, 0);
	clobber_check(0, 1);
	clobber_check(0x801 /* OF CF */, 1);
	clobber_check(0x0c4 /* SF ZF PF */, 0);
	assert_int_equal(nrecs(), 12);
	check_clean_exit();
}

/*
 * Neither --args nor --retval: the blob writes 16-byte records, nothing but
 * their headers; head advances by 16 a record.
 */
static void blob_compact_records(void **state)
{
	long (*outer)(long) = stub(STUB_OUTER);

	assert_int_equal(rec_size(), UT_REC_MIN);
	assert_int_equal(outer(5), 6);
	assert_int_equal(env.slot->head, 4 * UT_REC_MIN);
	check_rec(0, UT_REC_ENTRY, stub_id(STUB_OUTER), 0);
	check_rec(1, UT_REC_ENTRY, stub_id(STUB_ADD), 1);
	check_rec(2, UT_REC_EXIT, stub_id(STUB_ADD), 1);
	check_rec(3, UT_REC_EXIT, stub_id(STUB_OUTER), 0);
	assert_true(rec_nth(3)->tsc >= rec_nth(0)->tsc);
	check_ring_painted_from(env.slot->head);
	check_clean_exit();
}

/* --retval alone: 32-byte records, exits with rax and rdx, entries with no word. */
static void blob_retval_only_records(void **state)
{
	long (*add)(long, long) = stub(STUB_ADD);

	assert_int_equal(rec_size(), UT_REC_RETVAL_SIZE);
	assert_int_equal(add(3, 4), 7);
	assert_int_equal(env.slot->head, 2 * UT_REC_RETVAL_SIZE);
	check_rec(0, UT_REC_ENTRY, stub_id(STUB_ADD), 0);
	check_no_words_from(0, 0);
	check_rec(1, UT_REC_EXIT, stub_id(STUB_ADD), 0);
	assert_int_equal(rec_w(1)[0], 7);
	assert_int_equal(rec_w(1)[1], 3);
	check_ring_painted_from(env.slot->head);
	check_clean_exit();
}

#define PAINT 0x5a
#define TEST_STACK_SIZE 8192

/* The deepest a traced call goes below its caller, measured on a painted stack. */
static void blob_stack_use_is_bounded(void **state)
{
	static unsigned char stack[TEST_STACK_SIZE] __attribute__((aligned(16)));
	/* harness call + stub call + pushfq/rbp + alignment + frame + recorder */
	size_t bound = 8 + 8 + 16 + 8 + REGS_FRAME_SIZE + recorder_stack_sum();
	size_t used = 0;

	memset(stack, PAINT, sizeof(stack));
	run_on_stack(stack + sizeof(stack), (void (*)(void))stub(STUB_NOP));
	while (used < sizeof(stack) && stack[used] == PAINT)
		used++;
	used = sizeof(stack) - used;
	assert_int_equal(nrecs(), 2);
	assert_true(used >= 8 + 8 + 16 + REGS_FRAME_SIZE);
	assert_true(used <= bound);
	check_clean_exit();
}

/* The same registers and stack bound through the recorder's shorter paths (fewer words). */
static void blob_compact_preserves_every_register(void **state)
{
	blob_preserves_every_register(state);
}

static void blob_retval_only_preserves_every_register(void **state)
{
	blob_preserves_every_register(state);
}

static void blob_compact_stack_use_is_bounded(void **state)
{
	blob_stack_use_is_bounded(state);
}

#define RUN(name) cmocka_unit_test_setup(name, run_setup)
#define RUN_FMT(name, setup) cmocka_unit_test_setup(name, setup)

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(blob_header),
		cmocka_unit_test(blob_exit_bytes),
		cmocka_unit_test(blob_cpu_check_agrees_with_cpuinfo),
		cmocka_unit_test(blob_elf_has_no_relocations_or_undefined_symbols),
		cmocka_unit_test(blob_stack_usage_is_static_and_bounded),
		RUN(blob_traced_call_records_entry_and_exit),
		RUN(blob_rdfsbase_finds_the_slot),
		RUN(blob_nested_calls),
		RUN(blob_chained_tail_call),
		RUN(blob_longjmp_never_overflows),
		RUN(blob_unknown_thread_is_counted),
		RUN(blob_disabled_records_nothing),
		RUN(blob_unknown_stub_is_ignored),
		RUN(blob_site_call_is_traced),
		RUN(blob_lost_return_traps),
		RUN(blob_preserves_every_register),
		RUN(blob_stack_use_is_bounded),
		RUN_FMT(blob_compact_records, run_setup_compact),
		RUN_FMT(blob_retval_only_records, run_setup_retval),
		RUN_FMT(blob_compact_preserves_every_register, run_setup_compact),
		RUN_FMT(blob_retval_only_preserves_every_register, run_setup_retval),
		RUN_FMT(blob_compact_stack_use_is_bounded, run_setup_compact),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
