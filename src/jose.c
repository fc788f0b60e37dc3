/* jose: JWKS parsing (RSA for sgID, EC P-256 for Singpass), JWS RS256 and
 * ES256 verification, EC JWKs, and JWE compact decryption with RSA and
 * symmetric keys (ECDH-ES is jose_ecdh.c's; producing is jose_build.c's).
 * Everything here treats its input as hostile: lengths are bounded before
 * any work, algorithms come from allow-lists, and secrets are wiped. */
#include "jose.h"
#include "jose_internal.h"

#include <string.h>

#include "b64.h"
#include "crypto_ec.h"
#include "util.h"

#define JWKS_MAX_LEN         (256 * 1024)
#define JWK_OCT_MAX_LEN      4096
#define JWK_RSA_MIN_BITS     2048
#define JWK_RSA_MAX_BITS     8192
#define JWS_PARTS            3

static const char *const jose_errstr[] = {
	[JOSE_OK] = "ok",
	[JOSE_ERR_MALFORMED] = "malformed token",
	[JOSE_ERR_ALG] = "algorithm not allowed",
	[JOSE_ERR_UNSUPPORTED] = "unsupported header",
	[JOSE_ERR_NO_KEY] = "no matching key",
	[JOSE_ERR_SIGNATURE] = "bad signature",
	[JOSE_ERR_KEY] = "key does not fit the algorithm",
	[JOSE_ERR_DECRYPT] = "decryption failed",
	[JOSE_ERR_TOO_LARGE] = "token too large",
	[JOSE_ERR_NOMEM] = "out of memory",
};
_Static_assert(ARRAY_LEN(jose_errstr) == JOSE_ERR__MAX, "jose_errstr out of sync");

const char *jose_strerror(enum jose_err err)
{
	if ((unsigned)err >= JOSE_ERR__MAX || !jose_errstr[err])
		return "unknown error";
	return jose_errstr[err];
}

/* ---- compact serialization helpers ---- */

/* Splits on '.' into exactly want parts. */
enum jose_err jose_split_compact(const char *s, size_t len, struct jose_seg *parts, size_t want)
{
	size_t n = 0, start = 0;

	if (!s || len == 0)
		return JOSE_ERR_MALFORMED;
	if (len > JOSE_MAX_TOKEN_LEN)
		return JOSE_ERR_TOO_LARGE;
	for (size_t i = 0; i <= len; i++) {
		if (i < len && s[i] != '.')
			continue;
		if (n == want)
			return JOSE_ERR_MALFORMED;
		parts[n].p = s + start;
		parts[n].len = i - start;
		n++;
		start = i + 1;
	}
	return n == want ? JOSE_OK : JOSE_ERR_MALFORMED;
}

enum jose_err jose_seg_decode(const struct jose_seg *sg, struct buf *out)
{
	return b64url_decode(sg->p, sg->len, out) == 0 ? JOSE_OK : JOSE_ERR_MALFORMED;
}

/* Decodes a segment holding a JSON object. */
enum jose_err jose_seg_json(const struct jose_seg *sg, size_t max, json_value **out)
{
	struct buf raw = BUF_INIT;
	enum jose_err rc = JOSE_ERR_MALFORMED;

	*out = NULL;
	if (sg->len == 0 || b64url_encoded_len(max) < sg->len)
		goto fail;
	if (b64url_decode(sg->p, sg->len, &raw) != 0)
		goto fail;
	*out = json_parse(raw.data, raw.len, max);
	if (!*out || json_kind_of(*out) != JSON_OBJECT) {
		json_free(*out);
		*out = NULL;
		goto fail;
	}
	rc = JOSE_OK;
fail:
	buf_free(&raw);
	return rc;
}

