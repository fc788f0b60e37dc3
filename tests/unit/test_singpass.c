/* The Singpass FAPI 2.0 relying party (singpass.c, singpass_idtoken.c,
 * provider_singpass.c) against the fake Singpass of fake_singpass.h:
 * discovery cached and refreshed hourly (an injected clock), PAR with a
 * client assertion and DPoP, the token request with its one nonce retry,
 * the ID token's JWE, JWS and claims, Myinfo userinfo, and what a hostile
 * provider sends. Plus the published staging ID token (tests/vectors). */
#include <pthread.h>
#include <sys/stat.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "fake_singpass.h"
#include "http.h"
#include "httpc.h"
#include "json.h"
#include "provider_singpass.h"
#include "session.h"
#include "singpass.h"
#include "util.h"

static struct config cfg;
static struct httpc *http;
static struct singpass_shared *shared;

static int64_t test_now(void)
{
	return fp_now();
}

static crypto_ec_key *copy_key(const crypto_ec_key *k)
{
	uint8_t d[CRYPTO_EC_COORD_LEN];
	crypto_ec_key *c = crypto_ec_key_private(k, d) == 0 ? crypto_ec_key_from_private(d) : NULL;
	secure_zero(d, sizeof(d));
	return c;
}

/* The RP's keys as the fake knows them (copies: the fake keeps its own). */
static struct singpass_shared *new_shared(void)
{
	struct rp_keys ks;
	char err[160] = "";
	struct singpass_shared *s = calloc(1, sizeof(*s));

	memset(&ks, 0, sizeof(ks));
	if (!s || rp_keys_add(&ks, RP_KEY_SIG, false, copy_key(fp_rp_sig), FP_RP_SIG_KID, err, sizeof(err)) ||
	    rp_keys_add(&ks, RP_KEY_ENC, false, copy_key(fp_rp_enc), FP_RP_ENC_KID, err, sizeof(err)) ||
	    rp_keys_add(&ks, RP_KEY_ENC, true, copy_key(fp_rp_enc_prev), FP_RP_ENC_PREV_KID, err,
			sizeof(err)) || singpass_shared_init_keys(s, &ks) != 0) {
		fprintf(stderr, "new_shared: %s\n", err);
		rp_keys_free(&ks);
		free(s);
		return NULL;
	}
	s->now = test_now;
	return s;
}

static void free_shared(struct singpass_shared *s)
{
	singpass_shared_free(s);
	free(s);
}

static void reset_cfg(void);
static void provider_up(struct provider *p, struct singpass_shared *s);

/* A default configuration, and p over a shared state of its own (the
 * caller frees both); NULL when it cannot be made. */
static struct singpass_shared *fresh_provider(struct provider *p)
{
	struct singpass_shared *s = new_shared();
	reset_cfg();
	CHECK(s != NULL);
	if (s)
		provider_up(p, s);
	return s;
}

static void reset_cfg(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.login_provider = LOGIN_PROVIDER_SINGPASS;
	snprintf(cfg.singpass.client_id, sizeof(cfg.singpass.client_id), "%s", FP_CLIENT_ID);
	snprintf(cfg.singpass.issuer, sizeof(cfg.singpass.issuer), "%s", fp->issuer);
	snprintf(cfg.singpass.scopes, sizeof(cfg.singpass.scopes), "openid user.identity name");
	snprintf(cfg.singpass.redirect_uri, sizeof(cfg.singpass.redirect_uri), "%s", fp->redirect_uri);
	snprintf(cfg.singpass.auth_context_type, sizeof(cfg.singpass.auth_context_type),
		"APP_AUTHENTICATION_DEFAULT");
	cfg.http_max_body = 1 << 20;
	cfg.clock_skew = 60;
	cfg.jwks_refetch_interval = 60;
	cfg.http_timeout_ms = 5000;
	fp->token_mode = FP_TOKEN_OK;
	fp->par_mode = FP_PAR_OK;
	fp->jwks_dup_kids = 0;
	fp->jwks_down = 0;
	fp->jwks_delay_ms = 0;
	fp->jwks_rotated = 0;
	fp->discovery_down = 0;
	fp->discovery_delay_ms = 0;
	fp->token_nonce = 0;
	fp->userinfo_nonce = 0;
	fp->token_bad_nonce = 0;
	fp->nonce_unsupported = 0;
	fp->myinfo = 0;
	fp->transient = 0;
	fp->userinfo_transient = 0;
	fp->transient_code[0] = '\0';
	fp->transient_delay_ms = 0;
	fp->clock_offset = 0;
	fp->frozen = 0;
}

static void provider_up(struct provider *p, struct singpass_shared *s)
{
	memset(p, 0, sizeof(*p));
	p->cfg = &cfg;
	p->http = http;
	CHECK_INT(provider_singpass_init_with(p, s, NULL), 0);
}

/* The threads of a test that starts them together (test_threads): they
 * all wait at start_line before authorize, or, line_at_callback, between
 * authorize and the callback. */
static pthread_barrier_t *start_line;
static bool line_at_callback;

/* authorize, then the callback with the code the fake issues
 * (LOGIN_OUTCOME__MAX: authorize failed). */
static enum login_outcome login(struct provider *p, struct session *user, struct buf *url)
{
	struct session attempt;
	enum login_outcome o = LOGIN_OUTCOME__MAX;

	session_init(&attempt, SESSION_LOGIN);
	session_init(user, SESSION_USER);
	buf_reset(url);
	if (start_line && !line_at_callback)
		pthread_barrier_wait(start_line);
	bool authorized = p->ops->authorize(p, &attempt, url) == PROVIDER_OK;
	if (start_line && line_at_callback)
		pthread_barrier_wait(start_line);
	if (!authorized) {
		fprintf(stderr, "authorize: %s (fake: %s)\n", p->errstr, fp->problem);
		goto done;
	}
	/* the fake's code names the login's slot, as its request_uri does */
	char code[7] = "code-?";
	code[5] = url->data[url->len - 1];
	o = p->ops->callback(p, code, 6, &attempt, user);
done:
	session_clear(&attempt);
	return o;
}

