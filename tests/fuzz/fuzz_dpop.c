/* Fuzz target: DPoP proof construction (dpop_proof) and its htu
 * normalisation (dpop_htu), with a key made at start-up.
 *
 * Input: one flags byte (bit 0: POST, else GET; bit 1: send the nonce
 * field; bit 2: send the token field), then htu NUL nonce NUL token.
 * Properties: dpop_htu accepts exactly an http:// or https:// URL with a
 * host, at most DPOP_HTU_MAX bytes, no byte outside 0x21..0x7e before its
 * first '?' or '#', and returns exactly that part (a model written here);
 * dpop_proof succeeds exactly when htu, nonce (1..512 characters of RFC
 * 9449's NQCHAR) and token (1..16 KiB) are acceptable, appends nothing
 * otherwise, and an accepted proof verifies under the jwk of its own
 * header, whose thumbprint is the key's jkt, with htm, htu (normalised),
 * nonce and ath (base64url SHA-256 of the token, computed here) as asked. */
#include <string.h>

#include "b64.h"
#include "buf.h"
#include "crypto.h"
#include "dpop.h"
#include "fuzz.h"
#include "jose.h"
#include "json.h"

static struct dpop_key g_key;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	FUZZ_REQUIRE(dpop_key_generate(&g_key) == 0);
	return 0;
}

/* The htu model: the accepted prefix length, or -1. */
static long htu_model(const char *u, size_t n)
{
	size_t host;
	if (n > DPOP_HTU_MAX)
		return -1;
	if (n > 8 && memcmp(u, "https://", 8) == 0)
		host = 8;
	else if (n > 7 && memcmp(u, "http://", 7) == 0)
		host = 7;
	else
		return -1;
	size_t end = 0;
	while (end < n && u[end] != '?' && u[end] != '#')
		end++;
	for (size_t i = 0; i < end; i++)
		if ((unsigned char)u[i] < 0x21 || (unsigned char)u[i] > 0x7e)
			return -1;
	if (end == host || u[host] == '/')
		return -1;
	return (long)end;
}

static bool nonce_model(const char *s, size_t n)
{
	if (n == 0 || n > DPOP_NONCE_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x21 || c > 0x7e || c == '"' || c == '\\')
			return false;
	}
	return true;
}

static bool str_is(const json_value *o, const char *name, const char *want, size_t want_len)
{
	size_t len;
	const char *s = json_get_str(o, name, &len);
	return s && len == want_len && memcmp(s, want, len) == 0;
}

static void check_proof(const char *proof, const char *htm, const char *htu, size_t htu_len,
	const char *nonce, const char *token, size_t token_len)
{
	struct buf raw = BUF_INIT, jwk = BUF_INIT, set = BUF_INIT;
	struct jwks keys = {0};
	json_value *payload = NULL;

	FUZZ_ASSERT(b64url_decode(proof, (size_t)(strchr(proof, '.') - proof), &raw) == 0);
	json_value *h = json_parse(raw.data, raw.len, raw.len + 1);
	FUZZ_ASSERT(str_is(h, "typ", "dpop+jwt", 8) && str_is(h, "alg", "ES256", 5));
	FUZZ_ASSERT(!json_has(json_get(h, "jwk"), "d"));
	FUZZ_ASSERT(json_append_value(&jwk, json_get(h, "jwk")) == 0);
	crypto_ec_key *k = NULL;
	char tp[JWK_THUMBPRINT_LEN + 1];
	FUZZ_ASSERT(jwk_ec_parse(jwk.data, jwk.len, false, &k) == JOSE_OK);
	FUZZ_ASSERT(jwk_ec_thumbprint(k, tp) == 0 && strcmp(tp, g_key.jkt) == 0);
	crypto_ec_key_free(k);
	FUZZ_ASSERT(buf_append_strs(&set, "{\"keys\":[", jwk.data, "]}", (char *)NULL) == 0);
	FUZZ_ASSERT(jwks_parse_es256(set.data, set.len, &keys) == JOSE_OK && keys.n == 1);
	FUZZ_ASSERT(jws_verify_es256(proof, strlen(proof), &keys, &payload) == JOSE_OK);
	FUZZ_ASSERT(str_is(payload, "htm", htm, strlen(htm)));
	FUZZ_ASSERT(str_is(payload, "htu", htu, htu_len));
	if (nonce)
		FUZZ_ASSERT(str_is(payload, "nonce", nonce, strlen(nonce)));
	else
		FUZZ_ASSERT(!json_has(payload, "nonce"));
	if (token) {
		uint8_t md[32];
		struct buf ath = BUF_INIT;
		FUZZ_ASSERT(crypto_sha256(token, token_len, md) == 0 && b64url_encode(md, 32, &ath) == 0);
		FUZZ_ASSERT(str_is(payload, "ath", ath.data, ath.len));
		buf_free(&ath);
	} else {
		FUZZ_ASSERT(!json_has(payload, "ath"));
	}
	json_free(payload);
	json_free(h);
	jwks_clear(&keys);
	buf_free(&raw);
	buf_free(&jwk);
	buf_free(&set);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	char *rest = fuzz_strndup(data + 1, size - 1);
	size_t n = size - 1;
	const char *htu = rest, *nonce = NULL, *token = NULL;
	size_t htu_len = strnlen(rest, n), token_len = 0;
	if (htu_len < n) {
		const char *p = rest + htu_len + 1;
		size_t nl = strnlen(p, n - htu_len - 1);
		if (flags & 2)
			nonce = p;
		if (htu_len + 1 + nl < n && (flags & 4)) {
			token = p + nl + 1;
			token_len = n - htu_len - 1 - nl - 1;
		}
	}

	struct buf out = BUF_INIT;
	FUZZ_ASSERT(buf_append_str(&out, "x") == 0);
	long want = htu_model(htu, htu_len);
	int rc = dpop_htu(htu, htu_len, &out);
	FUZZ_ASSERT((rc == 0) == (want >= 0));
	if (rc == 0)
		FUZZ_ASSERT(out.len == 1 + (size_t)want && memcmp(out.data + 1, htu, (size_t)want) == 0);
	else
		FUZZ_ASSERT(out.len == 1);

	const char *htm = (flags & 1) ? "POST" : "GET";
	struct dpop_request r = { htm, htu, htu_len, 1770805933, nonce, token, token_len };
	struct buf proof = BUF_INIT;
	bool ok = want >= 0 && (!nonce || nonce_model(nonce, strlen(nonce))) &&
		(!token || (token_len > 0 && token_len <= DPOP_TOKEN_MAX &&
		            memchr(token, '\0', token_len) == NULL));
	/* a token with a NUL is hashed whole; the model only covers NUL-free */
	if (token && memchr(token, '\0', token_len))
		goto done;
	FUZZ_ASSERT((dpop_proof(&g_key, &r, &proof) == 0) == ok);
	if (ok)
		check_proof(proof.data, htm, htu, (size_t)want, nonce, token, token_len);
	else
		FUZZ_ASSERT(proof.len == 0);
done:
	buf_free(&proof);
	buf_free(&out);
	free(rest);
	return 0;
}
