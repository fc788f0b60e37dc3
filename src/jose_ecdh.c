/* jose_ecdh: JWE decryption with ECDH-ES key agreement (RFC 7518 §4.6),
 * the way Singpass encrypts ID tokens and userinfo to the relying party:
 * ECDH-ES+A128KW/A192KW/A256KW, content A256CBC-HS512 or A256GCM. The
 * sender's epk is validated on P-256 before any key agreement (the
 * invalid-curve defence); the compact-serialization helpers and content
 * ciphers are jose.c's (jose_internal.h). */
#include "jose.h"

#include <string.h>

#include "b64.h"
#include "jose_internal.h"
#include "util.h"

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
	const struct jose_ce_alg *enc;
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

	if (jose_opt_str(hdr, name, &s, &len) != JOSE_OK)
		return JOSE_ERR_MALFORMED;
	if (s && (len > b64url_encoded_len(JWE_APU_MAX) || b64url_decode(s, len, out) != 0))
		return JOSE_ERR_MALFORMED;
	return JOSE_OK;
}

static enum jose_err ecdh_header(const struct jose_seg *sg, struct ecdh_hdr *h)
{
	json_value *hdr = NULL;
	struct jose_seg alg, enc;
	enum jose_err rc = jose_jwe_header_open(sg, &hdr, &alg, &enc);

	if (rc != JOSE_OK)
		return rc;
	rc = JOSE_ERR_ALG;
	for (size_t i = 0; i < ARRAY_LEN(ecdh_algs) && !h->alg; i++)
		if (str_eq_n(alg.p, alg.len, ecdh_algs[i].name))
			h->alg = &ecdh_algs[i];
	for (size_t i = 0; i < ARRAY_LEN(ecdh_encs) && !h->enc; i++)
		if (str_eq_n(enc.p, enc.len, ecdh_encs[i]))
			h->enc = jose_ce_by_name(enc.p, enc.len);
	if (!h->alg || !h->enc)
		goto fail;
	rc = JOSE_ERR_MALFORMED;
	if (json_kind_of(json_get(hdr, "epk")) != JSON_OBJECT ||
	    party_info(hdr, "apu", &h->apu) != JOSE_OK || party_info(hdr, "apv", &h->apv) != JOSE_OK)
		goto fail;
	if ((rc = jose_header_kid(hdr, h->kid, &h->has_kid)) != JOSE_OK)
		goto fail;
	/* The invalid-curve defence: the sender's point must be on P-256. */
	rc = jose_jwk_ec_key(json_get(hdr, "epk"), false, &h->epk);
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
	const struct jose_seg *aad, const struct buf *ek, const struct buf *iv, const struct buf *ct,
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
	rc = jose_content_decrypt(h->enc, &cek, aad, iv, ct, tag, out);
fail:
	secure_zero(z, sizeof(z));
	secure_zero(kek, sizeof(kek));
	buf_free(&cek);
	return rc;
}

enum jose_err jwe_decrypt_ecdh(const char *jwe, size_t len, const struct jwe_ec_key *keys, size_t n,
	struct buf *plaintext, size_t *used)
{
	struct jose_seg parts[JWE_PARTS];
	struct ecdh_hdr h;
	struct buf ek = BUF_INIT, iv = BUF_INIT, ct = BUF_INIT, tag = BUF_INIT;
	enum jose_err rc;

	memset(&h, 0, sizeof(h));
	rc = jose_split_compact(jwe, len, parts, JWE_PARTS);
	if (rc != JOSE_OK)
		goto fail;
	rc = JOSE_ERR_KEY;
	if (!plaintext || (!keys && n))
		goto fail;
	rc = ecdh_header(&parts[0], &h);
	if (rc != JOSE_OK)
		goto fail;
	rc = JOSE_ERR_MALFORMED;
	if (jose_seg_decode(&parts[1], &ek) != JOSE_OK || jose_seg_decode(&parts[2], &iv) != JOSE_OK ||
	    jose_seg_decode(&parts[3], &ct) != JOSE_OK || jose_seg_decode(&parts[4], &tag) != JOSE_OK)
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
