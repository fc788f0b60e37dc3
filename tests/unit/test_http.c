/* http: query and Cookie parsing against hostile input, field binding,
 * url_encode. */
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "http.h"
#include "util.h"

static enum http_err q(const char *s, struct kv_list *l)
{
	return http_parse_query(s, strlen(s), l);
}

static enum http_err ck(const char *s, const char *name, struct own_cookies *c)
{
	return http_find_cookies(s, strlen(s), name, c);
}

/* Our i-th cookie as a NUL-terminated string (tests only). */
static const char *own(const struct own_cookies *c, size_t i)
{
	static char v[HTTP_MAX_VALUE_LEN + 1];
	if (i >= c->n)
		return "(none)";
	memcpy(v, c->v[i].val, c->v[i].len);
	v[c->v[i].len] = '\0';
	return v;
}

/* A parse that failed leaves an empty list behind. */
static void check_empty(const struct kv_list *l)
{
	CHECK_INT(l->n, 0);
	CHECK(l->storage == NULL);
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);
	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void test_strerror(void)
{
	for (int e = 0; e < HTTP_ERR__MAX; e++)
		CHECK(strcmp(http_strerror((enum http_err)e), "unknown error") != 0);
	CHECK_STR(http_strerror(HTTP_ERR__MAX), "unknown error");
	CHECK_STR(http_strerror((enum http_err)-1), "unknown error");
}

static void test_query_basic(void)
{
	struct kv_list l;
	CHECK_INT(q("icecream=Vanilla&code=abc", &l), HTTP_OK);
	CHECK_INT(l.n, 2);
	CHECK_STR(kv_get(&l, "icecream")->val, "Vanilla");
	CHECK_INT(kv_get(&l, "icecream")->val_len, 7);
	CHECK_STR(kv_get(&l, "code")->val, "abc");
	CHECK(kv_get(&l, "state") == NULL);
	CHECK_INT(kv_count(&l, "code"), 1);
	CHECK_INT(kv_count(&l, "nope"), 0);
	kv_list_free(&l);
	check_empty(&l);
	kv_list_free(&l); /* twice is fine */
	kv_list_free(NULL);
}

static void test_query_empty_forms(void)
{
	struct kv_list l;
	CHECK_INT(http_parse_query(NULL, 0, &l), HTTP_OK);
	CHECK_INT(l.n, 0);
	kv_list_free(&l);
	CHECK_INT(q("", &l), HTTP_OK);
	CHECK_INT(l.n, 0);
	kv_list_free(&l);
	/* empty pairs are skipped */
	CHECK_INT(q("&&a=1&&&b=2&", &l), HTTP_OK);
	CHECK_INT(l.n, 2);
	CHECK_STR(kv_get(&l, "b")->val, "2");
	kv_list_free(&l);
	/* a key without '=' has the empty value; '=' inside a value stays */
	CHECK_INT(q("flag&x=a=b", &l), HTTP_OK);
	CHECK_STR(kv_get(&l, "flag")->val, "");
	CHECK_INT(kv_get(&l, "flag")->val_len, 0);
	CHECK_STR(kv_get(&l, "x")->val, "a=b");
	kv_list_free(&l);
	CHECK_INT(q("k=", &l), HTTP_OK);
	CHECK_STR(kv_get(&l, "k")->val, "");
	kv_list_free(&l);
}

static void test_query_empty_key(void)
{
	struct kv_list l;
	CHECK_INT(q("=v", &l), HTTP_ERR_EMPTY_KEY);
	check_empty(&l);
	CHECK_INT(q("a=1&=", &l), HTTP_ERR_EMPTY_KEY);
	check_empty(&l);
	CHECK_INT(q("a=1&=2", &l), HTTP_ERR_EMPTY_KEY);
	check_empty(&l);
}

