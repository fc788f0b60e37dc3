/* The relying-party pieces that need no network: PKCE, random tokens and
 * the authorize URL. Token exchange and userinfo run against MockPass and
 * the hostile provider in the integration suites. */
#include <string.h>

#include "harness.h"
#include "no_crypto.h"
#include "http.h"
#include "sgid.h"

static void test_pkce_vectors(void)
{
	struct buf c = BUF_INIT;
	/* RFC 7636 appendix B */
	CHECK_INT(sgid_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", 43, &c), 0);
	CHECK_STR(buf_cstr(&c), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
	buf_reset(&c);
	/* the sgID SDK / docs pair (tests/vectors) */
	CHECK_INT(sgid_pkce_challenge("bbGcObXZC1YGBQZZtZGQH9jsyO1vypqCGqnSU_4TI5S", 43, &c), 0);
	CHECK_STR(buf_cstr(&c), "zaqUHoBV3rnhBF2g0Gkz1qkpEZXHqi2OrPK1DqRi-Lk");
	buf_free(&c);
}

/* In a child without OpenSSL algorithms: an error, never the challenge of
 * a zero digest. */
static void no_crypto_challenge(void)
{
	struct buf c = BUF_INIT;
	CHECK_INT(sgid_pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", 43, &c), -1);
	CHECK_INT(c.len, 0);
	buf_free(&c);
}

static void test_pkce_unavailable(void)
{
	NO_CRYPTO_RUN(no_crypto_challenge);
}

static void test_verifier_shape(void)
{
	char a[SGID_PKCE_VERIFIER_LEN + 1], b[SGID_PKCE_VERIFIER_LEN + 1];
	CHECK_INT(sgid_pkce_verifier(a), 0);
	CHECK_INT(sgid_pkce_verifier(b), 0);
	CHECK_INT(strlen(a), 43);
	CHECK(strcmp(a, b) != 0);
	CHECK(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
	char small[8];
	CHECK_INT(sgid_random_token(32, small, sizeof(small)), -1);
}

static void test_authorize_url(void)
{
	struct config cfg;
	struct sgid_client c;
	struct buf url = BUF_INIT;
	struct kv_list q = {0};
	memset(&cfg, 0, sizeof(cfg));
	strcpy(cfg.client_id, "my client");
	strcpy(cfg.issuer, "https://api.id.gov.sg/v2");
	strcpy(cfg.redirect_uri, "http://localhost:5001/api/redirect");
	strcpy(cfg.scopes, "openid myinfo.name");
	CHECK_INT(sgid_client_init(&c, &cfg, NULL), 0);
	CHECK_STR(c.token_url, "https://api.id.gov.sg/v2/oauth/token");
	CHECK_STR(c.userinfo_url, "https://api.id.gov.sg/v2/oauth/userinfo");
	CHECK_STR(c.jwks_url, "https://api.id.gov.sg/v2/.well-known/jwks.json");
	CHECK_INT(sgid_authorize_url(&c, "st&=", "nonce", "chal", &url), 0);
	const char *prefix = "https://api.id.gov.sg/v2/oauth/authorize?";
	CHECK(strncmp(url.data, prefix, strlen(prefix)) == 0);
	CHECK(strstr(url.data, "scope=openid%20myinfo.name") != NULL);
	CHECK(strstr(url.data, "redirect_uri=http%3A%2F%2Flocalhost%3A5001%2Fapi%2Fredirect") != NULL);
	const char *qs = url.data + strlen(prefix);
	CHECK_INT(http_parse_query(qs, strlen(qs), &q), HTTP_OK);
	CHECK_INT(q.n, 8);
	CHECK_STR(kv_get(&q, "client_id")->val, "my client");
	CHECK_STR(kv_get(&q, "response_type")->val, "code");
	CHECK_STR(kv_get(&q, "state")->val, "st&=");
	CHECK_STR(kv_get(&q, "nonce")->val, "nonce");
	CHECK_STR(kv_get(&q, "code_challenge")->val, "chal");
	CHECK_STR(kv_get(&q, "code_challenge_method")->val, "S256");
	kv_list_free(&q);
	buf_free(&url);
	sgid_client_free(&c);
}

int main(int argc, char **argv)
{
	NO_CRYPTO_CHILD(argc, argv, "sgid", no_crypto_challenge);
	RUN(test_pkce_vectors);
	RUN(test_pkce_unavailable);
	RUN(test_verifier_shape);
	RUN(test_authorize_url);
	return harness_report("sgid");
}
