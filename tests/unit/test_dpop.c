/* dpop: proofs as RFC 9449 and the Singpass note want them (header, claims,
 * signature under the header's own jwk, ath, nonce only when given), the
 * per-login key's sealed form, htu normalisation, and the note's vectors
 * (PKCE, ath). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "dpop.h"
#include "harness.h"
#include "jose.h"
#include "json.h"
#include "pkce.h"
#include "util.h"
#include "vectors.h"

static json_value *note;

static json_value *segment(const char *tok, int n)
{
	struct buf raw = BUF_INIT;
	const char *p = tok;
	for (int i = 0; i < n && p; i++)
		p = strchr(p, '.') ? strchr(p, '.') + 1 : NULL;
	if (!p)
		return NULL;
	const char *end = strchr(p, '.');
	size_t len = end ? (size_t)(end - p) : strlen(p);
	json_value *v = b64url_decode(p, len, &raw) == 0 ? json_parse(raw.data, raw.len, raw.len + 1) : NULL;
	buf_free(&raw);
	return v;
}

/* Verifies a proof with the jwk its header carries, as a server does. */
static json_value *verify_with_own_jwk(const char *proof)
{
	json_value *hdr = segment(proof, 0), *payload = NULL;
	struct buf jwk = BUF_INIT, set = BUF_INIT;
	struct jwks keys = {0};

	json_append_value(&jwk, json_get(hdr, "jwk"));
	buf_printf(&set, "{\"keys\":[%s]}", buf_cstr(&jwk));
	CHECK_INT(jwks_parse_es256(set.data, set.len, &keys), JOSE_OK);
	CHECK_INT(jws_verify_es256(proof, strlen(proof), &keys, &payload), JOSE_OK);
	jwks_clear(&keys);
	buf_free(&jwk);
	buf_free(&set);
	json_free(hdr);
	return payload;
}

static void test_note_vectors(void)
{
	const json_value *pk = json_get(note, "pkce"), *ath = json_get(note, "ath");
	struct buf ch = BUF_INIT;
	char got[JWK_THUMBPRINT_LEN + 1];
	const char *v = json_get_str(pk, "verifier", NULL);

	CHECK(pkce_challenge(v, strlen(v), &ch) == 0);
	CHECK_STR(buf_cstr(&ch), json_get_str(pk, "challenge", NULL));
	const char *tok = json_get_str(ath, "access_token", NULL);
	CHECK(dpop_ath(tok, strlen(tok), got) == 0);
	CHECK_STR(got, json_get_str(ath, "ath", NULL));
	CHECK(dpop_ath("", 0, got) == -1);
	buf_free(&ch);
}

