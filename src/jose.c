/* jose: JWKS parsing, JWS RS256 verification and JWE compact decryption.
 * Everything here treats its input as hostile: lengths are bounded before
 * any work, algorithms come from allow-lists, and secrets are wiped. */
#include "jose.h"

#include <string.h>

#include "b64.h"
#include "crypto_ec.h"
#include "util.h"

#define JOSE_MAX_HEADER_LEN  8192        /* decoded protected header */
#define JWKS_MAX_LEN         (256 * 1024)
#define JWK_OCT_MAX_LEN      4096
#define JWK_RSA_MIN_BITS     2048
#define JWK_RSA_MAX_BITS     8192
#define JWE_PARTS            5
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

struct seg {
	const char *p;
	size_t len;
};

/* Splits on '.' into exactly want parts. */
static enum jose_err split_compact(const char *s, size_t len, struct seg *parts, size_t want)
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

static enum jose_err seg_decode(const struct seg *sg, struct buf *out)
{
	return b64url_decode(sg->p, sg->len, out) == 0 ? JOSE_OK : JOSE_ERR_MALFORMED;
}

/* Decodes a segment holding a JSON object. */
static enum jose_err seg_json(const struct seg *sg, size_t max, json_value **out)
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
static enum jose_err opt_str(const json_value *obj, const char *name, const char **s, size_t *len)
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

