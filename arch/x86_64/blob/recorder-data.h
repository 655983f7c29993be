/* SPDX-License-Identifier: MIT */
/*
 * The bytes an event carries beyond its words (shm.h, "data records"):
 * strings its arguments point to, vector registers, stack arguments, a copy
 * of the stack for the unwinder.  Part of recorder-core.h, included there.
 *
 * Reading memory the program names (a char * argument) must never fault,
 * whatever the pointer: those reads go through process_vm_readv() on our own
 * process, which fails with EFAULT where a load would raise SIGSEGV.  Only
 * the thread's own stack above the stack pointer, whose bounds the tracer
 * wrote, is read with plain loads.
 */
#ifndef UTRACE_RECORDER_DATA_H
#define UTRACE_RECORDER_DATA_H

#define REC_SYS_PROCESS_VM_READV 310
#define REC_PAGE 4096ULL
#define REC_CHUNK 64 /* bytes read at once: one syscall, one page crossing at most */
#define REC_EFAULT 14
#define REC_EPERM 1

typedef uint64_t __attribute__((may_alias, aligned(1))) rec_u64_unaligned;

static int64_t rec_find_return(const struct rec_thread *t, uint32_t top, uint64_t ret_slot);
static int64_t rec_chain_base(const struct rec_thread *t, int64_t i, uint64_t ret_slot);

struct rec_iovec {
	void *base;
	uint64_t len;
};

/*
 * Bytes read from our own address space at addr (n <= REC_CHUNK), or a
 * negative errno.  The remote side is split at the page boundary: the call
 * copies whole iovec elements only, so a readable first page is still read
 * when the second is not.  Never under a seccomp filter, which could kill
 * the program for a system call it does not expect: -EPERM then.
 */