/* Optional string member: absent is fine, present must be a string. */
enum jose_err jose_opt_str(const json_value *obj, const char *name, const char **s, size_t *len)
{
	*s = NULL;
	*len = 0;
	if (!json_has(obj, name))
		return JOSE_OK;
	*s = json_get_str(obj, name, len);
	return *s ? JOSE_OK : JOSE_ERR_MALFORMED;
}

/* ---- JWKS ---- */

void jwks_clear(struct jwks *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n && i < JWKS_MAX_KEYS; i++) {
		crypto_pkey_free(s->keys[i].key);
		crypto_ec_key_free(s->keys[i].ec);
	}
	memset(s, 0, sizeof *s);
}

/* True when the member is present and the string want. */
static bool str_is(const json_value *obj, const char *name, const char *want)
{
	size_t len;
	const char *s = json_get_str(obj, name, &len);
	return s && str_eq_n(s, len, want);
}

/* An absent member passes; a present one must be the string want. */
static bool str_absent_or(const json_value *obj, const char *name, const char *want)
{
	size_t len;
	if (!json_has(obj, name))
		return true;
	const char *s = json_get_str(obj, name, &len);
	return s && str_eq_n(s, len, want);
}

/* key_ops, when present, must allow "verify". */
static bool key_ops_allow_verify(const json_value *jwk)
{
	const json_value *ops = json_get(jwk, "key_ops");
	size_t len;
	if (!json_has(jwk, "key_ops"))
		return true;
	for (size_t i = 0; i < json_array_len(ops); i++) {
		const char *s = json_str(json_array_at(ops, i), &len);
		if (s && str_eq_n(s, len, "verify"))
			return true;
	}
	return false;
}

static crypto_pkey *jwk_rsa_key(const json_value *jwk)
{
	struct buf n = BUF_INIT, e = BUF_INIT;
	const char *ns, *es;
	size_t nl, el;
	crypto_pkey *k = NULL;

	ns = json_get_str(jwk, "n", &nl);
	es = json_get_str(jwk, "e", &el);
	if (!ns || !es || nl > b64url_encoded_len(JWK_RSA_MAX_BITS / 8 + 1) || el > 16)
		goto fail;
	if (b64url_decode(ns, nl, &n) != 0 || b64url_decode(es, el, &e) != 0)
		goto fail;
	k = crypto_rsa_public_from_ne((const uint8_t *)n.data, n.len, (const uint8_t *)e.data, e.len);
	if (k && (crypto_pkey_bits(k) < JWK_RSA_MIN_BITS || crypto_pkey_bits(k) > JWK_RSA_MAX_BITS)) {
		crypto_pkey_free(k);
		k = NULL;
	}
fail:
	buf_free(&n);
	buf_free(&e);
	return k;
}

/* Fills slot from one JWK; false when the key is not one we keep: kty
 * (RSA or EC P-256) and alg (RS256 or ES256) as asked, use sig or absent,
 * key_ops allowing verify when present. */
static bool jwk_load(const json_value *jwk, bool ec, struct jwk *slot)
{
	const char *kid;
	size_t kid_len;

	if (json_kind_of(jwk) != JSON_OBJECT)
		return false;
	if (!str_is(jwk, "kty", ec ? "EC" : "RSA"))
		return false;
	if (!str_absent_or(jwk, "use", "sig") || !str_absent_or(jwk, "alg", ec ? "ES256" : "RS256") ||
	    !key_ops_allow_verify(jwk))
		return false;
	if (jose_opt_str(jwk, "kid", &kid, &kid_len) != JOSE_OK || kid_len >= JWK_KID_MAX)
		return false;
	if (ec) {
		/* never a private key here, whatever the document holds */
		if (jose_jwk_ec_key(jwk, false, &slot->ec) != JOSE_OK)
			return false;
	} else if (!(slot->key = jwk_rsa_key(jwk))) {
		return false;
	}
	slot->has_kid = kid != NULL;
	if (kid)
		memcpy(slot->kid, kid, kid_len);
	slot->kid[kid_len] = '\0';
	return true;
}

