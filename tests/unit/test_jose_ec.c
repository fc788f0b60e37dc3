/* jose, EC side (Singpass FAPI 2.0): the Singpass staging ID token and
 * DPoP sample, JWEs and JWSs made by an independent implementation (npm
 * jose), round trips with keys made here, and the refusals: tampering in
 * every segment, wrong key, invalid-curve and wrong-kind epk, wrong
 * alg/enc, direct ECDH-ES, zip/crit, oversized and truncated input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "crypto_ec.h"
#include "harness.h"
#include "jose.h"
#include "json.h"
#include "util.h"
#include "vectors.h"

static json_value *note;  /* singpass-note-vectors.json */
static json_value *gen;   /* singpass-jose-vectors.json */

/* A JSON value back to text (json.c's writer), for feeding parsers. */
static void text_of(const json_value *v, struct buf *out)
{
	buf_reset(out);
	CHECK(json_append_value(out, v) == 0);
}

static crypto_ec_key *jwk_key(const json_value *jwk, bool priv)
{
	struct buf t = BUF_INIT;
	crypto_ec_key *k = NULL;
	text_of(jwk, &t);
	CHECK_INT(jwk_ec_parse(t.data, t.len, priv, &k), JOSE_OK);
	buf_free(&t);
	return k;
}

/* The same JWE with another protected header (the rest as it was). */
static char *with_header(const char *jwe, const char *header)
{
	struct buf b = BUF_INIT;
	CHECK(b64url_encode((const uint8_t *)header, strlen(header), &b) == 0);
	CHECK(buf_append_str(&b, strchr(jwe, '.')) == 0);
	return b.data;
}

/* Decrypts into a buffer holding a prefix: a failure must append nothing. */
static enum jose_err decrypt(const char *jwe, const struct jwe_ec_key *keys, size_t n,
	struct buf *pt, size_t *used)
{
	struct buf out = BUF_INIT;
	buf_append_str(&out, "prefix:");
	enum jose_err rc = jwe_decrypt_ecdh(jwe, strlen(jwe), keys, n, &out, used);
	if (rc != JOSE_OK)
		CHECK_INT(out.len, 7);
	buf_reset(pt);
	buf_append(pt, out.data + 7, out.len - 7);
	buf_free(&out);
	return rc;
}

static bool json_text_equal(const char *a, size_t alen, const json_value *want)
{
	json_value *got = json_parse(a, alen, alen + 1);
	struct buf x = BUF_INIT, y = BUF_INIT;
	json_append_value(&x, got);
	json_append_value(&y, want);
	bool eq = got && strcmp(buf_cstr(&x), buf_cstr(&y)) == 0;
	buf_free(&x);
	buf_free(&y);
	json_free(got);
	return eq;
}

/* Vector 4: the real Singpass staging ID token, opened with the demo key. */
static void test_staging_id_token(void)
{
	const json_value *v = json_get(note, "staging_id_token");
	crypto_ec_key *k = jwk_key(json_get(v, "enc_private_jwk"), true);
	struct jwe_ec_key keys[] = { { k, "my-enc-key" } };
	struct buf pt = BUF_INIT, raw = BUF_INIT;
	size_t used = 9;

	CHECK_INT(decrypt(json_get_str(v, "jwe", NULL), keys, 1, &pt, &used), JOSE_OK);
	CHECK_INT(used, 0);
	int64_t want_len = 0;
	CHECK(json_get_int64(v, "plaintext_len", &want_len) == 0);
	CHECK_INT(pt.len, want_len);
	/* the plaintext is the nested JWS: header and payload as published */
	const char *d1 = strchr(buf_cstr(&pt), '.');
	const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	CHECK(d1 && d2);
	if (d1 && d2) {
		CHECK(b64url_decode(pt.data, (size_t)(d1 - pt.data), &raw) == 0);
		CHECK(json_text_equal(raw.data, raw.len, json_get(v, "jws_header")));
		buf_reset(&raw);
		CHECK(b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &raw) == 0);
		CHECK(json_text_equal(raw.data, raw.len, json_get(v, "payload")));
		/* signature: 64 bytes R||S (its key is not published) */
		buf_reset(&raw);
		CHECK(b64url_decode(d2 + 1, strlen(d2 + 1), &raw) == 0 && raw.len == 64);
	}
	/* the kid names our key; the same key under another kid is not tried */
	struct jwe_ec_key renamed[] = { { k, "other-kid" } };
	CHECK_INT(decrypt(json_get_str(v, "jwe", NULL), renamed, 1, &pt, NULL), JOSE_ERR_NO_KEY);
	/* a key of that kid that does not fit */
	crypto_ec_key *wrong = crypto_ec_key_generate();
	struct jwe_ec_key imposter[] = { { wrong, "my-enc-key" } };
	CHECK_INT(decrypt(json_get_str(v, "jwe", NULL), imposter, 1, &pt, NULL), JOSE_ERR_DECRYPT);
	crypto_ec_key_free(wrong);
	crypto_ec_key_free(k);
	buf_free(&pt);
	buf_free(&raw);
}

