/* PKCE (RFC 7636 vectors and the sgID SDK's pair), the verifier's shape,
 * random tokens, and a digest failure (no OpenSSL algorithms) that is an
 * error, never a challenge. */
#include <string.h>

#include "harness.h"
#include "no_crypto.h"
#include "pkce.h"

static void test_pkce_vectors(void)
{
	struct buf c = BUF_INIT;
	/* RFC 7636 appendix B */
	CHECK_INT(pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", 43, &c), 0);
	CHECK_STR(buf_cstr(&c), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
	buf_reset(&c);
	/* the sgID SDK / docs pair (tests/vectors) */
	CHECK_INT(pkce_challenge("bbGcObXZC1YGBQZZtZGQH9jsyO1vypqCGqnSU_4TI5S", 43, &c), 0);
	CHECK_STR(buf_cstr(&c), "zaqUHoBV3rnhBF2g0Gkz1qkpEZXHqi2OrPK1DqRi-Lk");
	buf_free(&c);
}

/* In a child without OpenSSL algorithms: an error, never the challenge of
 * a zero digest. */
static void no_crypto_challenge(void)
{
	struct buf c = BUF_INIT;
	CHECK_INT(pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", 43, &c), -1);
	CHECK_INT(c.len, 0);
	buf_free(&c);
}

static void test_pkce_unavailable(void)
{
	NO_CRYPTO_RUN(no_crypto_challenge);
}

static void test_verifier_shape(void)
{
	char a[PKCE_VERIFIER_LEN + 1], b[PKCE_VERIFIER_LEN + 1];
	CHECK_INT(pkce_verifier(a), 0);
	CHECK_INT(pkce_verifier(b), 0);
	CHECK_INT(strlen(a), 43);
	CHECK(strcmp(a, b) != 0);
	CHECK(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == 43);
	char small[8];
	CHECK_INT(random_token_b64url(32, small, sizeof(small)), -1);
}

int main(int argc, char **argv)
{
	NO_CRYPTO_CHILD(argc, argv, "pkce", no_crypto_challenge);
	RUN(test_pkce_vectors);
	RUN(test_pkce_unavailable);
	RUN(test_verifier_shape);
	return harness_report("pkce");
}
