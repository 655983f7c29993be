// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/elf/symtab.c: this test binary itself, the system libc, and
 * small ELF files written by the tests (exact symbol tables, bad headers).
 */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "maps.h"
#include "symtab.h"

#define LIBC_PATH "/lib/x86_64-linux-gnu/libc.so.6"
#define BUILD_ID_HEX_LEN 40

/*
 * A function of known size (4 bytes) with a local label after its first
 * instruction, i.e. a second entry point:
 *   90       nop
 *   31 c0    xor %eax,%eax       <- symtab_asm_inner
 *   c3       ret
 */
__asm__(".pushsection .text\n"
	".globl symtab_asm_func\n"
	".type symtab_asm_func, @function\n"
	"symtab_asm_func:\n"
	"\tnop\n"
	"symtab_asm_inner:\n"
	"\txorl %eax, %eax\n"
	"\tret\n"
	".size symtab_asm_func, . - symtab_asm_func\n"
	".popsection\n");
int symtab_asm_func(void);
static const unsigned char asm_func_bytes[] = { 0x90, 0x31, 0xc0, 0xc3 };

/* One function with three more names: global, underscored global and weak. */
int symtab_test_add(int a, int b);
int symtab_test_add_alias(int a, int b);
int __symtab_test_add(int a, int b);
int sta_weak(int a, int b);

__attribute__((noinline)) int symtab_test_add(int a, int b)
{
	return a * 3 + b;
}
int symtab_test_add_alias(int a, int b) __attribute__((alias("symtab_test_add")));
int __symtab_test_add(int a, int b) __attribute__((alias("symtab_test_add")));
int sta_weak(int a, int b) __attribute__((weak, alias("symtab_test_add")));

static __attribute__((noinline, used)) long symtab_test_local(long x)
{
	return x * 7 - 5;
}

static char tmpdir[] = "/tmp/utrace-symtab-XXXXXX";

