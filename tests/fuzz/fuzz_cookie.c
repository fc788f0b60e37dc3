/* Fuzz target: finding our cookies in a Cookie header (http_find_cookies).
 *
 * Input: a raw Cookie header value. Properties:
 *  - over HTTP_MAX_COOKIE_LEN: HTTP_ERR_TOO_LONG and nothing found;
 *  - otherwise HTTP_OK whatever the bytes (other apps' cookies never fail
 *    a request), at most HTTP_MAX_OWN_COOKIES found;
 *  - each value found points inside the header, is within
 *    HTTP_MAX_VALUE_LEN, holds no ';' and no raw C0/DEL byte, and is
 *    preceded (past spaces, '=' and an optional DQUOTE) by our exact name
 *    at the start of its ';'-separated pair;
 *  - every non-empty pair is counted once: found + foreign + skipped
 *    never exceeds the number of pairs.
 * And the header the gateway hands the apps (http_cookies_without): never
 * longer than the input, no raw C0/DEL byte, and read again it holds
 * none of our cookies; removing again changes nothing. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "http.h"

#define SESSION_COOKIE "exampleAppSession"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

/* The pair holding value v starts with our name. */
static void check_named(const char *hdr, const struct cookie_value *v)
{
	size_t start = (size_t)(v->val - hdr);
	while (start > 0 && hdr[start - 1] != ';')
		start--;
	while (hdr[start] == ' ')
		start++;
	size_t nl = strlen(SESSION_COOKIE);
	FUZZ_ASSERT(memcmp(hdr + start, SESSION_COOKIE, nl) == 0);
	size_t i = start + nl;
	while (hdr[i] == ' ')
		i++;
	FUZZ_ASSERT(hdr[i] == '=');
}

static void check_without(const char *hdr, size_t size)
{
	struct buf out = BUF_INIT, again = BUF_INIT;
	struct own_cookies c;
	enum http_err e = http_cookies_without(hdr, size, SESSION_COOKIE, &out);
	if (size > HTTP_MAX_COOKIE_LEN) {
		FUZZ_ASSERT(e == HTTP_ERR_TOO_LONG && out.len == 0);
		return;
	}
	if (e == HTTP_ERR_NOMEM)
		abort();
	FUZZ_ASSERT(e == HTTP_OK && out.len <= size);
	for (size_t j = 0; j < out.len; j++)
		FUZZ_ASSERT((unsigned char)out.data[j] >= 0x20 && out.data[j] != 0x7f);
	FUZZ_ASSERT(http_find_cookies(out.data ? out.data : "", out.len, SESSION_COOKIE, &c) == HTTP_OK);
	FUZZ_ASSERT(c.n == 0);
	FUZZ_ASSERT(http_cookies_without(out.data ? out.data : "", out.len, SESSION_COOKIE, &again) ==
	            HTTP_OK);
	FUZZ_ASSERT(again.len == out.len && (out.len == 0 || memcmp(again.data, out.data, out.len) == 0));
	buf_free(&out);
	buf_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *hdr = (const char *)data;
	struct own_cookies c;

	memset(&c, 0x5a, sizeof(c));
	enum http_err e = http_find_cookies(hdr, size, SESSION_COOKIE, &c);
	if (size > HTTP_MAX_COOKIE_LEN) {
		FUZZ_ASSERT(e == HTTP_ERR_TOO_LONG);
		FUZZ_ASSERT(c.n == 0 && c.foreign == 0 && c.skipped == 0);
		check_without(hdr, size);
		return 0;
	}
	check_without(hdr, size);
	FUZZ_ASSERT(e == HTTP_OK);
	FUZZ_ASSERT(c.n <= HTTP_MAX_OWN_COOKIES);
	FUZZ_ASSERT(c.n + c.foreign + c.skipped <= fuzz_count(hdr, size, ";") + 1);
	for (size_t i = 0; i < c.n; i++) {
		const struct cookie_value *v = &c.v[i];
		FUZZ_ASSERT(v->val >= hdr && v->val + v->len <= hdr + size);
		FUZZ_ASSERT(v->len <= HTTP_MAX_VALUE_LEN);
		FUZZ_ASSERT(memchr(v->val, ';', v->len) == NULL);
		for (size_t j = 0; j < v->len; j++)
			FUZZ_ASSERT((unsigned char)v->val[j] >= 0x20 && v->val[j] != 0x7f);
		check_named(hdr, v);
		if (i > 0)
			FUZZ_ASSERT(v->val > c.v[i - 1].val); /* in header order */
	}
	return 0;
}