static enum jose_err jwks_parse_kind(const char *json, size_t len, bool ec, struct jwks *out);

enum jose_err jwks_parse(const char *json, size_t len, struct jwks *out)
{
	return jwks_parse_kind(json, len, false, out);
}

/* Two kept keys of one kid: which one signs is ambiguous, so the set is
 * refused (a provider's JWKS is not for guessing). */
static bool kids_unique(const struct jwks *s)
{
	for (size_t i = 0; i < s->n; i++)
		for (size_t j = i + 1; j < s->n; j++)
			if (s->keys[i].has_kid && s->keys[j].has_kid &&
			    strcmp(s->keys[i].kid, s->keys[j].kid) == 0)
				return false;
	return true;
}

enum jose_err jwks_parse_es256(const char *json, size_t len, struct jwks *out)
{
	enum jose_err rc = jwks_parse_kind(json, len, true, out);
	if (rc == JOSE_OK && !kids_unique(out)) {
		jwks_clear(out);
		rc = JOSE_ERR_MALFORMED;
	}
	return rc;
}

static enum jose_err jwks_parse_kind(const char *json, size_t len, bool ec, struct jwks *out)
{
	json_value *doc = NULL;
	const json_value *keys;
	enum jose_err rc = JOSE_ERR_MALFORMED;

	if (!out)
		return JOSE_ERR_MALFORMED;
	jwks_clear(out);
	if (!json || len == 0)
		goto fail;
	if (len > JWKS_MAX_LEN) {
		rc = JOSE_ERR_TOO_LARGE;
		goto fail;
	}
	doc = json_parse(json, len, JWKS_MAX_LEN);
	keys = json_get(doc, "keys");
	if (json_kind_of(doc) != JSON_OBJECT || json_kind_of(keys) != JSON_ARRAY)
		goto fail;
	for (size_t i = 0; i < json_array_len(keys) && out->n < JWKS_MAX_KEYS; i++) {
		if (jwk_load(json_array_at(keys, i), ec, &out->keys[out->n]))
			out->n++;
		else
			memset(&out->keys[out->n], 0, sizeof out->keys[out->n]);
	}
	rc = JOSE_OK;
fail:
	json_free(doc);
	return rc;
}

/* ---- JWS ---- */

/* A protected header's optional kid: MALFORMED unless a string, NO_KEY
 * when longer than any kid we store (no key can match). */
enum jose_err jose_header_kid(const json_value *hdr, char kid[JWK_KID_MAX], bool *has_kid)
{
	const char *k;
	size_t k_len;

	if (jose_opt_str(hdr, "kid", &k, &k_len) != JOSE_OK)
		return JOSE_ERR_MALFORMED;
	*has_kid = k != NULL;
	if (!k)
		return JOSE_OK;
	if (k_len >= JWK_KID_MAX)
		return JOSE_ERR_NO_KEY;
	memcpy(kid, k, k_len);
	kid[k_len] = '\0';
	return JOSE_OK;
}

/* Reads the JWS protected header: alg must be want (RS256 or ES256); kid
 * is optional. */
static enum jose_err jws_header(const struct jose_seg *h, const char *want, char kid[JWK_KID_MAX],
	bool *has_kid)
{
	json_value *hdr = NULL;
	const char *alg;
	size_t alg_len;
	enum jose_err rc = jose_seg_json(h, JOSE_MAX_HEADER_LEN, &hdr);

	if (rc != JOSE_OK)
		goto fail;
	rc = JOSE_ERR_MALFORMED;
	alg = json_get_str(hdr, "alg", &alg_len);
	if (!alg)
		goto fail;
	rc = JOSE_ERR_ALG;
	if (!str_eq_n(alg, alg_len, want))
		goto fail;
	rc = JOSE_ERR_UNSUPPORTED;
	if (json_has(hdr, "crit") || json_has(hdr, "zip"))
		goto fail;
	rc = jose_header_kid(hdr, kid, has_kid);
fail:
	json_free(hdr);
	return rc;
}