/* Vector 3: the Singpass docs' DPoP proof verifies with its own jwk. */
static void test_dpop_sample(void)
{
	const json_value *v = json_get(note, "dpop_sample");
	const char *proof = json_get_str(v, "proof", NULL);
	struct buf raw = BUF_INIT, set = BUF_INIT, jwk = BUF_INIT;
	struct jwks keys = {0};
	json_value *payload = NULL;

	const char *dot = strchr(proof, '.');
	CHECK(b64url_decode(proof, (size_t)(dot - proof), &raw) == 0);
	json_value *hdr = json_parse(raw.data, raw.len, raw.len + 1);
	CHECK_STR(json_get_str(hdr, "typ", NULL), "dpop+jwt");
	text_of(json_get(hdr, "jwk"), &jwk);
	buf_printf(&set, "{\"keys\":[%s]}", buf_cstr(&jwk));
	CHECK_INT(jwks_parse_es256(set.data, set.len, &keys), JOSE_OK);
	CHECK_INT(keys.n, 1);
	CHECK_INT(jws_verify_es256(proof, strlen(proof), &keys, &payload), JOSE_OK);
	struct buf p = BUF_INIT;
	json_append_value(&p, payload);
	CHECK(json_text_equal(p.data, p.len, json_get(v, "payload")));
	buf_free(&p);
	json_free(payload);
	/* RFC 7638 thumbprint: the dpop_jkt the PAR would carry */
	crypto_ec_key *k = jwk_key(json_get(hdr, "jwk"), false);
	char jkt[JWK_THUMBPRINT_LEN + 1];
	CHECK(jwk_ec_thumbprint(k, jkt) == 0);
	CHECK_STR(jkt, json_get_str(v, "jkt", NULL));
	/* one changed character in any segment: refused */
	for (size_t i = 0; i < strlen(proof); i += 37) {
		if (proof[i] == '.')
			continue;
		char *bad = strdup(proof);
		bad[i] = bad[i] == 'A' ? 'B' : 'A';
		CHECK(jws_verify_es256(bad, strlen(bad), &keys, NULL) != JOSE_OK);
		free(bad);
	}
	/* the RS256 verifier never accepts it (alg confusion) */
	CHECK_INT(jws_verify_rs256(proof, strlen(proof), &keys, NULL), JOSE_ERR_ALG);
	crypto_ec_key_free(k);
	jwks_clear(&keys);
	json_free(hdr);
	buf_free(&raw);
	buf_free(&set);
	buf_free(&jwk);
}

/* npm jose made these: every ECDH-ES+AxxxKW x {A256CBC-HS512, A256GCM},
 * with and without apu/apv, to the current or the previous key. */
