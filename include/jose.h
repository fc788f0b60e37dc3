/* jose: JWS RS256 verification against a JWKS, and JWE compact decryption
 * dispatched on the protected header. Built on crypto.h, b64.h, json.h. */
#ifndef SGID_JOSE_H
#define SGID_JOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "crypto.h"
#include "json.h"

#define JOSE_MAX_TOKEN_LEN  (64 * 1024) /* a JWS/JWE longer than this is refused */
#define JWKS_MAX_KEYS       16
#define JWK_KID_MAX         128

enum jose_err {
	JOSE_OK,
	JOSE_ERR_MALFORMED,    /* wrong part count, bad base64url, bad JSON */
	JOSE_ERR_ALG,          /* alg/enc not allowed (none, HS256, RSA1_5, ...) */
	JOSE_ERR_UNSUPPORTED,  /* zip, crit, or a header we refuse */
	JOSE_ERR_NO_KEY,       /* kid unknown, or no kid and no key verified */
	JOSE_ERR_SIGNATURE,    /* the key named by kid did not verify */
	JOSE_ERR_KEY,          /* key of the wrong type or size for alg/enc */
	JOSE_ERR_DECRYPT,      /* unwrap failed, bad tag, bad padding */
	JOSE_ERR_TOO_LARGE,
	JOSE_ERR_NOMEM,
	JOSE_ERR__MAX
};
const char *jose_strerror(enum jose_err err);

struct jwk {
	char kid[JWK_KID_MAX];
	bool has_kid;
	crypto_pkey *key;
};
struct jwks {
	struct jwk keys[JWKS_MAX_KEYS];
	size_t n;
};

/* Parses a JWK Set. Keeps RSA keys usable for RS256 signatures (use "sig" or
 * absent, alg "RS256" or absent, n of 2048..8192 bits); skips every other or
 * unparseable key. JOSE_ERR_MALFORMED when the document is not a JWK Set.
 * out is cleared first; an empty result is JOSE_OK with n == 0. */
enum jose_err jwks_parse(const char *json, size_t len, struct jwks *out);
void jwks_clear(struct jwks *s); /* frees keys, n = 0 */

/* Verifies a compact JWS with alg RS256 only. With a kid, only the key of
 * that kid is tried (absent: JOSE_ERR_NO_KEY); without one, every key is
 * tried. On success *payload receives the parsed payload object (caller
 * frees with json_free). */
enum jose_err jws_verify_rs256(const char *jws, size_t len, const struct jwks *keys,
	json_value **payload);

/* Key for JWE decryption: an RSA private key (RSA-OAEP, RSA-OAEP-256) or
 * symmetric bytes (dir, AxxxGCMKW, AxxxKW). */
struct jwe_key {
	const crypto_pkey *rsa;
	const uint8_t *oct;
	size_t oct_len;
};

/* Decrypts a 5-part compact JWE. alg: RSA-OAEP, RSA-OAEP-256, dir,
 * A128/192/256GCMKW, A128/192/256KW. enc: A128/192/256GCM,
 * A128CBC-HS256, A192CBC-HS384, A256CBC-HS512. RSA1_5, zip and crit are
 * refused. The AAD is the first segment as received. Appends plaintext. */
enum jose_err jwe_decrypt(const char *jwe, size_t len, const struct jwe_key *key,
	struct buf *plaintext);

/* jwe_decrypt with keys[0], then keys[1]... until one opens it: the keys
 * of a rotation, the current first. Only JOSE_ERR_DECRYPT (a key that does
 * not fit) moves on to the next; any other failure is the JWE's own and
 * ends the attempt. *used (may be NULL): the index of the key that worked.
 * On failure the result of the last key tried. */
enum jose_err jwe_decrypt_any(const char *jwe, size_t len, const struct jwe_key *keys, size_t n,
	struct buf *plaintext, size_t *used);

/* Parses a symmetric JWK ({"kty":"oct","k":...}) and appends the raw key
 * bytes (16..64) to out. */
enum jose_err jwk_oct_parse(const char *json, size_t len, struct buf *out);

#endif