static bool kid_matches(const struct jwk *key, const char *kid)
{
	return key->has_kid && strcmp(key->kid, kid) == 0;
}

/* Tries the keys kid allows; NO_KEY when none was eligible or, without a
 * kid, none verified. */
static enum jose_err jws_check_sig(const struct jose_seg parts[JWS_PARTS], const struct jwks *keys,
	bool ec, const char *kid, bool has_kid)
{
	struct buf sig = BUF_INIT;
	const char *input = parts[0].p;
	size_t input_len = parts[0].len + 1 + parts[1].len;
	bool tried = false;
	enum jose_err rc = JOSE_ERR_MALFORMED;

	if (jose_seg_decode(&parts[2], &sig) != JOSE_OK || sig.len == 0)
		goto fail;
	rc = JOSE_ERR_NO_KEY;
	for (size_t i = 0; keys && i < keys->n && i < JWKS_MAX_KEYS; i++) {
		const struct jwk *k = &keys->keys[i];
		if ((ec ? !k->ec : !k->key) || (has_kid && !kid_matches(k, kid)))
			continue;
		tried = true;
		if (ec ? crypto_es256_verify(k->ec, input, input_len,
				(const uint8_t *)sig.data, sig.len) == 0 :
		    crypto_rsa_verify_sha256(k->key, input, input_len,
				(const uint8_t *)sig.data, sig.len) == 0) {
			rc = JOSE_OK;
			goto fail;
		}
	}
	if (tried && has_kid)
		rc = JOSE_ERR_SIGNATURE;
fail:
	buf_free(&sig);
	return rc;
}

static enum jose_err jws_verify(const char *jws, size_t len, const struct jwks *keys, bool ec,
	json_value **payload)
{
	struct jose_seg parts[JWS_PARTS];
	char kid[JWK_KID_MAX];
	bool has_kid = false;
	enum jose_err rc;

	if (payload)
		*payload = NULL;
	rc = jose_split_compact(jws, len, parts, JWS_PARTS);
	if (rc != JOSE_OK)
		return rc;
	rc = jws_header(&parts[0], ec ? "ES256" : "RS256", kid, &has_kid);
	if (rc != JOSE_OK)
		return rc;
	rc = jws_check_sig(parts, keys, ec, kid, has_kid);
	if (rc != JOSE_OK)
		return rc;
	/* Only parse the payload once it is authenticated. */
	json_value *body = NULL;
	rc = jose_seg_json(&parts[1], JOSE_MAX_TOKEN_LEN, &body);
	if (rc != JOSE_OK)
		return rc;
	if (payload)
		*payload = body;
	else
		json_free(body);
	return JOSE_OK;
}

enum jose_err jws_verify_rs256(const char *jws, size_t len, const struct jwks *keys,
	json_value **payload)
{
	return jws_verify(jws, len, keys, false, payload);
}

enum jose_err jws_verify_es256(const char *jws, size_t len, const struct jwks *keys,
	json_value **payload)
{
	return jws_verify(jws, len, keys, true, payload);
}

/* ---- JWE ---- */

enum kw_kind { KW_RSA_OAEP, KW_RSA_OAEP_256, KW_DIR, KW_GCMKW, KW_AESKW };

struct kw_alg {
	const char *name;
	enum kw_kind kind;
	size_t kek_len; /* AES key-wrapping key size; 0 when not AES */
};

static const struct kw_alg kw_algs[] = {
	{ "RSA-OAEP", KW_RSA_OAEP, 0 },
	{ "RSA-OAEP-256", KW_RSA_OAEP_256, 0 },
	{ "dir", KW_DIR, 0 },
	{ "A128GCMKW", KW_GCMKW, 16 },
	{ "A192GCMKW", KW_GCMKW, 24 },
	{ "A256GCMKW", KW_GCMKW, 32 },
	{ "A128KW", KW_AESKW, 16 },
	{ "A192KW", KW_AESKW, 24 },
	{ "A256KW", KW_AESKW, 32 },
};

