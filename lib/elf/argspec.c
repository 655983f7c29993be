// SPDX-License-Identifier: MIT
/* Prototypes from -A/-R specs and for libc's common functions (argspec.h). */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/param.h>

#include "argspec.h"
#include "log.h"
#include "utrace/shm.h"

#define INT_ARGS 6 /* rdi rsi rdx rcx r8 r9 */
#define ENTRY_MAX 64
#define PROTO_MAX 1024

/* A format and width: its entry's kind, size and type name. */
struct format {
	char fmt;
	unsigned bits;
	char kind;
	unsigned size;
	const char *type;
};

static const struct format formats[] = {
	{ 'd', 64, 'i', 8, "long" },
	{ 'd', 32, 'i', 4, "int" },
	{ 'd', 16, 'i', 2, "short" },
	{ 'd', 8, 'i', 1, "signed char" },
	{ 'u', 64, 'u', 8, "unsigned long" },
	{ 'u', 32, 'u', 4, "unsigned int" },
	{ 'u', 16, 'u', 2, "unsigned short" },
	{ 'u', 8, 'u', 1, "unsigned char" },
	{ 'x', 64, 'x', 8, "" },
	{ 'x', 32, 'x', 4, "" },
	{ 'x', 16, 'x', 2, "" },
	{ 'x', 8, 'x', 1, "" },
	{ 'c', 8, 'c', 1, "char" },
	{ 's', 64, 's', 8, "char *" },
	{ 'p', 64, 'p', 8, "void *" },
};

static const struct format *format_of(const char *s)
{
	char *end;
	unsigned long bits = 64;

	if (!*s)
		return NULL;
	if (s[1]) {
		bits = strtoul(s + 1, &end, 10);
		if (*end || s[1] < '1' || s[1] > '9')
			return NULL;
	} else if (*s == 'c') {
		bits = 8;
	}
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (formats[i].fmt == *s && formats[i].bits == bits)
			return &formats[i];
	return NULL;
}

/* "argN/FMT" or "retval/FMT" into one prototype entry. */
static int item_entry(const char *item, bool ret, char *out, size_t cap)
{
	const char *slash = strchr(item, '/');
	const struct format *f = slash ? format_of(slash + 1) : NULL;
	char *end;
	long n = 0;

	if (!f)
		return -EINVAL;
	if (ret) {
		if ((size_t)(slash - item) != 6 || strncmp(item, "retval", 6))
			return -EINVAL;
	} else {
		if (strncmp(item, "arg", 3))
			return -EINVAL;
		n = strtol(item + 3, &end, 10);
		if (end != slash || n < 1 || n > INT_ARGS)
			return -EINVAL;
	}
	snprintf(out, cap, "%c,%u,%ld,%.*s,%s", f->kind, f->size, ret ? 0 : n - 1,
		 ret ? 0 : (int)(slash - item), item, f->type);
	return 0;
}

/* The entries of SPEC's items (after '@'), ';'-separated. */
static int spec_entries(const char *items, bool ret, char **out)
{
	char buf[PROTO_MAX] = "", entry[ENTRY_MAX], *copy = strdup(items), *save = NULL;
	size_t len = 0, n = strlen(items);
	int e = copy ? 0 : -ENOMEM;

	if (!n || items[0] == ',' || items[n - 1] == ',' || strstr(items, ",,"))
		e = -EINVAL; /* an empty item */

	for (char *it = copy ? strtok_r(copy, ",", &save) : NULL; it && !e;
	     it = strtok_r(NULL, ",", &save)) {
		e = item_entry(it, ret, entry, sizeof(entry));
		if (!e && len + strlen(entry) + 2 > sizeof(buf))
			e = -EINVAL;
		if (!e)
			len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s",
						len ? ";" : "", entry);
	}
	free(copy);
	if (!e && (!len || (ret && strchr(buf, ';'))))
		e = -EINVAL;
	if (!e)
		*out = strdup(buf);
	return e ? e : (*out ? 0 : -ENOMEM);
}