static void test_happy_path(void)
{
	struct provider p;
	struct session attempt, user;
	struct buf url = BUF_INIT;
	struct kv_list q = {0};

	reset_cfg();
	provider_up(&p, shared);
	CHECK_STR(p.ops->name, "singpass");
	CHECK(p.ops->authorize_calls_provider);
	session_init(&attempt, SESSION_LOGIN);
	session_init(&user, SESSION_USER);
	CHECK_INT(p.ops->authorize(&p, &attempt, &url), PROVIDER_OK);
	CHECK_STR(fp->problem, "");
	/* the authorize URL holds client_id and request_uri, nothing else */
	char want[400];
	snprintf(want, sizeof(want), "%s/auth?", fp->issuer);
	CHECK(strncmp(buf_cstr(&url), want, strlen(want)) == 0);
	const char *qs = strchr(buf_cstr(&url), '?');
	CHECK(qs && http_parse_query(qs + 1, strlen(qs + 1), &q) == HTTP_OK);
	CHECK_INT(q.n, 2);
	CHECK(kv_get(&q, "client_id") && strcmp(kv_get(&q, "client_id")->val, FP_CLIENT_ID) == 0);
	CHECK(kv_get(&q, "request_uri") &&
	      strncmp(kv_get(&q, "request_uri")->val, FP_REQUEST_URI, strlen(FP_REQUEST_URI)) == 0);
	char code[7] = "code-?";
	code[5] = url.data[url.len - 1];
	kv_list_free(&q);
	/* the attempt: 43-char state and nonce, the PKCE verifier, the DPoP
	 * key's scalar; the PAR carried them and the Login app's context */
	CHECK_INT(strlen(attempt.state), 43);
	CHECK_INT(strlen(attempt.nonce), 43);
	CHECK_INT(strlen(attempt.code_verifier), 43);
	CHECK_INT(attempt.provider_secret_len, 32);
	CHECK_STR(fp->state, attempt.state);
	CHECK_STR(fp->nonce, attempt.nonce);
	CHECK_STR(fp->auth_ctx, "APP_AUTHENTICATION_DEFAULT");
	CHECK_STR(fp->acr_values, "");
	CHECK_STR(fp->scope, "openid user.identity name");

	CHECK_INT(p.ops->callback(&p, code, 6, &attempt, &user), LOGIN_OK);
	CHECK_STR(fp->problem, "");
	CHECK_STR(user.sub, FP_SUB);
	CHECK_STR(buf_cstr(&user.access_token), FP_ACCESS_TOKEN);
	CHECK_STR(buf_cstr(&user.profile), "{\"name\":\"TAN AH KOW\",\"identity_number\":\"S1234567A\","
		"\"identity_coi\":\"SG\",\"account_type\":\"standard\"}");
	CHECK_INT(fh_count("/fapi/userinfo"), 0); /* a Login app never calls it */
	CHECK_INT(p.ops->profile(&p, &user), PROVIDER_OK);
	/* the attempt's code again: the fake answers, the RP holds no state
	 * of its own about it (replays are the session layer's) */
	session_clear(&user);
	session_init(&user, SESSION_USER);
	CHECK_INT(p.ops->profile(&p, &user), PROVIDER_ERR_UPSTREAM);

	/* the RP's JWKS: both signing and both encryption keys, no "d" */
	struct buf jwks = BUF_INIT;
	CHECK_INT(p.ops->public_jwks(&p, &jwks), 0);
	CHECK(strstr(buf_cstr(&jwks), "\"kid\":\"" FP_RP_SIG_KID "\"") != NULL);
	CHECK(strstr(buf_cstr(&jwks), "\"kid\":\"" FP_RP_ENC_PREV_KID "\"") != NULL);
	CHECK(strstr(buf_cstr(&jwks), "\"d\"") == NULL);
	buf_free(&jwks);
	buf_free(&url);
	session_clear(&attempt);
	session_clear(&user);
	p.ops->free(&p);
}

/* What a hostile (or merely MockPass-shaped) Singpass sends, and how each
 * login ends. */
static void test_id_token_table(void)
{
	static const struct {
		int mode;
		enum login_outcome want;
		const char *errstr; /* in p.errstr, or NULL */
	} cases[] = {
		{ FP_TOKEN_OK, LOGIN_OK, NULL },
		{ FP_TOKEN_FRACTIONAL_IAT, LOGIN_OK, NULL },
		{ FP_TOKEN_GCM, LOGIN_OK, NULL },
		{ FP_TOKEN_A128KW, LOGIN_OK, NULL },
		{ FP_TOKEN_A192KW, LOGIN_OK, NULL },
		{ FP_TOKEN_PREVIOUS_NO_KID, LOGIN_OK, NULL },
		{ FP_TOKEN_PREVIOUS_ENC, LOGIN_OK, NULL },
		{ FP_TOKEN_ALG_NONE, LOGIN_ID_TOKEN_SIGNATURE, "algorithm not allowed" },
		{ FP_TOKEN_HS256, LOGIN_ID_TOKEN_SIGNATURE, "algorithm not allowed" },
		{ FP_TOKEN_UNKNOWN_KEY, LOGIN_ID_TOKEN_SIGNATURE, "no JWKS key" },
		{ FP_TOKEN_CLIENT_KEY, LOGIN_ID_TOKEN_SIGNATURE, "no JWKS key" },
		{ FP_TOKEN_BAD_EPK, LOGIN_ID_TOKEN_MALFORMED, "key does not fit" },
		{ FP_TOKEN_PLAIN_JSON, LOGIN_ID_TOKEN_MALFORMED, "malformed" },
		{ FP_TOKEN_OVERSIZED, LOGIN_ID_TOKEN_MALFORMED, "too large" },
		{ FP_TOKEN_BAD_ISS, LOGIN_ID_TOKEN_CLAIMS, "issuer" },
		{ FP_TOKEN_BAD_AUD, LOGIN_ID_TOKEN_CLAIMS, "audience" },
		{ FP_TOKEN_BAD_AZP, LOGIN_ID_TOKEN_CLAIMS, "azp" },
		{ FP_TOKEN_NO_SUB, LOGIN_ID_TOKEN_MALFORMED, "required claim" },
		{ FP_TOKEN_SUB_TYPE, LOGIN_ID_TOKEN_CLAIMS, "wrong type" },
		{ FP_TOKEN_ATTRS_NOT_OBJECT, LOGIN_ID_TOKEN_CLAIMS, "wrong type" },
		{ FP_TOKEN_BAD_NONCE, LOGIN_ID_TOKEN_NONCE, "nonce" },
		{ FP_TOKEN_EXPIRED, LOGIN_ID_TOKEN_TIME, "expired" },
		{ FP_TOKEN_NBF_FUTURE, LOGIN_ID_TOKEN_TIME, "nbf" },
		{ FP_TOKEN_IAT_FUTURE, LOGIN_ID_TOKEN_TIME, "iat" },
		{ FP_TOKEN_BEARER, LOGIN_TOKEN_ERROR, "token_type is not DPoP" },
	};
	struct provider p;
	struct session user;
	struct buf url = BUF_INIT;

	reset_cfg();
	provider_up(&p, shared);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		fp->token_mode = cases[i].mode;
		enum login_outcome o = login(&p, &user, &url);
		if (o != cases[i].want)
			fprintf(stderr, "mode %d: %s (fake: %s)\n", cases[i].mode, p.errstr, fp->problem);
		CHECK_INT(o, cases[i].want);
		CHECK_STR(fp->problem, "");
		if (cases[i].want == LOGIN_OK) {
			CHECK_STR(user.sub, FP_SUB);
			CHECK(strstr(buf_cstr(&user.profile), "\"name\":\"TAN AH KOW\"") != NULL);
		} else {
			/* no user comes out of a refused login */
			CHECK_STR(user.sub, "");
			CHECK_INT(user.access_token.len, 0);
			CHECK_INT(user.profile.len, 0);
		}
		if (cases[i].errstr && !strstr(p.errstr, cases[i].errstr)) {
			fprintf(stderr, "mode %d: errstr \"%s\" lacks \"%s\"\n", cases[i].mode, p.errstr,
				cases[i].errstr);
			CHECK(0);
		}
		/* the error detail never holds the token or the code */
		CHECK(strstr(p.errstr, FP_ACCESS_TOKEN) == NULL);
		CHECK(strstr(p.errstr, "code-") == NULL);
		session_clear(&user);
	}
	buf_free(&url);
	p.ops->free(&p);
}