static const struct jose_ce_alg ce_algs[] = {
	{ "A128GCM", CE_GCM, 16, CRYPTO_SHA256 },
	{ "A192GCM", CE_GCM, 24, CRYPTO_SHA256 },
	{ "A256GCM", CE_GCM, 32, CRYPTO_SHA256 },
	{ "A128CBC-HS256", CE_CBC_HS, 32, CRYPTO_SHA256 },
	{ "A192CBC-HS384", CE_CBC_HS, 48, CRYPTO_SHA384 },
	{ "A256CBC-HS512", CE_CBC_HS, 64, CRYPTO_SHA512 },
};

struct jwe_hdr {
	const struct kw_alg *alg;
	const struct jose_ce_alg *enc;
	struct buf kw_iv;  /* AxxxGCMKW only */
	struct buf kw_tag;
};

static void jwe_hdr_free(struct jwe_hdr *h)
{
	buf_free(&h->kw_iv);
	buf_free(&h->kw_tag);
}

/* AxxxGCMKW carries its IV and tag as protected-header members. */
static enum jose_err gcmkw_params(const json_value *hdr, struct jwe_hdr *h)
{
	const char *iv, *tag;
	size_t iv_len, tag_len;

	iv = json_get_str(hdr, "iv", &iv_len);
	tag = json_get_str(hdr, "tag", &tag_len);
	if (!iv || !tag || b64url_decode(iv, iv_len, &h->kw_iv) != 0 ||
	    b64url_decode(tag, tag_len, &h->kw_tag) != 0)
		return JOSE_ERR_MALFORMED;
	if (h->kw_iv.len != 12 || h->kw_tag.len != 16)
		return JOSE_ERR_MALFORMED;
	return JOSE_OK;
}

const struct jose_ce_alg *jose_ce_by_name(const char *s, size_t len)
{
	for (size_t i = 0; i < ARRAY_LEN(ce_algs); i++)
		if (str_eq_n(s, len, ce_algs[i].name))
			return &ce_algs[i];
	return NULL;
}

/* What every JWE protected header needs: a JSON object without zip or
 * crit, with string alg and enc. On JOSE_OK *hdr is the caller's. */
enum jose_err jose_jwe_header_open(const struct jose_seg *sg, json_value **hdr, struct jose_seg *alg,
	struct jose_seg *enc)
{
	enum jose_err rc = jose_seg_json(sg, JOSE_MAX_HEADER_LEN, hdr);

	if (rc != JOSE_OK)
		return rc;
	rc = JOSE_ERR_UNSUPPORTED;
	if (json_has(*hdr, "zip") || json_has(*hdr, "crit"))
		goto fail;
	rc = JOSE_ERR_MALFORMED;
	alg->p = json_get_str(*hdr, "alg", &alg->len);
	enc->p = json_get_str(*hdr, "enc", &enc->len);
	if (!alg->p || !enc->p)
		goto fail;
	return JOSE_OK;
fail:
	json_free(*hdr);
	*hdr = NULL;
	return rc;
}

static enum jose_err jwe_header(const struct jose_seg *sg, struct jwe_hdr *h)
{
	json_value *hdr = NULL;
	struct jose_seg alg, enc;
	enum jose_err rc = jose_jwe_header_open(sg, &hdr, &alg, &enc);

	if (rc != JOSE_OK)
		return rc;
	rc = JOSE_ERR_ALG;
	for (size_t i = 0; i < ARRAY_LEN(kw_algs) && !h->alg; i++)
		if (str_eq_n(alg.p, alg.len, kw_algs[i].name))
			h->alg = &kw_algs[i];
	h->enc = jose_ce_by_name(enc.p, enc.len);
	if (!h->alg || !h->enc)
		goto fail;
	rc = h->alg->kind == KW_GCMKW ? gcmkw_params(hdr, h) : JOSE_OK;
fail:
	json_free(hdr);
	return rc;
}

