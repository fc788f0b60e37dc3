/* pkce: the random values of an authorization request, for every
 * provider: PKCE (RFC 7636, S256) and the base64url state and nonce. */
#ifndef SGID_PKCE_H
#define SGID_PKCE_H

#include <stddef.h>
#include "buf.h"

#define PKCE_VERIFIER_LEN 43   /* 32 random bytes, base64url */

/* A fresh code_verifier: PKCE_VERIFIER_LEN characters. 0, or -1. */
int pkce_verifier(char out[PKCE_VERIFIER_LEN + 1]);
/* base64url(SHA-256(verifier)) appended to out. 0, or -1. */
int pkce_challenge(const char *verifier, size_t len, struct buf *out);
/* base64url of n (<= 96) random bytes into out (NUL-terminated, cap bytes). */
int random_token_b64url(size_t n, char *out, size_t cap);

#endif