static int make_tmpdir(void **state)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int remove_tmpdir(void **state)
{
	char cmd[sizeof(tmpdir) + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static const char *write_tmp(const char *name, const void *data, size_t len)
{
	static char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	return path;
}

static void load_ok(const char *path, struct ut_symtab *st)
{
	int err = utrace_symtab_load(path, st);

	if (err)
		fail_msg("%s: %d %s", path, err, utrace_error_last());
}

static size_t count_aliases(const struct ut_sym *s)
{
	size_t n = 0;

	while (s->aliases && s->aliases[n])
		n++;
	return n;
}

/* Link-time minus run-time address of this executable, from its maps. */
static uint64_t self_bias(const struct ut_symtab *st)
{
	struct ut_maps maps;
	struct ut_modules mods;
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	uint64_t bias = 0;
	bool found = false;

	assert_true(n > 0);
	exe[n] = '\0';
	assert_int_equal(utrace_maps_read(getpid(), &maps), 0);
	assert_int_equal(utrace_modules_from_maps(&maps, exe, &mods), 0);
	for (size_t i = 0; i < mods.n; i++) {
		if (mods.v[i].is_main) {
			bias = utrace_symtab_bias(st, mods.v[i].first_start,
						  mods.v[i].first_offset);
			found = true;
		}
	}
	utrace_modules_free(&mods);
	utrace_maps_free(&maps);
	assert_true(found);
	return bias;
}

static void symtab_self_aliases_and_preferred_name(void **state)
{
	struct ut_symtab st;
	const struct ut_sym *s;
	uint64_t bias, addr;

	load_ok("/proc/self/exe", &st);
	assert_true(st.from_symtab);
	bias = self_bias(&st);
	assert_int_equal(st.entry + bias, getauxval(AT_ENTRY));

	addr = (uint64_t)(uintptr_t)symtab_test_add - bias;
	s = utrace_symtab_lookup(&st, addr);
	assert_non_null(s);
	assert_int_equal(s->addr, addr);
	assert_true(s->size > 0);
	assert_true(s->global);
	/* The public name: exported, no leading underscores, global over weak, shortest. */
	assert_string_equal(s->name, "symtab_test_add");
	assert_int_equal(count_aliases(s), 3);
	assert_string_equal(s->aliases[0], "symtab_test_add_alias");
	assert_string_equal(s->aliases[1], "sta_weak");
	assert_string_equal(s->aliases[2], "__symtab_test_add");
	assert_ptr_equal(utrace_symtab_lookup(&st, addr + s->size - 1), s);

	s = utrace_symtab_lookup(&st, (uint64_t)(uintptr_t)symtab_test_local - bias);
	assert_non_null(s);
	assert_string_equal(s->name, "symtab_test_local");
	assert_false(s->global);
	assert_null(s->aliases);
	utrace_symtab_free(&st);
	assert_int_equal(symtab_test_add(1, 2) + symtab_test_local(1), 5 + 2);
}

static void symtab_self_sizes_starts_and_bytes(void **state)
{
	struct ut_symtab st;
	const struct ut_sym *s;
	unsigned char buf[sizeof(asm_func_bytes)];
	uint64_t addr;

	load_ok("/proc/self/exe", &st);
	addr = (uint64_t)(uintptr_t)symtab_asm_func - self_bias(&st);
	s = utrace_symtab_lookup(&st, addr + 2);
	assert_non_null(s);
	assert_string_equal(s->name, "symtab_asm_func");
	assert_int_equal(s->addr, addr);
	assert_int_equal(s->size, sizeof(asm_func_bytes));
	assert_null(s->aliases);

	/* symtab_asm_inner (a local label, no type) starts at addr + 1. */
	assert_true(utrace_symtab_starts_within(&st, addr, addr + 2));
	assert_false(utrace_symtab_starts_within(&st, addr + 1, addr + 4));
	assert_false(utrace_symtab_starts_within(&st, addr, addr + 1));

	assert_int_equal(utrace_symtab_read(&st, addr, buf, sizeof(buf)), sizeof(buf));
	assert_memory_equal(buf, asm_func_bytes, sizeof(buf));
	assert_memory_equal((const void *)symtab_asm_func, asm_func_bytes, sizeof(buf));
	assert_int_equal(symtab_asm_func(), 0);

	assert_int_equal(strlen(st.build_id), BUILD_ID_HEX_LEN);
	utrace_symtab_free(&st);
}

static bool is_hex(const char *s)
{
	return s[strspn(s, "0123456789abcdef")] == '\0';
}

static void symtab_libc_dynsym(void **state)
{
	struct ut_symtab st;
	const struct ut_sym *malloc_sym = NULL;

	load_ok(LIBC_PATH, &st);
	assert_true(st.is_dyn);
	assert_int_equal(strlen(st.build_id), BUILD_ID_HEX_LEN);
	assert_true(is_hex(st.build_id));
	assert_true(st.nloads >= 2);
	for (size_t i = 0; i < st.n; i++) {
		/* One entry per address, sorted. */
		if (i)
			assert_true(st.syms[i - 1].addr < st.syms[i].addr);
		if (!strcmp(st.syms[i].name, "malloc"))
			malloc_sym = &st.syms[i];
	}
	assert_non_null(malloc_sym);
	assert_true(malloc_sym->global);
	assert_int_equal(count_aliases(malloc_sym), 1);
	assert_string_equal(malloc_sym->aliases[0], "__libc_malloc");
	assert_ptr_equal(utrace_symtab_lookup(&st, malloc_sym->addr), malloc_sym);
	utrace_symtab_free(&st);
	assert_null(st.syms);
}

static void symtab_bias_exec_and_dyn(void **state)
{
	struct ut_load loads[] = {
		{ .vaddr = 0, .offset = 0, .filesz = 0x628 },
		{ .vaddr = 0x1000, .offset = 0x1000, .filesz = 0x1a5 },
		{ .vaddr = 0x2000, .offset = 0x2000, .filesz = 0xf4 },
		/* Data: vaddr - offset = 0x1000, as ld lays out RELRO; two pages long. */
		{ .vaddr = 0x4db8, .offset = 0x3db8, .filesz = 0x1258 },
	};
	struct ut_load prelinked[] = {
		{ .vaddr = 0x3000000, .offset = 0, .filesz = 0x1000 },
	};
	struct ut_symtab st = { .is_dyn = true, .loads = loads, .nloads = 4 };

	assert_int_equal(utrace_symtab_bias(&st, 0x555555554000ULL, 0), 0x555555554000ULL);
	assert_int_equal(utrace_symtab_bias(&st, 0x555555555000ULL, 0x1000), 0x555555554000ULL);
	/* The data segment's first page (0x3000 at 0x4000) and second one (split by RELRO). */
	assert_int_equal(utrace_symtab_bias(&st, 0x555555558000ULL, 0x3000), 0x555555554000ULL);
	assert_int_equal(utrace_symtab_bias(&st, 0x555555559000ULL, 0x4000), 0x555555554000ULL);
	st.loads = prelinked;
	st.nloads = 1;
	assert_int_equal(utrace_symtab_bias(&st, 0x7f0000000000ULL, 0), 0x7efffd000000ULL);
	st.is_dyn = false;
	assert_int_equal(utrace_symtab_bias(&st, 0x400000, 0), 0);
}

/* --- ELF files written by the tests --------------------------------------- */

struct test_sym {
	const char *name;
	uint64_t value, size;
	unsigned char bind, type;
	uint16_t shndx;
};

/*
 * File layout (one PT_LOAD maps the first TEXT_END bytes at vaddr == offset):
 *   0x0000 Elf64_Ehdr, Elf64_Phdr[2] (PT_LOAD, PT_NOTE)
 *   0x0100 build-id note
 *   0x1000 .text, TEXT_SIZE bytes 0x00, 0x01, ...
 *   0x1100 .strtab, .symtab/.dynsym, .shstrtab, section headers
 */
#define NOTE_OFF 0x100
#define TEXT_OFF 0x1000
#define TEXT_SIZE 0x100
#define TEXT_END (TEXT_OFF + TEXT_SIZE)
#define TEXT_SHNDX 1
#define BUILD_ID_LEN 20
#define ELF_BUF_SIZE 0x2000
/* Offsets of the section names in shstrtab below. */
enum { NAME_TEXT = 1, NAME_SYMTAB = 7, NAME_STRTAB = 15, NAME_DYNSYM = 23, NAME_SHSTRTAB = 31 };
static const char shstrtab[] = "\0.text\0.symtab\0.strtab\0.dynsym\0.shstrtab";
#define EXPECTED_BUILD_ID "000102030405060708090a0b0c0d0e0f10111213"

struct elf_buf {
	unsigned char b[ELF_BUF_SIZE] __attribute__((aligned(8))); /* starts with an Elf64_Ehdr */
	size_t len;
};

static size_t put(struct elf_buf *e, const void *data, size_t len, size_t align)
{
	size_t off = (e->len + align - 1) & ~(align - 1);

	assert_true(off + len <= sizeof(e->b));
	memcpy(e->b + off, data, len);
	e->len = off + len;
	return off;
}

static void put_headers(struct elf_buf *e)
{
	Elf64_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS64, ELFDATA2LSB,
			     EV_CURRENT },
		.e_type = ET_DYN,
		.e_machine = EM_X86_64,
		.e_version = EV_CURRENT,
		.e_entry = TEXT_OFF,
		.e_phoff = sizeof(Elf64_Ehdr),
		.e_ehsize = sizeof(Elf64_Ehdr),
		.e_phentsize = sizeof(Elf64_Phdr),
		.e_phnum = 2,
		.e_shentsize = sizeof(Elf64_Shdr),
	};
	Elf64_Phdr ph[2] = {
		{ .p_type = PT_LOAD,
		  .p_flags = PF_R | PF_X,
		  .p_filesz = TEXT_END,
		  .p_memsz = TEXT_END,
		  .p_align = 0x1000 },
		{ .p_type = PT_NOTE,
		  .p_flags = PF_R,
		  .p_offset = NOTE_OFF,
		  .p_vaddr = NOTE_OFF,
		  .p_filesz = sizeof(Elf64_Nhdr) + 4 + BUILD_ID_LEN,
		  .p_memsz = sizeof(Elf64_Nhdr) + 4 + BUILD_ID_LEN,
		  .p_align = 4 },
	};
	Elf64_Nhdr nh = { .n_namesz = 4, .n_descsz = BUILD_ID_LEN, .n_type = NT_GNU_BUILD_ID };
	unsigned char id[BUILD_ID_LEN];

	memset(e, 0, sizeof(*e));
	put(e, &eh, sizeof(eh), 1);
	put(e, ph, sizeof(ph), 1);
	e->len = NOTE_OFF;
	put(e, &nh, sizeof(nh), 4);
	put(e, "GNU", 4, 1);
	for (size_t i = 0; i < sizeof(id); i++)
		id[i] = i;
	put(e, id, sizeof(id), 1);
	e->len = TEXT_OFF;
	for (size_t i = 0; i < TEXT_SIZE; i++)
		e->b[e->len++] = i;
}

