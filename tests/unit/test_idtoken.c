/* idtoken: the sgID vector tokens pass; then each rule of idtoken.h fails
 * on its own, with tokens signed here by a generated test key
 * (tests/vectors/test-signing-key.pem, public half in test-jwks.json). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "crypto.h"
#include "harness.h"
#include "idtoken.h"
#include "jose.h"
#include "json.h"
#include "no_crypto.h"

#define ISSUER  "https://id.sgid.com/v2"
#define CLIENT  "mockClientId"
#define NONCE   "mockNonce"
#define NOW     1800000000LL
#define KID     "test-signing-key-1"
#define HDR_KID "{\"alg\":\"RS256\",\"kid\":\"" KID "\"}"

static json_value *vec;
static crypto_pkey *signer;
static struct jwks keys;       /* our signing key only */
static struct jwks both_keys;  /* the sgID vector key + ours */

/* Raw JSON text of each claim; NULL leaves the claim out. */
struct claims {
	const char *iss, *sub, *aud, *exp, *iat, *nbf, *nonce, *azp;
};

static struct claims good_claims(void)
{
	struct claims c = {
		.iss = "\"" ISSUER "\"", .sub = "\"u=1234\"", .aud = "\"" CLIENT "\"",
		.exp = "1800003600", .iat = "1799999000", .nbf = NULL,
		.nonce = "\"" NONCE "\"", .azp = NULL,
	};
	return c;
}

static void add_claim(struct buf *b, const char *name, const char *val)
{
	if (!val)
		return;
	buf_append_str(b, b->len > 1 ? "," : "");
	buf_printf(b, "\"%s\":%s", name, val);
}

static void claims_json(const struct claims *c, struct buf *out)
{
	buf_append_char(out, '{');
	add_claim(out, "iss", c->iss);
	add_claim(out, "sub", c->sub);
	add_claim(out, "aud", c->aud);
	add_claim(out, "exp", c->exp);
	add_claim(out, "iat", c->iat);
	add_claim(out, "nbf", c->nbf);
	add_claim(out, "nonce", c->nonce);
	add_claim(out, "azp", c->azp);
	buf_append_char(out, '}');
}

/* TEST-ONLY signer: header.payload.signature with the test key. */
static void sign_token(const char *header, const char *payload, struct buf *out)
{
	struct buf sig = BUF_INIT;
	buf_reset(out);
	b64url_encode((const uint8_t *)header, strlen(header), out);
	buf_append_char(out, '.');
	b64url_encode((const uint8_t *)payload, strlen(payload), out);
	CHECK(crypto_rsa_sign_sha256(signer, out->data, out->len, &sig) == 0);
	buf_append_char(out, '.');
	b64url_encode((const uint8_t *)sig.data, sig.len, out);
	buf_free(&sig);
}

static struct idtoken_expect expect_default(void)
{
	struct idtoken_expect x = { ISSUER, CLIENT, NONCE, NOW, 0, false };
	return x;
}

static enum idt_err verify_with(const char *header, const struct claims *c,
	const struct idtoken_expect *x, const struct jwks *ks, struct idtoken_claims *out)
{
	struct buf payload = BUF_INIT, tok = BUF_INIT;
	struct idtoken_claims scratch;
	claims_json(c, &payload);
	sign_token(header, buf_cstr(&payload), &tok);
	enum idt_err rc = idtoken_verify(tok.data, tok.len, ks, x, out ? out : &scratch);
	buf_free(&payload);
	buf_free(&tok);
	return rc;
}

static enum idt_err verify(const struct claims *c)
{
	struct idtoken_expect x = expect_default();
	return verify_with(HDR_KID, c, &x, &keys, NULL);
}

static enum idt_err verify_x(const struct claims *c, const struct idtoken_expect *x)
{
	return verify_with(HDR_KID, c, x, &keys, NULL);
}

/* ---- the sgID vectors ---- */

