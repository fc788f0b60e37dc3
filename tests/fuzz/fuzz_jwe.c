/* Fuzz target: JWE compact decryption (jwe_decrypt) and symmetric JWK
 * parsing (jwk_oct_parse).
 *
 * The first byte selects the key (byte % 6):
 *  0  the sgID client RSA key of the vectors (RSA-OAEP, RSA-OAEP-256)
 *  1  the 16-byte block key of vector profile A (A128GCMKW data fields)
 *  2  the 32-byte block key of vector profile B (dir + A256GCM)
 *  3  an inline symmetric key: one byte b (length 16 + b % 49), the key
 *     bytes, then the JWE (so every symmetric vector is a seed)
 *  4  no JWE: the rest is a JWK for jwk_oct_parse
 *  5  the RFC 7516 A.1 RSA key
 * Properties of jwe_decrypt:
 *  - a failure leaves the plaintext buffer exactly as it was (no
 *    unauthenticated bytes leak to the caller); success only appends;
 *  - it is deterministic;
 *  - an accepted JWE has five parts, an allowed alg/enc that fits the key
 *    kind, no zip or crit, and changing any one character of it, or the
 *    key, makes it fail;
 *  - no key at all never decrypts.
 * Properties of jwk_oct_parse: success appends 16..64 bytes that are the
 * base64url decoding of the "k" member of a {"kty":"oct"} object; failure
 * appends nothing. */
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "crypto.h"
#include "fuzz.h"
#include "fuzz_keys.h"
#include "jose.h"
#include "json.h"

static crypto_pkey *g_client, *g_rfc;
static struct buf g_oct16, g_oct32;

static const char prefix[] = "prefix:";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[128];

	(void)argc;
	(void)argv;
	g_client = crypto_private_key_load(fuzz_client_key_pem, strlen(fuzz_client_key_pem),
		err, sizeof(err));
	g_rfc = crypto_private_key_load(fuzz_rfc7516_key_pem, strlen(fuzz_rfc7516_key_pem),
		err, sizeof(err));
	FUZZ_REQUIRE(g_client != NULL && g_rfc != NULL);
	FUZZ_REQUIRE(b64url_decode(FUZZ_OCT16_B64, strlen(FUZZ_OCT16_B64), &g_oct16) == 0);
	FUZZ_REQUIRE(b64url_decode(FUZZ_OCT32_B64, strlen(FUZZ_OCT32_B64), &g_oct32) == 0);
	FUZZ_REQUIRE(g_oct16.len == 16 && g_oct32.len == 32);
	return 0;
}

static bool in_list(const char *s, size_t len, const char *const *list)
{
	for (; *list; list++)
		if (strlen(*list) == len && memcmp(*list, s, len) == 0)
			return true;
	return false;
}

/* Independent look at an accepted JWE's protected header. */
static void check_accepted_header(const char *tok, size_t len, const struct jwe_key *key)
{
	static const char *const rsa_algs[] = { "RSA-OAEP", "RSA-OAEP-256", NULL };
	static const char *const oct_algs[] = { "dir", "A128GCMKW", "A192GCMKW", "A256GCMKW",
		"A128KW", "A192KW", "A256KW", NULL };
	static const char *const encs[] = { "A128GCM", "A192GCM", "A256GCM", "A128CBC-HS256",
		"A192CBC-HS384", "A256CBC-HS512", NULL };
	const char *dot = memchr(tok, '.', len);
	struct buf raw = BUF_INIT;
	size_t alen = 0, elen = 0;

	FUZZ_ASSERT(fuzz_count(tok, len, ".") == 4);
	FUZZ_ASSERT(dot != NULL);
	FUZZ_ASSERT(b64url_decode(tok, (size_t)(dot - tok), &raw) == 0);
	json_value *h = json_parse(raw.data, raw.len, raw.len);
	FUZZ_ASSERT(json_kind_of(h) == JSON_OBJECT);
	FUZZ_ASSERT(!json_has(h, "zip") && !json_has(h, "crit"));
	const char *alg = json_get_str(h, "alg", &alen);
	const char *enc = json_get_str(h, "enc", &elen);
	FUZZ_ASSERT(alg && enc);
	FUZZ_ASSERT(in_list(enc, elen, encs));
	FUZZ_ASSERT(in_list(alg, alen, key->rsa ? rsa_algs : oct_algs));
	json_free(h);
	buf_free(&raw);
}

/* Decrypts into a buffer holding a prefix; checks the prefix survives and
 * that a failure appends nothing. Returns the result; *pt gets the bytes. */
static enum jose_err decrypt(const char *tok, size_t len, const struct jwe_key *key,
	struct buf *pt)
{
	struct buf out = BUF_INIT;

