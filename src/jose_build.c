/* jose_build: the producing side of JOSE (jose.c is the consuming side):
 * ES256 compact JWS, EC public JWKs and their RFC 7638 thumbprints, jti
 * values, and an ECDH-ES JWE producer for tests, fuzz seeds and the bench.
 * Everything a Singpass relying party signs goes through jws_sign_es256. */
#include "jose.h"

#include <stdio.h>
#include <string.h>

#include "b64.h"
#include "json.h"
#include "util.h"

int jwk_ec_public_json(const crypto_ec_key *k, struct buf *out)
{
	uint8_t x[CRYPTO_EC_COORD_LEN], y[CRYPTO_EC_COORD_LEN];

	if (crypto_ec_key_public(k, x, y) != 0)
		return -1;
	/* members in lexicographic order, no whitespace: RFC 7638 §3.2 */
	if (buf_append_str(out, "{\"crv\":\"P-256\",\"kty\":\"EC\",\"x\":\"") != 0 ||
	    b64url_encode(x, sizeof(x), out) != 0 || buf_append_str(out, "\",\"y\":\"") != 0 ||
	    b64url_encode(y, sizeof(y), out) != 0 || buf_append_str(out, "\"}") != 0)
		return -1;
	return 0;
}

int jwk_ec_thumbprint(const crypto_ec_key *k, char out[JWK_THUMBPRINT_LEN + 1])
{
	struct buf json = BUF_INIT, b64 = BUF_INIT;
	uint8_t md[32];
	int rc = -1;

	if (jwk_ec_public_json(k, &json) == 0 && crypto_sha256(json.data, json.len, md) == 0 &&
	    b64url_encode(md, sizeof(md), &b64) == 0 && b64.len == JWK_THUMBPRINT_LEN) {
		memcpy(out, b64.data, JWK_THUMBPRINT_LEN + 1);
		rc = 0;
	}
	buf_free(&json);
	buf_free(&b64);
	return rc;
}

int jwt_new_jti(char out[JWT_JTI_LEN + 1])
{
	uint8_t r[16];
	char hex[33];

	if (crypto_random(r, sizeof(r)) != 0)
		return -1;
	r[6] = (uint8_t)((r[6] & 0x0f) | 0x40); /* version 4 */
	r[8] = (uint8_t)((r[8] & 0x3f) | 0x80); /* RFC 4122 variant */
	hex_encode(r, sizeof(r), hex);
	snprintf(out, JWT_JTI_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex, hex + 8, hex + 12,
		hex + 16, hex + 20);
	return 0;
}

enum jose_err jws_sign_es256(const char *header, size_t header_len, const char *payload,
	size_t payload_len, const crypto_ec_key *key, struct buf *out)
{
	uint8_t sig[CRYPTO_ES256_SIG_LEN];
	size_t start = out ? out->len : 0;

	if (!crypto_ec_key_has_private(key))
		return JOSE_ERR_KEY;
	if (!out || !header || !payload)
		return JOSE_ERR_MALFORMED;
	if (b64url_encoded_len(header_len) + b64url_encoded_len(payload_len) + 90 > JOSE_MAX_TOKEN_LEN)
		return JOSE_ERR_TOO_LARGE;
	if (b64url_encode((const uint8_t *)header, header_len, out) != 0 ||
	    buf_append_char(out, '.') != 0 ||
	    b64url_encode((const uint8_t *)payload, payload_len, out) != 0)
		goto nomem;
	if (crypto_es256_sign(key, out->data + start, out->len - start, sig) != 0) {
		out->len = start;
		out->data[start] = '\0';
		return JOSE_ERR_KEY;
	}
	if (buf_append_char(out, '.') != 0 || b64url_encode(sig, sizeof(sig), out) != 0)
		goto nomem;
	return JOSE_OK;
nomem:
	if (out->data) {
		out->len = start;
		out->data[start] = '\0';
	}
	return JOSE_ERR_NOMEM;
}

/* ---- ECDH-ES JWE producer (tests, fuzz seeds, bench) ---- */

static size_t kek_len_of(const char *alg)
{
	return !alg ? 0 : strcmp(alg, "ECDH-ES+A128KW") == 0 ? 16 :
		strcmp(alg, "ECDH-ES+A192KW") == 0 ? 24 : strcmp(alg, "ECDH-ES+A256KW") == 0 ? 32 : 0;
}

static int header_json(const struct jwe_ecdh_params *p, const crypto_ec_key *epk, struct buf *h)
{
	if (buf_append_str(h, "{\"alg\":") != 0 || json_append_string(h, p->alg, strlen(p->alg)) != 0 ||
	    buf_append_str(h, ",\"enc\":") != 0 || json_append_string(h, p->enc, strlen(p->enc)) != 0)
		return -1;
	if (p->kid && (buf_append_str(h, ",\"kid\":") != 0 ||
	               json_append_string(h, p->kid, strlen(p->kid)) != 0))
		return -1;
	if (buf_append_str(h, ",\"epk\":") != 0 || jwk_ec_public_json(epk, h) != 0)
		return -1;
	if (p->apu && (buf_append_str(h, ",\"apu\":\"") != 0 ||
	               b64url_encode(p->apu, p->apu_len, h) != 0 || buf_append_char(h, '"') != 0))
		return -1;
	if (p->apv && (buf_append_str(h, ",\"apv\":\"") != 0 ||
	               b64url_encode(p->apv, p->apv_len, h) != 0 || buf_append_char(h, '"') != 0))
		return -1;
	if (p->extra && (buf_append_char(h, ',') != 0 || buf_append_str(h, p->extra) != 0))
		return -1;
	return buf_append_char(h, '}');
}

