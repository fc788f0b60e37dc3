/* rp_keys: loading the RP's signing and encryption keys (current and
 * previous) with refusals that name the key, kids derived or configured
 * and unique, the public JWKS (never a private member), decryption in
 * rotation order, and the private_key_jwt client assertion. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "crypto_ec.h"
#include "harness.h"
#include "jose.h"
#include "json.h"
#include "rp_keys.h"
#include "util.h"

static int add_file(struct rp_keys *ks, enum rp_key_use use, bool prev, const char *path,
	const char *kid, char *err, size_t err_len)
{
	size_t len = 0;
	char *pem = harness_read_file(path, &len);
	int rc = pem ? rp_keys_add_pem(ks, use, prev, pem, len, kid, err, err_len) : -1;
	free(pem);
	return rc;
}

/* A fresh key as PEM, as a key file would hold it. */
static int add_fresh(struct rp_keys *ks, enum rp_key_use use, bool prev, const char *kid,
	char *err, size_t err_len)
{
	crypto_ec_key *k = crypto_ec_key_generate();
	struct buf pem = BUF_INIT;
	CHECK(crypto_ec_key_to_pem(k, &pem) == 0);
	int rc = rp_keys_add_pem(ks, use, prev, pem.data, pem.len, kid, err, err_len);
	buf_free(&pem);
	crypto_ec_key_free(k);
	return rc;
}

static json_value *segment(const char *tok, int n)
{
	struct buf raw = BUF_INIT;
	const char *p = tok;
	for (int i = 0; i < n; i++)
		p = strchr(p, '.') + 1;
	const char *end = strchr(p, '.');
	json_value *v = b64url_decode(p, end ? (size_t)(end - p) : strlen(p), &raw) == 0 ?
		json_parse(raw.data, raw.len, raw.len + 1) : NULL;
	buf_free(&raw);
	return v;
}