static Elf64_Shdr section(uint32_t name, uint32_t type, uint64_t off, uint64_t size)
{
	return (Elf64_Shdr){ .sh_name = name,
			     .sh_type = type,
			     .sh_offset = off,
			     .sh_size = size,
			     .sh_addralign = 1 };
}

/* The symbol table (of type table_type) and its string table. */
static void put_symbols(struct elf_buf *e, const struct test_sym *syms, size_t n,
			uint32_t table_type, Elf64_Shdr *sh)
{
	Elf64_Sym table[32] = { { 0 } };
	size_t str_off = put(e, "", 1, 1), table_off;

	assert_true(n < 32);
	for (size_t i = 0; i < n; i++) {
		table[i + 1] = (Elf64_Sym){
			.st_name = put(e, syms[i].name, strlen(syms[i].name) + 1, 1) - str_off,
			.st_info = ELF64_ST_INFO(syms[i].bind, syms[i].type),
			.st_shndx = syms[i].shndx,
			.st_value = syms[i].value,
			.st_size = syms[i].size,
		};
	}
	sh[3] = section(NAME_STRTAB, SHT_STRTAB, str_off, e->len - str_off);
	table_off = put(e, table, (n + 1) * sizeof(Elf64_Sym), 8);
	sh[2] = section(table_type == SHT_SYMTAB ? NAME_SYMTAB : NAME_DYNSYM, table_type, table_off,
			(n + 1) * sizeof(Elf64_Sym));
	sh[2].sh_link = 3;
	sh[2].sh_info = 1;
	sh[2].sh_entsize = sizeof(Elf64_Sym);
	sh[2].sh_addralign = 8;
}

