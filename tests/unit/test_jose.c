/* jose: sgID userinfo profiles A and B, RFC 7515/7516/7520 examples, every
 * alg/enc pair, and hostile tokens (tampering, bad part counts, refused
 * algorithms and headers, unknown keys, junk in the JWKS). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "crypto.h"
#include "harness.h"
#include "jose.h"
#include "json.h"

static json_value *vec;   /* sgid-test-vectors.json */
static json_value *rfc;   /* rfc-jose-examples.json */
static json_value *extra; /* jwe-extra-vectors.json */
static json_value *cookbook; /* rfc7520-examples.json */
static crypto_pkey *client_key;

static json_value *load_json(const char *path)
{
	size_t len = 0;
	char *data = harness_read_file(path, &len);
	json_value *v = data ? json_parse(data, len, 1 << 20) : NULL;
	free(data);
	return v;
}

static const char *str_at(const json_value *obj, const char *k1, const char *k2)
{
	const json_value *o = k2 ? json_get(obj, k1) : obj;
	return json_get_str(o, k2 ? k2 : k1, NULL);
}

/* Serializes a member that holds a JSON object back to text (for JWKS
 * fixtures stored inline). Only what the fixtures use: strings, arrays,
 * objects. */
static void to_json(const json_value *v, struct buf *out);

static int member_to_json(const char *key, const json_value *val, void *ud)
{
	struct buf *out = ud;
	if (out->len && out->data[out->len - 1] != '{')
		buf_append_char(out, ',');
	json_append_string(out, key, strlen(key));
	buf_append_char(out, ':');
	to_json(val, out);
	return 0;
}

static void to_json(const json_value *v, struct buf *out)
{
	size_t len;
	const char *s;
	switch (json_kind_of(v)) {
	case JSON_STRING:
		s = json_str(v, &len);
		json_append_string(out, s, len);
		break;
	case JSON_ARRAY:
		buf_append_char(out, '[');
		for (size_t i = 0; i < json_array_len(v); i++) {
			if (i)
				buf_append_char(out, ',');
			to_json(json_array_at(v, i), out);
		}
		buf_append_char(out, ']');
		break;
	case JSON_OBJECT:
		buf_append_char(out, '{');
		json_object_foreach(v, member_to_json, out);
		buf_append_char(out, '}');
		break;
	default:
		buf_append_str(out, "null");
		break;
	}
}

static enum jose_err jwks_from(const json_value *v, struct jwks *out)
{
	struct buf b = BUF_INIT;
	to_json(v, &b);
	enum jose_err rc = jwks_parse(buf_cstr(&b), b.len, out);
	buf_free(&b);
	return rc;
}

static enum jose_err decrypt_rsa(const char *jwe, const crypto_pkey *k, struct buf *pt)
{
	struct jwe_key key = { k, NULL, 0 };
	return jwe_decrypt(jwe, strlen(jwe), &key, pt);
}

static enum jose_err decrypt_oct(const char *jwe, const struct buf *k, struct buf *pt)
{
	struct jwe_key key = { NULL, (const uint8_t *)k->data, k->len };
	return jwe_decrypt(jwe, strlen(jwe), &key, pt);
}

/* ---- sgID userinfo profiles ---- */

struct field_ctx {
	const struct buf *block_key;
	const json_value *expected;
	int seen;
};

static int check_field(const char *name, const json_value *val, void *ud)
{
	struct field_ctx *c = ud;
	struct buf pt = BUF_INIT;
	const char *jwe = json_str(val, NULL);
	CHECK(jwe != NULL);
	if (jwe)
		CHECK_INT(decrypt_oct(jwe, c->block_key, &pt), JOSE_OK);
	CHECK_STR(buf_cstr(&pt), json_get_str(c->expected, name, NULL));
	c->seen++;
	buf_free(&pt);
	return 0;
}

static void userinfo_profile(const json_value *profile)
{
	const json_value *resp = json_get(profile, "userinfo_response");
	const json_value *expected = json_get(profile, "expected_decrypted_data");
	const char *key_jwe = json_get_str(resp, "key", NULL);
	struct buf jwk = BUF_INIT, block = BUF_INIT;

	CHECK(key_jwe != NULL);
	if (!key_jwe)
		return;
	CHECK_INT(decrypt_rsa(key_jwe, client_key, &jwk), JOSE_OK);
	CHECK_STR(buf_cstr(&jwk), json_get_str(profile, "block_key_plaintext", NULL));
	CHECK_INT(jwk_oct_parse(jwk.data, jwk.len, &block), JOSE_OK);
	CHECK(block.len == 16 || block.len == 32);

	struct field_ctx c = { &block, expected, 0 };
	json_object_foreach(json_get(resp, "data"), check_field, &c);
	CHECK_INT(c.seen, json_object_len(expected));
	buf_free(&jwk);
	buf_free(&block);
}

static void test_profile_a(void)
{
	userinfo_profile(vec);
	/* The UTF-8 sample survives intact. */
	CHECK_STR(str_at(vec, "expected_decrypted_data", "utf8.sample"), "Zo\xc3\xab \xe9\x99\x88");
}

static void test_profile_b(void)
{
	userinfo_profile(json_get(vec, "userinfo_profile_B_node_jose_defaults"));
}

/* ---- RFC examples ---- */

static void test_rfc7516_a1(void)
{
	const json_value *a1 = json_get(rfc, "rfc7516_a1");
	const char *pem = json_get_str(a1, "private_key_pkcs8_pem", NULL);
	char err[128] = "";
	crypto_pkey *k = pem ? crypto_private_key_load(pem, strlen(pem), err, sizeof err) : NULL;
	struct buf pt = BUF_INIT;
	CHECK(k != NULL);
	CHECK_INT(decrypt_rsa(json_get_str(a1, "jwe", NULL), k, &pt), JOSE_OK);
	CHECK_STR(buf_cstr(&pt), json_get_str(a1, "plaintext", NULL));
	/* The wrong RSA key cannot unwrap the CEK. */
	buf_reset(&pt);
	CHECK_INT(decrypt_rsa(json_get_str(a1, "jwe", NULL), client_key, &pt), JOSE_ERR_DECRYPT);
	CHECK_INT(pt.len, 0);
	/* A.2 uses RSA1_5: refused before any RSA operation. */
	CHECK_INT(decrypt_rsa(str_at(rfc, "rfc7516_a2", "jwe"), k, &pt), JOSE_ERR_ALG);
	buf_free(&pt);
	crypto_pkey_free(k);
}

