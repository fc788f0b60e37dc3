/* singpass: the Singpass FAPI 2.0 relying party's network half (see
 * singpass.h): discovery, PAR, token, userinfo, and Singpass's JWKS. */
#include "singpass.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "b64.h"
#include "crypto.h"
#include "http.h"
#include "log.h"
#include "pkce.h"
#include "util.h"

#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

static const char *const singpass_errstr[] = {
	[SINGPASS_OK] = "ok",
	[SINGPASS_ERR_DISCOVERY] = "Singpass discovery unavailable",
	[SINGPASS_ERR_PAR] = "pushed authorization request failed",
	[SINGPASS_ERR_TOKEN] = "token request failed",
	[SINGPASS_ERR_JWKS] = "Singpass JWKS unavailable",
	[SINGPASS_ERR_ID_TOKEN] = "ID token rejected",
	[SINGPASS_ERR_USERINFO] = "userinfo failed",
	[SINGPASS_ERR_INTERNAL] = "internal error",
};
_Static_assert(ARRAY_LEN(singpass_errstr) == SINGPASS_ERR__MAX, "singpass_errstr");

const char *singpass_strerror(enum singpass_err err)
{
	return (unsigned)err < SINGPASS_ERR__MAX ? singpass_errstr[err] : "unknown";
}

static void set_err(struct singpass_client *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_err(struct singpass_client *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->errstr, sizeof(c->errstr), fmt, ap);
	va_end(ap);
}

int singpass_shared_init_keys(struct singpass_shared *s, struct rp_keys *keys)
{
	memset(s, 0, sizeof(*s));
	s->keys = *keys;
	memset(keys, 0, sizeof(*keys));
	s->now = now_unix;
	if (pthread_mutex_init(&s->lock, NULL) != 0)
		goto fail_keys;
	if (pthread_cond_init(&s->fetch_done, NULL) != 0)
		goto fail_lock;
	if (jwks_cache_init(&s->jwks) != 0)
		goto fail_cond;
	return 0;
fail_cond:
	pthread_cond_destroy(&s->fetch_done);
fail_lock:
	pthread_mutex_destroy(&s->lock);
fail_keys:
	rp_keys_free(&s->keys);
	return -1;
}

void singpass_shared_free(struct singpass_shared *s)
{
	if (!s)
		return;
	jwks_cache_free(&s->jwks);
	pthread_cond_destroy(&s->fetch_done);
	pthread_mutex_destroy(&s->lock);
	rp_keys_free(&s->keys);
	memset(s, 0, sizeof(*s));
}

