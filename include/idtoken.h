/* idtoken: OpenID Connect ID-token validation as SGID-PROTOCOL §3.3
 * recommends: RS256 signature against the JWKS, then iss, aud, azp, exp,
 * iat, nbf, nonce and sub. */
#ifndef SGID_IDTOKEN_H
#define SGID_IDTOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "jose.h"

#define IDTOKEN_SUB_MAX 256

enum idt_err {
	IDT_OK,
	IDT_ERR_MALFORMED,
	IDT_ERR_ALG,
	IDT_ERR_NO_KEY,        /* unknown kid: the caller may refetch the JWKS */
	IDT_ERR_SIGNATURE,
	IDT_ERR_MISSING_CLAIM,
	IDT_ERR_ISS,
	IDT_ERR_AUD,
	IDT_ERR_AZP,
	IDT_ERR_EXP,
	IDT_ERR_IAT,
	IDT_ERR_NBF,
	IDT_ERR_NONCE,
	IDT_ERR_SUB,
	IDT_ERR_ACR,           /* below the acr_values asked for (Singpass) */
	IDT_ERR_CLAIM_TYPE,    /* a claim of the wrong shape (Singpass:
	                          sub_type not "user", sub_attributes not an
	                          object) */
	IDT_ERR__MAX
};
const char *idtoken_strerror(enum idt_err err);

struct idtoken_expect {
	const char *issuer;     /* exact match */
	const char *client_id;
	const char *nonce;      /* NULL: the token must carry none */
	int64_t now;            /* unix seconds */
	int64_t skew;           /* seconds of tolerance on exp/nbf/iat */
	bool fractional_times;  /* exp, iat, nbf may carry a fraction
	                           (MockPass's Singpass: iat = Date.now()/1000) */
};

struct idtoken_claims {
	char sub[IDTOKEN_SUB_MAX + 1];
	int64_t exp;
	int64_t iat;
};

/* Rules: alg RS256 (via jws_verify_rs256); iss, sub, aud, exp, iat
 * present; iss equal; aud a string equal to client_id or an array holding
 * it, an array of more than one needs azp; azp, when present, equals
 * client_id; exp and iat integers; now < exp + skew; iat <= now + skew;
 * nbf (optional, integer) <= now + skew; nonce equal (constant time) when
 * expected, absent when not; sub a non-empty printable string of at most
 * IDTOKEN_SUB_MAX bytes. */
enum idt_err idtoken_verify(const char *jwt, size_t len, const struct jwks *keys,
	const struct idtoken_expect *expect, struct idtoken_claims *out);

/* The claim rules of idtoken_verify alone, on a payload whose signature
 * the caller verified (Singpass: ES256 inside a JWE). out may be NULL. */
enum idt_err idtoken_check_claims(const json_value *payload, const struct idtoken_expect *expect,
	struct idtoken_claims *out);

/* The nonce check: compares SHA-256 digests in constant time, so the time
 * taken says nothing about either length. False when hashing fails. */
bool idtoken_nonce_equal(const char *got, size_t got_len, const char *want);

#endif
