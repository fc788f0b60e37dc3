/* Fuzz target: ECDH-ES JWE decryption (jwe_decrypt_ecdh): the protected
 * header with its epk, apu, apv and kid, key agreement, Concat KDF, key
 * unwrap and content decryption, against the RP keys of the vectors
 * (current kid rp-enc-1, previous kid rp-enc-0).
 *
 * The first byte selects a mode (byte % 3):
 *  0  raw: the rest is a compact JWE. Properties: a failure appends
 *     nothing to the plaintext buffer; the result is deterministic; input
 *     over JOSE_MAX_TOKEN_LEN is refused; an accepted JWE has five parts,
 *     an allowed alg (ECDH-ES+A128/192/256KW) and enc (A256CBC-HS512,
 *     A256GCM), no zip or crit, an epk, and one changed character makes it
 *     fail; no keys never decrypt.
 *  1  epk: the rest is the text of the "epk" member, put in the header of
 *     a JWE made at start-up to the current key (the other segments kept).
 *     Properties: accepted exactly when the header is byte for byte the
 *     original; when the assembled header keeps the original alg, enc and
 *     kid and adds no zip/crit/apu/apv, the result agrees with
 *     jwk_ec_parse on the epk: a valid P-256 point gets as far as the key
 *     unwrap (JOSE_ERR_DECRYPT), anything else is JOSE_ERR_KEY (an object)
 *     or JOSE_ERR_MALFORMED (not an object), before any key agreement.
 *  2  round trip: one byte of choices (alg, enc, kid or not, apu/apv,
 *     current or previous key), then a plaintext encrypted here with
 *     jwe_encrypt_ecdh; it must decrypt to the same bytes with the key it
 *     was made for, and fail after one changed character. */
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "crypto_ec.h"
#include "fuzz.h"
#include "fuzz_keys.h"
#include "jose.h"
#include "json.h"
#include "util.h"

static crypto_ec_key *g_cur, *g_prev;
static struct jwe_ec_key g_keys[2];
static struct buf g_jwe, g_epk, g_header;  /* mode 1's template */

static const char prefix[] = "prefix:";
#define HDR_HEAD "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256GCM\",\"kid\":\"" FUZZ_EC_ENC_KID "\",\"epk\":"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_REQUIRE(jwk_ec_parse(fuzz_ec_enc_jwk, strlen(fuzz_ec_enc_jwk), true, &g_cur) == JOSE_OK);
	FUZZ_REQUIRE(jwk_ec_parse(fuzz_ec_enc_prev_jwk, strlen(fuzz_ec_enc_prev_jwk), true, &g_prev) ==
		JOSE_OK);
	g_keys[0] = (struct jwe_ec_key){ g_cur, FUZZ_EC_ENC_KID };
	g_keys[1] = (struct jwe_ec_key){ g_prev, FUZZ_EC_ENC_PREV_KID };
	/* a fixed ephemeral key, so the template is the same in every run */
	static const uint8_t eph_d[32] = { 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
		7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7 };
	crypto_ec_key *eph = crypto_ec_key_from_private(eph_d);
	FUZZ_REQUIRE(eph != NULL && jwk_ec_public_json(eph, &g_epk) == 0);
	struct jwe_ecdh_params p = { "ECDH-ES+A256KW", "A256GCM", FUZZ_EC_ENC_KID, NULL, NULL, NULL,
		0, 0, eph };
	FUZZ_REQUIRE(jwe_encrypt_ecdh(&p, g_cur, "fuzz", 4, &g_jwe) == JOSE_OK);
	FUZZ_REQUIRE(buf_append_strs(&g_header, HDR_HEAD, g_epk.data, "}", (char *)NULL) == 0);
	crypto_ec_key_free(eph);
	/* our header is exactly the template */
	struct buf first = BUF_INIT;
	FUZZ_REQUIRE(b64url_decode(g_jwe.data, (size_t)(strchr(g_jwe.data, '.') - g_jwe.data), &first) == 0);
	FUZZ_REQUIRE(strcmp(first.data, g_header.data) == 0);
	buf_free(&first);
	return 0;
}

