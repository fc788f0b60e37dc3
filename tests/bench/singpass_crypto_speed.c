/* singpass_crypto_speed: the CPU a Singpass FAPI 2.0 login costs the relying
 * party, operation by operation, timed through the library's own functions
 * (libsgid.a: crypto_ec.c, jose.c, jose_build.c, dpop.c, rp_keys.c).
 *
 *   singpass_crypto_speed [SECONDS]     (default 1 per operation)
 *
 * Prints one line per operation:
 *   op=NAME ops=N cpu_s=C us_per_op=U per_cpu_s=R
 * then the sum for one login: a DPoP key, a PAR (client assertion + DPoP
 * proof), the key restored from the attempt cookie at the callback, a token
 * request (assertion + proof), the ID token's JWE opened and its ES256 JWS
 * verified. CPU time of this process, so a shared machine's other load
 * does not count. A helper for `make singpass-crypto-speed`, not a test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "crypto_ec.h"
#include "dpop.h"
#include "jose.h"
#include "rp_keys.h"

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *what)
{
	fprintf(stderr, "singpass_crypto_speed: %s failed\n", what);
	exit(1);
}

static struct rp_keys g_rp;
static struct dpop_key g_dpop;
static struct buf g_jwe, g_jws;
static struct jwks g_idp;
static struct jwe_ec_key g_dec[2];
static size_t g_ndec;
static uint8_t g_sealed[DPOP_KEY_SEALED_LEN];

static const char TOKEN_URL[] = "https://stg-id.singpass.gov.sg/fapi/token";
static const char ISSUER[] = "https://stg-id.singpass.gov.sg/fapi";
static const char CLIENT_ID[] = "RsrOy2iB0edR53TJSuD5ULad1pGmrVZL";

static void op_keygen(void)
{
	struct dpop_key k;
	if (dpop_key_generate(&k) != 0)
		die("dpop_key_generate");
	dpop_key_free(&k);
}

static void op_restore(void)
{
	struct dpop_key k;
	if (dpop_key_import(&k, g_sealed, sizeof(g_sealed)) != 0)
		die("dpop_key_import");
	dpop_key_free(&k);
}

static void op_proof(void)
{
	struct buf out = BUF_INIT;
	struct dpop_request r = { "POST", TOKEN_URL, sizeof(TOKEN_URL) - 1, 1770805933, NULL, NULL, 0 };
	if (dpop_proof(&g_dpop, &r, &out) != 0)
		die("dpop_proof");
	buf_free(&out);
}

static void op_assertion(void)
{
	struct buf out = BUF_INIT;
	if (rp_client_assertion(&g_rp, CLIENT_ID, ISSUER, 1770805933, &out) != 0)
		die("rp_client_assertion");
	buf_free(&out);
}

static void op_decrypt(void)
{
	struct buf pt = BUF_INIT;
	if (jwe_decrypt_ecdh(g_jwe.data, g_jwe.len, g_dec, g_ndec, &pt, NULL) != JOSE_OK)
		die("jwe_decrypt_ecdh");
	buf_free(&pt);
}

static void op_verify(void)
{
	json_value *p = NULL;
	if (jws_verify_es256(g_jws.data, g_jws.len, &g_idp, &p) != JOSE_OK)
		die("jws_verify_es256");
	json_free(p);
}

static void op_jwks(void)
{
	struct buf out = BUF_INIT;
	if (rp_keys_jwks(&g_rp, &out) != 0)
		die("rp_keys_jwks");
	buf_free(&out);
}

struct op {
	const char *name;
	void (*fn)(void);
	int per_login;
	double us;
};

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;
	char err[200];
	struct buf pt = BUF_INIT;

	/* an RP with its two keys, a DPoP key, a Singpass-sized nested ID token */
	crypto_ec_key *sig = crypto_ec_key_generate(), *enc = crypto_ec_key_generate();
	crypto_ec_key *idp = crypto_ec_key_generate();
	if (!sig || !enc || !idp || rp_keys_add(&g_rp, RP_KEY_SIG, false, sig, NULL, err, sizeof(err)) ||
	    rp_keys_add(&g_rp, RP_KEY_ENC, false, enc, NULL, err, sizeof(err)) ||
	    dpop_key_generate(&g_dpop) || dpop_key_export(&g_dpop, g_sealed))
		die("set-up");
	g_ndec = rp_keys_decrypters(&g_rp, g_dec);
	static const char hdr[] = "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"idp-1\"}";
	/* the staging sample's claims, 425 bytes */
	static const char claims[] = "{\"iat\":1769738721,\"exp\":1769739321,\"iss\":\"https://stg-id."
		"singpass.gov.sg/fapi\",\"sub\":\"7c9c72ec-5be2-495a-a78e-61e809a2a236\",\"aud\":\""
		"RsrOy2iB0edR53TJSuD5ULad1pGmrVZL\",\"amr\":[\"pwd\"],\"sub_attributes\":{\"name\":\""
		"NAME OF S5410828A\"},\"sub_type\":\"user\",\"nonce\":\"t1j2kLlRE6an5hmo1iQrjz0BqRZTekg5T"
		"tRXCHhX5bQ\",\"acr\":\"urn:singpass:authentication:loa:1\"}";
	if (jws_sign_es256(hdr, sizeof(hdr) - 1, claims, sizeof(claims) - 1, idp, &g_jws) != JOSE_OK)
		die("sign");
	struct buf jwks = BUF_INIT;
	if (buf_append_str(&jwks, "{\"keys\":[") || jwk_ec_public_json(idp, &jwks))
		die("jwks");
	jwks.len--;
	if (buf_append_str(&jwks, ",\"kid\":\"idp-1\"}]}") ||
	    jwks_parse_es256(jwks.data, jwks.len, &g_idp) != JOSE_OK)
		die("jwks");
	struct jwe_ecdh_params p = { RP_ENC_ALG, "A256CBC-HS512", g_dec[0].kid, "\"cty\":\"JWT\"",
		NULL, NULL, 0, 0, NULL };
	if (jwe_encrypt_ecdh(&p, enc, g_jws.data, g_jws.len, &g_jwe) != JOSE_OK)
		die("encrypt");
	crypto_ec_key_free(idp);

	struct op ops[] = {
		{ "dpop_key_generate", op_keygen, 1, 0 },
		{ "dpop_key_import(callback)", op_restore, 1, 0 },
		{ "dpop_proof(ES256)", op_proof, 2, 0 },
		{ "rp_client_assertion(ES256)", op_assertion, 2, 0 },
		{ "jwe_decrypt_ecdh(A256KW+A256CBC-HS512)", op_decrypt, 1, 0 },
		{ "jws_verify_es256(id_token)", op_verify, 1, 0 },
		{ "rp_keys_jwks", op_jwks, 0, 0 },
	};
	double login = 0;
	printf("singpass crypto, CPU time of one thread, %.1f s per operation (JWE %zu bytes, "
		"DPoP key sealed as %d bytes)\n", seconds, g_jwe.len, DPOP_KEY_SEALED_LEN);
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		long n = 0;
		double t0 = cpu_now(), t;
		do {
			for (int k = 0; k < 20; k++)
				ops[i].fn();
			n += 20;
			t = cpu_now() - t0;
		} while (t < seconds);
		ops[i].us = t / (double)n * 1e6;
		login += ops[i].us * ops[i].per_login;
		printf("op=%s ops=%ld cpu_s=%.3f us_per_op=%.1f per_cpu_s=%.0f x%d_per_login\n",
			ops[i].name, n, t, ops[i].us, (double)n / t, ops[i].per_login);
	}
	printf("login: %.0f us of CPU per Singpass login (one core: %.0f logins/s of this work)\n",
		login, 1e6 / login);
	buf_free(&pt);
	buf_free(&jwks);
	buf_free(&g_jwe);
	buf_free(&g_jws);
	jwks_clear(&g_idp);
	dpop_key_free(&g_dpop);
	rp_keys_free(&g_rp);
	return 0;
}
