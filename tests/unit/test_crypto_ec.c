/* crypto_ec: P-256 key loading and its refusals (RSA, other curves,
 * explicit parameters, Ed25519, public-only, encrypted), the invalid-curve
 * defence of public keys, ES256 in the raw R||S form, ECDH and Concat KDF
 * against RFC 7518 Appendix C, and the AES encrypting counterparts. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "crypto.h"
#include "crypto_ec.h"
#include "harness.h"
#include "jose.h"
#include "json.h"
#include "util.h"
#include "vectors.h"

static json_value *note; /* singpass-note-vectors.json */

static void b64_32(const char *s, uint8_t out[32])
{
	struct buf b = BUF_INIT;
	CHECK(s && b64url_decode(s, strlen(s), &b) == 0 && b.len == 32);
	if (b.len == 32)
		memcpy(out, b.data, 32);
	buf_free(&b);
}

static crypto_ec_key *load_file(const char *path, char *err, size_t err_len)
{
	size_t len = 0;
	char *data = harness_read_file(path, &len);
	crypto_ec_key *k = data ? crypto_ec_key_load_pem(data, len, err, err_len) : NULL;
	free(data);
	return k;
}

static void test_load(void)
{
	char err[160];
	static const char *const ok[] = {
		"tests/vectors/test-ec-p256-key.pem",       /* PKCS#8 */
		"tests/vectors/test-ec-p256-sec1-key.pem",  /* SEC1 "EC PRIVATE KEY" */
		/* P-256 spelled out as explicit parameters: the same curve; the key
		 * is rebuilt on the named group from its scalar */
		"tests/vectors/test-ec-p256-explicit-key.pem",
		/* `openssl ecparam -genkey` without -noout: EC PARAMETERS first */
		"tests/vectors/test-ec-p256-params-key.pem",
	};
	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		err[0] = '\0';
		crypto_ec_key *k = load_file(ok[i], err, sizeof(err));
		CHECK(k != NULL);
		CHECK(crypto_ec_key_has_private(k));
		/* written back as PKCS#8 and read again: the same key */
		struct buf pem = BUF_INIT;
		CHECK(crypto_ec_key_to_pem(k, &pem) == 0);
		CHECK(strstr(buf_cstr(&pem), "-----BEGIN PRIVATE KEY-----") != NULL);
		crypto_ec_key *again = crypto_ec_key_load_pem(pem.data, pem.len, err, sizeof(err));
		CHECK(crypto_ec_key_same_public(k, again));
		crypto_ec_key_free(again);
		buf_free(&pem);
		crypto_ec_key_free(k);
	}
}

static void test_load_refusals(void)
{
	static const struct { const char *path, *want; } files[] = {
		{ "tests/vectors/test-signing-key.pem", "RSA" },
		{ "tests/vectors/client-test-key-pkcs1.pem", "RSA" },
		{ "tests/vectors/test-ec-p384-key.pem", "P-256" },
		{ "tests/vectors/test-ec-secp256k1-key.pem", "P-256" },
		{ "tests/vectors/test-ed25519-key.pem", "not an EC key" },
		{ "tests/vectors/test-ec-p256-encrypted-key.pem", "encrypted" },
		{ "tests/vectors/test-ec-p256-sec1-encrypted-key.pem", "encrypted" },
	};
	char err[160];

	for (size_t i = 0; i < ARRAY_LEN(files); i++) {
		err[0] = '\0';
		harness_current = files[i].path;
		CHECK(load_file(files[i].path, err, sizeof(err)) == NULL);
		CHECK(strstr(err, files[i].want) != NULL);
		if (!strstr(err, files[i].want))
			fprintf(stderr, "  err: %s\n", err);
	}
	harness_current = "test_load_refusals";
	static const struct { const char *text, *want; } texts[] = {
		{ "", "empty" },
		{ "no pem here", "no PEM header" },
		{ "-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n", "not a private key" },
		{ "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
		  "encrypted" },
		{ "-----BEGIN PRIVATE KEY-----\nMIIBogus\n-----END PRIVATE KEY-----\n", "cannot parse" },
	};
	for (size_t i = 0; i < ARRAY_LEN(texts); i++) {
		err[0] = '\0';
		CHECK(crypto_ec_key_load_pem(texts[i].text, strlen(texts[i].text), err, sizeof(err)) == NULL);
		CHECK(strstr(err, texts[i].want) != NULL);
	}
	/* over the 64 KiB bound: refused before parsing */
	char *big = malloc(70000);
	memset(big, 'A', 70000);
	err[0] = '\0';
	CHECK(crypto_ec_key_load_pem(big, 70000, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "too long") != NULL);
	free(big);
	CHECK(crypto_ec_key_load_pem("x", 1, NULL, 0) == NULL);
}

