#include "api.h"

#include <stdio.h>
#include <string.h>

#include "audit.h"
#include "crypto.h"
#include "gateway.h"
#include "health.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "outcome.h"
#include "returnurl.h"
#include "util.h"

#define ICECREAM_MAX 32
#define STATE_MAX 64
#define CODE_MAX 2048

int app_init(struct app *a, const struct config *cfg, const struct app_shared *shared)
{
	memset(a, 0, sizeof(*a));
	a->cfg = cfg;
	a->cookie = (struct cookie_opts){
		.name = cfg->cookie_name, .secure = cfg->cookie_secure,
		.samesite = cfg->cookie_samesite, .path = "/",
	};
	struct httpc_opts ho = {
		.connect_timeout_ms = cfg->http_connect_timeout_ms,
		.total_timeout_ms = cfg->http_timeout_ms,
		.max_body = cfg->http_max_body,
		.ca_file = cfg->ca_file,
		.proxy = cfg->https_proxy,
		.user_agent = "sgid-fcgi/" SGID_VERSION,
		.share = shared ? shared->http : NULL,
	};
	a->store = store_redis_new(&cfg->redis);
	a->http = httpc_new(&ho);
	if (!a->store || !a->http || session_mgr_init(&a->sessions, a->store, cfg) != 0) {
		app_free(a);
		return -1;
	}
	if (provider_init(&a->provider, cfg, a->http, shared ? shared->provider : NULL) != 0) {
		log_error("provider: %s", a->provider.errstr);
		app_free(a);
		return -1;
	}
	return 0;
}

void app_attach_slot(struct app *a, struct sb_slot_ref slot)
{
	a->slot = slot;
	a->metrics = scoreboard_metrics(slot);
	a->provider.metrics = a->metrics;
	if (a->store)
		a->store->metrics = a->metrics;
}

void app_free(struct app *a)
{
	if (!a)
		return;
	provider_free(&a->provider);
	session_mgr_wipe(&a->sessions);
	authz_cache_free(&a->authz);
	httpc_free(a->http);
	store_free(a->store);
	a->http = NULL;
	a->store = NULL;
}

/* --- shared helpers ---------------------------------------------------- */

static bool valid_icecream(const char *v, size_t len)
{
	if (len == 0 || len > ICECREAM_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = v[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		      c == ' ' || c == '-' || c == '_' || c == '.'))
			return false;
	}
	return true;
}

static bool valid_token_chars(const char *v, size_t len)
{
	return len > 0 && is_printable_ascii(v, len);
}

/* Ends every logged-in session the request's cookies name (a value of
 * another shape names none). */
static enum session_err end_named_sessions(struct app *a, const struct request *req)
{
	enum session_err rc = SESSION_OK;
	for (size_t i = 0; i < req->cookies->n; i++) {
		const struct cookie_value *c = &req->cookies->v[i];
		enum session_err e = session_destroy(&a->sessions, c->val, c->len);
		if (e != SESSION_OK)
			rc = e;
	}
	return rc;
}

static bool origin_allowed(const struct app *a, const struct request *req)
{
	return req->origin && strcmp(req->origin, a->cfg->frontend_origin) == 0;
}

/* A request the browser says another site made (Sec-Fetch-Site:
 * cross-site): a link, a form or an <img> there sends our cookie along
 * (SameSite=Lax on navigations, None on everything), so it ends no
 * session. The SPA's own calls carry its Origin (SGID_FRONTEND_HOST, which
 * may be another site) and pass; so do requests without the header (curl,
 * older browsers) and same-site, same-origin and "none" (typed, bookmark). */
static bool cross_site(const struct app *a, const struct request *req)
{
	return req->sec_fetch_site && strcmp(req->sec_fetch_site, "cross-site") == 0 &&
	       !origin_allowed(a, req);
}

/* cross_site: 403, nothing changed, no cookie set. */
static bool refuse_cross_site(const struct app *a, const struct request *req, const char *route,
	struct response *res)
{
	if (!cross_site(a, req))
		return false;
	log_warn("%s: refused: a cross-site request (Sec-Fetch-Site) from no allowed origin", route);
	resp_json_error(res, 403, "cross_site_request",
	                "Another site cannot start a login or log out here; use this site's own page.");
	return true;
}

/* The logged-in session among our cookies: the first id that loads (a
 * sibling app's cookie of our name names nothing here). */
static enum session_err load_session(struct app *a, const struct request *req,
	struct session *s, const struct cookie_value **which)
{
	enum session_err rc = SESSION_NOT_FOUND;
	for (size_t i = 0; i < req->cookies->n && rc == SESSION_NOT_FOUND; i++) {
		const struct cookie_value *c = &req->cookies->v[i];
		/* an attempt or junk is "not found" without a store call */
		rc = session_load_user(&a->sessions, c->val, c->len, s);
		*which = c;
	}
	return rc;
}

static void json_reply(struct response *res, int status, const struct buf *b)
{
	if (b->data)
		resp_json(res, status, b->data, b->len);
	else
		resp_json_error(res, 500, "internal_error", "out of memory");
}

static void store_down(struct response *res)
{
	resp_json_error(res, 503, "session_store_unavailable",
	                "The session store is unreachable; try again shortly.");
}

static void audit(struct app *a, const struct request *req, enum audit_event ev,
	const char *outcome, const char *cause, const char *sub)
{
	const struct audit_record r = { ev, outcome, cause, sub, NULL };
	const struct audit_peer p = { req->remote_addr, req->x_forwarded_for, req->user_agent };
	if (!audit_write(&r, &p))
		metrics_count_audit_dropped(a->metrics);
}

/* Why a new login attempt could not start. */
enum attempt_err { ATTEMPT_OK, ATTEMPT_OVER_CAPACITY, ATTEMPT_UPSTREAM, ATTEMPT_INTERNAL };

/* A new login attempt in s (the caller set icecream, gateway and rd): the
 * provider's authorize (state, nonce, whatever its callback needs back;
 * inside the bulkhead when it calls the provider), then the sealed
 * cookie. Nothing is sealed when the provider fails. */