/* A complete ELF64 x86_64 shared object; no section headers when n == 0. */
static void build_elf(struct elf_buf *e, const struct test_sym *syms, size_t n, uint32_t table_type)
{
	Elf64_Shdr sh[5] = { { 0 } };
	Elf64_Ehdr *eh = (Elf64_Ehdr *)e->b;
	size_t off;

	put_headers(e);
	if (!n)
		return;
	sh[1] = section(NAME_TEXT, SHT_PROGBITS, TEXT_OFF, TEXT_SIZE);
	sh[1].sh_addr = TEXT_OFF;
	sh[1].sh_flags = SHF_ALLOC | SHF_EXECINSTR;
	put_symbols(e, syms, n, table_type, sh);
	off = put(e, shstrtab, sizeof(shstrtab), 1);
	sh[4] = section(NAME_SHSTRTAB, SHT_STRTAB, off, sizeof(shstrtab));
	off = put(e, sh, sizeof(sh), 8);
	eh = (Elf64_Ehdr *)e->b;
	eh->e_shoff = off;
	eh->e_shnum = 5;
	eh->e_shstrndx = 4;
}

#define FN(n, v, s, b)                                 \
	{                                              \
		n, v, s, STB_##b, STT_FUNC, TEXT_SHNDX \
	}

