/* jose: JWS RS256 (sgID) and ES256 (Singpass) verification against a JWKS,
 * JWE compact decryption dispatched on the protected header (RSA and
 * symmetric keys in jose.c, ECDH-ES in jose_ecdh.c), and the producing side
 * (ES256 JWS, EC JWKs and thumbprints, jti: jose_build.c). Built on
 * crypto.h, crypto_ec.h, b64.h, json.h. */
#ifndef SGID_JOSE_H
#define SGID_JOSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "crypto.h"
#include "crypto_ec.h"
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
	crypto_pkey *key;      /* RSA, from jwks_parse */
	crypto_ec_key *ec;     /* P-256 public key, from jwks_parse_es256 */
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
/* The same for an ES256 issuer (Singpass): keeps EC P-256 public keys
 * (use "sig" or absent, alg "ES256" or absent, key_ops allowing verify,
 * the point valid on the curve; a "d" member is never read), skips every
 * other key, e.g. the provider's own "enc" key. Two kept keys with one kid
 * make the whole set JOSE_ERR_MALFORMED. */
enum jose_err jwks_parse_es256(const char *json, size_t len, struct jwks *out);

/* Verifies a compact JWS with alg RS256 only. With a kid, only the key of
 * that kid is tried (absent: JOSE_ERR_NO_KEY); without one, every key is
 * tried. On success *payload receives the parsed payload object (caller
 * frees with json_free). */
enum jose_err jws_verify_rs256(const char *jws, size_t len, const struct jwks *keys,
	json_value **payload);

/* The same for alg ES256 only (raw 64-byte R||S, RFC 7518 §3.4) against
 * the EC keys of a set from jwks_parse_es256; same kid rules. */
enum jose_err jws_verify_es256(const char *jws, size_t len, const struct jwks *keys,
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

/* ---- EC P-256 (Singpass FAPI 2.0) ---- */

#define JWK_EC_MAX_LEN      4096  /* a single JWK text */
#define JWK_THUMBPRINT_LEN  43    /* base64url SHA-256 */
#define JWT_JTI_LEN         36    /* UUIDv4 text */

/* Parses one EC JWK: kty "EC", crv "P-256", x and y 43 base64url
 * characters (32 bytes) naming a valid point (not infinity, on the curve:
 * an invalid-curve point is JOSE_ERR_KEY). With want_private, also d, which
 * must be the scalar of (x, y). *out is the caller's (crypto_ec_key_free). */
enum jose_err jwk_ec_parse(const char *json, size_t len, bool want_private, crypto_ec_key **out);

/* The public JWK members in RFC 7638 order, no whitespace:
 * {"crv":"P-256","kty":"EC","x":"..","y":".."}. This is the thumbprint
 * input and the DPoP header "jwk"; it never holds d. Appends to out. */
int jwk_ec_public_json(const crypto_ec_key *k, struct buf *out);
/* RFC 7638 thumbprint: base64url(SHA-256(jwk_ec_public_json)), 43 chars + NUL. */
int jwk_ec_thumbprint(const crypto_ec_key *k, char out[JWK_THUMBPRINT_LEN + 1]);
/* A random UUIDv4 (122 bits from the CSPRNG) for a JWT's jti. */
int jwt_new_jti(char out[JWT_JTI_LEN + 1]);

/* Compact JWS: b64u(header).b64u(payload).b64u(R||S) with ES256. header and
 * payload are JSON text the caller built (the header must say ES256).
 * Appends to out; JOSE_ERR_KEY without a private key. */
enum jose_err jws_sign_es256(const char *header, size_t header_len, const char *payload,
	size_t payload_len, const crypto_ec_key *key, struct buf *out);

/* A recipient key for ECDH-ES JWE: a P-256 private key and its kid (NULL:
 * none). */
struct jwe_ec_key {
	const crypto_ec_key *key;
	const char *kid;
};

/* Decrypts a 5-part compact JWE whose alg is ECDH-ES+A128KW, +A192KW or
 * +A256KW and enc A256CBC-HS512 or A256GCM (direct ECDH-ES, other enc,
 * zip and crit are refused). The header's epk must be an EC P-256 public
 * JWK on the curve (else JOSE_ERR_KEY, before any key agreement); apu and
 * apv enter the Concat KDF. With a header kid only keys[] of that kid are
 * used (none: JOSE_ERR_NO_KEY); without one every key, in order (the
 * current first). Input over JOSE_MAX_TOKEN_LEN: JOSE_ERR_TOO_LARGE.
 * Appends the plaintext; on failure appends nothing. *used (may be NULL):
 * the index of the key that opened it. */
enum jose_err jwe_decrypt_ecdh(const char *jwe, size_t len, const struct jwe_ec_key *keys, size_t n,
	struct buf *plaintext, size_t *used);

/* Concat KDF of RFC 7518 §4.6.2 (NIST SP 800-56A, SHA-256): out_len bytes
 * (1..64) from Z, AlgorithmID alg_id (the header alg for key wrapping, the
 * enc for direct agreement), apu and apv (each at most 256 bytes). */
int jose_concat_kdf(const uint8_t *z, size_t z_len, const char *alg_id,
	const uint8_t *apu, size_t apu_len, const uint8_t *apv, size_t apv_len,
	uint8_t *out, size_t out_len);

/* Producer of ECDH-ES+AxxxKW JWEs for tests, fuzz seeds and the bench
 * (the service only decrypts). alg/enc as jwe_decrypt_ecdh accepts; kid,
 * apu/apv and extra (raw header members, e.g. "\"cty\":\"JWT\"") are
 * optional; epk NULL makes a fresh ephemeral key. Appends to out. */
struct jwe_ecdh_params {
	const char *alg, *enc, *kid, *extra;
	const uint8_t *apu, *apv;
	size_t apu_len, apv_len;
	const crypto_ec_key *epk;
};
enum jose_err jwe_encrypt_ecdh(const struct jwe_ecdh_params *p, const crypto_ec_key *recipient,
	const void *plaintext, size_t len, struct buf *out);

#endif
