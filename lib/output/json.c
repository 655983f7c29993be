// SPDX-License-Identifier: MIT
/*
 * JSON string literals from arbitrary bytes.  Symbol names and paths come
 * from the traced program's files, so they may hold anything; the output must
 * still be valid UTF-8 JSON.  Well-formed UTF-8 (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF) passes through; every byte that is
 * not part of a well-formed sequence becomes \u00XX of its own value, so a
 * Latin-1 name reads as intended and nothing is silently dropped.
 */
#include <stdbool.h>

#include "output.h"

struct json_buf {
	char *buf;
	size_t cap;
	size_t len; /* bytes the full literal takes, even past cap */
};

static void put(struct json_buf *b, char ch)
{
	/* keep the last byte of buf for the terminating NUL */
	if (b->len + 1 < b->cap)
		b->buf[b->len] = ch;
	b->len++;
}

static void put_u00(struct json_buf *b, unsigned char byte)
{
	static const char hex[] = "0123456789abcdef";

	put(b, '\\');
	put(b, 'u');
	put(b, '0');
	put(b, '0');
	put(b, hex[byte >> 4]);
	put(b, hex[byte & 0xf]);
}

/* The two-character escape of an ASCII byte, or 0 when it has none. */
static char short_escape(unsigned char byte)
{
	switch (byte) {
	case '"':
		return '"';
	case '\\':
		return '\\';
	case '\b':
		return 'b';
	case '\f':
		return 'f';
	case '\n':
		return 'n';
	case '\r':
		return 'r';
	case '\t':
		return 't';
	default:
		return 0;
	}
}

#define ASCII_DEL 0x7f
#define ASCII_SPACE 0x20

static void put_ascii(struct json_buf *b, unsigned char byte)
{
	char esc = short_escape(byte);

	if (esc) {
		put(b, '\\');
		put(b, esc);
	} else if (byte < ASCII_SPACE || byte == ASCII_DEL) {
		/* DEL is legal JSON but no friend of terminals */
		put_u00(b, byte);
	} else {
		put(b, (char)byte);
	}
}

static bool is_cont(unsigned char byte)
{
	return (byte & 0xc0) == 0x80;
}

/*
 * Length of the well-formed UTF-8 sequence of 2..4 bytes at s (n bytes
 * left), or 0.  The second byte's range is what excludes overlong forms
 * (E0, F0), surrogates (ED) and code points above U+10FFFF (F4), per the
 * table in RFC 3629 section 4.
 */
static size_t utf8_seq_len(const unsigned char *s, size_t n)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len, k;

	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		len = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		len = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		len = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0;
	else if (s[0] == 0xed)
		hi = 0x9f;
	else if (s[0] == 0xf0)
		lo = 0x90;
	else if (s[0] == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (k = 2; k < len; k++)
		if (!is_cont(s[k]))
			return 0;
	return len;
}

size_t utrace_json_escape(char *buf, size_t cap, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	struct json_buf b = { .buf = buf, .cap = cap, .len = 0 };
	size_t i = 0, n, k;

	put(&b, '"');
	while (i < len) {
		if (p[i] < 0x80) {
			put_ascii(&b, p[i++]);
			continue;
		}
		n = utf8_seq_len(p + i, len - i);
		if (!n) {
			put_u00(&b, p[i++]);
			continue;
		}
		for (k = 0; k < n; k++)
			put(&b, (char)p[i++]);
	}
	put(&b, '"');
	if (cap)
		buf[b.len < cap ? b.len : cap - 1] = '\0';
	return b.len;
}