/* acr_values is sent when configured and acr checked against it. */
static void test_acr(void)
{
	struct provider p;
	struct session user;
	struct buf url = BUF_INIT;

	reset_cfg();
	snprintf(cfg.singpass.acr_values, sizeof(cfg.singpass.acr_values),
		"urn:singpass:authentication:loa:2 urn:singpass:authentication:loa:3");
	provider_up(&p, shared);
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	CHECK_STR(fp->acr_values, "urn:singpass:authentication:loa:2 urn:singpass:authentication:loa:3");
	session_clear(&user);
	fp->token_mode = FP_TOKEN_ACR_LOW;
	CHECK_INT(login(&p, &user, &url), LOGIN_ID_TOKEN_CLAIMS);
	CHECK(strstr(p.errstr, "acr") != NULL);
	session_clear(&user);
	buf_free(&url);
	p.ops->free(&p);
}

static void test_par_answers(void)
{
	static const struct { int mode; enum provider_err want; } cases[] = {
		{ FP_PAR_OK, PROVIDER_OK },
		{ FP_PAR_200, PROVIDER_OK },
		{ FP_PAR_NO_URI, PROVIDER_ERR_UPSTREAM },
		{ FP_PAR_NOT_URN, PROVIDER_ERR_UPSTREAM },
		{ FP_PAR_LONG_URI, PROVIDER_ERR_UPSTREAM },
		{ FP_PAR_ERROR, PROVIDER_ERR_UPSTREAM },
	};
	struct provider p;
	struct buf url = BUF_INIT;

	reset_cfg();
	provider_up(&p, shared);
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		struct session attempt;
		session_init(&attempt, SESSION_LOGIN);
		fp->par_mode = cases[i].mode;
		buf_reset(&url);
		CHECK_INT(p.ops->authorize(&p, &attempt, &url), cases[i].want);
		if (cases[i].want != PROVIDER_OK) {
			CHECK_INT(url.len, 0);
			CHECK_INT(attempt.provider_secret_len, 0);
		}
		session_clear(&attempt);
	}
	CHECK(strstr(p.errstr, "invalid_client") != NULL);
	buf_free(&url);
	p.ops->free(&p);
}

/* Singpass's "try again" answers: up to three retries, 100 ms apart and
 * then doubling, each a new request; a fourth refusal, or a retry that
 * would overrun SGID_HTTP_TIMEOUT_MS, ends the call; other errors are
 * never retried. At PAR, token (server_error) and Myinfo userinfo
 * (upstream_depedency_error, as Singpass spells it). */
static void test_transient(void)
{
	struct provider p;
	struct session user, attempt;
	struct buf url = BUF_INIT;

	reset_cfg();
	provider_up(&p, shared);
	const struct singpass_client *c = provider_singpass_client(&p);
	unsigned before = c->transient_retries;
	int par0 = fh_count("/fapi/par");
	int64_t t0 = now_monotonic_ms();
	fp->transient = 3;                          /* three PARs refused, the fourth taken */
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	CHECK_INT(fh_count("/fapi/par") - par0, 4);
	CHECK_INT(c->transient_retries - before, 3);
	CHECK(now_monotonic_ms() - t0 >= 100 + 200 + 400);
	CHECK_STR(fp->problem, "");
	session_clear(&user);

	fp->transient = 4;                          /* a fourth refusal: given up */
	fp->transient_answered = 0;
	session_init(&attempt, SESSION_LOGIN);
	buf_reset(&url);
	CHECK_INT(p.ops->authorize(&p, &attempt, &url), PROVIDER_ERR_UPSTREAM);
	CHECK_INT(fp->transient_answered, 4);
	CHECK(strstr(p.errstr, "temporarily_unavailable") != NULL);
	session_clear(&attempt);

	/* at the token endpoint, server_error */
	fp->transient = 0;
	session_init(&attempt, SESSION_LOGIN);
	session_init(&user, SESSION_USER);
	buf_reset(&url);
	CHECK_INT(p.ops->authorize(&p, &attempt, &url), PROVIDER_OK);
	snprintf(fp->transient_code, sizeof(fp->transient_code), "server_error");
	fp->transient = 1;
	int tok0 = fh_count("/fapi/token");
	char code[7] = "code-?";
	code[5] = url.data[url.len - 1];
	CHECK_INT(p.ops->callback(&p, code, 6, &attempt, &user), LOGIN_OK);
	CHECK_INT(fh_count("/fapi/token") - tok0, 2);
	session_clear(&attempt);
	session_clear(&user);

	/* the budget: with 250 ms, the second retry (after 100 + 200 ms) would overrun it */
	cfg.http_timeout_ms = 250;
	fp->transient_code[0] = '\0';
	fp->transient = 3;
	fp->transient_answered = 0;
	session_init(&attempt, SESSION_LOGIN);
	buf_reset(&url);
	CHECK_INT(p.ops->authorize(&p, &attempt, &url), PROVIDER_ERR_UPSTREAM);
	CHECK_INT(fp->transient_answered, 2);
	session_clear(&attempt);
	cfg.http_timeout_ms = 5000;

	/* not a "try again": no retry */
	fp->transient = 0;
	fp->par_mode = FP_PAR_ERROR;
	par0 = fh_count("/fapi/par");
	session_init(&attempt, SESSION_LOGIN);
	buf_reset(&url);
	CHECK_INT(p.ops->authorize(&p, &attempt, &url), PROVIDER_ERR_UPSTREAM);
	CHECK_INT(fh_count("/fapi/par") - par0, 1);
	session_clear(&attempt);
	fp->par_mode = FP_PAR_OK;
	p.ops->free(&p);

	/* Myinfo userinfo */
	reset_cfg();
	cfg.singpass.myinfo = true;
	fp->myinfo = 1;
	snprintf(cfg.singpass.scopes, sizeof(cfg.singpass.scopes), "openid uinfin name");
	provider_up(&p, shared);
	session_init(&attempt, SESSION_LOGIN);
	session_init(&user, SESSION_USER);
	buf_reset(&url);
	CHECK_INT(p.ops->authorize(&p, &attempt, &url), PROVIDER_OK);
	code[5] = url.data[url.len - 1];
	snprintf(fp->transient_code, sizeof(fp->transient_code), "upstream_depedency_error");
	fp->userinfo_transient = 1;
	int ui0 = fh_count("/fapi/userinfo");
	CHECK_INT(p.ops->callback(&p, code, 6, &attempt, &user), LOGIN_OK);
	CHECK_INT(fh_count("/fapi/userinfo") - ui0, 2);
	CHECK_STR(fp->problem, "");
	session_clear(&attempt);
	session_clear(&user);
	buf_free(&url);
	p.ops->free(&p);
	reset_cfg();
}