static void test_full_set(void)
{
	struct rp_keys ks = {0};
	char err[200];
	struct buf jwks = BUF_INIT;

	CHECK(add_file(&ks, RP_KEY_SIG, false, "tests/vectors/test-ec-p256-key.pem", NULL, err,
		sizeof(err)) == 0);
	CHECK(add_fresh(&ks, RP_KEY_SIG, true, "sig-2025", err, sizeof(err)) == 0);
	CHECK(add_file(&ks, RP_KEY_ENC, false, "tests/vectors/test-ec-p256-sec1-key.pem", "enc-2026",
		err, sizeof(err)) == 0);
	CHECK(add_fresh(&ks, RP_KEY_ENC, true, NULL, err, sizeof(err)) == 0);
	CHECK(rp_keys_check(&ks, err, sizeof(err)) == 0);

	/* derived kid: the RFC 7638 thumbprint */
	const struct rp_key *sig = rp_keys_get(&ks, RP_KEY_SIG, false);
	char tp[JWK_THUMBPRINT_LEN + 1];
	CHECK(jwk_ec_thumbprint(sig->key, tp) == 0);
	CHECK_STR(sig->kid, tp);
	CHECK_STR(rp_keys_get(&ks, RP_KEY_ENC, false)->kid, "enc-2026");

	CHECK(rp_keys_jwks(&ks, &jwks) == 0);
	json_value *doc = json_parse(jwks.data, jwks.len, jwks.len + 1);
	const json_value *keys = json_get(doc, "keys");
	CHECK_INT(json_array_len(keys), 4);
	static const char *const uses[] = { "sig", "sig", "enc", "enc" };
	static const char *const algs[] = { "ES256", "ES256", "ECDH-ES+A256KW", "ECDH-ES+A256KW" };
	static const char *const members[] = { "kty", "crv", "x", "y", "use", "alg", "kid" };
	for (size_t i = 0; i < json_array_len(keys); i++) {
		const json_value *k = json_array_at(keys, i);
		CHECK_STR(json_get_str(k, "use", NULL), uses[i]);
		CHECK_STR(json_get_str(k, "alg", NULL), algs[i]);
		CHECK_STR(json_get_str(k, "kty", NULL), "EC");
		CHECK_STR(json_get_str(k, "crv", NULL), "P-256");
		CHECK_INT(json_object_len(k), ARRAY_LEN(members));
		for (size_t m = 0; m < ARRAY_LEN(members); m++)
			CHECK(json_has(k, members[m]));
	}
	CHECK_STR(json_get_str(json_array_at(keys, 1), "kid", NULL), "sig-2025");
	/* no private member anywhere in the text */
	CHECK(strstr(jwks.data, "\"d\"") == NULL);
	/* a verifier reading it keeps the two signing keys */
	struct jwks parsed = {0};
	CHECK_INT(jwks_parse_es256(jwks.data, jwks.len, &parsed), JOSE_OK);
	CHECK_INT(parsed.n, 2);

	/* a JWE to the current or previous enc public key opens, current first */
	struct jwe_ec_key dec[2];
	CHECK_INT(rp_keys_decrypters(&ks, dec), 2);
	CHECK_STR(dec[0].kid, "enc-2026");
	for (int prev = 0; prev <= 1; prev++) {
		const struct rp_key *ek = rp_keys_get(&ks, RP_KEY_ENC, prev);
		uint8_t x[32], y[32];
		CHECK(crypto_ec_key_public(ek->key, x, y) == 0);
		crypto_ec_key *pub = crypto_ec_key_from_public(x, y);
		struct jwe_ecdh_params p = { RP_ENC_ALG, "A256CBC-HS512", ek->kid, NULL, NULL, NULL, 0, 0, NULL };
		struct buf jwe = BUF_INIT, pt = BUF_INIT;
		size_t used = 9;
		CHECK_INT(jwe_encrypt_ecdh(&p, pub, "id-token", 8, &jwe), JOSE_OK);
		CHECK_INT(jwe_decrypt_ecdh(jwe.data, jwe.len, dec, 2, &pt, &used), JOSE_OK);
		CHECK_INT(used, (size_t)prev);
		CHECK_STR(buf_cstr(&pt), "id-token");
		buf_free(&jwe);
		buf_free(&pt);
		crypto_ec_key_free(pub);
	}

	/* the client assertion verifies against the published JWKS */
	struct buf a = BUF_INIT, b = BUF_INIT;
	static const char cid[] = "RsrOy2iB0edR53TJSuD5ULad1pGmrVZL";
	static const char iss[] = "https://stg-id.singpass.gov.sg/fapi";
	CHECK(rp_client_assertion(&ks, cid, iss, 1769738721, &a) == 0);
	json_value *payload = NULL;
	CHECK_INT(jws_verify_es256(a.data, a.len, &parsed, &payload), JOSE_OK);
	json_value *hdr = segment(a.data, 0);
	CHECK_STR(json_get_str(hdr, "alg", NULL), "ES256");
	CHECK_STR(json_get_str(hdr, "typ", NULL), "JWT");
	CHECK_STR(json_get_str(hdr, "kid", NULL), sig->kid);
	CHECK_STR(json_get_str(payload, "iss", NULL), cid);
	CHECK_STR(json_get_str(payload, "sub", NULL), cid);
	CHECK(json_kind_of(json_get(payload, "aud")) == JSON_STRING);
	CHECK_STR(json_get_str(payload, "aud", NULL), iss);
	int64_t iat = 0, exp = 0;
	CHECK(json_get_int64(payload, "iat", &iat) == 0 && iat == 1769738721);
	CHECK(json_get_int64(payload, "exp", &exp) == 0 && exp == iat + 60);
	CHECK_INT(strlen(json_get_str(payload, "jti", NULL)), 36);
	CHECK_INT(json_object_len(payload), 6);
	/* a new assertion per request: a new jti */
	CHECK(rp_client_assertion(&ks, cid, iss, 1769738721, &b) == 0);
	json_value *payload2 = segment(b.data, 1);
	CHECK(strcmp(json_get_str(payload, "jti", NULL), json_get_str(payload2, "jti", NULL)) != 0);
	/* refusals */
	char longcid[RP_CLIENT_ID_MAX + 2];
	memset(longcid, 'c', sizeof(longcid) - 1);
	longcid[sizeof(longcid) - 1] = '\0';
	buf_reset(&b);
	CHECK(rp_client_assertion(&ks, "", iss, 1, &b) == -1);
	CHECK(rp_client_assertion(&ks, longcid, iss, 1, &b) == -1);
	CHECK(rp_client_assertion(&ks, cid, "", 1, &b) == -1);
	CHECK(rp_client_assertion(&ks, cid, iss, 0, &b) == -1);
	struct rp_keys none = {0};
	CHECK(rp_client_assertion(&none, cid, iss, 1, &b) == -1);
	CHECK_INT(b.len, 0);
	json_free(payload);
	json_free(payload2);
	json_free(hdr);
	buf_free(&a);
	buf_free(&b);
	jwks_clear(&parsed);
	json_free(doc);
	buf_free(&jwks);
	rp_keys_free(&ks);
	rp_keys_free(&ks);
}

