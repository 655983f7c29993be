// SPDX-License-Identifier: MIT
/*
 * utrace symbols PROG|PID [GLOB]: every function a pattern could select,
 * the probe it would get (jmp, call, int3) and why it gets no 5-byte patch,
 * or why it gets none; then a count by kind and by reason.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "maps.h"
#include "patchable.h"
#include "remote.h"
#include "utrace/shm.h"
#include "symtab.h"

#define CODE_BYTES 30
#define MAX_REASONS 32

struct tally {
	size_t total;
	size_t kinds[UT_PROBE_NKINDS];
	const char *reason[MAX_REASONS];
	enum ut_probe_kind reason_kind[MAX_REASONS];
	size_t count[MAX_REASONS];
	size_t nreasons;
};

static void count_reason(struct tally *t, enum ut_probe_kind kind, const char *why)
{
	size_t i;

	for (i = 0; i < t->nreasons; i++)
		if (t->reason_kind[i] == kind && !strcmp(t->reason[i], why))
			break;
	if (i == t->nreasons) {
		if (t->nreasons == MAX_REASONS)
			return;
		t->reason[t->nreasons] = why;
		t->reason_kind[t->nreasons++] = kind;
	}
	t->count[i]++;
}

/* Bytes of a function: from the live process when there is one, else the file. */
static size_t code_of(pid_t pid, const struct ut_symtab *st, const struct ut_sym *sym,
		      uint64_t bias, uint8_t *buf)
{
	long n;

	if (pid > 0 && utrace_mem_read(pid, sym->addr + bias, buf, CODE_BYTES) == 0)
		return CODE_BYTES;
	n = utrace_symtab_read(st, sym->addr, buf, CODE_BYTES);
	return n > 0 ? (size_t)n : 0;
}

static void list_symbol(const struct cli *c, pid_t pid, const struct ut_module_facts *m,
			enum ut_probe_mode mode, const struct ut_sym *sym, uint64_t bias,
			const char *module, struct tally *t)
{
	struct ut_probe_choice ch = { .kind = UT_PROBE_NONE, .why = "code unreadable" };
	uint8_t code[CODE_BYTES];
	size_t n = code_of(pid, m->st, sym, bias, code);

	if (n)
		utrace_probe_choose(m, sym, code, n, mode, c->patch_call, &ch);
	t->total++;
	t->kinds[ch.kind]++;
	if (ch.why)
		count_reason(t, ch.kind, ch.why);
	printf("0x%016llx %7llu  %-5s %s%s%s%s%s%s\n", (unsigned long long)(sym->addr + bias),
	       (unsigned long long)sym->size, utrace_probe_kind_name(ch.kind), module ? module : "",
	       module ? ":" : "", utrace_sym_display(sym), ch.why ? "  # " : "",
	       ch.why ? ch.why : "", (ch.flags & UT_FUNC_NORET) ? "  # entry events only" : "");
}

static int list_file(struct cli *c, pid_t pid, const char *path, const char *name, bool is_main,
		     uint64_t map_start, uint64_t map_offset, struct tally *t)
{
	enum ut_probe_mode mode = c->probe_mode;
	struct ut_facts f;
	uint64_t bias;
	int e;

	if (!utrace_filter_wants_module(&c->filter, name, is_main))
		return 0;
	e = utrace_facts_load(&f, path, name, &mode);
	if (e < 0) {
		utrace_facts_free(&f);
		return is_main ? e : 0;
	}
	bias = pid > 0 ? utrace_symtab_bias(&f.st, map_start, map_offset) : 0;
	for (size_t i = 0; i < f.st.n; i++)
		if (utrace_filter_select_sym(&c->filter, name, is_main, &f.st.syms[i], NULL))
			list_symbol(c, pid, &f.m, mode, &f.st.syms[i], bias, is_main ? NULL : name,
				    t);
	utrace_facts_free(&f);
	return 0;
}

static int list_process(struct cli *c, pid_t pid, struct tally *t)
{
	struct ut_maps maps = { 0 };
	struct ut_modules mods = { 0 };
	char link[64], exe[PATH_MAX];
	ssize_t n;
	int e;

	snprintf(link, sizeof(link), "/proc/%d/exe", pid);
	n = readlink(link, exe, sizeof(exe) - 1);
	if (n < 0) {
		cli_error("no such process: %d (or permission denied)", pid);
		return -1;
	}
	exe[n] = 0;
	e = utrace_maps_read(pid, &maps);
	if (e == 0)
		e = utrace_modules_from_maps(&maps, exe, &mods);
	for (size_t i = 0; i < mods.n && e == 0; i++)
		e = list_file(c, pid, mods.v[i].path, mods.v[i].name, mods.v[i].is_main,
			      mods.v[i].first_start, mods.v[i].first_offset, t);
	utrace_modules_free(&mods);
	utrace_maps_free(&maps);
	if (e < 0)
		cli_lib_error(e, exe);
	return e;
}

static void print_tally(const struct tally *t)
{
	printf("# %zu functions:", t->total);
	for (int k = UT_PROBE_INT3; k < UT_PROBE_NKINDS; k++)
		if (t->kinds[k] || k != UT_PROBE_CALLSTUB)
			printf(" %zu %s,", t->kinds[k], utrace_probe_kind_name(k));
	printf(" %zu refused\n", t->kinds[UT_PROBE_NONE]);
	for (size_t i = 0; i < t->nreasons; i++)
		printf("#   %6zu  %-5s %s\n", t->count[i],
		       utrace_probe_kind_name(t->reason_kind[i]), t->reason[i]);
}

static bool all_digits(const char *s)
{
	return *s && strspn(s, "0123456789") == strlen(s);
}

int cmd_symbols(int argc, char **argv)
{
	struct tally t = { 0 };
	struct cli c;
	int r = cli_parse(argc, argv, &c), e;

	if (r)
		return r > 0 ? 0 : EXIT_UTRACE_ERROR;
	r = EXIT_UTRACE_ERROR;
	if (c.nargs < 1 || c.nargs > 2) {
		cli_error("symbols: need PROG or PID, and optionally a GLOB");
		goto out;
	}
	if (utrace_filter_add(&c.filter, c.nargs == 2 ? c.args[1] : "*", false) < 0) {
		cli_lib_error(-EINVAL, c.args[1]);
		goto out;
	}
	if (all_digits(c.args[0]))
		e = list_process(&c, (pid_t)atoi(c.args[0]), &t);
	else if ((e = list_file(&c, 0, c.args[0], c.args[0], true, 0, 0, &t)) < 0)
		cli_lib_error(e, c.args[0]);
	if (e == 0) {
		print_tally(&t);
		r = 0;
	}
out:
	cli_free(&c);
	return r;
}