	FUZZ_ASSERT(buf_append_str(&out, prefix) == 0);
	enum jose_err rc = jwe_decrypt(tok, len, key, &out);
	FUZZ_ASSERT((unsigned)rc < JOSE_ERR__MAX);
	FUZZ_ASSERT(jose_strerror(rc) != NULL);
	FUZZ_ASSERT(out.len >= sizeof(prefix) - 1 && memcmp(out.data, prefix, sizeof(prefix) - 1) == 0);
	FUZZ_ASSERT(out.data[out.len] == '\0');
	if (rc != JOSE_OK)
		FUZZ_ASSERT(out.len == sizeof(prefix) - 1);
	buf_reset(pt);
	FUZZ_ASSERT(buf_append(pt, out.data + sizeof(prefix) - 1, out.len - (sizeof(prefix) - 1)) == 0);
	buf_free(&out);
	return rc;
}

static void check_jwe(const char *tok, size_t len, const struct jwe_key *key)
{
	struct buf pt = BUF_INIT, again = BUF_INIT;

	enum jose_err rc = decrypt(tok, len, key, &pt);
	FUZZ_ASSERT(decrypt(tok, len, key, &again) == rc);
	FUZZ_ASSERT(pt.len == again.len && (pt.len == 0 || memcmp(pt.data, again.data, pt.len) == 0));
	if (len > JOSE_MAX_TOKEN_LEN)
		FUZZ_ASSERT(rc != JOSE_OK);

	/* no key material: never decrypts */
	struct jwe_key none = { NULL, NULL, 0 };
	FUZZ_ASSERT(decrypt(tok, len, &none, &again) != JOSE_OK);
	FUZZ_ASSERT(jwe_decrypt(tok, len, NULL, &again) != JOSE_OK);

	if (rc == JOSE_OK) {
		check_accepted_header(tok, len, key);
		/* authenticity: one changed character fails */
		char *bad = fuzz_strndup(tok, len);
		if (fuzz_flip_char(bad, len, fuzz_hash((const uint8_t *)tok, len)))
			FUZZ_ASSERT(decrypt(bad, len, key, &again) != JOSE_OK);
		free(bad);
		/* so does another key of the same kind and size */
		if (key->rsa) {
			struct jwe_key other = { key->rsa == g_client ? g_rfc : g_client, NULL, 0 };
			FUZZ_ASSERT(decrypt(tok, len, &other, &again) != JOSE_OK);
		} else {
			uint8_t *k2 = malloc(key->oct_len);
			FUZZ_REQUIRE(k2 != NULL);
			memcpy(k2, key->oct, key->oct_len);
			k2[0] ^= 0x01;
			struct jwe_key other = { NULL, k2, key->oct_len };
			FUZZ_ASSERT(decrypt(tok, len, &other, &again) != JOSE_OK);
			free(k2);
		}
	}
	buf_free(&pt);
	buf_free(&again);
}

static void check_oct_jwk(const uint8_t *d, size_t n)
{
	struct buf out = BUF_INIT;

	FUZZ_ASSERT(buf_append_str(&out, prefix) == 0);
	enum jose_err rc = jwk_oct_parse((const char *)d, n, &out);
	FUZZ_ASSERT((unsigned)rc < JOSE_ERR__MAX);
	FUZZ_ASSERT(memcmp(out.data, prefix, sizeof(prefix) - 1) == 0);
	if (rc != JOSE_OK) {
		FUZZ_ASSERT(out.len == sizeof(prefix) - 1);
		buf_free(&out);
		return;
	}
	size_t klen = out.len - (sizeof(prefix) - 1);
	FUZZ_ASSERT(klen >= 16 && klen <= 64);
	json_value *j = json_parse((const char *)d, n, n);
	size_t kty_len = 0, k_len = 0;
	FUZZ_ASSERT(json_kind_of(j) == JSON_OBJECT);
	const char *kty = json_get_str(j, "kty", &kty_len);
	const char *k = json_get_str(j, "k", &k_len);
	FUZZ_ASSERT(kty && kty_len == 3 && memcmp(kty, "oct", 3) == 0);
	FUZZ_ASSERT(k != NULL);
	struct buf raw = BUF_INIT;
	FUZZ_ASSERT(b64url_decode(k, k_len, &raw) == 0);
	FUZZ_ASSERT(raw.len == klen && memcmp(raw.data, out.data + sizeof(prefix) - 1, klen) == 0);
	buf_free(&raw);
	json_free(j);
	buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jwe_key key = { NULL, NULL, 0 };
	const uint8_t *tok;
	size_t len;

	if (size < 1)
		return 0;
	tok = data + 1;
	len = size - 1;
	switch (data[0] % 6) {
	case 0:
		key.rsa = g_client;
		break;
	case 1:
		key.oct = (const uint8_t *)g_oct16.data;
		key.oct_len = g_oct16.len;
		break;
	case 2:
		key.oct = (const uint8_t *)g_oct32.data;
		key.oct_len = g_oct32.len;
		break;
	case 3: {
		if (len < 1)
			return 0;
		size_t klen = 16 + tok[0] % 49;
		if (len - 1 < klen)
			return 0;
		key.oct = tok + 1;
		key.oct_len = klen;
		tok += 1 + klen;
		len -= 1 + klen;
		break;
	}
	case 4:
		check_oct_jwk(tok, len);
		return 0;
	default:
		key.rsa = g_rfc;
		break;
	}
	check_jwe((const char *)tok, len, &key);
	return 0;
}
