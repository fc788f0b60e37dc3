/* crypto_ec: the elliptic-curve half of the OpenSSL owner (crypto.c holds
 * the rest; both are the only OpenSSL users). NIST P-256 only, as Singpass
 * FAPI 2.0 uses it: private keys from PEM, fresh keys, JWK coordinates,
 * ES256 signatures in the JOSE form (raw R||S, not DER) and ECDH.
 * Every function returns 0 on success and -1 on failure unless stated. */
#ifndef SGID_CRYPTO_EC_H
#define SGID_CRYPTO_EC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

#define CRYPTO_EC_COORD_LEN  32   /* x, y, d and the ECDH secret on P-256 */
#define CRYPTO_ES256_SIG_LEN 64   /* R||S, 32 bytes each, big-endian */

typedef struct crypto_ec_key crypto_ec_key;

/* A P-256 private key from an unencrypted PEM (SEC1 "EC PRIVATE KEY" or
 * PKCS#8 "PRIVATE KEY"). Refuses RSA and other key types, other curves,
 * encrypted keys and anything over 64 KiB; err receives a reason (never key
 * material). */
crypto_ec_key *crypto_ec_key_load_pem(const char *pem, size_t len, char *err, size_t err_len);
/* A fresh P-256 key pair from the CSPRNG. */
crypto_ec_key *crypto_ec_key_generate(void);
/* The key pair of the private scalar d (1 <= d < n; the public point is
 * computed). NULL for an out-of-range scalar. */
crypto_ec_key *crypto_ec_key_from_private(const uint8_t d[CRYPTO_EC_COORD_LEN]);
/* A public key from JWK coordinates. NULL unless (x, y) is a point of
 * P-256 other than infinity with coordinates below p (EVP_PKEY_public_check):
 * the invalid-curve defence for a peer's ephemeral key. */
crypto_ec_key *crypto_ec_key_from_public(const uint8_t x[CRYPTO_EC_COORD_LEN],
	const uint8_t y[CRYPTO_EC_COORD_LEN]);
void crypto_ec_key_free(crypto_ec_key *k); /* NULL ok */

bool crypto_ec_key_has_private(const crypto_ec_key *k);
/* The affine coordinates, 32 bytes each, big-endian, zero-padded. */
int crypto_ec_key_public(const crypto_ec_key *k, uint8_t x[CRYPTO_EC_COORD_LEN],
	uint8_t y[CRYPTO_EC_COORD_LEN]);
/* The private scalar, 32 bytes big-endian; -1 for a public key. The caller
 * wipes it. */
int crypto_ec_key_private(const crypto_ec_key *k, uint8_t d[CRYPTO_EC_COORD_LEN]);
bool crypto_ec_key_same_public(const crypto_ec_key *a, const crypto_ec_key *b);
/* Appends the private key as unencrypted PKCS#8 PEM (for writing key files). */
int crypto_ec_key_to_pem(const crypto_ec_key *k, struct buf *out);

/* ECDSA P-256 with SHA-256, the signature as JOSE wants it (RFC 7518 §3.4). */
int crypto_es256_sign(const crypto_ec_key *k, const void *msg, size_t len,
	uint8_t sig[CRYPTO_ES256_SIG_LEN]);
/* 0 when sig is exactly 64 bytes and verifies. R or S of zero or >= n fail. */
int crypto_es256_verify(const crypto_ec_key *k, const void *msg, size_t len,
	const uint8_t *sig, size_t sig_len);

/* ECDH on P-256: z = the x-coordinate of own.d * peer. own must hold a
 * private key; peer is checked to be a valid P-256 point again. */
int crypto_ecdh_p256(const crypto_ec_key *own, const crypto_ec_key *peer,
	uint8_t z[CRYPTO_EC_COORD_LEN]);

#endif