/* Public keys: on the curve or refused. */
static void test_public_validation(void)
{
	const json_value *bob = json_get(json_get(note, "rfc7518_appendix_c"), "bob");
	uint8_t x[32], y[32], zero[32] = {0}, p[32];

	b64_32(json_get_str(bob, "x", NULL), x);
	b64_32(json_get_str(bob, "y", NULL), y);
	crypto_ec_key *k = crypto_ec_key_from_public(x, y);
	CHECK(k != NULL);
	CHECK(!crypto_ec_key_has_private(k));
	uint8_t d[32];
	CHECK(crypto_ec_key_private(k, d) == -1);
	crypto_ec_key_free(k);

	/* y + 1: off the curve (an invalid-curve point) */
	uint8_t y2[32];
	memcpy(y2, y, 32);
	y2[31] ^= 1;
	CHECK(crypto_ec_key_from_public(x, y2) == NULL);
	/* (0, 0) stands for infinity in some encodings; not a P-256 point */
	CHECK(crypto_ec_key_from_public(zero, zero) == NULL);
	/* x = p (out of range) */
	static const char p_hex[] = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
	for (int i = 0; i < 32; i++)
		p[i] = (uint8_t)strtoul((char[]){ p_hex[2 * i], p_hex[2 * i + 1], 0 }, NULL, 16);
	CHECK(crypto_ec_key_from_public(p, y) == NULL);
	/* (x, y) of a point on another curve (secp256k1 generator) */
	static const char gx[] = "79be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798";
	static const char gy[] = "483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8";
	uint8_t kx[32], ky[32];
	for (int i = 0; i < 32; i++) {
		kx[i] = (uint8_t)strtoul((char[]){ gx[2 * i], gx[2 * i + 1], 0 }, NULL, 16);
		ky[i] = (uint8_t)strtoul((char[]){ gy[2 * i], gy[2 * i + 1], 0 }, NULL, 16);
	}
	CHECK(crypto_ec_key_from_public(kx, ky) == NULL);
	CHECK(crypto_ec_key_from_public(NULL, y) == NULL);
}

static void test_private_scalar(void)
{
	const json_value *bob = json_get(json_get(note, "rfc7518_appendix_c"), "bob");
	uint8_t d[32], x[32], y[32], gx[32], gy[32], back[32];

	b64_32(json_get_str(bob, "d", NULL), d);
	b64_32(json_get_str(bob, "x", NULL), x);
	b64_32(json_get_str(bob, "y", NULL), y);
	crypto_ec_key *k = crypto_ec_key_from_private(d);
	CHECK(k != NULL && crypto_ec_key_has_private(k));
	CHECK(crypto_ec_key_public(k, gx, gy) == 0);
	CHECK(memcmp(gx, x, 32) == 0 && memcmp(gy, y, 32) == 0);
	CHECK(crypto_ec_key_private(k, back) == 0 && memcmp(back, d, 32) == 0);
	crypto_ec_key_free(k);
	/* 0 and n are not scalars */
	uint8_t zero[32] = {0};
	CHECK(crypto_ec_key_from_private(zero) == NULL);
	static const char n_hex[] = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
	uint8_t n[32];
	for (int i = 0; i < 32; i++)
		n[i] = (uint8_t)strtoul((char[]){ n_hex[2 * i], n_hex[2 * i + 1], 0 }, NULL, 16);
	CHECK(crypto_ec_key_from_private(n) == NULL);
	n[31]--; /* n - 1 is */
	k = crypto_ec_key_from_private(n);
	CHECK(k != NULL);
	crypto_ec_key_free(k);
}