static void test_query_decoding(void)
{
	struct kv_list l;
	CHECK_INT(q("a=hello+world&b=x%20y&c=%2B%26%3d&d%5B%5D=1", &l), HTTP_OK);
	CHECK_STR(kv_get(&l, "a")->val, "hello world");
	CHECK_STR(kv_get(&l, "b")->val, "x y");
	CHECK_STR(kv_get(&l, "c")->val, "+&=");
	CHECK_STR(kv_get(&l, "d[]")->val, "1");
	kv_list_free(&l);
	/* '+' in a key is a space too */
	CHECK_INT(q("my+key=1", &l), HTTP_OK);
	CHECK(kv_get(&l, "my key") != NULL);
	kv_list_free(&l);
	/* UTF-8, percent-encoded: "café" and U+1F366 */
	CHECK_INT(q("n=caf%C3%A9&ice=%F0%9F%8D%A6", &l), HTTP_OK);
	CHECK_STR(kv_get(&l, "n")->val, "caf\xc3\xa9");
	CHECK_INT(kv_get(&l, "n")->val_len, 5);
	CHECK_STR(kv_get(&l, "ice")->val, "\xf0\x9f\x8d\xa6");
	kv_list_free(&l);
}

static void test_query_bad_encoding(void)
{
	static const char *const bad[] = {
		"a=%zz", "a=%4", "a=%", "a=x%", "a=%g0", "a=%0g", "%zz=1", "a=1&b=%%41",
		"a=\x01", "a=\x1f", "a=b\x7f", "a=\t", "a=\r\n", "a\nb=1",
	};
	struct kv_list l;
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		CHECK_INT(q(bad[i], &l), HTTP_ERR_BAD_ENCODING);
		check_empty(&l);
	}
}

static void test_query_nul(void)
{
	struct kv_list l;
	CHECK_INT(q("a=%00", &l), HTTP_ERR_NUL);
	check_empty(&l);
	CHECK_INT(q("a=x%00y", &l), HTTP_ERR_NUL);
	CHECK_INT(q("%00=1", &l), HTTP_ERR_NUL);
	/* a raw NUL within len */
	CHECK_INT(http_parse_query("a=b\0c", 5, &l), HTTP_ERR_NUL);
	check_empty(&l);
	/* len bounds the parse: bytes after it are never read */
	CHECK_INT(http_parse_query("a=b%00", 3, &l), HTTP_OK);
	CHECK_STR(kv_get(&l, "a")->val, "b");
	kv_list_free(&l);
}

static void test_query_decoded_controls_pass(void)
{
	/* %0A is a legal encoding: the field validators refuse it */
	struct kv_list l;
	CHECK_INT(q("a=x%0Ay", &l), HTTP_OK);
	CHECK_STR(kv_get(&l, "a")->val, "x\ny");
	kv_list_free(&l);
}

static void test_query_duplicates(void)
{
	struct kv_list l;
	CHECK_INT(q("state=a&state=b", &l), HTTP_ERR_DUPLICATE);
	check_empty(&l);
	/* the same key spelt two ways is still the same key */
	CHECK_INT(q("state=a&st%61te=b", &l), HTTP_ERR_DUPLICATE);
	CHECK_INT(q("a+b=1&a%20b=2", &l), HTTP_ERR_DUPLICATE);
	CHECK_INT(q("x&x", &l), HTTP_ERR_DUPLICATE);
	/* case differs: different keys */
	CHECK_INT(q("a=1&A=2", &l), HTTP_OK);
	CHECK_INT(l.n, 2);
	kv_list_free(&l);
}