/* A "try again" answered slowly: the retry gets only the time left of
 * SGID_HTTP_TIMEOUT_MS, so the whole PAR (and its place in the bulkhead)
 * ends within it. Here 2000 ms: the first 503 comes at 1500 ms, the retry
 * (sent at 1600 ms) would answer at 3100 ms; it is cut at 2000 ms. */
static void test_transient_budget(void)
{
	struct provider p;
	struct session attempt;
	struct buf url = BUF_INIT;

	reset_cfg();
	cfg.http_timeout_ms = 2000;
	provider_up(&p, shared);
	fp->transient = 2;
	fp->transient_delay_ms = 1500;
	fp->transient_answered = 0;
	session_init(&attempt, SESSION_LOGIN);
	int64_t t0 = now_monotonic_ms();
	CHECK_INT(p.ops->authorize(&p, &attempt, &url), PROVIDER_ERR_UPSTREAM);
	int64_t took = now_monotonic_ms() - t0;
	CHECK(took >= 1600);
	CHECK(took < 2000 + 800);   /* 3100 without the cap */
	if (took >= 2000 + 800)
		fprintf(stderr, "  the PAR with a retry took %lld ms (budget 2000)\n", (long long)took);
	session_clear(&attempt);
	buf_free(&url);
	p.ops->free(&p);
	/* the fake's slow answer ends before the next test */
	while (__atomic_load_n(&fp->transient_answered, __ATOMIC_SEQ_CST) < 2)
		fh_sleep_ms(10);
	reset_cfg();
}

/* use_dpop_nonce: one retry with the nonce, never a second; the nonce
 * kept for the next proofs. */
static void test_dpop_nonce(void)
{
	struct provider p;
	struct session user;
	struct buf url = BUF_INIT;

	reset_cfg();
	provider_up(&p, shared);
	const struct singpass_client *c = provider_singpass_client(&p);
	fp->token_nonce = 1;
	fp->token_nonce_sent = 0;
	int before = fh_count("/fapi/token");
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	CHECK_INT(fh_count("/fapi/token") - before, 2);
	CHECK_INT(fp->token_nonce_sent, 1);
	CHECK_INT(c->nonce_retries, 1);
	session_clear(&user);
	/* the nonce is remembered: the next login's proofs carry it at once */
	before = fh_count("/fapi/token");
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	CHECK_INT(fh_count("/fapi/token") - before, 1);
	CHECK_INT(fp->token_nonce_sent, 2);
	CHECK_INT(c->nonce_retries, 1);
	CHECK_STR(fp->problem, "");
	session_clear(&user);

	fp->token_nonce = 2; /* asks every time: the RP gives up after one retry */
	before = fh_count("/fapi/token");
	CHECK_INT(login(&p, &user, &url), LOGIN_TOKEN_ERROR);
	CHECK_INT(fh_count("/fapi/token") - before, 2);
	CHECK(strstr(p.errstr, "use_dpop_nonce") != NULL);
	session_clear(&user);

	/* a nonce no proof can carry (RFC 9449 §8.1: NQCHAR, no '"') fails
	 * that one login; it is not kept, so it cannot stop every later proof
	 * to that origin (this thread's next PAR) from being made */
	fp->token_nonce = 0;
	fp->token_bad_nonce = 1;
	before = fh_count("/fapi/token");
	CHECK_INT(login(&p, &user, &url), LOGIN_TOKEN_ERROR);
	CHECK_INT(fh_count("/fapi/token") - before, 1); /* no retry with it */
	CHECK(strchr(c->dpop_nonce, '"') == NULL);
	session_clear(&user);
	fp->token_bad_nonce = 0;
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	CHECK_STR(fp->problem, "");
	session_clear(&user);

	/* the server takes no nonce any more: the kept one is refused
	 * (invalid_dpop_proof), forgotten, and the PAR sent again without it */
	CHECK_STR(c->dpop_nonce, "fake-nonce-1");
	fp->nonce_unsupported = 1;
	int par = fh_count("/fapi/par");
	before = fh_count("/fapi/token");
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	CHECK_INT(fh_count("/fapi/par") - par, 2);
	CHECK_INT(fh_count("/fapi/token") - before, 1);
	CHECK_STR(c->dpop_nonce, "");
	session_clear(&user);
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	session_clear(&user);
	buf_free(&url);
	p.ops->free(&p);
}

/* Myinfo scopes: no authentication_context_type in the PAR; userinfo with
 * the DPoP-bound token (ath), its JWE/JWS opened and merged. */
static void test_myinfo(void)
{
	struct provider p;
	struct session user;
	struct buf url = BUF_INIT;

	reset_cfg();
	cfg.singpass.myinfo = true;
	fp->myinfo = 1;
	snprintf(cfg.singpass.scopes, sizeof(cfg.singpass.scopes), "openid uinfin name");
	provider_up(&p, shared);
	int before = fp->userinfo_ok;
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	CHECK_STR(fp->problem, "");
	CHECK_STR(fp->auth_ctx, "");
	CHECK_INT(fp->userinfo_ok - before, 1);
	const char *prof = buf_cstr(&user.profile);
	CHECK(strstr(prof, "\"name\":\"TAN AH KOW\"") != NULL);
	CHECK(strstr(prof, "should not replace") == NULL);
	CHECK(strstr(prof, "\"person_info\":{\"uinfin\":{\"value\":\"S1234567A\"}") != NULL);
	CHECK(strstr(prof, "\"iss\"") == NULL && strstr(prof, "\"aud\"") == NULL);
	session_clear(&user);

	/* userinfo asks for a nonce (401 WWW-Authenticate + DPoP-Nonce) */
	fp->userinfo_nonce = 1;
	before = fp->userinfo_ok;
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	CHECK_INT(fp->userinfo_ok - before, 1);
	session_clear(&user);
	buf_free(&url);
	p.ops->free(&p);
}

/* Discovery: one fetch for many logins across threads' clients of one
 * process, again after an hour (the injected clock, stopped: a slow run
 * under valgrind does not move it). */
static void test_discovery_cache(void)
{
	struct provider p, q;
	struct session user;
	struct buf url = BUF_INIT;
	struct singpass_shared *s = fresh_provider(&p);

	if (!s)
		return;
	provider_up(&q, s);
	int64_t t0 = now_unix();
	fp->frozen = t0;
	int before = fh_count("/fapi/.well-known/openid-configuration");
	for (int i = 0; i < 4; i++) {
		CHECK_INT(login(i % 2 ? &q : &p, &user, &url), LOGIN_OK);
		session_clear(&user);
	}
	CHECK_INT(singpass_discovery_fetches(s), 1);
	CHECK_INT(fh_count("/fapi/.well-known/openid-configuration") - before, 1);
	fp->frozen = t0 + SINGPASS_DISCOVERY_TTL - 1;
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	session_clear(&user);
	CHECK_INT(singpass_discovery_fetches(s), 1);
	fp->frozen = t0 + SINGPASS_DISCOVERY_TTL;
	CHECK_INT(login(&q, &user, &url), LOGIN_OK);
	session_clear(&user);
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	session_clear(&user);
	CHECK_INT(singpass_discovery_fetches(s), 2);
	CHECK_INT(fh_count("/fapi/.well-known/openid-configuration") - before, 2);
	/* a refresh that fails keeps the last copy, and is tried again a
	 * minute later, not on every login */
	fp->discovery_down = 1;
	fp->frozen = t0 + 2 * SINGPASS_DISCOVERY_TTL;
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	session_clear(&user);
	CHECK_INT(login(&q, &user, &url), LOGIN_OK);
	session_clear(&user);
	CHECK_INT(singpass_discovery_fetches(s), 3);
	fp->frozen = t0 + 2 * SINGPASS_DISCOVERY_TTL + SINGPASS_DISCOVERY_RETRY;
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	session_clear(&user);
	CHECK_INT(singpass_discovery_fetches(s), 4);
	fp->discovery_down = 0;
	fp->frozen = 0;
	buf_free(&url);
	p.ops->free(&p);
	q.ops->free(&q);
	free_shared(s);
}

