/* crypto: key loading in every accepted form and the refusals, PKCE,
 * HMAC / HKDF known answers, AES-GCM and AES key unwrap. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "b64.h"
#include "buf.h"
#include "crypto.h"
#include "harness.h"
#include "no_crypto.h"
#include "json.h"
#include "util.h"

#define VECTORS "tests/vectors/sgid-test-vectors.json"

static json_value *vectors;

static const char *vec_str(const char *a, const char *b)
{
	const json_value *v = b ? json_get(vectors, a) : vectors;
	return json_get_str(v, b ? b : a, NULL);
}

static void hex_of(const uint8_t *p, size_t n, char *out)
{
	hex_encode(p, n, out);
}

static crypto_pkey *load_text(const char *pem, char *err, size_t err_len)
{
	return crypto_private_key_load(pem, strlen(pem), err, err_len);
}

static crypto_pkey *load_file(const char *path, char *err, size_t err_len)
{
	size_t len = 0;
	char *data = harness_read_file(path, &len);
	if (!data)
		return NULL;
	crypto_pkey *k = crypto_private_key_load(data, len, err, err_len);
	secure_zero(data, len);
	free(data);
	return k;
}

/* True when a and b are the same key: a signature by a verifies under b. */
static bool same_key(const crypto_pkey *a, const crypto_pkey *b)
{
	struct buf sig = BUF_INIT;
	bool ok = crypto_rsa_sign_sha256(a, "msg", 3, &sig) == 0 &&
		crypto_rsa_verify_sha256(b, "msg", 3, (const uint8_t *)sig.data, sig.len) == 0;
	buf_free(&sig);
	return ok;
}

static void test_load_pkcs8(void)
{
	char err[128] = "";
	crypto_pkey *k = load_text(vec_str("client_private_key_pkcs8_pem", NULL), err, sizeof err);
	CHECK(k != NULL);
	CHECK_INT(crypto_pkey_bits(k), 2048);
	crypto_pkey_free(k);
}

static void test_load_pkcs1(void)
{
	char err[128] = "";
	crypto_pkey *k8 = load_text(vec_str("client_private_key_pkcs8_pem", NULL), err, sizeof err);
	crypto_pkey *k1 = load_file("tests/vectors/client-test-key-pkcs1.pem", err, sizeof err);
	CHECK(k1 != NULL);
	CHECK_INT(crypto_pkey_bits(k1), 2048);
	CHECK(k8 && k1 && same_key(k1, k8));
	crypto_pkey_free(k1);
	crypto_pkey_free(k8);
}

/* Builds the two env-file mangled forms of a PEM. */
static char *escape_newlines(const char *pem)
{
	struct buf b = BUF_INIT;
	for (const char *p = pem; *p; p++)
		if (*p == '\n' ? buf_append(&b, "\\n", 2) : buf_append_char(&b, *p))
			break;
	char *s = strdup(buf_cstr(&b));
	buf_free(&b);
	return s;
}

static char *strip_newlines(const char *pem)
{
	struct buf b = BUF_INIT;
	for (const char *p = pem; *p; p++)
		if (*p != '\n' && buf_append_char(&b, *p))
			break;
	char *s = strdup(buf_cstr(&b));
	buf_free(&b);
	return s;
}

static void test_load_mangled(void)
{
	const char *pem = vec_str("client_private_key_pkcs8_pem", NULL);
	char err[128] = "";
	crypto_pkey *ref = load_text(pem, err, sizeof err);
	char *escaped = escape_newlines(pem);
	char *oneline = strip_newlines(pem);
	CHECK(escaped && strstr(escaped, "\\n") && !strchr(escaped, '\n'));
	CHECK(oneline && !strchr(oneline, '\n'));

	crypto_pkey *k = load_text(escaped, err, sizeof err);
	CHECK(k && ref && same_key(k, ref));
	crypto_pkey_free(k);
	k = load_text(oneline, err, sizeof err);
	CHECK(k && ref && same_key(k, ref));
	crypto_pkey_free(k);

	/* PKCS#1, escaped with \r\n pairs as Windows editors leave them. */
	size_t len = 0;
	char *p1 = harness_read_file("tests/vectors/client-test-key-pkcs1.pem", &len);
	struct buf crlf = BUF_INIT;
	for (size_t i = 0; p1 && i < len; i++)
		if (p1[i] == '\n' ? buf_append(&crlf, "\\r\\n", 4) : buf_append_char(&crlf, p1[i]))
			break;
	k = load_text(buf_cstr(&crlf), err, sizeof err);
	CHECK(k && ref && same_key(k, ref));
	crypto_pkey_free(k);
	char *p1line = p1 ? strip_newlines(p1) : NULL;
	k = p1line ? load_text(p1line, err, sizeof err) : NULL;
	CHECK(k && ref && same_key(k, ref));
	crypto_pkey_free(k);

	buf_free(&crlf);
	free(p1);
	free(p1line);
	free(escaped);
	free(oneline);
	crypto_pkey_free(ref);
}