static enum attempt_err start_attempt(struct app *a, const char *route, struct session *s,
	struct buf *url, struct buf *attempt)
{
	struct provider *p = &a->provider;
	bool calls = p->ops->authorize_calls_provider;
	if (calls && !scoreboard_enter_sgid(a->slot)) {
		log_warn("%s: over capacity: too many %s calls in flight", route, p->ops->name);
		return ATTEMPT_OVER_CAPACITY;
	}
	enum provider_err pe = p->ops->authorize(p, s, url);
	if (calls)
		scoreboard_leave_sgid(a->slot);
	if (pe != PROVIDER_OK) {
		log_error("%s: %s authorize: %s", route, p->ops->name, p->errstr);
		return pe == PROVIDER_ERR_UPSTREAM ? ATTEMPT_UPSTREAM : ATTEMPT_INTERNAL;
	}
	return session_seal_login(&a->sessions, s, attempt) == SESSION_OK ? ATTEMPT_OK
	                                                                  : ATTEMPT_INTERNAL;
}

/* The answer when an attempt could not start: no cookie, nothing ended. */
static void attempt_refused(struct response *res, enum attempt_err e)
{
	switch (e) {
	case ATTEMPT_OVER_CAPACITY:
		resp_json_error(res, 503, "over_capacity",
		                "Too many logins are starting at once; try again shortly.");
		resp_header(res, "Retry-After", "1");
		break;
	case ATTEMPT_UPSTREAM:
		resp_json_error(res, 502, "provider_unavailable",
		                "The identity provider did not answer; try again shortly.");
		break;
	default:
		resp_json_error(res, 500, "internal_error", "could not build the login URL");
	}
}

/* The cookie for a new attempt: it, then the attempts the browser has
 * pending (the first value of our name that is no session id), so a login
 * begun in another tab can still finish. */
static int attempts_cookie(struct app *a, const struct request *req, const struct buf *attempt,
	struct buf *out)
{
	const char *prev = NULL;
	size_t prev_len = 0;
	for (size_t i = 0; i < req->cookies->n && !prev; i++) {
		const struct cookie_value *c = &req->cookies->v[i];
		if (!session_id_valid(c->val, c->len)) {
			prev = c->val;
			prev_len = c->len;
		}
	}
	return session_attempts_push(&a->sessions, attempt, prev, prev_len, out) == SESSION_OK ? 0 : -1;
}

/* The new attempt replaces the cookie: a session it named would live on
 * unreachable by any logout, so it ends here. A store that cannot say it
 * did is a 503: the user retries rather than leaving it behind. */
static bool end_replaced_sessions(struct app *a, const struct request *req, const char *route,
	struct response *res)
{
	enum session_err se = end_named_sessions(a, req);
	if (se == SESSION_OK)
		return true;
	log_error("%s: ending the replaced session: %s: %s", route, session_strerror(se),
	          a->store->errstr);
	store_down(res);
	return false;
}

/* --- GET /api/auth-url ------------------------------------------------- */

static const struct field_spec auth_url_fields[] = {
	{ "icecream", false, ICECREAM_MAX, valid_icecream },
};

static void handle_auth_url(struct app *a, const struct request *req, struct response *res)
{
	struct kv_list q = {0};
	struct session s;
	struct buf url = BUF_INIT, body = BUF_INIT, attempt = BUF_INIT, cookie = BUF_INIT;
	const struct kv *vals[ARRAY_LEN(auth_url_fields)];
	const char *bad = NULL;

	session_init(&s, SESSION_LOGIN);
	if (refuse_cross_site(a, req, "auth-url", res))
		goto done;
	enum http_err he = http_parse_query(req->query, strlen(req->query), &q);
	if (he != HTTP_OK) {
		log_warn("auth-url: query refused: %s", http_strerror(he));
		resp_json_error(res, 400, "bad_request", http_strerror(he));
		goto done;
	}
	if (http_bind_fields(&q, auth_url_fields, ARRAY_LEN(auth_url_fields), vals, &bad) != FIELD_OK) {
		log_warn("auth-url: invalid parameter %s", bad);
		resp_json_error(res, 400, "invalid_parameter",
		                "icecream must be 1-32 letters, digits, spaces, '-', '_' or '.'");
		goto done;
	}
	/* As the official examples do, a missing choice reads "None". */
	const char *icecream = vals[0] ? vals[0]->val : "None";
	memcpy(s.icecream, icecream, strlen(icecream) + 1);
	enum attempt_err ae = start_attempt(a, "auth-url", &s, &url, &attempt);
	if (ae != ATTEMPT_OK) {
		attempt_refused(res, ae);
		goto done;
	}
	if (attempts_cookie(a, req, &attempt, &cookie) != 0 || buf_append_str(&body, "{\"url\":") || json_append_string(&body, url.data, url.len) ||
	    buf_append_char(&body, '}')) {
		resp_json_error(res, 500, "internal_error", "could not build the login URL");
		goto done;
	}
	if (!end_replaced_sessions(a, req, "auth-url", res))
		goto done;
	json_reply(res, 200, &body);
	resp_set_cookie(res, &a->cookie, cookie.data, a->cfg->login_ttl);
done:
	session_clear(&s);
	kv_list_free(&q);
	buf_free(&url);
	buf_free(&body);
	buf_free(&attempt);
	buf_free(&cookie);
}

/* --- the return URL of gateway mode ------------------------------------ */

static const struct field_spec rd_fields[] = {
	{ "rd", false, RETURNURL_MAX, NULL },
};

/* The rd of the query, checked before anything else happens: *rd is NULL
 * when there is none. -1 with a 400 in res when the query or rd is
 * refused (the query may hide an rd, so it is refused too). */