static enum jose_err decrypt(const char *tok, size_t len, const struct jwe_ec_key *keys, size_t n,
	struct buf *pt)
{
	struct buf out = BUF_INIT;
	FUZZ_ASSERT(buf_append_str(&out, prefix) == 0);
	enum jose_err rc = jwe_decrypt_ecdh(tok, len, keys, n, &out, NULL);
	FUZZ_ASSERT((unsigned)rc < JOSE_ERR__MAX);
	FUZZ_ASSERT(out.len >= sizeof(prefix) - 1 && memcmp(out.data, prefix, sizeof(prefix) - 1) == 0);
	if (rc != JOSE_OK)
		FUZZ_ASSERT(out.len == sizeof(prefix) - 1);
	buf_reset(pt);
	FUZZ_ASSERT(buf_append(pt, out.data + sizeof(prefix) - 1, out.len - (sizeof(prefix) - 1)) == 0);
	buf_free(&out);
	return rc;
}

static bool in_list(const char *s, size_t len, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strlen(list[i]) == len && memcmp(s, list[i], len) == 0)
			return true;
	return false;
}

static void mode_raw(const uint8_t *d, size_t n)
{
	static const char *const algs[] = { "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW" };
	static const char *const encs[] = { "A256CBC-HS512", "A256GCM" };
	const char *tok = (const char *)d;
	struct buf pt = BUF_INIT, again = BUF_INIT;

	enum jose_err rc = decrypt(tok, n, g_keys, 2, &pt);
	FUZZ_ASSERT(decrypt(tok, n, g_keys, 2, &again) == rc);
	FUZZ_ASSERT(pt.len == again.len && (pt.len == 0 || memcmp(pt.data, again.data, pt.len) == 0));
	if (n > JOSE_MAX_TOKEN_LEN)
		FUZZ_ASSERT(rc == JOSE_ERR_TOO_LARGE);
	FUZZ_ASSERT(decrypt(tok, n, NULL, 0, &again) != JOSE_OK);
	if (rc == JOSE_OK) {
		FUZZ_ASSERT(fuzz_count(tok, n, ".") == 4);
		struct buf raw = BUF_INIT;
		FUZZ_ASSERT(b64url_decode(tok, (size_t)((const char *)memchr(tok, '.', n) - tok), &raw) == 0);
		json_value *h = json_parse(raw.data, raw.len, raw.len + 1);
		size_t al, el;
		const char *alg = json_get_str(h, "alg", &al), *enc = json_get_str(h, "enc", &el);
		FUZZ_ASSERT(alg && in_list(alg, al, algs, 3) && enc && in_list(enc, el, encs, 2));
		FUZZ_ASSERT(!json_has(h, "zip") && !json_has(h, "crit"));
		FUZZ_ASSERT(json_kind_of(json_get(h, "epk")) == JSON_OBJECT);
		json_free(h);
		buf_free(&raw);
		char *bad = fuzz_strndup(tok, n);
		if (fuzz_flip_char(bad, n, fuzz_hash(d, n)))
			FUZZ_ASSERT(decrypt(bad, n, g_keys, 2, &again) != JOSE_OK);
		free(bad);
	}
	buf_free(&pt);
	buf_free(&again);
}

