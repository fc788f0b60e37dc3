/* Fuzz target: JWS RS256 verification (jws_verify_rs256), ID-token
 * validation (idtoken_verify) and JWK Set parsing (jwks_parse), against a
 * fixed JWKS: the sgID test server key (kid testKey), the generated test
 * signing key (kid test-signing-key-1) and the RFC 7515 A.2 key (no kid).
 *
 * The first byte selects a mode (byte % 3):
 *  0  raw: the rest is a compact token, verified as received. Properties:
 *     an accepted JWS is three parts, alg RS256, no crit/zip, and its
 *     signature verifies independently under the key its kid names (or
 *     some key when it has none); changing any one character makes it
 *     fail; an accepted ID token is an accepted JWS whose claims satisfy
 *     the rules of idtoken.h (checked by a model here); an unknown kid is
 *     IDT_ERR_NO_KEY (the caller's cue to refetch the JWKS).
 *  1  signed: byte 1 holds flags (bit 0: a nonce is expected), then
 *     "header JSON" NUL "payload JSON" (no NUL: a default header and the
 *     rest as payload). The harness signs it with the test signing key, so
 *     the claim checks are reached with every mutation. Property: both
 *     verifiers accept exactly when the models of jose.h and idtoken.h say
 *     they must (soundness and completeness).
 *  Whenever a signature is good, idtoken_verify is also run with clocks
 *  just before, at and after each exp/iat/nbf boundary of the token and
 *  must agree with the model there too.
 *  2  jwks: the rest is a JWK Set for jwks_parse. Properties: at most
 *     JWKS_MAX_KEYS keys, each RSA of 2048..8192 bits with a terminated
 *     kid; the sgID vector token (kid testKey) verifies only when the set
 *     holds a key of that kid, and is IDT_ERR_NO_KEY's cause otherwise. */
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "crypto.h"
#include "fuzz.h"
#include "fuzz_keys.h"
#include "idtoken.h"
#include "jose.h"
#include "util.h"

#define HDR_MODEL_MAX     4096
#define PAYLOAD_MODEL_MAX (16 * 1024)

static struct jwks g_keys;
static crypto_pkey *g_signer;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[128];

	(void)argc;
	(void)argv;
	FUZZ_REQUIRE(jwks_parse(fuzz_jwks, strlen(fuzz_jwks), &g_keys) == JOSE_OK);
	FUZZ_REQUIRE(g_keys.n == 3);
	g_signer = crypto_private_key_load(fuzz_signing_key_pem, strlen(fuzz_signing_key_pem),
		err, sizeof(err));
	FUZZ_REQUIRE(g_signer != NULL);
	return 0;
}

/* ---- models written from the headers' contracts ---- */

/* jose.h: alg RS256 only; crit and zip refused; kid optional string. */
static bool model_header_ok(const json_value *h, const char **kid)
{
	size_t len;
	const char *alg = json_get_str(h, "alg", &len);

	*kid = NULL;
	if (json_kind_of(h) != JSON_OBJECT || !alg || !str_eq_n(alg, len, "RS256"))
		return false;
	if (json_has(h, "crit") || json_has(h, "zip"))
		return false;
	if (json_has(h, "kid")) {
		*kid = json_get_str(h, "kid", &len);
		if (!*kid)
			return false;
	}
	return true;
}

static bool str_member_is(const json_value *v, const char *want)
{
	size_t len;
	const char *s = json_str(v, &len);
	return s && strlen(want) == len && memcmp(s, want, len) == 0;
}