int utrace_argspec_add(struct ut_argspecs *s, const char *spec, bool ret)
{
	const char *at = strchr(spec, '@');
	struct ut_argspec a = { 0 }, *v;
	int e;

	if (!at || at == spec) {
		ut_error("%s '%s': want FUNC@%s", ret ? "-R" : "-A", spec,
			 ret ? "retval/FMT" : "arg1/FMT,arg2/FMT,...");
		return -EINVAL;
	}
	e = spec_entries(at + 1, ret, ret ? &a.ret : &a.args);
	if (e == -EINVAL)
		ut_error("%s '%s': want %s with FMT d, u, x (or d32, u8, x16...), c, s or p",
			 ret ? "-R" : "-A", spec, ret ? "retval/FMT" : "argN/FMT (N from 1 to 6)");
	a.glob = e ? NULL : strndup(spec, (size_t)(at - spec));
	v = a.glob ? realloc(s->v, (s->n + 1) * sizeof(*s->v)) : NULL;
	if (!v) {
		free(a.glob);
		free(a.args);
		free(a.ret);
		return e ? e : -ENOMEM;
	}
	s->v = v;
	s->v[s->n++] = a;
	return 0;
}

void utrace_argspec_free(struct ut_argspecs *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].glob);
		free(s->v[i].args);
		free(s->v[i].ret);
	}
	free(s->v);
	s->v = NULL;
	s->n = 0;
}

/* The return entry of a prototype (its text up to the first ';'), into out. */
static void base_ret(const char *base, char *out, size_t cap)
{
	size_t n = base ? strcspn(base, ";") : 0;

	if (n)
		snprintf(out, cap, "%.*s", (int)n, base);
	else /* without one: rax shown as it is */
		snprintf(out, cap, "x,8,0,,");
}

char *utrace_argspec_proto(const struct ut_argspecs *s, const char *name, const char *base)
{
	const char *args = NULL, *ret = NULL;
	char r[PROTO_MAX], *out;
	const char *semi;

	for (size_t i = 0; s && i < s->n; i++) {
		if (fnmatch(s->v[i].glob, name, 0))
			continue;
		if (s->v[i].args && !args)
			args = s->v[i].args;
		if (s->v[i].ret && !ret)
			ret = s->v[i].ret;
	}
	if (!args && !ret)
		return NULL;
	base_ret(base, r, sizeof(r));
	semi = base ? strchr(base, ';') : NULL;
	if (asprintf(&out, "%s%s%s", ret ? ret : r, args || semi ? ";" : "",
		     args ? args :
		     semi ? semi + 1 :
			    "") < 0)
		return NULL;
	return out;
}

/*
 * glibc's common functions, as its headers declare them: what -f
 * 'libc.so.6:*alloc' shows without libc's debug information.
 */