/* Recovers the content-encryption key into cek. */
static enum jose_err jwe_unwrap(const struct jwe_hdr *h, const struct jwe_key *key,
	const struct buf *ek, struct buf *cek)
{
	const struct kw_alg *a = h->alg;
	int rc = -1;

	switch (a->kind) {
	case KW_RSA_OAEP:
	case KW_RSA_OAEP_256:
		if (!key->rsa)
			return JOSE_ERR_KEY;
		if (ek->len == 0)
			return JOSE_ERR_MALFORMED;
		rc = crypto_rsa_oaep_decrypt(key->rsa,
			a->kind == KW_RSA_OAEP ? CRYPTO_SHA1 : CRYPTO_SHA256,
			(const uint8_t *)ek->data, ek->len, cek);
		break;
	case KW_DIR:
		if (!key->oct || key->oct_len != h->enc->cek_len)
			return JOSE_ERR_KEY;
		if (ek->len != 0) /* RFC 7516: the encrypted key must be empty */
			return JOSE_ERR_MALFORMED;
		rc = buf_append(cek, key->oct, key->oct_len);
		if (rc != 0)
			return JOSE_ERR_NOMEM;
		break;
	case KW_GCMKW:
		if (!key->oct || key->oct_len != a->kek_len)
			return JOSE_ERR_KEY;
		rc = crypto_aes_gcm_decrypt(key->oct, key->oct_len,
			(const uint8_t *)h->kw_iv.data, h->kw_iv.len, NULL, 0,
			(const uint8_t *)ek->data, ek->len,
			(const uint8_t *)h->kw_tag.data, h->kw_tag.len, cek);
		break;
	case KW_AESKW:
		if (!key->oct || key->oct_len != a->kek_len)
			return JOSE_ERR_KEY;
		rc = crypto_aes_key_unwrap(key->oct, key->oct_len,
			(const uint8_t *)ek->data, ek->len, cek);
		break;
	}
	if (rc != 0)
		return JOSE_ERR_DECRYPT;
	return cek->len == h->enc->cek_len ? JOSE_OK : JOSE_ERR_DECRYPT;
}

/* RFC 7518 §5.2.2.1: MAC over AAD || IV || CT || AL, then AES-CBC. */
static enum jose_err cbc_hs_decrypt(const struct jose_ce_alg *enc, const struct buf *cek,
	const struct jose_seg *aad, const struct buf *iv, const struct buf *ct, const struct buf *tag,
	struct buf *out)
{
	struct buf mac_in = BUF_INIT;
	size_t half = enc->cek_len / 2, mac_len = 0;
	const uint8_t *k = (const uint8_t *)cek->data;
	uint8_t mac[64], al[8];
	uint64_t bits = (uint64_t)aad->len * 8;
	enum jose_err rc = JOSE_ERR_MALFORMED;

	if (iv->len != 16 || tag->len != half)
		goto fail;
	for (int i = 7; i >= 0; i--, bits >>= 8)
		al[i] = (uint8_t)bits;
	rc = JOSE_ERR_NOMEM;
	if (buf_append(&mac_in, aad->p, aad->len) != 0 || buf_append(&mac_in, iv->data, iv->len) != 0 ||
	    buf_append(&mac_in, ct->data, ct->len) != 0 || buf_append(&mac_in, al, sizeof al) != 0)
		goto fail;
	rc = JOSE_ERR_DECRYPT;
	if (crypto_hmac(enc->md, k, half, mac_in.data, mac_in.len, mac, &mac_len) != 0 ||
	    mac_len < half)
		goto fail;
	if (!crypto_ct_equal(mac, tag->data, half))
		goto fail;
	if (crypto_aes_cbc_decrypt(k + half, half, (const uint8_t *)iv->data,
			(const uint8_t *)ct->data, ct->len, out) != 0)
		goto fail;
	rc = JOSE_OK;
fail:
	secure_zero(mac, sizeof mac);
	buf_free(&mac_in);
	return rc;
}