/* idtoken.h's rules, one by one. */
static bool model_claims_ok(const json_value *p, const struct idtoken_expect *x)
{
	static const char *const required[] = { "iss", "sub", "aud", "exp", "iat" };
	int64_t exp, iat, nbf;
	size_t len;

	if (json_kind_of(p) != JSON_OBJECT)
		return false;
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (!json_has(p, required[i]))
			return false;
	if (!str_member_is(json_get(p, "iss"), x->issuer))
		return false;
	const json_value *aud = json_get(p, "aud");
	if (json_kind_of(aud) == JSON_STRING) {
		if (!str_member_is(aud, x->client_id))
			return false;
	} else if (json_kind_of(aud) == JSON_ARRAY) {
		bool found = false;
		for (size_t i = 0; i < json_array_len(aud); i++)
			found = found || str_member_is(json_array_at(aud, i), x->client_id);
		if (!found || (json_array_len(aud) > 1 && !json_has(p, "azp")))
			return false;
	} else {
		return false;
	}
	if (json_has(p, "azp") && !str_member_is(json_get(p, "azp"), x->client_id))
		return false;
	if (json_get_int64(p, "exp", &exp) != 0 || json_get_int64(p, "iat", &iat) != 0)
		return false;
	/* now < exp + skew and iat <= now + skew, without overflow */
	if (!(exp > x->now - x->skew) || iat > x->now + x->skew)
		return false;
	if (json_has(p, "nbf") && (json_get_int64(p, "nbf", &nbf) != 0 || nbf > x->now + x->skew))
		return false;
	if (x->nonce) {
		if (!str_member_is(json_get(p, "nonce"), x->nonce))
			return false;
	} else if (json_has(p, "nonce")) {
		return false;
	}
	const char *sub = json_get_str(p, "sub", &len);
	if (!sub || len == 0 || len > IDTOKEN_SUB_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)sub[i] < 0x20 || (unsigned char)sub[i] > 0x7e)
			return false;
	return true;
}

/* ---- independent checks of an accepted token ---- */

/* Decodes one base64url segment holding JSON. */
static json_value *seg_json(const char *p, size_t len, size_t max)
{
	struct buf raw = BUF_INIT;
	json_value *v = NULL;

	if (b64url_decode(p, len, &raw) == 0)
		v = json_parse(raw.data, raw.len, max);
	buf_free(&raw);
	return v;
}

/* The token was accepted: check it really is a JWS signed by our keys. */
static void check_accepted_jws(const char *tok, size_t len, const json_value *payload)
{
	const char *d1 = memchr(tok, '.', len);
	FUZZ_ASSERT(d1 != NULL);
	const char *d2 = memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - tok));
	FUZZ_ASSERT(d2 != NULL);
	FUZZ_ASSERT(memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - tok)) == NULL);
	FUZZ_ASSERT(json_kind_of(payload) == JSON_OBJECT);

	json_value *h = seg_json(tok, (size_t)(d1 - tok), 64 * 1024);
	const char *kid = NULL;
	FUZZ_ASSERT(h != NULL);
	FUZZ_ASSERT(model_header_ok(h, &kid));

	struct buf sig = BUF_INIT;
	FUZZ_ASSERT(b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - tok), &sig) == 0);
	bool verified = false;
	for (size_t i = 0; i < g_keys.n && !verified; i++) {
		if (kid && !(g_keys.keys[i].has_kid && strcmp(g_keys.keys[i].kid, kid) == 0))
			continue;
		verified = crypto_rsa_verify_sha256(g_keys.keys[i].key, tok, (size_t)(d2 - tok),
			(const uint8_t *)sig.data, sig.len) == 0;
	}
	FUZZ_ASSERT(verified);
	buf_free(&sig);
	json_free(h);

	/* one changed character and it is no longer accepted */
	char *bad = fuzz_strndup(tok, len);
	if (fuzz_flip_char(bad, len, fuzz_hash((const uint8_t *)tok, len)))
		FUZZ_ASSERT(jws_verify_rs256(bad, len, &g_keys, NULL) != JOSE_OK);
	free(bad);
}

static void check_idtoken(const char *tok, size_t len, const struct idtoken_expect *x,
	enum jose_err jrc, const json_value *payload, bool *accepted)
{
	struct idtoken_claims c;

	memset(&c, 0x5a, sizeof(c));
	enum idt_err rc = idtoken_verify(tok, len, &g_keys, x, &c);
	FUZZ_ASSERT((unsigned)rc < IDT_ERR__MAX);
	FUZZ_ASSERT(idtoken_strerror(rc) != NULL);
	if (jrc == JOSE_ERR_NO_KEY)
		FUZZ_ASSERT(rc == IDT_ERR_NO_KEY);
	bool want = jrc == JOSE_OK && model_claims_ok(payload, x);
	FUZZ_ASSERT((rc == IDT_OK) == want);
	*accepted = rc == IDT_OK;
	if (rc != IDT_OK)
		return;
	size_t len_sub;
	const char *sub = json_get_str(payload, "sub", &len_sub);
	FUZZ_ASSERT(sub && strlen(c.sub) == len_sub && memcmp(c.sub, sub, len_sub) == 0);
	int64_t exp, iat;
	FUZZ_ASSERT(json_get_int64(payload, "exp", &exp) == 0 && exp == c.exp);
	FUZZ_ASSERT(json_get_int64(payload, "iat", &iat) == 0 && iat == c.iat);
}