static void test_vector_tokens(void)
{
	struct jwks server = {0};
	struct buf jwks_text = BUF_INIT;
	const char *names[] = { "id_token_no_kid", "id_token_with_kid" };
	struct idtoken_expect x = expect_default();
	CHECK_STR(json_get_str(json_get(vec, "id_token_validation_inputs"), "issuer", NULL), ISSUER);

	CHECK_INT(jwks_parse(
		"{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\",\"use\":\"sig\",\"kid\":\"testKey\",\"n\":\"", 70,
		&server), JOSE_ERR_MALFORMED);
	/* Build the server JWKS text from the vector. */
	const json_value *k0 = json_array_at(json_get(json_get(vec, "server_jwks"), "keys"), 0);
	buf_printf(&jwks_text, "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"sig\",\"kid\":\"testKey\","
		"\"e\":\"%s\",\"n\":\"%s\"}]}", json_get_str(k0, "e", NULL), json_get_str(k0, "n", NULL));
	CHECK_INT(jwks_parse(jwks_text.data, jwks_text.len, &server), JOSE_OK);

	for (size_t i = 0; i < 2; i++) {
		const char *t = json_get_str(vec, names[i], NULL);
		struct idtoken_claims out;
		CHECK_INT(idtoken_verify(t, strlen(t), &server, &x, &out), IDT_OK);
		CHECK_STR(out.sub, "mockSub");
		CHECK_INT(out.exp, 4102444800LL);
		CHECK_INT(out.iat, 1700000000LL);
		/* Against the two-key set too (no kid: the right key is found). */
		CHECK_INT(idtoken_verify(t, strlen(t), &both_keys, &x, &out), IDT_OK);
		/* The vector token's nonce must match ours. */
		struct idtoken_expect other = x;
		other.nonce = "otherNonce";
		CHECK_INT(idtoken_verify(t, strlen(t), &server, &other, &out), IDT_ERR_NONCE);
		CHECK_STR(out.sub, "");
	}
	buf_free(&jwks_text);
	jwks_clear(&server);
}

static void test_good_token(void)
{
	struct claims c = good_claims();
	struct idtoken_expect x = expect_default();
	struct idtoken_claims out;
	CHECK_INT(verify_with(HDR_KID, &c, &x, &keys, &out), IDT_OK);
	CHECK_STR(out.sub, "u=1234");
	CHECK_INT(out.exp, 1800003600LL);
	CHECK_INT(out.iat, 1799999000LL);
}

/* ---- algorithm, signature, keys ---- */

static void test_alg_and_signature(void)
{
	struct claims c = good_claims();
	struct idtoken_expect x = expect_default();
	struct buf payload = BUF_INIT, tok = BUF_INIT;
	struct idtoken_claims out;
	claims_json(&c, &payload);

	/* alg none with an empty signature. */
	b64url_encode((const uint8_t *)"{\"alg\":\"none\"}", 14, &tok);
	buf_append_char(&tok, '.');
	b64url_encode((const uint8_t *)payload.data, payload.len, &tok);
	buf_append_char(&tok, '.');
	CHECK_INT(idtoken_verify(tok.data, tok.len, &keys, &x, &out), IDT_ERR_ALG);

	/* HS256 "signed" with the public modulus as the secret: still refused. */
	CHECK_INT(verify_with("{\"alg\":\"HS256\",\"kid\":\"" KID "\"}", &c, &x, &keys, NULL), IDT_ERR_ALG);
	CHECK_INT(verify_with("{\"alg\":\"RS384\"}", &c, &x, &keys, NULL), IDT_ERR_ALG);

	/* A bad signature: flip a byte of a valid token's signature. */
	sign_token(HDR_KID, payload.data, &tok);
	char *sigpart = strrchr(tok.data, '.') + 10;
	*sigpart = *sigpart == 'A' ? 'B' : 'A';
	CHECK_INT(idtoken_verify(tok.data, tok.len, &keys, &x, &out), IDT_ERR_SIGNATURE);
	/* Signed by us, presented as the sgID key's kid. */
	CHECK_INT(verify_with("{\"alg\":\"RS256\",\"kid\":\"testKey\"}", &c, &x, &both_keys, NULL),
		IDT_ERR_SIGNATURE);

	/* Garbage. */
	CHECK_INT(idtoken_verify("a.b.c", 5, &keys, &x, &out), IDT_ERR_MALFORMED);
	CHECK_INT(idtoken_verify("", 0, &keys, &x, &out), IDT_ERR_MALFORMED);
	/* A payload that is not a JSON object. */
	sign_token(HDR_KID, "[\"iss\"]", &tok);
	CHECK_INT(idtoken_verify(tok.data, tok.len, &keys, &x, &out), IDT_ERR_MALFORMED);
	buf_free(&payload);
	buf_free(&tok);
}

