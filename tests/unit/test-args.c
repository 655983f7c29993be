// SPDX-License-Identifier: MIT
/*
 * Unit tests for lib/output/args.c: prototypes read back from a trace
 * (untrusted: every malformed one refused) and the values they give words.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "args.h"

#define PROTO                                                              \
	"i,4,0,,int;i,2,0,d,short int;u,1,1,z,unsigned char;c,1,2,c,char;" \
	"e,4,3,k,enum color=RED:0:GREEN:5:BLUE:6:;b,1,4,b,_Bool"

static struct ut_event entry(const uint64_t *w, uint32_t nw)
{
	struct ut_event ev = { .kind = UT_REC_ENTRY, .nw = nw };

	memcpy(ev.w, w, nw * sizeof(*w));
	return ev;
}

static void args_parse_refuses_malformed(void **state)
{
	static const char *const bad[] = {
		"", /* no return entry */
		"i,4,0,,int;q,4,0,a,int", /* unknown kind */
		"i,4,0,,int;i,4,6,a,int", /* word past the recorded ones */
		"i,4,2,,int", /* a return word past rax, rdx */
		"i,4,0,,int;i,99,0,a,int", /* size */
		"i,4,0,,int;i,4,0,a", /* fields missing */
		"i,4,0,,int;ii,4,0,a,int",
		"i,4,-2,,int",
		"i,4x,0,,int",
	};
	struct ut_proto p;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(ut_proto_parse(bad[i], &p), -22);
	assert_int_equal(ut_proto_parse(PROTO, &p), 0);
	assert_int_equal(p.n, 5);
	assert_int_equal(p.ret.kind, 'i');
	assert_string_equal(p.v[3].type, "enum color");
	assert_string_equal(p.v[3].enums, "RED:0:GREEN:5:BLUE:6:");
	ut_proto_free(&p);
}

static void args_values_json_and_text(void **state)
{
	const uint64_t w[] = { 0xfffd, 200, 'A', 5, 0x100 };
	struct ut_event ev = entry(w, 5);
	char buf[1024];
	struct ut_sbuf b = { .p = buf, .cap = sizeof(buf) };
	struct ut_proto p;

	assert_int_equal(ut_proto_parse(PROTO, &p), 0);
	ut_args_json(&b, &p, &ev);
	assert_false(b.full);
	assert_string_equal(buf, ",\"args\":[{\"name\":\"d\",\"type\":\"short int\",\"value\":-3},"
				 "{\"name\":\"z\",\"type\":\"unsigned char\",\"value\":200},"
				 "{\"name\":\"c\",\"type\":\"char\",\"value\":\"A\"},"
				 "{\"name\":\"k\",\"type\":\"enum color\",\"value\":\"GREEN\"},"
				 "{\"name\":\"b\",\"type\":\"_Bool\",\"value\":false}]");
	b.len = 0;
	ut_args_text(&b, &p, &ev);
	assert_string_equal(buf, "d=-3, z=200, c='A', k=GREEN, b=false");
	/* words not recorded: shown as such */
	ev.nw = 2;
	b.len = 0;
	ut_args_text(&b, &p, &ev);
	assert_string_equal(buf, "d=-3, z=200, c=?, k=?, b=?");
	ut_proto_free(&p);
}

static void args_enum_unknown_value_and_odd_char(void **state)
{
	const uint64_t w[] = { 0, 7, 0, 7, 1 };
	struct ut_event ev = entry(w, 5);
	char buf[256];
	struct ut_sbuf b = { .p = buf, .cap = sizeof(buf) };
	struct ut_proto p;

	assert_int_equal(ut_proto_parse(PROTO, &p), 0);
	ut_args_text(&b, &p, &ev);
	assert_string_equal(buf, "d=0, z=7, c='\\x00', k=7, b=true");
	ut_proto_free(&p);
}

static void args_retval_and_cut(void **state)
{
	const uint64_t w[] = { (uint64_t)-7, 0 };
	struct ut_event ev = { .kind = UT_REC_EXIT, .nw = 2 };
	char buf[64], tiny[8];
	struct ut_sbuf b = { .p = buf, .cap = sizeof(buf) }, t = { .p = tiny, .cap = sizeof(tiny) };
	struct ut_proto p;

	memcpy(ev.w, w, sizeof(w));
	assert_int_equal(ut_proto_parse("i,8,0,,long int", &p), 0);
	ut_retval_json(&b, &p, &ev);
	assert_string_equal(buf, ",\"retval\":{\"type\":\"long int\",\"value\":-7}");
	b.len = 0;
	assert_true(ut_retval_text(&b, &p, &ev));
	assert_string_equal(buf, "-7");
	ut_retval_json(&t, &p, &ev);
	assert_true(t.full);
	assert_int_equal(strlen(tiny), sizeof(tiny) - 1);
	ut_proto_free(&p);
	assert_int_equal(ut_proto_parse("v,0,-1,,void", &p), 0);
	b.len = 0;
	buf[0] = 0;
	ut_retval_json(&b, &p, &ev);
	assert_string_equal(buf, "");
	assert_false(ut_retval_text(&b, &p, &ev));
	ut_proto_free(&p);
}

/* A spec's prototype (-A/-R): no type names, a return value shown in hex. */
static void args_untyped_entries(void **state)
{
	const uint64_t w[] = { 42, 0, 0, 0, 0, 5 };
	struct ut_event ev = entry(w, 6);
	char buf[128];
	struct ut_sbuf b = { .p = buf, .cap = sizeof(buf) };
	struct ut_proto p;

	assert_int_equal(ut_proto_parse("x,8,0,,;x,8,5,arg6,", &p), 0);
	ut_args_json(&b, &p, &ev);
	assert_string_equal(buf, ",\"args\":[{\"name\":\"arg6\",\"value\":\"0x5\"}]");
	b.len = 0;
	ev.kind = UT_REC_EXIT;
	ev.nw = 2;
	ut_retval_json(&b, &p, &ev);
	assert_string_equal(buf, ",\"retval\":{\"value\":\"0x2a\"}");
	ut_proto_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(args_parse_refuses_malformed),
		cmocka_unit_test(args_values_json_and_text),
		cmocka_unit_test(args_enum_unknown_value_and_odd_char),
		cmocka_unit_test(args_retval_and_cut),
		cmocka_unit_test(args_untyped_entries),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