/* The token's signature is good: probe idtoken_verify at clocks on each
 * side of the exp, iat and nbf boundaries, so an off-by-one in the time
 * checks shows without the fuzzer having to guess the exact claim. */
static void check_time_boundaries(const char *tok, size_t len, const json_value *payload,
	const struct idtoken_expect *x)
{
	static const char *const claims[] = { "exp", "iat", "nbf" };
	const int64_t lim = (int64_t)1 << 62;

	for (size_t i = 0; i < sizeof(claims) / sizeof(claims[0]); i++) {
		int64_t t;
		if (json_get_int64(payload, claims[i], &t) != 0 || t > lim || t < -lim)
			continue;
		/* exp: valid while now < exp + skew; iat/nbf: while t <= now + skew */
		int64_t edge = i == 0 ? t + x->skew : t - x->skew;
		for (int64_t d = -1; d <= 1; d++) {
			struct idtoken_expect y = *x;
			struct idtoken_claims c;
			y.now = edge + d;
			enum idt_err rc = idtoken_verify(tok, len, &g_keys, &y, &c);
			FUZZ_ASSERT((rc == IDT_OK) == model_claims_ok(payload, &y));
		}
	}
}

/* Verifies tok both ways; returns whether the JWS was accepted. */
static bool verify_both(const char *tok, size_t len, const struct idtoken_expect *x,
	bool *idt_ok)
{
	json_value *payload = (json_value *)(uintptr_t)1; /* must be overwritten */
	enum jose_err jrc = jws_verify_rs256(tok, len, &g_keys, &payload);

	FUZZ_ASSERT((unsigned)jrc < JOSE_ERR__MAX);
	FUZZ_ASSERT(jose_strerror(jrc) != NULL);
	if (len > JOSE_MAX_TOKEN_LEN)
		FUZZ_ASSERT(jrc != JOSE_OK);
	if (jrc != JOSE_OK)
		FUZZ_ASSERT(payload == NULL);
	else
		check_accepted_jws(tok, len, payload);
	check_idtoken(tok, len, x, jrc, payload, idt_ok);
	if (jrc == JOSE_OK)
		check_time_boundaries(tok, len, payload, x);
	json_free(payload);
	/* a NULL payload pointer is allowed */
	FUZZ_ASSERT(jws_verify_rs256(tok, len, &g_keys, NULL) == jrc);
	return jrc == JOSE_OK;
}

static void mode_raw(const uint8_t *d, size_t n)
{
	struct idtoken_expect x = { FUZZ_ISSUER, FUZZ_CLIENT_ID, FUZZ_NONCE, FUZZ_NOW, FUZZ_SKEW, false };
	bool idt_ok;

	verify_both((const char *)d, n, &x, &idt_ok);
	/* no keys at all: nothing verifies */
	struct jwks none;
	memset(&none, 0, sizeof(none));
	FUZZ_ASSERT(jws_verify_rs256((const char *)d, n, &none, NULL) != JOSE_OK);
}