static void mode_epk(const uint8_t *d, size_t n)
{
	struct buf hdr = BUF_INIT, tok = BUF_INIT, pt = BUF_INIT;

	if (n > 4096)
		return;
	FUZZ_ASSERT(buf_append_str(&hdr, HDR_HEAD) == 0 && buf_append(&hdr, d, n) == 0 &&
		buf_append_char(&hdr, '}') == 0);
	FUZZ_ASSERT(b64url_encode((const uint8_t *)hdr.data, hdr.len, &tok) == 0);
	FUZZ_ASSERT(buf_append_str(&tok, strchr(g_jwe.data, '.')) == 0);
	enum jose_err rc = decrypt(tok.data, tok.len, g_keys, 2, &pt);
	bool same = hdr.len == g_header.len && memcmp(hdr.data, g_header.data, hdr.len) == 0;
	FUZZ_ASSERT((rc == JOSE_OK) == same);

	/* the model, when the rest of the assembled header is the template's */
	json_value *h = json_parse(hdr.data, hdr.len, hdr.len + 1);
	if (h && json_object_len(h) == 4 && json_has(h, "epk") &&
	    json_get_str(h, "alg", NULL) && strcmp(json_get_str(h, "alg", NULL), "ECDH-ES+A256KW") == 0 &&
	    json_get_str(h, "enc", NULL) && strcmp(json_get_str(h, "enc", NULL), "A256GCM") == 0 &&
	    json_get_str(h, "kid", NULL) && strcmp(json_get_str(h, "kid", NULL), FUZZ_EC_ENC_KID) == 0) {
		const json_value *epk = json_get(h, "epk");
		if (json_kind_of(epk) != JSON_OBJECT) {
			FUZZ_ASSERT(rc == JOSE_ERR_MALFORMED);
		} else {
			struct buf text = BUF_INIT;
			crypto_ec_key *k = NULL;
			FUZZ_ASSERT(json_append_value(&text, epk) == 0);
			/* (the writer may lengthen it past a single JWK's bound) */
			if (text.len <= JWK_EC_MAX_LEN) {
				bool valid = jwk_ec_parse(text.data, text.len, false, &k) == JOSE_OK;
				FUZZ_ASSERT(valid ? (rc == JOSE_OK || rc == JOSE_ERR_DECRYPT) :
					rc == JOSE_ERR_KEY);
			}
			crypto_ec_key_free(k);
			buf_free(&text);
		}
	}
	json_free(h);
	buf_free(&hdr);
	buf_free(&tok);
	buf_free(&pt);
}

static void mode_roundtrip(const uint8_t *d, size_t n)
{
	static const char *const algs[] = { "ECDH-ES+A128KW", "ECDH-ES+A192KW", "ECDH-ES+A256KW" };
	struct buf tok = BUF_INIT, pt = BUF_INIT;

	if (n < 1 || n > 16 * 1024)
		return;
	uint8_t c = d[0];
	bool prev = c & 0x40;
	struct jwe_ecdh_params p = { algs[c % 3], (c / 3) % 2 ? "A256GCM" : "A256CBC-HS512",
		(c & 0x10) ? (prev ? FUZZ_EC_ENC_PREV_KID : FUZZ_EC_ENC_KID) : NULL, NULL,
		(c & 0x20) ? (const uint8_t *)"apu" : NULL, (c & 0x20) ? (const uint8_t *)"apv-value" : NULL,
		(c & 0x20) ? 3 : 0, (c & 0x20) ? 9 : 0, NULL };
	FUZZ_ASSERT(jwe_encrypt_ecdh(&p, prev ? g_prev : g_cur, d + 1, n - 1, &tok) == JOSE_OK);
	FUZZ_ASSERT(decrypt(tok.data, tok.len, g_keys, 2, &pt) == JOSE_OK);
	FUZZ_ASSERT(pt.len == n - 1 && (n == 1 || memcmp(pt.data, d + 1, n - 1) == 0));
	/* to the previous key with its kid: the current key alone is no key */
	if (prev && p.kid)
		FUZZ_ASSERT(decrypt(tok.data, tok.len, g_keys, 1, &pt) == JOSE_ERR_NO_KEY);
	char *bad = fuzz_strndup(tok.data, tok.len);
	if (fuzz_flip_char(bad, tok.len, fuzz_hash(d, n)))
		FUZZ_ASSERT(decrypt(bad, tok.len, g_keys, 2, &pt) != JOSE_OK);
	free(bad);
	buf_free(&tok);
	buf_free(&pt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	switch (data[0] % 3) {
	case 0: mode_raw(data + 1, size - 1); break;
	case 1: mode_epk(data + 1, size - 1); break;
	default: mode_roundtrip(data + 1, size - 1); break;
	}
	return 0;
}
