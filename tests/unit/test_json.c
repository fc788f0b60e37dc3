/* json: stringified JSON in userinfo values (SGID_PARSE_DATA, the SDK's
 * parseData) becomes JSON only when it is exactly that, within the limits;
 * every hostile form stays a string. Every output is checked to be JSON. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "json.h"

/* The value as json_append_embedded writes it, checked to parse (inside
 * an object, as the profile holds it). Caller frees. */
static char *embed_n(const char *s, size_t len, size_t max_len)
{
	struct buf out = BUF_INIT, doc = BUF_INIT;
	CHECK_INT(json_append_embedded(&out, s, len, max_len), 0);
	buf_append_str(&doc, "{\"f\":");
	buf_append(&doc, out.data, out.len);
	buf_append_char(&doc, '}');
	json_value *v = json_parse(doc.data, doc.len, 1 << 20);
	CHECK(v != NULL);
	json_free(v);
	buf_free(&doc);
	char *r = strdup(buf_cstr(&out));
	buf_free(&out);
	return r;
}

static void expect(const char *in, const char *want)
{
	char *got = embed_n(in, strlen(in), 1 << 20);
	CHECK_STR(got, want);
	if (!got || strcmp(got, want) != 0)
		fprintf(stderr, "  input: %s\n", in);
	free(got);
}

/* Stays a string: exactly what json_append_string writes. */
static void expect_string(const char *in)
{
	struct buf want = BUF_INIT;
	json_append_string(&want, in, strlen(in));
	expect(in, buf_cstr(&want));
	buf_free(&want);
}

static void test_structured(void)
{
	/* the SDK test sample's shape, and MyInfo's children records */
	expect("[{\"nric\":\"T1872646C\",\"name\":\"LIM YONG JIN\",\"date_of_birth\":\"2018-05-05\"}]",
	       "[{\"nric\":\"T1872646C\",\"name\":\"LIM YONG JIN\",\"date_of_birth\":\"2018-05-05\"}]");
	expect("{\"a\": [1, 2.5, true, false, null],\n \"b\" : {}}",
	       "{\"a\":[1,2.5,true,false,null],\"b\":{}}");
	expect("[]", "[]");
	expect("{}", "{}");
	/* strings keep their escapes; the HTML-significant characters are
	 * escaped as in every other string we write */
	expect("[\"a\\\"b\\\\c\\/d\\n\\u00e9 \xc3\xa9\"]", "[\"a\\\"b\\\\c\\/d\\n\\u00e9 \xc3\xa9\"]");
	expect("[\"<script>&\x7f\"]", "[\"\\u003cscript\\u003e\\u0026\\u007f\"]");
	expect("[\"\\ud83d\\ude00\"]", "[\"\\ud83d\\ude00\"]"); /* a surrogate pair */
	/* the same key in two objects is no repeat */
	expect("[{\"a\":1},{\"a\":2}]", "[{\"a\":1},{\"a\":2}]");
}

static void test_shape(void)
{
	/* the first and last characters, no trimming (the SDK's check) */
	expect_string(" [1]");
	expect_string("[1] ");
	expect_string("[1}");
	expect_string("{\"a\":1]");
	expect_string("[");
	expect_string("]");
	expect_string("");
	expect_string("S1234567D");
	expect_string("\"[1]\"");
	/* not JSON, or trailing garbage between the brackets */
	expect_string("[1] x]");
	expect_string("[1][2]");
	expect_string("{\"a\":1}{\"b\":2}");
	expect_string("[1,]");
	expect_string("[NaN]");
	expect_string("[Infinity]");
	expect_string("['a']");
	expect_string("[01]");
	expect_string("{a:1}");
	expect_string("[\"tab\there\"]"); /* a raw control character: JSON.parse refuses it */
	expect_string("[\"nl\nhere\"]");
}

/* json_get_seconds: integers as json_get_int64, fractions rounded down
 * (MockPass's iat), nothing past 2^53, no strings, NaN or infinities. */
