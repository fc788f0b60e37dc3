/* rp_keys: loading the RP's signing and encryption keys (current and
 * previous) with refusals that name the key, kids derived or configured
 * and unique, the public JWKS (never a private member), decryption in
 * rotation order, and the private_key_jwt client assertion. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "b64.h"
#include "buf.h"
#include "crypto_ec.h"
#include "harness.h"
#include "jose.h"
#include "json.h"
#include "log.h"
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

/* A fresh key written to path as a key file would hold it. */
static int write_fresh_key(const char *path)
{
	crypto_ec_key *k = crypto_ec_key_generate();
	struct buf pem = BUF_INIT;
	FILE *f = fopen(path, "w");
	int rc = k && f && crypto_ec_key_to_pem(k, &pem) == 0 &&
		fwrite(pem.data, 1, pem.len, f) == pem.len ? 0 : -1;
	if (f && fclose(f) != 0)
		rc = -1;
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


/* ---- rp_keys_load: the configured key files ---- */

static struct singpass_config sp_keys(const char *sig, const char *sig_prev, const char *enc,
	const char *enc_prev)
{
	struct singpass_config sp;
	const char *files[CFG_SINGPASS_KEY_FILES] = { sig, sig_prev, enc, enc_prev };
	memset(&sp, 0, sizeof(sp));
	for (size_t i = 0; i < CFG_SINGPASS_KEY_FILES; i++)
		snprintf(sp.key_files[i], sizeof(sp.key_files[i]), "%s", files[i] ? files[i] : "");
	return sp;
}

#define P256_PKCS8 "tests/vectors/test-ec-p256-key.pem"
#define P256_SEC1  "tests/vectors/test-ec-p256-sec1-key.pem"

/* Loads sp and expects a refusal whose message starts with want. */
static void expect_load_fail(const struct singpass_config *sp, const char *want)
{
	struct rp_keys ks;
	char err[300] = "";
	CHECK(rp_keys_load(&ks, sp, err, sizeof(err)) == -1);
	CHECK(strncmp(err, want, strlen(want)) == 0);
	if (strncmp(err, want, strlen(want)) != 0)
		fprintf(stderr, "  got \"%s\", want \"%s...\"\n", err, want);
	CHECK(strstr(err, "BEGIN") == NULL && strstr(err, "MII") == NULL); /* no key material */
	CHECK_INT(ks.n, 0);
}

static void test_load_ok(void)
{
	char dir[] = "/tmp/sgid-test-rpkeys-XXXXXX", sig2[64], enc2[64];
	struct rp_keys ks;
	char err[300];

	CHECK(mkdtemp(dir) != NULL);
	snprintf(sig2, sizeof(sig2), "%s/sig2.pem", dir);
	snprintf(enc2, sizeof(enc2), "%s/enc2.pem", dir);
	CHECK(write_fresh_key(sig2) == 0 && write_fresh_key(enc2) == 0);

	/* the two required keys: kids derived */
	struct singpass_config sp = sp_keys(P256_PKCS8, NULL, P256_SEC1, NULL);
	CHECK(rp_keys_load(&ks, &sp, err, sizeof(err)) == 0);
	CHECK_INT(ks.n, 2);
	CHECK(rp_keys_check(&ks, err, sizeof(err)) == 0);
	char tp[JWK_THUMBPRINT_LEN + 1];
	CHECK(jwk_ec_thumbprint(rp_keys_get(&ks, RP_KEY_SIG, false)->key, tp) == 0);
	CHECK_STR(rp_keys_get(&ks, RP_KEY_SIG, false)->kid, tp);
	rp_keys_free(&ks);

	/* all four, kids configured for some */
	sp = sp_keys(sig2, P256_PKCS8, enc2, P256_SEC1);
	snprintf(sp.key_kids[0], sizeof(sp.key_kids[0]), "sig-2026");
	snprintf(sp.key_kids[3], sizeof(sp.key_kids[3]), "enc-2025");
	CHECK(rp_keys_load(&ks, &sp, err, sizeof(err)) == 0);
	CHECK_INT(ks.n, 4);
	CHECK_STR(rp_keys_get(&ks, RP_KEY_SIG, false)->kid, "sig-2026");
	CHECK_STR(rp_keys_get(&ks, RP_KEY_SIG, true)->kid, tp); /* the old one, moved to previous */
	CHECK_STR(rp_keys_get(&ks, RP_KEY_ENC, true)->kid, "enc-2025");
	struct jwe_ec_key dec[2];
	CHECK_INT(rp_keys_decrypters(&ks, dec), 2);
	struct buf jwks = BUF_INIT;
	CHECK(rp_keys_jwks(&ks, &jwks) == 0);
	json_value *doc = json_parse(jwks.data, jwks.len, jwks.len + 1);
	CHECK_INT(json_array_len(json_get(doc, "keys")), 4);
	CHECK(strstr(jwks.data, "\"d\"") == NULL);
	json_free(doc);
	buf_free(&jwks);
	rp_keys_free(&ks);
	unlink(sig2);
	unlink(enc2);
	rmdir(dir);
}

static void test_load_refusals(void)
{
	char dir[] = "/tmp/sgid-test-rpkeys-XXXXXX", big[64], empty[64];

	CHECK(mkdtemp(dir) != NULL);
	/* a missing required key, named */
	struct singpass_config sp = sp_keys(NULL, NULL, P256_SEC1, NULL);
	expect_load_fail(&sp, "SINGPASS_SIGNING_KEY_FILE: is required");
	sp = sp_keys(P256_PKCS8, NULL, NULL, NULL);
	expect_load_fail(&sp, "SINGPASS_ENCRYPTION_KEY_FILE: is required");
	/* unreadable: missing, a directory, over 64 KiB, empty */
	sp = sp_keys(P256_PKCS8, NULL, "/nonexistent/enc.pem", NULL);
	expect_load_fail(&sp, "SINGPASS_ENCRYPTION_KEY_FILE: cannot read the file: No such file");
	sp = sp_keys(P256_PKCS8, dir, P256_SEC1, NULL);
	expect_load_fail(&sp, "SINGPASS_SIGNING_KEY_PREVIOUS_FILE: cannot read the file: not a regular file");
	snprintf(big, sizeof(big), "%s/big.pem", dir);
	FILE *f = fopen(big, "w");
	for (int i = 0; f && i < 70 * 1024; i++)
		fputc('A', f);
	if (f)
		fclose(f);
	sp = sp_keys(P256_PKCS8, NULL, P256_SEC1, big);
	expect_load_fail(&sp, "SINGPASS_ENCRYPTION_KEY_PREVIOUS_FILE: cannot read the file: larger than 64 KiB");
	snprintf(empty, sizeof(empty), "%s/empty.pem", dir);
	f = fopen(empty, "w");
	if (f)
		fclose(f);
	sp = sp_keys(empty, NULL, P256_SEC1, NULL);
	expect_load_fail(&sp, "SINGPASS_SIGNING_KEY_FILE: ");

	/* not a P-256 private key */
	static const struct { const char *path; size_t slot; const char *want; } bad[] = {
		{ "tests/vectors/test-signing-key.pem", 2, "SINGPASS_ENCRYPTION_KEY_FILE: private key is RSA" },
		{ "tests/vectors/test-rsa1024-key.pem", 0, "SINGPASS_SIGNING_KEY_FILE: private key is RSA" },
		{ "tests/vectors/test-ec-p384-key.pem", 0, "SINGPASS_SIGNING_KEY_FILE: EC private key is not on curve P-256" },
		{ "tests/vectors/test-ec-secp256k1-key.pem", 3, "SINGPASS_ENCRYPTION_KEY_PREVIOUS_FILE: EC private key is not on curve P-256" },
		{ "tests/vectors/test-ed25519-key.pem", 1, "SINGPASS_SIGNING_KEY_PREVIOUS_FILE: private key is not an EC key" },
		{ "tests/vectors/test-ec-p256-encrypted-key.pem", 2, "SINGPASS_ENCRYPTION_KEY_FILE: " },
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		const char *files[4] = { P256_PKCS8, NULL, P256_SEC1, NULL };
		files[bad[i].slot] = bad[i].path;
		sp = sp_keys(files[0], files[1], files[2], files[3]);
		expect_load_fail(&sp, bad[i].want);
	}

	/* the same key twice: a previous key that is the current one, or one
	 * key for signing and encryption */
	sp = sp_keys(P256_PKCS8, P256_PKCS8, P256_SEC1, NULL);
	expect_load_fail(&sp, "SINGPASS_SIGNING_KEY_PREVIOUS_FILE: the same key pair as SINGPASS_SIGNING_KEY_FILE");
	sp = sp_keys(P256_PKCS8, NULL, P256_PKCS8, NULL);
	expect_load_fail(&sp, "SINGPASS_ENCRYPTION_KEY_FILE: the same key pair as SINGPASS_SIGNING_KEY_FILE");

	/* duplicate kids: a configured kid is named by its _ID variable */
	sp = sp_keys(P256_PKCS8, NULL, P256_SEC1, NULL);
	snprintf(sp.key_kids[0], sizeof(sp.key_kids[0]), "my-key");
	snprintf(sp.key_kids[2], sizeof(sp.key_kids[2]), "my-key");
	expect_load_fail(&sp, "SINGPASS_ENCRYPTION_KEY_ID: kid already used by SINGPASS_SIGNING_KEY_FILE");
	/* a configured kid equal to another key's derived one */
	struct rp_keys ks;
	char err[300];
	sp = sp_keys(P256_PKCS8, NULL, P256_SEC1, NULL);
	CHECK(rp_keys_load(&ks, &sp, err, sizeof(err)) == 0);
	snprintf(sp.key_kids[2], sizeof(sp.key_kids[2]), "%s", rp_keys_get(&ks, RP_KEY_SIG, false)->kid);
	rp_keys_free(&ks);
	expect_load_fail(&sp, "SINGPASS_ENCRYPTION_KEY_ID: kid already used by SINGPASS_SIGNING_KEY_FILE");
	/* a kid we would not publish */
	sp = sp_keys(P256_PKCS8, NULL, P256_SEC1, NULL);
	snprintf(sp.key_kids[0], sizeof(sp.key_kids[0]), "with space");
	expect_load_fail(&sp, "SINGPASS_SIGNING_KEY_ID: kid must be");
	unlink(big);
	unlink(empty);
	rmdir(dir);
}

int main(void)
{
	/* the vectors are 0644: keep rp_keys_load's warning about it quiet */
	log_set_level(LOG_LVL_ERROR);
	RUN(test_full_set);
	RUN(test_refusals);
	RUN(test_load_ok);
	RUN(test_load_refusals);
	return harness_report("test_rp_keys");
}
