/* crypto: the only OpenSSL user (OpenSSL 3 EVP APIs only). */
#include "crypto.h"

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "util.h"

#define PEM_MAX_LEN     (64 * 1024)
#define RSA_MIN_BITS    2048
#define RSA_MAX_BITS    16384
#define GCM_IV_LEN      12
#define GCM_TAG_LEN     16
#define AES_BLOCK       16

struct crypto_pkey {
	EVP_PKEY *pkey;
};

/* ---- algorithms, fetched once per process ---- */

/* OpenSSL 3 looks an algorithm up again (locks, property matching) in every
 * EVP_*Init_ex given a built-in EVP_aes_256_gcm() or EVP_sha256(); on the
 * request path that is a good part of the cost of a small operation.
 * Explicitly fetched objects are kept for the life of the process (a
 * fork shares them harmlessly: they hold no secrets). */
static const char *md_name(enum crypto_md md)
{
	switch (md) {
	case CRYPTO_SHA1: return "SHA1";
	case CRYPTO_SHA256: return "SHA256";
	case CRYPTO_SHA384: return "SHA384";
	case CRYPTO_SHA512: return "SHA512";
	}
	return NULL;
}

static const char *const aes_names[3][3] = {
	[0] = { "AES-128-GCM", "AES-192-GCM", "AES-256-GCM" },
	[1] = { "AES-128-CBC", "AES-192-CBC", "AES-256-CBC" },
	[2] = { "AES-128-WRAP", "AES-192-WRAP", "AES-256-WRAP" },
};
static EVP_MD *fetched_md[CRYPTO_SHA512 + 1];
static EVP_CIPHER *fetched_aes[3][3];
static pthread_once_t algorithms_once = PTHREAD_ONCE_INIT;

/* All of them at once, the first time any is needed: request threads then
 * only read the tables. */
static void fetch_algorithms(void)
{
	for (int md = 0; md <= CRYPTO_SHA512; md++)
		fetched_md[md] = EVP_MD_fetch(NULL, md_name((enum crypto_md)md), NULL);
	for (int m = 0; m < 3; m++)
		for (int k = 0; k < 3; k++)
			fetched_aes[m][k] = EVP_CIPHER_fetch(NULL, aes_names[m][k], NULL);
}

static const EVP_MD *md_evp(enum crypto_md md)
{
	if ((unsigned)md > CRYPTO_SHA512)
		return NULL;
	pthread_once(&algorithms_once, fetch_algorithms);
	return fetched_md[md];
}

enum aes_mode { AES_GCM, AES_CBC, AES_WRAP };

/* AES in a mode, for a 128-, 192- or 256-bit key; NULL for other lengths. */
static const EVP_CIPHER *aes(enum aes_mode mode, size_t key_len)
{
	size_t k = key_len == 16 ? 0 : key_len == 24 ? 1 : key_len == 32 ? 2 : 3;
	if (k == 3)
		return NULL;
	pthread_once(&algorithms_once, fetch_algorithms);
	return fetched_aes[mode][k];
}

/* ---- randomness, comparison, hashes ---- */

/* Small random values (ids, state, nonce, verifier, IVs: five of them per
 * /api/auth-url) are served from a pool refilled by one RAND_bytes call,
 * which costs a DRBG round and OpenSSL's fork check (a getpid) however few
 * bytes it returns. Each thread has its own pool, so no lock is taken.
 * Bytes are wiped as they are handed out, and a forked child starts with an
 * empty pool (pthread_atfork; in the child only the forking thread, whose
 * pool the handler empties, exists), so a parent and its children never
 * hand out the same bytes. */
#define RANDOM_POOL_LEN 512
#define RANDOM_POOL_MAX_DRAW 64

static _Thread_local struct {
	uint8_t bytes[RANDOM_POOL_LEN];
	size_t used;                    /* bytes[used..] are unread */
	bool primed;                    /* false in a new thread: its zeroed bytes
	                                   are not random, refill first */
} random_pool;
static pthread_once_t random_atfork_once = PTHREAD_ONCE_INIT;
static bool random_fork_safe;           /* the child handler is registered */

static void random_pool_forget(void)
{
	secure_zero(random_pool.bytes, sizeof(random_pool.bytes));
	random_pool.used = RANDOM_POOL_LEN;
}

