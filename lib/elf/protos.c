// SPDX-License-Identifier: MIT
/* Functions' prototypes from DWARF, and where their values travel (protos.h). */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protos.h"

#define INT_WORDS 6 /* argument words an entry records: rdi rsi rdx rcx r8 r9 */
#define RET_WORDS 2 /* return words an exit records: rax rdx */
#define SSE_WORDS 8 /* vector registers arguments go in: xmm0 .. xmm7 */
#define NAME_MAX_LEN 200
#define PROTO_MAX 4096
#define TYPE_DEPTH_MAX 8

struct ut_protos {
	Dwfl_Callbacks callbacks; /* libdwfl keeps a pointer to them */
	char *debuginfo_path;
	Dwfl *dwfl;
	Dwfl_Module *mod;
	Dwarf_Addr bias; /* libdwfl's address = DWARF address + bias */
};

struct ut_protos *utrace_protos_open(const char *path, const char *debug_dir)
{
	struct ut_protos *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->callbacks = (Dwfl_Callbacks){
		.find_elf = dwfl_build_id_find_elf,
		.find_debuginfo = dwfl_standard_find_debuginfo,
		.section_address = dwfl_offline_section_address,
	};
	/* libdwfl's default ":.debug:/usr/lib/debug", with another directory in the end */
	if (debug_dir && asprintf(&p->debuginfo_path, ":.debug:%s", debug_dir) < 0) {
		free(p);
		return NULL;
	}
	p->callbacks.debuginfo_path = debug_dir ? &p->debuginfo_path : NULL;
	p->dwfl = dwfl_begin(&p->callbacks);
	if (p->dwfl)
		p->mod = dwfl_report_offline(p->dwfl, "", path, -1);
	if (!p->mod || dwfl_report_end(p->dwfl, NULL, NULL) != 0 ||
	    !dwfl_module_getdwarf(p->mod, &p->bias)) {
		utrace_protos_close(p);
		return NULL;
	}
	return p;
}

void utrace_protos_close(struct ut_protos *p)
{
	if (!p)
		return;
	if (p->dwfl)
		dwfl_end(p->dwfl);
	free(p->debuginfo_path);
	free(p);
}

/* ---- types --------------------------------------------------------------- */

static bool type_of(Dwarf_Die *die, Dwarf_Die *type)
{
	Dwarf_Attribute a;

	return dwarf_attr_integrate(die, DW_AT_type, &a) && dwarf_formref_die(&a, type);
}

/* Through typedefs and qualifiers to the type that says how a value is passed. */
static bool strip_type(Dwarf_Die *t)
{
	for (int i = 0; i < TYPE_DEPTH_MAX * 4; i++) {
		int tag = dwarf_tag(t);

		if (tag != DW_TAG_typedef && tag != DW_TAG_const_type &&
		    tag != DW_TAG_volatile_type && tag != DW_TAG_restrict_type &&
		    tag != DW_TAG_atomic_type)
			return true;
		if (!type_of(t, t))
			return false; /* "const void" */
	}
	return false;
}

static const char *tag_prefix(int tag, bool cxx)
{
	if (cxx)
		return "";
	return tag == DW_TAG_structure_type   ? "struct " :
	       tag == DW_TAG_union_type	      ? "union " :
	       tag == DW_TAG_enumeration_type ? "enum " :
						"";
}

