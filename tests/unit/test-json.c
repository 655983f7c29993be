// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/output/json.c: JSON string literals from arbitrary bytes.  The
 * checks use their own UTF-8 decoder (by code point ranges, unlike the
 * table-driven one under test) and a JSON string parser that undoes the
 * escaping, so every output is checked for validity and for losing nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "output.h"

#define OUT_MAX 1024

/* ---- reference UTF-8 decoder -------------------------------------------- */

#define MAX_CODE_POINT 0x10ffff
#define SURROGATE_LO 0xd800
#define SURROGATE_HI 0xdfff

/*
 * Decode one code point at s (n bytes left): returns its length, 0 when the
 * bytes there are not a well-formed UTF-8 sequence.
 */
static size_t ref_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
	static const uint32_t min_for_len[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t len, k;
	uint32_t v;

	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		len = 2;
		v = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3;
		v = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4;
		v = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (k = 1; k < len; k++) {
		if ((s[k] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (s[k] & 0x3f);
	}
	if (v < min_for_len[len] || v > MAX_CODE_POINT || (v >= SURROGATE_LO && v <= SURROGATE_HI))
		return 0;
	*cp = v;
	return len;
}

static bool ref_is_utf8(const unsigned char *s, size_t n)
{
	uint32_t cp;
	size_t i = 0, len;

	while (i < n) {
		len = ref_decode(s + i, n - i, &cp);
		if (!len)
			return false;
		i += len;
	}
	return true;
}

/* ---- reference JSON string parser ------------------------------------- */

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static char unescape_short(char ch)
{
	switch (ch) {
	case '"':
		return '"';
	case '\\':
		return '\\';
	case '/':
		return '/';
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	default:
		return 0;
	}
}

/*
 * Parse the JSON string literal lit (exactly len bytes, quotes included)
 * back into the bytes it stands for: \u00XX (the only \u form the escaper
 * uses) is the byte XX.  Fails the test on anything that is not valid JSON
 * or not valid UTF-8.  Returns the byte count.
 */
static size_t ref_unescape(const char *lit, size_t len, unsigned char *out)
{
	size_t i, n = 0;
	int k, v;

	assert_true(ref_is_utf8((const unsigned char *)lit, len));
	assert_true(len >= 2);
	assert_int_equal(lit[0], '"');
	assert_int_equal(lit[len - 1], '"');
	for (i = 1; i < len - 1; i++) {
		unsigned char ch = (unsigned char)lit[i];

		/* raw control characters and unescaped quotes are not JSON */
		assert_true(ch >= 0x20 && ch != '"');
		if (ch != '\\') {
			out[n++] = ch;
			continue;
		}
		assert_true(i + 1 < len - 1);
		ch = (unsigned char)lit[++i];
		if (ch != 'u') {
			assert_true(unescape_short((char)ch) != 0);
			out[n++] = (unsigned char)unescape_short((char)ch);
			continue;
		}
		assert_true(i + 4 < len - 1);
		for (k = 1, v = 0; k <= 4; k++) {
			assert_true(hexval(lit[i + (size_t)k]) >= 0);
			v = v * 16 + hexval(lit[i + (size_t)k]);
		}
		assert_true(v <= 0xff);
		out[n++] = (unsigned char)v;
		i += 4;
	}
	return n;
}

/* ---- helpers ---------------------------------------------------------- */

static void expect_escape(const char *in, size_t len, const char *expected)
{
	char out[OUT_MAX];
	size_t n = utrace_json_escape(out, sizeof(out), in, len);

	assert_int_equal(n, strlen(expected));
	assert_string_equal(out, expected);
}

/* Escape `in`, check the output is valid and unescapes back to `in`. */
static void check_round_trip(const unsigned char *in, size_t len)
{
	char out[OUT_MAX];
	unsigned char back[OUT_MAX];
	size_t n = utrace_json_escape(out, sizeof(out), (const char *)in, len);

	assert_true(n < sizeof(out));
	assert_int_equal(strlen(out), n);
	assert_int_equal(ref_unescape(out, n, back), len);
	assert_memory_equal(back, in, len);
}

/* Valid UTF-8 with nothing to escape comes out unchanged between the quotes. */
static bool needs_no_escape(const unsigned char *in, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (in[i] < 0x20 || in[i] == 0x7f || in[i] == '"' || in[i] == '\\')
			return false;
	return ref_is_utf8(in, len);
}

static void check_bytes(const unsigned char *in, size_t len)
{
	char out[OUT_MAX];
	size_t n;

	check_round_trip(in, len);
	if (!needs_no_escape(in, len))
		return;
	n = utrace_json_escape(out, sizeof(out), (const char *)in, len);
	assert_int_equal(n, len + 2);
	assert_memory_equal(out + 1, in, len);
}

/* ---- tests ------------------------------------------------------------ */

static void json_plain_ascii(void **state)
{
	expect_escape("main", 4, "\"main\"");
	expect_escape("", 0, "\"\"");
	expect_escape("a b/c~", 6, "\"a b/c~\"");
}

static void json_escapes_specials(void **state)
{
	expect_escape("\"\\", 2, "\"\\\"\\\\\"");
	expect_escape("\b\f\n\r\t", 5, "\"\\b\\f\\n\\r\\t\"");
	expect_escape("\x01\x1f\x7f", 3, "\"\\u0001\\u001f\\u007f\"");
	/* NUL inside the byte string is data, not an end */
	expect_escape("a\0b", 3, "\"a\\u0000b\"");
}

static void json_valid_utf8_passes(void **state)
{
	/* U+0080, U+07FF, U+0800, U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF */
	static const char s[] = "\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"
				"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf";

	expect_escape(s, sizeof(s) - 1,
		      "\"\xc2\x80\xdf\xbf\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf"
		      "\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"");
	expect_escape("caf\xc3\xa9", 5, "\"caf\xc3\xa9\"");
}

static void json_rejects_overlong(void **state)
{
	expect_escape("\xc0\x80", 2, "\"\\u00c0\\u0080\"");
	expect_escape("\xc1\xbf", 2, "\"\\u00c1\\u00bf\"");
	expect_escape("\xe0\x9f\xbf", 3, "\"\\u00e0\\u009f\\u00bf\"");
	expect_escape("\xf0\x8f\xbf\xbf", 4, "\"\\u00f0\\u008f\\u00bf\\u00bf\"");
}

static void json_rejects_surrogates(void **state)
{
	expect_escape("\xed\xa0\x80", 3, "\"\\u00ed\\u00a0\\u0080\"");
	expect_escape("\xed\xbf\xbf", 3, "\"\\u00ed\\u00bf\\u00bf\"");
}

static void json_rejects_beyond_max(void **state)
{
	expect_escape("\xf4\x90\x80\x80", 4, "\"\\u00f4\\u0090\\u0080\\u0080\"");
	expect_escape("\xf5\xff\xfe", 3, "\"\\u00f5\\u00ff\\u00fe\"");
}

static void json_rejects_truncated(void **state)
{
	/* a sequence cut short: its bytes are escaped, what follows is kept */
	expect_escape("\xe2\x82", 2, "\"\\u00e2\\u0082\"");
	expect_escape("\xe2\x82\x41", 3, "\"\\u00e2\\u0082A\"");
	expect_escape("\xf0\x9f\x98", 3, "\"\\u00f0\\u009f\\u0098\"");
	/* a lone continuation byte, then a good sequence */
	expect_escape("\x80\xc3\xa9", 3, "\"\\u0080\xc3\xa9\"");
	/* Latin-1 reads as itself */
	expect_escape("caf\xe9", 4, "\"caf\\u00e9\"");
}

static void json_reports_size_when_short(void **state)
{
	char out[8];
	size_t n;

	memset(out, 'X', sizeof(out));
	n = utrace_json_escape(out, sizeof(out), "a\nbcdef", 7);
	/* "a\nbcdef" in quotes: 10 characters, 7 fit before the NUL */
	assert_int_equal(n, 10);
	assert_string_equal(out, "\"a\\nbcd");
	n = utrace_json_escape(NULL, 0, "\xff", 1);
	assert_int_equal(n, 8);
	n = utrace_json_escape(out, 1, "abc", 3);
	assert_int_equal(n, 5);
	assert_string_equal(out, "");
}

static void json_exhaustive_short_strings(void **state)
{
	unsigned char in[2];
	unsigned int a, b;

	for (a = 0; a < 256; a++) {
		in[0] = (unsigned char)a;
		check_bytes(in, 1);
		for (b = 0; b < 256; b++) {
			in[1] = (unsigned char)b;
			check_bytes(in, 2);
		}
	}
}

/* Every three bytes behind a multi-byte lead; every fourth byte after F0..F4 leads. */
static void json_exhaustive_multibyte(void **state)
{
	static const unsigned char thirds[] = { 0x00, 0x41, 0x7f, 0x80, 0x8f,
						0x90, 0xbf, 0xc0, 0xe0, 0xff };
	unsigned char in[5];
	unsigned int a, b, c, d;
	size_t k;

	for (a = 0xc0; a < 0x100; a++) {
		in[0] = (unsigned char)a;
		for (b = 0; b < 256; b++) {
			in[1] = (unsigned char)b;
			for (c = 0; c < 256; c++) {
				in[2] = (unsigned char)c;
				check_bytes(in, 3);
			}
		}
	}
	for (a = 0xf0; a <= 0xf4; a++) {
		in[0] = (unsigned char)a;
		for (b = 0; b < 256; b++) {
			in[1] = (unsigned char)b;
			for (k = 0; k < sizeof(thirds); k++) {
				in[2] = thirds[k];
				for (d = 0; d < 256; d++) {
					in[3] = (unsigned char)d;
					in[4] = 'z';
					check_bytes(in, 4);
					check_bytes(in, 5);
				}
			}
		}
	}
}

static void json_random_strings(void **state)
{
	unsigned char in[64];
	uint64_t x = 0x243f6a8885a308d3ULL;
	size_t round, i, len;

	for (round = 0; round < 20000; round++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		len = x % sizeof(in);
		for (i = 0; i < len; i++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* bias towards bytes that start or continue sequences */
			in[i] = (unsigned char)(x & 1 ? 0x80 | (x >> 8) : x >> 8);
		}
		check_bytes(in, len);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(json_plain_ascii),
		cmocka_unit_test(json_escapes_specials),
		cmocka_unit_test(json_valid_utf8_passes),
		cmocka_unit_test(json_rejects_overlong),
		cmocka_unit_test(json_rejects_surrogates),
		cmocka_unit_test(json_rejects_beyond_max),
		cmocka_unit_test(json_rejects_truncated),
		cmocka_unit_test(json_reports_size_when_short),
		cmocka_unit_test(json_exhaustive_short_strings),
		cmocka_unit_test(json_exhaustive_multibyte),
		cmocka_unit_test(json_random_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