static void test_independent_vectors(void)
{
	crypto_ec_key *cur = jwk_key(json_get(gen, "rp_enc_private_jwk"), true);
	crypto_ec_key *prev = jwk_key(json_get(gen, "rp_enc_previous_private_jwk"), true);
	struct jwe_ec_key keys[] = { { cur, "rp-enc-1" }, { prev, "rp-enc-0" } };
	const json_value *list = json_get(gen, "jwe");
	const char *inner = json_get_str(json_array_at(json_get(gen, "jws"), 0), "jws", NULL);
	struct buf pt = BUF_INIT, idp = BUF_INIT, set = BUF_INIT;
	struct jwks idp_keys = {0};
	size_t ok = 0;

	text_of(json_get(gen, "idp_sig_public_jwk"), &idp);
	buf_printf(&set, "{\"keys\":[%s]}", buf_cstr(&idp));
	CHECK_INT(jwks_parse_es256(set.data, set.len, &idp_keys), JOSE_OK);
	CHECK_INT(idp_keys.n, 1);
	CHECK(json_array_len(list) >= 17);
	for (size_t i = 0; i < json_array_len(list); i++) {
		const json_value *e = json_array_at(list, i);
		const char *name = json_get_str(e, "name", NULL), *refused = json_get_str(e, "refused", NULL);
		harness_current = name;
		size_t used = 9;
		enum jose_err rc = decrypt(json_get_str(e, "jwe", NULL), keys, 2, &pt, &used);
		if (refused) {
			CHECK_INT(rc, JOSE_ERR_ALG);
			continue;
		}
		CHECK_INT(rc, JOSE_OK);
		CHECK_INT(used, strcmp(json_get_str(e, "key", NULL), "previous") == 0 ? 1 : 0);
		CHECK_STR(buf_cstr(&pt), inner);
		ok += rc == JOSE_OK;
		/* the nested JWS verifies against the IdP's key */
		json_value *payload = NULL;
		CHECK_INT(jws_verify_es256(pt.data, pt.len, &idp_keys, &payload), JOSE_OK);
		CHECK_STR(json_get_str(payload, "nonce", NULL), "n-1");
		json_free(payload);
		/* the current key alone: a JWE to the previous key fails cleanly */
		if (used == 1)
			CHECK(decrypt(json_get_str(e, "jwe", NULL), keys, 1, &pt, NULL) != JOSE_OK);
	}
	harness_current = "test_independent_vectors";
	CHECK_INT(ok, 14);
	/* both JWSs, with and without kid */
	const json_value *jws = json_get(gen, "jws");
	for (size_t i = 0; i < json_array_len(jws); i++) {
		const char *t = json_get_str(json_array_at(jws, i), "jws", NULL);
		CHECK_INT(jws_verify_es256(t, strlen(t), &idp_keys, NULL), JOSE_OK);
		/* the RP's own enc key is no signing key */
		struct jwks none = {0};
		CHECK(jws_verify_es256(t, strlen(t), &none, NULL) == JOSE_ERR_NO_KEY);
	}
	jwks_clear(&idp_keys);
	crypto_ec_key_free(cur);
	crypto_ec_key_free(prev);
	buf_free(&pt);
	buf_free(&idp);
	buf_free(&set);
}

/* Ours, both ways: every alg x enc, apu/apv, extra members. */
static void test_round_trips(void)
{
	static const char *const algs[] = { "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW" };
	static const char *const encs[] = { "A256CBC-HS512", "A256GCM" };
	crypto_ec_key *rp = crypto_ec_key_generate();
	struct jwe_ec_key keys[] = { { rp, "k1" } };
	static const char msg[] = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
	struct buf jwe = BUF_INIT, pt = BUF_INIT;

	for (size_t a = 0; a < ARRAY_LEN(algs); a++) {
		for (size_t e = 0; e < ARRAY_LEN(encs); e++) {
			for (int party = 0; party < 2; party++) {
				struct jwe_ecdh_params p = { algs[a], encs[e], "k1", "\"cty\":\"JWT\"",
					party ? (const uint8_t *)"Singpass" : NULL, party ? (const uint8_t *)"rp" : NULL,
					party ? 8 : 0, party ? 2 : 0, NULL };
				buf_reset(&jwe);
				CHECK_INT(jwe_encrypt_ecdh(&p, rp, msg, strlen(msg), &jwe), JOSE_OK);
				CHECK_INT(decrypt(jwe.data, keys, 1, &pt, NULL), JOSE_OK);
				CHECK_STR(buf_cstr(&pt), msg);
			}
		}
	}
	/* empty plaintext */
	struct jwe_ecdh_params p = { "ECDH-ES+A256KW", "A256GCM", NULL, NULL, NULL, NULL, 0, 0, NULL };
	buf_reset(&jwe);
	CHECK_INT(jwe_encrypt_ecdh(&p, rp, "", 0, &jwe), JOSE_OK);
	CHECK_INT(decrypt(jwe.data, keys, 1, &pt, NULL), JOSE_OK);
	CHECK_INT(pt.len, 0);
	/* the producer refuses what the decrypter refuses */
	struct jwe_ecdh_params bad1 = { "ECDH-ES", "A256GCM", NULL, NULL, NULL, NULL, 0, 0, NULL };
	struct jwe_ecdh_params bad2 = { "ECDH-ES+A256KW", "A128GCM", NULL, NULL, NULL, NULL, 0, 0, NULL };
	CHECK_INT(jwe_encrypt_ecdh(&bad1, rp, "x", 1, &jwe), JOSE_ERR_ALG);
	CHECK_INT(jwe_encrypt_ecdh(&bad2, rp, "x", 1, &jwe), JOSE_ERR_ALG);
	crypto_ec_key_free(rp);
	buf_free(&jwe);
	buf_free(&pt);
}