static void test_kids(void)
{
	struct claims c = good_claims();
	struct idtoken_expect x = expect_default();
	/* No kid, several keys: accepted when one verifies. */
	CHECK_INT(verify_with("{\"alg\":\"RS256\"}", &c, &x, &both_keys, NULL), IDT_OK);
	CHECK_INT(verify_with("{\"alg\":\"RS256\",\"typ\":\"JWT\"}", &c, &x, &keys, NULL), IDT_OK);
	/* Unknown kid: the caller may refetch the JWKS. */
	CHECK_INT(verify_with("{\"alg\":\"RS256\",\"kid\":\"rotated-key\"}", &c, &x, &both_keys, NULL),
		IDT_ERR_NO_KEY);
	/* No kid and no key verifies. */
	struct jwks only_server = {0};
	const json_value *k0 = json_array_at(json_get(json_get(vec, "server_jwks"), "keys"), 0);
	struct buf text = BUF_INIT;
	buf_printf(&text, "{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\",\"n\":\"%s\"}]}",
		json_get_str(k0, "n", NULL));
	CHECK_INT(jwks_parse(text.data, text.len, &only_server), JOSE_OK);
	CHECK_INT(verify_with("{\"alg\":\"RS256\"}", &c, &x, &only_server, NULL), IDT_ERR_NO_KEY);
	/* A kid in the token but none in the set: no key matches. */
	CHECK_INT(verify_with(HDR_KID, &c, &x, &only_server, NULL), IDT_ERR_NO_KEY);
	buf_free(&text);
	jwks_clear(&only_server);
}

/* ---- claims ---- */

static void test_iss(void)
{
	struct claims c = good_claims();
	c.iss = "\"https://id.sgid.com/v2/\"";
	CHECK_INT(verify(&c), IDT_ERR_ISS);
	c.iss = "\"https://evil.example/v2\"";
	CHECK_INT(verify(&c), IDT_ERR_ISS);
	c.iss = "[\"" ISSUER "\"]";
	CHECK_INT(verify(&c), IDT_ERR_ISS);
	c.iss = NULL;
	CHECK_INT(verify(&c), IDT_ERR_MISSING_CLAIM);
}

static void test_aud_azp(void)
{
	struct claims c = good_claims();
	c.aud = "\"otherClient\"";
	CHECK_INT(verify(&c), IDT_ERR_AUD);
	c.aud = "\"mockClientIdX\"";
	CHECK_INT(verify(&c), IDT_ERR_AUD);
	c.aud = NULL;
	CHECK_INT(verify(&c), IDT_ERR_MISSING_CLAIM);
	c.aud = "[\"otherClient\"]";
	CHECK_INT(verify(&c), IDT_ERR_AUD);
	c.aud = "[]";
	CHECK_INT(verify(&c), IDT_ERR_AUD);
	c.aud = "42";
	CHECK_INT(verify(&c), IDT_ERR_AUD);
	c.aud = "[\"" CLIENT "\"]";
	CHECK_INT(verify(&c), IDT_OK);
	/* Two audiences: azp must be present and ours. */
	c.aud = "[\"otherClient\",\"" CLIENT "\"]";
	CHECK_INT(verify(&c), IDT_ERR_AZP);
	c.azp = "\"" CLIENT "\"";
	CHECK_INT(verify(&c), IDT_OK);
	c.azp = "\"otherClient\"";
	CHECK_INT(verify(&c), IDT_ERR_AZP);
	/* A foreign azp is refused even with a single string audience. */
	c.aud = "\"" CLIENT "\"";
	CHECK_INT(verify(&c), IDT_ERR_AZP);
	c.azp = "7";
	CHECK_INT(verify(&c), IDT_ERR_AZP);
	c.azp = "\"" CLIENT "\"";
	CHECK_INT(verify(&c), IDT_OK);
}