static int bind_rd(struct app *a, const struct request *req, const char *route,
	struct kv_list *q, const char **rd, struct response *res)
{
	const struct kv *vals[ARRAY_LEN(rd_fields)];
	const char *bad = NULL, *why = "longer than 1024 bytes, or given twice";
	*rd = NULL;
	enum http_err he = http_parse_query(req->query, strlen(req->query), q);
	if (he != HTTP_OK) {
		log_warn("%s: query refused: %s", route, http_strerror(he));
		resp_json_error(res, 400, "bad_request", http_strerror(he));
		return -1;
	}
	if (http_bind_fields(q, rd_fields, ARRAY_LEN(rd_fields), vals, &bad) != FIELD_OK ||
	    (vals[0] && !returnurl_valid(vals[0]->val, vals[0]->val_len, a->cfg, &why))) {
		log_warn("%s: rd refused: %s", route, why);
		resp_json_error(res, 400, "invalid_parameter",
		                "rd must be a path on this site or a URL of an allowed origin");
		return -1;
	}
	*rd = vals[0] ? vals[0]->val : NULL;
	return 0;
}

/* --- GET /api/login ---------------------------------------------------- */

/* A cross-site /api/login (a link elsewhere to a guarded page: the
 * gateway's redirect keeps Sec-Fetch-Site cross-site) ends no session: one
 * that is live goes on to rd, logged in already (true, res set); none
 * live, the login goes on (false). */
static bool cross_site_logged_in(struct app *a, const struct request *req, const char *rd,
	struct response *res)
{
	struct session s;
	const struct cookie_value *cookie = NULL;
	struct buf loc = BUF_INIT;
	session_init(&s, SESSION_USER);
	enum session_err se = load_session(a, req, &s, &cookie);
	if (se == SESSION_ERR_STORE) {
		log_error("login: %s: %s", session_strerror(se), a->store->errstr);
		store_down(res);
	} else if (se == SESSION_OK) {
		if (returnurl_resolve(rd, a->cfg, &loc) != 0)
			resp_text(res, 500, "Internal Server Error");
		else
			resp_redirect(res, loc.data);
	}
	session_clear(&s);
	buf_free(&loc);
	return se == SESSION_OK || se == SESSION_ERR_STORE;
}

/* auth-url for a gateway: the same attempt, marked as a gateway's and
 * carrying rd, answered with a redirect to the provider instead of JSON. */
static void handle_login(struct app *a, const struct request *req, struct response *res)
{
	struct kv_list q = {0};
	struct session s;
	struct buf url = BUF_INIT, attempt = BUF_INIT, cookie = BUF_INIT;
	const char *rd;
	bool foreign = cross_site(a, req);

	session_init(&s, SESSION_LOGIN);
	if (bind_rd(a, req, "login", &q, &rd, res) != 0)
		goto done;
	if (!rd)
		rd = "/";
	if (foreign && cross_site_logged_in(a, req, rd, res))
		goto done;
	memcpy(s.icecream, "None", sizeof("None"));
	s.gateway = true;
	memcpy(s.rd, rd, strlen(rd) + 1); /* at most RETURNURL_MAX: bound above */
	enum attempt_err ae = start_attempt(a, "login", &s, &url, &attempt);
	if (ae != ATTEMPT_OK) {
		attempt_refused(res, ae);
		goto done;
	}
	if (attempts_cookie(a, req, &attempt, &cookie) != 0) {
		resp_json_error(res, 500, "internal_error", "could not build the login URL");
		goto done;
	}
	if (!foreign && !end_replaced_sessions(a, req, "login", res))
		goto done;
	resp_redirect(res, url.data);
	resp_set_cookie(res, &a->cookie, cookie.data, a->cfg->login_ttl);
done:
	session_clear(&s);
	kv_list_free(&q);
	buf_free(&url);
	buf_free(&attempt);
	buf_free(&cookie);
}

/* --- GET /api/redirect ------------------------------------------------- */

/* One profile call for s (its access token and sub) into s->profile;
 * the caller holds a place in the bulkhead. */
static enum provider_err fetch_into(struct app *a, struct session *s, const char *what)
{
	enum provider_err pe = a->provider.ops->profile(&a->provider, s);
	if (pe != PROVIDER_OK)
		log_error("%s: %s", what, a->provider.errstr);
	return pe;
}

static const struct field_spec redirect_fields[] = {
	{ "code", false, CODE_MAX, valid_token_chars },
	{ "state", false, STATE_MAX, valid_token_chars },
	{ "error", false, 128, valid_token_chars },
	{ "iss", false, sizeof(((struct singpass_config *)0)->issuer) - 1, valid_token_chars },
};
enum { F_CODE, F_STATE, F_ERROR, F_ISS };

/* Every failure of the callback ends on the SPA's error page; the reason
 * goes to the log only. */
static void redirect_to_frontend(struct app *a, struct response *res, const char *page)
{
	struct buf loc = BUF_INIT;
	if (buf_printf(&loc, "%s%s", a->cfg->frontend_origin, page) != 0) {
		resp_text(res, 500, "Internal Server Error");
		return;
	}
	resp_redirect(res, loc.data);
	buf_free(&loc);
}

/* Every callback ends here exactly once, with one of the bounded causes of
 * outcome.h (sub: the user's, on success only). The place where metrics
 * and the audit log hear of logins. */
static void login_ended(struct app *a, const struct request *req, enum login_outcome outcome,
	const char *sub)
{
	log_debug("redirect: outcome %s", login_outcome_name(outcome));
	metrics_count_login(a->metrics, (int)outcome);
	if (outcome == LOGIN_OK)
		audit(a, req, AUDIT_LOGIN_SUCCESS, "success", NULL, sub);
	else
		audit(a, req, AUDIT_LOGIN_FAILURE, "failure", login_outcome_name(outcome), NULL);
}

/* The cookie changes only when it held the login attempt that just failed
 * (rest: the browser's other pending attempts, the new cookie value; ""
 * clears it; NULL leaves it): a logged-in user who replays an old callback
 * URL stays logged in.
 * A gateway's attempt fails to SGID_GATEWAY_ERROR_URL when it is set (one
 * that did not open is nobody's: the frontend's page, as always). */