uint64_t singpass_discovery_fetches(struct singpass_shared *s)
{
	pthread_mutex_lock(&s->lock);
	uint64_t n = s->discovery_fetches;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void singpass_client_init(struct singpass_client *c, const struct config *cfg,
	struct httpc *http, struct singpass_shared *shared)
{
	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->http = http;
	c->shared = shared;
}

/* The OAuth error code of an error answer (its JSON "error", or the
 * error= of a WWW-Authenticate challenge), printable and bounded, or "". */
static void oauth_error(const struct httpc_response *r, char *out, size_t cap)
{
	json_value *body = json_parse(r->body.data, r->body.len, 64 * 1024);
	size_t len = 0;
	const char *err = json_get_str(body, "error", &len);

	out[0] = '\0';
	if (err && len < cap && is_printable_ascii(err, len))
		memcpy(out, err, len + 1);
	json_free(body);
	if (!out[0]) {
		const char *p = strstr(r->www_authenticate, "error=");
		if (p) {
			p += 6;
			if (*p == '"')
				p++;
			size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyz_");
			if (n > 0 && n < cap) {
				memcpy(out, p, n);
				out[n] = '\0';
			}
		}
	}
}

/* What a failed call says, without echoing bodies that could carry
 * tokens: the transport error, or the status and the OAuth error code. */
static void note_http_failure(struct singpass_client *c, const char *what, enum httpc_err e,
	const struct httpc_response *r)
{
	char code[64];

	if (e != HTTPC_ERR_STATUS) {
		set_err(c, "%s: %s (%s)", what, httpc_strerror(e), httpc_errstr(c->http));
		return;
	}
	oauth_error(r, code, sizeof(code));
	set_err(c, "%s: HTTP %ld%s%s", what, r->status, code[0] ? " error=" : "", code);
}

/* Counts a call to Singpass in the provider-call metrics. */
static void count_call(struct singpass_client *c, enum metrics_sgid_call call, int64_t start_us,
	enum httpc_err e)
{
	metrics_count_sgid_call(c->metrics, call, metrics_now_us() - start_us, e == HTTPC_OK);
}

static int fetch_discovery(struct singpass_client *c, struct singpass_discovery *out)
{
	const struct singpass_config *sp = &c->cfg->singpass;
	struct httpc_response r = {0};
	struct buf url = BUF_INIT;
	const char *why = NULL;
	int rc = -1;

	if (buf_append_strs(&url, sp->issuer, "/.well-known/openid-configuration", (char *)NULL) != 0) {
		set_err(c, "discovery: out of memory");
		goto fail;
	}
	int64_t start_us = metrics_now_us();
	enum httpc_err e = httpc_get(c->http, url.data, NULL, &r);
	count_call(c, METRICS_CALL_DISCOVERY, start_us, e);
	if (e != HTTPC_OK) {
		note_http_failure(c, "discovery", e, &r);
		goto fail;
	}
	if (singpass_discovery_parse(r.body.data, r.body.len, sp->issuer, sp->myinfo, out, &why) != 0) {
		set_err(c, "discovery: %s", why);
		goto fail;
	}
	rc = 0;
fail:
	httpc_response_free(&r);
	buf_free(&url);
	return rc;
}

/* c->disc from the process's copy, fetched when there is none or it is
 * an hour old. One fetch at a time: while it runs, the threads with a
 * copy use it; those without wait for the fetch and take its outcome (a
 * failure fails them at once, rather than each fetching again in turn,
 * one timeout after the other). A failed refresh keeps the old copy and
 * is retried SINGPASS_DISCOVERY_RETRY seconds later. */
static enum singpass_err discovery(struct singpass_client *c)
{
	struct singpass_shared *s = c->shared;
	struct singpass_discovery fresh;
	enum singpass_err rc = SINGPASS_OK;
	bool waited = false;

	pthread_mutex_lock(&s->lock);
	/* the fetch found running, not one another thread starts after it */
	uint64_t seen = s->discovery_fetches;
	while (s->fetching && !s->have_discovery && s->discovery_fetches == seen) {
		waited = true;
		pthread_cond_wait(&s->fetch_done, &s->lock);
	}
	int64_t now = s->now();
	if (waited && !s->have_discovery) {
		set_err(c, "%s", s->discovery_err);
		rc = SINGPASS_ERR_DISCOVERY;
	} else if (!s->fetching && (!s->have_discovery || now < s->discovery_at ||
	                            now - s->discovery_at >= SINGPASS_DISCOVERY_TTL)) {
		s->fetching = true;
		s->discovery_fetches++;
		pthread_mutex_unlock(&s->lock);
		int fr = fetch_discovery(c, &fresh);
		pthread_mutex_lock(&s->lock);
		s->fetching = false;
		pthread_cond_broadcast(&s->fetch_done);
		if (fr == 0) {
			s->discovery = fresh;
			s->have_discovery = true;
			s->discovery_at = now;
			log_info("singpass: discovery loaded");
		} else if (s->have_discovery) {
			log_warn("singpass: discovery refresh failed, keeping the last copy: %s",
				c->errstr);
			s->discovery_at = now - SINGPASS_DISCOVERY_TTL + SINGPASS_DISCOVERY_RETRY;
		} else {
			snprintf(s->discovery_err, sizeof(s->discovery_err),
				"%s (the fetch this request waited for)", c->errstr);
			rc = SINGPASS_ERR_DISCOVERY;
		}
	}
	if (rc == SINGPASS_OK)
		c->disc = s->discovery;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

/* ---- requests with a client assertion and a DPoP proof ---- */

static int add_param(struct buf *b, const char *name, const char *value)
{
	if ((b->len && buf_append_char(b, '&') != 0) || buf_append_strs(b, name, "=", (char *)NULL) != 0)
		return -1;
	return url_encode(b, value, strlen(value));
}

/* One call to Singpass with a DPoP proof of k: a form POST (form set)
 * with a fresh client assertion, or a GET of a resource with the
 * DPoP-bound access_token (the proof then carries ath). */
struct dpop_call {
	const char *url;
	const struct buf *form;        /* NULL: GET */
	const struct buf *access_token; /* GET only */
	const struct dpop_key *k;
	bool created_ok;               /* 201 is success too (PAR) */
	enum metrics_sgid_call call;
	const char *what;              /* "par", "token", "userinfo": logs */
};

/* Sends dc, its proof carrying the last nonce Singpass gave this thread
 * (none until it gives one: never unsolicited); when Singpass answers
 * use_dpop_nonce (400 from the AS, 401 with a WWW-Authenticate challenge
 * from userinfo) with a DPoP-Nonce, sends it once more with a new
 * assertion and a new proof carrying that nonce; never a second time.
 * A proof with the kept nonce answered invalid_dpop_proof and no new
 * nonce (a server that takes none, or no longer): the nonce is forgotten
 * and the request sent once more without it, so a nonce once given
 * cannot fail every later proof to that origin. */
static enum httpc_err send_dpop_once(struct singpass_client *c, const struct dpop_call *dc,
	int64_t deadline_ms, struct httpc_response *r)
{
	const struct config *cfg = c->cfg;
	char code[32];
	const char *nonce = "";
	enum httpc_err e = HTTPC_ERR_NOMEM;
	bool get = !dc->form;
	/* the origin: a nonce is one server's; another never sees it */
	const char *host = strstr(dc->url, "://");
	size_t olen = host ? (size_t)(host + 3 - dc->url) + strcspn(host + 3, "/") : 0;

	if (olen && olen < sizeof(c->dpop_nonce_origin) && c->dpop_nonce[0] &&
	    strlen(c->dpop_nonce_origin) == olen && memcmp(c->dpop_nonce_origin, dc->url, olen) == 0)
		nonce = c->dpop_nonce;

	for (int attempt = 0; attempt < 2; attempt++) {
		/* a deadline (a retry's): the time left caps the request; none
		 * left for the nonce retry, the answer before it stands */
		int64_t left = deadline_ms ? deadline_ms - now_monotonic_ms() : 0;
		if (deadline_ms && left <= 0) {
			if (attempt > 0)
				break;
			left = 1;
		}
		struct buf body = BUF_INIT, assertion = BUF_INIT, proof = BUF_INIT;
		bool sent_nonce = nonce[0] != '\0';
		int64_t now = c->shared->now();
		struct dpop_request dr = { get ? "GET" : "POST", dc->url, strlen(dc->url), now,
			nonce[0] ? nonce : NULL, get ? dc->access_token->data : NULL,
			get ? dc->access_token->len : 0 };
		struct httpc_request rq = { .url = dc->url, .created_ok = dc->created_ok,
			.timeout_ms = (long)left };
		e = HTTPC_ERR_NOMEM;
		if (dpop_proof(dc->k, &dr, &proof) != 0 ||
		    (!get && (rp_client_assertion(&c->shared->keys, cfg->singpass.client_id,
				c->disc.issuer, now, &assertion) != 0 ||
		              buf_append(&body, dc->form->data, dc->form->len) != 0 ||
		              add_param(&body, "client_assertion_type", ASSERTION_TYPE) != 0 ||
		              add_param(&body, "client_assertion", assertion.data) != 0))) {
			set_err(c, "cannot sign the client assertion or DPoP proof");
		} else {
			rq.dpop = proof.data;
			if (get) {
				rq.auth_scheme = "DPoP";
				rq.auth_token = dc->access_token->data;
				rq.accept = "application/jwt, application/jose, application/json";
			} else {
				rq.form = body.data;
				rq.form_len = body.len;
			}
			int64_t start_us = metrics_now_us();
			e = httpc_send(c->http, &rq, r);
			count_call(c, dc->call, start_us, e);
		}
		buf_free(&body);
		buf_free(&assertion);
		buf_free(&proof);
		/* only a nonce a proof can carry: one that dpop_proof refuses,
		 * kept, would fail every later proof to this origin */
		bool usable = (e == HTTPC_OK || e == HTTPC_ERR_STATUS) && dpop_nonce_valid(r->dpop_nonce);
		if (usable && olen && olen < sizeof(c->dpop_nonce_origin)) {
			memcpy(c->dpop_nonce, r->dpop_nonce, sizeof(c->dpop_nonce));
			memcpy(c->dpop_nonce_origin, dc->url, olen);
			c->dpop_nonce_origin[olen] = '\0';
			nonce = c->dpop_nonce;
		}
		if (e != HTTPC_ERR_STATUS || attempt > 0 || (r->status != 400 && r->status != 401))
			break;
		oauth_error(r, code, sizeof(code));
		if (usable && strcmp(code, "use_dpop_nonce") == 0) {
			c->nonce_retries++;
			log_debug("singpass: retrying with the server's DPoP nonce");
		} else if (!usable && sent_nonce && strcmp(code, "invalid_dpop_proof") == 0) {
			c->dpop_nonce[0] = c->dpop_nonce_origin[0] = '\0';
			nonce = "";
			log_debug("singpass: DPoP proof with the kept nonce refused; retrying without");
		} else {
			break;
		}
	}
	return e;
}

/* Singpass's "try again" answers (SINGPASS-PROTOCOL §10: server_error and
 * temporarily_unavailable at PAR and token, upstream_depedency_error, sic,
 * at userinfo): sent again up to SINGPASS_TRANSIENT_RETRIES times, after
 * 100 ms and then twice as long each time, each with a new assertion and
 * proof, while the whole call stays within SGID_HTTP_TIMEOUT_MS: a retry
 * is only sent with the time left, so a server that answers "try again"
 * slowly cannot stretch the call (and its place in the bulkhead) to
 * several timeouts. */
static bool transient_error(const char *code)
{
	return strcmp(code, "server_error") == 0 || strcmp(code, "temporarily_unavailable") == 0 ||
	       strcmp(code, "upstream_depedency_error") == 0 ||
	       strcmp(code, "upstream_dependency_error") == 0;
}

static enum httpc_err send_dpop(struct singpass_client *c, const struct dpop_call *dc,
	struct httpc_response *r)
{
	int64_t start_ms = now_monotonic_ms();
	int64_t delay_ms = SINGPASS_TRANSIENT_DELAY_MS;
	char code[32];

	for (int retry = 0;; retry++) {
		enum httpc_err e = send_dpop_once(c, dc, retry ? start_ms + c->cfg->http_timeout_ms : 0, r);
		if (e != HTTPC_ERR_STATUS || retry == SINGPASS_TRANSIENT_RETRIES)
			return e;
		oauth_error(r, code, sizeof(code));
		if (!transient_error(code) ||
		    now_monotonic_ms() - start_ms + delay_ms > c->cfg->http_timeout_ms)
			return e;
		c->transient_retries++;
		log_info("singpass: %s answered %s (HTTP %ld); trying again in %lld ms", dc->what, code,
		         r->status, (long long)delay_ms);
		struct timespec ts = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
		delay_ms *= 2;
	}
}

enum singpass_err singpass_par(struct singpass_client *c, const struct singpass_attempt *a,
	struct buf *url)
{
	const struct singpass_config *sp = &c->cfg->singpass;
	struct buf form = BUF_INIT, challenge = BUF_INIT;
	struct httpc_response r = {0};
	json_value *body = NULL;
	enum singpass_err rc;

	c->errstr[0] = '\0';
	if ((rc = discovery(c)) != SINGPASS_OK)
		goto fail;
	rc = SINGPASS_ERR_INTERNAL;
	if (!a || !a->dpop || pkce_challenge(a->code_verifier, strlen(a->code_verifier), &challenge) != 0)
		goto fail;
	if (add_param(&form, "response_type", "code") || add_param(&form, "client_id", sp->client_id) ||
	    add_param(&form, "redirect_uri", sp->redirect_uri) || add_param(&form, "scope", sp->scopes) ||
	    add_param(&form, "state", a->state) || add_param(&form, "nonce", a->nonce) ||
	    add_param(&form, "code_challenge", challenge.data) ||
	    add_param(&form, "code_challenge_method", "S256") ||
	    add_param(&form, "dpop_jkt", a->dpop->jkt))
		goto fail;
	if (sp->acr_values[0] && add_param(&form, "acr_values", sp->acr_values))
		goto fail;
	/* Myinfo apps must not send it (SINGPASS-PROTOCOL §4.1) */
	if (!sp->myinfo && sp->auth_context_type[0] &&
	    add_param(&form, "authentication_context_type", sp->auth_context_type))
		goto fail;
	rc = SINGPASS_ERR_PAR;
	struct dpop_call dc = { c->disc.par_endpoint, &form, NULL, a->dpop, true, METRICS_CALL_PAR, "par" };
	enum httpc_err e = send_dpop(c, &dc, &r);
	if (e != HTTPC_OK) {
		note_http_failure(c, "par", e, &r);
		goto fail;
	}
	size_t len = 0;
	body = json_parse(r.body.data, r.body.len, c->cfg->http_max_body);
	const char *uri = json_get_str(body, "request_uri", &len);
	if (!uri || len == 0 || len > SINGPASS_REQUEST_URI_MAX || !is_printable_ascii(uri, len) ||
	    strncmp(uri, "urn:", 4) != 0) {
		set_err(c, "par: answer without a usable request_uri");
		goto fail;
	}
	rc = SINGPASS_ERR_INTERNAL;
	if (buf_append_str(url, c->disc.authorization_endpoint) != 0 ||
	    buf_append_str(url, "?client_id=") != 0 ||
	    url_encode(url, sp->client_id, strlen(sp->client_id)) != 0 ||
	    buf_append_str(url, "&request_uri=") != 0 || url_encode(url, uri, len) != 0)
		goto fail;
	rc = SINGPASS_OK;
fail:
	json_free(body);
	httpc_response_free(&r);
	buf_free(&form);
	buf_free(&challenge);
	return rc;
}

/* ---- Singpass's JWKS and the JWS layer ---- */

/* One verification against the cached set; also the cache's fetcher. */
struct jws_check {
	struct singpass_client *c;
	const char *jws;
	size_t len;
	json_value *payload;
	enum jose_err e;
};

static int fetch_jwks(void *ud, struct jwks *fresh)
{
	struct singpass_client *c = ((struct jws_check *)ud)->c;
	struct httpc_response r = {0};
	int rc = -1;
	int64_t start_us = metrics_now_us();
	enum httpc_err e = httpc_get(c->http, c->disc.jwks_uri, NULL, &r);

	count_call(c, METRICS_CALL_JWKS, start_us, e);
	if (e != HTTPC_OK) {
		note_http_failure(c, "jwks", e, &r);
		goto fail;
	}
	enum jose_err je = jwks_parse_es256(r.body.data, r.body.len, fresh);
	if (je != JOSE_OK || fresh->n == 0) {
		set_err(c, "jwks: %s", je != JOSE_OK ? "malformed, or two keys share a kid" :
			"no usable ES256 key");
		jwks_clear(fresh);
		goto fail;
	}
	log_info("singpass: jwks loaded %zu key(s)", fresh->n);
	rc = 0;
fail:
	httpc_response_free(&r);
	return rc;
}

static enum jwks_use verify_with(void *ud, const struct jwks *keys)
{
	struct jws_check *k = ud;
	json_free(k->payload);
	k->payload = NULL;
	k->e = jws_verify_es256(k->jws, k->len, keys, &k->payload);
	return k->e == JOSE_ERR_NO_KEY ? JWKS_USE_UNKNOWN_KEY : JWKS_USE_DONE;
}

/* Verifies a JWS Singpass signed; on an unknown key refetches its JWKS at
 * most once per SGID_JWKS_MIN_REFETCH_SECONDS for the process. *payload is
 * the caller's on JOSE_OK; *jwks_down says the set could not be had. */
static enum jose_err verify_jws(struct singpass_client *c, const char *jws, size_t len,
	json_value **payload, bool *jwks_down)
{
	struct jws_check k = { c, jws, len, NULL, JOSE_ERR_NO_KEY };
	struct jwks_cache_user u = { fetch_jwks, verify_with, &k };
	bool refetched = false;

	*jwks_down = false;
	*payload = NULL;
	c->errstr[0] = '\0';
	enum jwks_cache_rc jr = jwks_cache_use(&c->shared->jwks, c->cfg->jwks_refetch_interval, &u,
		&refetched);
	if (refetched)
		metrics_count_jwks_refetch(c->metrics);
	if (jr == JWKS_CACHE_FETCH_FAILED) {
		if (!c->errstr[0]) /* the fetch this call waited for failed */
			set_err(c, "jwks: unavailable (the fetch this request waited for failed)");
		*jwks_down = true;
		json_free(k.payload);
		return JOSE_ERR_NO_KEY;
	}
	if (k.e != JOSE_OK) {
		json_free(k.payload);
		return k.e;
	}
	*payload = k.payload;
	return JOSE_OK;
}

/* ---- token and ID token ---- */

void singpass_tokens_clear(struct singpass_tokens *t)
{
	if (!t)
		return;
	buf_free(&t->access_token);
	buf_free(&t->profile);
	secure_zero(t, sizeof(*t));
}

/* The JWS layer's failure as an ID-token reason. */
static enum idt_err idt_of_jws(enum jose_err e)
{
	switch (e) {
	case JOSE_ERR_ALG: return IDT_ERR_ALG;
	case JOSE_ERR_NO_KEY: return IDT_ERR_NO_KEY;
	case JOSE_ERR_SIGNATURE:
	case JOSE_ERR_KEY: return IDT_ERR_SIGNATURE;
	default: return IDT_ERR_MALFORMED;
	}
}

static enum singpass_err id_token_refused(struct singpass_client *c, enum idt_err e,
	const char *detail)
{
	c->idt_err = e;
	set_err(c, "id_token: %s%s%s", idtoken_strerror(e), detail ? ": " : "", detail ? detail : "");
	return SINGPASS_ERR_ID_TOKEN;
}

/* A JWT Singpass sent the RP: the JWE (at most max bytes) decrypted, the
 * JWS inside verified; JOSE_OK with *payload the caller's. *jwks_down:
 * Singpass's JWKS could not be had; *in_jwe: the JWE layer failed. */
static enum jose_err open_jwt(struct singpass_client *c, const char *jwe, size_t len, size_t max,
	json_value **payload, bool *jwks_down, bool *in_jwe)
{
	struct buf jws = BUF_INIT;
	struct jwe_ec_key keys[2];
	size_t n = rp_keys_decrypters(&c->shared->keys, keys);
	enum jose_err je = singpass_jwt_decrypt(jwe, len, max, keys, n, &jws);

	*payload = NULL;
	*jwks_down = false;
	*in_jwe = je != JOSE_OK;
	if (je == JOSE_OK)
		je = verify_jws(c, jws.data, jws.len, payload, jwks_down);
	buf_free(&jws);
	return je;
}

/* The ID token: opened, its claims checked; sub and the profile into out. */
static enum singpass_err open_id_token(struct singpass_client *c, const char *jwe, size_t len,
	const char *nonce, struct singpass_tokens *out)
{
	const struct config *cfg = c->cfg;
	json_value *payload = NULL;
	struct idtoken_claims claims;
	bool jwks_down, in_jwe;
	enum singpass_err rc;

	enum jose_err je = open_jwt(c, jwe, len, SINGPASS_ID_TOKEN_MAX, &payload, &jwks_down, &in_jwe);
	if (jwks_down) {
		rc = SINGPASS_ERR_JWKS;
		goto fail;
	}
	if (je != JOSE_OK) {
		rc = in_jwe ? id_token_refused(c, IDT_ERR_MALFORMED, jose_strerror(je)) :
			id_token_refused(c, idt_of_jws(je), NULL);
		goto fail;
	}
	struct singpass_idt_expect x = {
		.base = { .issuer = c->disc.issuer, .client_id = cfg->singpass.client_id,
		          .nonce = nonce, .now = c->shared->now(), .skew = cfg->clock_skew },
		.acr_values = cfg->singpass.acr_values,
	};
	enum idt_err ie = singpass_idtoken_claims(payload, &x, &claims, &out->profile);
	if (ie != IDT_OK) {
		rc = id_token_refused(c, ie, NULL);
		goto fail;
	}
	memcpy(out->sub, claims.sub, sizeof(out->sub));
	rc = SINGPASS_OK;
fail:
	json_free(payload);
	return rc;
}

enum singpass_err singpass_exchange_code(struct singpass_client *c, const char *code,
	size_t code_len, const struct singpass_attempt *a, struct singpass_tokens *out)
{
	const struct singpass_config *sp = &c->cfg->singpass;
	struct buf form = BUF_INIT;
	struct httpc_response r = {0};
	json_value *body = NULL;
	enum singpass_err rc;

	memset(out, 0, sizeof(*out));
	c->errstr[0] = '\0';
	c->idt_err = IDT_OK;
	if ((rc = discovery(c)) != SINGPASS_OK)
		goto fail;
	rc = SINGPASS_ERR_INTERNAL;
	if (!a || !a->dpop || !code || code_len == 0 || code_len > 2048 ||
	    !is_printable_ascii(code, code_len)) {
		set_err(c, "token: no usable code or attempt");
		goto fail;
	}
	/* client_id too: O4W (Singpass's demo app) sends it (UNCONFIRMED) */
	if (add_param(&form, "grant_type", "authorization_code") ||
	    buf_append_str(&form, "&code=") || url_encode(&form, code, code_len) ||
	    add_param(&form, "redirect_uri", sp->redirect_uri) ||
	    add_param(&form, "code_verifier", a->code_verifier) ||
	    add_param(&form, "client_id", sp->client_id))
		goto fail;
	rc = SINGPASS_ERR_TOKEN;
	struct dpop_call dc = { c->disc.token_endpoint, &form, NULL, a->dpop, false,
		METRICS_CALL_TOKEN, "token" };
	enum httpc_err e = send_dpop(c, &dc, &r);
	if (e != HTTPC_OK) {
		note_http_failure(c, "token", e, &r);
		goto fail;
	}
	body = json_parse(r.body.data, r.body.len, c->cfg->http_max_body);
	size_t tt_len = 0, at_len = 0, id_len = 0;
	const char *tt = json_get_str(body, "token_type", &tt_len);
	const char *at = json_get_str(body, "access_token", &at_len);
	const char *id = json_get_str(body, "id_token", &id_len);
	if (json_kind_of(body) != JSON_OBJECT) {
		set_err(c, "token: response is not a JSON object");
		goto fail;
	}
	if (!tt || tt_len != 4 || strncasecmp(tt, "DPoP", 4) != 0) {
		set_err(c, "token: token_type is not DPoP");
		goto fail;
	}
	if (!at || at_len == 0 || at_len > SINGPASS_ACCESS_TOKEN_MAX || !is_printable_ascii(at, at_len)) {
		set_err(c, "token: access_token missing or malformed");
		goto fail;
	}
	if (!id || id_len == 0) {
		set_err(c, "token: id_token missing");
		goto fail;
	}
	if ((rc = open_id_token(c, id, id_len, a->nonce, out)) != SINGPASS_OK)
		goto fail;
	rc = SINGPASS_ERR_INTERNAL;
	if (buf_append(&out->access_token, at, at_len) != 0)
		goto fail;
	rc = SINGPASS_OK;
fail:
	if (rc != SINGPASS_OK)
		singpass_tokens_clear(out);
	json_free(body);
	httpc_response_free(&r);
	buf_free(&form);
	return rc;
}

/* ---- Myinfo userinfo ---- */

/* The registered claims of the userinfo JWT: checked, not profile data. */
static const char *const userinfo_skip[] = {
	"iss", "sub", "aud", "azp", "iat", "exp", "nbf", "jti", "nonce", NULL,
};

static bool aud_has(const json_value *p, const char *client_id)
{
	const json_value *aud = json_get(p, "aud");
	size_t len;
	const char *s = json_str(aud, &len);

	if (s)
		return str_eq_n(s, len, client_id);
	for (size_t i = 0; i < json_array_len(aud); i++)
		if ((s = json_str(json_array_at(aud, i), &len)) && str_eq_n(s, len, client_id))
			return true;
	return false;
}

enum singpass_err singpass_userinfo(struct singpass_client *c, const struct dpop_key *k,
	struct singpass_tokens *t)
{
	struct httpc_response r = {0};
	json_value *payload = NULL;
	bool jwks_down = false, in_jwe;
	enum singpass_err rc;

	c->errstr[0] = '\0';
	if ((rc = discovery(c)) != SINGPASS_OK)
		goto fail;
	rc = SINGPASS_ERR_USERINFO;
	if (!c->disc.userinfo_endpoint[0] || !k || !t || !t->access_token.len) {
		set_err(c, "userinfo: no userinfo_endpoint in discovery, or no access token");
		goto fail;
	}
	struct dpop_call dc = { c->disc.userinfo_endpoint, NULL, &t->access_token, k, false,
		METRICS_CALL_USERINFO, "userinfo" };
	enum httpc_err e = send_dpop(c, &dc, &r);
	if (e != HTTPC_OK) {
		note_http_failure(c, "userinfo", e, &r);
		goto fail;
	}
	/* the compact JWE, perhaps with a final newline */
	size_t len = r.body.len;
	while (len && (r.body.data[len - 1] == '\n' || r.body.data[len - 1] == '\r' ||
	               r.body.data[len - 1] == ' '))
		len--;
	enum jose_err je = open_jwt(c, r.body.data, len, SINGPASS_USERINFO_MAX, &payload, &jwks_down,
		&in_jwe);
	if (jwks_down) {
		rc = SINGPASS_ERR_JWKS;
		goto fail;
	}
	if (je != JOSE_OK) {
		set_err(c, "userinfo: %s: %s", in_jwe ? "JWE" : "JWS", jose_strerror(je));
		goto fail;
	}
	size_t n = 0;
	const char *s = json_get_str(payload, "iss", &n);
	if (!s || !str_eq_n(s, n, c->disc.issuer) || !aud_has(payload, c->cfg->singpass.client_id)) {
		set_err(c, "userinfo: iss or aud mismatch");
		goto fail;
	}
	s = json_get_str(payload, "sub", &n);
	if (!s || !str_eq_n(s, n, t->sub)) {
		set_err(c, "userinfo: sub differs from the ID token's");
		goto fail;
	}
	if (singpass_profile_merge(&t->profile, payload, userinfo_skip) != 0) {
		set_err(c, "userinfo: too many or badly named claims");
		goto fail;
	}
	rc = SINGPASS_OK;
fail:
	json_free(payload);
	httpc_response_free(&r);
	return rc;
}