static void test_sub(void)
{
	struct claims c = good_claims();
	c.sub = NULL;
	CHECK_INT(verify(&c), IDT_ERR_MISSING_CLAIM);
	c.sub = "\"\"";
	CHECK_INT(verify(&c), IDT_ERR_SUB);
	c.sub = "42";
	CHECK_INT(verify(&c), IDT_ERR_SUB);
	c.sub = "\"a\\nb\"";
	CHECK_INT(verify(&c), IDT_ERR_SUB);
	c.sub = "\"Zo\xc3\xab\"";
	CHECK_INT(verify(&c), IDT_ERR_SUB);

	char big[IDTOKEN_SUB_MAX + 4];
	big[0] = '"';
	memset(big + 1, 'x', IDTOKEN_SUB_MAX);
	big[IDTOKEN_SUB_MAX + 1] = '"';
	big[IDTOKEN_SUB_MAX + 2] = '\0';
	c.sub = big;
	struct idtoken_expect x = expect_default();
	struct idtoken_claims out;
	CHECK_INT(verify_with(HDR_KID, &c, &x, &keys, &out), IDT_OK);
	CHECK_INT(strlen(out.sub), IDTOKEN_SUB_MAX);
	char bigger[IDTOKEN_SUB_MAX + 5];
	bigger[0] = '"';
	memset(bigger + 1, 'x', IDTOKEN_SUB_MAX + 1);
	bigger[IDTOKEN_SUB_MAX + 2] = '"';
	bigger[IDTOKEN_SUB_MAX + 3] = '\0';
	c.sub = bigger;
	CHECK_INT(verify(&c), IDT_ERR_SUB);
}

static void test_iat(void)
{
	struct claims c = good_claims();
	struct idtoken_expect x = expect_default();
	c.iat = NULL;
	CHECK_INT(verify(&c), IDT_ERR_MISSING_CLAIM);
	c.iat = "1799999000.5";
	CHECK_INT(verify(&c), IDT_ERR_IAT);
	c.iat = "\"1799999000\"";
	CHECK_INT(verify(&c), IDT_ERR_IAT);
	c.iat = "true";
	CHECK_INT(verify(&c), IDT_ERR_IAT);
	c.iat = "null";
	CHECK_INT(verify(&c), IDT_ERR_IAT);
	/* From the future, beyond and within the skew. */
	c.iat = "1800000100";
	CHECK_INT(verify(&c), IDT_ERR_IAT);
	x.skew = 120;
	CHECK_INT(verify_x(&c, &x), IDT_OK);
	c.iat = "-9223372036854775808"; /* saturation value: refused */
	CHECK_INT(verify_x(&c, &x), IDT_ERR_IAT);
	c.iat = "-9223372036854775807";
	CHECK_INT(verify_x(&c, &x), IDT_OK);
}

/* fractional_times (Singpass): exp, iat and nbf may carry a fraction,
 * rounded down; the rules stay the same. */
static void test_fractional_times(void)
{
	struct claims c = good_claims();
	struct idtoken_expect x = expect_default();
	struct idtoken_claims out;
	x.fractional_times = true;
	c.iat = "1799999000.731";
	c.exp = "1800003600.2";
	c.nbf = "1799999000.5";
	CHECK_INT(verify_with(HDR_KID, &c, &x, &keys, &out), IDT_OK);
	CHECK_INT(out.iat, 1799999000LL);
	CHECK_INT(out.exp, 1800003600LL);
	c.iat = "1800000100.5"; /* from the future, beyond the skew */
	CHECK_INT(verify_x(&c, &x), IDT_ERR_IAT);
	c.iat = "\"1799999000\"";
	CHECK_INT(verify_x(&c, &x), IDT_ERR_IAT);
	c.iat = "1799999000";
	c.exp = "1e300";
	CHECK_INT(verify_x(&c, &x), IDT_ERR_EXP);
	x.fractional_times = false; /* sgID: integers only */
	c.exp = "1800003600.2";
	CHECK_INT(verify_x(&c, &x), IDT_ERR_EXP);
}