static void redirect_fail(struct app *a, const struct request *req, struct response *res,
	enum login_outcome outcome, const char *why, const struct buf *rest, const struct session *login)
{
	log_warn("redirect: login failed: %s", why);
	login_ended(a, req, outcome, NULL);
	if (login->gateway && a->cfg->gateway_error_url[0])
		resp_redirect(res, a->cfg->gateway_error_url);
	else
		redirect_to_frontend(a, res, "/error");
	if (rest && rest->len)
		resp_set_cookie(res, &a->cookie, rest->data, a->cfg->login_ttl);
	else if (rest)
		resp_clear_cookie(res, &a->cookie);
}

/* The login attempt among our cookies whose state the callback carries
 * (a logged-in session's id never opens); rest gets the cookie's other
 * pending attempts. *n_open: attempts that opened (0: none of ours). */
static enum session_err open_attempt(struct app *a, const struct request *req, const struct kv *state,
	struct session *out, struct buf *rest, size_t *n_open)
{
	*n_open = 0;
	for (size_t i = 0; i < req->cookies->n; i++) {
		const struct cookie_value *c = &req->cookies->v[i];
		size_t n = 0;
		enum session_err e = session_open_attempt(&a->sessions, c->val, c->len,
			state ? state->val : "", state ? state->val_len : 0, out, rest, &n);
		*n_open += n;
		if (e == SESSION_OK)
			return SESSION_OK;
		if (n)
			return SESSION_NOT_FOUND; /* out: the newest one's gateway flag */
	}
	return SESSION_NOT_FOUND;
}

static void handle_redirect(struct app *a, const struct request *req, struct response *res)
{
	struct kv_list q = {0};
	struct session login, user;
	const struct kv *vals[ARRAY_LEN(redirect_fields)];
	const char *bad = NULL;
	struct buf loc = BUF_INIT, rest = BUF_INIT;
	size_t n_open = 0;
	char id[SESSION_ID_LEN + 1] = "";
	char why[320];
	bool in_sgid = false;
	struct provider *p = &a->provider;

	session_init(&login, SESSION_LOGIN);
	session_init(&user, SESSION_USER);
	enum http_err he = http_parse_query(req->query, strlen(req->query), &q);
	if (he != HTTP_OK) {
		snprintf(why, sizeof(why), "query refused: %s", http_strerror(he));
		redirect_fail(a, req, res, LOGIN_BAD_REQUEST, why, NULL, &login);
		goto done;
	}
	if (http_bind_fields(&q, redirect_fields, ARRAY_LEN(redirect_fields), vals, &bad) != FIELD_OK) {
		snprintf(why, sizeof(why), "invalid parameter %s", bad);
		redirect_fail(a, req, res, LOGIN_BAD_REQUEST, why, NULL, &login);
		goto done;
	}
	/* The attempt is the one whose state the callback carries. Nothing is
	 * spent before the state matches: a forged callback (login CSRF, a
	 * stray link) leaves the user's attempts alone. */
	if (open_attempt(a, req, vals[F_STATE], &login, &rest, &n_open) != SESSION_OK) {
		if (n_open == 0)
			redirect_fail(a, req, res, LOGIN_ATTEMPT_EXPIRED,
			              req->cookies->n ? "login attempt: not ours, altered or expired"
			                              : "no session cookie", NULL, &login);
		else
			redirect_fail(a, req, res, vals[F_STATE] ? LOGIN_STATE_MISMATCH : LOGIN_BAD_REQUEST,
			              vals[F_STATE] ? "state mismatch" : "state missing", NULL, &login);
		goto done;
	}
	if (!vals[F_ERROR] && !vals[F_CODE]) {
		redirect_fail(a, req, res, LOGIN_BAD_REQUEST, "code missing", NULL, &login);
		goto done;
	}
	/* Bulkhead before the attempt is spent: a callback turned away keeps
	 * it, so loading the page again retries. */
	if (!vals[F_ERROR]) {
		if (!scoreboard_enter_sgid(a->slot)) {
			snprintf(why, sizeof(why), "over capacity: too many %s calls in flight", p->ops->name);
			redirect_fail(a, req, res, LOGIN_OVER_CAPACITY, why, NULL, &login);
			goto done;
		}
		in_sgid = true;
	}
	/* Single use, decided by the store before anything reaches the provider. */
	enum session_err se = session_consume_login(&a->sessions, &login);
	if (se != SESSION_OK) {
		snprintf(why, sizeof(why), "login attempt: %s%s%s", session_strerror(se),
		         se == SESSION_ERR_STORE ? ": " : "", se == SESSION_ERR_STORE ? a->store->errstr : "");
		redirect_fail(a, req, res,
		              se == SESSION_ALREADY_USED ? LOGIN_ATTEMPT_REPLAYED
		              : se == SESSION_NOT_FOUND ? LOGIN_ATTEMPT_EXPIRED
		              : se == SESSION_ERR_STORE ? LOGIN_STORE_ERROR : LOGIN_INTERNAL,
		              why, &rest, &login);
		goto done;
	}
	/* RFC 9207: a provider that names itself in the callback (an error one
	 * too) must name the issuer this instance trusts (a mix-up otherwise). */
	if (vals[F_ISS] && p->issuer && strcmp(vals[F_ISS]->val, p->issuer) != 0) {
		snprintf(why, sizeof(why), "the callback's iss is not %s's issuer", p->ops->name);
		redirect_fail(a, req, res, LOGIN_BAD_REQUEST, why, &rest, &login);
		goto done;
	}
	if (vals[F_ERROR]) {
		snprintf(why, sizeof(why), "%s returned error=%s", p->ops->name, vals[F_ERROR]->val);
		redirect_fail(a, req, res, LOGIN_SGID_DENIED, why, &rest, &login);
		goto done;
	}
	/* The provider's verdict: user's sub and access token, maybe the profile. */
	enum login_outcome lo = p->ops->callback(p, vals[F_CODE]->val, vals[F_CODE]->val_len,
	                                         &login, &user);
	if (lo == LOGIN_OK && !user.sub[0]) { /* no session for nobody */
		snprintf(p->errstr, sizeof(p->errstr), "%s: no sub for the user", p->ops->name);
		lo = LOGIN_INTERNAL;
	}
	/* a gateway's stays for its profile call */
	if (!login.gateway || lo != LOGIN_OK || user.profile.len > 0) {
		scoreboard_leave_sgid(a->slot);
		in_sgid = false;
	}
	if (lo != LOGIN_OK) {
		redirect_fail(a, req, res, lo, p->errstr, &rest, &login);
		goto done;
	}
	memcpy(user.icecream, login.icecream, sizeof(user.icecream));
	/* A gateway has no SPA to ask for the profile later: it is fetched now
	 * (unless the callback brought it), and without it there is no
	 * session. rd is checked again: the allowed origins may have changed
	 * since the login started. */
	if (login.gateway) {
		if (user.profile.len == 0) {
			enum provider_err pe = fetch_into(a, &user, "redirect: userinfo");
			scoreboard_leave_sgid(a->slot);
			in_sgid = false;
			if (pe != PROVIDER_OK) {
				redirect_fail(a, req, res,
				              pe == PROVIDER_ERR_INTERNAL ? LOGIN_INTERNAL : LOGIN_USERINFO_ERROR,
				              "userinfo failed", &rest, &login);
				goto done;
			}
		}
		if (!returnurl_valid(login.rd, strlen(login.rd), a->cfg, NULL) ||
		    returnurl_resolve(login.rd, a->cfg, &loc) != 0) {
			redirect_fail(a, req, res, LOGIN_RETURN_URL_REFUSED, "return URL no longer allowed",
			              &rest, &login);
			goto done;
		}
	}
	/* A new id for the logged-in session: no fixation of the login cookie. */
	se = session_create(&a->sessions, &user, id);
	if (se != SESSION_OK) {
		snprintf(why, sizeof(why), "storing the session: %s", session_strerror(se));
		redirect_fail(a, req, res, se == SESSION_ERR_STORE ? LOGIN_STORE_ERROR : LOGIN_INTERNAL,
		              why, &rest, &login);
		goto done;
	}
	char fp[9];
	log_fingerprint(id, SESSION_ID_LEN, fp);
	log_info("redirect: login ok, session %s%s", fp, login.gateway ? " (gateway)" : "");
	login_ended(a, req, LOGIN_OK, user.sub);
	if (login.gateway)
		resp_redirect(res, loc.data);
	else
		redirect_to_frontend(a, res, "/logged-in");
	resp_set_cookie(res, &a->cookie, id, a->cfg->session_ttl);
done:
	if (in_sgid)
		scoreboard_leave_sgid(a->slot);
	buf_free(&loc);
	buf_free(&rest);
	secure_zero(id, sizeof(id));
	session_clear(&login);
	session_clear(&user);
	kv_list_free(&q);
}

