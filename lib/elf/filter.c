// SPDX-License-Identifier: MIT
/* -f / -N function patterns: "GLOB" or "MODULE:GLOB", matched with fnmatch(3). */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "clones.h"
#include "filter.h"
#include "log.h"

/*
 * The ':' separating MODULE from GLOB: the first one not part of "::", so
 * that C++ names ("ns::f", "libx.so:ns::f") keep their scope operators.
 * NULL when the spec names no module.
 */
static const char *module_separator(const char *spec)
{
	for (const char *p = spec; *p; p++) {
		if (*p != ':')
			continue;
		if (p[1] == ':') {
			p++;
			continue;
		}
		return p;
	}
	return NULL;
}

static int pattern_init(struct ut_pattern *p, const char *spec, bool exclude)
{
	const char *sep = module_separator(spec);

	*p = (struct ut_pattern){ .exclude = exclude };
	p->spec = strdup(spec);
	p->module = sep ? strndup(spec, sep - spec) : NULL;
	p->glob = strdup(sep ? sep + 1 : spec);
	if (!p->spec || (sep && !p->module) || !p->glob)
		return -ENOMEM;
	return 0;
}

static void pattern_free(struct ut_pattern *p)
{
	free(p->found_in);
	free(p->spec);
	free(p->module);
	free(p->glob);
}

static int check_spec(const char *spec, bool exclude)
{
	const char *opt = exclude ? "-N" : "-f";
	const char *sep = module_separator(spec);

	if (sep == spec) {
		ut_error("%s '%s': empty module name before ':'", opt, spec);
		return -EINVAL;
	}
	if (!*spec || (sep && !sep[1])) {
		ut_error("%s '%s': empty function pattern", opt, spec);
		return -EINVAL;
	}
	return 0;
}

int utrace_filter_add(struct ut_filter *f, const char *spec, bool exclude)
{
	struct ut_pattern *v;
	int err;

	err = check_spec(spec, exclude);
	if (err)
		return err;
	v = realloc(f->v, (f->n + 1) * sizeof(*f->v));
	if (!v)
		return -ENOMEM;
	f->v = v;
	err = pattern_init(&f->v[f->n], spec, exclude);
	if (err) {
		pattern_free(&f->v[f->n]);
		return err;
	}
	f->n++;
	return 0;
}

void utrace_filter_free(struct ut_filter *f)
{
	for (size_t i = 0; i < f->n; i++)
		pattern_free(&f->v[i]);
	free(f->v);
	f->v = NULL;
	f->n = 0;
}

/* A pattern without a module applies to the main executable only, until widened. */
static bool pattern_applies(const struct ut_pattern *p, const char *module_name, bool is_main)
{
	if (!p->module)
		return is_main || p->anywhere;
	return fnmatch(p->module, module_name, 0) == 0;
}

bool utrace_filter_wants_module(const struct ut_filter *f, const char *module_name, bool is_main)
{
	for (size_t i = 0; i < f->n; i++)
		if (!f->v[i].exclude && pattern_applies(&f->v[i], module_name, is_main))
			return true;
	return false;
}

/* The name, or for a glob without a dot a clone's base name (utrace/clones.h). */
static bool name_matches(const char *glob, const char *name)
{
	size_t base = utrace_clone_base_len(name);
	char buf[256];

	if (fnmatch(glob, name, 0) == 0)
		return true;
	if (!name[base] || strchr(glob, '.') || base >= sizeof(buf))
		return false;
	memcpy(buf, name, base);
	buf[base] = 0;
	return fnmatch(glob, buf, 0) == 0;
}

static bool glob_matches(const struct ut_pattern *p, const char *name, char *const *aliases)
{
	if (name_matches(p->glob, name))
		return true;
	for (char *const *a = aliases; a && *a; a++)
		if (name_matches(p->glob, *a))
			return true;
	return false;
}

bool utrace_glob_is_name(const char *glob)
{
	return !strpbrk(glob, "*?[");
}

/* The alias a pattern without wildcards names exactly, or NULL. */
static const char *asked_alias(const struct ut_pattern *p, char *const *aliases)
{
	if (!utrace_glob_is_name(p->glob))
		return NULL;
	for (char *const *a = aliases; a && *a; a++)
		if (!strcmp(p->glob, *a))
			return *a;
	return NULL;
}

/*
 * Every include pattern that matches counts the function, excluded or not
 * (so "no function matches" is only said of patterns that matched nothing);
 * an exclusion counts the functions it actually removed.  names: every name
 * but the first; aliases: those of them that are the symbol's aliases.
 */
static bool select_names(struct ut_filter *f, const char *module_name, bool is_main,
			 const char *name, char *const *names, char *const *aliases,
			 const char **asked)
{
	bool included = false, excluded = false;

	for (size_t i = 0; i < f->n; i++) {
		struct ut_pattern *p = &f->v[i];

		if (p->exclude || !pattern_applies(p, module_name, is_main) ||
		    !glob_matches(p, name, names))
			continue;
		p->matches++;
		if (p->anywhere && !p->found_in)
			p->found_in = strdup(module_name);
		if (asked && !*asked)
			*asked = asked_alias(p, aliases);
		included = true;
	}
	if (!included)
		return false;
	for (size_t i = 0; i < f->n; i++) {
		struct ut_pattern *p = &f->v[i];

		if (!p->exclude || !pattern_applies(p, module_name, is_main) ||
		    !glob_matches(p, name, names))
			continue;
		p->matches++;
		excluded = true;
	}
	return !excluded;
}

bool utrace_filter_select(struct ut_filter *f, const char *module_name, bool is_main,
			  const char *name, char *const *aliases)
{
	return select_names(f, module_name, is_main, name, aliases, aliases, NULL);
}

bool utrace_filter_select_sym(struct ut_filter *f, const char *module_name, bool is_main,
			      const struct ut_sym *sym, const char **asked)
{
	char *cxx[] = { sym->demangled, sym->typed, sym->typed_bare };
	char *stack[16], **names = stack;
	size_t n = 0, nalias = 0;
	bool r;

	if (asked)
		*asked = NULL;
	while (sym->aliases && sym->aliases[nalias])
		nalias++;
	if (nalias + 4 > sizeof(stack) / sizeof(stack[0]))
		names = calloc(nalias + 4, sizeof(*names));
	if (!names)
		return false;
	for (size_t i = 0; i < nalias; i++)
		names[n++] = sym->aliases[i];
	for (size_t i = 0; i < sizeof(cxx) / sizeof(cxx[0]); i++)
		if (cxx[i])
			names[n++] = cxx[i];
	names[n] = NULL;
	r = select_names(f, module_name, is_main, sym->name, names, sym->aliases, asked);
	if (names != stack)
		free(names);
	return r;
}

size_t utrace_filter_widen(struct ut_filter *f)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++) {
		struct ut_pattern *p = &f->v[i];

		/* '*' is everything in the program, never every library's too */
		if (!p->exclude && !p->module && !p->matches && !p->anywhere &&
		    strcmp(p->glob, "*")) {
			p->anywhere = true;
			n++;
		}
	}
	/* what the user excluded by name is excluded wherever the names are now looked up */
	for (size_t i = 0; n && i < f->n; i++)
		if (f->v[i].exclude && !f->v[i].module)
			f->v[i].anywhere = true;
	return n;
}