static void test_exp(void)
{
	struct claims c = good_claims();
	struct idtoken_expect x = expect_default();
	c.exp = NULL;
	CHECK_INT(verify(&c), IDT_ERR_MISSING_CLAIM);
	c.exp = "1800003600.0";
	CHECK_INT(verify(&c), IDT_ERR_EXP);
	c.exp = "\"1800003600\"";
	CHECK_INT(verify(&c), IDT_ERR_EXP);
	/* now >= exp is expired. */
	c.exp = "1800000000";
	CHECK_INT(verify(&c), IDT_ERR_EXP);
	c.exp = "1800000001";
	CHECK_INT(verify(&c), IDT_OK);
	c.exp = "1799999990";
	CHECK_INT(verify(&c), IDT_ERR_EXP);
	/* Within the skew: accepted; at the edge of it: refused. */
	x.skew = 30;
	CHECK_INT(verify_x(&c, &x), IDT_OK);
	c.exp = "1799999970";
	CHECK_INT(verify_x(&c, &x), IDT_ERR_EXP);
	/* Extremes do not overflow (UBSan checks). INT64_MAX is what json-c
	 * saturates larger numbers to, so it is refused like them. */
	c.exp = "9223372036854775807";
	CHECK_INT(verify_x(&c, &x), IDT_ERR_EXP);
	c.exp = "92233720368547758070";
	CHECK_INT(verify_x(&c, &x), IDT_ERR_EXP);
	c.exp = "9223372036854775806";
	CHECK_INT(verify_x(&c, &x), IDT_OK);
	c.exp = "-9223372036854775808";
	CHECK_INT(verify_x(&c, &x), IDT_ERR_EXP);
	/* A negative skew counts as none. */
	x.skew = -100;
	c.exp = "1800000001";
	CHECK_INT(verify_x(&c, &x), IDT_OK);
}

static void test_nbf(void)
{
	struct claims c = good_claims();
	struct idtoken_expect x = expect_default();
	c.nbf = "1800000100";
	CHECK_INT(verify(&c), IDT_ERR_NBF);
	x.skew = 30;
	CHECK_INT(verify_x(&c, &x), IDT_ERR_NBF);
	c.nbf = "1800000020";
	CHECK_INT(verify_x(&c, &x), IDT_OK);
	c.nbf = "1800000000";
	CHECK_INT(verify(&c), IDT_OK);
	c.nbf = "\"1700000000\"";
	CHECK_INT(verify(&c), IDT_ERR_NBF);
	c.nbf = "1700000000.5";
	CHECK_INT(verify(&c), IDT_ERR_NBF);
}

static void test_nonce_equal(void)
{
	CHECK(idtoken_nonce_equal("mockNonce", 9, "mockNonce"));
	CHECK(!idtoken_nonce_equal("mockNonce", 8, "mockNonce"));
	CHECK(!idtoken_nonce_equal("mockNonce", 9, "mockNoncf"));
	CHECK(idtoken_nonce_equal("", 0, ""));
}

/* In a child without OpenSSL algorithms: a digest failure is no match,
 * even for equal nonces (both digests would be the same zeros). */
static void no_crypto_nonce(void)
{
	CHECK(!idtoken_nonce_equal("mockNonce", 9, "mockNonce"));
	CHECK(!idtoken_nonce_equal("", 0, ""));
}

static void test_nonce_unavailable(void)
{
	NO_CRYPTO_RUN(no_crypto_nonce);
}

static void test_nonce(void)
{
	struct claims c = good_claims();
	struct idtoken_expect x = expect_default();
	c.nonce = "\"otherNonce\"";
	CHECK_INT(verify(&c), IDT_ERR_NONCE);
	c.nonce = "\"mockNonc\"";
	CHECK_INT(verify(&c), IDT_ERR_NONCE);
	c.nonce = "\"mockNonce \"";
	CHECK_INT(verify(&c), IDT_ERR_NONCE);
	c.nonce = "42";
	CHECK_INT(verify(&c), IDT_ERR_NONCE);
	c.nonce = NULL;
	CHECK_INT(verify(&c), IDT_ERR_NONCE);
	/* No nonce expected: one in the token is refused, none is fine. */
	x.nonce = NULL;
	CHECK_INT(verify_x(&c, &x), IDT_OK);
	c.nonce = "\"" NONCE "\"";
	CHECK_INT(verify_x(&c, &x), IDT_ERR_NONCE);
	c.nonce = "null";
	CHECK_INT(verify_x(&c, &x), IDT_ERR_NONCE);
}

