/* dpop: DPoP proof construction (RFC 9449 §4.2) on jose_build and
 * crypto_ec. Ready for the Singpass provider: dpop_key_generate per login,
 * dpop_key_export/import around the attempt cookie, dpop_proof for PAR,
 * token and userinfo (with the server nonce on the one retry), the key's
 * jkt for the PAR's dpop_jkt. Nothing here talks to the network. */
#include "dpop.h"

#include <string.h>

#include "b64.h"
#include "json.h"
#include "util.h"

static int key_finish(struct dpop_key *k)
{
	buf_reset(&k->jwk);
	if (!k->key || jwk_ec_public_json(k->key, &k->jwk) != 0 ||
	    jwk_ec_thumbprint(k->key, k->jkt) != 0) {
		dpop_key_free(k);
		return -1;
	}
	return 0;
}

int dpop_key_generate(struct dpop_key *k)
{
	memset(k, 0, sizeof(*k));
	k->key = crypto_ec_key_generate();
	return key_finish(k);
}

int dpop_key_export(const struct dpop_key *k, uint8_t out[DPOP_KEY_SEALED_LEN])
{
	return k && k->key ? crypto_ec_key_private(k->key, out) : -1;
}

int dpop_key_import(struct dpop_key *k, const uint8_t *in, size_t len)
{
	memset(k, 0, sizeof(*k));
	if (!in || len != DPOP_KEY_SEALED_LEN)
		return -1;
	k->key = crypto_ec_key_from_private(in);
	return key_finish(k);
}

void dpop_key_free(struct dpop_key *k)
{
	if (!k)
		return;
	crypto_ec_key_free(k->key);
	buf_free(&k->jwk);
	memset(k, 0, sizeof(*k));
}

int dpop_htu(const char *url, size_t len, struct buf *out)
{
	size_t end = 0, host;

	if (!url || len > DPOP_HTU_MAX)
		return -1;
	if (len > 8 && memcmp(url, "https://", 8) == 0)
		host = 8;
	else if (len > 7 && memcmp(url, "http://", 7) == 0)
		host = 7;
	else
		return -1;
	while (end < len && url[end] != '?' && url[end] != '#') {
		unsigned char c = (unsigned char)url[end];
		if (c <= 0x20 || c >= 0x7f)
			return -1;
		end++;
	}
	if (end == host || url[host] == '/')
		return -1; /* no host */
	return buf_append(out, url, end);
}

int dpop_ath(const char *token, size_t len, char out[JWK_THUMBPRINT_LEN + 1])
{
	struct buf b = BUF_INIT;
	uint8_t md[32];
	int rc = -1;

	if (token && len > 0 && len <= DPOP_TOKEN_MAX && crypto_sha256(token, len, md) == 0 &&
	    b64url_encode(md, sizeof(md), &b) == 0 && b.len == JWK_THUMBPRINT_LEN) {
		memcpy(out, b.data, JWK_THUMBPRINT_LEN + 1);
		rc = 0;
	}
	buf_free(&b);
	return rc;
}

bool dpop_nonce_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > DPOP_NONCE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
			return false;
	}
	return true;
}

int dpop_proof(const struct dpop_key *k, const struct dpop_request *r, struct buf *out)
{
	struct buf hdr = BUF_INIT, pl = BUF_INIT, htu = BUF_INIT;
	char jti[JWT_JTI_LEN + 1], ath[JWK_THUMBPRINT_LEN + 1];
	int rc = -1;

	if (!k || !k->key || !k->jwk.len || !r || !out || !r->htm ||
	    (strcmp(r->htm, "GET") != 0 && strcmp(r->htm, "POST") != 0) ||
	    dpop_htu(r->htu, r->htu_len, &htu) != 0 || (r->nonce && !dpop_nonce_valid(r->nonce)) ||
	    (r->access_token && dpop_ath(r->access_token, r->access_token_len, ath) != 0) ||
	    r->iat <= 0 || r->iat > INT64_MAX - DPOP_PROOF_LIFETIME || jwt_new_jti(jti) != 0)
		goto fail;
	if (buf_append_strs(&hdr, "{\"typ\":\"dpop+jwt\",\"alg\":\"ES256\",\"jwk\":", k->jwk.data,
			"}", (char *)NULL) != 0)
		goto fail;
	if (buf_append_strs(&pl, "{\"jti\":\"", jti, "\",\"htm\":\"", r->htm, "\",\"htu\":",
			(char *)NULL) != 0 || json_append_string(&pl, htu.data, htu.len) != 0 ||
	    buf_append_str(&pl, ",\"iat\":") != 0 || buf_append_int(&pl, r->iat) != 0 ||
	    buf_append_str(&pl, ",\"exp\":") != 0 ||
	    buf_append_int(&pl, r->iat + DPOP_PROOF_LIFETIME) != 0)
		goto fail;
	if (r->nonce && (buf_append_str(&pl, ",\"nonce\":") != 0 ||
	                 json_append_string(&pl, r->nonce, strlen(r->nonce)) != 0))
		goto fail;
	if (r->access_token && buf_append_strs(&pl, ",\"ath\":\"", ath, "\"", (char *)NULL) != 0)
		goto fail;
	if (buf_append_char(&pl, '}') != 0)
		goto fail;
	rc = jws_sign_es256(hdr.data, hdr.len, pl.data, pl.len, k->key, out) == JOSE_OK ? 0 : -1;
fail:
	buf_free(&hdr);
	buf_free(&pl);
	buf_free(&htu);
	return rc;
}
