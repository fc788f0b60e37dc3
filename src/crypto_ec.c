/* crypto_ec: P-256 keys, ES256 and ECDH on OpenSSL 3 EVP (the EC part of
 * the OpenSSL owner; crypto.c holds the rest). Invariant: every
 * crypto_ec_key is on P-256 and carries a valid public point: public keys
 * are checked when made, private keys are rebuilt from their scalar (so a
 * PEM whose stored public point disagrees is refused rather than used). */
#include "crypto_ec.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>

#include "util.h"

#define EC_PEM_MAX_LEN  (64 * 1024)
#define EC_GROUP_NAME   "prime256v1"
#define EC_POINT_LEN    (1 + 2 * CRYPTO_EC_COORD_LEN)   /* 04 || x || y */
#define ECDSA_DER_MAX   80                              /* 72 for P-256 */

struct crypto_ec_key {
	EVP_PKEY *pkey;
	bool has_private;
};

static void set_err(char *err, size_t err_len, const char *msg)
{
	if (err && err_len)
		snprintf(err, err_len, "%s", msg);
}

static crypto_ec_key *wrap(EVP_PKEY *pkey, bool has_private)
{
	crypto_ec_key *k = pkey ? calloc(1, sizeof(*k)) : NULL;
	if (!k) {
		EVP_PKEY_free(pkey);
		return NULL;
	}
	k->pkey = pkey;
	k->has_private = has_private;
	return k;
}

/* d*G as 04||x||y; -1 unless 1 <= d < n. */
static int public_point(const BIGNUM *d, uint8_t out[EC_POINT_LEN])
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	EC_POINT *p = g ? EC_POINT_new(g) : NULL;
	BN_CTX *bn = BN_CTX_new();
	int rc = -1;

	if (!p || !bn || BN_is_zero(d) || BN_is_negative(d) ||
	    BN_cmp(d, EC_GROUP_get0_order(g)) >= 0)
		goto fail;
	if (EC_POINT_mul(g, p, d, NULL, NULL, bn) != 1 ||
	    EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, out, EC_POINT_LEN, bn) !=
	    EC_POINT_LEN)
		goto fail;
	rc = 0;
fail:
	EC_POINT_free(p);
	EC_GROUP_free(g);
	BN_CTX_free(bn);
	return rc;
}

/* An EVP_PKEY from the point 04||x||y and, for a key pair, d. */
static EVP_PKEY *from_data(const uint8_t point[EC_POINT_LEN], const BIGNUM *d)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;

	if (!bld ||
	    !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, EC_GROUP_NAME, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, EC_POINT_LEN) ||
	    (d && !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d)))
		goto fail;
	params = OSSL_PARAM_BLD_to_param(bld);
	ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, d ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1)
		goto fail;
fail:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params); /* a secure d sits in a block this clears */
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/* The key pair of scalar d. The scalar is copied to a secure BIGNUM first:
 * OSSL_PARAM_BLD then keeps it in a block that is wiped when freed. */
static crypto_ec_key *keypair_from_bn(const BIGNUM *d)
{
	uint8_t point[EC_POINT_LEN];
	BIGNUM *sd = BN_secure_new();
	crypto_ec_key *k = NULL;

	if (sd && BN_copy(sd, d) && public_point(sd, point) == 0)
		k = wrap(from_data(point, sd), true);
	BN_clear_free(sd);
	ERR_clear_error();
	return k;
}

crypto_ec_key *crypto_ec_key_from_private(const uint8_t d[CRYPTO_EC_COORD_LEN])
{
	BIGNUM *bn = d ? BN_secure_new() : NULL;
	crypto_ec_key *k = NULL;

	if (bn && BN_bin2bn(d, CRYPTO_EC_COORD_LEN, bn))
		k = keypair_from_bn(bn);
	BN_clear_free(bn);
	ERR_clear_error();
	return k;
}