/* Threads of one process, each its own client and HTTP handle, one
 * shared state: one discovery fetch and one JWKS fetch for all their
 * logins (the others wait for the fetch in flight). With a start_line,
 * one login each, counted when it ends as thread_want says. */
#define THREADS 4
static enum login_outcome thread_want = LOGIN_OK;
static int64_t thread_end_ms[THREADS]; /* monotonic: when each login ended */
static int thread_ends;
static void *login_thread(void *ud)
{
	struct singpass_shared *s = ud;
	struct httpc_opts o = { .connect_timeout_ms = 2000, .total_timeout_ms = 20000 };
	struct httpc *h = httpc_new(&o);
	struct provider p;
	struct session user;
	struct buf url = BUF_INIT;
	intptr_t ok = 0;

	memset(&p, 0, sizeof(p));
	p.cfg = &cfg;
	p.http = h;
	if (h && provider_singpass_init_with(&p, s, NULL) == 0)
		for (int i = 0; i < (start_line ? 1 : 3); i++) {
			ok += login(&p, &user, &url) == thread_want;
			int e = __atomic_fetch_add(&thread_ends, 1, __ATOMIC_SEQ_CST);
			if (e < THREADS)
				thread_end_ms[e] = now_monotonic_ms();
			session_clear(&user);
		}
	if (p.ops)
		p.ops->free(&p);
	buf_free(&url);
	httpc_free(h);
	return (void *)ok;
}

/* THREADS login threads over s, together; how many ended as thread_want. */
static intptr_t run_threads(struct singpass_shared *s)
{
	pthread_t t[THREADS];
	int started = 0;
	intptr_t ok = 0;

	for (int i = 0; i < THREADS; i++)
		started += pthread_create(&t[i], NULL, login_thread, s) == 0;
	CHECK_INT(started, THREADS);
	for (int i = 0; i < started; i++) {
		void *r = NULL;
		pthread_join(t[i], &r);
		ok += (intptr_t)r;
	}
	return ok;
}

/* run_threads with the logins started together: all threads wait at a
 * start line before authorize or, at_callback, before the callback. */
static intptr_t run_together(struct singpass_shared *s, bool at_callback)
{
	pthread_barrier_t line;
	intptr_t ok = -1;

	CHECK(pthread_barrier_init(&line, NULL, THREADS) == 0);
	start_line = &line;
	line_at_callback = at_callback;
	thread_ends = 0;
	ok = run_threads(s);
	start_line = NULL;
	line_at_callback = false;
	pthread_barrier_destroy(&line);
	return ok;
}

/* How many of the last run_threads' logins ended before *answered_ms
 * (the fake's clock of an answer: CLOCK_MONOTONIC is the machine's). */
static int ended_before(const int64_t *answered_ms)
{
	int n = 0;
	int64_t t = __atomic_load_n(answered_ms, __ATOMIC_SEQ_CST);
	for (int i = 0; i < THREADS && i < thread_ends; i++)
		n += thread_end_ms[i] < t;
	return n;
}

/* The hourly discovery refresh, slow: the logins meanwhile use the copy
 * held; only the thread that refreshes waits for Singpass. */
static void test_discovery_refresh_slow(void)
{
	struct provider p;
	struct session user;
	struct buf url = BUF_INIT;
	struct singpass_shared *s = fresh_provider(&p);

	if (!s)
		return;
	int64_t t0 = now_unix();
	fp->frozen = t0;
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	session_clear(&user);
	fp->frozen = t0 + SINGPASS_DISCOVERY_TTL;
	fp->discovery_delay_ms = 2000;
	CHECK_INT(run_together(s, false), THREADS);
	CHECK_INT(singpass_discovery_fetches(s), 2);
	CHECK_INT(ended_before(&fp->discovery_answered_ms), THREADS - 1);
	reset_cfg();
	buf_free(&url);
	p.ops->free(&p);
	free_shared(s);
}

/* Discovery (never loaded), then the JWKS (never loaded): Singpass's
 * answer slow and a failure. The threads that wait for the one fetch in
 * flight take its failure and fail at once; they do not each fetch again
 * in turn, the last one after THREADS slow answers, holding their places
 * in the bulkhead meanwhile. */
static void test_first_fetch_waiters(void)
{
	struct singpass_shared *s = new_shared();

	reset_cfg();
	CHECK(s != NULL);
	if (!s)
		return;
	fp->discovery_down = 1;
	fp->discovery_delay_ms = 1500;
	thread_want = LOGIN_OUTCOME__MAX; /* authorize failed */
	int disc = fh_count("/fapi/.well-known/openid-configuration"), jwks = fh_count("/fapi/jwks");
	CHECK_INT(run_together(s, false), THREADS);
	CHECK_INT(singpass_discovery_fetches(s), 1);
	CHECK_INT(fh_count("/fapi/.well-known/openid-configuration") - disc, 1);

	reset_cfg();
	fp->jwks_down = 1;
	fp->jwks_delay_ms = 1500;
	thread_want = LOGIN_JWKS_UNAVAILABLE;
	CHECK_INT(run_together(s, true), THREADS);
	CHECK_INT(fh_count("/fapi/jwks") - jwks, 1);
	thread_want = LOGIN_OK;
	reset_cfg();
	free_shared(s);
}

static void test_threads(void)
{
	struct singpass_shared *s = new_shared();

	reset_cfg();
	CHECK(s != NULL);
	if (!s)
		return;
	int disc = fh_count("/fapi/.well-known/openid-configuration"), jwks = fh_count("/fapi/jwks");
	CHECK_INT(run_threads(s), 3 * THREADS);
	CHECK_INT(singpass_discovery_fetches(s), 1);
	CHECK_INT(fh_count("/fapi/.well-known/openid-configuration") - disc, 1);
	CHECK_INT(fh_count("/fapi/jwks") - jwks, 1);
	free_shared(s);
}

/* Singpass's JWKS: loaded once, refetched on an unknown kid at most once a
 * minute; a set with two keys under one kid is refused. */