static void random_register_atfork(void)
{
	random_fork_safe = pthread_atfork(NULL, NULL, random_pool_forget) == 0;
}

static int random_direct(uint8_t *p, size_t len)
{
	while (len > 0) {
		int n = len > INT_MAX ? INT_MAX : (int)len;
		if (RAND_bytes(p, n) != 1) {
			ERR_clear_error();
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int crypto_random(void *out, size_t len)
{
	pthread_once(&random_atfork_once, random_register_atfork);
	if (!random_fork_safe || len > RANDOM_POOL_MAX_DRAW)
		return random_direct(out, len);
	if (!random_pool.primed) {
		random_pool.used = RANDOM_POOL_LEN;
		random_pool.primed = true;
	}
	if (RANDOM_POOL_LEN - random_pool.used < len) {
		if (random_direct(random_pool.bytes, RANDOM_POOL_LEN) != 0)
			return -1;
		random_pool.used = 0;
	}
	uint8_t *src = random_pool.bytes + random_pool.used;
	memcpy(out, src, len);
	secure_zero(src, len);
	random_pool.used += len;
	return 0;
}

bool crypto_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

int crypto_sha256(const void *data, size_t len, uint8_t out[32])
{
	unsigned int n = 0;
	const EVP_MD *md = md_evp(CRYPTO_SHA256);

	/* fails on allocation or with no provider offering SHA-256 (a broken
	 * FIPS setup): callers must not use out, which holds no digest */
	if (!md || (!data && len) || EVP_Digest(data, len, out, &n, md, NULL) != 1 || n != 32) {
		memset(out, 0, 32);
		ERR_clear_error();
		return -1;
	}
	return 0;
}

/* An unkeyed HMAC context per digest, its digest set once; each call
 * duplicates it and sets the key, so no per-call digest lookup, and no key
 * outlives the call (the duplicate is freed, which wipes it). */
static const EVP_MAC_CTX *hmac_template(enum crypto_md md)
{
	static EVP_MAC_CTX *templates[CRYPTO_SHA512 + 1];
	const char *name = md_name(md);
	if (!name)
		return NULL;
	if (!templates[md]) {
		EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
		EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
		OSSL_PARAM params[2] = {
			OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)name, 0),
			OSSL_PARAM_construct_end(),
		};
		EVP_MAC_free(mac); /* the context holds its own reference */
		if (ctx && EVP_MAC_CTX_set_params(ctx, params) != 1) {
			EVP_MAC_CTX_free(ctx);
			ctx = NULL;
		}
		templates[md] = ctx;
	}
	return templates[md];
}

/* Authenticates data with a keyed context and frees it (which wipes it). */
static int hmac_finish(EVP_MAC_CTX *ctx, const void *data, size_t len, uint8_t out[64],
	size_t *out_len)
{
	int rc = ctx && EVP_MAC_update(ctx, data, len) == 1 &&
	         EVP_MAC_final(ctx, out, out_len, 64) == 1 ? 0 : -1;
	EVP_MAC_CTX_free(ctx);
	if (rc != 0)
		ERR_clear_error();
	return rc;
}

int crypto_hmac(enum crypto_md md, const void *key, size_t key_len,
	const void *data, size_t len, uint8_t out[64], size_t *out_len)
{
	static const uint8_t empty_key[1] = {0};
	const EVP_MAC_CTX *tmpl = hmac_template(md);
	EVP_MAC_CTX *ctx = tmpl ? EVP_MAC_CTX_dup(tmpl) : NULL;

	/* A NULL key means "keep the previous key" to EVP_MAC_init. */
	if (ctx && EVP_MAC_init(ctx, key_len ? key : empty_key, key_len, NULL) != 1) {
		EVP_MAC_CTX_free(ctx);
		ctx = NULL;
	}
	return hmac_finish(ctx, data, len, out, out_len);
}

struct crypto_hmac_key {
	EVP_MAC_CTX *ctx;               /* keyed, never fed: duplicated per use */
};

crypto_hmac_key *crypto_hmac_key_new(enum crypto_md md, const void *key, size_t key_len)
{
	const EVP_MAC_CTX *tmpl = hmac_template(md);
	crypto_hmac_key *k = calloc(1, sizeof(*k));
	if (!k || !tmpl || key_len == 0 || !(k->ctx = EVP_MAC_CTX_dup(tmpl)) ||
	    EVP_MAC_init(k->ctx, key, key_len, NULL) != 1) {
		ERR_clear_error();
		crypto_hmac_key_free(k);
		return NULL;
	}
	return k;
}

int crypto_hmac_keyed(const crypto_hmac_key *k, const void *data, size_t len,
	uint8_t out[64], size_t *out_len)
{
	return hmac_finish(k && k->ctx ? EVP_MAC_CTX_dup(k->ctx) : NULL, data, len, out, out_len);
}

void crypto_hmac_key_free(crypto_hmac_key *k)
{
	if (!k)
		return;
	EVP_MAC_CTX_free(k->ctx);
	free(k);
}

int crypto_hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
	const void *info, size_t info_len, uint8_t *out, size_t out_len)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[5];
	size_t n = 0;
	int rc = -1;

	if (out_len == 0 || out_len > 255 * 32)
		goto fail;
	kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	if (!kdf || !(ctx = EVP_KDF_CTX_new(kdf)))
		goto fail;
	params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)ikm, ikm_len);
	/* Absent salt and info: HKDF's defaults (zero salt, empty info). */
	if (salt_len)
		params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
			(void *)salt, salt_len);
	if (info_len)
		params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO,
			(void *)info, info_len);
	params[n] = OSSL_PARAM_construct_end();
	if (EVP_KDF_derive(ctx, out, out_len, params) != 1)
		goto fail;
	rc = 0;