static void test_es256(void)
{
	crypto_ec_key *k = crypto_ec_key_generate(), *other = crypto_ec_key_generate();
	uint8_t sig[64], sig2[64], x[32], y[32];
	static const char msg[] = "eyJhbGciOiJFUzI1NiJ9.e30";

	CHECK(k && other);
	CHECK(crypto_es256_sign(k, msg, strlen(msg), sig) == 0);
	CHECK(crypto_es256_verify(k, msg, strlen(msg), sig, 64) == 0);
	/* ECDSA is randomised: two signatures differ, both verify */
	CHECK(crypto_es256_sign(k, msg, strlen(msg), sig2) == 0);
	CHECK(memcmp(sig, sig2, 64) != 0);
	CHECK(crypto_es256_verify(k, msg, strlen(msg), sig2, 64) == 0);
	/* with the public half alone */
	CHECK(crypto_ec_key_public(k, x, y) == 0);
	crypto_ec_key *pub = crypto_ec_key_from_public(x, y);
	CHECK(crypto_es256_verify(pub, msg, strlen(msg), sig, 64) == 0);
	CHECK(crypto_es256_sign(pub, msg, strlen(msg), sig2) == -1); /* no private key */
	/* refusals: other key, other message, each half flipped, wrong length, R = 0 */
	CHECK(crypto_es256_verify(other, msg, strlen(msg), sig, 64) == -1);
	CHECK(crypto_es256_verify(k, msg, strlen(msg) - 1, sig, 64) == -1);
	sig[0] ^= 1;
	CHECK(crypto_es256_verify(k, msg, strlen(msg), sig, 64) == -1);
	sig[0] ^= 1;
	sig[63] ^= 1;
	CHECK(crypto_es256_verify(k, msg, strlen(msg), sig, 64) == -1);
	sig[63] ^= 1;
	CHECK(crypto_es256_verify(k, msg, strlen(msg), sig, 63) == -1);
	CHECK(crypto_es256_verify(k, msg, strlen(msg), sig, 72) == -1);
	uint8_t zr[64];
	memcpy(zr, sig, 64);
	memset(zr, 0, 32);
	CHECK(crypto_es256_verify(k, msg, strlen(msg), zr, 64) == -1);
	CHECK(crypto_es256_verify(NULL, msg, strlen(msg), sig, 64) == -1);
	crypto_ec_key_free(pub);
	crypto_ec_key_free(k);
	crypto_ec_key_free(other);
}