static const struct {
	const char *name, *proto;
} libc_protos[] = {
	{ "malloc", "p,8,0,,void *;u,8,0,size,size_t" },
	{ "calloc", "p,8,0,,void *;u,8,0,nmemb,size_t;u,8,1,size,size_t" },
	{ "realloc", "p,8,0,,void *;p,8,0,ptr,void *;u,8,1,size,size_t" },
	{ "reallocarray", "p,8,0,,void *;p,8,0,ptr,void *;u,8,1,nmemb,size_t;u,8,2,size,size_t" },
	{ "free", "v,0,-1,,void;p,8,0,ptr,void *" },
	{ "aligned_alloc", "p,8,0,,void *;u,8,0,alignment,size_t;u,8,1,size,size_t" },
	{ "posix_memalign", "i,4,0,,int;p,8,0,memptr,void **;u,8,1,alignment,size_t;"
			    "u,8,2,size,size_t" },
	{ "open", "i,4,0,,int;s,8,0,pathname,const char *;x,4,1,flags,int;x,4,2,mode,mode_t" },
	{ "open64", "i,4,0,,int;s,8,0,pathname,const char *;x,4,1,flags,int;x,4,2,mode,mode_t" },
	{ "openat", "i,4,0,,int;i,4,0,dirfd,int;s,8,1,pathname,const char *;x,4,2,flags,int;"
		    "x,4,3,mode,mode_t" },
	{ "close", "i,4,0,,int;i,4,0,fd,int" },
	{ "read", "i,8,0,,ssize_t;i,4,0,fd,int;p,8,1,buf,void *;u,8,2,count,size_t" },
	{ "write", "i,8,0,,ssize_t;i,4,0,fd,int;p,8,1,buf,const void *;u,8,2,count,size_t" },
	{ "lseek", "i,8,0,,off_t;i,4,0,fd,int;i,8,1,offset,off_t;i,4,2,whence,int" },
	{ "mmap", "p,8,0,,void *;p,8,0,addr,void *;u,8,1,length,size_t;x,4,2,prot,int;"
		  "x,4,3,flags,int;i,4,4,fd,int;i,8,5,offset,off_t" },
	{ "munmap", "i,4,0,,int;p,8,0,addr,void *;u,8,1,length,size_t" },
	{ "mprotect", "i,4,0,,int;p,8,0,addr,void *;u,8,1,len,size_t;x,4,2,prot,int" },
	{ "strlen", "u,8,0,,size_t;s,8,0,s,const char *" },
	{ "strcmp", "i,4,0,,int;s,8,0,s1,const char *;s,8,1,s2,const char *" },
	{ "strncmp", "i,4,0,,int;s,8,0,s1,const char *;s,8,1,s2,const char *;u,8,2,n,size_t" },
	{ "strcpy", "s,8,0,,char *;p,8,0,dest,char *;s,8,1,src,const char *" },
	{ "strdup", "s,8,0,,char *;s,8,0,s,const char *" },
	{ "strchr", "s,8,0,,char *;s,8,0,s,const char *;c,1,1,c,int" },
	{ "memcpy", "p,8,0,,void *;p,8,0,dest,void *;p,8,1,src,const void *;u,8,2,n,size_t" },
	{ "memmove", "p,8,0,,void *;p,8,0,dest,void *;p,8,1,src,const void *;u,8,2,n,size_t" },
	{ "memset", "p,8,0,,void *;p,8,0,s,void *;i,4,1,c,int;u,8,2,n,size_t" },
	{ "memcmp", "i,4,0,,int;p,8,0,s1,const void *;p,8,1,s2,const void *;u,8,2,n,size_t" },
	{ "fopen", "p,8,0,,FILE *;s,8,0,pathname,const char *;s,8,1,mode,const char *" },
	{ "fclose", "i,4,0,,int;p,8,0,stream,FILE *" },
	{ "fread", "u,8,0,,size_t;p,8,0,ptr,void *;u,8,1,size,size_t;u,8,2,nmemb,size_t;"
		   "p,8,3,stream,FILE *" },
	{ "fwrite", "u,8,0,,size_t;p,8,0,ptr,const void *;u,8,1,size,size_t;u,8,2,nmemb,size_t;"
		    "p,8,3,stream,FILE *" },
	{ "puts", "i,4,0,,int;s,8,0,s,const char *" },
	{ "getenv", "s,8,0,,char *;s,8,0,name,const char *" },
	{ "exit", "v,0,-1,,void;i,4,0,status,int" },
	{ "printf", "i,4,0,,int;s,8,0,format,const char *" },
};

const char *utrace_libc_proto(const char *name)
{
	for (size_t i = 0; i < sizeof(libc_protos) / sizeof(libc_protos[0]); i++)
		if (!strcmp(libc_protos[i].name, name))
			return libc_protos[i].proto;
	return NULL;
}

/* One entry's kind, size and place (its WORD field: "3", "x1", "s16" or "-1"). */
static bool entry_place(const char *e, char *kind, unsigned long *size, char *where,
			unsigned long *at)
{
	char *end;

	if (!e[0] || e[1] != ',')
		return false;
	*kind = e[0];
	*size = strtoul(e + 2, &end, 10);
	if (*end != ',')
		return false;
	*where = end[1] == 'x' || end[1] == 's' ? end[1] : 'w';
	if (end[1] == '-')
		return false;
	*at = strtoul(end + 1 + (*where != 'w'), &end, 10);
	return *end == ',';
}

uint32_t utrace_proto_extras(const char *proto)
{
	uint32_t x = 0, nxmm = 0, stk = 0;
	bool ret = true;

	for (const char *e = proto; e; e = strchr(e, ';'), e = e ? e + 1 : NULL, ret = false) {
		unsigned long size, at;
		char kind, where;

		if (!entry_place(e, &kind, &size, &where, &at))
			continue;
		if (ret) {
			x |= where == 'x' ? UT_X_XMM_RET : 0;
			continue;
		}
		if (where == 'w' && kind == 's' && at < 6)
			x |= 1U << at;
		if (where == 'x' && at < 8)
			nxmm = MAX(nxmm, (uint32_t)at + (size > 8 ? 2 : 1));
		if (where == 's')
			stk = MAX(stk, (uint32_t)MIN(at + ((size + 7) & ~7UL), UT_STKARGS_MAX));
	}
	return x | MIN(nxmm, 8U) << UT_X_XMM_SHIFT | (stk / 8) << UT_X_STKARGS_SHIFT;
}
