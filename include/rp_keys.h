/* rp_keys: the relying party's own keys for Singpass FAPI 2.0: a P-256
 * signing key (client assertions, ES256) and a P-256 encryption key (ID
 * token and userinfo JWEs, ECDH-ES+A256KW), each with an optional previous
 * key kept for rotation; the public JWKS the RP publishes; and the
 * private_key_jwt client assertion. */
#ifndef SGID_RP_KEYS_H
#define SGID_RP_KEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "cfg.h"
#include "crypto_ec.h"
#include "jose.h"

#define RP_KEYS_MAX            4    /* sig + enc, current + previous */
#define RP_ASSERTION_LIFETIME  60   /* exp = iat + 60 (Singpass: <= 120) */
#define RP_CLIENT_ID_MAX       256
#define RP_ENC_ALG             "ECDH-ES+A256KW" /* the enc key's published alg */
#define RP_KEY_FILE_MAX        (64 * 1024) /* bytes of one PEM key file */

enum rp_key_use { RP_KEY_SIG, RP_KEY_ENC };

struct rp_key {
	crypto_ec_key *key;
	char kid[JWK_KID_MAX];
	enum rp_key_use use;
	bool previous;
};

struct rp_keys {
	struct rp_key keys[RP_KEYS_MAX];
	size_t n;
};

/* Adds a key from its PEM (crypto_ec_key_load_pem: P-256 only). kid NULL
 * or "": the RFC 7638 thumbprint; else 1..127 printable ASCII characters
 * other than '"' and '\\'. Refused, with err naming the key ("signing
 * key", "previous encryption key", ...) and the reason: a second key in
 * the same slot, a kid already in use, the same key pair twice. */
int rp_keys_add_pem(struct rp_keys *ks, enum rp_key_use use, bool previous, const char *pem,
	size_t len, const char *kid, char *err, size_t err_len);
/* The same with a key already in memory (taken over on success). */
int rp_keys_add(struct rp_keys *ks, enum rp_key_use use, bool previous, crypto_ec_key *key,
	const char *kid, char *err, size_t err_len);
/* The configured keys (sp->key_files, sp->key_kids: cfg_load) into an
 * empty ks: the current signing and encryption keys required, the previous
 * ones when set. Refused, ks left empty and err "VARIABLE: reason" naming
 * the variable at fault (SINGPASS_ENCRYPTION_KEY_FILE, or the _ID of a
 * configured kid): a missing required key, an unreadable file (or not a
 * regular one, or over 64 KiB), a key that is not an unencrypted P-256
 * private key (RSA, P-384, secp256k1, Ed25519...), a kid used twice, the
 * same key pair twice. A file open to others (mode & 007) is loaded with a
 * warning in the log. The key material never reaches err or the log. */
int rp_keys_load(struct rp_keys *ks, const struct singpass_config *sp, char *err, size_t err_len);
/* A usable set: a current signing key and a current encryption key. */
int rp_keys_check(const struct rp_keys *ks, char *err, size_t err_len);
void rp_keys_free(struct rp_keys *ks);

/* The current key of a use, or the previous one; NULL when none. */
const struct rp_key *rp_keys_get(const struct rp_keys *ks, enum rp_key_use use, bool previous);
/* The decryption keys for jwe_decrypt_ecdh, current first; returns the
 * count (0..2). Pointers stay valid while ks lives. */
size_t rp_keys_decrypters(const struct rp_keys *ks, struct jwe_ec_key out[2]);

/* Appends {"keys":[...]}: signing current, signing previous, encryption
 * current, encryption previous; each {"kty","crv","x","y","use","alg",
 * "kid"} and never a private member. */
int rp_keys_jwks(const struct rp_keys *ks, struct buf *out);

/* Appends a private_key_jwt client assertion (SINGPASS-PROTOCOL §3):
 * header {"alg":"ES256","typ":"JWT","kid"}, claims iss = sub = client_id,
 * aud = audience (the issuer, a string), iat = now, exp = now + 60, jti a
 * fresh UUIDv4; signed with the current signing key. */
int rp_client_assertion(const struct rp_keys *ks, const char *client_id, const char *audience,
	int64_t now, struct buf *out);

#endif