/* --- GET /api/userinfo ------------------------------------------------- */

static void unauthorized(struct response *res)
{
	/* Not JSON on purpose: the SPA treats any JSON as a logged-in user. */
	resp_text(res, 401, "Unauthorized");
}

static int build_userinfo_body(const struct session *s, struct buf *out)
{
	const struct buf *p = &s->profile;
	/* p is "{...}" written by build_profile: splice iceCream before '}' */
	if (p->len < 2 || p->data[0] != '{' || p->data[p->len - 1] != '}')
		return -1;
	if (buf_append_str(out, "{\"sub\":") || json_append_string(out, s->sub, strlen(s->sub)) ||
	    buf_append_str(out, ",\"data\":") || buf_append(out, p->data, p->len - 1) ||
	    (p->len > 2 && buf_append_char(out, ',')) || buf_append_str(out, "\"iceCream\":") ||
	    json_append_string(out, s->icecream, strlen(s->icecream)) || buf_append_str(out, "}}"))
		return -1;
	return 0;
}

/* First call of a session: fetch from the provider once and keep the
 * profile in the session (the access token may expire long before the
 * session does). */
static int fetch_profile(struct app *a, const struct cookie_value *cookie, struct session *s,
	struct response *res)
{
	if (!scoreboard_enter_sgid(a->slot)) {
		log_warn("userinfo: over capacity: too many %s calls in flight", a->provider.ops->name);
		resp_text(res, 503, "Service Unavailable");
		resp_header(res, "Retry-After", "1");
		return -1;
	}
	enum provider_err pe = fetch_into(a, s, "userinfo");
	scoreboard_leave_sgid(a->slot);
	if (pe != PROVIDER_OK) {
		if (pe == PROVIDER_ERR_INTERNAL)
			resp_text(res, 500, "Internal Server Error");
		else
			resp_text(res, 502, "Bad Gateway");
		return -1;
	}
	enum session_err se = session_update_user(&a->sessions, cookie->val, cookie->len, s);
	if (se == SESSION_NOT_FOUND) {
		/* logged out while the provider answered: the logout stands */
		log_info("userinfo: the session ended during the %s call", a->provider.ops->name);
		unauthorized(res);
		return -1;
	}
	if (se != SESSION_OK)
		log_warn("userinfo: profile not cached: %s", session_strerror(se));
	return 0;
}

/* A session expiry noticed: the request named no live session (se is
 * NOT_FOUND), yet one of its cookies is an id we issued
 * (session_id_issued: its MAC is ours; a forged one is not logged). Its
 * record is
 * gone: expired (idle or absolute), or ended elsewhere. No cookie, or junk:
 * an anonymous request, not logged. */
static void notice_expiry(struct app *a, const struct request *req, enum session_err se)
{
	if (se != SESSION_NOT_FOUND)
		return;
	for (size_t i = 0; i < req->cookies->n; i++)
		if (session_id_issued(&a->sessions, req->cookies->v[i].val, req->cookies->v[i].len)) {
			audit(a, req, AUDIT_SESSION_EXPIRED, "denied", NULL, NULL);
			return;
		}
}

