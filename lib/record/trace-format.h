/* SPDX-License-Identifier: MIT */
/*
 * The bytes of a trace directory (docs/trace-format.md), shared by its
 * writer and its reader and by nothing else.
 *
 * events: a 16-byte header, then chunks.  A chunk is the events of one
 * thread drained in one go: a 16-byte header naming the thread, then its
 * records back to back.  A record is 16 bytes, then `nw` 8-byte words, then
 * with has_data a u32 length, a u32 0 and that many bytes of items padded
 * to 8 (items.h):
 *
 *   u64 ts      CLOCK_MONOTONIC ns
 *   u32 func    index in the function table (funcs)
 *   u32 bits    kind (2 bits: 1 entry, 2 exit, 3 unwind) | has_dur << 2
 *               | nw << 3 (3 bits) | has_data << 6 | depth << 7 (25 bits)
 *               (before version 3: no has_data, depth << 6, 26 bits)
 *
 * All integers are little-endian, as x86-64 writes them.
 */
#ifndef UTRACE_TRACE_FORMAT_H
#define UTRACE_TRACE_FORMAT_H

#include <stdint.h>

#define TF_EVENTS "events"
#define TF_INFO "info"
#define TF_FUNCS "funcs"
#define TF_TASKS "tasks"
#define TF_STATS "stats"

#define TF_MAGIC "UTRACEEV" /* 8 bytes, no NUL */
#define TF_CHUNK_MAGIC 0x4b434855U /* "UHCK" */
/* A chunk's records take at most this many bytes (a reader refuses more). */
#define TF_CHUNK_MAX (1U << 20)

struct tf_file_hdr {
	char magic[8];
	uint32_t version;
	uint32_t hdr_size;
};

struct tf_chunk_hdr {
	uint32_t magic;
	int32_t pid, tid;
	uint32_t len; /* bytes of records that follow */
};

struct tf_rec {
	uint64_t ts;
	uint32_t func;
	uint32_t bits;
};

#define TF_KIND_MASK 0x3U
#define TF_HAS_DUR (1U << 2)
#define TF_NW_SHIFT 3
#define TF_NW_MASK 0x7U
#define TF_HAS_DATA (1U << 6)
#define TF_DEPTH_SHIFT 7
#define TF_DEPTH_MAX ((1U << 25) - 1)
#define TF_V2_DEPTH_SHIFT 6
/* Bytes of items one record may carry. */
#define TF_DATA_MAX (256U * 1024)

#endif