static bool refused(crypto_pkey *k, const char *err)
{
	bool ok = k == NULL && err[0] != '\0' && strstr(err, "MII") == NULL;
	crypto_pkey_free(k);
	return ok;
}

static void test_load_refusals(void)
{
	char err[128];

	err[0] = '\0';
	CHECK(refused(load_text("not a key at all", err, sizeof err), err));
	err[0] = '\0';
	CHECK(refused(load_text("-----BEGIN PRIVATE KEY-----\nMIIBogus\n-----END PRIVATE KEY-----\n",
		err, sizeof err), err));
	err[0] = '\0';
	CHECK(refused(load_text("-----BEGIN PRIVATE KEY-----\nMIIEvQ==", err, sizeof err), err));
	err[0] = '\0';
	CHECK(refused(crypto_private_key_load("", 0, err, sizeof err), err));
	err[0] = '\0';
	CHECK(refused(load_text(vec_str("client_public_key_spki_pem", NULL), err, sizeof err), err));
	err[0] = '\0';
	CHECK(refused(load_file("tests/vectors/test-ec-p256-key.pem", err, sizeof err), err));
	CHECK(strstr(err, "RSA") != NULL);
	err[0] = '\0';
	CHECK(refused(load_file("tests/vectors/test-rsa1024-key.pem", err, sizeof err), err));
	CHECK(strstr(err, "2048") != NULL);
	/* A NULL or zero-length error buffer is allowed. */
	CHECK(crypto_private_key_load("junk", 4, NULL, 0) == NULL);
}

static void pkce_check(const char *verifier, const char *challenge)
{
	uint8_t d[32];
	struct buf b = BUF_INIT;
	CHECK(crypto_sha256(verifier, strlen(verifier), d) == 0);
	CHECK(b64url_encode(d, sizeof d, &b) == 0);
	CHECK_STR(buf_cstr(&b), challenge);
	buf_free(&b);
}

