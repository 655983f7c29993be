/* SPDX-License-Identifier: MIT */
/*
 * Constants shared by trampoline.S and the C side of the blob.  The image
 * header (struct ut_blob_hdr in utrace/shm.h) is emitted by trampoline.S;
 * C includers get the assembly's view checked against the C structs.
 */
#ifndef UTRACE_BLOB_H
#define UTRACE_BLOB_H

#define BLOB_MAGIC 0x626f6c6263617275 /* UT_BLOB_MAGIC */
#define BLOB_HDR_SIZE 48 /* struct ut_blob_hdr */
#define BLOB_PARAMS_SIZE 40 /* struct ut_blob_params */
#define BLOB_CALL_INSN_SIZE 5 /* call rel32: what a stub starts with */

#ifndef __ASSEMBLER__
#include <stddef.h>
#include "utrace/shm.h"

_Static_assert(BLOB_MAGIC == UT_BLOB_MAGIC, "blob.h: magic");
_Static_assert(sizeof(struct ut_blob_hdr) == BLOB_HDR_SIZE, "blob.h: header size");
_Static_assert(sizeof(struct ut_blob_params) == BLOB_PARAMS_SIZE, "blob.h: params size");
/* trampoline.S emits the header as one quad, then 32-bit fields in this order */
_Static_assert(offsetof(struct ut_blob_hdr, size) == 8 &&
		       offsetof(struct ut_blob_hdr, entry_tramp) == 12 &&
		       offsetof(struct ut_blob_hdr, return_tramp) == 16 &&
		       offsetof(struct ut_blob_hdr, params) == 20 &&
		       offsetof(struct ut_blob_hdr, entry_exit) == 24 &&
		       offsetof(struct ut_blob_hdr, return_exit) == 28 &&
		       offsetof(struct ut_blob_hdr, lost_return) == 32 &&
		       offsetof(struct ut_blob_hdr, syscall_gadget) == 36 &&
		       offsetof(struct ut_blob_hdr, text_end) == 40,
	       "blob.h: header field order");
#endif

#endif
