/* Fuzz target: strict unpadded base64url (b64url_decode, b64url_encode,
 * b64url_encoded_len).
 *
 * Properties:
 *  - decode accepts only the [A-Za-z0-9_-] alphabet, never a length of
 *    1 mod 4, and then re-encoding the bytes gives back exactly the input
 *    (one canonical encoding per byte string);
 *  - a failed decode leaves the output buffer's content as it was;
 *  - encode of the raw input has b64url_encoded_len(size) characters of
 *    the alphabet and decodes back to the input. */
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "fuzz.h"

static const char prefix[] = "keep";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	return 0;
}

static bool is_b64url_char(uint8_t c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '_';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf dec = BUF_INIT, enc = BUF_INIT, back = BUF_INIT;
	const size_t plen = sizeof(prefix) - 1;

	/* decode -> encode */
	FUZZ_ASSERT(buf_append_str(&dec, prefix) == 0);
	int rc = b64url_decode((const char *)data, size, &dec);
	FUZZ_ASSERT(dec.len >= plen && memcmp(dec.data, prefix, plen) == 0);
	FUZZ_ASSERT(dec.data[dec.len] == '\0');
	if (rc == 0) {
		FUZZ_ASSERT(size % 4 != 1);
		for (size_t i = 0; i < size; i++)
			FUZZ_ASSERT(is_b64url_char(data[i]));
		size_t n = dec.len - plen;
		FUZZ_ASSERT(n == size / 4 * 3 + (size % 4 ? size % 4 - 1 : 0));
		FUZZ_ASSERT(b64url_encoded_len(n) == size);
		FUZZ_ASSERT(b64url_encode((const uint8_t *)dec.data + plen, n, &enc) == 0);
		FUZZ_ASSERT(enc.len == size && (size == 0 || memcmp(enc.data, data, size) == 0));
	} else {
		FUZZ_ASSERT(rc == -1);
		FUZZ_ASSERT(dec.len == plen);
	}
	buf_free(&dec);
	buf_free(&enc);

	/* encode -> decode */
	FUZZ_ASSERT(b64url_encode(data, size, &enc) == 0);
	FUZZ_ASSERT(enc.len == b64url_encoded_len(size));
	FUZZ_ASSERT(enc.len % 4 != 1);
	for (size_t i = 0; i < enc.len; i++)
		FUZZ_ASSERT(is_b64url_char((uint8_t)enc.data[i]));
	FUZZ_ASSERT(b64url_decode(buf_cstr(&enc), enc.len, &back) == 0);
	FUZZ_ASSERT(back.len == size && (size == 0 || memcmp(back.data, data, size) == 0));
	buf_free(&enc);
	buf_free(&back);
	return 0;
}