fail:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	if (rc != 0) {
		ERR_clear_error();
		if (out && out_len)
			secure_zero(out, out_len);
	}
	return rc;
}

/* ---- RSA keys ---- */

static void set_err(char *err, size_t err_len, const char *msg)
{
	if (err && err_len)
		snprintf(err, err_len, "%s", msg);
}

/* Turns literal "\n" / "\r\n" escapes into newlines and drops CRs. */
static int pem_unescape(const char *pem, size_t len, struct buf *out)
{
	if (buf_reserve(out, len) != 0)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (pem[i] == '\\' && i + 1 < len && pem[i + 1] == 'r' &&
		    i + 3 < len && pem[i + 2] == '\\' && pem[i + 3] == 'n') {
			out->data[out->len++] = '\n';
			i += 3;
		} else if (pem[i] == '\\' && i + 1 < len && pem[i + 1] == 'n') {
			out->data[out->len++] = '\n';
			i += 1;
		} else if (pem[i] != '\r') {
			out->data[out->len++] = pem[i];
		}
	}
	out->data[out->len] = '\0';
	return 0;
}

static const char *find_str(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; n <= len && i <= len - n; i++)
		if (memcmp(s + i, needle, n) == 0)
			return s + i;
	return NULL;
}

static bool is_b64_char(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		(c >= '0' && c <= '9') || c == '+' || c == '/' || c == '=';
}

/* Rebuilds a canonical PEM (header, 64-column body, footer) from text whose
 * line breaks may be missing. Only unencrypted PKCS#8 and PKCS#1 labels. */
static int pem_rewrap(const char *text, size_t len, struct buf *out, const char **why)
{
	static const char *const labels[] = { "RSA PRIVATE KEY", "PRIVATE KEY" };
	const char *label = NULL, *body = NULL, *end = NULL;
	char footer[64];
	size_t col = 0;

	for (size_t i = 0; i < ARRAY_LEN(labels) && !label; i++) {
		char header[64];
		snprintf(header, sizeof header, "-----BEGIN %s-----", labels[i]);
		const char *h = find_str(text, len, header);
		if (h) {
			label = labels[i];
			body = h + strlen(header);
		}
	}
	if (!label) {
		*why = find_str(text, len, "-----BEGIN ") ?
			"unsupported PEM type (need PRIVATE KEY or RSA PRIVATE KEY, unencrypted)" :
			"no PEM header found";
		return -1;
	}
	snprintf(footer, sizeof footer, "-----END %s-----", label);
	end = find_str(body, len - (size_t)(body - text), footer);
	if (!end) {
		*why = "PEM footer missing";
		return -1;
	}
	/* Room for everything up front: a realloc would leave key bytes behind. */
	if (buf_reserve(out, len + len / 64 + 2 * sizeof footer + 8) != 0 ||
	    buf_printf(out, "-----BEGIN %s-----\n", label) != 0)
		goto nomem;
	for (const char *p = body; p < end; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\n')
			continue;
		if (!is_b64_char(*p)) {
			*why = "PEM body is not base64 (encrypted keys are not supported)";
			return -1;
		}
		if (buf_append_char(out, *p) != 0)
			goto nomem;
		if (++col == 64) {
			if (buf_append_char(out, '\n') != 0)
				goto nomem;
			col = 0;
		}
	}
	if ((col && buf_append_char(out, '\n') != 0) ||
	    buf_printf(out, "%s\n", footer) != 0)
		goto nomem;
	return 0;
nomem:
	*why = "out of memory";
	return -1;
}