static void test_query_limits(void)
{
	struct kv_list l;
	struct buf b = BUF_INIT;
	char *s;

	/* the whole query: 4096 ok, 4097 refused */
	s = repeat('v', HTTP_MAX_QUERY_LEN + 1);
	memcpy(s, "k=", 2);
	CHECK_INT(http_parse_query(s, HTTP_MAX_QUERY_LEN + 1, &l), HTTP_ERR_TOO_LONG);
	check_empty(&l);
	/* 4096 bytes but a value over 2048 */
	CHECK_INT(http_parse_query(s, HTTP_MAX_QUERY_LEN, &l), HTTP_ERR_TOO_LONG);
	check_empty(&l);
	free(s);

	/* a value of exactly 2048 passes, 2049 does not */
	s = repeat('v', 2 + HTTP_MAX_VALUE_LEN + 1);
	memcpy(s, "k=", 2);
	CHECK_INT(http_parse_query(s, 2 + HTTP_MAX_VALUE_LEN, &l), HTTP_OK);
	CHECK_INT(kv_get(&l, "k")->val_len, HTTP_MAX_VALUE_LEN);
	kv_list_free(&l);
	CHECK_INT(http_parse_query(s, 2 + HTTP_MAX_VALUE_LEN + 1, &l), HTTP_ERR_TOO_LONG);
	free(s);

	/* the limit is on the decoded value: 2048 "%41" triplets decode to 2048 */
	buf_append_str(&b, "k=");
	for (int i = 0; i < 1300; i++)
		buf_append_str(&b, "%41");
	CHECK_INT(http_parse_query(b.data, b.len, &l), HTTP_OK);
	CHECK_INT(kv_get(&l, "k")->val_len, 1300);
	kv_list_free(&l);
	buf_free(&b);

	/* keys: 128 ok, 129 refused */
	s = repeat('k', HTTP_MAX_KEY_LEN + 1);
	CHECK_INT(http_parse_query(s, HTTP_MAX_KEY_LEN, &l), HTTP_OK);
	kv_list_free(&l);
	CHECK_INT(http_parse_query(s, HTTP_MAX_KEY_LEN + 1, &l), HTTP_ERR_TOO_LONG);
	check_empty(&l);
	free(s);
}

static void test_query_count(void)
{
	struct kv_list l;
	struct buf b = BUF_INIT;

	for (int i = 0; i < HTTP_MAX_PARAMS; i++)
		buf_printf(&b, "%sp%d=%d", i ? "&" : "", i, i);
	CHECK_INT(http_parse_query(b.data, b.len, &l), HTTP_OK);
	CHECK_INT(l.n, HTTP_MAX_PARAMS);
	CHECK_STR(kv_get(&l, "p31")->val, "31");
	kv_list_free(&l);
	buf_append_str(&b, "&p32=32");
	CHECK_INT(http_parse_query(b.data, b.len, &l), HTTP_ERR_TOO_MANY);
	check_empty(&l);
	buf_free(&b);

	/* 33 bare keys, the shortest input that breaks the count */
	for (int i = 0; i < HTTP_MAX_PARAMS + 1; i++)
		buf_printf(&b, "%s%c%c", i ? "&" : "", 'a' + i / 26, 'a' + i % 26);
	CHECK_INT(http_parse_query(b.data, b.len, &l), HTTP_ERR_TOO_MANY);
	buf_free(&b);

	/* thousands of '&' are empty pairs, not parameters */
	char *s = repeat('&', HTTP_MAX_QUERY_LEN);
	CHECK_INT(http_parse_query(s, HTTP_MAX_QUERY_LEN, &l), HTTP_OK);
	CHECK_INT(l.n, 0);
	kv_list_free(&l);
	free(s);
}

static void test_cookies_basic(void)
{
	struct own_cookies c;
	CHECK_INT(ck("exampleAppSession=abc123; theme=dark", "exampleAppSession", &c), HTTP_OK);
	CHECK_INT(c.n, 1);
	CHECK_STR(own(&c, 0), "abc123");
	CHECK_INT(c.foreign, 1);
	CHECK_INT(c.skipped, 0);
	/* no space after ';', extra spaces, trailing ';' */
	CHECK_INT(ck("a=1;b=2;  c=3  ; ", "c", &c), HTTP_OK);
	CHECK_INT(c.n, 1);
	CHECK_STR(own(&c, 0), "3");
	CHECK_INT(c.foreign, 2);
	/* empty segments are skipped, and not counted */
	CHECK_INT(ck(";;a=1;; ;", "a", &c), HTTP_OK);
	CHECK_INT(c.n, 1);
	CHECK_INT(c.skipped, 0);
	CHECK_INT(ck("", "a", &c), HTTP_OK);
	CHECK_INT(c.n, 0);
	/* names match exactly: no prefix, no case folding */
	CHECK_INT(ck("sid2=x; Sid=y; si=z", "sid", &c), HTTP_OK);
	CHECK_INT(c.n, 0);
	CHECK_INT(c.foreign, 3);
}