static void test_rfc7516_a3(void)
{
	const json_value *a3 = json_get(rfc, "rfc7516_a3");
	struct buf jwk = BUF_INIT, k = BUF_INIT, pt = BUF_INIT;
	to_json(json_get(a3, "jwk"), &jwk);
	CHECK_INT(jwk_oct_parse(jwk.data, jwk.len, &k), JOSE_OK);
	CHECK_INT(k.len, 16);
	CHECK_INT(decrypt_oct(json_get_str(a3, "jwe", NULL), &k, &pt), JOSE_OK);
	CHECK_STR(buf_cstr(&pt), json_get_str(a3, "plaintext", NULL));
	buf_free(&jwk);
	buf_free(&k);
	buf_free(&pt);
}

static void test_rfc7515_a2(void)
{
	const json_value *a2 = json_get(rfc, "rfc7515_a2");
	const char *jws = json_get_str(a2, "jws", NULL);
	struct jwks keys = {0};
	json_value *payload = NULL;
	CHECK_INT(jwks_from(json_get(a2, "jwks"), &keys), JOSE_OK);
	CHECK_INT(keys.n, 1);
	CHECK_INT(jws_verify_rs256(jws, strlen(jws), &keys, &payload), JOSE_OK);
	CHECK_STR(json_get_str(payload, "iss", NULL), "joe");
	json_free(payload);
	jwks_clear(&keys);
}

static void test_refused_algs(void)
{
	struct jwks keys = {0};
	json_value *payload = NULL;
	CHECK_INT(jwks_from(json_get(vec, "server_jwks"), &keys), JOSE_OK);
	/* RFC 7515 A.1 is HS256. */
	const char *hs = str_at(rfc, "rfc7515_a1", "jws");
	CHECK_INT(jws_verify_rs256(hs, strlen(hs), &keys, &payload), JOSE_ERR_ALG);
	/* {"alg":"none"} with the vector's payload and an empty signature. */
	const char *tok = str_at(vec, "id_token_no_kid", NULL);
	const char *dot = strchr(tok, '.');
	const char *dot2 = strchr(dot + 1, '.');
	struct buf none = BUF_INIT;
	b64url_encode((const uint8_t *)"{\"alg\":\"none\"}", 14, &none);
	buf_append(&none, dot, (size_t)(dot2 - dot + 1));
	CHECK_INT(jws_verify_rs256(none.data, none.len, &keys, &payload), JOSE_ERR_ALG);
	/* Same with a signature, and with alg "RS512", and alg missing. */
	buf_reset(&none);
	b64url_encode((const uint8_t *)"{\"alg\":\"RS512\"}", 15, &none);
	buf_append_str(&none, dot);
	CHECK_INT(jws_verify_rs256(none.data, none.len, &keys, &payload), JOSE_ERR_ALG);
	buf_reset(&none);
	b64url_encode((const uint8_t *)"{\"typ\":\"JWT\"}", 13, &none);
	buf_append_str(&none, dot);
	CHECK_INT(jws_verify_rs256(none.data, none.len, &keys, &payload), JOSE_ERR_MALFORMED);
	/* crit is refused even with RS256. */
	buf_reset(&none);
	b64url_encode((const uint8_t *)"{\"alg\":\"RS256\",\"crit\":[\"b64\"],\"b64\":false}", 42, &none);
	buf_append_str(&none, dot);
	CHECK_INT(jws_verify_rs256(none.data, none.len, &keys, &payload), JOSE_ERR_UNSUPPORTED);
	CHECK(payload == NULL);
	buf_free(&none);
	jwks_clear(&keys);
}

/* ---- sgID ID tokens ---- */

static void test_vector_id_tokens(void)
{
	struct jwks keys = {0};
	json_value *payload = NULL;
	CHECK_INT(jwks_from(json_get(vec, "server_jwks"), &keys), JOSE_OK);
	CHECK_INT(keys.n, 1);
	CHECK(keys.keys[0].has_kid);
	CHECK_STR(keys.keys[0].kid, "testKey");
	const char *names[] = { "id_token_no_kid", "id_token_with_kid" };
	for (size_t i = 0; i < 2; i++) {
		const char *t = str_at(vec, names[i], NULL);
		CHECK_INT(jws_verify_rs256(t, strlen(t), &keys, &payload), JOSE_OK);
		CHECK_STR(json_get_str(payload, "sub", NULL), "mockSub");
		json_free(payload);
		payload = NULL;
	}
	/* A NULL payload pointer is allowed. */
	const char *t = str_at(vec, "id_token_with_kid", NULL);
	CHECK_INT(jws_verify_rs256(t, strlen(t), &keys, NULL), JOSE_OK);
	jwks_clear(&keys);
}

/* Replaces one base64url character in the middle of segment seg so the
 * segment still decodes but to different bytes. */
static char *tamper(const char *tok, int seg)
{
	char *t = strdup(tok);
	char *p = t;
	for (int i = 0; i < seg; i++)
		p = strchr(p, '.') + 1;
	char *end = strchr(p, '.');
	size_t len = end ? (size_t)(end - p) : strlen(p);
	char *c = p + len / 2;
	*c = *c == 'A' ? 'B' : 'A';
	return t;
}