static void test_jwks(void)
{
	struct provider p;
	struct session user;
	struct buf url = BUF_INIT;
	struct singpass_shared *s = fresh_provider(&p);

	if (!s)
		return;
	int before = fh_count("/fapi/jwks");
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	session_clear(&user);
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	session_clear(&user);
	CHECK_INT(fh_count("/fapi/jwks") - before, 1);
	fp->token_mode = FP_TOKEN_UNKNOWN_KEY;
	CHECK_INT(login(&p, &user, &url), LOGIN_ID_TOKEN_SIGNATURE);
	session_clear(&user);
	CHECK_INT(fh_count("/fapi/jwks") - before, 2);
	CHECK_INT(login(&p, &user, &url), LOGIN_ID_TOKEN_SIGNATURE);
	session_clear(&user);
	CHECK_INT(fh_count("/fapi/jwks") - before, 2); /* throttled */
	p.ops->free(&p);
	free_shared(s);

	/* duplicate kids: no set, no login */
	s = new_shared();
	CHECK(s != NULL);
	if (!s)
		return;
	provider_up(&p, s);
	fp->token_mode = FP_TOKEN_OK;
	fp->jwks_dup_kids = 1;
	CHECK_INT(login(&p, &user, &url), LOGIN_JWKS_UNAVAILABLE);
	CHECK(strstr(p.errstr, "share a kid") != NULL);
	session_clear(&user);
	fp->jwks_dup_kids = 0;
	buf_free(&url);
	p.ops->free(&p);
	free_shared(s);
}

/* Singpass's JWKS is loaded again once an hour old: a signing key Singpass
 * withdrew stops opening logins within the hour, not only at the next
 * restart. A reload that fails keeps the keys it has and is tried again a
 * refetch interval later. (The cache's monotonic clock, injected.) */
static int64_t jwks_clock_ms;
static int64_t jwks_clock(void)
{
	return jwks_clock_ms;
}

static void test_jwks_max_age(void)
{
	struct provider p;
	struct session user;
	struct buf url = BUF_INIT;
	struct singpass_shared *s = fresh_provider(&p);
	const char *jw = "/fapi/jwks";

	if (!s)
		return;
	jwks_clock_ms = 1000000;
	s->jwks.now_ms = jwks_clock;
	int before = fh_count(jw);
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	session_clear(&user);
	CHECK_INT(fh_count(jw) - before, 1);
	/* an hour on, the JWKS is down: the keys held still open logins */
	fp->jwks_down = 1;
	jwks_clock_ms += (int64_t)JWKS_CACHE_MAX_AGE_S * 1000;
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	session_clear(&user);
	CHECK_INT(fh_count(jw) - before, 2);
	jwks_clock_ms += (int64_t)(cfg.jwks_refetch_interval - 1) * 1000;
	CHECK_INT(login(&p, &user, &url), LOGIN_OK); /* no retry yet */
	session_clear(&user);
	CHECK_INT(fh_count(jw) - before, 2);
	/* back, without the key the ID tokens are signed with: refused */
	fp->jwks_down = 0;
	fp->jwks_rotated = 1;
	jwks_clock_ms += 1000;
	CHECK_INT(login(&p, &user, &url), LOGIN_ID_TOKEN_SIGNATURE);
	session_clear(&user);
	CHECK_INT(fh_count(jw) - before, 3); /* the reload, no second fetch */
	fp->jwks_rotated = 0;

	/* the hourly reload, slow: the logins meanwhile go on with the keys
	 * held; only the thread that reloads waits for Singpass */
	fp->token_mode = FP_TOKEN_OK;
	jwks_clock_ms += (int64_t)JWKS_CACHE_MAX_AGE_S * 1000;
	CHECK_INT(login(&p, &user, &url), LOGIN_OK); /* reloaded: the key is back */
	session_clear(&user);
	jwks_clock_ms += (int64_t)JWKS_CACHE_MAX_AGE_S * 1000;
	fp->jwks_delay_ms = 2000;
	int n = fh_count(jw);
	CHECK_INT(run_together(s, true), THREADS);
	CHECK_INT(fh_count(jw) - n, 1);
	CHECK_INT(ended_before(&fp->jwks_answered_ms), THREADS - 1);
	fp->jwks_delay_ms = 0;
	buf_free(&url);
	p.ops->free(&p);
	free_shared(s);
}

/* The shared state from the configured key files (rp_keys_load): a login
 * with them; a missing signing key is refused, named. */
static void write_pem(const char *path, const crypto_ec_key *k)
{
	struct buf pem = BUF_INIT;
	crypto_ec_key *c = copy_key(k);
	FILE *f = fopen(path, "w");
	CHECK(c && f && crypto_ec_key_to_pem(c, &pem) == 0 && fwrite(pem.data, 1, pem.len, f) == pem.len);
	if (f)
		fclose(f);
	chmod(path, 0600);
	crypto_ec_key_free(c);
	buf_free(&pem);
}

static void test_key_files(void)
{
	char dir[] = "/tmp/sgid-singpass-XXXXXX", err[256] = "";
	struct provider p;
	struct session user;
	struct buf url = BUF_INIT;

	reset_cfg();
	CHECK(mkdtemp(dir) != NULL);
	snprintf(cfg.singpass.key_files[0], sizeof(cfg.singpass.key_files[0]), "%s/sig.pem", dir);
	snprintf(cfg.singpass.key_files[2], sizeof(cfg.singpass.key_files[2]), "%s/enc.pem", dir);
	snprintf(cfg.singpass.key_kids[0], sizeof(cfg.singpass.key_kids[0]), FP_RP_SIG_KID);
	snprintf(cfg.singpass.key_kids[2], sizeof(cfg.singpass.key_kids[2]), FP_RP_ENC_KID);
	write_pem(cfg.singpass.key_files[0], fp_rp_sig);
	write_pem(cfg.singpass.key_files[2], fp_rp_enc);
	struct singpass_shared *s = provider_singpass_shared_load(&cfg, err, sizeof(err));
	CHECK(s != NULL);
	if (s) {
		s->now = test_now;
		provider_up(&p, s);
		CHECK_INT(login(&p, &user, &url), LOGIN_OK);
		session_clear(&user);
		p.ops->free(&p);
		provider_singpass_shared_free(s);
	}
	unlink(cfg.singpass.key_files[0]);
	CHECK(provider_singpass_shared_load(&cfg, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "SINGPASS_SIGNING_KEY_FILE") != NULL);
	unlink(cfg.singpass.key_files[2]);
	rmdir(dir);
	buf_free(&url);
}

/* Discovery unreachable before it was ever loaded: no login starts. */
static void test_discovery_down(void)
{
	struct provider p;
	struct session attempt;
	struct buf url = BUF_INIT;
	struct singpass_shared *s = fresh_provider(&p);

	if (!s)
		return;
	fp->discovery_down = 1;
	session_init(&attempt, SESSION_LOGIN);
	int par = fh_count("/fapi/par");
	CHECK_INT(p.ops->authorize(&p, &attempt, &url), PROVIDER_ERR_UPSTREAM);
	CHECK(strstr(p.errstr, "discovery: HTTP 503 error=temporarily_unavailable") != NULL);
	CHECK_INT(fh_count("/fapi/par"), par);
	CHECK_INT(url.len, 0);
	fp->discovery_down = 0;
	CHECK_INT(p.ops->authorize(&p, &attempt, &url), PROVIDER_OK);
	session_clear(&attempt);
	buf_free(&url);
	p.ops->free(&p);
	free_shared(s);
}