static void test_cookies_values(void)
{
	struct own_cookies c;
	/* empty values, '=' inside values, no percent-decoding */
	CHECK_INT(ck("a=; b=x=y; c=%41+", "a", &c), HTTP_OK);
	CHECK_INT(c.n, 1);
	CHECK_INT(c.v[0].len, 0);
	CHECK_INT(ck("a=; b=x=y; c=%41+", "b", &c), HTTP_OK);
	CHECK_STR(own(&c, 0), "x=y");
	CHECK_INT(ck("a=; b=x=y; c=%41+", "c", &c), HTTP_OK);
	CHECK_STR(own(&c, 0), "%41+");
	/* surrounding quotes removed; a lone quote kept */
	CHECK_INT(ck("q=\"quoted\"; e=\"\"", "q", &c), HTTP_OK);
	CHECK_STR(own(&c, 0), "quoted");
	CHECK_INT(ck("q=\"quoted\"; e=\"\"", "e", &c), HTTP_OK);
	CHECK_STR(own(&c, 0), "");
	CHECK_INT(ck("one=\"x; in=a\"b", "one", &c), HTTP_OK);
	CHECK_STR(own(&c, 0), "\"x");
	/* spaces around '=' trimmed; inner spaces kept */
	CHECK_INT(ck("sp = a b ; x=1", "sp", &c), HTTP_OK);
	CHECK_STR(own(&c, 0), "a b");
	/* non-ASCII bytes pass untouched */
	CHECK_INT(ck("u=caf\xc3\xa9", "u", &c), HTTP_OK);
	CHECK_STR(own(&c, 0), "caf\xc3\xa9");
}

/* What other apps put in the header never fails the request: each broken
 * pair is skipped and counted, and ours is still found. */
static void test_cookies_foreign_junk(void)
{
	struct own_cookies c;
	CHECK_INT(ck("novalue; sid=ours", "sid", &c), HTTP_OK);
	CHECK_INT(c.n, 1);
	CHECK_STR(own(&c, 0), "ours");
	CHECK_INT(c.skipped, 1);
	CHECK_INT(ck("a=1; flag; =v; sid=ours;  =w", "sid", &c), HTTP_OK);
	CHECK_STR(own(&c, 0), "ours");
	CHECK_INT(c.skipped, 3);
	CHECK_INT(c.foreign, 1);
	/* control bytes in a foreign pair: skipped; in ours: ours is skipped */
	CHECK_INT(ck("a=\x01; sid=ours; b=\x7f", "sid", &c), HTTP_OK);
	CHECK_STR(own(&c, 0), "ours");
	CHECK_INT(c.skipped, 2);
	CHECK_INT(ck("sid=o\x01urs; a=1", "sid", &c), HTTP_OK);
	CHECK_INT(c.n, 0);
	CHECK_INT(c.skipped, 1);
	/* a tab is a control byte: "\tsid" is not our name */
	CHECK_INT(ck("a=1;\tsid=2", "sid", &c), HTTP_OK);
	CHECK_INT(c.n, 0);
	/* CR LF cannot smuggle a pair of ours past the check */
	CHECK_INT(ck("a=1\r\nsid=x", "sid", &c), HTTP_OK);
	CHECK_INT(c.n, 0);
	/* a raw NUL ends nothing: the pair holding it is skipped */
	CHECK_INT(http_find_cookies("a=1\0b; sid=ok", 13, "sid", &c), HTTP_OK);
	CHECK_STR(own(&c, 0), "ok");
	CHECK_INT(c.skipped, 1);
}

static void test_cookies_duplicates(void)
{
	struct own_cookies c;
	CHECK_INT(ck("s=one; other=x; s=two", "s", &c), HTTP_OK);
	CHECK_INT(c.n, 2);
	CHECK_STR(own(&c, 0), "one");
	CHECK_STR(own(&c, 1), "two");
	/* more of ours than we consider: the first ones kept, the rest counted */
	struct buf b = BUF_INIT;
	for (int i = 0; i < HTTP_MAX_OWN_COOKIES + 3; i++)
		buf_printf(&b, "s=%d; ", i);
	CHECK_INT(http_find_cookies(b.data, b.len, "s", &c), HTTP_OK);
	CHECK_INT(c.n, HTTP_MAX_OWN_COOKIES);
	CHECK_STR(own(&c, 0), "0");
	CHECK_INT(c.skipped, 3);
	buf_free(&b);
}