static void test_jws_tampering(void)
{
	struct jwks keys = {0};
	json_value *payload = NULL;
	CHECK_INT(jwks_from(json_get(vec, "server_jwks"), &keys), JOSE_OK);
	const char *with_kid = str_at(vec, "id_token_with_kid", NULL);
	const char *no_kid = str_at(vec, "id_token_no_kid", NULL);

	/* With a kid a failed check is SIGNATURE; without one, NO_KEY. */
	for (int seg = 1; seg <= 2; seg++) {
		char *t = tamper(with_kid, seg);
		CHECK_INT(jws_verify_rs256(t, strlen(t), &keys, &payload), JOSE_ERR_SIGNATURE);
		free(t);
		t = tamper(no_kid, seg);
		CHECK_INT(jws_verify_rs256(t, strlen(t), &keys, &payload), JOSE_ERR_NO_KEY);
		free(t);
	}
	/* A re-encoded header that still says RS256 + testKey. */
	const char *rest = strchr(with_kid, '.');
	struct buf h = BUF_INIT;
	const char *hdr = "{\"alg\":\"RS256\",\"kid\":\"testKey\",\"typ\":\"JWS\"}";
	b64url_encode((const uint8_t *)hdr, strlen(hdr), &h);
	buf_append_str(&h, rest);
	CHECK_INT(jws_verify_rs256(h.data, h.len, &keys, &payload), JOSE_ERR_SIGNATURE);
	/* Header that is not base64url / not JSON / not an object. */
	buf_reset(&h);
	buf_append_str(&h, "eyJhbGciOiJSUzI1NiJ9!");
	buf_append_str(&h, rest);
	CHECK_INT(jws_verify_rs256(h.data, h.len, &keys, &payload), JOSE_ERR_MALFORMED);
	buf_reset(&h);
	b64url_encode((const uint8_t *)"[1]", 3, &h);
	buf_append_str(&h, rest);
	CHECK_INT(jws_verify_rs256(h.data, h.len, &keys, &payload), JOSE_ERR_MALFORMED);
	/* A well-formed but short signature. */
	buf_reset(&h);
	buf_append(&h, with_kid, (size_t)(strrchr(with_kid, '.') - with_kid) + 1);
	buf_append_str(&h, "AAAA");
	CHECK_INT(jws_verify_rs256(h.data, h.len, &keys, &payload), JOSE_ERR_SIGNATURE);
	CHECK(payload == NULL);
	buf_free(&h);
	jwks_clear(&keys);
}

static void test_part_counts(void)
{
	struct jwks keys = {0};
	json_value *payload = NULL;
	struct buf t = BUF_INIT, pt = BUF_INIT;
	CHECK_INT(jwks_from(json_get(vec, "server_jwks"), &keys), JOSE_OK);
	const char *jws = str_at(vec, "id_token_with_kid", NULL);

	buf_append_str(&t, jws);
	buf_append_str(&t, ".");
	CHECK_INT(jws_verify_rs256(t.data, t.len, &keys, &payload), JOSE_ERR_MALFORMED);
	buf_append_str(&t, "AAAA");
	CHECK_INT(jws_verify_rs256(t.data, t.len, &keys, &payload), JOSE_ERR_MALFORMED);
	CHECK_INT(jws_verify_rs256(jws, (size_t)(strrchr(jws, '.') - jws), &keys, &payload),
		JOSE_ERR_MALFORMED);
	CHECK_INT(jws_verify_rs256("", 0, &keys, &payload), JOSE_ERR_MALFORMED);
	CHECK_INT(jws_verify_rs256("..", 2, &keys, &payload), JOSE_ERR_MALFORMED);

	/* JWE: 4 and 6 parts. */
	const char *jwe = str_at(rfc, "rfc7516_a1", "jwe");
	struct jwe_key key = { client_key, NULL, 0 };
	CHECK_INT(jwe_decrypt(jwe, (size_t)(strrchr(jwe, '.') - jwe), &key, &pt), JOSE_ERR_MALFORMED);
	buf_reset(&t);
	buf_append_str(&t, jwe);
	buf_append_str(&t, ".AAAA");
	CHECK_INT(jwe_decrypt(t.data, t.len, &key, &pt), JOSE_ERR_MALFORMED);
	/* A 3-part JWS handed to the JWE decoder and vice versa. */
	CHECK_INT(jwe_decrypt(jws, strlen(jws), &key, &pt), JOSE_ERR_MALFORMED);
	CHECK_INT(jws_verify_rs256(jwe, strlen(jwe), &keys, &payload), JOSE_ERR_MALFORMED);
	CHECK_INT(pt.len, 0);

	/* Over the size bound. */
	buf_reset(&t);
	while (t.len <= JOSE_MAX_TOKEN_LEN)
		buf_append_str(&t, "AAAAAAAAAAAAAAAA");
	CHECK_INT(jwe_decrypt(t.data, t.len, &key, &pt), JOSE_ERR_TOO_LARGE);
	CHECK_INT(jws_verify_rs256(t.data, t.len, &keys, &payload), JOSE_ERR_TOO_LARGE);
	buf_free(&t);
	buf_free(&pt);
	jwks_clear(&keys);
}

static void test_unknown_kid(void)
{
	struct jwks keys = {0};
	json_value *payload = NULL;
	json_value *tj = load_json("tests/vectors/test-jwks.json");
	CHECK(tj != NULL);
	CHECK_INT(jwks_from(json_get(tj, "signing_jwks"), &keys), JOSE_OK);
	CHECK_INT(keys.n, 1);
	const char *t = str_at(vec, "id_token_with_kid", NULL);
	CHECK_INT(jws_verify_rs256(t, strlen(t), &keys, &payload), JOSE_ERR_NO_KEY);
	t = str_at(vec, "id_token_no_kid", NULL);
	CHECK_INT(jws_verify_rs256(t, strlen(t), &keys, &payload), JOSE_ERR_NO_KEY);
	/* An empty set knows no key either. */
	jwks_clear(&keys);
	CHECK_INT(jws_verify_rs256(t, strlen(t), &keys, &payload), JOSE_ERR_NO_KEY);
	CHECK_INT(jws_verify_rs256(t, strlen(t), NULL, &payload), JOSE_ERR_NO_KEY);
	json_free(tj);
}