static void test_proof(void)
{
	struct dpop_key k;
	struct buf proof = BUF_INIT, proof2 = BUF_INIT;
	static const char htu[] = "https://stg-id.singpass.gov.sg/fapi/token";

	CHECK(dpop_key_generate(&k) == 0);
	CHECK_INT(strlen(k.jkt), JWK_THUMBPRINT_LEN);
	struct dpop_request r = { "POST", htu, strlen(htu), 1770805933, NULL, NULL, 0 };
	CHECK(dpop_proof(&k, &r, &proof) == 0);
	json_value *hdr = segment(proof.data, 0);
	CHECK_STR(json_get_str(hdr, "typ", NULL), "dpop+jwt");
	CHECK_STR(json_get_str(hdr, "alg", NULL), "ES256");
	const json_value *jwk = json_get(hdr, "jwk");
	CHECK_INT(json_object_len(jwk), 4); /* kty, crv, x, y: no d, no kid */
	CHECK(!json_has(jwk, "d") && !json_has(jwk, "kid"));
	CHECK_INT(json_object_len(hdr), 3);
	/* the header's key is the key the thumbprint names */
	crypto_ec_key *pub = NULL;
	struct buf jt = BUF_INIT;
	json_append_value(&jt, jwk);
	CHECK_INT(jwk_ec_parse(jt.data, jt.len, false, &pub), JOSE_OK);
	char tp[JWK_THUMBPRINT_LEN + 1];
	CHECK(jwk_ec_thumbprint(pub, tp) == 0);
	CHECK_STR(tp, k.jkt);
	crypto_ec_key_free(pub);
	buf_free(&jt);

	json_value *p = verify_with_own_jwk(proof.data);
	CHECK_STR(json_get_str(p, "htm", NULL), "POST");
	CHECK_STR(json_get_str(p, "htu", NULL), htu);
	int64_t iat = 0, exp = 0;
	CHECK(json_get_int64(p, "iat", &iat) == 0 && iat == 1770805933);
	CHECK(json_get_int64(p, "exp", &exp) == 0 && exp == iat + DPOP_PROOF_LIFETIME);
	CHECK(exp - iat <= 120);
	CHECK_INT(strlen(json_get_str(p, "jti", NULL)), JWT_JTI_LEN);
	CHECK(!json_has(p, "nonce") && !json_has(p, "ath")); /* never unsolicited */
	CHECK_INT(json_object_len(p), 5);

	/* a second proof: new jti, same key */
	CHECK(dpop_proof(&k, &r, &proof2) == 0);
	json_value *p2 = verify_with_own_jwk(proof2.data);
	CHECK(strcmp(json_get_str(p, "jti", NULL), json_get_str(p2, "jti", NULL)) != 0);
	json_free(p2);

	/* userinfo: GET with ath, and the server's nonce on the retry */
	static const char ui[] = "https://stg-id.singpass.gov.sg/fapi/userinfo";
	static const char at[] = "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU";
	struct dpop_request g = { "GET", ui, strlen(ui), 1770805999, "eyJ7S_zG.eyJH0-Z.HX4w-7v",
		at, strlen(at) };
	buf_reset(&proof2);
	CHECK(dpop_proof(&k, &g, &proof2) == 0);
	p2 = verify_with_own_jwk(proof2.data);
	CHECK_STR(json_get_str(p2, "ath", NULL), json_get_str(json_get(note, "ath"), "ath", NULL));
	CHECK_STR(json_get_str(p2, "nonce", NULL), "eyJ7S_zG.eyJH0-Z.HX4w-7v");
	CHECK_STR(json_get_str(p2, "htm", NULL), "GET");
	json_free(p2);
	json_free(p);
	json_free(hdr);

	/* refusals: nothing appended */
	struct { struct dpop_request r; } bad[] = {
		{ { "PUT", htu, strlen(htu), 1, NULL, NULL, 0 } },
		{ { "post", htu, strlen(htu), 1, NULL, NULL, 0 } },
		{ { NULL, htu, strlen(htu), 1, NULL, NULL, 0 } },
		{ { "POST", "ftp://x/y", 9, 1, NULL, NULL, 0 } },
		{ { "POST", htu, strlen(htu), 0, NULL, NULL, 0 } },
		{ { "POST", htu, strlen(htu), INT64_MAX, NULL, NULL, 0 } },
		{ { "POST", htu, strlen(htu), 1, "", NULL, 0 } },
		{ { "POST", htu, strlen(htu), 1, "has space", NULL, 0 } },
		{ { "POST", htu, strlen(htu), 1, "q\"uote", NULL, 0 } },
		{ { "GET", htu, strlen(htu), 1, NULL, "", 0 } },
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		buf_reset(&proof2);
		CHECK(dpop_proof(&k, &bad[i].r, &proof2) == -1);
		CHECK_INT(proof2.len, 0);
	}
	char longnonce[DPOP_NONCE_MAX + 2];
	memset(longnonce, 'n', sizeof(longnonce) - 1);
	longnonce[sizeof(longnonce) - 1] = '\0';
	struct dpop_request ln = { "POST", htu, strlen(htu), 1, longnonce, NULL, 0 };
	CHECK(dpop_proof(&k, &ln, &proof2) == -1);
	longnonce[DPOP_NONCE_MAX] = '\0';
	CHECK(dpop_proof(&k, &ln, &proof2) == 0);
	/* the rule the caller checks a server's nonce against before keeping it */
	CHECK(dpop_nonce_valid(longnonce));
	CHECK(dpop_nonce_valid("eyJ7S_zG.eyJH0-Z.HX4w-7v"));
	CHECK(!dpop_nonce_valid("") && !dpop_nonce_valid(NULL) && !dpop_nonce_valid("q\"uote") &&
	      !dpop_nonce_valid("back\\slash") && !dpop_nonce_valid("sp ace") &&
	      !dpop_nonce_valid("\xc3\xa9"));
	struct dpop_key empty;
	memset(&empty, 0, sizeof(empty));
	CHECK(dpop_proof(&empty, &r, &proof2) == -1);
	dpop_key_free(&k);
	dpop_key_free(&k); /* twice is fine */
	buf_free(&proof);
	buf_free(&proof2);
}

