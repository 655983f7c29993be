/* SPDX-License-Identifier: MIT */
/*
 * The data area: one memfd mapped MAP_SHARED by the tracee (where the injected
 * recorder writes it) and by the tracer (which reads it).  This header is the
 * whole contract between the two; it is included by freestanding blob code,
 * so it uses nothing but <stdint.h>.
 *
 * Layout (offsets in struct ut_ctl, every part page aligned):
 *
 *   +------------------+ 0
 *   | struct ut_ctl    |  control block, written by the tracer (counters: tracee)
 *   +------------------+ funcs_off
 *   | ut_func[nfuncs]  |  one per probe; id = index
 *   +------------------+ slots_off
 *   | ut_slot[nslots]  |  per-thread slots, open addressing on the fs base
 *   +------------------+ rstacks_off
 *   | ut_rs_entry[nslots][rstack_depth]   shadow return stacks
 *   +------------------+ rings_off
 *   | ring[nslots][ring_size]             event rings of rec_size records
 *   +------------------+ total_size
 *
 * The tracer must treat everything here as untrusted: the traced program can
 * scribble on it.  The tracee trusts what the tracer wrote before resuming it.
 */
#ifndef UTRACE_SHM_H
#define UTRACE_SHM_H

#include <stdint.h>

#define UT_SHM_MAGIC 0x31306563617274ULL /* "trace01" */
#define UT_SHM_VERSION 5
#define UT_MAX_CODE_AREAS 64

/* ---- event records ---------------------------------------------------- */

enum ut_rec_kind {
	UT_REC_ENTRY = 1,
	UT_REC_EXIT = 2,
	UT_REC_UNWIND = 3, /* entry left without a return (longjmp, exception) */
	UT_REC_EVENT_MAX = UT_REC_UNWIND,
	/* the bytes an entry or exit carries beyond its words (see "data" below) */
	UT_REC_DATA = 4,
	UT_REC_KIND_MAX = UT_REC_DATA,
};

/*
 * A record is 16 bytes, then the words the session asked for.  Every record
 * of an area has its size, ut_ctl.rec_size (a power of two: records never
 * straddle the ring's end, and one abandoned half written can be skipped):
 *
 *   16   tsc, commit
 *   32   --retval: exits add w[0..1] = rax, rdx
 *   64   --args: entries add w[0..5] = rdi rsi rdx rcx r8 r9 (exits rax, rdx
 *        with --retval)
 *
 * `commit` is written last: ut_rec_commit(lap, kind, depth, func), lap =
 * the ring position / ring_size, so that a record left over from an earlier
 * lap of the ring never looks committed (its lap differs in the low bits),
 * and a zeroed ring holds no record (kind 0).
 */
struct ut_rec_hdr {
	uint64_t tsc;
	uint64_t commit;
};
_Static_assert(sizeof(struct ut_rec_hdr) == 16, "record header size");

#define UT_REC_WORDS 6 /* words a record carries at most */
#define UT_REC_MIN 16
#define UT_REC_MAX 64
#define UT_REC_ARGS_SIZE 64
#define UT_REC_RETVAL_SIZE 32
#define UT_REC_RETVAL_WORDS 2

#define UT_REC_KIND_BITS 3
#define UT_REC_LAP_BITS 8
#define UT_REC_DEPTH_BITS 21
#define UT_REC_DEPTH_MAX ((1U << UT_REC_DEPTH_BITS) - 1)
#define UT_REC_LAP_SHIFT UT_REC_KIND_BITS
#define UT_REC_DEPTH_SHIFT (UT_REC_LAP_SHIFT + UT_REC_LAP_BITS)
#define UT_REC_FUNC_SHIFT 32

static inline unsigned int ut_rec_kind(uint64_t commit)
{
	return (unsigned int)(commit & ((1U << UT_REC_KIND_BITS) - 1));
}

/* The low bits of a lap: what a commit word holds of it. */
static inline uint64_t ut_rec_lap_tag(uint64_t lap)
{
	return lap & ((1U << UT_REC_LAP_BITS) - 1);
}

static inline uint64_t ut_rec_lap(uint64_t commit)
{
	return ut_rec_lap_tag(commit >> UT_REC_LAP_SHIFT);
}