/* Rotation: the kid picks the key; without a kid, current then previous. */
static void test_key_selection(void)
{
	crypto_ec_key *cur = crypto_ec_key_generate(), *prev = crypto_ec_key_generate();
	struct jwe_ec_key keys[] = { { cur, "cur" }, { prev, "prev" } };
	struct buf jwe = BUF_INIT, pt = BUF_INIT;
	size_t used = 9;

	struct jwe_ecdh_params p = { "ECDH-ES+A256KW", "A256CBC-HS512", "prev", NULL, NULL, NULL, 0, 0, NULL };
	CHECK_INT(jwe_encrypt_ecdh(&p, prev, "hi", 2, &jwe), JOSE_OK);
	CHECK_INT(decrypt(jwe.data, keys, 2, &pt, &used), JOSE_OK);
	CHECK_INT(used, 1);
	CHECK_INT(decrypt(jwe.data, keys, 1, &pt, NULL), JOSE_ERR_NO_KEY);
	buf_reset(&jwe);
	p.kid = NULL;
	CHECK_INT(jwe_encrypt_ecdh(&p, prev, "hi", 2, &jwe), JOSE_OK);
	used = 9;
	CHECK_INT(decrypt(jwe.data, keys, 2, &pt, &used), JOSE_OK);
	CHECK_INT(used, 1);
	CHECK_INT(decrypt(jwe.data, keys, 1, &pt, NULL), JOSE_ERR_DECRYPT);
	CHECK_INT(decrypt(jwe.data, NULL, 0, &pt, NULL), JOSE_ERR_NO_KEY);
	/* a public key in the list cannot decrypt */
	uint8_t x[32], y[32];
	CHECK(crypto_ec_key_public(prev, x, y) == 0);
	crypto_ec_key *pub = crypto_ec_key_from_public(x, y);
	struct jwe_ec_key pubs[] = { { pub, NULL } };
	CHECK_INT(decrypt(jwe.data, pubs, 1, &pt, NULL), JOSE_ERR_KEY);
	crypto_ec_key_free(pub);
	crypto_ec_key_free(cur);
	crypto_ec_key_free(prev);
	buf_free(&jwe);
	buf_free(&pt);
}

static void test_tampering(void)
{
	crypto_ec_key *rp = crypto_ec_key_generate();
	struct jwe_ec_key keys[] = { { rp, NULL } };
	static const char *const encs[] = { "A256CBC-HS512", "A256GCM" };
	struct buf jwe = BUF_INIT, pt = BUF_INIT;

	for (size_t e = 0; e < 2; e++) {
		struct jwe_ecdh_params p = { "ECDH-ES+A128KW", encs[e], NULL, NULL, NULL, NULL, 0, 0, NULL };
		buf_reset(&jwe);
		CHECK_INT(jwe_encrypt_ecdh(&p, rp, "a signed token", 14, &jwe), JOSE_OK);
		/* one character changed in each of the five segments: never opens */
		const char *seg = jwe.data;
		for (int s = 0; s < 5; s++) {
			char *bad = strdup(jwe.data);
			size_t at = (size_t)(seg - jwe.data) + 2;
			bad[at] = bad[at] == 'A' ? 'Q' : 'A';
			enum jose_err rc = decrypt(bad, keys, 1, &pt, NULL);
			CHECK(rc != JOSE_OK);
			free(bad);
			seg = strchr(seg, '.') + (s < 4);
		}
		/* last tag byte */
		char *bad = strdup(jwe.data);
		size_t n = strlen(bad);
		bad[n - 2] = bad[n - 2] == 'A' ? 'Q' : 'A';
		CHECK_INT(decrypt(bad, keys, 1, &pt, NULL), JOSE_ERR_DECRYPT);
		/* truncated: a segment missing, the tag cut, the ciphertext cut */
		*strrchr(bad, '.') = '\0';
		CHECK_INT(decrypt(bad, keys, 1, &pt, NULL), JOSE_ERR_MALFORMED);
		free(bad);
		bad = strdup(jwe.data);
		bad[n - 4] = '\0';
		CHECK(decrypt(bad, keys, 1, &pt, NULL) != JOSE_OK);
		free(bad);
		/* another recipient */
		crypto_ec_key *other = crypto_ec_key_generate();
		struct jwe_ec_key wrong[] = { { other, NULL } };
		CHECK_INT(decrypt(jwe.data, wrong, 1, &pt, NULL), JOSE_ERR_DECRYPT);
		crypto_ec_key_free(other);
	}
	crypto_ec_key_free(rp);
	buf_free(&jwe);
	buf_free(&pt);
}

