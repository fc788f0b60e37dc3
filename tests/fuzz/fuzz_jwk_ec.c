/* Fuzz target: EC P-256 JWK parsing (jwk_ec_parse), ES256 JWK Sets
 * (jwks_parse_es256) and ES256 JWS verification (jws_verify_es256).
 *
 * The first byte selects a mode (byte % 4):
 *  0  a public JWK; 1  a private JWK. Properties: failure leaves *out
 *     NULL; success means a JSON object with kty "EC", crv "P-256", x and
 *     y that decode to exactly the key's coordinates (and d to its scalar
 *     for a private JWK, which then also parses as a public one); the key
 *     has a private half exactly when asked for; its public JWK text
 *     parses back to the same key.
 *  2  a JWK Set. Properties: at most JWKS_MAX_KEYS keys, each an EC public
 *     key (no RSA key, no private half), kids terminated and unique; the
 *     IdP token of the vectors (kid idp-sig-1) verifies only when the set
 *     holds that kid with the IdP's key, and is JOSE_ERR_NO_KEY when the
 *     set has no key of that kid.
 *  3  a compact JWS verified against the IdP JWKS. Properties: accepted
 *     means three parts, header alg ES256 without crit/zip, a 64-byte
 *     signature that crypto_es256_verify accepts under the IdP key, and
 *     one changed character makes it fail. */
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "crypto_ec.h"
#include "fuzz.h"
#include "fuzz_keys.h"
#include "jose.h"
#include "json.h"
#include "util.h"

static struct jwks g_idp;
static crypto_ec_key *g_idp_key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_REQUIRE(jwks_parse_es256(fuzz_ec_idp_jwks, strlen(fuzz_ec_idp_jwks), &g_idp) == JOSE_OK);
	FUZZ_REQUIRE(g_idp.n == 1 && g_idp.keys[0].ec != NULL);
	g_idp_key = g_idp.keys[0].ec;
	FUZZ_REQUIRE(jws_verify_es256(fuzz_ec_idp_token, strlen(fuzz_ec_idp_token), &g_idp, NULL) == JOSE_OK);
	return 0;
}

static bool member_decodes_to(const json_value *o, const char *name, const uint8_t want[32])
{
	size_t len;
	const char *s = json_get_str(o, name, &len);
	struct buf raw = BUF_INIT;
	bool ok = s && len == 43 && b64url_decode(s, len, &raw) == 0 && raw.len == 32 &&
		memcmp(raw.data, want, 32) == 0;
	buf_free(&raw);
	return ok;
}

static bool str_member(const json_value *o, const char *name, const char *want)
{
	size_t len;
	const char *s = json_get_str(o, name, &len);
	return s && len == strlen(want) && memcmp(s, want, len) == 0;
}

static void mode_jwk(const uint8_t *d, size_t n, bool priv)
{
	crypto_ec_key *k = (crypto_ec_key *)(uintptr_t)1; /* must be overwritten */
	enum jose_err rc = jwk_ec_parse((const char *)d, n, priv, &k);

	FUZZ_ASSERT((unsigned)rc < JOSE_ERR__MAX);
	if (rc != JOSE_OK) {
		FUZZ_ASSERT(k == NULL);
		return;
	}
	FUZZ_ASSERT(k != NULL);
	FUZZ_ASSERT(n <= JWK_EC_MAX_LEN);
	json_value *j = json_parse((const char *)d, n, n + 1);
	FUZZ_ASSERT(json_kind_of(j) == JSON_OBJECT);
	FUZZ_ASSERT(str_member(j, "kty", "EC") && str_member(j, "crv", "P-256"));
	uint8_t x[32], y[32], s[32];
	FUZZ_ASSERT(crypto_ec_key_public(k, x, y) == 0);
	FUZZ_ASSERT(member_decodes_to(j, "x", x) && member_decodes_to(j, "y", y));
	FUZZ_ASSERT(crypto_ec_key_has_private(k) == priv);
	if (priv) {
		FUZZ_ASSERT(crypto_ec_key_private(k, s) == 0);
		FUZZ_ASSERT(member_decodes_to(j, "d", s));
		crypto_ec_key *pub = NULL;
		FUZZ_ASSERT(jwk_ec_parse((const char *)d, n, false, &pub) == JOSE_OK);
		FUZZ_ASSERT(crypto_ec_key_same_public(pub, k));
		crypto_ec_key_free(pub);
	}
	/* the exported public JWK is the same key */
	struct buf text = BUF_INIT;
	crypto_ec_key *again = NULL;
	FUZZ_ASSERT(jwk_ec_public_json(k, &text) == 0);
	FUZZ_ASSERT(jwk_ec_parse(text.data, text.len, false, &again) == JOSE_OK);
	FUZZ_ASSERT(crypto_ec_key_same_public(again, k));
	crypto_ec_key_free(again);
	buf_free(&text);
	json_free(j);
	crypto_ec_key_free(k);
}