static void handle_userinfo(struct app *a, const struct request *req, struct response *res)
{
	struct session s;
	struct buf body = BUF_INIT;
	const struct cookie_value *cookie = NULL;

	session_init(&s, SESSION_USER);
	enum session_err se = load_session(a, req, &s, &cookie);
	if (se == SESSION_ERR_STORE) {
		log_error("userinfo: %s: %s", session_strerror(se), a->store->errstr);
		resp_text(res, 503, "Service Unavailable");
		goto done;
	}
	if (se != SESSION_OK) {
		notice_expiry(a, req, se);
		unauthorized(res);
		goto done;
	}
	if (s.profile.len == 0 && fetch_profile(a, cookie, &s, res) != 0)
		goto done;
	if (build_userinfo_body(&s, &body) != 0) {
		resp_text(res, 500, "Internal Server Error");
		goto done;
	}
	json_reply(res, 200, &body);
done:
	session_clear(&s);
	buf_free(&body);
}

/* --- GET /api/auth and the FastCGI authorizer --------------------------- */

/* Where a refused navigation logs in: /api/login?rd=<uri>, or rd=/ when
 * uri is no return URL /api/login would take (over 1024 bytes, "//", a
 * backslash...): the person still logs in, and lands on the site's root.
 * -1 when it is not a navigation or there is no URI. */
static int login_location(struct app *a, const struct request *req, const char *route,
	const char *method, const char *uri, struct buf *out)
{
	const char *why = NULL;
	/* a WebSocket (Upgrade) cannot follow a redirect to a login page */
	if (!uri || req->upgrade || !gateway_is_navigation(method, req->accept, req->sec_fetch_mode))
		return -1;
	if (!returnurl_valid(uri, strlen(uri), a->cfg, &why)) {
		log_info("%s: the original URI is no return URL (%s): the login returns to /", route, why);
		uri = "/";
	}
	return buf_append_str(out, "/api/login?rd=") || url_encode(out, uri, strlen(uri)) ? -1 : 0;
}

/* The Cookie header for the app, on a 200 of the gateway check. Only to
 * the web server: nginx's internal location sets SGID_ORIGINAL_URI, an
 * authorizer's 200 never reaches the client; a script calling /api/auth
 * itself would read other apps' HttpOnly cookies in it. */
static void give_app_cookie(struct app *a, const struct request *req, struct response *res,
	enum gateway_style st)
{
	if ((st == GATEWAY_VARIABLES || req->original_uri) &&
	    gateway_add_app_cookie(res, st, req->cookie, a->cfg->cookie_name) != 0) {
		resp_reset(res);
		resp_text(res, 500, "Internal Server Error");
	}
}

_Static_assert(AUTHZ_NAME_MAX <= AUDIT_RULE_MAX, "a rule's name fits the audit line");

/* A refusal by the location's rule: the rule's name, never the user's data. */
static void audit_denied(struct app *a, const struct request *req, const char *rule_name)
{
	const struct audit_record r = { AUDIT_ACCESS_DENIED, "denied", NULL, NULL, rule_name };
	const struct audit_peer p = { req->remote_addr, req->x_forwarded_for, req->user_agent };
	if (!audit_write(&r, &p))
		metrics_count_audit_dropped(a->metrics);
}

/* The location's rule (SGID_REQUIRE) for the logged-in user of s: true to
 * go on; false with the answer in res: 403 when the rule refuses the user
 * (never 401: that would send them through the login again), 500 when the
 * rule or its name is unusable (closed, never open). */
static bool access_allowed(struct app *a, const struct request *req, const char *route,
	const struct session *s, const json_value *profile, struct response *res)
{
	const char *rule = req->require, *name = req->require_name;
	const struct authz_rule *r;
	size_t at;
	if (!rule || !*rule)
		return true;
	if (!name || !*name)
		name = "unnamed";
	if (!authz_name_valid(name, strlen(name))) {
		log_error("%s: SGID_REQUIRE_NAME is not 1-%d of A-Z a-z 0-9 . _ -: access refused", route,
		          AUTHZ_NAME_MAX);
		goto rule_error;
	}
	enum authz_err e = authz_cache_get(&a->authz, rule, strlen(rule), a->cfg->allowlists,
	                                   a->cfg->n_allowlists, &r, &at);
	if (e != AUTHZ_OK) {
		log_error("%s: rule %s (SGID_REQUIRE): %s at byte %zu: access refused", route, name,
		          authz_strerror(e), at);
		goto rule_error;
	}
	if (s->profile.len > 0 && !profile) {
		log_error("%s: rule %s: the session's profile is unreadable: access refused", route, name);
		goto rule_error;
	}
	if (authz_allows(r, s->sub, profile)) {
		metrics_count_access(a->metrics, METRICS_ACCESS_ALLOWED);
		return true;
	}
	log_info("%s: rule %s: access denied", route, name);
	audit_denied(a, req, name);
	metrics_count_access(a->metrics, METRICS_ACCESS_DENIED);
	resp_text(res, 403, "Forbidden");
	return false;
rule_error:
	metrics_count_access(a->metrics, METRICS_ACCESS_RULE_ERROR);
	resp_text(res, 500, "Internal Server Error");
	return false;
}

/* The check of nginx's auth_request and of lighttpd's authorizer: one
 * GETEX (which extends the idle timeout), never a call to the provider, empty
 * bodies. A session without a profile yet (an SPA login that never asked
 * for it) gives the sub alone. method and uri: the protected request's.
 * Refused first, with no store call: a request carrying a client's own
 * X-Sgid-* header (403). The public scope needs no login: 200 and the
 * app's Cookie header alone (a rule there is a 500). A logged-in user
 * then meets the location's rule, if any (access_allowed). */
static void gateway_check(struct app *a, const struct request *req, struct response *res,
	enum gateway_style st, const char *method, const char *uri)
{
	const char *route = st == GATEWAY_VARIABLES ? "authorizer" : "auth";
	struct session s;
	const struct cookie_value *cookie = NULL;
	struct buf login = BUF_INIT;
	json_value *profile = NULL;
	size_t skipped = 0;

