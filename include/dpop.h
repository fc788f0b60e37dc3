/* dpop: DPoP proofs (RFC 9449) for the Singpass FAPI 2.0 relying party.
 * One fresh P-256 key per login attempt binds the PAR, the token request
 * and userinfo; between the redirect and the callback the key travels as
 * its 32-byte private scalar, sealed by the caller in the attempt cookie. */
#ifndef SGID_DPOP_H
#define SGID_DPOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "crypto_ec.h"
#include "jose.h"

#define DPOP_KEY_SEALED_LEN  CRYPTO_EC_COORD_LEN /* bytes to seal: the scalar d */
#define DPOP_PROOF_LIFETIME  60                  /* exp = iat + 60 (note: <= 120) */
#define DPOP_NONCE_MAX       512                 /* a server DPoP-Nonce */
#define DPOP_HTU_MAX         2048
#define DPOP_TOKEN_MAX       (16 * 1024)         /* access token hashed into ath */

struct dpop_key {
	crypto_ec_key *key;
	char jkt[JWK_THUMBPRINT_LEN + 1];  /* RFC 7638 thumbprint: the PAR's dpop_jkt */
	struct buf jwk;                    /* public JWK JSON for the proof header */
};

/* Fresh key from the CSPRNG; -1 leaves k empty. */
int dpop_key_generate(struct dpop_key *k);
/* The scalar to seal (out is secret: the caller wipes it after sealing). */
int dpop_key_export(const struct dpop_key *k, uint8_t out[DPOP_KEY_SEALED_LEN]);
/* The key back from the unsealed scalar; len must be DPOP_KEY_SEALED_LEN
 * and the scalar in range. */
int dpop_key_import(struct dpop_key *k, const uint8_t *in, size_t len);
void dpop_key_free(struct dpop_key *k); /* wipes; an empty key is fine */

/* What one proof is for. htm "GET" or "POST"; htu the endpoint as
 * discovery gave it (http or https; dpop_htu applies); nonce only when the
 * server sent a DPoP-Nonce (NULL otherwise: never unsolicited);
 * access_token only for a resource request (ath). */
struct dpop_request {
	const char *htm;
	const char *htu;
	size_t htu_len;
	int64_t iat;
	const char *nonce;
	const char *access_token;
	size_t access_token_len;
};

/* Appends the compact proof: header {"typ":"dpop+jwt","alg":"ES256",
 * "jwk":{public members only}}, payload {"jti","htm","htu","iat","exp"
 * [,"nonce"][,"ath"]}, ES256. -1 on a bad request (nothing appended). */
int dpop_proof(const struct dpop_key *k, const struct dpop_request *r, struct buf *out);

/* htu per RFC 9449 §4.2 and the Singpass note: the URL without its query
 * and fragment, otherwise byte for byte (no case change, no default port
 * or trailing slash added or removed). -1 unless http:// or https:// with
 * a host, at most DPOP_HTU_MAX bytes, no control characters or spaces. */
int dpop_htu(const char *url, size_t len, struct buf *out);

/* A server's DPoP-Nonce a proof may carry: 1..DPOP_NONCE_MAX NQCHARs
 * (RFC 9449 §8.1: %x21 / %x23-5B / %x5D-7E). */
bool dpop_nonce_valid(const char *nonce);

/* ath = base64url(SHA-256(access token)), 43 chars + NUL. */
int dpop_ath(const char *token, size_t len, char out[JWK_THUMBPRINT_LEN + 1]);

#endif