/* Never prompt on a terminal for a passphrase. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return -1;
}

crypto_pkey *crypto_private_key_load(const char *pem, size_t len, char *err, size_t err_len)
{
	struct buf text = BUF_INIT, canon = BUF_INIT;
	const char *why = "cannot parse the private key";
	crypto_pkey *k = NULL;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;

	if (!pem || len == 0 || len > PEM_MAX_LEN) {
		why = len ? "private key too long" : "private key empty";
		goto fail;
	}
	if (pem_unescape(pem, len, &text) != 0) {
		why = "out of memory";
		goto fail;
	}
	if (pem_rewrap(text.data, text.len, &canon, &why) != 0)
		goto fail;
	bio = BIO_new_mem_buf(canon.data, (int)canon.len);
	if (!bio)
		goto fail;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL);
	if (!pkey)
		goto fail;
	if (!EVP_PKEY_is_a(pkey, "RSA")) {
		why = "private key is not an RSA key";
		goto fail;
	}
	if (EVP_PKEY_get_bits(pkey) < RSA_MIN_BITS || EVP_PKEY_get_bits(pkey) > RSA_MAX_BITS) {
		why = "RSA private key must be 2048 to 16384 bits";
		goto fail;
	}
	k = calloc(1, sizeof *k);
	if (!k) {
		why = "out of memory";
		goto fail;
	}
	k->pkey = pkey;
	pkey = NULL;
	why = NULL;
fail:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	buf_free(&text);
	buf_free(&canon);
	ERR_clear_error();
	if (why)
		set_err(err, err_len, why);
	return k;
}

crypto_pkey *crypto_rsa_public_from_ne(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len)
{
	OSSL_PARAM_BLD *bld = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	crypto_pkey *k = NULL;

	if (!n || !e || n_len == 0 || e_len == 0 || n_len > RSA_MAX_BITS / 8 || e_len > 8)
		goto fail;
	bn_n = BN_bin2bn(n, (int)n_len, NULL);
	bn_e = BN_bin2bn(e, (int)e_len, NULL);
	if (!bn_n || !bn_e)
		goto fail;
	/* An even or trivial exponent is never a valid RSA public key. */
	if (!BN_is_odd(bn_e) || BN_is_one(bn_e) || !BN_is_odd(bn_n))
		goto fail;
	bld = OSSL_PARAM_BLD_new();
	if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) ||
	    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e))
		goto fail;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto fail;
	k = calloc(1, sizeof *k);
	if (!k)
		goto fail;
	k->pkey = pkey;
	pkey = NULL;
fail:
	EVP_PKEY_free(pkey);
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	ERR_clear_error();
	return k;
}

crypto_pkey *crypto_pkey_dup(const crypto_pkey *k)
{
	if (!k || !k->pkey)
		return NULL;
	crypto_pkey *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	if (!(d->pkey = EVP_PKEY_dup(k->pkey))) {
		ERR_clear_error();
		free(d);
		return NULL;
	}
	return d;
}

void crypto_pkey_free(crypto_pkey *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

int crypto_pkey_bits(const crypto_pkey *k)
{
	return k && k->pkey ? EVP_PKEY_get_bits(k->pkey) : 0;
}

bool crypto_pkey_same_public(const crypto_pkey *a, const crypto_pkey *b)
{
	if (!a || !b || !a->pkey || !b->pkey)
		return false;
	/* EVP_PKEY_eq compares the public components only */
	bool same = EVP_PKEY_eq(a->pkey, b->pkey) == 1;
	ERR_clear_error();
	return same;
}

int crypto_rsa_verify_sha256(const crypto_pkey *k, const void *msg, size_t len,
	const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX *md = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	int rc = -1;

	if (!k || !k->pkey || !sig || sig_len != (size_t)EVP_PKEY_get_size(k->pkey))
		goto fail;
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestVerifyInit_ex(md, &pctx, "SHA256", NULL, NULL, k->pkey, NULL) != 1)
		goto fail;
	if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto fail;
	if (EVP_DigestVerify(md, sig, sig_len, msg, len) != 1)
		goto fail;
	rc = 0;
fail:
	EVP_MD_CTX_free(md); /* also frees pctx */
	ERR_clear_error();
	return rc;
}