	if (req->identity_header_sent) {
		log_warn("%s: refused: the client sent an X-Sgid-* header of its own", route);
		resp_text(res, 403, "Forbidden");
		return;
	}
	if (req->gateway_params_conflict) {
		/* the first copy may be the one that opens the door: closed */
		log_error("%s: SGID_GATEWAY_SCOPE, SGID_REQUIRE or SGID_REQUIRE_NAME sent twice with "
		          "different values (the web server's config sets it in two places): refused",
		          route);
		metrics_count_access(a->metrics, METRICS_ACCESS_RULE_ERROR);
		resp_text(res, 500, "Internal Server Error");
		return;
	}
	if (req->gateway_scope && strcmp(req->gateway_scope, "public") == 0) {
		if (req->require && *req->require) {
			/* a rule on a path that needs no login could never hold:
			 * a configuration mistake, closed */
			log_error("%s: an access rule (SGID_REQUIRE) on the public scope: refused", route);
			metrics_count_access(a->metrics, METRICS_ACCESS_RULE_ERROR);
			resp_text(res, 500, "Internal Server Error");
			return;
		}
		res->status = 200;
		give_app_cookie(a, req, res, st);
		return;
	}
	session_init(&s, SESSION_USER);
	enum session_err se = load_session(a, req, &s, &cookie);
	if (se == SESSION_ERR_STORE) {
		log_error("%s: %s: %s", route, session_strerror(se), a->store->errstr);
		resp_text(res, 503, "Service Unavailable");
	} else if (se == SESSION_OK) {
		/* parsed once: for the rule, then for the identity headers */
		if (s.profile.len > 0)
			profile = json_parse(s.profile.data, s.profile.len, s.profile.len);
		if (!access_allowed(a, req, route, &s, profile, res))
			goto done;
		res->status = 200;
		if ((s.profile.len > 0 && !profile) ||
		    gateway_add_identity_parsed(res, st, a->cfg, s.sub, profile, &skipped) != 0) {
			resp_reset(res);
			resp_text(res, 500, "Internal Server Error");
		} else {
			if (skipped)
				log_warn("%s: %zu profile fields not passed on (name, length or a repeat)",
				         route, skipped);
			give_app_cookie(a, req, res, st);
		}
	} else {
		/* the authorizer's answer goes to the browser as it is; nginx's
		 * error_page turns X-Sgid-Login into the redirect */
		notice_expiry(a, req, se);
		res->status = 401;
		if (login_location(a, req, route, method, uri, &login) == 0) {
			if (st == GATEWAY_VARIABLES)
				resp_redirect(res, login.data);
			else
				resp_header(res, "X-Sgid-Login", login.data);
		}
	}
done:
	json_free(profile);
	session_clear(&s);
	buf_free(&login);
}

static void handle_auth(struct app *a, const struct request *req, struct response *res)
{
	gateway_check(a, req, res, GATEWAY_HEADERS, req->original_method, req->original_uri);
}

static void handle_authorizer(struct app *a, const struct request *req, struct response *res)
{
	gateway_check(a, req, res, GATEWAY_VARIABLES, req->method, req->request_uri);
}

/* --- GET|POST /api/logout ---------------------------------------------- */

/* The sub of the session a logout ends, for the audit log: one GETEX more
 * per logout, only when the audit log is on. "" when none loads. */
static void logout_sub(struct app *a, const struct request *req, char *sub, size_t cap)
{
	struct session s;
	const struct cookie_value *cookie = NULL;
	sub[0] = '\0';
	if (!audit_enabled() || req->cookies->n == 0)
		return;
	session_init(&s, SESSION_USER);
	if (load_session(a, req, &s, &cookie) == SESSION_OK)
		snprintf(sub, cap, "%s", s.sub);
	session_clear(&s);
}

static void handle_logout(struct app *a, const struct request *req, struct response *res)
{
	struct kv_list q = {0};
	struct buf loc = BUF_INIT;
	const char *rd;
	char sub[sizeof(((struct session *)0)->sub)];

	/* a refused rd or origin changes nothing: the session stays, no
	 * cookie is sent */
	if (refuse_cross_site(a, req, "logout", res) || bind_rd(a, req, "logout", &q, &rd, res) != 0)
		goto done;
	if (rd && returnurl_resolve(rd, a->cfg, &loc) != 0) {
		resp_text(res, 500, "Internal Server Error");
		goto done;
	}
	/* every session the request names, and the cookie always; audited
	 * when it ended a live session (its sub) or failed: a cookie that
	 * names none (junk, expired, already ended) ends nothing */
	logout_sub(a, req, sub, sizeof(sub));
	enum session_err se = end_named_sessions(a, req);
	if (sub[0] || (se != SESSION_OK && req->cookies->n))
		audit(a, req, AUDIT_LOGOUT, se == SESSION_OK ? "success" : "failure", NULL,
		      sub[0] ? sub : NULL);
	if (se != SESSION_OK) {
		log_error("logout: %s: %s", session_strerror(se), a->store->errstr);
		store_down(res);
	} else if (rd) {
		resp_redirect(res, loc.data);
	} else {
		resp_text(res, 200, "OK");
	}
	resp_clear_cookie(res, &a->cookie);
done:
	kv_list_free(&q);
	buf_free(&loc);
}

/* --- GET /api/health --------------------------------------------------- */

/* Readiness: the store answers and takes a write, as a login needs (the
 * answer cached per process, health.h). ?live=1 is liveness: the process
 * answers, nothing else is asked. A Redis TLS connection without
 * verification (REDIS_TLS_INSECURE_SKIP_VERIFY) is said in every answer. */