static inline uint64_t ut_rec_commit(uint64_t lap, unsigned int kind, uint32_t depth, uint32_t func)
{
	return ((uint64_t)func << UT_REC_FUNC_SHIFT) |
	       ((uint64_t)(depth & UT_REC_DEPTH_MAX) << UT_REC_DEPTH_SHIFT) |
	       (ut_rec_lap_tag(lap) << UT_REC_LAP_SHIFT) | kind;
}

static inline uint32_t ut_rec_depth(uint64_t commit)
{
	return (uint32_t)(commit >> UT_REC_DEPTH_SHIFT) & UT_REC_DEPTH_MAX;
}

static inline uint32_t ut_rec_func(uint64_t commit)
{
	return (uint32_t)(commit >> UT_REC_FUNC_SHIFT);
}

/* The lap of ring position pos: ring_size is a power of two. */
static inline uint64_t ut_rec_lap_of(uint64_t pos, uint64_t ring_size)
{
	return pos >> __builtin_ctzll(ring_size);
}

/* ---- data records --------------------------------------------------------
 *
 * An entry or exit that carries bytes (strings, vector registers, stack
 * arguments, a copy of the stack) is followed in the ring by data records of
 * the same size, reserved with it in one go: data record k (1, 2, ...) has
 * kind UT_REC_DATA, depth k and the event's func in its commit word, and its
 * other rec_size - 8 bytes (the tsc word, then from offset 16 on) are bytes
 * k-1 of a stream of items.  They are committed before the event record,
 * each with its own commit word, so that a record stride still finds every
 * commit and a torn group is skipped record by record.
 *
 * The stream: items back to back, each an 8-byte ut_item then `len` bytes
 * padded to 8; it ends at an item of type UT_ITEM_END or at the group's end.
 */
#define UT_DATA_SEQ_MAX UT_REC_DEPTH_MAX

static inline uint32_t ut_data_payload(uint32_t rec_size)
{
	return rec_size - 8;
}

enum ut_item_type {
	UT_ITEM_END = 0,
	UT_ITEM_STR = 1, /* arg: the argument word (0 rdi .. 5 r9): the string it points to */
	UT_ITEM_XMM = 2, /* arg: registers, each its low 8 bytes: xmm0 .. (exit: xmm0 xmm1) */
	UT_ITEM_STKARGS = 3, /* the arguments passed on the stack: from entry sp + 8 */
	UT_ITEM_STACK = 4, /* struct ut_stack_regs, then the stack's bytes from regs.rsp */
	UT_ITEM_FRAMES = 5, /* written by the tracer, never in a ring (trace-format.md) */
};

/* A string item's status: what stopped the copy before a NUL byte. */
enum ut_str_status {
	UT_STR_CUT = 1 << 0, /* the bound (ut_ctl.str_max) came first */
	UT_STR_FAULT = 1 << 1, /* the byte at `len` could not be read */
	UT_STR_REFUSED = 1 << 2, /* not read: a seccomp filter (no system call made), or refused */
};

struct ut_item {
	uint8_t type; /* enum ut_item_type */
	uint8_t arg;
	uint16_t status; /* enum ut_str_status */
	uint32_t len;
};
_Static_assert(sizeof(struct ut_item) == 8, "ut_item size");

/* The registers a stack copy starts from: what the unwinder needs at a function's entry. */
struct ut_stack_regs {
	uint64_t rip, rsp, rbp, rbx, r12, r13, r14, r15;
};
_Static_assert(sizeof(struct ut_stack_regs) == 64, "ut_stack_regs size");

static inline uint32_t ut_item_size(uint32_t len)
{
	return (uint32_t)sizeof(struct ut_item) + ((len + 7) & ~7U);
}

/* ---- functions ---------------------------------------------------------- */

enum ut_func_flags {
	UT_FUNC_NORET = 1 << 0, /* entry events only: returns twice / not an ABI function */
	UT_FUNC_HIDDEN = 1 << 1, /* utrace's own hook: no event, no return probe */
	/* the unwinder starts walking the stack: put the original return addresses back */
	UT_FUNC_UNHIJACK = 1 << 2,
	/* the walk is over (a catch, a backtrace's end): hijack the frames still live again */
	UT_FUNC_REHIJACK = 1 << 3,
};

/*
 * What a function's events carry beyond their words, tracer-written: the
 * argument words that point to strings, the vector registers of its
 * floating-point arguments, the bytes of its arguments on the stack, a copy
 * of the stack for the unwinder (--stack); and whether it opens the calls
 * recorded under --caller.
 */