/* Headers refused before any key agreement. */
static void test_header_refusals(void)
{
	crypto_ec_key *rp = crypto_ec_key_generate();
	struct jwe_ec_key keys[] = { { rp, "k" } };
	struct buf jwe = BUF_INIT, pt = BUF_INIT;
	uint8_t x[32], y[32];

	struct jwe_ecdh_params p = { "ECDH-ES+A256KW", "A256GCM", "k", NULL, NULL, NULL, 0, 0, NULL };
	CHECK_INT(jwe_encrypt_ecdh(&p, rp, "x", 1, &jwe), JOSE_OK);
	CHECK(crypto_ec_key_public(rp, x, y) == 0);
	/* off-curve epk: y + 1, (0,0), (x, p), secp256k1 G, wrong crv, wrong kty,
	 * short and long coordinates, a private member that does not make it
	 * anything else */
	y[31] ^= 1;
	struct buf bx = BUF_INIT, by = BUF_INIT;
	b64url_encode(x, 32, &bx);
	b64url_encode(y, 32, &by);
	static const char fmt[] = "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"kid\":\"k\",\"epk\":%s}";
	struct { const char *epk; enum jose_err want; } cases[] = {
		{ NULL, JOSE_ERR_KEY }, /* filled below: off-curve */
		{ "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\","
		  "\"y\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}", JOSE_ERR_KEY },
		{ "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"eb5mfvncu6xVoGKVzocLBwKb_NstzijZWfKBWxb4F5g\","
		  "\"y\":\"SDradyajxGVdpPv8DhEIqP0XtEimhVQZnEfQj_sQ1Lg\"}", JOSE_ERR_KEY },
		{ "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AAAA\",\"y\":\"AAAA\"}", JOSE_ERR_KEY },
		{ "{\"kty\":\"RSA\",\"n\":\"AQAB\",\"e\":\"AQAB\"}", JOSE_ERR_KEY },
		{ "{\"kty\":\"oct\",\"k\":\"AAAA\"}", JOSE_ERR_KEY },
		{ "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AAAA\",\"y\":\"AAAA\"}", JOSE_ERR_KEY },
		{ "\"a string\"", JOSE_ERR_MALFORMED },
		{ "{}", JOSE_ERR_KEY },
	};
	struct buf off = BUF_INIT;
	buf_printf(&off, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", buf_cstr(&bx),
		buf_cstr(&by));
	cases[0].epk = off.data;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct buf h = BUF_INIT;
		buf_printf(&h, fmt, cases[i].epk);
		char *bad = with_header(jwe.data, h.data);
		CHECK_INT(decrypt(bad, keys, 1, &pt, NULL), cases[i].want);
		free(bad);
		buf_free(&h);
	}
	/* the rest of the header */
	const char *hdrs[][2] = {
		{ "{\"alg\":\"ECDH-ES\",\"enc\":\"A256GCM\",\"epk\":", "alg" },
		{ "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A128GCM\",\"epk\":", "alg" },
		{ "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A128CBC-HS256\",\"epk\":", "alg" },
		{ "{\"alg\":\"RSA-OAEP\",\"enc\":\"A256GCM\",\"epk\":", "alg" },
		{ "{\"alg\":\"dir\",\"enc\":\"A256GCM\",\"epk\":", "alg" },
		{ "{\"alg\":\"none\",\"enc\":\"A256GCM\",\"epk\":", "alg" },
		{ "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"zip\":\"DEF\",\"epk\":", "unsupported" },
		{ "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"crit\":[\"x\"],\"epk\":", "unsupported" },
		{ "{\"enc\":\"A256GCM\",\"epk\":", "malformed" },
		{ "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"apu\":\"***\",\"epk\":", "malformed" },
		{ "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"apv\":5,\"epk\":", "malformed" },
		{ "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"kid\":7,\"epk\":", "malformed" },
		{ "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"kid\":\"nope\",\"epk\":", "nokey" },
	};
	struct buf good_epk = BUF_INIT;
	crypto_ec_key *eph = crypto_ec_key_generate();
	jwk_ec_public_json(eph, &good_epk);
	for (size_t i = 0; i < ARRAY_LEN(hdrs); i++) {
		struct buf h = BUF_INIT;
		buf_append_strs(&h, hdrs[i][0], good_epk.data, "}", (char *)NULL);
		char *bad = with_header(jwe.data, h.data);
		enum jose_err want = hdrs[i][1][0] == 'a' ? JOSE_ERR_ALG : hdrs[i][1][0] == 'u' ?
			JOSE_ERR_UNSUPPORTED : hdrs[i][1][0] == 'm' ? JOSE_ERR_MALFORMED : JOSE_ERR_NO_KEY;
		harness_current = hdrs[i][0];
		CHECK_INT(decrypt(bad, keys, 1, &pt, NULL), want);
		free(bad);
		buf_free(&h);
	}
	harness_current = "test_header_refusals";
	/* apu longer than 256 bytes */
	struct buf h = BUF_INIT, longapu = BUF_INIT;
	char big[300];
	memset(big, 'a', sizeof(big));
	b64url_encode((const uint8_t *)big, sizeof(big), &longapu);
	buf_printf(&h, "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"apu\":\"%s\",\"epk\":%s}",
		longapu.data, good_epk.data);
	char *bad = with_header(jwe.data, h.data);
	CHECK_INT(decrypt(bad, keys, 1, &pt, NULL), JOSE_ERR_MALFORMED);
	free(bad);
	/* a kid longer than any we hold */
	buf_reset(&h);
	buf_printf(&h, "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"kid\":\"%0300d\",\"epk\":%s}",
		0, good_epk.data);
	bad = with_header(jwe.data, h.data);
	CHECK_INT(decrypt(bad, keys, 1, &pt, NULL), JOSE_ERR_NO_KEY);
	free(bad);
	/* oversized: refused before any work */
	char *huge = malloc(JOSE_MAX_TOKEN_LEN + 2);
	memset(huge, 'A', JOSE_MAX_TOKEN_LEN + 1);
	huge[JOSE_MAX_TOKEN_LEN + 1] = '\0';
	memcpy(huge, jwe.data, jwe.len);
	CHECK_INT(decrypt(huge, keys, 1, &pt, NULL), JOSE_ERR_TOO_LARGE);
	free(huge);
	/* the sgID decrypter does not take ECDH-ES at all */
	struct jwe_key none = { NULL, NULL, 0 };
	CHECK_INT(jwe_decrypt(jwe.data, jwe.len, &none, &pt), JOSE_ERR_ALG);
	buf_free(&h);
	buf_free(&longapu);
	buf_free(&good_epk);
	buf_free(&off);
	buf_free(&bx);
	buf_free(&by);
	crypto_ec_key_free(eph);
	crypto_ec_key_free(rp);
	buf_free(&jwe);
	buf_free(&pt);
}