static void handle_health(struct app *a, const struct request *req, struct response *res)
{
	static const char ok[] = "{\"status\":\"ok\"}";
	static const char ok_insecure[] = "{\"status\":\"ok\",\"warning\":\"redis_tls_insecure\"}";
	bool insecure = a->cfg && a->cfg->redis.tls && a->cfg->redis.tls_insecure;
	if (strcmp(req->query, "live=1") == 0) {
		resp_json(res, 200, ok, sizeof(ok) - 1);
		return;
	}
	enum store_write_state st = health_check(a->store);
	if (st == STORE_WRITABLE) {
		if (insecure)
			resp_json(res, 200, ok_insecure, sizeof(ok_insecure) - 1);
		else
			resp_json(res, 200, ok, sizeof(ok) - 1);
		return;
	}
	const char *reason = health_reason(st);
	struct buf b = BUF_INIT;
	if (buf_printf(&b, "{\"status\":\"unavailable\",\"reason\":\"%s\"%s}", reason,
	               insecure ? ",\"warning\":\"redis_tls_insecure\"" : "") != 0)
		resp_json_error(res, 503, "session_store_unavailable", "the session store is not ready");
	else
		resp_json(res, 503, b.data, b.len);
	buf_free(&b);
}

/* --- GET /api/jwks ----------------------------------------------------- */

/* How long a cache may keep the public JWKS: a rotated key is published
 * this long before it signs (the bound: at most an hour). */
#define JWKS_CACHE_CONTROL "public, max-age=3600"

/* The RP's public keys, for the provider to fetch (one that publishes
 * none never gets here: api_handle answers 404). */
static void handle_jwks(struct app *a, const struct request *req, struct response *res)
{
	(void)req;
	struct buf b = BUF_INIT;
	if (a->provider.ops->public_jwks(&a->provider, &b) != 0 || !b.data) {
		log_error("jwks: %s", a->provider.errstr);
		resp_json_error(res, 500, "internal_error", "the public keys are unavailable");
	} else {
		resp_json(res, 200, b.data, b.len);
	}
	buf_free(&b);
}

/* --- dispatch ---------------------------------------------------------- */

typedef void (*handler_fn)(struct app *, const struct request *, struct response *);
static const handler_fn handlers[] = {
	[ROUTE_AUTH_URL] = handle_auth_url,
	[ROUTE_REDIRECT] = handle_redirect,
	[ROUTE_USERINFO] = handle_userinfo,
	[ROUTE_LOGOUT] = handle_logout,
	[ROUTE_HEALTH] = handle_health,
	[ROUTE_LOGIN] = handle_login,
	[ROUTE_AUTH] = handle_auth,
	[ROUTE_JWKS] = handle_jwks,
};
_Static_assert(ARRAY_LEN(handlers) == ROUTE__MAX, "one handler per route");

/* cacheable: the public JWKS; every other answer is no-store. */
static void add_common_headers(struct app *a, const struct request *req, struct response *res,
	bool cors, bool cacheable)
{
	resp_header(res, "Cache-Control", cacheable ? JWKS_CACHE_CONTROL : "no-store");
	resp_header(res, "X-Content-Type-Options", "nosniff");
	resp_header(res, "Vary", "Origin");
	if (cors && origin_allowed(a, req)) {
		resp_header(res, "Access-Control-Allow-Origin", a->cfg->frontend_origin);
		resp_header(res, "Access-Control-Allow-Credentials", "true");
	}
}

static void preflight(struct app *a, const struct request *req, enum route_id id,
	struct response *res)
{
	res->status = 204;
	if (origin_allowed(a, req)) {
		resp_header(res, "Access-Control-Allow-Methods", route_allow_header(id));
		resp_header(res, "Access-Control-Allow-Headers", "Content-Type");
		resp_header(res, "Access-Control-Max-Age", "600");
	}
}

void api_handle(struct app *a, const struct request *req, struct response *res,
	struct handled *info)
{
	enum route_id id = ROUTE__MAX;
	enum http_method m = method_parse(req->method);
	/* An authorizer is asked about the protected request: its path and
	 * method are that request's, not one of our routes. */
	bool authorizer = req->role == REQUEST_AUTHORIZER;
	enum route_match match = authorizer ? ROUTE_MATCH : route_lookup(req->path, m, &id);
	/* a provider without public keys has no /api/jwks: as any unknown path */
	if (!authorizer && match != ROUTE_NOT_FOUND && id == ROUTE_JWKS && !a->provider.ops->public_jwks)
		match = ROUTE_NOT_FOUND;
	/* nginx's auth_request subrequest carries the protected request's
	 * method ($request_method is the main request's): an OPTIONS there is
	 * no CORS preflight, and a 204 would read as "allowed". */
	bool is_preflight = !authorizer && m == METHOD_OPTIONS && id != ROUTE_AUTH;
	struct own_cookies jar;
	struct request r = *req;

	info->route = authorizer ? "authorizer" : match == ROUTE_NOT_FOUND ? "-" : route_get(id)->name;
	memset(&jar, 0, sizeof(jar));
	r.cookies = &jar;
	/* The Cookie header is shared with every app on the domain: what is not
	 * ours is skipped, never a reason to fail (or to lock a user out). */
	if (match == ROUTE_MATCH && !is_preflight && req->cookie &&
	    http_find_cookies(req->cookie, strlen(req->cookie), a->cfg->cookie_name, &jar) != HTTP_OK)
		log_warn("%s: Cookie header over %d bytes: read as none", info->route, HTTP_MAX_COOKIE_LEN);
	if (jar.skipped)
		log_debug("%s: %zu cookies skipped (malformed, or ours past the limits)",
		          info->route, jar.skipped);
	req = &r;
	switch (match) {
	case ROUTE_NOT_FOUND:
		resp_json_error(res, 404, "not_found", "no such endpoint");
		break;
	case ROUTE_BAD_METHOD:
		resp_json_error(res, 405, "method_not_allowed", "method not allowed");
		resp_header(res, "Allow", route_allow_header(id));
		break;
	case ROUTE_MATCH:
		if (authorizer)
			handle_authorizer(a, req, res);
		else if (is_preflight)
			preflight(a, req, id, res);
		else
			handlers[id](a, req, res);
		break;
	}
	/* the authorizer's answer is the protected app's business: no CORS */
	add_common_headers(a, req, res, !authorizer,
	                   match == ROUTE_MATCH && !authorizer && !is_preflight && id == ROUTE_JWKS &&
	                   res->status == 200);
}