static void test_cookies_limits(void)
{
	struct own_cookies c;
	struct buf b = BUF_INIT;
	char *s;

	/* the whole header is bounded: one byte over and nothing is read */
	s = repeat('x', HTTP_MAX_COOKIE_LEN + 1);
	memcpy(s, "a=", 2);
	memcpy(s + HTTP_MAX_COOKIE_LEN - 6, "; s=ok", 6);
	CHECK_INT(http_find_cookies(s, HTTP_MAX_COOKIE_LEN, "s", &c), HTTP_OK);
	CHECK_INT(c.n, 1); /* a foreign value of 16 KB is only skipped over */
	CHECK_INT(c.foreign, 1);
	CHECK_INT(http_find_cookies(s, HTTP_MAX_COOKIE_LEN + 1, "s", &c), HTTP_ERR_TOO_LONG);
	CHECK_INT(c.n, 0);
	free(s);

	/* our value: 2048 bytes ok, 2049 skipped */
	buf_append_str(&b, "s=");
	for (int i = 0; i < HTTP_MAX_VALUE_LEN; i++)
		buf_append_char(&b, 'v');
	CHECK_INT(http_find_cookies(b.data, b.len, "s", &c), HTTP_OK);
	CHECK_INT(c.n, 1);
	CHECK_INT(c.v[0].len, HTTP_MAX_VALUE_LEN);
	buf_append_str(&b, "v; s=short");
	CHECK_INT(http_find_cookies(b.data, b.len, "s", &c), HTTP_OK);
	CHECK_INT(c.n, 1);
	CHECK_STR(own(&c, 0), "short");
	CHECK_INT(c.skipped, 1);
	buf_free(&b);

	/* any number of foreign cookies */
	for (int i = 0; i < 200; i++)
		buf_printf(&b, "c%d=%d; ", i, i);
	buf_append_str(&b, "s=mine");
	CHECK_INT(http_find_cookies(b.data, b.len, "s", &c), HTTP_OK);
	CHECK_STR(own(&c, 0), "mine");
	CHECK_INT(c.foreign, 200);
	buf_free(&b);
}

/* The Cookie header the apps behind the gateway get: ours ("sid") gone,
 * every other pair byte for byte, in order. */
static void test_cookies_without(void)
{
	static const struct { const char *in, *want; } cases[] = {
		{ "sid=abc", "" },
		{ "sid=\"abc\"", "" },
		{ " sid = abc ", "" },
		{ "sid=a; sid=b; sid=c", "" },
		{ "a=1; sid=x; b=2", "a=1; b=2" },
		{ "a=1;sid=x;b=2", "a=1;b=2" },
		{ "sid=x; a=1", "a=1" },
		{ "a=1; sid=x", "a=1" },
		{ "a=1; sid=x; ", "a=1;" },
		{ "sid=x;  a=1;   b=2  ", "a=1;   b=2" },
		{ "a=1; sid=x; b=2; sid=y; c=3", "a=1; b=2; c=3" },
		/* names that merely contain ours, and values that do, stay */
		{ "mysid=1; sid2=2; sid=x; SID=3; x=sid=4; sid_=5", "mysid=1; sid2=2; SID=3; x=sid=4; sid_=5" },
		{ "a=sid; b=\"sid=x\"", "a=sid; b=\"sid=x\"" },
		/* nothing of ours: the header as it came, spacing, junk and all */
		{ "a=1;  b=2 ;c=\"q r\"; ; d; =e", "a=1;  b=2 ;c=\"q r\"; ; d; =e" },
		{ " a=1 ", " a=1 " },
		{ "", "" },
		/* a nameless pair is never ours; empty pairs before the first kept go */
		{ "sid; a=1", "sid; a=1" },
		{ "sid=x; ; a=1", "a=1" },
		/* a pair with a control byte is dropped, ours or not */
		{ "a=1; b=\x01; sid=x\x7f; c=3", "a=1; c=3" },
		{ "a=\t1; b=2", "b=2" },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct buf out = BUF_INIT;
		CHECK_INT(http_cookies_without(cases[i].in, strlen(cases[i].in), "sid", &out), HTTP_OK);
		CHECK_STR(buf_cstr(&out), cases[i].want);
		buf_free(&out);
	}
	/* appends to what out holds, and trims only its own */
	struct buf out = BUF_INIT;
	buf_append_str(&out, "x ");
	CHECK_INT(http_cookies_without("sid=1 ", 6, "sid", &out), HTTP_OK);
	CHECK_STR(buf_cstr(&out), "x ");
	buf_free(&out);
	/* bounded like http_find_cookies: over the limit, nothing */
	char *s = repeat('x', HTTP_MAX_COOKIE_LEN + 1);
	memcpy(s, "a=", 2);
	CHECK_INT(http_cookies_without(s, HTTP_MAX_COOKIE_LEN + 1, "sid", &out), HTTP_ERR_TOO_LONG);
	CHECK_INT(out.len, 0);
	CHECK_INT(http_cookies_without(s, HTTP_MAX_COOKIE_LEN, "sid", &out), HTTP_OK);
	CHECK_INT(out.len, HTTP_MAX_COOKIE_LEN);
	buf_free(&out);
	free(s);
}