static void test_pkce(void)
{
	/* RFC 7636 Appendix B. */
	pkce_check("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
		"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
	pkce_check(vec_str("pkce", "code_verifier"), vec_str("pkce", "code_challenge"));
}

static void test_sha256_failure(void)
{
	uint8_t d[32];
	memset(d, 0xaa, sizeof d);
	CHECK(crypto_sha256(NULL, 1, d) == -1);
	CHECK(d[0] == 0 && d[31] == 0); /* nothing stale handed back */
	CHECK(crypto_sha256(NULL, 0, d) == 0); /* the empty string */
}

/* In a child without OpenSSL algorithms. */
static void no_crypto_sha256(void)
{
	uint8_t d[32];
	memset(d, 0xaa, sizeof d);
	CHECK(crypto_sha256("abc", 3, d) == -1);
	CHECK(d[0] == 0 && d[31] == 0);
}

static void test_sha256_unavailable(void)
{
	NO_CRYPTO_RUN(no_crypto_sha256);
}

static void test_hmac_rfc4231(void)
{
	uint8_t key[20], mac[64];
	char hex[129];
	size_t n = 0;
	memset(key, 0x0b, sizeof key);
	CHECK(crypto_hmac(CRYPTO_SHA256, key, sizeof key, "Hi There", 8, mac, &n) == 0);
	CHECK_INT(n, 32);
	hex_of(mac, n, hex);
	CHECK_STR(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	CHECK(crypto_hmac(CRYPTO_SHA384, key, sizeof key, "Hi There", 8, mac, &n) == 0);
	CHECK_INT(n, 48);
	hex_of(mac, n, hex);
	CHECK_STR(hex, "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c"
		"faea9ea9076ede7f4af152e8b2fa9cb6");
	CHECK(crypto_hmac(CRYPTO_SHA512, key, sizeof key, "Hi There", 8, mac, &n) == 0);
	CHECK_INT(n, 64);
	hex_of(mac, n, hex);
	CHECK_STR(hex, "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde"
		"daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854");
	/* An empty key is legal HMAC. */
	CHECK(crypto_hmac(CRYPTO_SHA256, "", 0, "x", 1, mac, &n) == 0);

	/* A prepared key gives the same MACs, use after use (each use starts
	 * from the keyed state, never from the previous message). */
	crypto_hmac_key *k = crypto_hmac_key_new(CRYPTO_SHA256, key, sizeof key);
	CHECK(k != NULL);
	for (int i = 0; i < 3; i++) {
		n = 0;
		CHECK(crypto_hmac_keyed(k, "Hi There", 8, mac, &n) == 0);
		CHECK_INT(n, 32);
		hex_of(mac, n, hex);
		CHECK_STR(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
	}
	/* RFC 4231 test case 2: key "Jefe" */
	crypto_hmac_key *jefe = crypto_hmac_key_new(CRYPTO_SHA256, "Jefe", 4);
	CHECK(crypto_hmac_keyed(jefe, "what do ya want for nothing?", 28, mac, &n) == 0);
	hex_of(mac, n, hex);
	CHECK_STR(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	crypto_hmac_key_free(jefe);
	crypto_hmac_key_free(k);
	crypto_hmac_key_free(NULL);
	CHECK(crypto_hmac_key_new(CRYPTO_SHA256, key, 0) == NULL);
	CHECK(crypto_hmac_keyed(NULL, "x", 1, mac, &n) == -1);
}

static void test_hkdf_rfc5869(void)
{
	uint8_t ikm[22], salt[13], info[10], okm[42];
	char hex[85];
	memset(ikm, 0x0b, sizeof ikm);
	for (size_t i = 0; i < sizeof salt; i++)
		salt[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof info; i++)
		info[i] = (uint8_t)(0xf0 + i);
	CHECK(crypto_hkdf_sha256(ikm, sizeof ikm, salt, sizeof salt, info, sizeof info,
		okm, sizeof okm) == 0);
	hex_of(okm, sizeof okm, hex);
	CHECK_STR(hex, "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
		"34007208d5b887185865");
	CHECK(crypto_hkdf_sha256(ikm, sizeof ikm, NULL, 0, NULL, 0, okm, 0) == -1);
}

static void test_aes_gcm(void)
{
	uint8_t key[32], iv[12], tag[16];
	struct buf ct = BUF_INIT, pt = BUF_INIT;
	const char *msg = "attack at dawn";
	CHECK(crypto_random(key, sizeof key) == 0);
	CHECK(crypto_random(iv, sizeof iv) == 0);

	for (size_t klen = 16; klen <= 32; klen += 8) {
		buf_reset(&ct);
		buf_reset(&pt);
		CHECK(crypto_aes_gcm_encrypt(key, klen, iv, 12, (const uint8_t *)"aad", 3,
			(const uint8_t *)msg, strlen(msg), &ct, tag) == 0);
		CHECK_INT(ct.len, strlen(msg));
		CHECK(crypto_aes_gcm_decrypt(key, klen, iv, 12, (const uint8_t *)"aad", 3,
			(const uint8_t *)ct.data, ct.len, tag, 16, &pt) == 0);
		CHECK_STR(buf_cstr(&pt), msg);
	}
	/* Flipped tag, AAD, ciphertext, or a short tag: refused, nothing appended. */
	buf_reset(&pt);
	tag[0] ^= 1;
	CHECK(crypto_aes_gcm_decrypt(key, 32, iv, 12, (const uint8_t *)"aad", 3,
		(const uint8_t *)ct.data, ct.len, tag, 16, &pt) == -1);
	tag[0] ^= 1;
	CHECK(crypto_aes_gcm_decrypt(key, 32, iv, 12, (const uint8_t *)"aaD", 3,
		(const uint8_t *)ct.data, ct.len, tag, 16, &pt) == -1);
	ct.data[0] ^= 1;
	CHECK(crypto_aes_gcm_decrypt(key, 32, iv, 12, (const uint8_t *)"aad", 3,
		(const uint8_t *)ct.data, ct.len, tag, 16, &pt) == -1);
	ct.data[0] ^= 1;
	CHECK(crypto_aes_gcm_decrypt(key, 32, iv, 12, (const uint8_t *)"aad", 3,
		(const uint8_t *)ct.data, ct.len, tag, 12, &pt) == -1);
	CHECK_INT(pt.len, 0);
	/* Key and IV sizes outside the contract. */
	CHECK(crypto_aes_gcm_encrypt(key, 20, iv, 12, NULL, 0, (const uint8_t *)"x", 1, &ct, tag) == -1);
	CHECK(crypto_aes_gcm_encrypt(key, 16, iv, 16, NULL, 0, (const uint8_t *)"x", 1, &ct, tag) == -1);
	/* Empty plaintext and no AAD still authenticate. */
	buf_reset(&ct);
	CHECK(crypto_aes_gcm_encrypt(key, 16, iv, 12, NULL, 0, NULL, 0, &ct, tag) == 0);
	CHECK(crypto_aes_gcm_decrypt(key, 16, iv, 12, NULL, 0, NULL, 0, tag, 16, &pt) == 0);
	CHECK_INT(pt.len, 0);
	/* Empty plaintext with AAD (a JWE of an empty payload): nothing is
	 * appended; the AAD's length once counted as plaintext, past the
	 * buffer's end. */
	CHECK(crypto_aes_gcm_encrypt(key, 32, iv, 12, (const uint8_t *)"header-aad", 10, NULL, 0,
		&ct, tag) == 0);
	CHECK(crypto_aes_gcm_decrypt(key, 32, iv, 12, (const uint8_t *)"header-aad", 10, NULL, 0,
		tag, 16, &pt) == 0);
	CHECK_INT(pt.len, 0);
	buf_free(&ct);
	buf_free(&pt);
}

static void test_key_unwrap_rfc3394(void)
{
	/* RFC 3394 §4.1: 128-bit key data with a 128-bit KEK. */
	static const uint8_t kek[16] = { 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
		0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f };
	uint8_t wrapped[24] = { 0x1f, 0xa6, 0x8b, 0x0a, 0x81, 0x12, 0xb4, 0x47, 0xae, 0xf3,
		0x4b, 0xd8, 0xfb, 0x5a, 0x7b, 0x82, 0x9d, 0x3e, 0x86, 0x23, 0x71, 0xd2,
		0xcf, 0xe5 };
	struct buf out = BUF_INIT;
	char hex[33];
	CHECK(crypto_aes_key_unwrap(kek, 16, wrapped, sizeof wrapped, &out) == 0);
	CHECK_INT(out.len, 16);
	if (out.len == 16) {
		hex_of((const uint8_t *)out.data, 16, hex);
		CHECK_STR(hex, "00112233445566778899aabbccddeeff");
	}
	buf_reset(&out);
	wrapped[5] ^= 0x40;
	CHECK(crypto_aes_key_unwrap(kek, 16, wrapped, sizeof wrapped, &out) == -1);
	CHECK(crypto_aes_key_unwrap(kek, 16, wrapped, 20, &out) == -1);
	CHECK(crypto_aes_key_unwrap(kek, 15, wrapped, 24, &out) == -1);
	CHECK_INT(out.len, 0);
	buf_free(&out);
}

static void test_random_and_compare(void)
{
	uint8_t a[32] = {0}, b[32] = {0}, z[32] = {0};
	CHECK(crypto_random(a, sizeof a) == 0);
	CHECK(crypto_random(b, sizeof b) == 0);
	CHECK(!crypto_ct_equal(a, b, sizeof a));
	CHECK(!crypto_ct_equal(a, z, sizeof a));
	CHECK(crypto_ct_equal(a, a, sizeof a));
	CHECK(crypto_ct_equal(a, b, 0));
}

/* The random pool: draws never repeat, a refill boundary is crossed, large
 * draws bypass it, and a forked child does not hand out the parent's bytes. */
static void test_random_pool(void)
{
	uint8_t seen[64][32];
	bool drawn = true, distinct = true;
	for (int i = 0; i < 64; i++) { /* 2 KB: crosses several refills */
		drawn &= crypto_random(seen[i], 32) == 0;
		for (int j = 0; j < i; j++)
			distinct &= !crypto_ct_equal(seen[i], seen[j], 32);
	}
	CHECK(drawn);
	CHECK(distinct);
	uint8_t odd[13], large[1000], zero[1000] = {0};
	CHECK(crypto_random(odd, sizeof odd) == 0);
	CHECK(crypto_random(large, sizeof large) == 0);
	CHECK(!crypto_ct_equal(large, zero, sizeof large));

	/* the parent draws after the fork what the child drew: must differ */
	int fds[2];
	CHECK(pipe(fds) == 0);
	uint8_t warm[8];
	CHECK(crypto_random(warm, sizeof warm) == 0); /* the pool holds unread bytes */
	pid_t pid = fork();
	CHECK(pid >= 0);
	if (pid == 0) {
		uint8_t child[32];
		ssize_t w = crypto_random(child, sizeof child) == 0 ? write(fds[1], child, sizeof child) : -1;
		_exit(w == (ssize_t)sizeof child ? 0 : 1);
	}
	uint8_t parent[32], child[32];
	CHECK(crypto_random(parent, sizeof parent) == 0);
	CHECK(read(fds[0], child, sizeof child) == (ssize_t)sizeof child);
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
	CHECK(!crypto_ct_equal(parent, child, sizeof parent));
	close(fds[0]);
	close(fds[1]);
}

static void test_sign_verify(void)
{
	char err[128] = "";
	crypto_pkey *k = load_file("tests/vectors/test-signing-key.pem", err, sizeof err);
	struct buf sig = BUF_INIT;
	CHECK(k != NULL);
	CHECK(crypto_rsa_sign_sha256(k, "payload", 7, &sig) == 0);
	CHECK_INT(sig.len, 256);
	CHECK(crypto_rsa_verify_sha256(k, "payload", 7, (const uint8_t *)sig.data, sig.len) == 0);
	CHECK(crypto_rsa_verify_sha256(k, "paylaod", 7, (const uint8_t *)sig.data, sig.len) == -1);
	CHECK(crypto_rsa_verify_sha256(k, "payload", 7, (const uint8_t *)sig.data, sig.len - 1) == -1);
	sig.data[10] ^= 1;
	CHECK(crypto_rsa_verify_sha256(k, "payload", 7, (const uint8_t *)sig.data, sig.len) == -1);
	CHECK(crypto_rsa_verify_sha256(NULL, "payload", 7, (const uint8_t *)sig.data, sig.len) == -1);
	buf_free(&sig);
	crypto_pkey_free(k);
	crypto_pkey_free(NULL);
	CHECK_INT(crypto_pkey_bits(NULL), 0);
}

static void test_public_from_ne(void)
{
	uint8_t n[256], e[3] = { 1, 0, 1 };
	crypto_random(n, sizeof n);
	n[0] |= 0x80;
	n[255] |= 1;
	crypto_pkey *k = crypto_rsa_public_from_ne(n, sizeof n, e, sizeof e);
	CHECK(k != NULL);
	CHECK_INT(crypto_pkey_bits(k), 2048);
	crypto_pkey_free(k);
	uint8_t even_e[1] = { 4 };
	CHECK(crypto_rsa_public_from_ne(n, sizeof n, even_e, 1) == NULL);
	CHECK(crypto_rsa_public_from_ne(n, 0, e, sizeof e) == NULL);
}

int main(int argc, char **argv)
{
	NO_CRYPTO_CHILD(argc, argv, "test_crypto", no_crypto_sha256);
	size_t len = 0;
	char *data = harness_read_file(VECTORS, &len);
	vectors = data ? json_parse(data, len, 1 << 20) : NULL;
	free(data);
	CHECK(vectors != NULL);
	if (!vectors)
		return harness_report("test_crypto");
	RUN(test_load_pkcs8);
	RUN(test_load_pkcs1);
	RUN(test_load_mangled);
	RUN(test_load_refusals);
	RUN(test_pkce);
	RUN(test_sha256_failure);
	RUN(test_sha256_unavailable);
	RUN(test_hmac_rfc4231);
	RUN(test_hkdf_rfc5869);
	RUN(test_aes_gcm);
	RUN(test_key_unwrap_rfc3394);
	RUN(test_random_and_compare);
	RUN(test_random_pool);
	RUN(test_sign_verify);
	RUN(test_public_from_ne);
	json_free(vectors);
	return harness_report("test_crypto");
}
