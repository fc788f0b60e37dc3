/* pkce: PKCE and the random values of an authorization request. */
#include "pkce.h"

#include <stdint.h>
#include <string.h>

#include "b64.h"
#include "crypto.h"
#include "util.h"

int random_token_b64url(size_t n, char *out, size_t cap)
{
	uint8_t raw[96];
	struct buf enc = BUF_INIT;
	int rc = -1;
	if (n > sizeof(raw) || crypto_random(raw, n) != 0 || b64url_encode(raw, n, &enc) != 0 ||
	    enc.len >= cap)
		goto fail;
	memcpy(out, enc.data, enc.len + 1);
	rc = 0;
fail:
	secure_zero(raw, sizeof(raw));
	buf_free(&enc);
	return rc;
}

int pkce_verifier(char out[PKCE_VERIFIER_LEN + 1])
{
	return random_token_b64url(32, out, PKCE_VERIFIER_LEN + 1);
}

int pkce_challenge(const char *verifier, size_t len, struct buf *out)
{
	uint8_t digest[32];
	if (crypto_sha256(verifier, len, digest) != 0)
		return -1;
	return b64url_encode(digest, sizeof(digest), out);
}