crypto_ec_key *crypto_ec_key_from_public(const uint8_t x[CRYPTO_EC_COORD_LEN],
	const uint8_t y[CRYPTO_EC_COORD_LEN])
{
	uint8_t point[EC_POINT_LEN];
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = NULL;

	if (!x || !y)
		return NULL;
	point[0] = POINT_CONVERSION_UNCOMPRESSED;
	memcpy(point + 1, x, CRYPTO_EC_COORD_LEN);
	memcpy(point + 1 + CRYPTO_EC_COORD_LEN, y, CRYPTO_EC_COORD_LEN);
	pkey = from_data(point, NULL);
	/* Not infinity, coordinates below p, on the curve: SP 800-56A's partial
	 * validation, which suffices on P-256 (cofactor 1: every point of the
	 * curve but infinity has order n, so the n*Q check adds nothing). */
	ctx = pkey ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
	if (!ctx || EVP_PKEY_public_check_quick(ctx) != 1) {
		EVP_PKEY_free(pkey);
		pkey = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return wrap(pkey, false);
}

crypto_ec_key *crypto_ec_key_generate(void)
{
	EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	ERR_clear_error();
	return wrap(pkey, true);
}

void crypto_ec_key_free(crypto_ec_key *k)
{
	if (!k)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

/* Never prompt on a terminal for a passphrase. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf; (void)size; (void)rwflag; (void)u;
	return -1;
}

static bool contains(const char *s, size_t len, const char *needle)
{
	size_t n = strlen(needle);
	for (size_t i = 0; n <= len && i <= len - n; i++)
		if (memcmp(s + i, needle, n) == 0)
			return true;
	return false;
}

/* Why a parsed key is not a P-256 key, or NULL when it is. */
static const char *not_p256(EVP_PKEY *pkey)
{
	char group[64];
	size_t n = 0;

	if (EVP_PKEY_is_a(pkey, "RSA") || EVP_PKEY_is_a(pkey, "RSA-PSS"))
		return "private key is RSA; an EC P-256 key is required";
	if (!EVP_PKEY_is_a(pkey, "EC"))
		return "private key is not an EC key; an EC P-256 key is required";
	if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group,
			sizeof(group), &n) != 1)
		return "EC private key has explicit curve parameters; a named P-256 key is required";
	if (strcmp(group, EC_GROUP_NAME) != 0)
		return "EC private key is not on curve P-256 (prime256v1)";
	return NULL;
}

crypto_ec_key *crypto_ec_key_load_pem(const char *pem, size_t len, char *err, size_t err_len)
{
	const char *why = "cannot parse the private key PEM";
	EVP_PKEY *pkey = NULL;
	BIGNUM *d = NULL;
	BIO *bio = NULL;
	crypto_ec_key *k = NULL;

	if (!pem || len == 0 || len > EC_PEM_MAX_LEN) {
		why = len ? "private key file too long" : "private key file empty";
		goto fail;
	}
	/* PKCS#8 "ENCRYPTED PRIVATE KEY" and a traditional PEM's Proc-Type */
	if (contains(pem, len, "ENCRYPTED PRIVATE KEY-----") || contains(pem, len, "4,ENCRYPTED")) {
		why = "encrypted private keys are not supported";
		goto fail;
	}
	if (!contains(pem, len, "PRIVATE KEY-----")) {
		why = contains(pem, len, "-----BEGIN ") ?
			"not a private key PEM (need EC PRIVATE KEY or PRIVATE KEY)" :
			"no PEM header found";
		goto fail;
	}
	bio = BIO_new_mem_buf(pem, (int)len);
	pkey = bio ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
	if (!pkey)
		goto fail;
	if ((why = not_p256(pkey)) != NULL)
		goto fail;
	why = "EC private key has no private scalar";
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1)
		goto fail;
	why = "EC private key is invalid (scalar out of range)";
	if (!(k = keypair_from_bn(d)))
		goto fail;
	/* A stored public point must be the scalar's (EVP_PKEY_eq: public parts). */
	uint8_t point[EC_POINT_LEN];
	size_t plen = 0;
	if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point),
			&plen) == 1 && EVP_PKEY_eq(pkey, k->pkey) != 1) {
		why = "EC private key's public point does not match its scalar";
		crypto_ec_key_free(k);
		k = NULL;
		goto fail;
	}
	why = NULL;
fail:
	BN_clear_free(d);
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	ERR_clear_error();
	if (why)
		set_err(err, err_len, why);
	return k;
}

bool crypto_ec_key_has_private(const crypto_ec_key *k)
{
	return k && k->has_private;
}

static int bn_param(const crypto_ec_key *k, const char *name, uint8_t out[CRYPTO_EC_COORD_LEN])
{
	BIGNUM *bn = NULL;
	int rc = -1;

	if (k && k->pkey && EVP_PKEY_get_bn_param(k->pkey, name, &bn) == 1 &&
	    BN_bn2binpad(bn, out, CRYPTO_EC_COORD_LEN) == CRYPTO_EC_COORD_LEN)
		rc = 0;
	BN_clear_free(bn);
	ERR_clear_error();
	return rc;
}

int crypto_ec_key_public(const crypto_ec_key *k, uint8_t x[CRYPTO_EC_COORD_LEN],
	uint8_t y[CRYPTO_EC_COORD_LEN])
{
	return bn_param(k, OSSL_PKEY_PARAM_EC_PUB_X, x) == 0 &&
		bn_param(k, OSSL_PKEY_PARAM_EC_PUB_Y, y) == 0 ? 0 : -1;
}