static void test_bad_expectations(void)
{
	struct claims c = good_claims();
	struct idtoken_expect x = expect_default();
	x.issuer = NULL;
	CHECK_INT(verify_x(&c, &x), IDT_ERR_MALFORMED);
	x = expect_default();
	x.client_id = NULL;
	CHECK_INT(verify_x(&c, &x), IDT_ERR_MALFORMED);
}

static void test_strerror(void)
{
	for (int i = 0; i < IDT_ERR__MAX; i++)
		CHECK(idtoken_strerror((enum idt_err)i) != NULL);
	CHECK_STR(idtoken_strerror(IDT_ERR__MAX), "unknown error");
}

static int setup(void)
{
	size_t len = 0;
	char err[128] = "";
	char *data = harness_read_file("tests/vectors/sgid-test-vectors.json", &len);
	vec = data ? json_parse(data, len, 1 << 20) : NULL;
	free(data);
	data = harness_read_file("tests/vectors/test-signing-key.pem", &len);
	signer = data ? crypto_private_key_load(data, len, err, sizeof err) : NULL;
	free(data);
	if (!vec || !signer)
		return -1;

	/* Our key from test-jwks.json, and that plus the sgID vector key. */
	json_value *tj = NULL;
	data = harness_read_file("tests/vectors/test-jwks.json", &len);
	tj = data ? json_parse(data, len, 1 << 20) : NULL;
	free(data);
	const json_value *ours = json_array_at(json_get(json_get(tj, "signing_jwks"), "keys"), 0);
	const json_value *sgid = json_array_at(json_get(json_get(vec, "server_jwks"), "keys"), 0);
	struct buf a = BUF_INIT, b = BUF_INIT;
	buf_printf(&a, "{\"keys\":[{\"kty\":\"RSA\",\"use\":\"sig\",\"alg\":\"RS256\",\"kid\":\"%s\","
		"\"n\":\"%s\",\"e\":\"%s\"}]}", json_get_str(ours, "kid", NULL),
		json_get_str(ours, "n", NULL), json_get_str(ours, "e", NULL));
	buf_printf(&b, "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"testKey\",\"n\":\"%s\",\"e\":\"%s\"},"
		"{\"kty\":\"RSA\",\"kid\":\"%s\",\"n\":\"%s\",\"e\":\"%s\"}]}",
		json_get_str(sgid, "n", NULL), json_get_str(sgid, "e", NULL),
		json_get_str(ours, "kid", NULL), json_get_str(ours, "n", NULL),
		json_get_str(ours, "e", NULL));
	int rc = jwks_parse(a.data, a.len, &keys) == JOSE_OK && keys.n == 1 &&
		jwks_parse(b.data, b.len, &both_keys) == JOSE_OK && both_keys.n == 2 ? 0 : -1;
	buf_free(&a);
	buf_free(&b);
	json_free(tj);
	return rc;
}

int main(int argc, char **argv)
{
	NO_CRYPTO_CHILD(argc, argv, "test_idtoken", no_crypto_nonce);
	int ok = setup() == 0;
	CHECK(ok);
	if (ok) {
		RUN(test_vector_tokens);
		RUN(test_good_token);
		RUN(test_alg_and_signature);
		RUN(test_kids);
		RUN(test_iss);
		RUN(test_aud_azp);
		RUN(test_sub);
		RUN(test_iat);
		RUN(test_fractional_times);
		RUN(test_exp);
		RUN(test_nbf);
		RUN(test_nonce);
		RUN(test_nonce_equal);
		RUN(test_nonce_unavailable);
		RUN(test_bad_expectations);
		RUN(test_strerror);
	}
	jwks_clear(&keys);
	jwks_clear(&both_keys);
	crypto_pkey_free(signer);
	json_free(vec);
	return harness_report("test_idtoken");
}