/* RFC 7518 Appendix C: Bob's Z with Alice's ephemeral key, then Concat KDF. */
static void test_ecdh_rfc7518_c(void)
{
	const json_value *c = json_get(note, "rfc7518_appendix_c");
	const json_value *alice = json_get(c, "alice_epk"), *bob = json_get(c, "bob");
	uint8_t ax[32], ay[32], ad[32], bd[32], z1[32], z2[32], kek[16];
	struct buf apu = BUF_INIT, apv = BUF_INIT, want = BUF_INIT;

	b64_32(json_get_str(alice, "x", NULL), ax);
	b64_32(json_get_str(alice, "y", NULL), ay);
	b64_32(json_get_str(alice, "d", NULL), ad);
	b64_32(json_get_str(bob, "d", NULL), bd);
	crypto_ec_key *b = crypto_ec_key_from_private(bd), *a = crypto_ec_key_from_private(ad);
	crypto_ec_key *epk = crypto_ec_key_from_public(ax, ay);
	CHECK(crypto_ecdh_p256(b, epk, z1) == 0);
	CHECK(crypto_ecdh_p256(a, b, z2) == 0);
	CHECK(memcmp(z1, z2, 32) == 0); /* both sides agree */
	CHECK(crypto_ecdh_p256(epk, b, z2) == -1); /* no private half */
	const char *s = json_get_str(c, "apu", NULL), *t = json_get_str(c, "apv", NULL);
	CHECK(b64url_decode(s, strlen(s), &apu) == 0 && b64url_decode(t, strlen(t), &apv) == 0);
	CHECK(jose_concat_kdf(z1, 32, json_get_str(c, "alg_id", NULL), (const uint8_t *)apu.data,
		apu.len, (const uint8_t *)apv.data, apv.len, kek, sizeof(kek)) == 0);
	CHECK(b64url_encode(kek, sizeof(kek), &want) == 0);
	CHECK_STR(buf_cstr(&want), json_get_str(c, "derived_key", NULL));
	/* more than one round (64 bytes) starts with the one-round output
	 * only when keydatalen matches: the length is in the input */
	uint8_t long_key[64];
	CHECK(jose_concat_kdf(z1, 32, "A128GCM", (const uint8_t *)apu.data, apu.len,
		(const uint8_t *)apv.data, apv.len, long_key, 64) == 0);
	CHECK(memcmp(long_key, kek, 16) != 0);
	CHECK(jose_concat_kdf(z1, 32, "A128GCM", NULL, 0, NULL, 0, kek, 0) == -1);
	CHECK(jose_concat_kdf(z1, 32, "A128GCM", NULL, 0, NULL, 0, long_key, 65) == -1);
	buf_free(&apu);
	buf_free(&apv);
	buf_free(&want);
	crypto_ec_key_free(a);
	crypto_ec_key_free(b);
	crypto_ec_key_free(epk);
}

static void test_aes_producers(void)
{
	uint8_t kek[32], cek[64], iv[16];
	struct buf wrapped = BUF_INIT, back = BUF_INIT, ct = BUF_INIT, pt = BUF_INIT;

	CHECK(crypto_random(kek, sizeof(kek)) == 0 && crypto_random(cek, sizeof(cek)) == 0 &&
		crypto_random(iv, sizeof(iv)) == 0);
	for (size_t kl = 16; kl <= 32; kl += 8) {
		buf_reset(&wrapped);
		buf_reset(&back);
		CHECK(crypto_aes_key_wrap(kek, kl, cek, 64, &wrapped) == 0 && wrapped.len == 72);
		CHECK(crypto_aes_key_unwrap(kek, kl, (const uint8_t *)wrapped.data, wrapped.len, &back) == 0);
		CHECK(back.len == 64 && memcmp(back.data, cek, 64) == 0);
	}
	CHECK(crypto_aes_key_wrap(kek, 20, cek, 64, &wrapped) == -1);
	CHECK(crypto_aes_key_wrap(kek, 32, cek, 12, &wrapped) == -1);
	CHECK(crypto_aes_cbc_encrypt(cek, 32, iv, (const uint8_t *)"hello", 5, &ct) == 0 && ct.len == 16);
	CHECK(crypto_aes_cbc_decrypt(cek, 32, iv, (const uint8_t *)ct.data, ct.len, &pt) == 0);
	CHECK_STR(buf_cstr(&pt), "hello");
	buf_free(&wrapped);
	buf_free(&back);
	buf_free(&ct);
	buf_free(&pt);
}

int main(void)
{
	note = vectors_load(SINGPASS_NOTE_VECTORS);
	CHECK(note != NULL);
	RUN(test_load);
	RUN(test_load_refusals);
	RUN(test_public_validation);
	RUN(test_private_scalar);
	RUN(test_es256);
	RUN(test_ecdh_rfc7518_c);
	RUN(test_aes_producers);
	json_free(note);
	return harness_report("test_crypto_ec");
}