static void test_refusals(void)
{
	struct rp_keys ks = {0};
	char err[200];

	static const struct { const char *path; bool prev; enum rp_key_use use; const char *want; } files[] = {
		{ "tests/vectors/test-signing-key.pem", false, RP_KEY_SIG, "signing key: private key is RSA" },
		{ "tests/vectors/test-ec-p384-key.pem", true, RP_KEY_ENC, "previous encryption key: " },
		{ "tests/vectors/test-ec-secp256k1-key.pem", false, RP_KEY_ENC, "P-256" },
		{ "tests/vectors/test-ed25519-key.pem", true, RP_KEY_SIG, "previous signing key: " },
	};
	for (size_t i = 0; i < ARRAY_LEN(files); i++) {
		err[0] = '\0';
		CHECK(add_file(&ks, files[i].use, files[i].prev, files[i].path, NULL, err, sizeof(err)) == -1);
		CHECK(strstr(err, files[i].want) != NULL);
		CHECK_INT(ks.n, 0);
	}
	/* a missing key, named */
	CHECK(rp_keys_check(&ks, err, sizeof(err)) == -1);
	CHECK_STR(err, "signing key: missing");
	CHECK(add_fresh(&ks, RP_KEY_SIG, false, "a", err, sizeof(err)) == 0);
	CHECK(rp_keys_check(&ks, err, sizeof(err)) == -1);
	CHECK_STR(err, "encryption key: missing");
	/* a previous key alone does not make a set */
	CHECK(add_fresh(&ks, RP_KEY_ENC, true, "b", err, sizeof(err)) == 0);
	CHECK(rp_keys_check(&ks, err, sizeof(err)) == -1);
	/* duplicate kid */
	CHECK(add_fresh(&ks, RP_KEY_ENC, false, "a", err, sizeof(err)) == -1);
	CHECK_STR(err, "encryption key: kid already used by the signing key");
	/* the same slot twice */
	CHECK(add_fresh(&ks, RP_KEY_SIG, false, "c", err, sizeof(err)) == -1);
	CHECK_STR(err, "signing key: configured twice");
	/* kids we will not publish */
	static const char *const bad_kids[] = { "with space", "q\"uote", "back\\slash", "tab\t" };
	for (size_t i = 0; i < ARRAY_LEN(bad_kids); i++) {
		CHECK(add_fresh(&ks, RP_KEY_ENC, false, bad_kids[i], err, sizeof(err)) == -1);
		CHECK(strstr(err, "kid must be") != NULL);
	}
	char longkid[JWK_KID_MAX + 1];
	memset(longkid, 'k', JWK_KID_MAX);
	longkid[JWK_KID_MAX] = '\0';
	CHECK(add_fresh(&ks, RP_KEY_ENC, false, longkid, err, sizeof(err)) == -1);
	/* the same key pair for signing and encryption (thumbprint kids collide
	 * too, but configured kids would not hide it) */
	size_t len = 0;
	char *pem = harness_read_file("tests/vectors/test-ec-p256-key.pem", &len);
	struct rp_keys two = {0};
	CHECK(rp_keys_add_pem(&two, RP_KEY_SIG, false, pem, len, "s", err, sizeof(err)) == 0);
	CHECK(rp_keys_add_pem(&two, RP_KEY_ENC, false, pem, len, "e", err, sizeof(err)) == -1);
	CHECK_STR(err, "encryption key: the same key pair as the signing key");
	CHECK(rp_keys_add_pem(&two, RP_KEY_SIG, true, pem, len, NULL, err, sizeof(err)) == -1);
	CHECK_STR(err, "previous signing key: the same key pair as the signing key");
	CHECK_INT(two.n, 1);
	free(pem);
	rp_keys_free(&two);
	/* a public key is no RP key */
	crypto_ec_key *k = crypto_ec_key_generate();
	uint8_t x[32], y[32];
	crypto_ec_key_public(k, x, y);
	crypto_ec_key *pub = crypto_ec_key_from_public(x, y);
	CHECK(rp_keys_add(&ks, RP_KEY_ENC, false, pub, "p", err, sizeof(err)) == -1);
	CHECK(strstr(err, "not a P-256 private key") != NULL);
	crypto_ec_key_free(pub);
	crypto_ec_key_free(k);
	rp_keys_free(&ks);
}

int main(void)
{
	RUN(test_full_set);
	RUN(test_refusals);
	return harness_report("test_rp_keys");
}