/* A thread without the process's shared state uses its own. */
static void test_own_shared(void)
{
	struct provider p;
	struct session user;
	struct buf url = BUF_INIT;

	reset_cfg();
	memset(&p, 0, sizeof(p));
	p.cfg = &cfg;
	p.http = http;
	CHECK_INT(provider_singpass_init_with(&p, NULL, new_shared()), 0);
	/* every call to Singpass is in the provider-call metrics, the PAR and
	 * discovery among them (a fresh state: one discovery) */
	static struct metrics_block mb;
	memset(&mb, 0, sizeof(mb));
	p.metrics = &mb;
	CHECK_INT(login(&p, &user, &url), LOGIN_OK);
	static const struct { enum metrics_sgid_call call; long n; } calls[] = {
		{ METRICS_CALL_DISCOVERY, 1 }, { METRICS_CALL_PAR, 1 }, { METRICS_CALL_TOKEN, 1 },
		{ METRICS_CALL_JWKS, 1 }, { METRICS_CALL_USERINFO, 0 },
	};
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		long seen = 0;
		for (int b = 0; b <= METRICS_BUCKETS; b++)
			seen += (long)atomic_load(&mb.sgid_seconds[calls[i].call].bucket[b]);
		CHECK_INT(seen, calls[i].n);
		CHECK_INT(atomic_load(&mb.sgid_errors[calls[i].call]), 0);
	}
	session_clear(&user);
	buf_free(&url);
	p.ops->free(&p);
	CHECK(p.impl == NULL);
	/* no state at all: refused, nothing left behind (valgrind: no leak) */
	memset(&p, 0, sizeof(p));
	p.cfg = &cfg;
	CHECK_INT(provider_singpass_init_with(&p, NULL, NULL), -1);
	CHECK(p.ops == NULL && p.impl == NULL);
	CHECK(strstr(p.errstr, "no shared state") != NULL);
}

static void test_discovery_parse(void)
{
	static const char *iss = "https://id.singpass.gov.sg/fapi";
	static const struct { const char *doc; int want; } cases[] = {
		{ "{\"issuer\":\"https://id.singpass.gov.sg/fapi\",\"pushed_authorization_request_endpoint\":"
		  "\"https://id.singpass.gov.sg/fapi/par\",\"authorization_endpoint\":\"https://id.singpass."
		  "gov.sg/fapi/auth\",\"token_endpoint\":\"https://id.singpass.gov.sg/fapi/token\","
		  "\"jwks_uri\":\"https://id.singpass.gov.sg/.well-known/keys\"}", 0 },
		/* issuer with a trailing slash: not byte-equal */
		{ "{\"issuer\":\"https://id.singpass.gov.sg/fapi/\",\"pushed_authorization_request_endpoint\":"
		  "\"https://id.singpass.gov.sg/fapi/par\",\"authorization_endpoint\":\"https://id.singpass."
		  "gov.sg/fapi/auth\",\"token_endpoint\":\"https://id.singpass.gov.sg/fapi/token\","
		  "\"jwks_uri\":\"https://id.singpass.gov.sg/.well-known/keys\"}", -1 },
		/* http endpoint for an https issuer */
		{ "{\"issuer\":\"https://id.singpass.gov.sg/fapi\",\"pushed_authorization_request_endpoint\":"
		  "\"http://id.singpass.gov.sg/fapi/par\",\"authorization_endpoint\":\"https://id.singpass."
		  "gov.sg/fapi/auth\",\"token_endpoint\":\"https://id.singpass.gov.sg/fapi/token\","
		  "\"jwks_uri\":\"https://id.singpass.gov.sg/.well-known/keys\"}", -1 },
		/* an authorization endpoint with a query of its own */
		{ "{\"issuer\":\"https://id.singpass.gov.sg/fapi\",\"pushed_authorization_request_endpoint\":"
		  "\"https://id.singpass.gov.sg/fapi/par\",\"authorization_endpoint\":\"https://id.singpass."
		  "gov.sg/fapi/auth?x=1\",\"token_endpoint\":\"https://id.singpass.gov.sg/fapi/token\","
		  "\"jwks_uri\":\"https://id.singpass.gov.sg/.well-known/keys\"}", -1 },
		/* no PAR endpoint */
		{ "{\"issuer\":\"https://id.singpass.gov.sg/fapi\",\"authorization_endpoint\":\"https://id."
		  "singpass.gov.sg/fapi/auth\",\"token_endpoint\":\"https://id.singpass.gov.sg/fapi/token\","
		  "\"jwks_uri\":\"https://id.singpass.gov.sg/.well-known/keys\"}", -1 },
		{ "[]", -1 },
		{ "", -1 },
	};
	struct singpass_discovery d;
	const char *why = NULL;
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		CHECK_INT(singpass_discovery_parse(cases[i].doc, strlen(cases[i].doc), iss, false, &d, &why),
			cases[i].want);
		CHECK((cases[i].want == 0) == (why == NULL));
	}
	/* a loopback stand-in's issuer (http): its endpoints may be http only
	 * on loopback, never to another host in clear; no user information */
	static const char *lo = "http://127.0.0.1:5156/fapi";
	static const struct { const char *token, *jwks; int want; } http_cases[] = {
		{ "http://127.0.0.1:5156/fapi/token", "http://localhost:5156/fapi/jwks", 0 },
		{ "https://id.example.sg/token", "http://[::1]:5156/fapi/jwks", 0 },
		{ "http://id.example.sg/token", "http://127.0.0.1:5156/fapi/jwks", -1 },
		{ "http://127.0.0.1:5156/fapi/token", "http://10.0.0.7/jwks", -1 },
		{ "http://127.0.0.1.evil.example/token", "http://127.0.0.1:5156/fapi/jwks", -1 },
		{ "https://id.example.sg@evil.example/token", "http://127.0.0.1:5156/fapi/jwks", -1 },
	};
	for (size_t i = 0; i < ARRAY_LEN(http_cases); i++) {
		char doc[1024];
		snprintf(doc, sizeof(doc), "{\"issuer\":\"%s\",\"pushed_authorization_request_endpoint\":"
			"\"%s/par\",\"authorization_endpoint\":\"%s/auth\",\"token_endpoint\":\"%s\","
			"\"jwks_uri\":\"%s\"}", lo, lo, lo, http_cases[i].token, http_cases[i].jwks);
		int got = singpass_discovery_parse(doc, strlen(doc), lo, false, &d, &why);
		if (got != http_cases[i].want)
			fprintf(stderr, "discovery case %zu: %d (%s)\n", i, got, why ? why : "");
		CHECK_INT(got, http_cases[i].want);
	}
	CHECK_INT(singpass_discovery_parse(cases[0].doc, strlen(cases[0].doc), iss, false, &d, &why), 0);
	CHECK_STR(d.jwks_uri, "https://id.singpass.gov.sg/.well-known/keys");
	CHECK_STR(d.userinfo_endpoint, "");
	/* Myinfo needs userinfo_endpoint */
	CHECK_INT(singpass_discovery_parse(cases[0].doc, strlen(cases[0].doc), iss, true, &d, &why), -1);
}