static void mode_jwks(const uint8_t *d, size_t n)
{
	struct jwks s;

	memset(&s, 0, sizeof(s));
	enum jose_err rc = jwks_parse_es256((const char *)d, n, &s);
	FUZZ_ASSERT(rc == JOSE_OK || rc == JOSE_ERR_MALFORMED || rc == JOSE_ERR_TOO_LARGE ||
		rc == JOSE_ERR_NOMEM);
	if (rc != JOSE_OK) {
		FUZZ_ASSERT(s.n == 0);
		return;
	}
	FUZZ_ASSERT(s.n <= JWKS_MAX_KEYS);
	bool has_kid = false, has_idp = false;
	for (size_t i = 0; i < s.n; i++) {
		const struct jwk *k = &s.keys[i];
		FUZZ_ASSERT(k->ec != NULL && k->key == NULL && !crypto_ec_key_has_private(k->ec));
		FUZZ_ASSERT(memchr(k->kid, '\0', JWK_KID_MAX) != NULL);
		FUZZ_ASSERT(k->has_kid || k->kid[0] == '\0');
		for (size_t j = i + 1; j < s.n; j++)
			FUZZ_ASSERT(!(k->has_kid && s.keys[j].has_kid && strcmp(k->kid, s.keys[j].kid) == 0));
		if (k->has_kid && strcmp(k->kid, FUZZ_EC_IDP_KID) == 0) {
			has_kid = true;
			has_idp = crypto_ec_key_same_public(k->ec, g_idp_key);
		}
	}
	enum jose_err v = jws_verify_es256(fuzz_ec_idp_token, strlen(fuzz_ec_idp_token), &s, NULL);
	FUZZ_ASSERT((v == JOSE_OK) == has_idp);
	if (!has_kid)
		FUZZ_ASSERT(v == JOSE_ERR_NO_KEY);
	jwks_clear(&s);
	FUZZ_ASSERT(s.n == 0);
}

static void mode_jws(const uint8_t *d, size_t n)
{
	const char *tok = (const char *)d;
	json_value *payload = (json_value *)(uintptr_t)1;
	enum jose_err rc = jws_verify_es256(tok, n, &g_idp, &payload);

	FUZZ_ASSERT((unsigned)rc < JOSE_ERR__MAX);
	if (rc != JOSE_OK) {
		FUZZ_ASSERT(payload == NULL);
		return;
	}
	FUZZ_ASSERT(json_kind_of(payload) == JSON_OBJECT);
	json_free(payload);
	FUZZ_ASSERT(fuzz_count(tok, n, ".") == 2);
	const char *d1 = memchr(tok, '.', n), *d2 = memchr(d1 + 1, '.', n - (size_t)(d1 + 1 - tok));
	struct buf raw = BUF_INIT, sig = BUF_INIT;
	FUZZ_ASSERT(b64url_decode(tok, (size_t)(d1 - tok), &raw) == 0);
	json_value *h = json_parse(raw.data, raw.len, raw.len + 1);
	FUZZ_ASSERT(str_member(h, "alg", "ES256"));
	FUZZ_ASSERT(!json_has(h, "crit") && !json_has(h, "zip"));
	FUZZ_ASSERT(b64url_decode(d2 + 1, n - (size_t)(d2 + 1 - tok), &sig) == 0 && sig.len == 64);
	FUZZ_ASSERT(crypto_es256_verify(g_idp_key, tok, (size_t)(d2 - tok),
		(const uint8_t *)sig.data, sig.len) == 0);
	char *bad = fuzz_strndup(tok, n);
	if (fuzz_flip_char(bad, n, fuzz_hash(d, n)))
		FUZZ_ASSERT(jws_verify_es256(bad, n, &g_idp, NULL) != JOSE_OK);
	free(bad);
	json_free(h);
	buf_free(&raw);
	buf_free(&sig);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 4) {
	case 0: mode_jwk(data + 1, size - 1, false); break;
	case 1: mode_jwk(data + 1, size - 1, true); break;
	case 2: mode_jwks(data + 1, size - 1); break;
	default: mode_jws(data + 1, size - 1); break;
	}
	return 0;
}
