/* jose_internal: what jose.c shares with jose_ecdh.c (the compact
 * serialization helpers, header readers, the content ciphers and the EC
 * JWK reader). Not an API: no other module includes it. */
#ifndef SGID_JOSE_INTERNAL_H
#define SGID_JOSE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include "buf.h"
#include "crypto.h"
#include "crypto_ec.h"
#include "jose.h"
#include "json.h"

#define JOSE_MAX_HEADER_LEN  8192   /* decoded protected header */
#define JWE_PARTS            5

/* One part of a compact serialization, as received. */
struct jose_seg {
	const char *p;
	size_t len;
};

enum ce_kind { CE_GCM, CE_CBC_HS };

/* A JWE content-encryption algorithm. */
struct jose_ce_alg {
	const char *name;
	enum ce_kind kind;
	size_t cek_len;
	enum crypto_md md; /* CBC-HS only */
};

/* Splits on '.' into exactly want parts; TOO_LARGE past JOSE_MAX_TOKEN_LEN. */
enum jose_err jose_split_compact(const char *s, size_t len, struct jose_seg *parts, size_t want);
/* A base64url segment decoded / a segment holding a JSON object (at most max bytes). */
enum jose_err jose_seg_decode(const struct jose_seg *sg, struct buf *out);
enum jose_err jose_seg_json(const struct jose_seg *sg, size_t max, json_value **out);
/* Optional string member: absent is fine, present must be a string. */
enum jose_err jose_opt_str(const json_value *obj, const char *name, const char **s, size_t *len);
/* A protected header's optional kid (MALFORMED unless a string, NO_KEY
 * when longer than any kid we store). */
enum jose_err jose_header_kid(const json_value *hdr, char kid[JWK_KID_MAX], bool *has_kid);
/* What every JWE protected header needs: a JSON object without zip or
 * crit, with string alg and enc. On JOSE_OK *hdr is the caller's. */
enum jose_err jose_jwe_header_open(const struct jose_seg *sg, json_value **hdr,
	struct jose_seg *alg, struct jose_seg *enc);
/* The content algorithm of that name, or NULL. */
const struct jose_ce_alg *jose_ce_by_name(const char *s, size_t len);
/* Opens the content (AAD = the first segment as received); appends the
 * plaintext, nothing on failure. */
enum jose_err jose_content_decrypt(const struct jose_ce_alg *enc, const struct buf *cek,
	const struct jose_seg *aad, const struct buf *iv, const struct buf *ct, const struct buf *tag,
	struct buf *out);
/* An EC P-256 JWK object (see jwk_ec_parse). */
enum jose_err jose_jwk_ec_key(const json_value *jwk, bool want_private, crypto_ec_key **out);

#endif