static void test_seconds(void)
{
	static const struct { const char *doc; int rc; int64_t want; } cases[] = {
		{ "{\"t\":1769738721}", 0, 1769738721 },
		{ "{\"t\":1769738721.731}", 0, 1769738721 },
		{ "{\"t\":1769738721.999999}", 0, 1769738721 },
		{ "{\"t\":-1.5}", 0, -2 },
		{ "{\"t\":1e3}", 0, 1000 },
		{ "{\"t\":9007199254740991.0}", 0, 9007199254740991LL },
		{ "{\"t\":1e300}", -1, 0 },
		{ "{\"t\":-1e300}", -1, 0 },
		{ "{\"t\":\"1769738721\"}", -1, 0 },
		{ "{\"t\":true}", -1, 0 },
		{ "{\"t\":null}", -1, 0 },
		{ "{\"u\":1}", -1, 0 },
		{ "{\"t\":9223372036854775807}", -1, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		json_value *v = json_parse(cases[i].doc, strlen(cases[i].doc), 1024);
		int64_t t = 0;
		CHECK(v != NULL);
		CHECK_INT(json_get_seconds(v, "t", &t), cases[i].rc);
		if (cases[i].rc == 0)
			CHECK_INT(t, cases[i].want);
		json_free(v);
	}
}

static void test_numbers(void)
{
	/* the exact text, never re-rounded */
	expect("[1e999]", "[1e999]");
	expect("[-1E-999]", "[-1E-999]");
	expect("[1.50,0.1,-0,1e2]", "[1.50,0.1,-0,1e2]");
	expect("[3.141592653589793238462643383279]", "[3.141592653589793238462643383279]");
	expect("[18446744073709551615]", "[18446744073709551615]");
	expect("[-9223372036854775808]", "[-9223372036854775808]");
	/* past 64 bits json-c would saturate the integer: stays a string */
	expect_string("[18446744073709551617]");
	/* RFC 8259 section 6 only: json-c takes these even when strict, and
	 * JSON.parse and Python's json refuse them */
	expect_string("[00]");
	expect_string("[-01]");
	expect_string("[1.]");
	expect_string("[1.e5]");
	expect_string("[-.5]");
	expect_string("{\"a\":[0,00]}");
	expect_string("[1E]");
	expect_string("[-]");
	expect_string("[1.5e+]");
	expect("[0,-0,0.0,-0.5e-3,1E+9,2e0,-0E-0]", "[0,-0,0.0,-0.5e-3,1E+9,2e0,-0E-0]");
	expect_string("[-9223372036854775809]");
	expect_string("{\"n\":123456789012345678901234567890}");
}

/* json-c takes single-quoted member names even when strict; JSON.parse
 * and Python's json refuse them, and a raw control byte in one would be
 * copied out: stays a string. */
static void test_single_quotes(void)
{
	expect_string("{'1':1}");
	expect_string("{'':1}");
	expect_string("{'\a':1}");
	expect_string("[{\"a\":{'-1':2}}]");
	expect_string("{'a':1}");
}

static void test_hostile(void)
{
	char deep[4096];
	/* JSON_MAX_DEPTH - 1 levels: JSON (the profile around it is one more) */
	int n = JSON_MAX_DEPTH - 1;
	memset(deep, '[', (size_t)n);
	memset(deep + n, ']', (size_t)n);
	deep[2 * n] = '\0';
	expect(deep, deep);
	n = JSON_MAX_DEPTH;
	memset(deep, '[', (size_t)n);
	memset(deep + n, ']', (size_t)n);
	deep[2 * n] = '\0';
	expect_string(deep);
	n = 2000;
	memset(deep, '[', (size_t)n);
	memset(deep + n, ']', (size_t)n);
	deep[2 * n] = '\0';
	expect_string(deep);
	/* repeated keys (last-wins in JSON.parse, first-wins elsewhere): a
	 * string, so no two readers see different data */
	expect_string("{\"a\":1,\"a\":2}");
	expect_string("{\"a\":{\"b\":1,\"b\":2}}");
	expect_string("{\"a\":1,\"\\u0061\":2}");
	expect_string("{\"a\":{\"x\":1},\"a\":2}");
	/* NUL: escaped anywhere, or a raw byte */
	expect_string("[\"a\\u0000b\"]");
	expect_string("{\"a\\u0000b\":1}");
	char *got = embed_n("[\"a\0b\"]", 7, 1 << 20);
	CHECK_STR(got, "\"[\\\"a\\u0000b\\\"]\"");
	free(got);
	/* bad UTF-8: a string, the bad byte as U+FFFD as ever */
	expect("[\"\xff\"]", "\"[\\\"\\ufffd\\\"]\"");
	expect_string("[\"\xc0\xaf\"]");
	/* lone surrogates: json-c would turn them into U+FFFD */
	expect_string("[\"\\ud800\"]");
	expect_string("[\"\\udc00x\"]");
	expect_string("[\"\\ud800\\u0041\"]");
	/* over the size limit */
	got = embed_n("[1,2,3]", 7, 6);
	CHECK_STR(got, "\"[1,2,3]\"");
	free(got);
}

static void test_append_value(void)
{
	const char *doc = "{\"f\":[1,\"a/b\",{\"c\":1e999}]}";
	json_value *v = json_parse(doc, strlen(doc), 1024);
	struct buf out = BUF_INIT;
	CHECK(v != NULL);
	CHECK_INT(json_append_value(&out, json_get(v, "f")), 0);
	CHECK_STR(buf_cstr(&out), "[1,\"a/b\",{\"c\":1e999}]");
	buf_free(&out);
	json_free(v);
}

int main(void)
{
	RUN(test_structured);
	RUN(test_shape);
	RUN(test_numbers);
	RUN(test_seconds);
	RUN(test_single_quotes);
	RUN(test_hostile);
	RUN(test_append_value);
	return harness_report("json");
}
