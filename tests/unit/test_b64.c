/* base64url: RFC 4648 vectors, strictness and round trips. */
#include <stdint.h>
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "harness.h"

/* RFC 4648 §10 vectors; base64url without padding matches them here
 * because none of the outputs contain '+' or '/'. */
static const struct { const char *in, *out; } rfc4648[] = {
	{ "", "" },
	{ "f", "Zg" },
	{ "fo", "Zm8" },
	{ "foo", "Zm9v" },
	{ "foob", "Zm9vYg" },
	{ "fooba", "Zm9vYmE" },
	{ "foobar", "Zm9vYmFy" },
};

static void test_rfc4648_encode(void)
{
	for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
		struct buf b = BUF_INIT;
		size_t n = strlen(rfc4648[i].in);
		CHECK(b64url_encode((const uint8_t *)rfc4648[i].in, n, &b) == 0);
		CHECK_STR(buf_cstr(&b), rfc4648[i].out);
		CHECK_INT(b64url_encoded_len(n), strlen(rfc4648[i].out));
		buf_free(&b);
	}
}

static void test_rfc4648_decode(void)
{
	for (size_t i = 0; i < sizeof rfc4648 / sizeof rfc4648[0]; i++) {
		struct buf b = BUF_INIT;
		const char *s = rfc4648[i].out;
		CHECK(b64url_decode(s, strlen(s), &b) == 0);
		CHECK_INT(b.len, strlen(rfc4648[i].in));
		CHECK_STR(buf_cstr(&b), rfc4648[i].in);
		buf_free(&b);
	}
}

static void test_url_alphabet(void)
{
	/* 0xfb 0xef 0xbe is "----" in base64url ("++++" in base64). */
	static const uint8_t raw[] = { 0xfb, 0xef, 0xbe };
	struct buf b = BUF_INIT, d = BUF_INIT;
	CHECK(b64url_encode(raw, sizeof raw, &b) == 0);
	CHECK_STR(buf_cstr(&b), "----");
	buf_reset(&b);
	static const uint8_t raw2[] = { 0xff, 0xff, 0xff };
	CHECK(b64url_encode(raw2, sizeof raw2, &b) == 0);
	CHECK_STR(buf_cstr(&b), "____");
	CHECK(b64url_decode("____", 4, &d) == 0);
	CHECK(d.len == 3 && memcmp(d.data, raw2, 3) == 0);
	buf_free(&b);
	buf_free(&d);
}

static int decode_fails(const char *s)
{
	struct buf b = BUF_INIT;
	int rc = b64url_decode(s, strlen(s), &b);
	size_t len = b.len;
	buf_free(&b);
	return rc == -1 && len == 0;
}

static void test_strictness(void)
{
	CHECK(decode_fails("Zg=="));     /* padding */
	CHECK(decode_fails("Zm8="));
	CHECK(decode_fails("Zm9v\n"));   /* whitespace */
	CHECK(decode_fails(" Zm9v"));
	CHECK(decode_fails("Zm+v"));     /* standard-alphabet characters */
	CHECK(decode_fails("Zm/v"));
	CHECK(decode_fails("Zm9v!"));
	CHECK(decode_fails("Z"));        /* len % 4 == 1 */
	CHECK(decode_fails("Zm9vY"));
	CHECK(decode_fails("Zh"));       /* non-zero trailing bits: 'h' leaves bits set */
	CHECK(decode_fails("Zm9"));      /* "Zm8" is canonical; '9' leaves a bit set */
	CHECK(decode_fails("Zm9vYh"));
}

static void test_embedded_nul(void)
{
	struct buf b = BUF_INIT;
	CHECK(b64url_decode("Zm\0v", 4, &b) == -1);
	CHECK_INT(b.len, 0);
	buf_free(&b);
}

static void test_appends(void)
{
	struct buf b = BUF_INIT;
	CHECK(buf_append_str(&b, "x:") == 0);
	CHECK(b64url_encode((const uint8_t *)"foo", 3, &b) == 0);
	CHECK_STR(buf_cstr(&b), "x:Zm9v");
	CHECK(b64url_decode("YmFy", 4, &b) == 0);
	CHECK_STR(buf_cstr(&b), "x:Zm9vbar");
	/* A failed decode leaves earlier content alone. */
	CHECK(b64url_decode("YmF!", 4, &b) == -1);
	CHECK_STR(buf_cstr(&b), "x:Zm9vbar");
	buf_free(&b);
}

static void test_round_trips(void)
{
	uint8_t raw[300];
	for (size_t i = 0; i < sizeof raw; i++)
		raw[i] = (uint8_t)(i * 37 + 11);
	for (size_t n = 0; n <= sizeof raw; n++) {
		struct buf e = BUF_INIT, d = BUF_INIT;
		int ok = b64url_encode(raw, n, &e) == 0 && e.len == b64url_encoded_len(n) &&
			b64url_decode(e.data ? e.data : "", e.len, &d) == 0 &&
			d.len == n && (n == 0 || memcmp(d.data, raw, n) == 0);
		CHECK(ok);
		buf_free(&e);
		buf_free(&d);
	}
}

int main(void)
{
	RUN(test_rfc4648_encode);
	RUN(test_rfc4648_decode);
	RUN(test_url_alphabet);
	RUN(test_strictness);
	RUN(test_embedded_nul);
	RUN(test_appends);
	RUN(test_round_trips);
	return harness_report("test_b64");
}