#define UT_X_STRS_MASK 0x3fU /* bit n: argument word n is a char * */
#define UT_X_XMM_SHIFT 6 /* 4 bits: xmm registers to copy at entry, 0..8 */
#define UT_X_XMM_MASK 0xfU
#define UT_X_XMM_RET (1U << 10) /* the exit copies xmm0, xmm1 */
#define UT_X_STACK (1U << 11)
#define UT_X_CALLER (1U << 12)
#define UT_X_STKARGS_SHIFT 16 /* 8 bits: 8-byte words of stack arguments to copy */
#define UT_X_STKARGS_MASK 0xffU
/* bytes of stack arguments copied at most: the first words of a struct passed in memory */
#define UT_STKARGS_MAX 128U

static inline uint32_t ut_x_nxmm(uint32_t x)
{
	uint32_t n = (x >> UT_X_XMM_SHIFT) & UT_X_XMM_MASK;

	return n > 8 ? 8 : n;
}

static inline uint32_t ut_x_stkargs(uint32_t x)
{
	return ((x >> UT_X_STKARGS_SHIFT) & UT_X_STKARGS_MASK) * 8;
}

struct ut_func {
	uint64_t addr; /* patch point: the address regs->ip reports */
	uint32_t flags; /* enum ut_func_flags, tracer-written */
	uint32_t extras; /* UT_X_*, tracer-written */
	uint64_t drops; /* events of this function dropped on a full ring (tracee) */
	/* entries not recorded while a thread without TLS lived (ut_ctl.notls_threads) */
	uint64_t notls;
};
_Static_assert(sizeof(struct ut_func) == 32, "ut_func size");

/* ---- thread slots ------------------------------------------------------- */

#define UT_SLOT_FREE 0ULL /* never used: ends a probe sequence */
#define UT_SLOT_DEAD 1ULL /* freed: probing continues past it */
/*
 * The early slot (ut_ctl.early_slot) of a thread made before its TLS (fs base
 * 0: a static binary early in start-up), until the thread claims it with
 * its fs base.  Probing continues past it.
 */
#define UT_SLOT_EARLY 2ULL

/*
 * Another thread shares this slot's key: it was cloned without CLONE_SETTLS
 * and runs on our TCB until it sets its own fs base (the tracer watches for
 * that).  Entries take this slot only on its own stack, or not at all when
 * the other thread's stack lies within it; returns always do (only this
 * thread hijacked them).
 */
enum ut_slot_flags {
	UT_SLOT_BY_STACK = 1 << 0,
	UT_SLOT_NO_ENTRY = 1 << 1,
};

/*
 * Slot i owns shadow stack i and ring i.  The key (the thread's fs base) and
 * the bounds are written only by the tracer while the thread is stopped; the
 * recorder finds its slot by hashing the fs base.  `head` and `tail` live on
 * separate cache lines: head is the producer's, tail the consumer's.
 */
struct ut_slot {
	uint64_t key; /* fs base, or UT_SLOT_FREE / UT_SLOT_DEAD */
	uint32_t tid; /* tracer-written, for the consumer */
	uint32_t pid;
	uint64_t stack_lo; /* bounds of the thread's own stack; 0,0 = unknown */
	uint64_t stack_hi;
	uint64_t rs_top; /* shadow stack: number of live entries (tracee) */
	uint64_t rs_overflow; /* entries that got no return probe: stack full */
	uint64_t drops; /* records dropped on a full ring (tracee) */
	uint64_t flags; /* enum ut_slot_flags, tracer-written */
	uint64_t head; /* ring bytes reserved by the producer, monotonic */
	/* waits for room in a full ring (tracee): count, TSC ticks in all */
	uint64_t waits;
	uint64_t wait_ticks;
	/* tail + 1 when a wait for it timed out: no more waits until it moves */
	uint64_t gave_up;
	/* recorders asleep on tail's low 32 bits (a futex): the tracer wakes them */
	uint64_t sleepers;
	uint64_t pad1[3];
	uint64_t tail; /* ring bytes consumed by the tracer, monotonic */
	/*
	 * The tracer cannot pass the record at the tail (reserved, never
	 * committed, later ones committed; or a scribbled head): its heartbeat
	 * says nothing about this ring, a wait here times out regardless.
	 */
	uint64_t stalled;
	uint64_t pad2[6];
};
_Static_assert(sizeof(struct ut_slot) == 192, "ut_slot size");

