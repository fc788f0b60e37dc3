/* A fake Singpass FAPI 2.0 provider on fake_http.h, for the in-process
 * tests of singpass.c and provider_singpass.c. Under <base>/fapi it serves
 * discovery, its JWKS, PAR, token and userinfo, and checks what the RP
 * sends the way Singpass documents it (SINGPASS-PROTOCOL §3-§9): the
 * client assertion (ES256 under the RP's signing key, iss = sub =
 * client_id, aud = the issuer, exp - iat <= 120, a jti), the DPoP proof
 * (typ, ES256 under its header jwk, htm, htu, iat, the PAR's dpop_jkt, ath
 * at userinfo, the nonce it asked for, no nonce it never gave), PKCE S256, the redirect URI, and
 * the PAR's form (authentication_context_type never with Myinfo). The
 * first thing it finds wrong is kept in fp->problem and answered 400. The
 * ID token and userinfo are JWEs to the RP's encryption key holding JWSs
 * signed with the fake's key, or, as the test steers it, something a
 * hostile provider would send. TEST KEYS ONLY, made per run. */
#ifndef SGID_TEST_FAKE_SINGPASS_H
#define SGID_TEST_FAKE_SINGPASS_H

#include "b64.h"
#include "buf.h"
#include "crypto.h"
#include "crypto_ec.h"
#include "fake_http.h"
#include "http.h"
#include "jose.h"
#include "json.h"
#include "util.h"

#define FP_CLIENT_ID "RsrOy2iB0edR53TJSuD5ULad1pGmrVZL"
#define FP_SUB       "7c9c72ec-5be2-495a-a78e-61e809a2a236"
#define FP_OP_KID    "op-sig-1"
#define FP_RP_SIG_KID "rp-sig-1"
#define FP_RP_ENC_KID "rp-enc-1"
#define FP_RP_ENC_PREV_KID "rp-enc-0"
#define FP_ACCESS_TOKEN "at-Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"
#define FP_REQUEST_URI "urn:ietf:params:oauth:request_uri:fake-" /* + the login's slot */
#define FP_SLOTS 8               /* logins in flight at once (each PAR takes the next) */

enum fp_token_mode {
	FP_TOKEN_OK,
	FP_TOKEN_ALG_NONE,        /* an unsigned JWS inside the JWE */
	FP_TOKEN_HS256,           /* HMAC with the fake's public key as secret */
	FP_TOKEN_UNKNOWN_KEY,     /* signed by a key in no JWKS, kid "other" */
	FP_TOKEN_CLIENT_KEY,      /* signed by the RP's own signing key */
	FP_TOKEN_BAD_EPK,         /* epk not a point of P-256 */
	FP_TOKEN_BAD_ISS,
	FP_TOKEN_BAD_AUD,
	FP_TOKEN_BAD_AZP,
	FP_TOKEN_BAD_NONCE,
	FP_TOKEN_EXPIRED,
	FP_TOKEN_NBF_FUTURE,
	FP_TOKEN_IAT_FUTURE,
	FP_TOKEN_FRACTIONAL_IAT,  /* MockPass's iat = Date.now()/1000 */
	FP_TOKEN_GCM,             /* MockPass's A256GCM ID tokens */
	FP_TOKEN_ATTRS_NOT_OBJECT,
	FP_TOKEN_BEARER,          /* token_type Bearer */
	FP_TOKEN_OVERSIZED,       /* a JWE over 16 KiB */
	FP_TOKEN_SUB_TYPE,        /* sub_type "device" */
	FP_TOKEN_ACR_LOW,         /* acr loa:1 */
	FP_TOKEN_PLAIN_JSON,      /* a JWE whose plaintext is no JWS */
	FP_TOKEN_PREVIOUS_ENC,    /* encrypted to the RP's previous enc key */
	FP_TOKEN_A128KW,          /* ECDH-ES+A128KW */
	FP_TOKEN_A192KW,          /* ECDH-ES+A192KW */
	FP_TOKEN_PREVIOUS_NO_KID, /* to the previous enc key, no kid: current, then previous */
	FP_TOKEN_NO_SUB,
};

enum fp_par_mode { FP_PAR_OK, FP_PAR_NO_URI, FP_PAR_NOT_URN, FP_PAR_LONG_URI, FP_PAR_200, FP_PAR_ERROR };