static int64_t rec_read_safe(const struct rec_thread *t, uint64_t addr, void *buf, uint64_t n)
{
	uint64_t first = REC_PAGE - (addr & (REC_PAGE - 1));
	struct rec_iovec local = { buf, n };
	struct rec_iovec remote[2] = { { (void *)(uintptr_t)addr, n < first ? n : first },
				       { (void *)(uintptr_t)(addr + first),
					 n > first ? n - first : 0 } };
	register uint64_t r10 __asm__("r10") = (uint64_t)(uintptr_t)remote;
	register uint64_t r8 __asm__("r8") = n > first ? 2 : 1;
	register uint64_t r9 __asm__("r9") = 0;
	int64_t ret;

	if (REC_READ(t->ctl->no_sleep))
		return -REC_EPERM;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "0"((int64_t)REC_SYS_PROCESS_VM_READV), "D"((uint64_t)t->slot->pid),
			   "S"(&local), "d"(1ULL), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

/* The stream of items being written into the data records that follow an event record. */
struct rec_data {
	struct rec_thread *t;
	uint64_t pos; /* ring position of the data record being filled */
	uint32_t off; /* payload bytes of it filled */
	uint32_t seq; /* its number: 1, 2, ... */
	uint32_t left; /* data records reserved and not yet committed, this one included */
	uint32_t func;
};

/* Where payload byte off of the record at pos lies: the tsc word, then from offset 16. */
static inline unsigned char *rec_data_at(const struct rec_data *d, uint32_t off)
{
	unsigned char *r = d->t->ring + (d->pos & (d->t->ctl->ring_size - 1));

	return r + (off < 8 ? off : off + 8);
}

/* Commit the data record being filled and go on to the next one. */
static void rec_data_next(struct rec_data *d)
{
	struct ut_rec_hdr *r = (struct ut_rec_hdr *)rec_data_at(d, 0);

	rec_barrier();
	REC_WRITE(r->commit, ut_rec_commit(ut_rec_lap_of(d->pos, d->t->ctl->ring_size), UT_REC_DATA,
					   d->seq, d->func));
	d->pos += d->t->ctl->rec_size;
	d->seq++;
	d->left--;
	d->off = 0;
}

static uint32_t rec_data_room(const struct rec_data *d)
{
	return ut_data_payload(d->t->ctl->rec_size) - d->off;
}

/* Append n bytes; the caller reserved room for them (rec_data_bound). */
static void rec_data_put(struct rec_data *d, const void *src, uint32_t n)
{
	const unsigned char *s = src;

	while (n && d->left) {
		uint32_t room = rec_data_room(d), k;
		unsigned char *p;

		if (!room) {
			rec_data_next(d);
			continue;
		}
		/* up to the end of the piece at hand: the tsc word or the rest */
		k = d->off < 8 ? 8 - d->off : room;
		k = k < n ? k : n;
		p = rec_data_at(d, d->off);
		if (k == 8 && !(d->off & 7)) {
			*(rec_u64_unaligned *)p = *(const rec_u64_unaligned *)s;
		} else {
			for (uint32_t i = 0; i < k; i++)
				p[i] = s[i];
		}
		d->off += k;
		s += k;
		n -= k;
	}
}

/* An item's header, to be filled in once its length is known (item starts are 8-aligned). */
static rec_u64_unaligned *rec_data_header(struct rec_data *d)
{
	const uint64_t zero = 0;

	if (d->left && !rec_data_room(d))
		rec_data_next(d);
	if (!d->left)
		return 0;
	rec_data_put(d, &zero, 8);
	return (rec_u64_unaligned *)(rec_data_at(d, d->off - 8));
}

static void rec_data_item(rec_u64_unaligned *h, uint32_t type, uint32_t arg, uint32_t status,
			  uint32_t len)
{
	if (h)
		*h = type | (uint64_t)(arg & 0xff) << 8 | (uint64_t)(status & 0xffff) << 16 |
		     (uint64_t)len << 32;
}

static void rec_data_pad(struct rec_data *d, uint32_t len)
{
	const uint64_t zero = 0;

	if (len & 7)
		rec_data_put(d, &zero, 8 - (len & 7));
}

/* The end of the stream, then every data record left committed (empty). */
static void rec_data_end(struct rec_data *d)
{
	const uint64_t zero = 0;

	if (d->left && rec_data_room(d) >= 8)
		rec_data_put(d, &zero, 8);
	while (d->left) {
		if (d->off == 0)
			*(uint64_t *)rec_data_at(d, 0) = 0;
		rec_data_next(d);
	}
}

/* Whether [addr, addr + n) lies in one of the mappings that are never unmapped. */
static int rec_in_stable(const struct ut_ctl *ctl, uint64_t addr, uint32_t n)
{
	uint32_t k = ctl->nstable < UT_MAX_STABLE ? ctl->nstable : UT_MAX_STABLE;

	for (uint32_t i = 0; i < k; i++)
		if (addr >= ctl->stable[i].lo && addr < ctl->stable[i].hi &&
		    ctl->stable[i].hi - addr >= n)
			return 1;
	return 0;
}

/*
 * n bytes at addr into buf: with plain loads when they lie on the thread's
 * own stack (a string in a caller's frame: no system call) or in a mapping
 * that is never unmapped (a literal in the program's .rodata), else with a
 * safe read.  The bytes read, or a negative errno.
 */
static int64_t rec_read_str(const struct rec_thread *t, uint64_t addr, unsigned char *buf,
			    uint32_t n)
{
	const struct ut_slot *slot = t->slot;

	if ((rec_on_own_stack(slot, addr) && slot->stack_hi - addr >= n) ||
	    rec_in_stable(t->ctl, addr, n)) {
		for (uint32_t i = 0; i < n; i++)
			buf[i] = REC_READ(((const unsigned char *)(uintptr_t)addr)[i]);
		return n;
	}
	return rec_read_safe(t, addr, buf, n);
}

/* The string at addr: the bytes before its NUL, str_max at most, never faulting. */
static __attribute__((noinline)) void rec_data_str(struct rec_data *d, uint32_t arg, uint64_t addr)
{
	uint32_t max = REC_READ(d->t->ctl->str_max), got = 0, status = 0;
	rec_u64_unaligned *h = rec_data_header(d);
	unsigned char buf[REC_CHUNK];

	while (got < max) {
		uint32_t want = max - got < REC_CHUNK ? max - got : REC_CHUNK, i;
		int64_t n = rec_read_str(d->t, addr + got, buf, want);

		if (n <= 0) {
			status = n == 0 || n == -REC_EFAULT ? UT_STR_FAULT : UT_STR_REFUSED;
			break;
		}
		for (i = 0; i < (uint32_t)n && buf[i]; i++)
			;
		rec_data_put(d, buf, i);
		got += i;
		if (i < (uint32_t)n)
			break; /* the NUL */
		if ((uint32_t)n < want) {
			status = UT_STR_FAULT;
			break;
		}
	}
	if (got == max)
		status = UT_STR_CUT;
	rec_data_item(h, UT_ITEM_STR, arg, status, got);
	rec_data_pad(d, got);
}

/* A word of a stack copy: a hijacked return address back to the caller's. */
static uint64_t rec_unhijacked(const struct rec_thread *t, uint64_t slot, uint64_t word)
{
	int64_t base;

	if (!rec_is_ret_tramp(t->ctl, word))
		return word;
	base = rec_chain_base(t, rec_find_return(t, rec_rs_top(t), slot), slot);
	return base >= 0 ? t->rs[base].ret : word;
}

/*
 * n bytes of stack from sp (8-aligned), each hijacked return address as the
 * caller's; plain loads on the thread's own stack, safe reads elsewhere (a
 * sigaltstack, a coroutine's), where it stops at the first unreadable byte.
 * Returns the bytes copied.
 */
static __attribute__((noinline)) uint32_t rec_data_stack_bytes(struct rec_data *d, uint64_t sp,
							       uint32_t n)
{
	const struct ut_slot *slot = d->t->slot;
	int own = rec_on_own_stack(slot, sp);
	uint64_t buf[REC_CHUNK / 8];
	uint32_t got = 0;

	if (own && n > slot->stack_hi - sp)
		n = (uint32_t)(slot->stack_hi - sp);
	while (got < n) {
		uint32_t want = n - got < REC_CHUNK ? (n - got) & ~7U : REC_CHUNK, k;
		int64_t r = want;

		if (!want)
			break;
		if (own)
			for (k = 0; k < want / 8; k++)
				buf[k] = REC_READ(((const uint64_t *)(uintptr_t)(sp + got))[k]);
		else
			r = rec_read_safe(d->t, sp + got, buf, want);
		if (r <= 0)
			break;
		for (k = 0; k < (uint32_t)r / 8; k++)
			buf[k] = rec_unhijacked(d->t, sp + got + 8 * k, buf[k]);
		rec_data_put(d, buf, (uint32_t)r & ~7U);
		got += (uint32_t)r & ~7U;
		if ((uint32_t)r < want)
			break;
	}
	return got;
}

/* The registers and the top of the stack at a function's entry, for the unwinder. */
static void rec_data_stack(struct rec_data *d, const struct user_regs_struct *regs)
{
	const struct ut_stack_regs sr = { regs->rip, regs->rsp, regs->rbp, regs->rbx,
					  regs->r12, regs->r13, regs->r14, regs->r15 };
	rec_u64_unaligned *h = rec_data_header(d);
	uint32_t n;

	rec_data_put(d, &sr, sizeof(sr));
	n = rec_data_stack_bytes(d, regs->rsp, REC_READ(d->t->ctl->stack_bytes));
	rec_data_item(h, UT_ITEM_STACK, 0, 0, (uint32_t)sizeof(sr) + n);
}

/* The arguments passed on the stack, above the return address. */
static void rec_data_stkargs(struct rec_data *d, uint64_t sp, uint32_t n)
{
	rec_u64_unaligned *h = rec_data_header(d);

	rec_data_item(h, UT_ITEM_STKARGS, 0, 0, rec_data_stack_bytes(d, sp + 8, n));
}

/* The low words of xmm0 .. xmm(n-1), still as the traced function left them. */
static __attribute__((noinline)) void rec_data_xmm(struct rec_data *d, uint32_t n)
{
	rec_u64_unaligned *h = rec_data_header(d);
	uint64_t x[8];

	rec_read_xmm(x, n);
	rec_data_put(d, x, n * 8);
	rec_data_item(h, UT_ITEM_XMM, n, 0, n * 8);
}

/* Bytes of stream a function's entry may write at most (its data records' payload). */
static uint64_t rec_entry_bound(const struct ut_ctl *ctl, uint32_t x)
{
	uint64_t n = 8; /* the end */
	uint32_t strs = ctl->rec_args ? x & UT_X_STRS_MASK : 0;

	for (; strs; strs &= strs - 1)
		n += ut_item_size(REC_READ(ctl->str_max));
	if (ut_x_nxmm(x))
		n += ut_item_size(8 * ut_x_nxmm(x));
	if (ut_x_stkargs(x))
		n += ut_item_size(ut_x_stkargs(x));
	if (x & UT_X_STACK)
		n += ut_item_size((uint32_t)sizeof(struct ut_stack_regs) +
				  (REC_READ(ctl->stack_bytes) & ~7U));
	return n;
}

static uint32_t rec_data_records(const struct ut_ctl *ctl, uint64_t bytes)
{
	uint32_t p = ut_data_payload(ctl->rec_size);

	return (uint32_t)((bytes + p - 1) / p);
}

/*
 * An entry that carries data: the event record and its data records
 * reserved at once; the data written and committed first, the event last.
 */
static __attribute__((noinline)) void rec_emit_entry_data(struct rec_thread *t, uint32_t id,
							  uint32_t x,
							  const struct user_regs_struct *regs,
							  const uint64_t *args, uint32_t nargs)
{
	uint32_t k = rec_data_records(t->ctl, rec_entry_bound(t->ctl, x));
	struct rec_data d = { t, 0, 0, 1, k, id };
	uint32_t strs = t->ctl->rec_args ? x & UT_X_STRS_MASK : 0;
	uint64_t head;

	if (k > UT_DATA_SEQ_MAX || !rec_reserve(t, id, (uint64_t)(k + 1) * t->ctl->rec_size, &head))
		return;
	d.pos = head + t->ctl->rec_size;
	/* first: the string reads are system calls (which keep vector registers, though) */
	if (ut_x_nxmm(x))
		rec_data_xmm(&d, ut_x_nxmm(x));
	for (uint32_t a = 0; strs; a++, strs >>= 1)
		if (strs & 1)
			rec_data_str(&d, a, args[a]);
	if (ut_x_stkargs(x))
		rec_data_stkargs(&d, regs->rsp, ut_x_stkargs(x));
	if (x & UT_X_STACK)
		rec_data_stack(&d, regs);
	rec_data_end(&d);
	rec_write(t, head, id, UT_REC_ENTRY, rec_rs_top(t), args, nargs);
}

/* An exit that carries xmm0 and xmm1 (a function returning floating point). */
static void rec_emit_exit_data(struct rec_thread *t, uint32_t func, uint32_t depth,
			       const uint64_t *rets, uint32_t nw)
{
	uint32_t k = rec_data_records(t->ctl, ut_item_size(16) + 8);
	struct rec_data d = { t, 0, 0, 1, k, func };
	uint64_t head;

	if (!rec_reserve(t, func, (uint64_t)(k + 1) * t->ctl->rec_size, &head))
		return;
	d.pos = head + t->ctl->rec_size;
	rec_data_xmm(&d, 2);
	rec_data_end(&d);
	rec_write(t, head, func, UT_REC_EXIT, depth, rets, nw);
}

#endif
