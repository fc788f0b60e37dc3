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
 *    never exceeds the number of pairs. */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *hdr = (const char *)data;
	struct own_cookies c;

	memset(&c, 0x5a, sizeof(c));
	enum http_err e = http_find_cookies(hdr, size, SESSION_COOKIE, &c);
	if (size > HTTP_MAX_COOKIE_LEN) {
		FUZZ_ASSERT(e == HTTP_ERR_TOO_LONG);
		FUZZ_ASSERT(c.n == 0 && c.foreign == 0 && c.skipped == 0);
		return 0;
	}
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