struct fp_state {
	/* steering, written by the test */
	int token_mode;
	int par_mode;
	int jwks_dup_kids;       /* two keys with one kid */
	int jwks_down;           /* the JWKS answers 503 */
	int jwks_delay_ms;       /* ... after this long */
	int64_t jwks_answered_ms; /* monotonic: when the last JWKS answer went */
	int jwks_rotated;        /* the JWKS no longer holds FP_OP_KID (withdrawn):
	                            only another key, under "op-sig-2" */
	int discovery_down;      /* discovery answers 503 */
	int discovery_delay_ms;  /* ... after this long */
	int64_t discovery_answered_ms; /* monotonic: when the last discovery answer went */
	int token_nonce;         /* 1: demand a DPoP nonce once; 2: always */
	int userinfo_nonce;      /* 1: demand one at userinfo once */
	int token_bad_nonce;     /* demand a DPoP nonce no proof may carry (a '"') */
	int nonce_unsupported;   /* a proof with a nonce: 400 invalid_dpop_proof
	                            at PAR and token (as oidc-provider without
	                            nonceSecret says "DPoP nonces are not supported") */
	int myinfo;              /* PAR must not carry authentication_context_type */
	int transient;           /* that many of the next PAR and token requests
	                            get "try again" (transient_code) */
	int userinfo_transient;  /* the same for userinfo */
	char transient_code[32]; /* "" : temporarily_unavailable */
	int transient_answered;  /* such answers given */
	int transient_delay_ms;  /* each such answer after this long */
	int64_t clock_offset;    /* seconds added to the wall clock, both sides */
	int64_t frozen;          /* non-zero: the clock of both sides stands here */
	char issuer[256];
	char redirect_uri[256];
	/* seen, written by the fake: each PAR's login in the next slot (its
	 * request_uri and code end in the slot's digit), the last one also
	 * in state, nonce... for the tests to read */
	struct fp_login { char state[128], nonce[128], challenge[128], jkt[64]; } logins[FP_SLOTS];
	int next_slot;
	char state[128], nonce[128], challenge[128], jkt[64];
	char acr_values[256], auth_ctx[128], scope[256];
	char problem[256];       /* the first check that failed, "" none */
	int token_nonce_sent;    /* proofs that carried the nonce at token */
	int userinfo_ok;         /* userinfo requests that passed every check */
};

static struct fp_state *fp;
/* keys: made by the test before fp_start, inherited by the fake */
static crypto_ec_key *fp_op_key, *fp_other_key, *fp_rp_sig, *fp_rp_enc, *fp_rp_enc_prev;

static inline int64_t fp_now(void)
{
	int64_t frozen = __atomic_load_n(&fp->frozen, __ATOMIC_SEQ_CST);
	return frozen ? frozen : now_unix() + __atomic_load_n(&fp->clock_offset, __ATOMIC_SEQ_CST);
}

static inline void fp_problem(const char *what)
{
	if (!fp->problem[0])
		snprintf(fp->problem, sizeof(fp->problem), "%s", what);
}

/* A compact JWS's protected header and payload, decoded and parsed. */
static inline json_value *fp_seg_json(const char *jws, int which)
{
	const char *p = jws, *end;
	for (int i = 0; i < which && p; i++) {
		p = strchr(p, '.');
		if (p)
			p++;
	}
	if (!p)
		return NULL;
	end = strchr(p, '.');
	struct buf raw = BUF_INIT;
	json_value *v = NULL;
	if (b64url_decode(p, end ? (size_t)(end - p) : strlen(p), &raw) == 0)
		v = json_parse(raw.data, raw.len, raw.len + 1);
	buf_free(&raw);
	return v;
}

/* A one-key set of k's public half under kid. */
static inline int fp_jwks_of(const crypto_ec_key *k, const char *kid, struct jwks *out)
{
	struct buf set = BUF_INIT;
	int rc = buf_append_str(&set, "{\"keys\":[") == 0 && jwk_ec_public_json(k, &set) == 0 ? 0 : -1;
	if (rc == 0) {
		set.len--; /* reopen the JWK */
		rc = buf_append_strs(&set, ",\"kid\":\"", kid, "\"}]}", (char *)NULL);
	}
	if (rc == 0)
		rc = jwks_parse_es256(set.data, set.len, out) == JOSE_OK && out->n == 1 ? 0 : -1;
	buf_free(&set);
	return rc;
}

static inline const char *fp_str(const json_value *o, const char *name)
{
	static char s[4][512];
	static int i;
	size_t len;
	const char *v = json_get_str(o, name, &len);
	if (!v || len >= sizeof(s[0]))
		return "";
	i = (i + 1) % 4;
	memcpy(s[i], v, len);
	s[i][len] = '\0';
	return s[i];
}

static inline const char *fp_form(const struct kv_list *f, const char *name)
{
	const struct kv *kv = kv_get(f, name);
	return kv ? kv->val : NULL;
}