static const struct test_sym crafted_syms[] = {
	/* 0x1000: same rank, no underscores, same length: alphabetical. */
	FN("beta", 0x1000, 0x10, GLOBAL),
	FN("alfa", 0x1000, 0x10, GLOBAL),
	/* 0x1010: global over weak over local, whatever the lengths. */
	FN("w", 0x1010, 0x10, WEAK),
	FN("l", 0x1010, 0x10, LOCAL),
	FN("global_name", 0x1010, 0x10, GLOBAL),
	/* 0x1020: no leading underscore beats shorter. */
	FN("__impl", 0x1020, 0x10, GLOBAL),
	FN("impl_long_name", 0x1020, 0x10, GLOBAL),
	/* 0x1030: versions are not part of the name; one name left. */
	FN("memcpy@@V2", 0x1030, 0x10, GLOBAL),
	FN("memcpy@V1", 0x1030, 0x10, LOCAL),
	{ "ifn", 0x1040, 8, STB_GLOBAL, STT_GNU_IFUNC, TEXT_SHNDX },
	/* Not functions: no size, undefined, object, label, TLS, file. */
	FN("zero_size", 0x1050, 0, GLOBAL),
	{ "undef", 0, 0x10, STB_GLOBAL, STT_FUNC, SHN_UNDEF },
	{ "obj", 0x1058, 8, STB_GLOBAL, STT_OBJECT, TEXT_SHNDX },
	{ "label", 0x1060, 0, STB_LOCAL, STT_NOTYPE, TEXT_SHNDX },
	{ "tls", 0x1044, 8, STB_GLOBAL, STT_TLS, TEXT_SHNDX },
	{ "file.c", 0x1046, 0, STB_LOCAL, STT_FILE, SHN_ABS },
	FN("local_only", 0x1080, 4, LOCAL),
};

#define NCRAFTED (sizeof(crafted_syms) / sizeof(crafted_syms[0]))

static void check_crafted(const struct ut_symtab *st)
{
	assert_true(st->is_dyn);
	assert_int_equal(st->entry, TEXT_OFF);
	assert_string_equal(st->build_id, EXPECTED_BUILD_ID);
	assert_int_equal(st->nloads, 1);
	assert_int_equal(st->loads[0].filesz, TEXT_END);
	assert_int_equal(st->n, 6);

	assert_int_equal(st->syms[0].addr, 0x1000);
	assert_string_equal(st->syms[0].name, "alfa");
	assert_int_equal(count_aliases(&st->syms[0]), 1);
	assert_string_equal(st->syms[0].aliases[0], "beta");

	assert_string_equal(st->syms[1].name, "global_name");
	assert_int_equal(count_aliases(&st->syms[1]), 2);
	assert_string_equal(st->syms[1].aliases[0], "w");
	assert_string_equal(st->syms[1].aliases[1], "l");

	assert_string_equal(st->syms[2].name, "impl_long_name");
	assert_int_equal(count_aliases(&st->syms[2]), 1);
	assert_string_equal(st->syms[2].aliases[0], "__impl");

	assert_string_equal(st->syms[3].name, "memcpy");
	assert_null(st->syms[3].aliases);

	assert_string_equal(st->syms[4].name, "ifn");
	assert_int_equal(st->syms[4].addr, 0x1040);
	assert_int_equal(st->syms[4].size, 8);
	assert_true(st->syms[4].global);

	assert_string_equal(st->syms[5].name, "local_only");
	assert_false(st->syms[5].global);
}