static void say(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* A name into buf, cut when it does not fit (a type's name is for people). */
static void say(char *buf, size_t cap, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, cap, fmt, ap);
	va_end(ap);
}

/* Types named after the type they derive from. */
static const struct {
	int tag;
	const char *suffix;
} derived[] = {
	{ DW_TAG_pointer_type, " *" },
	{ DW_TAG_reference_type, " &" },
	{ DW_TAG_rvalue_reference_type, " &&" },
	{ DW_TAG_restrict_type, "" },
	{ DW_TAG_atomic_type, "" },
	{ DW_TAG_array_type, "[]" },
	{ DW_TAG_subroutine_type, " ()" },
};

/* The type's name as C declares it ("const char *", "size_t", "struct point"). */
static void type_name(Dwarf_Die *t, bool cxx, int depth, char *buf, size_t cap)
{
	Dwarf_Die inner;
	char sub[NAME_MAX_LEN];
	const char *name = dwarf_diename(t);
	int tag = dwarf_tag(t);
	bool has = type_of(t, &inner);

	if (depth > TYPE_DEPTH_MAX) {
		say(buf, cap, "...");
		return;
	}
	if (has)
		type_name(&inner, cxx, depth + 1, sub, sizeof(sub));
	else
		say(sub, sizeof(sub), "void");
	if (tag == DW_TAG_const_type || tag == DW_TAG_volatile_type) {
		const char *q = tag == DW_TAG_const_type ? "const" : "volatile";
		bool ptr = has && dwarf_tag(&inner) == DW_TAG_pointer_type;

		say(buf, cap, ptr ? "%2$s %1$s" : "%1$s %2$s", q, sub);
		return;
	}
	for (size_t i = 0; i < sizeof(derived) / sizeof(derived[0]); i++)
		if (derived[i].tag == tag) {
			say(buf, cap, "%s%s", sub, derived[i].suffix);
			return;
		}
	say(buf, cap, "%s%s", tag_prefix(tag, cxx), name ? name : "<anonymous>");
}

/* ---- classes (the x86-64 System V ABI, section 3.2.3) ------------------------ */

enum word_class { WC_NONE, WC_INT, WC_SSE, WC_MEMORY };

static enum word_class merge(enum word_class a, enum word_class b)
{
	if (a == b || b == WC_NONE)
		return a;
	if (a == WC_NONE)
		return b;
	if (a == WC_MEMORY || b == WC_MEMORY)
		return WC_MEMORY;
	return WC_INT; /* INTEGER with SSE in one eightbyte */
}

static Dwarf_Word size_of(Dwarf_Die *t)
{
	Dwarf_Word n;

	return dwarf_aggregate_size(t, &n) == 0 ? n : 0;
}

static void classify_at(Dwarf_Die *t, Dwarf_Word off, enum word_class w[2], int depth);

static void classify_members(Dwarf_Die *t, Dwarf_Word off, enum word_class w[2], int depth)
{
	Dwarf_Die m, mt;

	if (dwarf_child(t, &m) != 0)
		return;
	do {
		Dwarf_Attribute a;
		Dwarf_Word at = 0;

		if (dwarf_tag(&m) != DW_TAG_member && dwarf_tag(&m) != DW_TAG_inheritance)
			continue;
		if (dwarf_hasattr(&m, DW_AT_external))
			continue; /* a static member: not in the object */
		if (dwarf_attr(&m, DW_AT_data_member_location, &a))
			dwarf_formudata(&a, &at);
		if (dwarf_hasattr(&m, DW_AT_bit_size) || dwarf_hasattr(&m, DW_AT_data_bit_offset)) {
			/* a bit-field: an integer where it lies */
			size_t k = (off + at) / 8 > 1 ? 1 : (off + at) / 8;

			w[k] = merge(w[k], WC_INT);
			continue;
		}
		if (type_of(&m, &mt))
			classify_at(&mt, off + at, w, depth + 1);
	} while (dwarf_siblingof(&m, &m) == 0);
}

/* Merge the classes of the scalars of type t placed at byte off into the two eightbytes. */
static void classify_at(Dwarf_Die *t, Dwarf_Word off, enum word_class w[2], int depth)
{
	Dwarf_Word size;
	Dwarf_Attribute a;
	Dwarf_Word enc = 0;

	if (depth > TYPE_DEPTH_MAX || !strip_type(t)) {
		w[0] = w[1] = WC_MEMORY;
		return;
	}
	size = size_of(t);
	switch (dwarf_tag(t)) {
	case DW_TAG_structure_type:
	case DW_TAG_class_type:
	case DW_TAG_union_type:
		classify_members(t, off, w, depth);
		return;
	case DW_TAG_array_type: {
		Dwarf_Die et;
		Dwarf_Word es;

		if (!type_of(t, &et) || !(es = size_of(&et)))
			return;
		for (Dwarf_Word o = 0; o + es <= size; o += es)
			classify_at(&et, off + o, w, depth + 1);
		return;
	}
	case DW_TAG_base_type:
		if (dwarf_attr(t, DW_AT_encoding, &a))
			dwarf_formudata(&a, &enc);
		break;
	default:
		break;
	}
	if (!size || off % (size < 8 ? size : 8) || off + size > 16) {
		w[0] = w[1] = WC_MEMORY; /* unaligned, or a long double's 16 bytes */
		return;
	}
	w[off / 8] = merge(w[off / 8], enc == DW_ATE_float && size <= 8 ? WC_SSE : WC_INT);
	if (enc == DW_ATE_float && size > 8)
		w[0] = w[1] = WC_MEMORY;
}

/* ---- one value: its kind and the words it takes --------------------------- */

struct value {
	char kind;
	Dwarf_Word size;
	int ints; /* integer registers it takes: 0, 1 or 2 */
	int sses; /* vector registers it takes */
};

static bool is_char(Dwarf_Die *t)
{
	Dwarf_Attribute a;
	Dwarf_Word enc = 0;

	if (!strip_type(t) || dwarf_tag(t) != DW_TAG_base_type || size_of(t) != 1)
		return false;
	if (dwarf_attr(t, DW_AT_encoding, &a))
		dwarf_formudata(&a, &enc);
	return enc == DW_ATE_signed_char || enc == DW_ATE_unsigned_char;
}

static struct value aggregate_value(Dwarf_Die *t, Dwarf_Word size)
{
	enum word_class w[2] = { WC_NONE, WC_NONE };
	Dwarf_Attribute a;
	Dwarf_Word cc = 0;

	/* a C++ class that is not trivially copyable goes by hidden reference */
	if (dwarf_attr(t, DW_AT_calling_convention, &a) && dwarf_formudata(&a, &cc) == 0 &&
	    cc == DW_CC_pass_by_reference)
		return (struct value){ 'p', 8, 1, 0 };
	if (size > 16)
		return (struct value){ 'm', size, 0, 0 };
	classify_at(t, 0, w, 0);
	if (w[0] == WC_MEMORY || w[1] == WC_MEMORY)
		return (struct value){ 'm', size, 0, 0 };
	if (w[0] != WC_INT && w[1] != WC_INT)
		return (struct value){ 'm', size, 0, (w[0] == WC_SSE) + (w[1] == WC_SSE) };
	if (w[0] == WC_SSE || w[1] == WC_SSE) /* half in a vector register: not all recorded */
		return (struct value){ 'm', size, (w[0] == WC_INT) + (w[1] == WC_INT), 1 };
	return (struct value){ 'S', size, size > 8 ? 2 : 1, 0 };
}

/*
 * A plain "char" (however qualified), shown as a character; "signed char",
 * "unsigned char" and their typedefs (int8_t, uint8_t) are numbers.
 */
static bool is_plain_char(Dwarf_Die *type)
{
	Dwarf_Die t = *type;
	const char *name;

	while (dwarf_tag(&t) == DW_TAG_const_type || dwarf_tag(&t) == DW_TAG_volatile_type)
		if (!type_of(&t, &t))
			return false;
	name = dwarf_diename(&t);
	return dwarf_tag(&t) == DW_TAG_base_type && name && !strcmp(name, "char");
}

static struct value value_of(Dwarf_Die *type)
{
	Dwarf_Die t = *type, pointee;
	Dwarf_Attribute a;
	Dwarf_Word enc = 0, size;

	if (is_plain_char(type))
		return (struct value){ 'c', 1, 1, 0 };
	if (!strip_type(&t))
		return (struct value){ 'm', 0, 0, 0 };
	size = size_of(&t);
	switch (dwarf_tag(&t)) {
	case DW_TAG_pointer_type:
	case DW_TAG_reference_type:
	case DW_TAG_rvalue_reference_type:
	case DW_TAG_ptr_to_member_type:
		pointee = t;
		return (struct value){ type_of(&t, &pointee) && is_char(&pointee) ? 's' : 'p', 8, 1,
				       0 };
	case DW_TAG_enumeration_type:
		return (struct value){ 'e', size, 1, 0 };
	case DW_TAG_structure_type:
	case DW_TAG_class_type:
	case DW_TAG_union_type:
	case DW_TAG_array_type:
		return aggregate_value(&t, size);
	case DW_TAG_base_type:
		break;
	default:
		return (struct value){ 'm', size, 0, 0 };
	}
	if (dwarf_attr(&t, DW_AT_encoding, &a))
		dwarf_formudata(&a, &enc);
	switch (enc) {
	case DW_ATE_boolean:
		return (struct value){ 'b', size, 1, 0 };
	case DW_ATE_signed_char:
	case DW_ATE_unsigned_char:
		return (struct value){ enc == DW_ATE_signed_char ? 'i' : 'u', size, 1, 0 };
	case DW_ATE_signed:
		return (struct value){ 'i', size, size > 8 ? 2 : 1, 0 };
	case DW_ATE_unsigned:
	case DW_ATE_UTF:
		return (struct value){ 'u', size, size > 8 ? 2 : 1, 0 };
	case DW_ATE_float:
		return size <= 8 ? (struct value){ 'f', size, 0, 1 } :
				   (struct value){ 'm', size, 0, 0 };
	default:
		return (struct value){ 'm', size, 0, 0 };
	}
}

/* ---- the prototype string ------------------------------------------------- */

struct proto {
	char buf[PROTO_MAX];
	size_t len;
	bool cxx;
	bool full; /* it did not fit: no prototype rather than a cut one */
};

static void put(struct proto *pr, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct proto *pr, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(pr->buf + pr->len, sizeof(pr->buf) - pr->len, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(pr->buf) - pr->len)
		pr->full = true;
	else
		pr->len += (size_t)n;
}

/* "=NAME:VALUE:..." of an enum (plain C names: no ':' or ';' or ',' in them). */
static void put_enumerators(struct proto *pr, Dwarf_Die *type)
{
	Dwarf_Die t = *type, e;

	if (!strip_type(&t) || dwarf_tag(&t) != DW_TAG_enumeration_type || dwarf_child(&t, &e))
		return;
	put(pr, "=");
	do {
		Dwarf_Attribute a;
		Dwarf_Sword v = 0;
		const char *name = dwarf_diename(&e);

		if (dwarf_tag(&e) != DW_TAG_enumerator || !name ||
		    !dwarf_attr(&e, DW_AT_const_value, &a))
			continue;
		dwarf_formsdata(&a, &v);
		put(pr, "%s:%lld:", name, (long long)v);
	} while (dwarf_siblingof(&e, &e) == 0);
}

/* Where the arguments so far went: the next integer word, vector register, stack offset. */
struct place {
	int word; /* -1 once spilled */
	int sse;
	unsigned int stack; /* bytes from the entry stack pointer + 8 */
};

/*
 * Where a value goes (the ABI's rules, 3.2.3): its first integer word, "x"
 * and its first vector register, "s" and its offset among the stack
 * arguments, or -1 (a return value never goes to the stack: in memory, it
 * is shown by address).
 */
static void place_of(const struct value *v, struct place *pl, int words, bool ret, char *at,
		     size_t cap)
{
	snprintf(at, cap, "-1");
	if (v->ints && !v->sses) {
		if (pl->word >= 0 && pl->word + v->ints <= words) {
			snprintf(at, cap, "%d", pl->word);
			pl->word += v->ints;
			return;
		}
	} else if (v->sses && !v->ints) {
		if (pl->sse + v->sses <= SSE_WORDS) {
			snprintf(at, cap, "x%d", pl->sse);
			pl->sse += v->sses;
			return;
		}
	} else if (v->sses || v->kind != 'm' || !v->size) {
		return; /* integer and vector registers both, or nothing */
	}
	if (ret)
		return;
	if (v->size >= 16)
		pl->stack = (pl->stack + 15) & ~15U;
	snprintf(at, cap, "s%u", pl->stack);
	pl->stack += ((unsigned int)v->size + 7) & ~7U;
}

/* One entry of the prototype, placed after the ones before it. */
static void put_value(struct proto *pr, Dwarf_Die *type, const char *name, struct place *pl,
		      int words)
{
	struct value v = type ? value_of(type) : (struct value){ 'v', 0, 0, 0 };
	char tname[NAME_MAX_LEN] = "void", at[16];

	if (type)
		type_name(type, pr->cxx, 0, tname, sizeof(tname));
	place_of(&v, pl, words, words == RET_WORDS, at, sizeof(at));
	put(pr, "%s%c,%llu,%s,%s,%s", pr->len ? ";" : "", v.kind, (unsigned long long)v.size, at,
	    name ? name : "", tname);
	if (v.kind == 'e')
		put_enumerators(pr, type);
}

/* The subprogram whose entry is at pc, the scopes of an inlined copy aside. */
static bool entry_die(struct ut_protos *p, uint64_t addr, Dwarf_Die *out, bool *cxx)
{
	Dwarf_Addr cubias, lo;
	Dwarf_Die *cu = dwfl_module_addrdie(p->mod, addr + p->bias, &cubias), *scopes = NULL;
	int n, lang;
	bool found = false;

	if (!cu)
		return false;
	lang = dwarf_srclang(cu);
	*cxx = lang == DW_LANG_C_plus_plus || lang == DW_LANG_C_plus_plus_11 ||
	       lang == DW_LANG_C_plus_plus_14;
	n = dwarf_getscopes(cu, addr + p->bias - cubias, &scopes);
	for (int i = 0; i < n; i++)
		if (dwarf_tag(&scopes[i]) == DW_TAG_subprogram) {
			found = dwarf_entrypc(&scopes[i], &lo) == 0 &&
				lo == addr + p->bias - cubias;
			*out = scopes[i];
			break;
		}
	free(scopes);
	return found;
}

/* The DIE whose children are the parameters: the function's, else its origin's. */
static bool params_parent(Dwarf_Die *func, Dwarf_Die *out)
{
	Dwarf_Attribute a;
	Dwarf_Die child;

	*out = *func;
	for (int i = 0; i < 2; i++) {
		if (dwarf_child(out, &child) == 0)
			do {
				if (dwarf_tag(&child) == DW_TAG_formal_parameter)
					return true;
			} while (dwarf_siblingof(&child, &child) == 0);
		if (!dwarf_attr(out, DW_AT_abstract_origin, &a) &&
		    !dwarf_attr(out, DW_AT_specification, &a))
			return false;
		if (!dwarf_formref_die(&a, out))
			return false;
	}
	return false;
}

char *utrace_srcline_at(struct ut_protos *p, uint64_t addr)
{
	Dwarf_Die func;
	const char *file;
	char *out;
	int line = 0;
	bool cxx;

	if (!entry_die(p, addr, &func, &cxx))
		return NULL;
	/* DW_AT_decl_file and _line: the definition's, or its declaration's */
	file = dwarf_decl_file(&func);
	if (!file || dwarf_decl_line(&func, &line) != 0 || line <= 0)
		return NULL;
	if (asprintf(&out, "%s:%d", file, line) < 0)
		return NULL;
	return out;
}

char *utrace_proto_at(struct ut_protos *p, uint64_t addr)
{
	struct proto *pr;
	Dwarf_Die func, parent, child, rtype;
	bool has_ret;
	struct place args = { 0, 0, 0 }, ret_place = { 0, 0, 0 };
	char *out = NULL;

	pr = calloc(1, sizeof(*pr));
	if (!pr)
		return NULL;
	if (!entry_die(p, addr, &func, &pr->cxx))
		goto done;
	has_ret = type_of(&func, &rtype);
	put_value(pr, has_ret ? &rtype : NULL, "", &ret_place, RET_WORDS);
	if (has_ret) {
		struct value ret = value_of(&rtype);

		/* a value returned in memory: its address comes in rdi, and goes back in rax */
		args.word = ret.kind == 'm' && ret.sses == 0 ? 1 : 0;
	}
	if (params_parent(&func, &parent) && dwarf_child(&parent, &child) == 0)
		do {
			Dwarf_Attribute a;
			Dwarf_Die type;
			const char *name = NULL;

			if (dwarf_tag(&child) == DW_TAG_unspecified_parameters)
				break; /* "...": the words that follow are not described */
			if (dwarf_tag(&child) != DW_TAG_formal_parameter)
				continue;
			if (dwarf_attr_integrate(&child, DW_AT_name, &a))
				name = dwarf_formstring(&a);
			if (!type_of(&child, &type))
				goto done;
			put_value(pr, &type, name, &args, INT_WORDS);
		} while (dwarf_siblingof(&child, &child) == 0);
	if (!pr->full)
		out = strdup(pr->buf);
done:
	free(pr);
	return out;
}