static void test_jwks_filtering(void)
{
	json_value *tj = load_json("tests/vectors/test-jwks.json");
	struct buf doc = BUF_INIT, server = BUF_INIT, r1024 = BUF_INIT, ec = BUF_INIT;
	struct jwks keys = {0};
	json_value *payload = NULL;

	to_json(json_array_at(json_get(json_get(vec, "server_jwks"), "keys"), 0), &server);
	to_json(json_get(tj, "rsa1024_jwk"), &r1024);
	to_json(json_get(tj, "ec_p256_jwk"), &ec);
	const char *n = str_at(json_array_at(json_get(json_get(vec, "server_jwks"), "keys"), 0), "n", NULL);
	buf_printf(&doc, "{\"keys\":[\"junk\",42,null,[],{},%s,%s,"
		"{\"kty\":\"oct\",\"k\":\"GawgguFyGrWKav7AX4VKUg\"},"
		"{\"kty\":\"RSA\",\"kid\":\"enc\",\"use\":\"enc\",\"n\":\"%s\",\"e\":\"AQAB\"},"
		"{\"kty\":\"RSA\",\"kid\":\"ps\",\"alg\":\"PS256\",\"n\":\"%s\",\"e\":\"AQAB\"},"
		"{\"kty\":\"RSA\",\"kid\":\"ops\",\"key_ops\":[\"encrypt\"],\"n\":\"%s\",\"e\":\"AQAB\"},"
		"{\"kty\":\"RSA\",\"kid\":\"bad-n\",\"n\":\"not base64!\",\"e\":\"AQAB\"},"
		"{\"kty\":\"RSA\",\"kid\":\"no-e\",\"n\":\"%s\"},"
		"{\"kty\":\"RSA\",\"kid\":\"even-e\",\"n\":\"%s\",\"e\":\"Ag\"},"
		"{\"kty\":\"RSA\",\"kid\":42,\"n\":\"%s\",\"e\":\"AQAB\"},"
		"{\"kty\":\"RSA\",\"kid\":\"%0200d\",\"n\":\"%s\",\"e\":\"AQAB\"},"
		"%s]}",
		buf_cstr(&r1024), buf_cstr(&ec), n, n, n, n, n, n, 0, n, buf_cstr(&server));
	CHECK_INT(jwks_parse(doc.data, doc.len, &keys), JOSE_OK);
	CHECK_INT(keys.n, 1);
	CHECK_STR(keys.keys[0].kid, "testKey");
	const char *t = str_at(vec, "id_token_with_kid", NULL);
	CHECK_INT(jws_verify_rs256(t, strlen(t), &keys, &payload), JOSE_OK);
	json_free(payload);

	/* Reparsing into a used set frees the old keys (valgrind/ASan check). */
	CHECK_INT(jwks_parse("{\"keys\":[]}", 11, &keys), JOSE_OK);
	CHECK_INT(keys.n, 0);
	const char *bad[] = { "[]", "{}", "{\"keys\":{}}", "{\"keys\":\"x\"}", "not json", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		CHECK_INT(jwks_parse(bad[i], strlen(bad[i]), &keys), JOSE_ERR_MALFORMED);
	jwks_clear(&keys);
	jwks_clear(NULL);
	buf_free(&doc);
	buf_free(&server);
	buf_free(&r1024);
	buf_free(&ec);
	json_free(tj);
}

static void test_jwks_cap(void)
{
	/* More usable keys than JWKS_MAX_KEYS: the extra ones are dropped. */
	struct buf doc = BUF_INIT, one = BUF_INIT;
	struct jwks keys = {0};
	to_json(json_array_at(json_get(json_get(vec, "server_jwks"), "keys"), 0), &one);
	buf_append_str(&doc, "{\"keys\":[");
	for (int i = 0; i < JWKS_MAX_KEYS + 4; i++) {
		if (i)
			buf_append_char(&doc, ',');
		buf_append(&doc, one.data, one.len);
	}
	buf_append_str(&doc, "]}");
	CHECK_INT(jwks_parse(doc.data, doc.len, &keys), JOSE_OK);
	CHECK_INT(keys.n, JWKS_MAX_KEYS);
	jwks_clear(&keys);
	buf_free(&doc);
	buf_free(&one);
}

/* ---- JWE: every alg/enc pair and hostile variants ---- */

static enum jose_err decrypt_vector(const json_value *v, struct buf *pt)
{
	const char *jwe = json_get_str(v, "jwe", NULL);
	const json_value *key = json_get(v, "key");
	const char *oct = json_get_str(key, "oct", NULL);
	struct buf k = BUF_INIT;
	enum jose_err rc;
	if (oct) {
		b64url_decode(oct, strlen(oct), &k);
		rc = decrypt_oct(jwe, &k, pt);
	} else {
		rc = decrypt_rsa(jwe, client_key, pt);
	}
	buf_free(&k);
	return rc;
}

static void test_all_alg_enc(void)
{
	const json_value *good = json_get(extra, "good");
	CHECK_INT(json_array_len(good), 54);
	for (size_t i = 0; i < json_array_len(good); i++) {
		const json_value *v = json_array_at(good, i);
		struct buf pt = BUF_INIT;
		harness_current = json_get_str(v, "name", NULL);
		CHECK_INT(decrypt_vector(v, &pt), JOSE_OK);
		CHECK_STR(buf_cstr(&pt), json_get_str(v, "plaintext", NULL));
		buf_free(&pt);
	}
}

static enum jose_err err_by_name(const char *s)
{
	static const char *const names[] = { "JOSE_OK", "JOSE_ERR_MALFORMED", "JOSE_ERR_ALG",
		"JOSE_ERR_UNSUPPORTED", "JOSE_ERR_NO_KEY", "JOSE_ERR_SIGNATURE", "JOSE_ERR_KEY",
		"JOSE_ERR_DECRYPT", "JOSE_ERR_TOO_LARGE", "JOSE_ERR_NOMEM" };
	for (size_t i = 0; s && i < sizeof names / sizeof names[0]; i++)
		if (strcmp(s, names[i]) == 0)
			return (enum jose_err)i;
	return JOSE_ERR__MAX;
}

static void test_bad_vectors(void)
{
	const json_value *bad = json_get(extra, "bad");
	for (size_t i = 0; i < json_array_len(bad); i++) {
		const json_value *v = json_array_at(bad, i);
		struct buf pt = BUF_INIT;
		harness_current = json_get_str(v, "name", NULL);
		CHECK_INT(decrypt_vector(v, &pt), err_by_name(json_get_str(v, "expect_error", NULL)));
		CHECK_INT(pt.len, 0);
		buf_free(&pt);
	}
}

/* Every segment of a JWE tampered with: nothing decrypts. */
static void jwe_tamper_all(const char *jwe, const struct jwe_key *key, int first_seg)
{
	for (int seg = first_seg; seg <= 4; seg++) {
		struct buf pt = BUF_INIT;
		char *t = tamper(jwe, seg);
		enum jose_err rc = jwe_decrypt(t, strlen(t), key, &pt);
		CHECK(rc == JOSE_ERR_DECRYPT || rc == JOSE_ERR_MALFORMED);
		CHECK_INT(pt.len, 0);
		free(t);
		buf_free(&pt);
	}
}

static void test_jwe_tampering(void)
{
	/* Profile A data field: A128GCMKW / A128GCM. */
	const char *key_jwe = str_at(vec, "userinfo_response", "key");
	struct buf jwk = BUF_INIT, block = BUF_INIT;
	decrypt_rsa(key_jwe, client_key, &jwk);
	jwk_oct_parse(jwk.data, jwk.len, &block);
	const char *name_jwe = str_at(json_get(vec, "userinfo_response"), "data", "myinfo.name");
	struct jwe_key ok = { NULL, (const uint8_t *)block.data, block.len };
	struct jwe_key rsa = { client_key, NULL, 0 };
	jwe_tamper_all(name_jwe, &ok, 1);
	jwe_tamper_all(key_jwe, &rsa, 1);
	/* RFC 7516 A.3 (CBC-HS): tampering reaches the MAC check. */
	struct buf a3k = BUF_INIT;
	b64url_decode("GawgguFyGrWKav7AX4VKUg", 22, &a3k);
	struct jwe_key kw = { NULL, (const uint8_t *)a3k.data, a3k.len };
	const char *a3 = str_at(rfc, "rfc7516_a3", "jwe");
	for (int seg = 2; seg <= 4; seg++) {
		struct buf pt = BUF_INIT;
		char *t = tamper(a3, seg);
		CHECK_INT(jwe_decrypt(t, strlen(t), &kw, &pt), JOSE_ERR_DECRYPT);
		free(t);
		buf_free(&pt);
	}

	/* Header re-encoded with the same meaning: AAD differs, tag fails. */
	struct buf h = BUF_INIT, pt = BUF_INIT;
	b64url_encode((const uint8_t *)"{\"alg\":\"A128KW\", \"enc\":\"A128CBC-HS256\"}", 39, &h);
	buf_append_str(&h, strchr(a3, '.'));
	CHECK_INT(jwe_decrypt(h.data, h.len, &kw, &pt), JOSE_ERR_DECRYPT);

	/* Wrong key kinds and sizes. */
	CHECK_INT(jwe_decrypt(a3, strlen(a3), &rsa, &pt), JOSE_ERR_KEY);
	CHECK_INT(jwe_decrypt(key_jwe, strlen(key_jwe), &kw, &pt), JOSE_ERR_KEY);
	struct jwe_key short_kw = { NULL, (const uint8_t *)a3k.data, 8 };
	CHECK_INT(jwe_decrypt(a3, strlen(a3), &short_kw, &pt), JOSE_ERR_KEY);
	struct jwe_key wrong_kw = { NULL, (const uint8_t *)block.data, block.len };
	CHECK_INT(jwe_decrypt(a3, strlen(a3), &wrong_kw, &pt), JOSE_ERR_DECRYPT);
	CHECK_INT(jwe_decrypt(a3, strlen(a3), NULL, &pt), JOSE_ERR_KEY);

	/* dir with a non-empty encrypted key. */
	const json_value *profb = json_get(vec, "userinfo_profile_B_node_jose_defaults");
	const char *dir_jwe = str_at(json_get(profb, "userinfo_response"), "data", "myinfo.name");
	const char *dot = strstr(dir_jwe, "..");
	CHECK(dot != NULL);
	buf_reset(&h);
	if (dot) {
		buf_append(&h, dir_jwe, (size_t)(dot - dir_jwe) + 1);
		buf_append_str(&h, "AAAA");
		buf_append_str(&h, dot + 1);
		uint8_t k32[32] = {0};
		struct jwe_key dk = { NULL, k32, 32 };
		CHECK_INT(jwe_decrypt(h.data, h.len, &dk, &pt), JOSE_ERR_MALFORMED);
	}
	CHECK_INT(pt.len, 0);
	buf_free(&h);
	buf_free(&pt);
	buf_free(&a3k);
	buf_free(&jwk);
	buf_free(&block);
}

static void test_jwe_header_refusals(void)
{
	struct jwe_key rsa = { client_key, NULL, 0 };
	struct buf pt = BUF_INIT;
	const char *a1 = str_at(rfc, "rfc7516_a1", "jwe");
	const char *rest = strchr(a1, '.');
	static const struct { const char *hdr; enum jose_err want; } cases[] = {
		{ "{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\",\"zip\":\"DEF\"}", JOSE_ERR_UNSUPPORTED },
		{ "{\"alg\":\"RSA1_5\",\"enc\":\"A256GCM\"}", JOSE_ERR_ALG },
		{ "{\"alg\":\"none\",\"enc\":\"A256GCM\"}", JOSE_ERR_ALG },
		{ "{\"alg\":\"HS256\",\"enc\":\"A256GCM\"}", JOSE_ERR_ALG },
		{ "{\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\"}", JOSE_ERR_ALG },
		{ "{\"alg\":\"RSA-OAEP\",\"enc\":\"A256CBC\"}", JOSE_ERR_ALG },
		{ "{\"alg\":\"RSA-OAEP\"}", JOSE_ERR_MALFORMED },
		{ "{\"enc\":\"A256GCM\"}", JOSE_ERR_MALFORMED },
		{ "{\"alg\":7,\"enc\":\"A256GCM\"}", JOSE_ERR_MALFORMED },
		{ "\"RSA-OAEP\"", JOSE_ERR_MALFORMED },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct buf t = BUF_INIT;
		b64url_encode((const uint8_t *)cases[i].hdr, strlen(cases[i].hdr), &t);
		buf_append_str(&t, rest);
		CHECK_INT(jwe_decrypt(t.data, t.len, &rsa, &pt), cases[i].want);
		buf_free(&t);
	}
	CHECK_INT(pt.len, 0);
	buf_free(&pt);
}

/* ---- RFC 7520 (JOSE Cookbook) examples ---- */

/* Figure 7 (JWS payload) and Figure 72 (JWE plaintext), byte for byte:
 * U+2019 and U+2013 as the RFC spells them out. */
static const char rfc7520_fig7[] =
	"It\xe2\x80\x99" "s a dangerous business, Frodo, going out your door. "
	"You step onto the road, and if you don't keep your feet, "
	"there\xe2\x80\x99" "s no knowing where you might be swept off to.";
static const char rfc7520_fig72[] =
	"You can trust us to stick with you through thick and thin\xe2\x80\x93" "to the "
	"bitter end. And you can trust us to keep any secret of yours\xe2\x80\x93" "closer "
	"than you keep it yourself. But you cannot trust us to let you face trouble "
	"alone, and go off without a word. We are your friends, Frodo.";

static crypto_pkey *load_pem_file(const char *path)
{
	char err[128] = "";
	size_t len = 0;
	char *pem = harness_read_file(path, &len);
	crypto_pkey *k = pem ? crypto_private_key_load(pem, len, err, sizeof err) : NULL;
	free(pem);
	return k;
}

/* Section 4.1: RS256 over a text payload with the Section 3.3 public key. */
static void test_rfc7520_4_1(void)
{
	const json_value *ex = json_get(cookbook, "rfc7520_4_1");
	const char *jws = json_get_str(ex, "jws", NULL);
	struct jwks keys = {0};
	json_value *payload = NULL;
	struct buf body = BUF_INIT, sig = BUF_INIT, t = BUF_INIT;

	CHECK(jws != NULL);
	if (!jws)
		return;
	CHECK_INT(jwks_from(json_get(ex, "jwks"), &keys), JOSE_OK);
	CHECK_INT(keys.n, 1);
	CHECK_STR(keys.keys[0].kid, "bilbo.baggins@hobbiton.example");
	CHECK_INT(crypto_pkey_bits(keys.keys[0].key), 2048);

	const char *dot1 = strchr(jws, '.');
	const char *dot2 = strrchr(jws, '.');
	CHECK_INT(b64url_decode(dot1 + 1, (size_t)(dot2 - dot1 - 1), &body), 0);
	CHECK_INT(b64url_decode(dot2 + 1, strlen(dot2 + 1), &sig), 0);
	CHECK_INT(body.len, sizeof rfc7520_fig7 - 1);
	CHECK_STR(buf_cstr(&body), rfc7520_fig7);
	CHECK_STR(buf_cstr(&body), json_get_str(ex, "payload", NULL));

	/* The RFC signature verifies with the key built from n/e... */
	if (keys.n == 1)
		CHECK_INT(crypto_rsa_verify_sha256(keys.keys[0].key, jws, (size_t)(dot2 - jws),
			(const uint8_t *)sig.data, sig.len), 0);
	/* ...and jws_verify_rs256 gets past the signature: it then refuses the
	 * payload because it is text, not the JSON object it returns (a
	 * signature failure would be JOSE_ERR_SIGNATURE, the kid matches). */
	CHECK_INT(jws_verify_rs256(jws, strlen(jws), &keys, &payload), JOSE_ERR_MALFORMED);
	CHECK(payload == NULL);
	CHECK_INT(jws_verify_rs256(jws, strlen(jws), &keys, NULL), JOSE_ERR_MALFORMED);

	/* One payload byte changed ("Frodo" -> "frodo"): the signature fails. */
	char *f = body.len ? strstr(body.data, "Frodo") : NULL;
	CHECK(f != NULL);
	if (f)
		*f = 'f';
	buf_append(&t, jws, (size_t)(dot1 - jws) + 1);
	b64url_encode((const uint8_t *)body.data, body.len, &t);
	buf_append_str(&t, dot2);
	CHECK_INT(jws_verify_rs256(t.data, t.len, &keys, &payload), JOSE_ERR_SIGNATURE);
	CHECK(payload == NULL);
	if (keys.n == 1)
		CHECK(crypto_rsa_verify_sha256(keys.keys[0].key, t.data,
			(size_t)(strrchr(t.data, '.') - t.data), (const uint8_t *)sig.data, sig.len) != 0);
	/* A base64url character changed in the payload or the signature. */
	for (int seg = 1; seg <= 2; seg++) {
		char *bad = tamper(jws, seg);
		CHECK_INT(jws_verify_rs256(bad, strlen(bad), &keys, &payload), JOSE_ERR_SIGNATURE);
		free(bad);
	}
	/* Another RSA key under the same kid does not verify it either. */
	jwks_clear(&keys);
	const char *other_n = str_at(json_array_at(json_get(json_get(vec, "server_jwks"), "keys"), 0), "n", NULL);
	buf_reset(&t);
	buf_printf(&t, "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"bilbo.baggins@hobbiton.example\","
		"\"n\":\"%s\",\"e\":\"AQAB\"}]}", other_n ? other_n : "");
	CHECK_INT(jwks_parse(t.data, t.len, &keys), JOSE_OK);
	CHECK_INT(keys.n, 1);
	CHECK_INT(jws_verify_rs256(jws, strlen(jws), &keys, &payload), JOSE_ERR_SIGNATURE);
	jwks_clear(&keys);
	buf_free(&body);
	buf_free(&sig);
	buf_free(&t);
}

/* Section 5.2: RSA-OAEP / A256GCM with the Figure 84 RSA 4096-bit key. */
static void test_rfc7520_5_2(void)
{
	const json_value *ex = json_get(cookbook, "rfc7520_5_2");
	const char *jwe = json_get_str(ex, "jwe", NULL);
	crypto_pkey *k = load_pem_file("tests/vectors/rfc7520-rsa-key.pem");
	struct buf pt = BUF_INIT;

	CHECK(jwe != NULL);
	CHECK(k != NULL);
	if (!jwe || !k) {
		crypto_pkey_free(k);
		return;
	}
	struct jwe_key key = { k, NULL, 0 };
	CHECK_INT(crypto_pkey_bits(k), 4096);
	CHECK_INT(decrypt_rsa(jwe, k, &pt), JOSE_OK);
	CHECK_INT(pt.len, sizeof rfc7520_fig72 - 1);
	CHECK(pt.len == sizeof rfc7520_fig72 - 1 && memcmp(pt.data, rfc7520_fig72, pt.len) == 0);
	CHECK_STR(buf_cstr(&pt), json_get_str(ex, "plaintext", NULL));
	/* The wrong RSA key cannot unwrap the CEK; RSA-OAEP-256 is not RSA-OAEP. */
	buf_reset(&pt);
	CHECK_INT(decrypt_rsa(jwe, client_key, &pt), JOSE_ERR_DECRYPT);
	struct buf h = BUF_INIT;
	b64url_encode((const uint8_t *)"{\"alg\":\"RSA-OAEP-256\",\"enc\":\"A256GCM\"}", 38, &h);
	buf_append_str(&h, strchr(jwe, '.'));
	CHECK_INT(jwe_decrypt(h.data, h.len, &key, &pt), JOSE_ERR_DECRYPT);
	CHECK_INT(pt.len, 0);
	jwe_tamper_all(jwe, &key, 0);
	buf_free(&h);
	buf_free(&pt);
	crypto_pkey_free(k);
}

/* Section 5.8: A128KW / A128GCM with the Figure 151 key. */
static void test_rfc7520_5_8(void)
{
	const json_value *ex = json_get(cookbook, "rfc7520_5_8");
	const char *jwe = json_get_str(ex, "jwe", NULL);
	struct buf jwk = BUF_INIT, k = BUF_INIT, pt = BUF_INIT;

	CHECK(jwe != NULL);
	if (!jwe)
		return;
	to_json(json_get(ex, "jwk"), &jwk);
	CHECK_INT(jwk_oct_parse(jwk.data, jwk.len, &k), JOSE_OK);
	CHECK_INT(k.len, 16);
	CHECK_INT(decrypt_oct(jwe, &k, &pt), JOSE_OK);
	CHECK_INT(pt.len, sizeof rfc7520_fig72 - 1);
	CHECK(pt.len == sizeof rfc7520_fig72 - 1 && memcmp(pt.data, rfc7520_fig72, pt.len) == 0);
	CHECK_STR(buf_cstr(&pt), json_get_str(ex, "plaintext", NULL));
	/* Another 128-bit key fails the RFC 3394 integrity check. */
	buf_reset(&pt);
	struct buf other = BUF_INIT;
	b64url_decode("GawgguFyGrWKav7AX4VKUg", 22, &other);
	CHECK_INT(decrypt_oct(jwe, &other, &pt), JOSE_ERR_DECRYPT);
	CHECK_INT(pt.len, 0);
	struct jwe_key key = { NULL, (const uint8_t *)k.data, k.len };
	jwe_tamper_all(jwe, &key, 0);
	buf_free(&other);
	buf_free(&jwk);
	buf_free(&k);
	buf_free(&pt);
}

/* Section 5.9 (zip DEF) is refused even with the right key; Section 5.1
 * (RSA1_5) is refused before any RSA operation. */
static void test_rfc7520_refused(void)
{
	const json_value *ex58 = json_get(cookbook, "rfc7520_5_8");
	const char *jwe59 = str_at(cookbook, "rfc7520_5_9", "jwe");
	const char *jwe51 = str_at(cookbook, "rfc7520_5_1", "jwe");
	crypto_pkey *k = load_pem_file("tests/vectors/rfc7520-rsa-key.pem");
	struct buf jwk = BUF_INIT, kw = BUF_INIT, pt = BUF_INIT;

	CHECK(jwe59 != NULL && jwe51 != NULL && k != NULL);
	if (jwe59) {
		to_json(json_get(ex58, "jwk"), &jwk);
		CHECK_INT(jwk_oct_parse(jwk.data, jwk.len, &kw), JOSE_OK);
		CHECK_INT(decrypt_oct(jwe59, &kw, &pt), JOSE_ERR_UNSUPPORTED);
	}
	if (jwe51) {
		CHECK_INT(decrypt_rsa(jwe51, k, &pt), JOSE_ERR_ALG);
		CHECK_INT(decrypt_rsa(jwe51, client_key, &pt), JOSE_ERR_ALG);
	}
	CHECK_INT(pt.len, 0);
	buf_free(&jwk);
	buf_free(&kw);
	buf_free(&pt);
	crypto_pkey_free(k);
}

static void test_jwk_oct(void)
{
	struct buf k = BUF_INIT;
	static const struct { const char *json; enum jose_err want; } cases[] = {
		{ "{\"kty\":\"oct\",\"k\":\"GawgguFyGrWKav7AX4VKUg\"}", JOSE_OK },
		{ "{\"kty\":\"RSA\",\"k\":\"GawgguFyGrWKav7AX4VKUg\"}", JOSE_ERR_KEY },
		{ "{\"k\":\"GawgguFyGrWKav7AX4VKUg\"}", JOSE_ERR_KEY },
		{ "{\"kty\":\"oct\",\"k\":\"AAAA\"}", JOSE_ERR_KEY },
		{ "{\"kty\":\"oct\"}", JOSE_ERR_MALFORMED },
		{ "{\"kty\":\"oct\",\"k\":\"Gawg=\"}", JOSE_ERR_MALFORMED },
		{ "{'kty':'oct'}", JOSE_ERR_MALFORMED },
		{ "[]", JOSE_ERR_MALFORMED },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		buf_reset(&k);
		CHECK_INT(jwk_oct_parse(cases[i].json, strlen(cases[i].json), &k), cases[i].want);
		CHECK_INT(k.len, cases[i].want == JOSE_OK ? 16 : 0);
	}
	buf_free(&k);
}

/* The keys of a rotation: the vectors' key JWE is sealed to the vectors'
 * client key; a second test key tried first fails and the next one opens
 * it. Only a key that does not fit moves on: a malformed JWE does not. */
static void test_decrypt_any(void)
{
	const char *key_jwe = str_at(vec, "userinfo_response", "key");
	crypto_pkey *other = load_pem_file("tests/fixtures/client-test-key-2.pem");
	struct buf pt = BUF_INIT, want = BUF_INIT;
	size_t used = 99;

	CHECK(key_jwe != NULL && other != NULL);
	if (!key_jwe || !other) {
		crypto_pkey_free(other);
		return;
	}
	struct jwe_key cur = { .rsa = client_key };
	CHECK_INT(jwe_decrypt(key_jwe, strlen(key_jwe), &cur, &want), JOSE_OK);

	struct jwe_key rotated[2] = { { .rsa = other }, { .rsa = client_key } };
	CHECK_INT(jwe_decrypt_any(key_jwe, strlen(key_jwe), rotated, 2, &pt, &used), JOSE_OK);
	CHECK_INT(used, 1);
	CHECK(pt.len == want.len && pt.len > 0 && memcmp(pt.data, want.data, pt.len) == 0);
	buf_reset(&pt);

	struct jwe_key current_first[2] = { { .rsa = client_key }, { .rsa = other } };
	CHECK_INT(jwe_decrypt_any(key_jwe, strlen(key_jwe), current_first, 2, &pt, &used), JOSE_OK);
	CHECK_INT(used, 0);
	buf_reset(&pt);

	/* only the wrong key: fails, nothing written */
	CHECK_INT(jwe_decrypt_any(key_jwe, strlen(key_jwe), rotated, 1, &pt, NULL), JOSE_ERR_DECRYPT);
	CHECK_INT(pt.len, 0);
	CHECK_INT(jwe_decrypt_any(key_jwe, strlen(key_jwe), rotated, 0, &pt, NULL), JOSE_ERR_KEY);
	/* a malformed JWE is the JWE's fault: the same answer, no second try */
	CHECK_INT(jwe_decrypt_any("a.b.c", 5, rotated, 2, &pt, NULL), JOSE_ERR_MALFORMED);
	/* a tampered tag: the key opens, the content does not; a decrypt error
	 * after the last key */
	char *bad = strdup(key_jwe);
	if (bad) {
		char *tag = strrchr(bad, '.');
		tag[1] = tag[1] == 'A' ? 'B' : 'A';
		CHECK_INT(jwe_decrypt_any(bad, strlen(bad), rotated, 2, &pt, NULL), JOSE_ERR_DECRYPT);
		CHECK_INT(pt.len, 0);
		free(bad);
	}
	buf_free(&pt);
	buf_free(&want);
	crypto_pkey_free(other);
}

static void test_strerror(void)
{
	for (int i = 0; i < JOSE_ERR__MAX; i++)
		CHECK(jose_strerror((enum jose_err)i) != NULL);
	CHECK_STR(jose_strerror(JOSE_ERR__MAX), "unknown error");
}

int main(void)
{
	char err[128] = "";
	vec = load_json("tests/vectors/sgid-test-vectors.json");
	rfc = load_json("tests/vectors/rfc-jose-examples.json");
	extra = load_json("tests/vectors/jwe-extra-vectors.json");
	cookbook = load_json("tests/vectors/rfc7520-examples.json");
	CHECK(vec && rfc && extra && cookbook);
	const char *pem = vec ? json_get_str(vec, "client_private_key_pkcs8_pem", NULL) : NULL;
	client_key = pem ? crypto_private_key_load(pem, strlen(pem), err, sizeof err) : NULL;
	CHECK(client_key != NULL);
	if (!vec || !rfc || !extra || !cookbook || !client_key)
		return harness_report("test_jose");
	RUN(test_profile_a);
	RUN(test_profile_b);
	RUN(test_rfc7516_a1);
	RUN(test_rfc7516_a3);
	RUN(test_rfc7515_a2);
	RUN(test_rfc7520_4_1);
	RUN(test_rfc7520_5_2);
	RUN(test_rfc7520_5_8);
	RUN(test_rfc7520_refused);
	RUN(test_refused_algs);
	RUN(test_vector_id_tokens);
	RUN(test_jws_tampering);
	RUN(test_part_counts);
	RUN(test_unknown_kid);
	RUN(test_jwks_filtering);
	RUN(test_jwks_cap);
	RUN(test_all_alg_enc);
	RUN(test_bad_vectors);
	RUN(test_jwe_tampering);
	RUN(test_jwe_header_refusals);
	RUN(test_jwk_oct);
	RUN(test_decrypt_any);
	RUN(test_strerror);
	crypto_pkey_free(client_key);
	json_free(vec);
	json_free(rfc);
	json_free(extra);
	json_free(cookbook);
	return harness_report("test_jose");
}