/* The published staging ID token (SINGPASS-PROTOCOL §14 vector 4) opens
 * with the demo app's key, and its claims pass the Singpass rules at the
 * time it was issued (its signature cannot be checked offline). */
static void test_staging_vector(void)
{
	size_t len = 0;
	char *text = harness_read_file("tests/vectors/singpass-note-vectors.json", &len);
	json_value *doc = text ? json_parse(text, len, 1 << 20) : NULL;
	const json_value *v = json_get(doc, "staging_id_token");
	struct buf jwk = BUF_INIT, jws = BUF_INIT, profile = BUF_INIT;
	crypto_ec_key *k = NULL;
	struct rp_keys ks;
	char err[128];
	size_t jwe_len = 0;
	const char *jwe = json_get_str(v, "jwe", &jwe_len);

	memset(&ks, 0, sizeof(ks));
	CHECK(jwe != NULL);
	CHECK(json_append_value(&jwk, json_get(v, "enc_private_jwk")) == 0);
	CHECK_INT(jwk_ec_parse(jwk.data, jwk.len, true, &k), JOSE_OK);
	CHECK_INT(rp_keys_add(&ks, RP_KEY_ENC, false, k, "my-enc-key", err, sizeof(err)), 0);
	struct jwe_ec_key dec[2];
	size_t ndec = rp_keys_decrypters(&ks, dec);
	CHECK_INT(singpass_jwt_decrypt(jwe, jwe_len, SINGPASS_ID_TOKEN_MAX, dec, ndec, &jws), JOSE_OK);
	CHECK_INT(jws.len, 678);
	json_value *hdr = fp_seg_json(jws.data, 0), *pl = fp_seg_json(jws.data, 1);
	CHECK_STR(fp_str(hdr, "kid"), "alias/stg-sp-auth-api-id-token-signing-key-kms-asymmetric-key-alias");
	struct singpass_idt_expect x = {
		.base = { .issuer = "https://stg-id.singpass.gov.sg/fapi",
		          .client_id = "RsrOy2iB0edR53TJSuD5ULad1pGmrVZL",
		          .nonce = "t1j2kLlRE6an5hmo1iQrjz0BqRZTekg5TtRXCHhX5bQ",
		          .now = 1769738721 + 30, .skew = 60 },
	};
	struct idtoken_claims claims;
	CHECK_INT(singpass_idtoken_claims(pl, &x, &claims, &profile), IDT_OK);
	CHECK_STR(claims.sub, "7c9c72ec-5be2-495a-a78e-61e809a2a236");
	CHECK_STR(buf_cstr(&profile), "{\"name\":\"NAME OF S5410828A\"}");
	/* loa:1 is below an acr_values of loa:2 */
	x.acr_values = "urn:singpass:authentication:loa:2";
	buf_reset(&profile);
	CHECK_INT(singpass_idtoken_claims(pl, &x, &claims, &profile), IDT_ERR_ACR);
	x.acr_values = NULL;
	x.base.now = 1769739321 + 61; /* past exp + skew */
	CHECK_INT(singpass_idtoken_claims(pl, &x, &claims, &profile), IDT_ERR_EXP);
	/* one bit of the tag changed: refused */
	char *bad = strdup(jwe);
	bad[jwe_len - 2] = bad[jwe_len - 2] == 'A' ? 'B' : 'A';
	buf_reset(&jws);
	CHECK_INT(singpass_jwt_decrypt(bad, jwe_len, SINGPASS_ID_TOKEN_MAX, dec, ndec, &jws),
		JOSE_ERR_DECRYPT);
	CHECK_INT(jws.len, 0);
	/* the size bound holds before any work */
	CHECK_INT(singpass_jwt_decrypt(jwe, jwe_len, jwe_len - 1, dec, ndec, &jws), JOSE_ERR_TOO_LARGE);
	free(bad);
	json_free(hdr);
	json_free(pl);
	rp_keys_free(&ks);
	buf_free(&jwk);
	buf_free(&jws);
	buf_free(&profile);
	json_free(doc);
	free(text);
}

static void test_profile_merge(void)
{
	struct buf prof = BUF_INIT;
	static const char *const skip[] = { "iss", NULL };
	static const char ta[] = "{\"name\":\"A\",\"x\":1}";
	static const char tb[] = "{\"iss\":\"i\",\"name\":\"B\",\"y\":{\"v\":2}}";
	json_value *a = json_parse(ta, strlen(ta), 100);
	json_value *b = json_parse(tb, strlen(tb), 100);
	CHECK_INT(singpass_profile_merge(&prof, a, NULL), 0);
	CHECK_INT(singpass_profile_merge(&prof, b, skip), 0);
	CHECK_STR(buf_cstr(&prof), "{\"name\":\"A\",\"x\":1,\"y\":{\"v\":2}}");
	buf_reset(&prof);
	CHECK_INT(singpass_profile_merge(&prof, NULL, NULL), 0);
	CHECK_STR(buf_cstr(&prof), "{}");
	/* more members than a profile holds */
	struct buf big = BUF_INIT;
	buf_append_char(&big, '{');
	for (int i = 0; i <= SINGPASS_PROFILE_FIELDS; i++)
		buf_printf(&big, "%s\"f%d\":%d", i ? "," : "", i, i);
	buf_append_char(&big, '}');
	json_value *c = json_parse(big.data, big.len, big.len + 1);
	buf_reset(&prof);
	CHECK_INT(singpass_profile_merge(&prof, c, NULL), -1);
	json_free(a);
	json_free(b);
	json_free(c);
	buf_free(&big);
	buf_free(&prof);
}

int main(void)
{
	struct httpc_opts o = { .connect_timeout_ms = 2000, .total_timeout_ms = 10000 };

	log_set_level(LOG_LVL_ERROR);
	RUN(test_discovery_parse);
	RUN(test_staging_vector);
	RUN(test_profile_merge);
	if (fp_start() != 0 || httpc_global_init() != 0 || !(http = httpc_new(&o)) ||
	    !(shared = new_shared())) {
		fprintf(stderr, "test_singpass: cannot start the fake Singpass\n");
		fh_stop();
		return 1;
	}
	atexit(fh_stop);
	RUN(test_happy_path);
	RUN(test_id_token_table);
	RUN(test_acr);
	RUN(test_par_answers);
	RUN(test_dpop_nonce);
	RUN(test_transient);
	RUN(test_transient_budget);
	RUN(test_myinfo);
	RUN(test_discovery_cache);
	RUN(test_jwks);
	RUN(test_jwks_max_age);
	RUN(test_own_shared);
	RUN(test_discovery_down);
	RUN(test_key_files);
	RUN(test_threads);
	RUN(test_first_fetch_waiters);
	RUN(test_discovery_refresh_slow);
	free_shared(shared);
	httpc_free(http);
	crypto_ec_key_free(fp_op_key);
	crypto_ec_key_free(fp_other_key);
	crypto_ec_key_free(fp_rp_sig);
	crypto_ec_key_free(fp_rp_enc);
	crypto_ec_key_free(fp_rp_enc_prev);
	fh_stop();
	return harness_report("singpass");
}