static enum jose_err jwk_ec_key(const json_value *jwk, bool want_private, crypto_ec_key **out);

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
	if (opt_str(jwk, "kid", &kid, &kid_len) != JOSE_OK || kid_len >= JWK_KID_MAX)
		return false;
	if (ec) {
		/* never a private key here, whatever the document holds */
		if (jwk_ec_key(jwk, false, &slot->ec) != JOSE_OK)
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
static enum jose_err header_kid(const json_value *hdr, char kid[JWK_KID_MAX], bool *has_kid)
{
	const char *k;
	size_t k_len;

	if (opt_str(hdr, "kid", &k, &k_len) != JOSE_OK)
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
static enum jose_err jws_header(const struct seg *h, const char *want, char kid[JWK_KID_MAX],
	bool *has_kid)
{
	json_value *hdr = NULL;
	const char *alg;
	size_t alg_len;
	enum jose_err rc = seg_json(h, JOSE_MAX_HEADER_LEN, &hdr);

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
	rc = header_kid(hdr, kid, has_kid);
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
static enum jose_err jws_check_sig(const struct seg parts[JWS_PARTS], const struct jwks *keys,
	bool ec, const char *kid, bool has_kid)
{
	struct buf sig = BUF_INIT;
	const char *input = parts[0].p;
	size_t input_len = parts[0].len + 1 + parts[1].len;
	bool tried = false;
	enum jose_err rc = JOSE_ERR_MALFORMED;

	if (seg_decode(&parts[2], &sig) != JOSE_OK || sig.len == 0)
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
	struct seg parts[JWS_PARTS];
	char kid[JWK_KID_MAX];
	bool has_kid = false;
	enum jose_err rc;

	if (payload)
		*payload = NULL;
	rc = split_compact(jws, len, parts, JWS_PARTS);
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
	rc = seg_json(&parts[1], JOSE_MAX_TOKEN_LEN, &body);
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
enum ce_kind { CE_GCM, CE_CBC_HS };

struct kw_alg {
	const char *name;
	enum kw_kind kind;
	size_t kek_len; /* AES key-wrapping key size; 0 when not AES */
};

struct ce_alg {
	const char *name;
	enum ce_kind kind;
	size_t cek_len;
	enum crypto_md md; /* CBC-HS only */
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

static const struct ce_alg ce_algs[] = {
	{ "A128GCM", CE_GCM, 16, CRYPTO_SHA256 },
	{ "A192GCM", CE_GCM, 24, CRYPTO_SHA256 },
	{ "A256GCM", CE_GCM, 32, CRYPTO_SHA256 },
	{ "A128CBC-HS256", CE_CBC_HS, 32, CRYPTO_SHA256 },
	{ "A192CBC-HS384", CE_CBC_HS, 48, CRYPTO_SHA384 },
	{ "A256CBC-HS512", CE_CBC_HS, 64, CRYPTO_SHA512 },
};

struct jwe_hdr {
	const struct kw_alg *alg;
	const struct ce_alg *enc;
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

static const struct ce_alg *ce_by_name(const char *s, size_t len)
{
	for (size_t i = 0; i < ARRAY_LEN(ce_algs); i++)
		if (str_eq_n(s, len, ce_algs[i].name))
			return &ce_algs[i];
	return NULL;
}

/* What every JWE protected header needs: a JSON object without zip or
 * crit, with string alg and enc. On JOSE_OK *hdr is the caller's. */
static enum jose_err jwe_header_open(const struct seg *sg, json_value **hdr, struct seg *alg,
	struct seg *enc)
{
	enum jose_err rc = seg_json(sg, JOSE_MAX_HEADER_LEN, hdr);

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

static enum jose_err jwe_header(const struct seg *sg, struct jwe_hdr *h)
{
	json_value *hdr = NULL;
	struct seg alg, enc;
	enum jose_err rc = jwe_header_open(sg, &hdr, &alg, &enc);

	if (rc != JOSE_OK)
		return rc;
	rc = JOSE_ERR_ALG;
	for (size_t i = 0; i < ARRAY_LEN(kw_algs) && !h->alg; i++)
		if (str_eq_n(alg.p, alg.len, kw_algs[i].name))
			h->alg = &kw_algs[i];
	h->enc = ce_by_name(enc.p, enc.len);
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
static enum jose_err cbc_hs_decrypt(const struct ce_alg *enc, const struct buf *cek,
	const struct seg *aad, const struct buf *iv, const struct buf *ct, const struct buf *tag,
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

static enum jose_err content_decrypt(const struct ce_alg *enc, const struct buf *cek,
	const struct seg *aad, const struct buf *iv, const struct buf *ct, const struct buf *tag,
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
	struct seg parts[JWE_PARTS];
	struct jwe_hdr h = { NULL, NULL, BUF_INIT, BUF_INIT };
	struct buf ek = BUF_INIT, iv = BUF_INIT, ct = BUF_INIT, tag = BUF_INIT, cek = BUF_INIT;
	enum jose_err rc;

	rc = split_compact(jwe, len, parts, JWE_PARTS);
	if (rc != JOSE_OK)
		goto fail;
	rc = JOSE_ERR_KEY;
	if (!key || !plaintext)
		goto fail;
	rc = jwe_header(&parts[0], &h);
	if (rc != JOSE_OK)
		goto fail;
	rc = JOSE_ERR_MALFORMED;
	if (seg_decode(&parts[1], &ek) != JOSE_OK || seg_decode(&parts[2], &iv) != JOSE_OK ||
	    seg_decode(&parts[3], &ct) != JOSE_OK || seg_decode(&parts[4], &tag) != JOSE_OK)
		goto fail;
	rc = jwe_unwrap(&h, key, &ek, &cek);
	if (rc != JOSE_OK)
		goto fail;
	rc = content_decrypt(h.enc, &cek, &parts[0], &iv, &ct, &tag, plaintext);
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
static enum jose_err jwk_ec_key(const json_value *jwk, bool want_private, crypto_ec_key **out)
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
		rc = jwk_ec_key(jwk, want_private, out);
	json_free(jwk);
	return rc;
}

/* ---- JWE with ECDH-ES key agreement (RFC 7518 §4.6) ---- */

/* Only the key-wrapping modes: Singpass publishes ECDH-ES+AxxxKW enc keys,
 * and direct ECDH-ES (no wrapped key) is not among the algorithms its
 * JWKS rules allow, so it is refused. Content: the two Singpass sends. */
struct ecdh_alg {
	const char *name;
	size_t kek_len;
};
static const struct ecdh_alg ecdh_algs[] = {
	{ "ECDH-ES+A128KW", 16 },
	{ "ECDH-ES+A192KW", 24 },
	{ "ECDH-ES+A256KW", 32 },
};
static const char *const ecdh_encs[] = { "A256CBC-HS512", "A256GCM" };

#define JWE_APU_MAX 256  /* decoded apu / apv bytes */

struct ecdh_hdr {
	const struct ecdh_alg *alg;
	const struct ce_alg *enc;
	crypto_ec_key *epk;
	struct buf apu, apv;
	char kid[JWK_KID_MAX];
	bool has_kid;
};

static void ecdh_hdr_free(struct ecdh_hdr *h)
{
	crypto_ec_key_free(h->epk);
	buf_free(&h->apu);
	buf_free(&h->apv);
}

/* apu / apv: optional base64url strings, decoded (empty when absent). */
static enum jose_err party_info(const json_value *hdr, const char *name, struct buf *out)
{
	const char *s;
	size_t len;

	if (opt_str(hdr, name, &s, &len) != JOSE_OK)
		return JOSE_ERR_MALFORMED;
	if (s && (len > b64url_encoded_len(JWE_APU_MAX) || b64url_decode(s, len, out) != 0))
		return JOSE_ERR_MALFORMED;
	return JOSE_OK;
}

static enum jose_err ecdh_header(const struct seg *sg, struct ecdh_hdr *h)
{
	json_value *hdr = NULL;
	struct seg alg, enc;
	enum jose_err rc = jwe_header_open(sg, &hdr, &alg, &enc);

	if (rc != JOSE_OK)
		return rc;
	rc = JOSE_ERR_ALG;
	for (size_t i = 0; i < ARRAY_LEN(ecdh_algs) && !h->alg; i++)
		if (str_eq_n(alg.p, alg.len, ecdh_algs[i].name))
			h->alg = &ecdh_algs[i];
	for (size_t i = 0; i < ARRAY_LEN(ecdh_encs) && !h->enc; i++)
		if (str_eq_n(enc.p, enc.len, ecdh_encs[i]))
			h->enc = ce_by_name(enc.p, enc.len);
	if (!h->alg || !h->enc)
		goto fail;
	rc = JOSE_ERR_MALFORMED;
	if (json_kind_of(json_get(hdr, "epk")) != JSON_OBJECT ||
	    party_info(hdr, "apu", &h->apu) != JOSE_OK || party_info(hdr, "apv", &h->apv) != JOSE_OK)
		goto fail;
	if ((rc = header_kid(hdr, h->kid, &h->has_kid)) != JOSE_OK)
		goto fail;
	/* The invalid-curve defence: the sender's point must be on P-256. */
	rc = jwk_ec_key(json_get(hdr, "epk"), false, &h->epk);
fail:
	json_free(hdr);
	return rc;
}

static void put_be32(struct buf *b, uint32_t v)
{
	uint8_t be[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
	/* room is reserved by the caller */
	memcpy(b->data + b->len, be, 4);
	b->len += 4;
}

int jose_concat_kdf(const uint8_t *z, size_t z_len, const char *alg_id,
	const uint8_t *apu, size_t apu_len, const uint8_t *apv, size_t apv_len,
	uint8_t *out, size_t out_len)
{
	struct buf in = BUF_INIT;
	size_t id_len = alg_id ? strlen(alg_id) : 0;
	uint8_t md[32];
	int rc = -1;

	if (!z || !alg_id || !out || out_len == 0 || out_len > 64 || apu_len > JWE_APU_MAX ||
	    apv_len > JWE_APU_MAX || (apu_len && !apu) || (apv_len && !apv))
		return -1;
	/* SHA-256(counter || Z || AlgorithmID || PartyUInfo || PartyVInfo ||
	 * SuppPubInfo), one round per 32 bytes of key */
	for (uint32_t round = 1; (size_t)(round - 1) * 32 < out_len; round++) {
		buf_reset(&in);
		if (buf_reserve(&in, 4 * 5 + z_len + id_len + apu_len + apv_len) != 0)
			goto fail;
		put_be32(&in, round);
		memcpy(in.data + in.len, z, z_len);
		in.len += z_len;
		put_be32(&in, (uint32_t)id_len);
		memcpy(in.data + in.len, alg_id, id_len);
		in.len += id_len;
		put_be32(&in, (uint32_t)apu_len);
		if (apu_len)
			memcpy(in.data + in.len, apu, apu_len);
		in.len += apu_len;
		put_be32(&in, (uint32_t)apv_len);
		if (apv_len)
			memcpy(in.data + in.len, apv, apv_len);
		in.len += apv_len;
		put_be32(&in, (uint32_t)(out_len * 8));
		if (crypto_sha256(in.data, in.len, md) != 0)
			goto fail;
		size_t off = (size_t)(round - 1) * 32, n = out_len - off < 32 ? out_len - off : 32;
		memcpy(out + off, md, n);
	}
	rc = 0;
fail:
	secure_zero(md, sizeof(md));
	buf_free(&in);
	if (rc != 0)
		secure_zero(out, out_len);
	return rc;
}

/* One recipient key: agree, derive the KEK, unwrap the CEK, open the
 * content. JOSE_ERR_DECRYPT when this key does not fit. */
static enum jose_err ecdh_try(const struct ecdh_hdr *h, const crypto_ec_key *own,
	const struct seg *aad, const struct buf *ek, const struct buf *iv, const struct buf *ct,
	const struct buf *tag, struct buf *out)
{
	uint8_t z[CRYPTO_EC_COORD_LEN], kek[32];
	struct buf cek = BUF_INIT;
	enum jose_err rc = JOSE_ERR_KEY;

	if (!crypto_ec_key_has_private(own) || crypto_ecdh_p256(own, h->epk, z) != 0)
		goto fail;
	rc = JOSE_ERR_NOMEM;
	if (jose_concat_kdf(z, sizeof(z), h->alg->name, (const uint8_t *)h->apu.data, h->apu.len,
			(const uint8_t *)h->apv.data, h->apv.len, kek, h->alg->kek_len) != 0)
		goto fail;
	rc = JOSE_ERR_DECRYPT;
	if (crypto_aes_key_unwrap(kek, h->alg->kek_len, (const uint8_t *)ek->data, ek->len, &cek) != 0 ||
	    cek.len != h->enc->cek_len)
		goto fail;
	rc = content_decrypt(h->enc, &cek, aad, iv, ct, tag, out);
fail:
	secure_zero(z, sizeof(z));
	secure_zero(kek, sizeof(kek));
	buf_free(&cek);
	return rc;
}

enum jose_err jwe_decrypt_ecdh(const char *jwe, size_t len, const struct jwe_ec_key *keys, size_t n,
	struct buf *plaintext, size_t *used)
{
	struct seg parts[JWE_PARTS];
	struct ecdh_hdr h;
	struct buf ek = BUF_INIT, iv = BUF_INIT, ct = BUF_INIT, tag = BUF_INIT;
	enum jose_err rc;

	memset(&h, 0, sizeof(h));
	rc = split_compact(jwe, len, parts, JWE_PARTS);
	if (rc != JOSE_OK)
		goto fail;
	rc = JOSE_ERR_KEY;
	if (!plaintext || (!keys && n))
		goto fail;
	rc = ecdh_header(&parts[0], &h);
	if (rc != JOSE_OK)
		goto fail;
	rc = JOSE_ERR_MALFORMED;
	if (seg_decode(&parts[1], &ek) != JOSE_OK || seg_decode(&parts[2], &iv) != JOSE_OK ||
	    seg_decode(&parts[3], &ct) != JOSE_OK || seg_decode(&parts[4], &tag) != JOSE_OK)
		goto fail;
	/* With a kid only the key of that kid is used; without one every key,
	 * current first. A key that does not open it (DECRYPT) passes to the
	 * next; any other failure is the JWE's own. */
	rc = JOSE_ERR_NO_KEY;
	for (size_t i = 0; i < n; i++) {
		if (h.has_kid && !(keys[i].kid && strcmp(keys[i].kid, h.kid) == 0))
			continue;
		rc = ecdh_try(&h, keys[i].key, &parts[0], &ek, &iv, &ct, &tag, plaintext);
		if (rc == JOSE_OK && used)
			*used = i;
		if (rc != JOSE_ERR_DECRYPT)
			break;
	}
fail:
	ecdh_hdr_free(&h);
	buf_free(&ek);
	buf_free(&iv);
	buf_free(&ct);
	buf_free(&tag);
	return rc;
}