/* The per-login key: 32 bytes to seal, back to the same key. */
static void test_key_sealing(void)
{
	struct dpop_key k, back;
	uint8_t d[DPOP_KEY_SEALED_LEN];
	struct buf proof = BUF_INIT;
	static const char htu[] = "http://127.0.0.1:5156/fapi/par";

	CHECK_INT(DPOP_KEY_SEALED_LEN, 32);
	CHECK(dpop_key_generate(&k) == 0);
	CHECK(dpop_key_export(&k, d) == 0);
	CHECK(dpop_key_import(&back, d, sizeof(d)) == 0);
	CHECK_STR(back.jkt, k.jkt);
	CHECK_STR(buf_cstr(&back.jwk), buf_cstr(&k.jwk));
	/* a proof by the restored key verifies under the original public key */
	struct dpop_request r = { "POST", htu, strlen(htu), 1770000000, NULL, NULL, 0 };
	CHECK(dpop_proof(&back, &r, &proof) == 0);
	json_value *hdr = segment(proof.data, 0);
	struct buf jwk = BUF_INIT;
	json_append_value(&jwk, json_get(hdr, "jwk"));
	CHECK_STR(buf_cstr(&jwk), buf_cstr(&k.jwk));
	json_value *p = verify_with_own_jwk(proof.data);
	CHECK_STR(json_get_str(p, "htu", NULL), htu);
	json_free(p);
	json_free(hdr);
	buf_free(&jwk);
	/* two logins never share a key */
	struct dpop_key k2;
	CHECK(dpop_key_generate(&k2) == 0);
	CHECK(strcmp(k2.jkt, k.jkt) != 0);
	dpop_key_free(&k2);
	/* wrong length, zero scalar, the group order: refused, key left empty */
	CHECK(dpop_key_import(&k2, d, 31) == -1 && k2.key == NULL);
	CHECK(dpop_key_import(&k2, NULL, 32) == -1);
	uint8_t zero[32] = {0}, ones[32];
	memset(ones, 0xff, sizeof(ones));
	CHECK(dpop_key_import(&k2, zero, 32) == -1);
	CHECK(dpop_key_import(&k2, ones, 32) == -1); /* >= n */
	secure_zero(d, sizeof(d));
	dpop_key_free(&k);
	dpop_key_free(&back);
	buf_free(&proof);
}

static void test_htu(void)
{
	static const struct { const char *in, *out; } cases[] = {
		{ "https://stg-id.singpass.gov.sg/fapi/token", "https://stg-id.singpass.gov.sg/fapi/token" },
		{ "https://id.singpass.gov.sg/fapi/par?x=1#f", "https://id.singpass.gov.sg/fapi/par" },
		{ "https://id.singpass.gov.sg/fapi/par#f?x", "https://id.singpass.gov.sg/fapi/par" },
		/* byte for byte otherwise: no case change, port or slash games */
		{ "HTTPS://x", NULL },
		{ "https://Host.Example:443/Path/", "https://Host.Example:443/Path/" },
		{ "http://localhost:5156/singpass/v3/fapi/token", "http://localhost:5156/singpass/v3/fapi/token" },
		{ "https://h", "https://h" },
		{ "https://", NULL },
		{ "https:///path", NULL },
		{ "https://?q", NULL },
		{ "ftp://h/x", NULL },
		{ "//h/x", NULL },
		{ "https://h/a b", NULL },
		{ "https://h/a\tb", NULL },
		{ "https://h/\x7f", NULL },
		{ "https://h/\xc3\xa9", NULL },
	};
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct buf out = BUF_INIT;
		int rc = dpop_htu(cases[i].in, strlen(cases[i].in), &out);
		harness_current = cases[i].in;
		if (cases[i].out) {
			CHECK_INT(rc, 0);
			CHECK_STR(buf_cstr(&out), cases[i].out);
		} else {
			CHECK_INT(rc, -1);
			CHECK_INT(out.len, 0);
		}
		buf_free(&out);
	}
	harness_current = "test_htu";
	char *big = malloc(DPOP_HTU_MAX + 2);
	memcpy(big, "https://h/", 10);
	memset(big + 10, 'a', DPOP_HTU_MAX - 9);
	struct buf out = BUF_INIT;
	CHECK(dpop_htu(big, DPOP_HTU_MAX + 1, &out) == -1);
	CHECK(dpop_htu(big, DPOP_HTU_MAX, &out) == 0);
	free(big);
	buf_free(&out);
}

int main(void)
{
	note = vectors_load(SINGPASS_NOTE_VECTORS);
	CHECK(note != NULL);
	RUN(test_note_vectors);
	RUN(test_proof);
	RUN(test_key_sealing);
	RUN(test_htu);
	json_free(note);
	return harness_report("test_dpop");
}