enum jose_err jose_content_decrypt(const struct jose_ce_alg *enc, const struct buf *cek,
	const struct jose_seg *aad, const struct buf *iv, const struct buf *ct, const struct buf *tag,
	struct buf *out)
{
	if (enc->kind == CE_CBC_HS)
		return cbc_hs_decrypt(enc, cek, aad, iv, ct, tag, out);
	if (iv->len != 12 || tag->len != 16)
		return JOSE_ERR_MALFORMED;
	if (crypto_aes_gcm_decrypt((const uint8_t *)cek->data, cek->len,
			(const uint8_t *)iv->data, iv->len, (const uint8_t *)aad->p, aad->len,
			(const uint8_t *)ct->data, ct->len,
			(const uint8_t *)tag->data, tag->len, out) != 0)
		return JOSE_ERR_DECRYPT;
	return JOSE_OK;
}

enum jose_err jwe_decrypt(const char *jwe, size_t len, const struct jwe_key *key,
	struct buf *plaintext)
{
	struct jose_seg parts[JWE_PARTS];
	struct jwe_hdr h = { NULL, NULL, BUF_INIT, BUF_INIT };
	struct buf ek = BUF_INIT, iv = BUF_INIT, ct = BUF_INIT, tag = BUF_INIT, cek = BUF_INIT;
	enum jose_err rc;

	rc = jose_split_compact(jwe, len, parts, JWE_PARTS);
	if (rc != JOSE_OK)
		goto fail;
	rc = JOSE_ERR_KEY;
	if (!key || !plaintext)
		goto fail;
	rc = jwe_header(&parts[0], &h);
	if (rc != JOSE_OK)
		goto fail;
	rc = JOSE_ERR_MALFORMED;
	if (jose_seg_decode(&parts[1], &ek) != JOSE_OK || jose_seg_decode(&parts[2], &iv) != JOSE_OK ||
	    jose_seg_decode(&parts[3], &ct) != JOSE_OK || jose_seg_decode(&parts[4], &tag) != JOSE_OK)
		goto fail;
	rc = jwe_unwrap(&h, key, &ek, &cek);
	if (rc != JOSE_OK)
		goto fail;
	rc = jose_content_decrypt(h.enc, &cek, &parts[0], &iv, &ct, &tag, plaintext);
fail:
	jwe_hdr_free(&h);
	buf_free(&ek);
	buf_free(&iv);
	buf_free(&ct);
	buf_free(&tag);
	buf_free(&cek);
	return rc;
}

/* Trying the next key after a failed RSA-OAEP unwrap tells the sender
 * which key failed only by timing; the sender is sgID itself, which knows
 * which key it used, so this is no oracle to anyone else. */
enum jose_err jwe_decrypt_any(const char *jwe, size_t len, const struct jwe_key *keys, size_t n,
	struct buf *plaintext, size_t *used)
{
	enum jose_err rc = JOSE_ERR_KEY;

	for (size_t i = 0; i < n; i++) {
		rc = jwe_decrypt(jwe, len, &keys[i], plaintext);
		if (rc == JOSE_OK && used)
			*used = i;
		if (rc != JOSE_ERR_DECRYPT)
			break;
	}
	return rc;
}

enum jose_err jwk_oct_parse(const char *json, size_t len, struct buf *out)
{
	json_value *jwk = NULL;
	struct buf raw = BUF_INIT;
	const char *k;
	size_t k_len;
	enum jose_err rc = JOSE_ERR_MALFORMED;