static void symtab_crafted_symtab(void **state)
{
	struct elf_buf e;
	struct ut_symtab st;

	build_elf(&e, crafted_syms, NCRAFTED, SHT_SYMTAB);
	load_ok(write_tmp("symtab.so", e.b, e.len), &st);
	assert_true(st.from_symtab);
	check_crafted(&st);
	utrace_symtab_free(&st);
}

static void symtab_crafted_dynsym_only(void **state)
{
	struct elf_buf e;
	struct ut_symtab st;

	build_elf(&e, crafted_syms, NCRAFTED, SHT_DYNSYM);
	load_ok(write_tmp("dynsym.so", e.b, e.len), &st);
	assert_false(st.from_symtab);
	check_crafted(&st);
	utrace_symtab_free(&st);
}

static void symtab_crafted_lookup_and_starts(void **state)
{
	struct elf_buf e;
	struct ut_symtab st;

	build_elf(&e, crafted_syms, NCRAFTED, SHT_SYMTAB);
	load_ok(write_tmp("lookup.so", e.b, e.len), &st);
	assert_ptr_equal(utrace_symtab_lookup(&st, 0x1000), &st.syms[0]);
	assert_ptr_equal(utrace_symtab_lookup(&st, 0x100f), &st.syms[0]);
	assert_ptr_equal(utrace_symtab_lookup(&st, 0x1047), &st.syms[4]);
	assert_null(utrace_symtab_lookup(&st, 0x1048)); /* ifn is 8 bytes */
	assert_null(utrace_symtab_lookup(&st, 0xfff));
	assert_ptr_equal(utrace_symtab_lookup(&st, 0x1083), &st.syms[5]);
	assert_null(utrace_symtab_lookup(&st, 0x1084));

	/* Strictly inside (lo, hi): the ends do not count. */
	assert_false(utrace_symtab_starts_within(&st, 0x1040, 0x1050));
	/* zero_size (0x1050), obj (0x1058) and label (0x1060) are entry points too. */
	assert_true(utrace_symtab_starts_within(&st, 0x1040, 0x1051));
	assert_true(utrace_symtab_starts_within(&st, 0x1054, 0x105c));
	assert_true(utrace_symtab_starts_within(&st, 0x105c, 0x1064));
	/* TLS values (0x1044) are offsets, file symbols (0x1046) are no addresses. */
	assert_false(utrace_symtab_starts_within(&st, 0x1041, 0x1048));
	assert_false(utrace_symtab_starts_within(&st, 0x1060, 0x1080));
	assert_false(utrace_symtab_starts_within(&st, 0x1080, UINT64_MAX));
	utrace_symtab_free(&st);
}

static void symtab_read_file_bytes(void **state)
{
	struct elf_buf e;
	struct ut_symtab st;
	unsigned char buf[0x20];

	build_elf(&e, crafted_syms, NCRAFTED, SHT_SYMTAB);
	load_ok(write_tmp("read.so", e.b, e.len), &st);
	assert_int_equal(utrace_symtab_read(&st, 0x1010, buf, 4), 4);
	assert_int_equal(buf[0], 0x10);
	assert_int_equal(buf[3], 0x13);
	/* Short at the end of the segment's file image. */
	assert_int_equal(utrace_symtab_read(&st, TEXT_END - 0x10, buf, sizeof(buf)), 0x10);
	assert_int_equal(buf[0], 0xf0);
	assert_int_equal(buf[0xf], 0xff);
	assert_int_equal(utrace_symtab_read(&st, TEXT_END, buf, sizeof(buf)), -EFAULT);
	assert_int_equal(utrace_symtab_read(&st, 0xffffffff00000000ULL, buf, 1), -EFAULT);
	utrace_symtab_free(&st);
}

static void expect_error(const char *path, int err, const char *what)
{
	struct ut_symtab st = { 0 };
	char msg[PATH_MAX + 64];

	utrace_error_clear();
	assert_int_equal(utrace_symtab_load(path, &st), err);
	snprintf(msg, sizeof(msg), "%s %s", path, what);
	assert_non_null(utrace_error_last());
	assert_string_equal(utrace_error_last(), msg);
	assert_null(st.syms);
}