/* ---- shadow return stack ---------------------------------------------- */

enum ut_rs_flags {
	UT_RS_VALID = 1 << 0, /* fully written: ret/slot may be trusted */
	UT_RS_CHAINED = 1 << 1, /* tail-called into: shares the slot of the entry below */
	UT_RS_UNHIJACKED = 1 << 2, /* its slot holds `ret` again while the unwinder walks */
	/* returned on another thread (a migrated fiber), which reported the exit */
	UT_RS_CLAIMED = 1 << 3,
	/* inside a call of a UT_X_CALLER function (--caller): its callees are recorded */
	UT_RS_INSIDE = 1 << 4,
};

struct ut_rs_entry {
	uint64_t ret; /* original return address (0 for a chained entry) */
	uint64_t slot; /* stack address of the hijacked return address */
	uint32_t func;
	uint32_t flags;
	uint64_t depth; /* its entry event's depth: kept when entries below it go */
};
_Static_assert(sizeof(struct ut_rs_entry) == 32, "ut_rs_entry size");

/* ---- control block ------------------------------------------------------ */

/*
 * Readable mappings that stay mapped as long as the process runs (the
 * program's own file, and at a program's entry point the libraries it was
 * linked with, which are never unloaded): the recorder copies a string that
 * lies in one with plain loads instead of a system call.
 */
#define UT_MAX_STABLE 32

struct ut_range {
	uint64_t lo, hi;
};

struct ut_ctl {
	uint64_t magic;
	uint32_t version;
	uint32_t disabled; /* set at detach: blocks new entries; returns still pop */
	uint32_t nfuncs;
	uint32_t nslots; /* power of two */
	uint32_t ring_size; /* bytes per thread: power of two, at least rec_size */
	uint32_t rstack_depth;
	uint32_t use_rdfsbase; /* HWCAP2_FSGSBASE: read the fs base without touching %fs:0 */
	uint32_t nret_tramps;
	uint64_t funcs_off;
	uint64_t slots_off;
	uint64_t rstacks_off;
	uint64_t rings_off;
	uint64_t total_size;
	/* every code area's return trampoline: a return address equal to one of
	 * these is already hijacked (chained entries) */
	uint64_t ret_tramps[UT_MAX_CODE_AREAS];
	/* counters written by the tracee */
	uint64_t no_slot; /* events from threads with no slot (table full / fs base 0) */
	uint64_t lost_return; /* returns with no matching shadow entry */
	/* slot index + 1 of the thread that had no TLS when its slot was made
	 * (key UT_SLOT_EARLY until it claims it), 0: none */
	uint32_t early_slot;
	/*
	 * Without rdfsbase, threads with no TLS yet (fs base 0, where %fs:0
	 * faults) that the tracer knows of (tracer-written, while they are
	 * stopped).  While there is one, entries read no fs base at all: they
	 * are counted per function (ut_func.notls) and not recorded.  A
	 * process is single-threaded before its TLS exists, so this only
	 * pauses tracing for the start-up of a static program.
	 */
	uint32_t notls_threads;
	/* the process runs under a seccomp filter, which may refuse a futex: spin only */
	uint32_t no_sleep;
	/*
	 * A recorder that finds its ring full waits for the tracer to drain
	 * it: spinning for spin_ticks, then asleep on the tail, until the
	 * tracer did nothing (heartbeat) for block_ticks (TSC ticks); then it
	 * drops and counts.  0: never wait (--lossy, and from detach on).
	 */
	uint64_t block_ticks;
	uint64_t spin_ticks;
	/* bytes per record: UT_REC_MIN, UT_REC_RETVAL_SIZE or UT_REC_ARGS_SIZE */
	uint32_t rec_size;
	uint32_t rec_args; /* entries carry their argument words */
	uint32_t rec_retval; /* exits carry rax, rdx */
	uint32_t str_max; /* bytes of a string an entry copies at most */
	uint32_t stack_bytes; /* bytes of stack a UT_X_STACK entry copies at most */
	/* --caller: only calls inside a call of a UT_X_CALLER function are recorded */
	uint32_t caller_only;
	uint32_t nstable; /* entries of stable[] in use */
	struct ut_range stable[UT_MAX_STABLE];
	/*
	 * Bumped by the tracer as it drains and formats (every ring, every
	 * batch of events): a wait times out only once this stood still for
	 * block_ticks, not while a live tracer works through its backlog.
	 * A cache line of its own: every recorder reads the fields above.
	 */
	uint64_t heartbeat __attribute__((aligned(64)));
	uint64_t pad_beat[7];
};