	if (!json || len == 0)
		goto fail;
	if (len > JWK_OCT_MAX_LEN) {
		rc = JOSE_ERR_TOO_LARGE;
		goto fail;
	}
	jwk = json_parse(json, len, JWK_OCT_MAX_LEN);
	if (json_kind_of(jwk) != JSON_OBJECT)
		goto fail;
	rc = JOSE_ERR_KEY;
	if (!str_is(jwk, "kty", "oct"))
		goto fail;
	rc = JOSE_ERR_MALFORMED;
	k = json_get_str(jwk, "k", &k_len);
	if (!k || b64url_decode(k, k_len, &raw) != 0)
		goto fail;
	rc = JOSE_ERR_KEY;
	if (raw.len < 16 || raw.len > 64)
		goto fail;
	rc = buf_append(out, raw.data, raw.len) == 0 ? JOSE_OK : JOSE_ERR_NOMEM;
fail:
	json_free(jwk);
	buf_free(&raw);
	return rc;
}

/* ---- EC P-256 JWKs ---- */

/* One JWK coordinate or scalar: exactly 43 base64url characters, 32 bytes. */
static enum jose_err ec_member(const json_value *jwk, const char *name, uint8_t out[32])
{
	struct buf raw = BUF_INIT;
	size_t len;
	const char *s = json_get_str(jwk, name, &len);
	enum jose_err rc = JOSE_ERR_KEY;

	if (s && len == b64url_encoded_len(CRYPTO_EC_COORD_LEN) && b64url_decode(s, len, &raw) == 0 &&
	    raw.len == CRYPTO_EC_COORD_LEN) {
		memcpy(out, raw.data, CRYPTO_EC_COORD_LEN);
		rc = JOSE_OK;
	}
	buf_free(&raw);
	return rc;
}

/* kty EC, crv P-256, x and y a valid point (crypto_ec_key_from_public
 * refuses off-curve points and infinity); with want_private also d, whose
 * public point must be (x, y). */
enum jose_err jose_jwk_ec_key(const json_value *jwk, bool want_private, crypto_ec_key **out)
{
	uint8_t x[32], y[32], d[32];
	crypto_ec_key *pub = NULL;
	enum jose_err rc = JOSE_ERR_KEY;

	*out = NULL;
	if (json_kind_of(jwk) != JSON_OBJECT || !str_is(jwk, "kty", "EC") ||
	    !str_is(jwk, "crv", "P-256") || ec_member(jwk, "x", x) != JOSE_OK ||
	    ec_member(jwk, "y", y) != JOSE_OK || !(pub = crypto_ec_key_from_public(x, y)))
		return JOSE_ERR_KEY;
	if (!want_private) {
		*out = pub;
		return JOSE_OK;
	}
	if (ec_member(jwk, "d", d) == JOSE_OK && (*out = crypto_ec_key_from_private(d)) != NULL &&
	    crypto_ec_key_same_public(*out, pub)) {
		rc = JOSE_OK;
	} else {
		crypto_ec_key_free(*out);
		*out = NULL;
	}
	secure_zero(d, sizeof(d));
	crypto_ec_key_free(pub);
	return rc;
}

enum jose_err jwk_ec_parse(const char *json, size_t len, bool want_private, crypto_ec_key **out)
{
	json_value *jwk = NULL;
	enum jose_err rc = JOSE_ERR_MALFORMED;

	if (!out)
		return JOSE_ERR_MALFORMED;
	*out = NULL;
	if (!json || len == 0)
		return JOSE_ERR_MALFORMED;
	if (len > JWK_EC_MAX_LEN)
		return JOSE_ERR_TOO_LARGE;
	jwk = json_parse(json, len, JWK_EC_MAX_LEN);
	if (json_kind_of(jwk) == JSON_OBJECT)
		rc = jose_jwk_ec_key(jwk, want_private, out);
	json_free(jwk);
	return rc;
}