int crypto_ec_key_private(const crypto_ec_key *k, uint8_t d[CRYPTO_EC_COORD_LEN])
{
	if (!crypto_ec_key_has_private(k))
		return -1;
	int rc = bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, d);
	if (rc != 0)
		secure_zero(d, CRYPTO_EC_COORD_LEN);
	return rc;
}

bool crypto_ec_key_same_public(const crypto_ec_key *a, const crypto_ec_key *b)
{
	if (!a || !b || !a->pkey || !b->pkey)
		return false;
	bool same = EVP_PKEY_eq(a->pkey, b->pkey) == 1;
	ERR_clear_error();
	return same;
}

int crypto_ec_key_to_pem(const crypto_ec_key *k, struct buf *out)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long n = 0;
	int rc = -1;

	if (!bio || !crypto_ec_key_has_private(k) ||
	    PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL) != 1)
		goto fail;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || buf_append(out, data, (size_t)n) != 0)
		goto fail;
	rc = 0;
fail:
	BIO_free(bio); /* a memory BIO's buffer is cleared when freed */
	ERR_clear_error();
	return rc;
}

/* ---- ES256 ---- */

int crypto_es256_sign(const crypto_ec_key *k, const void *msg, size_t len,
	uint8_t sig[CRYPTO_ES256_SIG_LEN])
{
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *es = NULL;
	const BIGNUM *r, *s;
	unsigned char der[ECDSA_DER_MAX];
	const unsigned char *p = der;
	size_t n = sizeof(der);
	int rc = -1;

	if (!crypto_ec_key_has_private(k) || (!msg && len))
		goto fail;
	md = EVP_MD_CTX_new();
	if (!md || EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, k->pkey, NULL) != 1 ||
	    EVP_DigestSign(md, der, &n, msg, len) != 1)
		goto fail;
	/* OpenSSL gives DER; JOSE wants R and S as two fixed 32-byte integers. */
	if (!(es = d2i_ECDSA_SIG(NULL, &p, (long)n)))
		goto fail;
	ECDSA_SIG_get0(es, &r, &s);
	if (BN_bn2binpad(r, sig, 32) != 32 || BN_bn2binpad(s, sig + 32, 32) != 32)
		goto fail;
	rc = 0;
fail:
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return rc;
}

int crypto_es256_verify(const crypto_ec_key *k, const void *msg, size_t len,
	const uint8_t *sig, size_t sig_len)
{
	EVP_MD_CTX *md = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *der = NULL;
	int der_len, rc = -1;

	if (!k || !k->pkey || !sig || sig_len != CRYPTO_ES256_SIG_LEN || (!msg && len))
		goto fail;
	r = BN_bin2bn(sig, 32, NULL);
	s = BN_bin2bn(sig + 32, 32, NULL);
	es = ECDSA_SIG_new();
	if (!r || !s || !es || ECDSA_SIG_set0(es, r, s) != 1)
		goto fail;
	r = s = NULL; /* owned by es now */
	der_len = i2d_ECDSA_SIG(es, &der);
	md = EVP_MD_CTX_new();
	if (der_len <= 0 || !md ||
	    EVP_DigestVerifyInit_ex(md, NULL, "SHA256", NULL, NULL, k->pkey, NULL) != 1 ||
	    EVP_DigestVerify(md, der, (size_t)der_len, msg, len) != 1)
		goto fail;
	rc = 0;
fail:
	OPENSSL_free(der);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	EVP_MD_CTX_free(md);
	ERR_clear_error();
	return rc;
}

/* ---- ECDH ---- */

int crypto_ecdh_p256(const crypto_ec_key *own, const crypto_ec_key *peer,
	uint8_t z[CRYPTO_EC_COORD_LEN])
{
	EVP_PKEY_CTX *ctx = NULL;
	size_t n = CRYPTO_EC_COORD_LEN;
	int rc = -1;

	if (!crypto_ec_key_has_private(own) || !peer || !peer->pkey)
		goto fail;
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, own->pkey, NULL);
	/* No second validation of the peer (validate_peer = 0): every
	 * crypto_ec_key is a checked P-256 point from the moment it exists
	 * (crypto_ec_key_from_public checks it, the others compute it). */
	if (!ctx || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer_ex(ctx, peer->pkey, 0) != 1 ||
	    EVP_PKEY_derive(ctx, z, &n) != 1 || n != CRYPTO_EC_COORD_LEN)
		goto fail;
	rc = 0;
fail:
	if (rc != 0 && z)
		secure_zero(z, CRYPTO_EC_COORD_LEN);
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return rc;
}