static inline struct ut_func *ut_ctl_funcs(struct ut_ctl *c)
{
	return (struct ut_func *)((char *)c + c->funcs_off);
}

static inline struct ut_slot *ut_ctl_slots(struct ut_ctl *c)
{
	return (struct ut_slot *)((char *)c + c->slots_off);
}

static inline struct ut_rs_entry *ut_ctl_rstack(struct ut_ctl *c, uint32_t slot)
{
	return (struct ut_rs_entry *)((char *)c + c->rstacks_off) +
	       (uint64_t)slot * c->rstack_depth;
}

static inline unsigned char *ut_ctl_ring(struct ut_ctl *c, uint32_t slot)
{
	return (unsigned char *)c + c->rings_off + (uint64_t)slot * c->ring_size;
}

/* Hash of an fs base to a first slot index; TCBs are at least 64-byte aligned. */
static inline uint32_t ut_slot_hash(uint64_t key, uint32_t nslots)
{
	return (uint32_t)(((key >> 6) * 0x9E3779B97F4A7C15ULL) >> 32) & (nslots - 1);
}

/* ---- code area ---------------------------------------------------------- */

/*
 * A code area, mapped PROT_READ|PROT_EXEC within +-2 GiB of the module it
 * serves: a copy of the blob, then one UT_STUB_SIZE stub per probe.
 *
 *   +------------------+ 0
 *   | blob             |  ut_blob_hdr, trampolines, recorder, ut_blob_params
 *   +------------------+ stubs (page aligned)
 *   | stub[0] ...      |  call entry_trampoline; displaced insns; jmp back
 *   +------------------+ sites (page aligned)
 *   | ut_site[mask+1]  |  compiler-made entry sites patched with a call
 *   +------------------+
 *
 * The stub of probe `id` is stubs + (id - first_id) * UT_STUB_SIZE; the entry
 * trampoline derives the id from its own return address, without a search.
 * The call to it is within the first UT_STUB_HEAD bytes of the stub (a stub
 * entered by a `call` first drops that call's return address).
 *
 * A compiler-made site (-fpatchable-function-entry, -mfentry) is patched
 * with a call straight into the entry trampoline: its return address is the
 * site + 5, found in the open-addressed table `sites` (hash of the address,
 * linear probing, an empty entry has ret == 0) in a probe or two.
 */
#define UT_STUB_SIZE 64
#define UT_STUB_HEAD 8

struct ut_site {
	uint64_t ret; /* the site + its call's size: the entry trampoline's return address */
	uint32_t id;
	uint32_t pad;
};
_Static_assert(sizeof(struct ut_site) == 16, "ut_site size");

/* Hash of a site's return address to a first table index. */
static inline uint32_t ut_site_hash(uint64_t ret, uint32_t mask)
{
	return (uint32_t)((ret * 0x9E3779B97F4A7C15ULL) >> 32) & mask;
}
#define UT_BLOB_MAGIC 0x626f6c6263617275ULL /* "urcblob" */

struct ut_blob_hdr {
	uint64_t magic;
	uint32_t size; /* bytes of the blob image */
	uint32_t entry_tramp; /* offsets from the blob start */
	uint32_t return_tramp;
	uint32_t params; /* struct ut_blob_params, filled in by the tracer */
	uint32_t entry_exit; /* the entry trampoline's final `ret` */
	uint32_t return_exit; /* the return trampoline's final `jmp *-8(%rsp)` */
	uint32_t lost_return; /* an int3 reached when a return has no shadow entry */
	uint32_t syscall_gadget; /* `syscall; int3`, for the tracer's remote syscalls */
	uint32_t text_end; /* [0, text_end) is trampoline and recorder code */
	uint32_t pad;
};

struct ut_blob_params {
	uint64_t data; /* tracee address of the data area (struct ut_ctl) */
	uint64_t stubs; /* tracee address of this area's first stub */
	uint32_t first_id; /* probe id of stub 0 */
	uint32_t nstubs;
	uint64_t sites; /* tracee address of struct ut_site[site_mask + 1]; 0: none */
	uint32_t site_mask; /* entries - 1, a power of two minus one */
	uint32_t pad;
};

#endif