static void symtab_rejects_non_elf(void **state)
{
	static const char text[] = "#!/bin/sh\necho this is not an ELF file\n";

	expect_error(write_tmp("script.sh", text, sizeof(text) - 1), -ENOEXEC,
		     "is not an ELF file");
	expect_error(write_tmp("empty", "", 0), -ENOEXEC, "is not an ELF file");
	expect_error(tmpdir, -ENOEXEC, "is not an ELF file");
}

static void symtab_rejects_missing_file(void **state)
{
	struct ut_symtab st = { 0 };
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/no-such-file", tmpdir);
	assert_int_equal(utrace_symtab_load(path, &st), -ENOENT);
}

static void symtab_rejects_other_machine(void **state)
{
	struct elf_buf e;

	build_elf(&e, NULL, 0, 0);
	((Elf64_Ehdr *)e.b)->e_machine = EM_AARCH64;
	expect_error(write_tmp("aarch64.so", e.b, e.len), -EINVAL,
		     "is an ELF for aarch64, not x86_64");
	((Elf64_Ehdr *)e.b)->e_machine = 0x1234;
	expect_error(write_tmp("unknown.so", e.b, e.len), -EINVAL,
		     "is an ELF for machine 4660, not x86_64");
}

static void symtab_rejects_elf32(void **state)
{
	Elf32_Ehdr eh = {
		.e_ident = { ELFMAG0, ELFMAG1, ELFMAG2, ELFMAG3, ELFCLASS32, ELFDATA2LSB,
			     EV_CURRENT },
		.e_type = ET_EXEC,
		.e_machine = EM_386,
		.e_version = EV_CURRENT,
		.e_ehsize = sizeof(Elf32_Ehdr),
	};

	expect_error(write_tmp("i386", &eh, sizeof(eh)), -EINVAL, "is a 32-bit ELF");
}

static void symtab_rejects_object_file(void **state)
{
	struct elf_buf e;

	build_elf(&e, NULL, 0, 0);
	((Elf64_Ehdr *)e.b)->e_type = ET_REL;
	expect_error(write_tmp("obj.o", e.b, e.len), -ENOEXEC,
		     "is not an executable or shared library (ELF type 1)");
}

static void symtab_no_functions(void **state)
{
	static const struct test_sym objects_only[] = {
		{ "obj", 0x1058, 8, STB_GLOBAL, STT_OBJECT, TEXT_SHNDX },
		FN("zero_size", 0x1050, 0, GLOBAL),
	};
	struct elf_buf e;

	/* No section headers at all: like sstrip output. */
	build_elf(&e, NULL, 0, 0);
	expect_error(write_tmp("nosyms.so", e.b, e.len), -ENODATA,
		     "has no function symbols (stripped?)");
	build_elf(&e, objects_only, 2, SHT_SYMTAB);
	expect_error(write_tmp("objects.so", e.b, e.len), -ENODATA,
		     "has no function symbols (stripped?)");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(symtab_self_aliases_and_preferred_name),
		cmocka_unit_test(symtab_self_sizes_starts_and_bytes),
		cmocka_unit_test(symtab_libc_dynsym),
		cmocka_unit_test(symtab_bias_exec_and_dyn),
		cmocka_unit_test(symtab_crafted_symtab),
		cmocka_unit_test(symtab_crafted_dynsym_only),
		cmocka_unit_test(symtab_crafted_lookup_and_starts),
		cmocka_unit_test(symtab_read_file_bytes),
		cmocka_unit_test(symtab_rejects_non_elf),
		cmocka_unit_test(symtab_rejects_missing_file),
		cmocka_unit_test(symtab_rejects_other_machine),
		cmocka_unit_test(symtab_rejects_elf32),
		cmocka_unit_test(symtab_rejects_object_file),
		cmocka_unit_test(symtab_no_functions),
	};

	return cmocka_run_group_tests(tests, make_tmpdir, remove_tmpdir);
}