static void test_jws_es256(void)
{
	crypto_ec_key *k = crypto_ec_key_generate(), *other = crypto_ec_key_generate();
	struct buf tok = BUF_INIT, jwk = BUF_INIT, set = BUF_INIT;
	struct jwks keys = {0};
	json_value *payload = NULL;
	static const char hdr[] = "{\"alg\":\"ES256\",\"kid\":\"a\"}";
	static const char pl[] = "{\"sub\":\"x\"}";

	CHECK_INT(jws_sign_es256(hdr, strlen(hdr), pl, strlen(pl), k, &tok), JOSE_OK);
	jwk_ec_public_json(k, &jwk);
	jwk.len--;
	buf_append_str(&jwk, ",\"kid\":\"a\",\"use\":\"sig\",\"alg\":\"ES256\"}");
	buf_printf(&set, "{\"keys\":[%s]}", jwk.data);
	CHECK_INT(jwks_parse_es256(set.data, set.len, &keys), JOSE_OK);
	CHECK_INT(jws_verify_es256(tok.data, tok.len, &keys, &payload), JOSE_OK);
	CHECK_STR(json_get_str(payload, "sub", NULL), "x");
	json_free(payload);
	/* signed by another key under the same kid */
	struct buf forged = BUF_INIT;
	CHECK_INT(jws_sign_es256(hdr, strlen(hdr), pl, strlen(pl), other, &forged), JOSE_OK);
	CHECK_INT(jws_verify_es256(forged.data, forged.len, &keys, NULL), JOSE_ERR_SIGNATURE);
	/* alg in the header other than ES256 */
	static const char *const algs[] = { "{\"alg\":\"RS256\",\"kid\":\"a\"}", "{\"alg\":\"HS256\"}",
		"{\"alg\":\"none\"}", "{\"alg\":\"ES384\"}", "{\"alg\":\"es256\"}" };
	for (size_t i = 0; i < ARRAY_LEN(algs); i++) {
		buf_reset(&forged);
		CHECK_INT(jws_sign_es256(algs[i], strlen(algs[i]), pl, strlen(pl), k, &forged), JOSE_OK);
		CHECK_INT(jws_verify_es256(forged.data, forged.len, &keys, NULL), JOSE_ERR_ALG);
	}
	/* unknown kid; a public key cannot sign */
	static const char hdr2[] = "{\"alg\":\"ES256\",\"kid\":\"b\"}";
	buf_reset(&forged);
	CHECK_INT(jws_sign_es256(hdr2, strlen(hdr2), pl, strlen(pl), k, &forged), JOSE_OK);
	CHECK_INT(jws_verify_es256(forged.data, forged.len, &keys, NULL), JOSE_ERR_NO_KEY);
	CHECK_INT(jws_sign_es256(hdr, strlen(hdr), pl, strlen(pl), keys.keys[0].ec, &forged), JOSE_ERR_KEY);
	/* a DER signature (what OpenSSL gives) is not a JOSE signature */
	char *dot = strrchr(tok.data, '.');
	struct buf der = BUF_INIT;
	buf_append(&der, tok.data, (size_t)(dot - tok.data) + 1);
	uint8_t d72[72];
	memset(d72, 0x30, sizeof(d72));
	b64url_encode(d72, sizeof(d72), &der);
	CHECK_INT(jws_verify_es256(der.data, der.len, &keys, NULL), JOSE_ERR_SIGNATURE);
	/* sgID's jwks_parse keeps no EC key; jwks_parse_es256 no RSA one */
	struct jwks rsa = {0};
	CHECK_INT(jwks_parse(set.data, set.len, &rsa), JOSE_OK);
	CHECK_INT(rsa.n, 0);
	buf_free(&der);
	buf_free(&forged);
	buf_free(&tok);
	buf_free(&jwk);
	buf_free(&set);
	jwks_clear(&keys);
	crypto_ec_key_free(k);
	crypto_ec_key_free(other);
}

