/* Fuzz target: SGID_PARSE_DATA (the SDK's parseData), json_append_embedded,
 * against a strict RFC 8259 validator of its own (strict_json.h), not
 * json-c: every body /api/userinfo can emit must be JSON that JSON.parse
 * and Python's json take.
 *
 * Input: a userinfo value as sgID sends it (any bytes). Properties:
 *  - what json_append_embedded writes, inside the object the profile holds
 *    it in, is one strict JSON text, valid UTF-8;
 *  - it is either the value as a string literal (json_append_string's), or
 *    JSON written from an input that starts with [ or { and is itself
 *    strict JSON (valid UTF-8): nothing json-c merely tolerates (00, -01,
 *    1., 1.e5, -.5, NaN, comments, trailing commas) is ever copied through;
 *  - the JSON written has no raw <, >, & or control byte. */
#include <string.h>

#include "buf.h"
#include "fuzz.h"
#include "json.h"
#include "strict_json.h"

#define FUZZ_PARSE_DATA_MAX (64 * 1024)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct buf out = BUF_INIT, lit = BUF_INIT, body = BUF_INIT;

	if (size > FUZZ_PARSE_DATA_MAX)
		return 0;
	FUZZ_ASSERT(json_append_embedded(&out, s, size, FUZZ_PARSE_DATA_MAX) == 0);
	FUZZ_REQUIRE(buf_append_str(&body, "{\"sub\":\"s\",\"data\":{\"myinfo.children\":") == 0 &&
	             buf_append(&body, out.data, out.len) == 0 && buf_append_str(&body, "}}") == 0);
	FUZZ_ASSERT(strict_json_valid(body.data, body.len));
	FUZZ_ASSERT(fuzz_utf8_valid((const uint8_t *)body.data, body.len));
	FUZZ_ASSERT(json_append_string(&lit, s, size) == 0);
	if (!(out.len == lit.len && memcmp(out.data, lit.data, lit.len) == 0)) {
		FUZZ_ASSERT(size >= 2 && (s[0] == '[' || s[0] == '{'));
		FUZZ_ASSERT(strict_json_valid(s, size));
		FUZZ_ASSERT(fuzz_utf8_valid(data, size));
		for (size_t i = 0; i < out.len; i++) {
			unsigned char c = (unsigned char)out.data[i];
			FUZZ_ASSERT(c >= 0x20 && c != 0x7f && c != '<' && c != '>' && c != '&');
		}
	}
	buf_free(&out);
	buf_free(&lit);
	buf_free(&body);
	return 0;
}