/* Content encryption; appends b64u(iv).b64u(ct).b64u(tag) to out. */
static int seal_content(bool gcm, const uint8_t *cek, const char *aad, size_t aad_len,
	const void *pt, size_t len, struct buf *out)
{
	uint8_t iv[16], tag[64];
	size_t iv_len = gcm ? 12 : 16, tag_len = gcm ? 16 : 32, mac_len = 0;
	struct buf ct = BUF_INIT, mac_in = BUF_INIT;
	int rc = -1;

	if (crypto_random(iv, iv_len) != 0)
		goto fail;
	if (gcm) {
		if (crypto_aes_gcm_encrypt(cek, 32, iv, iv_len, (const uint8_t *)aad, aad_len, pt, len,
				&ct, tag) != 0)
			goto fail;
	} else {
		/* RFC 7518 §5.2.2.1: MAC key first half, encryption key second */
		uint8_t al[8];
		uint64_t bits = (uint64_t)aad_len * 8;
		for (int i = 7; i >= 0; i--, bits >>= 8)
			al[i] = (uint8_t)bits;
		if (crypto_aes_cbc_encrypt(cek + 32, 32, iv, pt, len, &ct) != 0 ||
		    buf_append(&mac_in, aad, aad_len) != 0 || buf_append(&mac_in, iv, iv_len) != 0 ||
		    buf_append(&mac_in, ct.data, ct.len) != 0 || buf_append(&mac_in, al, 8) != 0 ||
		    crypto_hmac(CRYPTO_SHA512, cek, 32, mac_in.data, mac_in.len, tag, &mac_len) != 0)
			goto fail;
	}
	if (b64url_encode(iv, iv_len, out) != 0 || buf_append_char(out, '.') != 0 ||
	    b64url_encode((const uint8_t *)ct.data, ct.len, out) != 0 ||
	    buf_append_char(out, '.') != 0 || b64url_encode(tag, tag_len, out) != 0)
		goto fail;
	rc = 0;
fail:
	buf_free(&ct);
	buf_free(&mac_in);
	return rc;
}

enum jose_err jwe_encrypt_ecdh(const struct jwe_ecdh_params *p, const crypto_ec_key *recipient,
	const void *plaintext, size_t len, struct buf *out)
{
	crypto_ec_key *fresh = NULL;
	const crypto_ec_key *epk;
	uint8_t z[CRYPTO_EC_COORD_LEN], kek[32], cek[64];
	struct buf hdr = BUF_INIT, ek = BUF_INIT;
	size_t kek_len = p ? kek_len_of(p->alg) : 0, start = out ? out->len : 0;
	bool gcm = p && p->enc && strcmp(p->enc, "A256GCM") == 0;
	size_t cek_len = gcm ? 32 : 64;
	enum jose_err rc = JOSE_ERR_ALG;

	if (!out || !kek_len || !p->enc || (!gcm && strcmp(p->enc, "A256CBC-HS512") != 0))
		goto fail;
	rc = JOSE_ERR_KEY;
	epk = p->epk ? p->epk : (fresh = crypto_ec_key_generate());
	if (!epk || crypto_ecdh_p256(epk, recipient, z) != 0)
		goto fail;
	rc = JOSE_ERR_NOMEM;
	if (jose_concat_kdf(z, sizeof(z), p->alg, p->apu, p->apu_len, p->apv, p->apv_len,
			kek, kek_len) != 0 || crypto_random(cek, cek_len) != 0 ||
	    crypto_aes_key_wrap(kek, kek_len, cek, cek_len, &ek) != 0 ||
	    header_json(p, epk, &hdr) != 0)
		goto fail;
	if (b64url_encode((const uint8_t *)hdr.data, hdr.len, out) != 0)
		goto fail;
	size_t aad_end = out->len;
	if (buf_append_char(out, '.') != 0 ||
	    b64url_encode((const uint8_t *)ek.data, ek.len, out) != 0 || buf_append_char(out, '.') != 0)
		goto fail;
	/* the AAD is the first segment: copy it, out may move as it grows */
	struct buf aad = BUF_INIT;
	int sealed = buf_append(&aad, out->data + start, aad_end - start) == 0 ?
		seal_content(gcm, cek, aad.data, aad.len, plaintext, len, out) : -1;
	buf_free(&aad);
	if (sealed != 0)
		goto fail;
	rc = JOSE_OK;
fail:
	if (rc != JOSE_OK && out && out->data) {
		out->len = start;
		out->data[start] = '\0';
	}
	secure_zero(z, sizeof(z));
	secure_zero(kek, sizeof(kek));
	secure_zero(cek, sizeof(cek));
	crypto_ec_key_free(fresh);
	buf_free(&hdr);
	buf_free(&ek);
	return rc;
}