static void test_jwks_es256_filtering(void)
{
	crypto_ec_key *k = crypto_ec_key_generate();
	struct buf pub = BUF_INIT, doc = BUF_INIT, body = BUF_INIT;
	struct jwks keys = {0};
	uint8_t x[32], y[32];

	jwk_ec_public_json(k, &pub);
	buf_append(&body, pub.data + 1, pub.len - 2); /* the members without braces */
	crypto_ec_key_public(k, x, y);
	y[31] ^= 1;
	struct buf bx = BUF_INIT, by = BUF_INIT;
	b64url_encode(x, 32, &bx);
	b64url_encode(y, 32, &by);
	buf_printf(&doc, "{\"keys\":["
		"{%s,\"kid\":\"enc\",\"use\":\"enc\"},"
		"{%s,\"kid\":\"rs\",\"alg\":\"RS256\"},"
		"{%s,\"kid\":\"ops\",\"key_ops\":[\"encrypt\"]},"
		"{\"kty\":\"EC\",\"crv\":\"P-256\",\"kid\":\"off\",\"x\":\"%s\",\"y\":\"%s\"},"
		"{\"kty\":\"EC\",\"crv\":\"P-384\",\"kid\":\"p384\",\"x\":\"AA\",\"y\":\"AA\"},"
		"{\"kty\":\"RSA\",\"kid\":\"rsa\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
		"\"junk\",7,"
		"{%s,\"kid\":\"good\",\"d\":\"ignored-never-read\"},"
		"{%s}"
		"]}", body.data, body.data, body.data, bx.data, by.data, body.data, body.data);
	CHECK_INT(jwks_parse_es256(doc.data, doc.len, &keys), JOSE_OK);
	CHECK_INT(keys.n, 2);
	CHECK_STR(keys.keys[0].kid, "good");
	CHECK(!keys.keys[1].has_kid);
	CHECK(!crypto_ec_key_has_private(keys.keys[0].ec));
	CHECK(keys.keys[0].key == NULL);
	/* two kept keys of one kid: the whole set is refused */
	buf_reset(&doc);
	buf_printf(&doc, "{\"keys\":[{%s,\"kid\":\"dup\"},{%s,\"kid\":\"dup\"}]}", body.data, body.data);
	CHECK_INT(jwks_parse_es256(doc.data, doc.len, &keys), JOSE_ERR_MALFORMED);
	CHECK_INT(keys.n, 0);
	/* a duplicate among skipped keys does not matter */
	buf_reset(&doc);
	buf_printf(&doc, "{\"keys\":[{%s,\"kid\":\"dup\"},{%s,\"kid\":\"dup\",\"use\":\"enc\"}]}",
		body.data, body.data);
	CHECK_INT(jwks_parse_es256(doc.data, doc.len, &keys), JOSE_OK);
	CHECK_INT(keys.n, 1);
	CHECK_INT(jwks_parse_es256("{\"keys\":{}}", 11, &keys), JOSE_ERR_MALFORMED);
	jwks_clear(&keys);
	buf_free(&pub);
	buf_free(&doc);
	buf_free(&body);
	buf_free(&bx);
	buf_free(&by);
	crypto_ec_key_free(k);
}