static void mode_signed(const uint8_t *d, size_t n)
{
	static const char def_hdr[] = "{\"alg\":\"RS256\",\"kid\":\"" FUZZ_SIGNING_KID "\"}";
	struct idtoken_expect x = { FUZZ_ISSUER, FUZZ_CLIENT_ID, NULL, FUZZ_NOW, FUZZ_SKEW, false };
	struct buf tok = BUF_INIT, sig = BUF_INIT;
	const char *hdr = def_hdr, *pl;
	size_t hlen = strlen(def_hdr), plen;

	if (n < 1)
		return;
	pl = (const char *)d + 1;
	plen = n - 1;
	if (d[0] & 1)
		x.nonce = FUZZ_NONCE;
	const uint8_t *nul = memchr(d + 1, '\0', n - 1);
	if (nul && nul > d + 1) {
		hdr = (const char *)d + 1;
		hlen = (size_t)(nul - (d + 1));
	}
	if (nul) {
		pl = (const char *)nul + 1;
		plen = n - (size_t)(nul + 1 - d);
	}
	if (b64url_encoded_len(hlen) + b64url_encoded_len(plen) + 400 > JOSE_MAX_TOKEN_LEN)
		return;
	FUZZ_ASSERT(b64url_encode((const uint8_t *)hdr, hlen, &tok) == 0);
	FUZZ_ASSERT(buf_append_char(&tok, '.') == 0);
	FUZZ_ASSERT(b64url_encode((const uint8_t *)pl, plen, &tok) == 0);
	FUZZ_ASSERT(crypto_rsa_sign_sha256(g_signer, tok.data, tok.len, &sig) == 0);
	FUZZ_ASSERT(buf_append_char(&tok, '.') == 0);
	FUZZ_ASSERT(b64url_encode((const uint8_t *)sig.data, sig.len, &tok) == 0);

	bool idt_ok;
	bool jws_ok = verify_both(tok.data, tok.len, &x, &idt_ok);

	/* completeness: a well-formed token signed by a known key is accepted */
	if (hlen <= HDR_MODEL_MAX && plen <= PAYLOAD_MODEL_MAX) {
		json_value *h = json_parse(hdr, hlen, HDR_MODEL_MAX);
		json_value *p = json_parse(pl, plen, PAYLOAD_MODEL_MAX);
		const char *kid = NULL;
		bool hdr_ok = h && model_header_ok(h, &kid) &&
			(!kid || strcmp(kid, FUZZ_SIGNING_KID) == 0);
		bool want_jws = hdr_ok && json_kind_of(p) == JSON_OBJECT;
		FUZZ_ASSERT(jws_ok == want_jws);
		FUZZ_ASSERT(idt_ok == (want_jws && model_claims_ok(p, &x)));
		json_free(h);
		json_free(p);
	}
	buf_free(&sig);
	buf_free(&tok);
}

static void mode_jwks(const uint8_t *d, size_t n)
{
	struct jwks s;

	memset(&s, 0, sizeof(s));
	enum jose_err rc = jwks_parse((const char *)d, n, &s);
	FUZZ_ASSERT(rc == JOSE_OK || rc == JOSE_ERR_MALFORMED || rc == JOSE_ERR_TOO_LARGE ||
		rc == JOSE_ERR_NOMEM);
	if (rc != JOSE_OK) {
		FUZZ_ASSERT(s.n == 0);
		jwks_clear(&s);
		return;
	}
	FUZZ_ASSERT(s.n <= JWKS_MAX_KEYS);
	bool has_test_key = false;
	for (size_t i = 0; i < s.n; i++) {
		FUZZ_ASSERT(s.keys[i].key != NULL);
		int bits = crypto_pkey_bits(s.keys[i].key);
		FUZZ_ASSERT(bits >= 2048 && bits <= 8192);
		FUZZ_ASSERT(memchr(s.keys[i].kid, '\0', JWK_KID_MAX) != NULL);
		FUZZ_ASSERT(s.keys[i].has_kid || s.keys[i].kid[0] == '\0');
		has_test_key = has_test_key || (s.keys[i].has_kid && strcmp(s.keys[i].kid, "testKey") == 0);
	}
	/* the parsed set in use: the vector token names kid testKey, so only a
	 * key of that kid may verify it */
	enum jose_err v = jws_verify_rs256(fuzz_vector_idtoken, strlen(fuzz_vector_idtoken), &s, NULL);
	FUZZ_ASSERT(v != JOSE_OK || has_test_key);
	if (!has_test_key)
		FUZZ_ASSERT(v == JOSE_ERR_NO_KEY);
	jwks_clear(&s);
	FUZZ_ASSERT(s.n == 0);
	jwks_clear(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0: mode_raw(data + 1, size - 1); break;
	case 1: mode_signed(data + 1, size - 1); break;
	default: mode_jwks(data + 1, size - 1); break;
	}
	return 0;
}