static bool only_alpha(const char *v, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (!((v[i] >= 'a' && v[i] <= 'z') || (v[i] >= 'A' && v[i] <= 'Z')))
			return false;
	return true;
}

static const struct field_spec specs[] = {
	{"code", true, 64, NULL},
	{"state", true, 16, only_alpha},
	{"icecream", false, 32, only_alpha},
};

static void test_bind_fields(void)
{
	struct kv_list l;
	const struct kv *vals[ARRAY_LEN(specs)];
	const char *bad;

	CHECK_INT(q("code=c1&state=abc&other=ignored", &l), HTTP_OK);
	CHECK_INT(http_bind_fields(&l, specs, ARRAY_LEN(specs), vals, &bad), FIELD_OK);
	CHECK(bad == NULL);
	CHECK_STR(vals[0]->val, "c1");
	CHECK_STR(vals[1]->val, "abc");
	CHECK(vals[2] == NULL); /* optional and absent */
	kv_list_free(&l);

	CHECK_INT(q("state=abc", &l), HTTP_OK);
	CHECK_INT(http_bind_fields(&l, specs, ARRAY_LEN(specs), vals, &bad), FIELD_MISSING);
	CHECK_STR(bad, "code");
	for (size_t i = 0; i < ARRAY_LEN(vals); i++)
		CHECK(vals[i] == NULL);
	kv_list_free(&l);

	/* a required field sent empty is missing */
	CHECK_INT(q("code=&state=abc", &l), HTTP_OK);
	CHECK_INT(http_bind_fields(&l, specs, ARRAY_LEN(specs), vals, &bad), FIELD_MISSING);
	CHECK_STR(bad, "code");
	kv_list_free(&l);

	CHECK_INT(q("code=c&state=ab1", &l), HTTP_OK);
	CHECK_INT(http_bind_fields(&l, specs, ARRAY_LEN(specs), vals, &bad), FIELD_INVALID);
	CHECK_STR(bad, "state");
	CHECK(vals[0] == NULL); /* nothing half-bound */
	kv_list_free(&l);

	/* over max_len */
	CHECK_INT(q("code=c&state=abcdefghijklmnopq", &l), HTTP_OK);
	CHECK_INT(http_bind_fields(&l, specs, ARRAY_LEN(specs), vals, &bad), FIELD_INVALID);
	CHECK_STR(bad, "state");
	kv_list_free(&l);

	/* an optional field, present and invalid */
	CHECK_INT(q("code=c&state=ab&icecream=%3Cscript%3E", &l), HTTP_OK);
	CHECK_INT(http_bind_fields(&l, specs, ARRAY_LEN(specs), vals, NULL), FIELD_INVALID);
	kv_list_free(&l);

	/* a parameter sent twice is ambiguous */
	static const struct field_spec cs[] = {{"sid", true, 0, NULL}};
	const struct kv *cv[1];
	l.n = 0;
	l.items[l.n++] = (struct kv){ "sid", 3, "a", 1 };
	l.items[l.n++] = (struct kv){ "sid", 3, "b", 1 };
	CHECK_INT(http_bind_fields(&l, cs, 1, cv, &bad), FIELD_INVALID);
	CHECK_STR(bad, "sid");
	l.n = 1;
	CHECK_INT(http_bind_fields(&l, cs, 1, cv, &bad), FIELD_OK);
	CHECK_STR(cv[0]->val, "a");
	l.n = 0;

	/* an empty list: only optional fields pass */
	struct kv_list none;
	CHECK_INT(q("", &none), HTTP_OK);
	CHECK_INT(http_bind_fields(&none, specs + 2, 1, vals, &bad), FIELD_OK);
	CHECK_INT(http_bind_fields(&none, specs, 1, vals, &bad), FIELD_MISSING);
	kv_list_free(&none);
}

