/* SPDX-License-Identifier: MIT */
/*
 * Functions' prototypes from DWARF (libdw): each parameter's name, type and
 * where the x86-64 System V calling convention puts it, so that the
 * argument words an entry records (rdi rsi rdx rcx r8 r9) and the return words
 * an exit records (rax rdx) can be shown typed.  The debug information is
 * the file's own, or a separate file found by its build-id
 * (/usr/lib/debug/.build-id/...) or .gnu_debuglink, as libdwfl finds them.
 *
 * A prototype is one string (docs/trace-format.md, "funcs"): entries
 * separated by ';', the return value first, then each parameter, each
 * "KIND,SIZE,WORD,NAME,TYPE":
 *   KIND  i signed integer, u unsigned, x shown in hex, b bool, c char, e enum, p pointer,
 *         s pointer to char, f floating point, S struct or union in integer
 *         registers, m passed in memory or vector registers, v void
 *   SIZE  bytes of the value
 *   WORD  the index of its first word among those recorded (entry: 0 rdi ..
 *         5 r9; exit: 0 rax, 1 rdx), -1 when it is in none of them
 *   TYPE  its C type as declared; an enum's continues with "=NAME:VALUE:..."
 */
#ifndef UTRACE_PROTOS_H
#define UTRACE_PROTOS_H

#include <stdint.h>

struct ut_protos;

/*
 * The debug information of the ELF file at path: NULL when it has none (not
 * an error).  Separate debug files are looked for by build-id and
 * .gnu_debuglink under debug_dir (NULL: /usr/lib/debug), and beside the file.
 */
struct ut_protos *utrace_protos_open(const char *path, const char *debug_dir);
void utrace_protos_close(struct ut_protos *p);
/* The prototype (malloc'd) of the function at link-time address addr, or NULL. */
char *utrace_proto_at(struct ut_protos *p, uint64_t addr);
/* Where that function is defined, "file.c:LINE" (malloc'd), or NULL. */
char *utrace_srcline_at(struct ut_protos *p, uint64_t addr);

#endif