int crypto_rsa_sign_sha256(const crypto_pkey *k, const void *msg, size_t len, struct buf *sig)
{
	EVP_MD_CTX *md = NULL;
	EVP_PKEY_CTX *pctx = NULL;
	size_t n = 0;
	int rc = -1;

	if (!k || !k->pkey)
		goto fail;
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit_ex(md, &pctx, "SHA256", NULL, NULL, k->pkey, NULL) != 1)
		goto fail;
	if (EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		goto fail;
	if (EVP_DigestSign(md, NULL, &n, msg, len) != 1 || buf_reserve(sig, n) != 0)
		goto fail;
	if (EVP_DigestSign(md, (unsigned char *)sig->data + sig->len, &n, msg, len) != 1)
		goto fail;
	sig->len += n;
	sig->data[sig->len] = '\0';
	rc = 0;
fail:
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return rc;
}

int crypto_rsa_oaep_decrypt(const crypto_pkey *k, enum crypto_md md,
	const uint8_t *in, size_t len, struct buf *out)
{
	EVP_PKEY_CTX *ctx = NULL;
	const EVP_MD *evp = md_evp(md);
	size_t n = 0;
	int rc = -1;

	if (!k || !k->pkey || !evp || (md != CRYPTO_SHA1 && md != CRYPTO_SHA256))
		goto fail;
	if (!EVP_PKEY_is_a(k->pkey, "RSA") || len != (size_t)EVP_PKEY_get_size(k->pkey))
		goto fail;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL);
	if (!ctx || EVP_PKEY_decrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md(ctx, evp) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md(ctx, evp) != 1)
		goto fail;
	if (EVP_PKEY_decrypt(ctx, NULL, &n, in, len) != 1 || buf_reserve(out, n) != 0)
		goto fail;
	/* Write straight into out so the CEK has no other copy to wipe. */
	if (EVP_PKEY_decrypt(ctx, (unsigned char *)out->data + out->len, &n, in, len) != 1) {
		secure_zero(out->data + out->len, n);
		goto fail;
	}
	out->len += n;
	out->data[out->len] = '\0';
	rc = 0;
fail:
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/* ---- AES ---- */

/* EVP lengths are ints. */
static bool len_ok(size_t len)
{
	return len <= (size_t)INT_MAX - 64;
}

int crypto_aes_gcm_decrypt(const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
	const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
	const uint8_t *tag, size_t tag_len, struct buf *out)
{
	const EVP_CIPHER *c = aes(AES_GCM, key_len);
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *dst = NULL;
	int n = 0, fin = 0, rc = -1;

	if (!c || iv_len != GCM_IV_LEN || tag_len != GCM_TAG_LEN || !len_ok(ct_len) || !len_ok(aad_len))
		goto fail;
	if (buf_reserve(out, ct_len + AES_BLOCK) != 0)
		goto fail;
	dst = (unsigned char *)out->data + out->len;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_DecryptInit_ex(ctx, c, NULL, key, iv) != 1)
		goto fail;
	if (aad_len && EVP_DecryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
		goto fail;
	n = 0; /* the AAD update set it: an empty ciphertext must not count it */
	if (ct_len && EVP_DecryptUpdate(ctx, dst, &n, ct, (int)ct_len) != 1)
		goto fail;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, GCM_TAG_LEN, (void *)tag) != 1)
		goto fail;
	/* A failed final is an authentication failure: wipe what was written. */
	if (EVP_DecryptFinal_ex(ctx, dst + n, &fin) != 1)
		goto fail;
	out->len += (size_t)n + (size_t)fin;
	out->data[out->len] = '\0';
	rc = 0;