static void test_percent_decode(void)
{
	char out[16];
	size_t n;
	CHECK_INT(http_percent_decode("a+b%2F", 6, false, out, &n), HTTP_OK);
	CHECK_STR(out, "a+b/");
	CHECK_INT(n, 4);
	CHECK_INT(http_percent_decode("a+b", 3, true, out, &n), HTTP_OK);
	CHECK_STR(out, "a b");
	CHECK_INT(http_percent_decode("%00", 3, false, out, &n), HTTP_ERR_NUL);
	CHECK_INT(http_percent_decode("%0", 2, false, out, &n), HTTP_ERR_BAD_ENCODING);
}

static void test_url_encode(void)
{
	struct buf b = BUF_INIT;
	CHECK_INT(url_encode(&b, "AZaz09-._~", 10), 0);
	CHECK_STR(buf_cstr(&b), "AZaz09-._~");
	buf_reset(&b);
	CHECK_INT(url_encode(&b, "a b+c/d?e=f&g#h%", 16), 0);
	CHECK_STR(buf_cstr(&b), "a%20b%2Bc%2Fd%3Fe%3Df%26g%23h%25");
	buf_reset(&b);
	CHECK_INT(url_encode(&b, "caf\xc3\xa9\n", 6), 0);
	CHECK_STR(buf_cstr(&b), "caf%C3%A9%0A");
	buf_reset(&b);
	CHECK_INT(url_encode(&b, "\0x", 2), 0);
	CHECK_STR(buf_cstr(&b), "%00x");
	buf_reset(&b);
	CHECK_INT(url_encode(&b, "", 0), 0);
	CHECK_STR(buf_cstr(&b), "");
	/* appends */
	buf_append_str(&b, "scope=");
	CHECK_INT(url_encode(&b, "openid myinfo.name", 18), 0);
	CHECK_STR(buf_cstr(&b), "scope=openid%20myinfo.name");
	buf_free(&b);

	/* round trip through the query parser */
	struct kv_list l;
	struct buf qs = BUF_INIT;
	char all[255];
	for (int i = 0; i < 255; i++)
		all[i] = (char)(i + 1);
	buf_append_str(&qs, "v=");
	url_encode(&qs, all, sizeof(all));
	CHECK_INT(http_parse_query(qs.data, qs.len, &l), HTTP_OK);
	CHECK_INT(kv_get(&l, "v")->val_len, 255);
	CHECK(memcmp(kv_get(&l, "v")->val, all, 255) == 0);
	kv_list_free(&l);
	buf_free(&qs);
}

int main(void)
{
	RUN(test_strerror);
	RUN(test_query_basic);
	RUN(test_query_empty_forms);
	RUN(test_query_empty_key);
	RUN(test_query_decoding);
	RUN(test_query_bad_encoding);
	RUN(test_query_nul);
	RUN(test_query_decoded_controls_pass);
	RUN(test_query_duplicates);
	RUN(test_query_limits);
	RUN(test_query_count);
	RUN(test_cookies_basic);
	RUN(test_cookies_values);
	RUN(test_cookies_foreign_junk);
	RUN(test_cookies_duplicates);
	RUN(test_cookies_limits);
	RUN(test_cookies_without);
	RUN(test_bind_fields);
	RUN(test_percent_decode);
	RUN(test_url_encode);
	return harness_report("test_http");
}