/* The client assertion of a PAR or token form. */
static inline void fp_check_assertion(const struct kv_list *f)
{
	const char *type = fp_form(f, "client_assertion_type"), *a = fp_form(f, "client_assertion");
	struct jwks keys = {0};
	json_value *pl = NULL;
	int64_t iat = 0, exp = 0, now = fp_now();

	if (!type || strcmp(type, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") != 0 || !a) {
		fp_problem("client assertion missing");
		return;
	}
	if (fp_jwks_of(fp_rp_sig, FP_RP_SIG_KID, &keys) != 0 ||
	    jws_verify_es256(a, strlen(a), &keys, &pl) != JOSE_OK)
		fp_problem("client assertion signature");
	else if (strcmp(fp_str(pl, "iss"), FP_CLIENT_ID) || strcmp(fp_str(pl, "sub"), FP_CLIENT_ID))
		fp_problem("client assertion iss/sub");
	else if (strcmp(fp_str(pl, "aud"), fp->issuer) != 0)
		fp_problem("client assertion aud");
	else if (json_get_int64(pl, "iat", &iat) || json_get_int64(pl, "exp", &exp) || exp - iat > 120 ||
	         exp <= now - 60 || iat > now + 60)
		fp_problem("client assertion times");
	else if (strlen(fp_str(pl, "jti")) < 16)
		fp_problem("client assertion jti");
	json_free(pl);
	jwks_clear(&keys);
}

/* A DPoP proof (RFC 9449 §4.3); tp receives its key's thumbprint. */
static inline void fp_check_proof(const struct fh_request *rq, const char *htm, const char *htu,
	char tp[JWK_THUMBPRINT_LEN + 1], const char *ath, const char *nonce)
{
	char proof[4096];
	json_value *h = NULL, *pl = NULL;
	struct buf jwk = BUF_INIT, set = BUF_INIT;
	struct jwks keys = {0};
	crypto_ec_key *k = NULL;
	int64_t iat = 0, now = fp_now();

	tp[0] = '\0';

	if (fh_header(rq, "DPoP", proof, sizeof(proof)) != 0) {
		fp_problem("DPoP header missing");
		return;
	}
	h = fp_seg_json(proof, 0);
	if (strcmp(fp_str(h, "typ"), "dpop+jwt") || strcmp(fp_str(h, "alg"), "ES256") ||
	    json_has(json_get(h, "jwk"), "d") || json_append_value(&jwk, json_get(h, "jwk")) != 0 ||
	    jwk_ec_parse(jwk.data, jwk.len, false, &k) != JOSE_OK || jwk_ec_thumbprint(k, tp) != 0 ||
	    fp_jwks_of(k, "p", &keys) != 0) {
		fp_problem("DPoP header");
		goto done;
	}
	/* the proof's jwk has no kid: verify it as the set's only key */
	keys.keys[0].has_kid = false;
	if (jws_verify_es256(proof, strlen(proof), &keys, &pl) != JOSE_OK)
		fp_problem("DPoP signature");
	else if (strcmp(fp_str(pl, "htm"), htm) || strcmp(fp_str(pl, "htu"), htu))
		fp_problem("DPoP htm/htu");
	else if (json_get_int64(pl, "iat", &iat) || iat < now - 60 || iat > now + 60)
		fp_problem("DPoP iat");
	else if (strlen(fp_str(pl, "jti")) < 16)
		fp_problem("DPoP jti");
	else if (ath && strcmp(fp_str(pl, "ath"), ath) != 0)
		fp_problem("DPoP ath");
	else if (nonce && strcmp(fp_str(pl, "nonce"), nonce) != 0)
		fp_problem("DPoP nonce");
	else if (!nonce && json_has(pl, "nonce") && strcmp(fp_str(pl, "nonce"), "fake-nonce-1") &&
	         strcmp(fp_str(pl, "nonce"), "fake-nonce-2"))
		fp_problem("DPoP nonce not one the fake gave");
done:
	crypto_ec_key_free(k);
	jwks_clear(&keys);
	json_free(h);
	json_free(pl);
	buf_free(&jwk);
	buf_free(&set);
}

/* nonce_unsupported and rq's proof carries a nonce. */
static inline bool fp_nonce_refused(const struct fh_request *rq)
{
	char proof[4096] = "";
	if (!fp->nonce_unsupported || fh_header(rq, "DPoP", proof, sizeof(proof)) != 0)
		return false;
	json_value *pl = fp_seg_json(proof, 1);
	bool has = json_has(pl, "nonce");
	json_free(pl);
	return has;
}

static inline int fp_json(int fd, const char *status, const char *extra, const struct buf *b)
{
	char hdrs[512];
	snprintf(hdrs, sizeof(hdrs), "Content-Type: application/json\r\n%s", extra ? extra : "");
	return fh_respond(fd, status, hdrs, b->data, b->len);
}

static inline int fp_error(int fd, const char *status, const char *code, const char *extra)
{
	char body[128];
	snprintf(body, sizeof(body), "{\"error\":\"%s\"}", code);
	char hdrs[512];
	snprintf(hdrs, sizeof(hdrs), "Content-Type: application/json\r\n%s", extra ? extra : "");
	return fh_respond(fd, status, hdrs, body, strlen(body));
}

/* 1 when this request got a "try again" answer (*count of them left). */
static inline int fp_transient(int fd, int *count)
{
	if (__atomic_load_n(count, __ATOMIC_SEQ_CST) <= 0)
		return 0;
	__atomic_fetch_sub(count, 1, __ATOMIC_SEQ_CST);
	if (fp->transient_delay_ms)
		fh_sleep_ms(fp->transient_delay_ms);
	__atomic_fetch_add(&fp->transient_answered, 1, __ATOMIC_SEQ_CST);
	fp_error(fd, "503 Service Unavailable",
	         fp->transient_code[0] ? fp->transient_code : "temporarily_unavailable", NULL);
	return 1;
}

static inline void fp_url(struct buf *b, const char *path)
{
	buf_append_strs(b, fp->issuer, path, (char *)NULL);
}

static inline int fp_discovery(int fd)
{
	struct buf b = BUF_INIT;
	buf_append_str(&b, "{\"issuer\":\"");
	buf_append_strs(&b, fp->issuer, "\",\"pushed_authorization_request_endpoint\":\"", (char *)NULL);
	fp_url(&b, "/par");
	buf_append_str(&b, "\",\"authorization_endpoint\":\"");
	fp_url(&b, "/auth");
	buf_append_str(&b, "\",\"token_endpoint\":\"");
	fp_url(&b, "/token");
	buf_append_str(&b, "\",\"userinfo_endpoint\":\"");
	fp_url(&b, "/userinfo");
	buf_append_str(&b, "\",\"jwks_uri\":\"");
	fp_url(&b, "/jwks");
	buf_append_str(&b, "\",\"id_token_encryption_alg_values_supported\":[\"ECDH-ES+A256KW\"],"
		"\"token_endpoint_auth_methods_supported\":[\"private_key_jwt\"]}");
	int rc = fp_json(fd, "200 OK", NULL, &b);
	buf_free(&b);
	return rc;
}

/* The fake's signing key, its enc key (skipped by the RP), and with
 * jwks_dup_kids a second key under the same kid. */
static inline int fp_jwks(int fd)
{
	struct buf b = BUF_INIT;
	if (fp->jwks_delay_ms)
		fh_sleep_ms(fp->jwks_delay_ms);
	__atomic_store_n(&fp->jwks_answered_ms, now_monotonic_ms(), __ATOMIC_SEQ_CST);
	if (fp->jwks_down)
		return fp_error(fd, "503 Service Unavailable", "temporarily_unavailable", NULL);
	if (fp->jwks_rotated) {
		buf_append_str(&b, "{\"keys\":[");
		jwk_ec_public_json(fp_other_key, &b);
		b.len--;
		buf_append_str(&b, ",\"use\":\"sig\",\"alg\":\"ES256\",\"kid\":\"op-sig-2\"}]}");
		int rc = fp_json(fd, "200 OK", NULL, &b);
		buf_free(&b);
		return rc;
	}
	buf_append_str(&b, "{\"keys\":[");
	jwk_ec_public_json(fp_op_key, &b);
	b.len--;
	buf_append_str(&b, ",\"use\":\"sig\",\"alg\":\"ES256\",\"kid\":\"" FP_OP_KID "\"},");
	jwk_ec_public_json(fp_other_key, &b);
	b.len--;
	if (fp->jwks_dup_kids)
		buf_append_str(&b, ",\"use\":\"sig\",\"alg\":\"ES256\",\"kid\":\"" FP_OP_KID "\"}]}");
	else
		buf_append_str(&b, ",\"use\":\"enc\",\"alg\":\"ECDH-ES+A256KW\",\"kid\":\"op-enc-1\"}]}");
	int rc = fp_json(fd, "200 OK", NULL, &b);
	buf_free(&b);
	return rc;
}

static inline int fp_par(int fd, const struct fh_request *rq)
{
	struct kv_list f = {0};
	char htu[300], tp[JWK_THUMBPRINT_LEN + 1];
	const char *v;
	int slot = __atomic_fetch_add(&fp->next_slot, 1, __ATOMIC_SEQ_CST) % FP_SLOTS;
	struct fp_login *l = &fp->logins[slot];

	fp->problem[0] = '\0';
	memset(l, 0, sizeof(*l));
	if (fp_transient(fd, &fp->transient))
		return 0;
	if (fp_nonce_refused(rq))
		return fp_error(fd, "400 Bad Request", "invalid_dpop_proof", NULL);
	if (http_parse_query(rq->body, rq->body_len, &f) != HTTP_OK) {
		fp_problem("PAR form");
		goto bad;
	}
	snprintf(htu, sizeof(htu), "%s/par", fp->issuer);
	/* the dpop_jkt form field, and the header's key must match it */
	fp_check_proof(rq, "POST", htu, tp, NULL, NULL);
	v = fp_form(&f, "dpop_jkt");
	if (!v || strcmp(v, tp) != 0)
		fp_problem("dpop_jkt is not the DPoP proof's key");
	memcpy(l->jkt, tp, sizeof(tp));
	fp_check_assertion(&f);
	if (!(v = fp_form(&f, "client_id")) || strcmp(v, FP_CLIENT_ID))
		fp_problem("PAR client_id");
	if (!(v = fp_form(&f, "response_type")) || strcmp(v, "code"))
		fp_problem("PAR response_type");
	if (!(v = fp_form(&f, "redirect_uri")) || strcmp(v, fp->redirect_uri))
		fp_problem("PAR redirect_uri");
	if (!(v = fp_form(&f, "code_challenge_method")) || strcmp(v, "S256"))
		fp_problem("PAR code_challenge_method");
	if (!(v = fp_form(&f, "scope")) || strncmp(v, "openid", 6))
		fp_problem("PAR scope");
	else
		snprintf(fp->scope, sizeof(fp->scope), "%s", v);
	const char *st = fp_form(&f, "state"), *no = fp_form(&f, "nonce"), *ch = fp_form(&f, "code_challenge");
	if (!st || strlen(st) < 30 || !no || strlen(no) < 30 || !ch || strlen(ch) != 43)
		fp_problem("PAR state/nonce/code_challenge");
	else {
		snprintf(l->state, sizeof(l->state), "%s", st);
		snprintf(l->nonce, sizeof(l->nonce), "%s", no);
		snprintf(l->challenge, sizeof(l->challenge), "%s", ch);
		memcpy(fp->state, l->state, sizeof(fp->state));
		memcpy(fp->nonce, l->nonce, sizeof(fp->nonce));
		memcpy(fp->challenge, l->challenge, sizeof(fp->challenge));
		memcpy(fp->jkt, l->jkt, sizeof(fp->jkt));
	}
	snprintf(fp->acr_values, sizeof(fp->acr_values), "%s", (v = fp_form(&f, "acr_values")) ? v : "");
	snprintf(fp->auth_ctx, sizeof(fp->auth_ctx), "%s",
		(v = fp_form(&f, "authentication_context_type")) ? v : "");
	if (fp->myinfo && fp->auth_ctx[0])
		fp_problem("authentication_context_type with Myinfo scopes");
	kv_list_free(&f);
	if (fp->problem[0])
		return fp_error(fd, "400 Bad Request", "invalid_request", NULL);
	switch (fp->par_mode) {
	case FP_PAR_NO_URI:
		return fh_respond(fd, "201 Created", "Content-Type: application/json\r\n",
			"{\"expires_in\":60}", 17);
	case FP_PAR_NOT_URN: {
		const char *b = "{\"request_uri\":\"https://evil.example/x\",\"expires_in\":60}";
		return fh_respond(fd, "201 Created", "Content-Type: application/json\r\n", b, strlen(b));
	}
	case FP_PAR_LONG_URI: {
		char b[700];
		memset(b, 'a', sizeof(b));
		memcpy(b, "{\"request_uri\":\"urn:", 20);
		memcpy(b + sizeof(b) - 3, "\"}", 3);
		return fh_respond(fd, "201 Created", "Content-Type: application/json\r\n", b, strlen(b));
	}
	case FP_PAR_ERROR:
		return fp_error(fd, "400 Bad Request", "invalid_client", NULL);
	default: {
		char b[128];
		snprintf(b, sizeof(b), "{\"request_uri\":\"" FP_REQUEST_URI "%d\",\"expires_in\":60}", slot);
		return fh_respond(fd, fp->par_mode == FP_PAR_200 ? "200 OK" : "201 Created",
			"Content-Type: application/json\r\n", b, strlen(b));
	}
	}
bad:
	kv_list_free(&f);
	return fp_error(fd, "400 Bad Request", "invalid_request", NULL);
}

/* The claims of the ID token of login l for the token mode. */
static inline void fp_claims(struct buf *b, int mode, const struct fp_login *l)
{
	int64_t now = fp_now();
	const char *iss = mode == FP_TOKEN_BAD_ISS ? "https://evil.example/fapi" : fp->issuer;
	const char *nonce = mode == FP_TOKEN_BAD_NONCE ? "not-the-nonce-of-this-login-0123456789" : l->nonce;
	buf_append_strs(b, "{\"iss\":\"", iss, "\",", (char *)NULL);
	if (mode == FP_TOKEN_BAD_AUD)
		buf_append_str(b, "\"aud\":\"someone-else\",");
	else if (mode == FP_TOKEN_BAD_AZP)
		buf_append_str(b, "\"aud\":[\"" FP_CLIENT_ID "\",\"other\"],\"azp\":\"other\",");
	else
		buf_append_str(b, "\"aud\":\"" FP_CLIENT_ID "\",");
	if (mode != FP_TOKEN_NO_SUB)
		buf_append_str(b, "\"sub\":\"" FP_SUB "\",");
	buf_append_strs(b, "\"sub_type\":\"", mode == FP_TOKEN_SUB_TYPE ? "device" : "user", "\",",
		(char *)NULL);
	buf_append_strs(b, "\"nonce\":\"", nonce, "\",", (char *)NULL);
	if (mode == FP_TOKEN_FRACTIONAL_IAT)
		buf_printf(b, "\"iat\":%lld.731,", (long long)now);
	else
		buf_printf(b, "\"iat\":%lld,", (long long)(mode == FP_TOKEN_IAT_FUTURE ? now + 600 : now));
	buf_printf(b, "\"exp\":%lld,", (long long)(mode == FP_TOKEN_EXPIRED ? now - 120 : now + 600));
	if (mode == FP_TOKEN_NBF_FUTURE)
		buf_printf(b, "\"nbf\":%lld,", (long long)now + 600);
	buf_printf(b, "\"acr\":\"urn:singpass:authentication:loa:%d\",\"amr\":[\"pwd\"],",
		mode == FP_TOKEN_ACR_LOW ? 1 : 2);
	if (mode == FP_TOKEN_ATTRS_NOT_OBJECT)
		buf_append_str(b, "\"sub_attributes\":\"name=TAN AH KOW\"}");
	else if (mode == FP_TOKEN_OVERSIZED) {
		buf_append_str(b, "\"sub_attributes\":{\"name\":\"");
		for (int i = 0; i < 20000; i++)
			buf_append_char(b, 'A');
		buf_append_str(b, "\"}}");
	} else
		buf_append_str(b, "\"sub_attributes\":{\"name\":\"TAN AH KOW\",\"identity_number\":"
			"\"S1234567A\",\"identity_coi\":\"SG\",\"account_type\":\"standard\"}}");
}

/* A JWS of payload as the mode says (signed right, or not). */
static inline void fp_sign(struct buf *out, const char *payload, size_t len, int mode)
{
	if (mode == FP_TOKEN_ALG_NONE || mode == FP_TOKEN_HS256) {
		const char *h = mode == FP_TOKEN_ALG_NONE ? "{\"alg\":\"none\",\"typ\":\"JWT\"}"
			: "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"" FP_OP_KID "\"}";
		b64url_encode((const uint8_t *)h, strlen(h), out);
		buf_append_char(out, '.');
		b64url_encode((const uint8_t *)payload, len, out);
		size_t input_len = out->len;
		buf_append_char(out, '.');
		if (mode == FP_TOKEN_HS256) {
			/* the "public key as HMAC secret" confusion */
			struct buf pub = BUF_INIT;
			uint8_t mac[64];
			size_t mac_len = 0;
			jwk_ec_public_json(fp_op_key, &pub);
			crypto_hmac(CRYPTO_SHA256, pub.data, pub.len, out->data, input_len, mac, &mac_len);
			b64url_encode(mac, mac_len, out);
			buf_free(&pub);
		}
		return;
	}
	const crypto_ec_key *k = mode == FP_TOKEN_UNKNOWN_KEY ? fp_other_key :
		mode == FP_TOKEN_CLIENT_KEY ? fp_rp_sig : fp_op_key;
	const char *h = mode == FP_TOKEN_UNKNOWN_KEY ? "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"other\"}" :
		mode == FP_TOKEN_CLIENT_KEY ? "{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"" FP_RP_SIG_KID "\"}" :
		"{\"alg\":\"ES256\",\"typ\":\"JWT\",\"kid\":\"" FP_OP_KID "\"}";
	jws_sign_es256(h, strlen(h), payload, len, k, out);
}

/* The JWE to the RP of plaintext, as the mode says. */
static inline void fp_encrypt(struct buf *out, const char *pt, size_t len, int mode, bool gcm)
{
	struct jwe_ecdh_params p = {
		.alg = mode == FP_TOKEN_A128KW ? "ECDH-ES+A128KW" :
		       mode == FP_TOKEN_A192KW ? "ECDH-ES+A192KW" : "ECDH-ES+A256KW",
		.enc = gcm || mode == FP_TOKEN_GCM ? "A256GCM" : "A256CBC-HS512",
		.kid = mode == FP_TOKEN_PREVIOUS_ENC ? FP_RP_ENC_PREV_KID :
		       mode == FP_TOKEN_PREVIOUS_NO_KID ? NULL : FP_RP_ENC_KID,
		.extra = "\"cty\":\"JWT\"",
	};
	const crypto_ec_key *to = mode == FP_TOKEN_PREVIOUS_ENC || mode == FP_TOKEN_PREVIOUS_NO_KID ?
		fp_rp_enc_prev : fp_rp_enc;
	if (mode != FP_TOKEN_BAD_EPK) {
		jwe_encrypt_ecdh(&p, to, pt, len, out);
		return;
	}
	/* a valid JWE, then its header's epk replaced by a point off the curve */
	struct buf good = BUF_INIT, hdr = BUF_INIT;
	uint8_t x[32], y[32];
	jwe_encrypt_ecdh(&p, to, pt, len, &good);
	crypto_ec_key_public(fp_other_key, x, y);
	y[31] ^= 1;
	buf_append_str(&hdr, "{\"alg\":\"ECDH-ES+A256KW\",\"enc\":\"A256CBC-HS512\",\"kid\":\""
		FP_RP_ENC_KID "\",\"epk\":{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"");
	b64url_encode(x, 32, &hdr);
	buf_append_str(&hdr, "\",\"y\":\"");
	b64url_encode(y, 32, &hdr);
	buf_append_str(&hdr, "\"}}");
	b64url_encode((const uint8_t *)hdr.data, hdr.len, out);
	buf_append_str(out, strchr(good.data, '.'));
	buf_free(&good);
	buf_free(&hdr);
}

static inline int fp_token(int fd, const struct fh_request *rq)
{
	struct kv_list f = {0};
	char htu[300], nonce_hdr[64], tp[JWK_THUMBPRINT_LEN + 1];
	const char *v;
	int mode = __atomic_load_n(&fp->token_mode, __ATOMIC_SEQ_CST);
	struct fp_login *l = &fp->logins[0];

	fp->problem[0] = '\0';
	if (fp_transient(fd, &fp->transient))
		return 0;
	if (http_parse_query(rq->body, rq->body_len, &f) != HTTP_OK || fp_nonce_refused(rq)) {
		kv_list_free(&f);
		return fp_error(fd, "400 Bad Request", fp->nonce_unsupported ? "invalid_dpop_proof" :
			"invalid_request", NULL);
	}
	snprintf(htu, sizeof(htu), "%s/token", fp->issuer);
	/* a nonce demanded: the first proof without one is answered 400 */
	char proof[4096] = "";
	fh_header(rq, "DPoP", proof, sizeof(proof));
	json_value *ppl = fp_seg_json(proof, 1);
	bool has_nonce = strcmp(fp_str(ppl, "nonce"), "fake-nonce-1") == 0;
	json_free(ppl);
	if (fp->token_nonce && (!has_nonce || fp->token_nonce == 2)) {
		if (has_nonce)
			fp->token_nonce_sent++;
		kv_list_free(&f);
		snprintf(nonce_hdr, sizeof(nonce_hdr), "DPoP-Nonce: fake-nonce-1\r\n");
		return fp_error(fd, "400 Bad Request", "use_dpop_nonce", nonce_hdr);
	}
	if (has_nonce)
		fp->token_nonce_sent++;
	if (fp->token_bad_nonce) {
		kv_list_free(&f);
		return fp_error(fd, "400 Bad Request", "use_dpop_nonce", "DPoP-Nonce: fake\"nonce\r\n");
	}
	/* the code names the login's slot: code-<digit> */
	if (!(v = fp_form(&f, "code")) || strlen(v) != 6 || strncmp(v, "code-", 5) ||
	    v[5] < '0' || v[5] >= '0' + FP_SLOTS)
		fp_problem("token code");
	else
		l = &fp->logins[v[5] - '0'];
	fp_check_proof(rq, "POST", htu, tp, NULL, fp->token_nonce ? "fake-nonce-1" : NULL);
	if (strcmp(tp, l->jkt) != 0)
		fp_problem("DPoP key is not the PAR's");
	fp_check_assertion(&f);
	if (!(v = fp_form(&f, "grant_type")) || strcmp(v, "authorization_code"))
		fp_problem("token grant_type");
	if (!(v = fp_form(&f, "redirect_uri")) || strcmp(v, fp->redirect_uri))
		fp_problem("token redirect_uri");
	if (!(v = fp_form(&f, "code_verifier"))) {
		fp_problem("token code_verifier");
	} else {
		uint8_t md[32];
		struct buf ch = BUF_INIT;
		crypto_sha256(v, strlen(v), md);
		b64url_encode(md, 32, &ch);
		if (strcmp(buf_cstr(&ch), l->challenge) != 0)
			fp_problem("token PKCE");
		buf_free(&ch);
	}
	kv_list_free(&f);
	if (fp->problem[0])
		return fp_error(fd, "400 Bad Request", "invalid_grant", NULL);

	struct buf claims = BUF_INIT, jws = BUF_INIT, jwe = BUF_INIT, body = BUF_INIT;
	fp_claims(&claims, mode, l);
	if (mode == FP_TOKEN_PLAIN_JSON)
		buf_append(&jws, claims.data, claims.len);
	else
		fp_sign(&jws, claims.data, claims.len, mode);
	fp_encrypt(&jwe, jws.data, jws.len, mode, false);
	buf_append_strs(&body, "{\"access_token\":\"" FP_ACCESS_TOKEN "\",\"token_type\":\"",
		mode == FP_TOKEN_BEARER ? "Bearer" : "DPoP", "\",\"expires_in\":1800,\"id_token\":\"",
		jwe.data, "\"}", (char *)NULL);
	int rc = fp_json(fd, "200 OK", NULL, &body);
	buf_free(&claims);
	buf_free(&jws);
	buf_free(&jwe);
	buf_free(&body);
	return rc;
}

static inline int fp_userinfo(int fd, const struct fh_request *rq)
{
	char auth[512], htu[300], tp[JWK_THUMBPRINT_LEN + 1];
	uint8_t md[32];
	struct buf ath = BUF_INIT;

	fp->problem[0] = '\0';
	if (fp_transient(fd, &fp->userinfo_transient))
		return 0;
	snprintf(htu, sizeof(htu), "%s/userinfo", fp->issuer);
	char proof[4096] = "";
	fh_header(rq, "DPoP", proof, sizeof(proof));
	json_value *ppl = fp_seg_json(proof, 1);
	bool has_nonce = strcmp(fp_str(ppl, "nonce"), "fake-nonce-2") == 0;
	json_free(ppl);
	if (fp->userinfo_nonce && !has_nonce)
		return fh_respond(fd, "401 Unauthorized",
			"WWW-Authenticate: DPoP error=\"use_dpop_nonce\", algs=\"ES256\"\r\n"
			"DPoP-Nonce: fake-nonce-2\r\n", "", 0);
	if (fh_header(rq, "Authorization", auth, sizeof(auth)) != 0 ||
	    strcmp(auth, "DPoP " FP_ACCESS_TOKEN) != 0)
		fp_problem("userinfo Authorization");
	crypto_sha256(FP_ACCESS_TOKEN, strlen(FP_ACCESS_TOKEN), md);
	b64url_encode(md, 32, &ath);
	fp_check_proof(rq, "GET", htu, tp, ath.data, fp->userinfo_nonce ? "fake-nonce-2" : NULL);
	buf_free(&ath);
	bool known = false; /* the key of a login's PAR (the token is the same for all) */
	for (int i = 0; i < FP_SLOTS; i++)
		known = known || strcmp(tp, fp->logins[i].jkt) == 0;
	if (!known)
		fp_problem("DPoP key is not the PAR's");
	if (fp->problem[0])
		return fh_respond(fd, "401 Unauthorized",
			"WWW-Authenticate: DPoP error=\"invalid_dpop_proof\"\r\n", "", 0);
	struct buf claims = BUF_INIT, jws = BUF_INIT, jwe = BUF_INIT;
	buf_printf(&claims, "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"%s\",\"iat\":\"%lld\","
		"\"person_info\":{\"uinfin\":{\"value\":\"S1234567A\"},\"name\":{\"value\":\"TAN AH KOW\"}},"
		"\"name\":\"should not replace the ID token's\"}",
		fp->issuer, FP_CLIENT_ID, FP_SUB, (long long)fp_now());
	fp_sign(&jws, claims.data, claims.len, FP_TOKEN_OK);
	fp_encrypt(&jwe, jws.data, jws.len, FP_TOKEN_OK, true);
	buf_append_char(&jwe, '\n');
	fp->userinfo_ok++;
	int rc = fh_respond(fd, "200 OK", "Content-Type: application/jwt\r\n", jwe.data, jwe.len);
	buf_free(&claims);
	buf_free(&jws);
	buf_free(&jwe);
	return rc;
}

static inline int fp_serve(int fd, const struct fh_request *rq)
{
	if (strcmp(rq->path, "/fapi/.well-known/openid-configuration") == 0) {
		if (fp->discovery_delay_ms)
			fh_sleep_ms(fp->discovery_delay_ms);
		__atomic_store_n(&fp->discovery_answered_ms, now_monotonic_ms(), __ATOMIC_SEQ_CST);
		return fp->discovery_down ? fp_error(fd, "503 Service Unavailable", "temporarily_unavailable",
			NULL) : fp_discovery(fd);
	}
	if (strcmp(rq->path, "/fapi/jwks") == 0)
		return fp_jwks(fd);
	if (strcmp(rq->path, "/fapi/par") == 0 && strcmp(rq->method, "POST") == 0)
		return fp_par(fd, rq);
	if (strcmp(rq->path, "/fapi/token") == 0 && strcmp(rq->method, "POST") == 0)
		return fp_token(fd, rq);
	if (strcmp(rq->path, "/fapi/userinfo") == 0 && strcmp(rq->method, "GET") == 0)
		return fp_userinfo(fd, rq);
	return fh_respond(fd, "404 Not Found", NULL, "", 0);
}

/* Maps fp, makes the keys, starts the fake; its issuer is <base>/fapi. */
static inline int fp_start(void)
{
	if (fh_init() != 0)
		return -1;
	void *m = mmap(NULL, sizeof(*fp), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -1;
	fp = m;
	fp_op_key = crypto_ec_key_generate();
	fp_other_key = crypto_ec_key_generate();
	fp_rp_sig = crypto_ec_key_generate();
	fp_rp_enc = crypto_ec_key_generate();
	fp_rp_enc_prev = crypto_ec_key_generate();
	if (!fp_op_key || !fp_other_key || !fp_rp_sig || !fp_rp_enc || !fp_rp_enc_prev)
		return -1;
	fh_track("/fapi/.well-known/openid-configuration");
	fh_track("/fapi/jwks");
	fh_track("/fapi/par");
	fh_track("/fapi/token");
	fh_track("/fapi/userinfo");
	if (fh_start(fp_serve) != 0)
		return -1;
	snprintf(fp->issuer, sizeof(fp->issuer), "http://127.0.0.1:%d/fapi", fh_port);
	snprintf(fp->redirect_uri, sizeof(fp->redirect_uri), "http://localhost:5001/api/redirect");
	return 0;
}

#endif