fail:
	if (rc != 0 && dst)
		secure_zero(dst, ct_len + AES_BLOCK);
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int crypto_aes_gcm_encrypt(const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
	const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
	struct buf *ct_out, uint8_t tag[16])
{
	const EVP_CIPHER *c = aes(AES_GCM, key_len);
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *dst = NULL;
	int n = 0, fin = 0, rc = -1;

	if (!c || iv_len != GCM_IV_LEN || !len_ok(pt_len) || !len_ok(aad_len))
		goto fail;
	if (buf_reserve(ct_out, pt_len + AES_BLOCK) != 0)
		goto fail;
	dst = (unsigned char *)ct_out->data + ct_out->len;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx || EVP_EncryptInit_ex(ctx, c, NULL, key, iv) != 1)
		goto fail;
	if (aad_len && EVP_EncryptUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
		goto fail;
	n = 0;
	if (pt_len && EVP_EncryptUpdate(ctx, dst, &n, pt, (int)pt_len) != 1)
		goto fail;
	if (EVP_EncryptFinal_ex(ctx, dst + n, &fin) != 1)
		goto fail;
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, GCM_TAG_LEN, tag) != 1)
		goto fail;
	ct_out->len += (size_t)n + (size_t)fin;
	ct_out->data[ct_out->len] = '\0';
	rc = 0;
fail:
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

/* One AES pass (CBC or key wrap) over in[0..len), appended to out: want
 * bytes exactly when want > 0. A failure (a bad padding or integrity
 * value, for decryption) wipes what was written and appends nothing. */
static int aes_pass(const EVP_CIPHER *c, int encrypt, const uint8_t *key, const uint8_t *iv,
	const uint8_t *in, size_t len, size_t want, struct buf *out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *dst = NULL;
	int n = 0, fin = 0, rc = -1;

	if (!c || !len_ok(len) || buf_reserve(out, len + 2 * AES_BLOCK) != 0)
		goto fail;
	dst = (unsigned char *)out->data + out->len;
	ctx = EVP_CIPHER_CTX_new();
	if (!ctx)
		goto fail;
	if (EVP_CIPHER_get_mode(c) == EVP_CIPH_WRAP_MODE)
		EVP_CIPHER_CTX_set_flags(ctx, EVP_CIPHER_CTX_FLAG_WRAP_ALLOW);
	if (EVP_CipherInit_ex(ctx, c, NULL, key, iv, encrypt) != 1 ||
	    (len && EVP_CipherUpdate(ctx, dst, &n, in, (int)len) != 1) ||
	    EVP_CipherFinal_ex(ctx, dst + n, &fin) != 1)
		goto fail;
	size_t got = (size_t)n + (size_t)fin;
	if (want && got != want)
		goto fail;
	out->len += got;
	out->data[out->len] = '\0';
	rc = 0;
fail:
	if (rc != 0 && dst)
		secure_zero(dst, len + 2 * AES_BLOCK);
	EVP_CIPHER_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}

int crypto_aes_cbc_decrypt(const uint8_t *key, size_t key_len, const uint8_t iv[16],
	const uint8_t *ct, size_t ct_len, struct buf *out)
{
	if (ct_len == 0 || ct_len % AES_BLOCK != 0)
		return -1;
	return aes_pass(aes(AES_CBC, key_len), 0, key, iv, ct, ct_len, 0, out);
}

/* The encrypting counterparts of CBC and key unwrap: JWE producers in tests,
 * fuzz seeds and the bench (the service itself only decrypts). */
int crypto_aes_cbc_encrypt(const uint8_t *key, size_t key_len, const uint8_t iv[16],
	const uint8_t *pt, size_t pt_len, struct buf *out)
{
	return aes_pass(aes(AES_CBC, key_len), 1, key, iv, pt, pt_len, 0, out);
}

int crypto_aes_key_wrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t len,
	struct buf *out)
{
	if (len < 16 || len % 8 != 0)
		return -1;
	return aes_pass(aes(AES_WRAP, kek_len), 1, kek, NULL, in, len, len + 8, out);
}

int crypto_aes_key_unwrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t len,
	struct buf *out)
{
	/* RFC 3394: at least two 64-bit blocks of key data plus the IV block. */
	if (len < 24 || len % 8 != 0)
		return -1;
	return aes_pass(aes(AES_WRAP, kek_len), 0, kek, NULL, in, len, len - 8, out);
}