static void test_jwk_ec_parse(void)
{
	const json_value *bob = json_get(json_get(note, "rfc7518_appendix_c"), "bob");
	const json_value *alice = json_get(json_get(note, "rfc7518_appendix_c"), "alice_epk");
	struct buf t = BUF_INIT;
	crypto_ec_key *k = (crypto_ec_key *)1;

	text_of(bob, &t);
	CHECK_INT(jwk_ec_parse(t.data, t.len, true, &k), JOSE_OK);
	CHECK(crypto_ec_key_has_private(k));
	crypto_ec_key_free(k);
	CHECK_INT(jwk_ec_parse(t.data, t.len, false, &k), JOSE_OK);
	CHECK(!crypto_ec_key_has_private(k));
	crypto_ec_key_free(k);
	/* Bob's x/y with Alice's d: the scalar is not the point's */
	struct buf mix = BUF_INIT;
	buf_printf(&mix, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\",\"d\":\"%s\"}",
		json_get_str(bob, "x", NULL), json_get_str(bob, "y", NULL), json_get_str(alice, "d", NULL));
	CHECK_INT(jwk_ec_parse(mix.data, mix.len, true, &k), JOSE_ERR_KEY);
	CHECK(k == NULL);
	/* a public JWK asked for as private */
	buf_reset(&mix);
	buf_printf(&mix, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}",
		json_get_str(bob, "x", NULL), json_get_str(bob, "y", NULL));
	CHECK_INT(jwk_ec_parse(mix.data, mix.len, true, &k), JOSE_ERR_KEY);
	/* x with padding or 33 bytes */
	buf_reset(&mix);
	buf_printf(&mix, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s=\",\"y\":\"%s\"}",
		json_get_str(bob, "x", NULL), json_get_str(bob, "y", NULL));
	CHECK_INT(jwk_ec_parse(mix.data, mix.len, false, &k), JOSE_ERR_KEY);
	buf_reset(&mix);
	buf_printf(&mix, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA%s\",\"y\":\"%s\"}",
		json_get_str(bob, "x", NULL), json_get_str(bob, "y", NULL));
	CHECK_INT(jwk_ec_parse(mix.data, mix.len, false, &k), JOSE_ERR_KEY);
	CHECK_INT(jwk_ec_parse("[]", 2, false, &k), JOSE_ERR_MALFORMED);
	CHECK_INT(jwk_ec_parse("", 0, false, &k), JOSE_ERR_MALFORMED);
	char *big = calloc(1, JWK_EC_MAX_LEN + 2);
	memset(big, ' ', JWK_EC_MAX_LEN + 1);
	CHECK_INT(jwk_ec_parse(big, JWK_EC_MAX_LEN + 1, false, &k), JOSE_ERR_TOO_LARGE);
	free(big);
	buf_free(&t);
	buf_free(&mix);
}

static void test_jti(void)
{
	char a[JWT_JTI_LEN + 1], b[JWT_JTI_LEN + 1];
	CHECK(jwt_new_jti(a) == 0 && jwt_new_jti(b) == 0);
	CHECK_INT(strlen(a), 36);
	CHECK(strcmp(a, b) != 0);
	CHECK(a[8] == '-' && a[13] == '-' && a[18] == '-' && a[23] == '-');
	CHECK(a[14] == '4');                                   /* version 4 */
	CHECK(strchr("89ab", a[19]) != NULL);                  /* RFC 4122 variant */
}

int main(void)
{
	note = vectors_load(SINGPASS_NOTE_VECTORS);
	gen = vectors_load(SINGPASS_JOSE_VECTORS);
	CHECK(note && gen);
	RUN(test_staging_id_token);
	RUN(test_dpop_sample);
	RUN(test_independent_vectors);
	RUN(test_round_trips);
	RUN(test_key_selection);
	RUN(test_tampering);
	RUN(test_header_refusals);
	RUN(test_jws_es256);
	RUN(test_jwks_es256_filtering);
	RUN(test_jwk_ec_parse);
	RUN(test_jti);
	json_free(note);
	json_free(gen);
	return harness_report("test_jose_ec");
}
