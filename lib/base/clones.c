// SPDX-License-Identifier: MIT
/* Clone and cold-part suffixes of function names (lib/base/clones.h). */
#include <stdbool.h>
#include <string.h>

#include "clones.h"

static const char *const clone_words[] = {
	"constprop", "isra", "part", "lto_priv", "llvm", "localalias", "specialized", "cold",
};

/* The dot-separated word at `w` (up to `.` or the end) is a clone suffix word. */
static bool is_clone_word(const char *w)
{
	size_t n = strcspn(w, ".");

	for (size_t i = 0; i < sizeof(clone_words) / sizeof(clone_words[0]); i++)
		if (strlen(clone_words[i]) == n && !strncmp(w, clone_words[i], n))
			return true;
	return false;
}

/* The first dot that starts a clone suffix, or NULL; never the name's first character. */
static const char *clone_suffix(const char *name)
{
	const char *dot = name[0] ? strchr(name + 1, '.') : NULL;

	for (; dot; dot = strchr(dot + 1, '.'))
		if (is_clone_word(dot + 1))
			return dot;
	return NULL;
}

size_t utrace_clone_base_len(const char *name)
{
	const char *dot = clone_suffix(name);

	return dot ? (size_t)(dot - name) : strlen(name);
}

bool utrace_is_cold_part(const char *name)
{
	const char *dot = clone_suffix(name);

	for (; dot; dot = strchr(dot + 1, '.'))
		if (strcspn(dot + 1, ".") == 4 && !strncmp(dot + 1, "cold", 4))
			return true;
	return false;
}
