/* crypto: the only OpenSSL user. Randomness, hashes, MACs, key loading and
 * the ciphers JOSE and session encryption need. Every function returns 0
 * on success and -1 on failure unless stated. */
#ifndef SGID_CRYPTO_H
#define SGID_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/* CSPRNG (RAND_bytes). */
int crypto_random(void *out, size_t len);
/* Constant-time equality of two equal-length buffers (CRYPTO_memcmp). */
bool crypto_ct_equal(const void *a, const void *b, size_t len);

/* SHA-256; -1 (out zeroed, not a digest) on failure or NULL data with len > 0. */
int crypto_sha256(const void *data, size_t len, uint8_t out[32]);
enum crypto_md { CRYPTO_SHA1, CRYPTO_SHA256, CRYPTO_SHA384, CRYPTO_SHA512 };
/* HMAC with the given digest; *out_len receives the MAC length. */
int crypto_hmac(enum crypto_md md, const void *key, size_t key_len,
	const void *data, size_t len, uint8_t out[64], size_t *out_len);
/* An HMAC key prepared once (its padded blocks hashed), for a key that
 * authenticates something on every request. NULL on failure or empty key. */
typedef struct crypto_hmac_key crypto_hmac_key;
crypto_hmac_key *crypto_hmac_key_new(enum crypto_md md, const void *key, size_t key_len);
int crypto_hmac_keyed(const crypto_hmac_key *k, const void *data, size_t len,
	uint8_t out[64], size_t *out_len);
void crypto_hmac_key_free(crypto_hmac_key *k);   /* wipes; NULL is fine */
/* HKDF-SHA256 (RFC 5869). */
int crypto_hkdf_sha256(const void *ikm, size_t ikm_len, const void *salt, size_t salt_len,
	const void *info, size_t info_len, uint8_t *out, size_t out_len);

/* RSA keys. */
typedef struct crypto_pkey crypto_pkey;
/* Loads an RSA private key from PEM, PKCS#1 or PKCS#8. Accepts literal
 * "\n" sequences and a PEM squeezed onto one line (re-wrapped at 64).
 * Refuses non-RSA keys and RSA under 2048 bits. On failure writes a reason
 * (never key material) to err. */
crypto_pkey *crypto_private_key_load(const char *pem, size_t len, char *err, size_t err_len);
/* Public RSA key from big-endian modulus and exponent (a JWK's n and e). */
crypto_pkey *crypto_rsa_public_from_ne(const uint8_t *n, size_t n_len, const uint8_t *e, size_t e_len);
void crypto_pkey_free(crypto_pkey *k); /* NULL ok */
/* A copy of its own for a request thread: an RSA key shared by threads
 * makes every private operation take the key's lock and a shared blinding
 * value; each copy blinds for its own thread. NULL on failure or k NULL. */
crypto_pkey *crypto_pkey_dup(const crypto_pkey *k);
int crypto_pkey_bits(const crypto_pkey *k);
/* Whether two keys have the same public half (a private key and itself
 * loaded twice, in PKCS#1 and PKCS#8, are the same). false for NULL. */
bool crypto_pkey_same_public(const crypto_pkey *a, const crypto_pkey *b);

/* RSASSA-PKCS1-v1_5 with SHA-256. 0 when the signature verifies. */
int crypto_rsa_verify_sha256(const crypto_pkey *k, const void *msg, size_t len,
	const uint8_t *sig, size_t sig_len);
/* RSASSA-PKCS1-v1_5 with SHA-256 using a private key; appends the
 * signature to sig. Used by tests and fuzz-seed generators only: the
 * service itself never signs. */
int crypto_rsa_sign_sha256(const crypto_pkey *k, const void *msg, size_t len, struct buf *sig);
/* RSA-OAEP decryption, OAEP and MGF1 digest = md (SHA1 or SHA256), no label.
 * Appends the plaintext to out. */
int crypto_rsa_oaep_decrypt(const crypto_pkey *k, enum crypto_md md,
	const uint8_t *in, size_t len, struct buf *out);

/* AES-GCM with a 12-byte IV and a 16-byte tag; key 16, 24 or 32 bytes.
 * decrypt appends plaintext and fails (-1) on a bad tag. */
int crypto_aes_gcm_decrypt(const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
	const uint8_t *aad, size_t aad_len, const uint8_t *ct, size_t ct_len,
	const uint8_t *tag, size_t tag_len, struct buf *out);
int crypto_aes_gcm_encrypt(const uint8_t *key, size_t key_len, const uint8_t *iv, size_t iv_len,
	const uint8_t *aad, size_t aad_len, const uint8_t *pt, size_t pt_len,
	struct buf *ct_out, uint8_t tag[16]);
/* AES-CBC with PKCS#7 padding; key 16, 24 or 32 bytes; IV 16 bytes. */
int crypto_aes_cbc_decrypt(const uint8_t *key, size_t key_len, const uint8_t iv[16],
	const uint8_t *ct, size_t ct_len, struct buf *out);
/* Encrypting counterparts of the two above, for JWE producers in tests,
 * fuzz seeds and the bench: the service only decrypts. wrap takes 16+
 * bytes, a multiple of 8, and appends len + 8 bytes. */
int crypto_aes_cbc_encrypt(const uint8_t *key, size_t key_len, const uint8_t iv[16],
	const uint8_t *pt, size_t pt_len, struct buf *out);
int crypto_aes_key_wrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t len,
	struct buf *out);
/* RFC 3394 AES key unwrap; kek 16, 24 or 32 bytes. */
int crypto_aes_key_unwrap(const uint8_t *kek, size_t kek_len, const uint8_t *in, size_t len,
	struct buf *out);

#endif
