/* The HTTP handlers in process: api_handle with the in-memory store
 * (mem_store.h) in place of Redis and a fake sgID (fake_sgid.h) forked on
 * a loopback port, reached through the real httpc, sgid, jose and session
 * code. Every response is checked for the headers every response carries
 * and for secrets (client secret, access token, PKCE verifier); the
 * handlers' log lines go to a scratch file that is searched for secrets at
 * the end. The fake counts the requests per path, so a test can say that a
 * step made no sgID call. Every child is killed at exit; every wait is
 * bounded (curl timeouts, the fake's alarm). */
#include "api.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "harness.h"
#include "health.h"
#include "hostile_rd.h"
#include "fake_sgid.h"
#include "mem_store.h"
#include "http.h"
#include "json.h"
#include "log.h"
#include "util.h"

#define FRONTEND "http://localhost:5173"
#define COOKIE "exampleAppSession"
#define CLIENT_SECRET "client-secret-NEVER-SHOWN-7f3a9c2e1b"
#define ACCESS_TOKEN "AT.fake-sgid-access-token.NEVER-SHOWN-51c0"
#define SUB "u=fake-sub-0042"
#define KID "fake-sgid-key-1"

static struct config cfg;
static struct app app;
static bool app_ready;
static struct mem_store mem;
static struct response res;
static char tmpdir[40];
static char log_path[80];
static char audit_path[80];
static int log_fd = -1, saved_stderr = -1;

/* ---- the store: mem_store, with a hook for the logout race ------------------ */

/* Set: the next SET first drops every record, as a logout that ran while
 * the handler waited for sgID would have. */
static int drop_before_next_set;

static enum store_err hook_set(struct store *s, const char *k, size_t kl, const void *v,
	size_t vl, int ttl, enum store_set_cond cond)
{
	if (drop_before_next_set) {
		drop_before_next_set = 0;
		struct mem_store *m = s->impl;
		for (int i = 0; i < MEM_SLOTS; i++)
			if (m->e[i].used)
				mem_drop(&m->e[i]);
	}
	return mem_set(s, k, kl, v, vl, ttl, cond);
}

static const struct store_ops hook_ops = {
	.set = hook_set, .get = mem_get, .getdel = mem_getdel, .del = mem_del,
	.ping = mem_ping, .probe_write = mem_probe_write, .destroy = mem_destroy,
	.index_add = mem_index_add, .index_del = mem_index_del,
	.index_move = mem_index_move, .index_scan = mem_index_scan,
};
static struct store mstore = { &hook_ops, &mem, "", NULL };

static void reset_store(void)
{
	mem_destroy(&mstore);
	drop_before_next_set = 0;
	health_forget();
}

/* ---- secrets ---------------------------------------------------------------- */

/* Never in a response: the client secret, the access token, PKCE verifiers.
 * Never in the log: those, and codes, states and cookie values. */
#define MAX_SECRETS 512
static char *resp_secrets[MAX_SECRETS], *log_secrets[MAX_SECRETS];
static size_t n_resp_secrets, n_log_secrets;

static void add_secret(char **list, size_t *n, const char *s)
{
	if (!s || strlen(s) < 8 || *n >= MAX_SECRETS)
		return;
	for (size_t i = 0; i < *n; i++)
		if (strcmp(list[i], s) == 0)
			return;
	char *d = malloc(strlen(s) + 1);
	if (d) {
		memcpy(d, s, strlen(s) + 1);
		list[(*n)++] = d;
	}
}

static void never_in_response(const char *s)
{
	add_secret(resp_secrets, &n_resp_secrets, s);
	add_secret(log_secrets, &n_log_secrets, s);
}

static void never_logged(const char *s)
{
	add_secret(log_secrets, &n_log_secrets, s);
}

static bool buf_has(const struct buf *b, const char *s)
{
	return b->data && fh_find(b->data, b->len, s, strlen(s)) != NULL;
}

/* ---- calling the handlers ---------------------------------------------------- */

static char hv[16384];

/* The n-th value of header name in the last response, or NULL. */
static const char *header_nth(const char *name, int n)
{
	const char *p = res.headers.data, *end = p ? p + res.headers.len : NULL;
	size_t nl = strlen(name);
	while (p && p < end) {
		const char *eol = fh_find(p, (size_t)(end - p), "\r\n", 2);
		if (!eol)
			break;
		if ((size_t)(eol - p) > nl + 1 && strncasecmp(p, name, nl) == 0 && p[nl] == ':' &&
		    n-- == 0) {
			const char *v = p + nl + 1;
			while (*v == ' ')
				v++;
			size_t vl = (size_t)(eol - v);
			if (vl >= sizeof(hv))
				vl = sizeof(hv) - 1;
			memcpy(hv, v, vl);
			hv[vl] = '\0';
			return hv;
		}
		p = eol + 2;
	}
	return NULL;
}

static const char *header(const char *name)
{
	return header_nth(name, 0);
}

static int header_count(const char *name)
{
	int n = 0;
	while (header_nth(name, n))
		n++;
	return n;
}

static const char *body(void)
{
	return buf_cstr(&res.body);
}

static bool has_prefix_s(const char *s, const char *prefix)
{
	return s && strncmp(s, prefix, strlen(prefix)) == 0;
}

static int last_status;

static const char *last_route;

/* One request through api_handle; checks what every response must have. */
static void call_req(const struct request *in)
{
	struct request req = *in;
	struct handled info = { NULL };
	if (!req.query)
		req.query = "";
	resp_free(&res);
	resp_init(&res);
	dup2(log_fd, STDERR_FILENO);
	api_handle(&app, &req, &res, &info);
	dup2(saved_stderr, STDERR_FILENO);
	last_status = res.status;
	last_route = info.route;

	CHECK(!res.failed);
	CHECK(info.route != NULL);
	struct buf wire = BUF_INIT;
	CHECK_INT(resp_serialize(&res, &wire), 0);
	buf_free(&wire);
	CHECK_INT(header_count("Cache-Control"), 1);
	CHECK_STR(header("Cache-Control"), "no-store");
	CHECK_STR(header("X-Content-Type-Options"), "nosniff");
	CHECK_STR(header("Vary"), "Origin");
	bool leaked = false;
	for (size_t i = 0; i < n_resp_secrets; i++)
		leaked |= buf_has(&res.headers, resp_secrets[i]) || buf_has(&res.body, resp_secrets[i]);
	CHECK(!leaked);
	/* cookies of ours go in Set-Cookie only, never in a body */
	for (int i = 0; header_nth("Set-Cookie", i); i++) {
		const char *sc = header_nth("Set-Cookie", i);
		const char *v = strchr(sc, '=');
		const char *e = v ? strchr(v, ';') : NULL;
		if (v && e && e - v > 8) {
			char val[8192];
			size_t vl = (size_t)(e - v - 1);
			if (vl < sizeof(val)) {
				memcpy(val, v + 1, vl);
				val[vl] = '\0';
				CHECK(!buf_has(&res.body, val));
				never_logged(val);
			}
		}
	}
}

static void call_full(const char *method, const char *path, const char *query, const char *cookie,
	const char *origin, const char *acrm)
{
	struct request req = {
		.method = method, .path = path, .query = query, .cookie = cookie,
		.origin = origin, .ac_request_method = acrm,
	};
	call_req(&req);
}

static void call(const char *method, const char *path, const char *query, const char *cookie)
{
	call_full(method, path, query, cookie, NULL, NULL);
}

/* The value our Set-Cookie gives (last one of our name), "" when none. */
static const char *set_cookie_value(void)
{
	static char val[8192];
	val[0] = '\0';
	for (int i = 0; header_nth("Set-Cookie", i); i++) {
		const char *sc = header_nth("Set-Cookie", i);
		if (!has_prefix_s(sc, COOKIE "="))
			continue;
		const char *v = sc + strlen(COOKIE "=");
		size_t vl = strcspn(v, ";");
		if (vl >= sizeof(val))
			vl = sizeof(val) - 1;
		memcpy(val, v, vl);
		val[vl] = '\0';
	}
	return val;
}

/* True when the response expires our cookie. */
static bool clears_cookie(void)
{
	for (int i = 0; header_nth("Set-Cookie", i); i++) {
		const char *sc = header_nth("Set-Cookie", i);
		if (has_prefix_s(sc, COOKIE "=;") && strstr(sc, "Max-Age=0"))
			return true;
	}
	return false;
}

static bool content_type_is(const char *prefix)
{
	return has_prefix_s(header("Content-Type"), prefix);
}

static json_value *body_json(void)
{
	return res.body.data ? json_parse(res.body.data, res.body.len, 1 << 22) : NULL;
}

static char cookie_hdr_buf[20000];
static const char *cookie_of(const char *val)
{
	snprintf(cookie_hdr_buf, sizeof(cookie_hdr_buf), COOKIE "=%.*s",
	         (int)(sizeof(cookie_hdr_buf) - sizeof(COOKIE) - 1), val);
	return cookie_hdr_buf;
}

/* ---- logins ------------------------------------------------------------------ */

struct attempt {
	char cookie[4096];     /* the value of our cookie auth-url set */
	char state[128];
	char nonce[128];
	char challenge[128];
	char code[64];
};

static int code_counter;

/* Primes the fake with the nonce and challenge of an authorize URL and a
 * fresh code, and a with those and the cookie just set. */
static int prime_attempt(const char *url, struct attempt *a)
{
	int rc = -1;
	struct kv_list q = {0};
	char prefix[700];
	snprintf(prefix, sizeof(prefix), "%s/oauth/authorize?", cfg.issuer);
	if (!url || !has_prefix_s(url, prefix))
		goto done;
	const char *qs = url + strlen(prefix);
	if (http_parse_query(qs, strlen(qs), &q) != HTTP_OK)
		goto done;
	const struct kv *st = kv_get(&q, "state"), *no = kv_get(&q, "nonce"),
		*ch = kv_get(&q, "code_challenge");
	if (!st || !no || !ch || st->val_len >= sizeof(a->state) || no->val_len >= sizeof(a->nonce) ||
	    ch->val_len >= sizeof(a->challenge))
		goto done;
	memcpy(a->state, st->val, st->val_len + 1);
	memcpy(a->nonce, no->val, no->val_len + 1);
	memcpy(a->challenge, ch->val, ch->val_len + 1);
	snprintf(a->cookie, sizeof(a->cookie), "%s", set_cookie_value());
	snprintf(a->code, sizeof(a->code), "code-%d-%lld", ++code_counter, (long long)now_unix());
	memcpy(fs->nonce, a->nonce, sizeof(fs->nonce));
	memcpy(fs->challenge, a->challenge, sizeof(fs->challenge));
	memcpy(fs->code, a->code, sizeof(a->code));
	never_logged(a->code);
	never_logged(a->state);
	never_logged(a->cookie);
	rc = a->cookie[0] ? 0 : -1;
done:
	kv_list_free(&q);
	return rc;
}

/* GET /api/auth-url?<query>, the fake primed from its URL. 0 when it
 * answered 200 with a usable URL. */
static int begin_login(const char *query, const char *cookie, struct attempt *a)
{
	memset(a, 0, sizeof(*a));
	call("GET", "/api/auth-url", query, cookie);
	if (res.status != 200)
		return -1;
	json_value *j = body_json();
	int rc = prime_attempt(json_get_str(j, "url", NULL), a);
	json_free(j);
	return rc;
}

/* GET /api/login?<query>: a 302 to sgID with no body, the fake primed from
 * its Location. */
static int begin_gateway(const char *query, const char *cookie, struct attempt *a)
{
	memset(a, 0, sizeof(*a));
	call("GET", "/api/login", query, cookie);
	if (res.status != 302 || res.body.len != 0 || !header("Location"))
		return -1;
	char url[4096];
	snprintf(url, sizeof(url), "%s", header("Location"));
	return prime_attempt(url, a);
}

/* GET /api/redirect?code=&state= with the attempt's cookie. */
static void callback(const struct attempt *a)
{
	char q[512];
	snprintf(q, sizeof(q), "code=%s&state=%s", a->code, a->state);
	call("GET", "/api/redirect", q, cookie_of(a->cookie));
	never_in_response(fs->code_verifier);
}

static bool is_redirect_to(const char *page)
{
	char want[600];
	snprintf(want, sizeof(want), "%s%s", FRONTEND, page);
	const char *loc = header("Location");
	return res.status == 302 && loc && strcmp(loc, want) == 0 && res.body.len == 0;
}

/* A redirect to /error that hands out no session (a macro: failures name
 * the caller's line). */
#define CHECK_ERROR_REDIRECT() do { \
	CHECK(is_redirect_to("/error")); \
	CHECK(set_cookie_value()[0] == '\0' || clears_cookie()); \
} while (0)

/* A whole login, the SPA's (auth-url, on to /logged-in) or a gateway's
 * (/api/login, on to its rd); out receives the session cookie value, the
 * response is the callback's. */
static int login_as(bool gateway, const char *query, char out[4096])
{
	struct attempt a;
	out[0] = '\0';
	if ((gateway ? begin_gateway : begin_login)(query, NULL, &a) != 0)
		return -1;
	callback(&a);
	if (gateway ? res.status != 302 : !is_redirect_to("/logged-in"))
		return -1;
	snprintf(out, 4096, "%s", set_cookie_value());
	never_logged(out);
	return out[0] ? 0 : -1;
}

static int login(const char *query, char out[4096])
{
	return login_as(false, query, out);
}

/* The fake sgID primed for attempt a again (another auth-url since). */
static void reprime(const struct attempt *a)
{
	memcpy(fs->nonce, a->nonce, sizeof(fs->nonce));
	memcpy(fs->challenge, a->challenge, sizeof(fs->challenge));
	memcpy(fs->code, a->code, sizeof(a->code));
}

/* GET /api/redirect for attempt a with the browser's cookie value jar. */
static void callback_with(const struct attempt *a, const char *jar)
{
	struct attempt t = *a;
	snprintf(t.cookie, sizeof(t.cookie), "%s", jar);
	reprime(a);
	callback(&t);
}

static const char *userinfo_icecream(const char *sess, char *out, size_t cap)
{
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	json_value *j = res.status == 200 ? body_json() : NULL;
	const char *ic = j ? json_get_str(json_get(j, "data"), "iceCream", NULL) : NULL;
	snprintf(out, cap, "%s", ic ? ic : "");
	json_free(j);
	return out;
}

/* ---- tests: auth-url ------------------------------------------------------ */

static void test_auth_url(void)
{
	reset_store();
	struct attempt a, b;
	CHECK_INT(begin_login("icecream=Vanilla", NULL, &a), 0);
	CHECK_INT(res.status, 200);
	CHECK(content_type_is("application/json"));
	json_value *j = body_json();
	CHECK_INT(json_object_len(j), 1);
	struct kv_list q = {0};
	const char *url = json_get_str(j, "url", NULL);
	const char *qs = url ? strchr(url, '?') : NULL;
	CHECK(qs != NULL);
	if (qs && http_parse_query(qs + 1, strlen(qs + 1), &q) == HTTP_OK) {
		CHECK_STR(kv_get(&q, "client_id") ? kv_get(&q, "client_id")->val : NULL, cfg.client_id);
		CHECK_STR(kv_get(&q, "redirect_uri") ? kv_get(&q, "redirect_uri")->val : NULL, cfg.redirect_uri);
		CHECK_STR(kv_get(&q, "response_type") ? kv_get(&q, "response_type")->val : NULL, "code");
		CHECK_STR(kv_get(&q, "scope") ? kv_get(&q, "scope")->val : NULL, "openid myinfo.name");
		CHECK_STR(kv_get(&q, "code_challenge_method") ? kv_get(&q, "code_challenge_method")->val : NULL,
			"S256");
	} else {
		CHECK(!"authorize URL query parses");
	}
	kv_list_free(&q);
	json_free(j);
	CHECK_INT(strlen(a.state), 43);
	CHECK_INT(strlen(a.nonce), 43);
	CHECK_INT(strlen(a.challenge), 43);
	CHECK(strcmp(a.state, a.nonce) != 0);
	/* the cookie: ours, HttpOnly, the login lifetime, not Secure on http */
	CHECK_INT(header_count("Set-Cookie"), 1);
	const char *sc = header("Set-Cookie");
	CHECK(has_prefix_s(sc, COOKIE "="));
	CHECK(sc && strstr(sc, "; HttpOnly") != NULL);
	CHECK(sc && strstr(sc, "; Path=/") != NULL);
	CHECK(sc && strstr(sc, "; SameSite=Lax") != NULL);
	CHECK(sc && strstr(sc, "; Max-Age=300") != NULL);
	CHECK(sc && strstr(sc, "Secure") == NULL);
	CHECK(a.cookie[0] != '\0');
	/* the cookie says nothing of the attempt in clear */
	CHECK(strstr(a.cookie, a.state) == NULL && strstr(a.cookie, "Vanilla") == NULL);

	/* every attempt is new */
	CHECK_INT(begin_login("icecream=Vanilla", NULL, &b), 0);
	CHECK(strcmp(a.state, b.state) != 0);
	CHECK(strcmp(a.nonce, b.nonce) != 0);
	CHECK(strcmp(a.challenge, b.challenge) != 0);
	CHECK(strcmp(a.cookie, b.cookie) != 0);

	/* no choice, and choices with spaces, dots, dashes */
	CHECK_INT(begin_login("", NULL, &b), 0);
	CHECK_INT(begin_login("icecream=Cookies+and+Cream", NULL, &b), 0);
	CHECK_INT(begin_login("icecream=Rum%20Raisin_2.0-x&other=ignored", NULL, &b), 0);
}

static void test_auth_url_bad_input(void)
{
	reset_store();
	char long_q[5000];
	memset(long_q, 'a', sizeof(long_q) - 1);
	memcpy(long_q, "icecream=", 9);
	long_q[sizeof(long_q) - 1] = '\0';
	const char *bad[] = {
		"icecream=Vanilla!", "icecream=Vanilla%3Cscript%3E", "icecream=",
		"icecream=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" /* 33 */, "icecream=%00",
		"icecream=a&icecream=b", "icecream=%zz", "icecream=caf%C3%A9", "icecream=a%0Ab", long_q,
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		unsigned before = mem.calls;
		call("GET", "/api/auth-url", bad[i], NULL);
		CHECK_INT(res.status, 400);
		CHECK(content_type_is("application/json"));
		json_value *j = body_json();
		CHECK(json_get_str(j, "error", NULL) != NULL);
		json_free(j);
		CHECK_INT(header_count("Set-Cookie"), 0);
		CHECK_INT(mem.calls, before);
	}
	/* 32 letters is the limit */
	struct attempt a;
	CHECK_INT(begin_login("icecream=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", NULL, &a), 0);
}

/* ---- tests: the login -------------------------------------------------------- */

static void test_full_login(void)
{
	reset_store();
	int tok0 = fs_tokens(), jw0 = fs_jwks_fetches(), ui0 = fs_userinfos();
	int acc0 = fs->token_accepted, ref0 = fs->token_refused;
	struct attempt a;
	CHECK_INT(begin_login("icecream=Chocolate", NULL, &a), 0);
	CHECK_INT(fs_tokens(), tok0); /* auth-url calls nobody */
	callback(&a);
	CHECK(is_redirect_to("/logged-in"));
	CHECK_INT(fs_tokens(), tok0 + 1);
	CHECK_INT(fs->token_accepted, acc0 + 1);   /* PKCE, secret, code, redirect_uri right */
	CHECK_INT(fs->token_refused, ref0);
	CHECK_STR(fs->token_refusal, "");
	CHECK_INT(fs_jwks_fetches(), jw0 + 1);     /* the first login loads the JWKS */
	CHECK_INT(fs_userinfos(), ui0);
	char sess[4096];
	snprintf(sess, sizeof(sess), "%s", set_cookie_value());
	CHECK_INT(strlen(sess), SESSION_ID_LEN);   /* a new session id ... */
	CHECK(strcmp(sess, a.cookie) != 0);        /* ... not the attempt's cookie */
	const char *sc = header("Set-Cookie");
	CHECK(sc && strstr(sc, "; HttpOnly") && strstr(sc, "; Max-Age=3600"));
	/* at rest: no access token, no sub in clear */
	CHECK(!mem_contains(&mem, ACCESS_TOKEN));
	CHECK(!mem_contains(&mem, SUB));
	CHECK(!mem_contains(&mem, sess));

	/* the attempt's cookie is no session */
	call("GET", "/api/userinfo", NULL, cookie_of(a.cookie));
	CHECK_INT(res.status, 401);
	CHECK_INT(fs_userinfos(), ui0);

	/* first userinfo: one sgID call */
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	CHECK(content_type_is("application/json"));
	CHECK_INT(fs_userinfos(), ui0 + 1);
	CHECK_INT(fs->bearer_refused, 0);
	json_value *j = body_json();
	CHECK_INT(json_object_len(j), 2);
	CHECK_STR(json_get_str(j, "sub", NULL), SUB);
	const json_value *d = json_get(j, "data");
	CHECK_INT(json_object_len(d), 3);
	CHECK_STR(json_get_str(d, "myinfo.name", NULL), "TAN AH KOW \"AK\" \xe9\x99\x88");
	CHECK_STR(json_get_str(d, "myinfo.nationality", NULL), "SINGAPORE CITIZEN");
	CHECK_STR(json_get_str(d, "iceCream", NULL), "Chocolate"); /* ours, not sgID's "Durian" */
	json_free(j);
	char first[4096];
	snprintf(first, sizeof(first), "%s", body());
	CHECK(!mem_contains(&mem, "TAN AH KOW"));

	/* second: from the session, no sgID call, the same answer */
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	CHECK_STR(body(), first);
	CHECK_INT(fs_userinfos(), ui0 + 1);
	CHECK_INT(fs_tokens(), tok0 + 1);
	CHECK_INT(fs_jwks_fetches(), jw0 + 1);     /* the JWKS is cached */

	/* a second login reuses the JWKS; no choice reads "None" */
	CHECK_INT(login(NULL, sess), 0);
	CHECK_INT(fs_jwks_fetches(), jw0 + 1);
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	j = body_json();
	CHECK_STR(json_get_str(json_get(j, "data"), "iceCream", NULL), "None");
	json_free(j);
}

static void test_redirect_failures(void)
{
	reset_store();
	struct attempt a, other;
	int tok0;

	/* failures before the token endpoint: sgID is not called */
	CHECK_INT(begin_login("icecream=Mint", NULL, &a), 0);
	CHECK_INT(begin_login("icecream=Mint", NULL, &other), 0);
	struct { const char *query; const char *cookie; } early[] = {
		{ "code=C&state=S", NULL },                 /* no cookie */
		{ NULL, "" },                               /* no code, no state: filled below */
		{ "error=access_denied", "" },
		{ "", "" },
		{ "code=%00&state=x", "" },
		{ "code=a&code=b&state=x", "" },
	};
	char q[512];
	tok0 = fs_tokens();
	for (size_t i = 0; i < ARRAY_LEN(early); i++) {
		if (!early[i].query) {
			snprintf(q, sizeof(q), "state=%s", a.state); /* code missing */
			early[i].query = q;
		}
		call("GET", "/api/redirect", early[i].query, early[i].cookie ? cookie_of(a.cookie) : NULL);
		CHECK_ERROR_REDIRECT();
	}
	snprintf(q, sizeof(q), "code=%s", a.code);           /* state missing */
	call("GET", "/api/redirect", q, cookie_of(a.cookie));
	CHECK_ERROR_REDIRECT();
	snprintf(q, sizeof(q), "error=access_denied&state=%s", a.state);
	call("GET", "/api/redirect", q, cookie_of(a.cookie));
	CHECK_ERROR_REDIRECT();
	CHECK_INT(fs_tokens(), tok0);

	/* state of another attempt */
	CHECK_INT(begin_login("icecream=Mint", NULL, &a), 0);
	snprintf(q, sizeof(q), "code=%s&state=%s", a.code, other.state);
	call("GET", "/api/redirect", q, cookie_of(a.cookie));
	CHECK_ERROR_REDIRECT();
	CHECK_INT(fs_tokens(), tok0);

	/* a tampered cookie */
	CHECK_INT(begin_login("icecream=Mint", NULL, &a), 0);
	size_t mid = strlen(a.cookie) / 2;
	a.cookie[mid] = a.cookie[mid] == 'A' ? 'B' : 'A';
	callback(&a);
	CHECK_ERROR_REDIRECT();
	CHECK_INT(fs_tokens(), tok0);

	/* a cookie that is no attempt at all */
	CHECK_INT(begin_login("icecream=Mint", NULL, &a), 0);
	snprintf(a.cookie, sizeof(a.cookie), "not-a-login-attempt");
	callback(&a);
	CHECK_ERROR_REDIRECT();
	CHECK_INT(fs_tokens(), tok0);

	/* the store down at the callback */
	CHECK_INT(begin_login("icecream=Mint", NULL, &a), 0);
	mem.fail = 1;
	callback(&a);
	mem.fail = 0;
	CHECK_ERROR_REDIRECT();
	CHECK_INT(fs_tokens(), tok0);

	/* a code sgID does not know */
	CHECK_INT(begin_login("icecream=Mint", NULL, &a), 0);
	int ref0 = fs->token_refused;
	snprintf(q, sizeof(q), "code=wrong-code&state=%s", a.state);
	call("GET", "/api/redirect", q, cookie_of(a.cookie));
	CHECK_ERROR_REDIRECT();
	CHECK_INT(fs_tokens(), tok0 + 1);
	CHECK_INT(fs->token_refused, ref0 + 1);
	tok0++;

	/* everything the token endpoint or the ID token can get wrong */
	static const enum fs_token_mode modes[] = {
		FS_TOKEN_HTTP_500, FS_TOKEN_NOT_JSON, FS_TOKEN_NO_ID_TOKEN, FS_TOKEN_BAD_NONCE,
		FS_TOKEN_BAD_ISS, FS_TOKEN_BAD_AUD, FS_TOKEN_EXPIRED, FS_TOKEN_NO_SUB,
		FS_TOKEN_BAD_SIG, FS_TOKEN_ALG_NONE,
	};
	int jw0 = fs_jwks_fetches();
	for (size_t i = 0; i < ARRAY_LEN(modes); i++) {
		CHECK_INT(begin_login("icecream=Mint", NULL, &a), 0);
		fs->token_mode = modes[i];
		callback(&a);
		fs->token_mode = FS_TOKEN_OK;
		CHECK_ERROR_REDIRECT();
		CHECK_INT(fs_tokens(), tok0 + 1);
		tok0 = fs_tokens();
	}
	/* none of these refetched the JWKS (loaded by the login before) */
	CHECK_INT(fs_jwks_fetches(), jw0);
	/* and after all that, a login still works */
	char sess[4096];
	CHECK_INT(login("icecream=Mint", sess), 0);
}

static void test_replay(void)
{
	reset_store();
	struct attempt a;
	CHECK_INT(begin_login("icecream=Mango", NULL, &a), 0);
	callback(&a);
	CHECK(is_redirect_to("/logged-in"));
	char sess[4096];
	snprintf(sess, sizeof(sess), "%s", set_cookie_value());
	int tok = fs_tokens();
	/* the same callback again: refused before sgID is asked */
	callback(&a);
	CHECK_ERROR_REDIRECT();
	CHECK_INT(fs_tokens(), tok);
	callback(&a);
	CHECK_ERROR_REDIRECT();
	CHECK_INT(fs_tokens(), tok);
	/* the replay did not end the session it had made */
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
}

/* A forged callback (wrong state, or none) spends nothing: the user's own
 * callback still logs in. A callback the bulkhead turns away keeps its
 * attempt too: loading it again, with room, logs in. */
static void test_attempt_kept_when_not_ours_or_full(void)
{
	reset_store();
	struct attempt a;
	char q[512];
	CHECK_INT(begin_login("icecream=Kept", NULL, &a), 0);
	int tok = fs_tokens();
	snprintf(q, sizeof(q), "code=%s&state=%sx", a.code, a.state);
	call("GET", "/api/redirect", q, cookie_of(a.cookie));
	CHECK(is_redirect_to("/error"));
	CHECK(!clears_cookie());
	call("GET", "/api/redirect", "error=access_denied", cookie_of(a.cookie));
	CHECK(is_redirect_to("/error"));
	CHECK(!clears_cookie());
	CHECK_INT(fs_tokens(), tok);
	CHECK_INT(mem_count(&mem), 0); /* nothing spent */
	/* a full bulkhead: one slot, held by another thread */
	struct scoreboard *sb = scoreboard_create(2, 1, 20);
	CHECK(sb != NULL);
	struct sb_slot_ref other = { .sb = sb, .index = 1 };
	CHECK(scoreboard_enter_sgid(other));
	app.slot = (struct sb_slot_ref){ .sb = sb, .index = 0 };
	callback(&a);
	CHECK(is_redirect_to("/error"));
	CHECK(!clears_cookie());
	CHECK_INT(fs_tokens(), tok);
	CHECK_INT(mem_count(&mem), 0);
	/* room again: the same callback logs in, and the slot is given back */
	scoreboard_leave_sgid(other);
	callback(&a);
	CHECK(is_redirect_to("/logged-in"));
	CHECK_INT(fs_tokens(), tok + 1);
	CHECK_INT(scoreboard_sgid_count(sb), 0);
	CHECK_INT((long)atomic_load(&sb->shm->rejected), 1);
	/* a first userinfo over capacity: 503 text with Retry-After */
	char sess[4096];
	snprintf(sess, sizeof(sess), "%s", set_cookie_value());
	CHECK(scoreboard_enter_sgid(other));
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 503);
	CHECK(content_type_is("text/plain"));
	CHECK_STR(header("Retry-After"), "1");
	scoreboard_leave_sgid(other);
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	app.slot = (struct sb_slot_ref){ .sb = NULL, .index = 0 };
	scoreboard_free(sb);
}

static void test_expired_attempt(void)
{
	reset_store();
	struct attempt a;
	cfg.login_ttl = 1;
	app.sessions.login_ttl = 1;
	int ok = begin_login("icecream=Mango", NULL, &a);
	CHECK_INT(ok, 0);
	const char *sc = header("Set-Cookie");
	CHECK(sc && strstr(sc, "; Max-Age=1") != NULL);
	fh_sleep_ms(2100);
	int tok = fs_tokens();
	callback(&a);
	CHECK_ERROR_REDIRECT();
	CHECK_INT(fs_tokens(), tok);
	cfg.login_ttl = 300;
	app.sessions.login_ttl = 300;
}

/* ---- tests: userinfo, logout, health ------------------------------------------ */

#define CHECK_UNAUTHORIZED() do { \
	CHECK_INT(res.status, 401); \
	CHECK(content_type_is("text/plain")); \
	CHECK_STR(body(), "Unauthorized"); \
} while (0)

static void test_userinfo(void)
{
	reset_store();
	int ui0 = fs_userinfos();
	call("GET", "/api/userinfo", NULL, NULL);
	CHECK_UNAUTHORIZED();
	call("GET", "/api/userinfo", NULL, "other=1; theme=dark");
	CHECK_UNAUTHORIZED();
	call("GET", "/api/userinfo", NULL, COOKIE "=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	CHECK_UNAUTHORIZED();
	call("GET", "/api/userinfo", NULL, COOKIE "=");
	CHECK_UNAUTHORIZED();
	CHECK_INT(fs_userinfos(), ui0);

	char sess[4096];
	CHECK_INT(login("icecream=Pistachio", sess), 0);
	/* sgID failing: 502, and the session survives for a retry */
	static const enum fs_userinfo_mode bad[] = {
		FS_USERINFO_HTTP_500, FS_USERINFO_SUB_MISMATCH, FS_USERINFO_BAD_JWE,
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		fs->userinfo_mode = bad[i];
		call("GET", "/api/userinfo", NULL, cookie_of(sess));
		fs->userinfo_mode = FS_USERINFO_OK;
		CHECK_INT(res.status, 502);
		CHECK(!content_type_is("application/json"));
		CHECK(!buf_has(&res.body, "TAN"));
		CHECK_INT(fs_userinfos(), ui0 + 1 + (int)i);
	}
	/* the store down: 503, text */
	mem.fail = 1;
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	mem.fail = 0;
	CHECK_INT(res.status, 503);
	CHECK(content_type_is("text/plain"));
	CHECK_INT(fs_userinfos(), ui0 + 3);
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	CHECK_INT(fs_userinfos(), ui0 + 4);
	/* the store down after the profile is cached: still 503 */
	mem.fail = 1;
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	mem.fail = 0;
	CHECK_INT(res.status, 503);
	CHECK_INT(fs_userinfos(), ui0 + 4);
}

static void test_logout(void)
{
	reset_store();
	char sess[4096];
	CHECK_INT(login("icecream=Yam", sess), 0);
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	int n = mem_count(&mem);
	call("GET", "/api/logout", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	CHECK(clears_cookie());
	const char *sc = header("Set-Cookie");
	CHECK(sc && strstr(sc, "Expires=Thu, 01 Jan 1970") && strstr(sc, "; HttpOnly"));
	CHECK_INT(mem_count(&mem), n - 1); /* the session record */
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_UNAUTHORIZED();

	/* POST too; without a cookie it still clears */
	CHECK_INT(login("icecream=Yam", sess), 0);
	call("POST", "/api/logout", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	CHECK(clears_cookie());
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_UNAUTHORIZED();
	call("POST", "/api/logout", NULL, NULL);
	CHECK_INT(res.status, 200);
	CHECK(clears_cookie());
	call("GET", "/api/logout", NULL, COOKIE "=garbage");
	CHECK_INT(res.status, 200);
	CHECK(clears_cookie());

	/* the store down: 503, the cookie cleared all the same */
	CHECK_INT(login("icecream=Yam", sess), 0);
	mem.fail = 1;
	call("GET", "/api/logout", NULL, cookie_of(sess));
	mem.fail = 0;
	CHECK_INT(res.status, 503);
	CHECK(content_type_is("application/json"));
	CHECK(clears_cookie());
}

static void health_is_503(const char *reason)
{
	CHECK_INT(res.status, 503);
	CHECK(content_type_is("application/json"));
	json_value *j = body_json();
	CHECK_STR(json_get_str(j, "status", NULL), "unavailable");
	CHECK_STR(json_get_str(j, "reason", NULL), reason);
	json_free(j);
	CHECK(!buf_has(&res.body, "127.0.0.1"));
}

static void test_health(void)
{
	reset_store();
	call("GET", "/api/health", NULL, NULL);
	CHECK_INT(res.status, 200);
	CHECK(content_type_is("application/json"));
	CHECK_STR(body(), "{\"status\":\"ok\"}");
	CHECK_INT(mem.calls, 1);
	CHECK_INT(mem.sets, 1); /* a write, as a login's */
	/* within HEALTH_CACHE_MS: the process's answer, no store call */
	mem.fail = 1;
	call("GET", "/api/health", NULL, NULL);
	CHECK_INT(res.status, 200);
	CHECK_INT(mem.calls, 1);
	/* the next probe sees it */
	health_forget();
	call("GET", "/api/health", NULL, NULL);
	health_is_503("redis_unreachable");
	CHECK_INT(mem.calls, 2);
	/* liveness: 200 whatever the store, and no call */
	call("GET", "/api/health", "live=1", NULL);
	CHECK_INT(res.status, 200);
	CHECK_STR(body(), "{\"status\":\"ok\"}");
	CHECK_INT(mem.calls, 2);
	mem.fail = 0;

	/* the store answers but refuses writes */
	static const struct { enum store_write_state st; const char *reason; } refusals[] = {
		{ STORE_READ_ONLY, "redis_read_only" },
		{ STORE_NO_REPLICAS, "redis_min_replicas" },
		{ STORE_FULL, "redis_oom" },
		{ STORE_WRITE_REFUSED, "redis_write_refused" },
		{ STORE_TLS_FAILED, "redis_tls" },
	};
	for (size_t i = 0; i < ARRAY_LEN(refusals); i++) {
		health_forget();
		mem.refuse_writes = refusals[i].st;
		call("GET", "/api/health", NULL, NULL);
		health_is_503(refusals[i].reason);
		call("HEAD", "/api/health", "live=1", NULL);
		CHECK_INT(res.status, 200);
	}
	mem.refuse_writes = STORE_WRITABLE;
	health_forget();
	call("GET", "/api/health", NULL, NULL);
	CHECK_INT(res.status, 200);
}

/* ---- the audit log ---------------------------------------------------------- */

static size_t audit_mark(void)
{
	size_t len = 0;
	char *s = harness_read_file(audit_path, &len);
	free(s);
	return len;
}

/* The audit lines written since mark. Caller frees. */
static char *audit_since(size_t mark)
{
	size_t len = 0;
	char *s = harness_read_file(audit_path, &len);
	if (!s || len < mark) {
		free(s);
		return calloc(1, 1);
	}
	memmove(s, s + mark, len - mark + 1);
	return s;
}

static size_t count_of(const char *s, const char *needle)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static size_t lines_of(const char *s)
{
	return count_of(s, "\n");
}

/* Exactly one line since mark, of event ev; it is returned parsed (free it). */
static json_value *one_event(size_t mark, const char *ev)
{
	char *s = audit_since(mark);
	json_value *j = NULL;
	CHECK_INT(lines_of(s), 1);
	if (lines_of(s) == 1) {
		j = json_parse(s, strlen(s) - 1, AUDIT_LINE_MAX);
		CHECK(j != NULL);
		CHECK_STR(json_get_str(j, "event", NULL), ev);
	} else {
		fprintf(stderr, "  audit since the mark: %s\n", s);
	}
	free(s);
	return j;
}

static void no_event(size_t mark)
{
	char *s = audit_since(mark);
	CHECK_INT(lines_of(s), 0);
	if (s[0])
		fprintf(stderr, "  unexpected audit: %s", s);
	free(s);
}

static void call_auth(const char *cookie, const char *orig_method, const char *orig_uri,
	const char *accept, const char *mode);

static void test_audit_events(void)
{
	reset_store();
	struct attempt a;
	char sess[4096];

	/* a login: one login_success with the sub, the client and the agent */
	size_t m = audit_mark();
	CHECK_INT(begin_login("icecream=Yam", NULL, &a), 0);
	no_event(m);
	char q[512];
	snprintf(q, sizeof(q), "code=%s&state=%s", a.code, a.state);
	struct request req = {
		.method = "GET", .path = "/api/redirect", .query = q, .cookie = cookie_of(a.cookie),
		.remote_addr = "10.0.0.5", .x_forwarded_for = "6.6.6.6, 198.51.100.23",
		.user_agent = "Mozilla/5.0 \"audit\"\x01",
	};
	call_req(&req);
	CHECK(is_redirect_to("/logged-in"));
	snprintf(sess, sizeof(sess), "%s", set_cookie_value());
	json_value *j = one_event(m, "login_success");
	CHECK_STR(json_get_str(j, "outcome", NULL), "success");
	CHECK_STR(json_get_str(j, "sub", NULL), SUB);
	CHECK_STR(json_get_str(j, "client", NULL), "198.51.100.23"); /* 10/8 is trusted */
	CHECK_STR(json_get_str(j, "user_agent", NULL), "Mozilla/5.0 \"audit\"\x01");
	CHECK(!json_has(j, "cause"));
	json_free(j);

	/* userinfo of a live session, twice: nothing */
	m = audit_mark();
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	no_event(m);

	/* a logout: one logout with the sub of the session it ended */
	m = audit_mark();
	call("GET", "/api/logout", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	j = one_event(m, "logout");
	CHECK_STR(json_get_str(j, "outcome", NULL), "success");
	CHECK_STR(json_get_str(j, "sub", NULL), SUB);
	CHECK_STR(json_get_str(j, "client", NULL), "-"); /* no REMOTE_ADDR here */
	json_free(j);

	/* a logout that ends nothing (the ended cookie again, junk): no event */
	m = audit_mark();
	call("GET", "/api/logout", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	call("POST", "/api/logout", NULL, cookie_of("junk-cookie-value"));
	CHECK_INT(res.status, 200);
	no_event(m);

	/* the old cookie comes back: one session_expired per request, no sub */
	m = audit_mark();
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_UNAUTHORIZED();
	j = one_event(m, "session_expired");
	CHECK_STR(json_get_str(j, "outcome", NULL), "denied");
	CHECK(!json_has(j, "sub"));
	json_free(j);
	m = audit_mark();
	call_auth(cookie_of(sess), "GET", "/app/", "text/html", "navigate");
	CHECK_INT(res.status, 401);
	json_free(one_event(m, "session_expired"));

	/* anonymous requests are no expiry: no cookie, junk, an attempt */
	m = audit_mark();
	call("GET", "/api/userinfo", NULL, NULL);
	call("GET", "/api/userinfo", NULL, COOKIE "=junk");
	call("GET", "/api/userinfo", NULL, "other=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	CHECK_INT(begin_login("icecream=Yam", NULL, &a), 0);
	call("GET", "/api/userinfo", NULL, cookie_of(a.cookie));
	call_auth(NULL, "GET", "/app/", "text/html", "navigate");
	/* ids this deployment did not issue (the expired one with its last
	 * character changed, the earlier forms' shapes): no event, and not
	 * one store call, from userinfo or the gateway check */
	char forged[SESSION_ID_LEN + 1];
	snprintf(forged, sizeof(forged), "%.*s", SESSION_ID_LEN, sess);
	forged[SESSION_ID_LEN - 1] = forged[SESSION_ID_LEN - 1] == 'A' ? 'B' : 'A';
	unsigned calls = mem.calls;
	call("GET", "/api/userinfo", NULL, cookie_of(forged));
	CHECK_UNAUTHORIZED();
	call_auth(cookie_of(forged), "GET", "/app/", "text/html", "navigate");
	CHECK_INT(res.status, 401);
	call("GET", "/api/userinfo", NULL, COOKIE "=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	call("GET", "/api/userinfo", NULL,
	     COOKIE "=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
	CHECK_INT(mem.calls, calls);
	/* a logout naming nothing of ours, a refused rd */
	call("POST", "/api/logout", NULL, NULL);
	call("GET", "/api/logout", "rd=https://evil.example/", cookie_of(a.cookie));
	CHECK_INT(res.status, 400);
	call("GET", "/api/health", NULL, NULL);
	no_event(m);
	/* a logout naming a forged id: no store call either */
	calls = mem.calls;
	call("POST", "/api/logout", NULL, cookie_of(forged));
	CHECK_INT(res.status, 200);
	CHECK_INT(mem.calls, calls);

	/* a failed login: one login_failure with its cause, no sub */
	m = audit_mark();
	snprintf(q, sizeof(q), "code=%s&state=wrong-state", a.code);
	call("GET", "/api/redirect", q, cookie_of(a.cookie));
	CHECK_ERROR_REDIRECT();
	j = one_event(m, "login_failure");
	CHECK_STR(json_get_str(j, "outcome", NULL), "failure");
	CHECK_STR(json_get_str(j, "cause", NULL), "state_mismatch");
	CHECK(!json_has(j, "sub"));
	json_free(j);
	m = audit_mark();
	call("GET", "/api/redirect", "code=x&state=y", NULL);
	j = one_event(m, "login_failure");
	CHECK_STR(json_get_str(j, "cause", NULL), "attempt_expired");
	json_free(j);

	/* a logout while the store is down: one logout, failure */
	CHECK_INT(login("icecream=Yam", sess), 0);
	m = audit_mark();
	mem.fail = 1;
	call("GET", "/api/logout", NULL, cookie_of(sess));
	mem.fail = 0;
	CHECK_INT(res.status, 503);
	j = one_event(m, "logout");
	CHECK_STR(json_get_str(j, "outcome", NULL), "failure");
	json_free(j);
	CHECK_INT(audit_dropped(), 0);
}

static void test_routing(void)
{
	reset_store();
	static const char *const unknown[] = {
		"/", "/api", "/api/", "/api/nope", "/api/auth-url/x", "/API/health", "/api/health%00",
		"/api/userinfo.json", "",
	};
	for (size_t i = 0; i < ARRAY_LEN(unknown); i++) {
		call("GET", unknown[i], NULL, NULL);
		CHECK_INT(res.status, 404);
		CHECK(content_type_is("application/json"));
		json_value *j = body_json();
		CHECK(json_get_str(j, "error", NULL) != NULL);
		json_free(j);
		CHECK_INT(header_count("Allow"), 0);
	}
	static const struct { const char *method, *path, *allow; } wrong[] = {
		{ "POST", "/api/auth-url", "GET, HEAD, OPTIONS" },
		{ "DELETE", "/api/userinfo", "GET, HEAD, OPTIONS" },
		{ "PUT", "/api/logout", "GET, HEAD, POST, OPTIONS" },
		{ "POST", "/api/redirect", "GET, HEAD, OPTIONS" },
		{ "PATCH", "/api/health", "GET, HEAD, OPTIONS" },
		{ "get", "/api/health", "GET, HEAD, OPTIONS" },
	};
	for (size_t i = 0; i < ARRAY_LEN(wrong); i++) {
		call(wrong[i].method, wrong[i].path, NULL, NULL);
		CHECK_INT(res.status, 405);
		CHECK(content_type_is("application/json"));
		CHECK_STR(header("Allow"), wrong[i].allow);
	}
	CHECK_INT(mem.calls, 0);
	/* HEAD where GET is */
	call("HEAD", "/api/health", NULL, NULL);
	CHECK_INT(res.status, 200);
}

static void test_cors(void)
{
	reset_store();
	static const char *const paths[] = { "/api/health", "/api/userinfo", "/api/auth-url",
		"/api/logout", "/api/nope" };
	static const char *const foreign[] = { "http://evil.example", "http://localhost:5173.evil.example",
		"http://localhost:5173/", "https://localhost:5173", "http://localhost:5174", "null",
		"http://LOCALHOST:5173", "" };
	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		call_full("GET", paths[i], NULL, NULL, FRONTEND, NULL);
		CHECK_STR(header("Access-Control-Allow-Origin"), FRONTEND);
		CHECK_STR(header("Access-Control-Allow-Credentials"), "true");
		CHECK_INT(header_count("Access-Control-Allow-Origin"), 1);
		CHECK_INT(header_count("Access-Control-Allow-Methods"), 0);
		for (size_t k = 0; k < ARRAY_LEN(foreign); k++) {
			call_full("GET", paths[i], NULL, NULL, foreign[k], NULL);
			CHECK_INT(header_count("Access-Control-Allow-Origin"), 0);
			CHECK_INT(header_count("Access-Control-Allow-Credentials"), 0);
		}
		call_full("GET", paths[i], NULL, NULL, NULL, NULL);
		CHECK_INT(header_count("Access-Control-Allow-Origin"), 0);
		CHECK_INT(header_count("Access-Control-Allow-Credentials"), 0);
	}
	/* the SPA reads the 401 too */
	call_full("GET", "/api/userinfo", NULL, NULL, FRONTEND, NULL);
	CHECK_INT(res.status, 401);
	CHECK_STR(header("Access-Control-Allow-Origin"), FRONTEND);

	/* preflight */
	unsigned calls0 = mem.calls;
	int req0 = fh_requests();
	static const struct { const char *path, *methods; } pre[] = {
		{ "/api/userinfo", "GET, HEAD, OPTIONS" }, { "/api/auth-url", "GET, HEAD, OPTIONS" },
		{ "/api/logout", "GET, HEAD, POST, OPTIONS" }, { "/api/redirect", "GET, HEAD, OPTIONS" },
		{ "/api/health", "GET, HEAD, OPTIONS" },
	};
	for (size_t i = 0; i < ARRAY_LEN(pre); i++) {
		call_full("OPTIONS", pre[i].path, NULL, COOKIE "=whatever", FRONTEND, "GET");
		CHECK_INT(res.status, 204);
		CHECK_INT(res.body.len, 0);
		CHECK_STR(header("Access-Control-Allow-Methods"), pre[i].methods);
		CHECK_STR(header("Access-Control-Allow-Origin"), FRONTEND);
		CHECK_STR(header("Access-Control-Allow-Credentials"), "true");
		CHECK_INT(header_count("Set-Cookie"), 0);
		for (size_t k = 0; k < ARRAY_LEN(foreign); k++) {
			call_full("OPTIONS", pre[i].path, NULL, NULL, foreign[k], "GET");
			CHECK_INT(res.status, 204);
			CHECK_INT(header_count("Access-Control-Allow-Methods"), 0);
			CHECK_INT(header_count("Access-Control-Allow-Origin"), 0);
		}
		call_full("OPTIONS", pre[i].path, NULL, NULL, NULL, NULL);
		CHECK_INT(res.status, 204);
		CHECK_INT(header_count("Access-Control-Allow-Methods"), 0);
	}
	call_full("OPTIONS", "/api/nope", NULL, NULL, FRONTEND, "GET");
	CHECK_INT(res.status, 404);
	/* a preflight touches neither the store nor sgID */
	CHECK_INT(mem.calls, calls0);
	CHECK_INT(fh_requests(), req0);
}

/* ---- tests: the JWKS throttle --------------------------------------------------- */

static void test_jwks_throttle(void)
{
	reset_store();
	char sess[4096];
	struct attempt a;
	CHECK_INT(login("icecream=Lychee", sess), 0); /* the JWKS is loaded */
	int jw = fs_jwks_fetches();

	/* a bad signature under the known kid: no refetch */
	CHECK_INT(begin_login("icecream=Lychee", NULL, &a), 0);
	fs->token_mode = FS_TOKEN_BAD_SIG;
	callback(&a);
	fs->token_mode = FS_TOKEN_OK;
	CHECK_ERROR_REDIRECT();
	CHECK_INT(fs_jwks_fetches(), jw);

	/* an unknown kid: one refetch, then none within the interval */
	snprintf(fs->token_kid, sizeof(fs->token_kid), "rotated-key-2");
	for (int i = 0; i < 4; i++) {
		CHECK_INT(begin_login("icecream=Lychee", NULL, &a), 0);
		callback(&a);
		CHECK_ERROR_REDIRECT();
		CHECK_INT(fs_jwks_fetches(), jw + 1);
	}
	/* the key rotates at sgID: still throttled within the interval ... */
	snprintf(fs->jwks_kid, sizeof(fs->jwks_kid), "rotated-key-2");
	CHECK_INT(begin_login("icecream=Lychee", NULL, &a), 0);
	callback(&a);
	CHECK_ERROR_REDIRECT();
	CHECK_INT(fs_jwks_fetches(), jw + 1);
	/* ... and picked up once the interval has passed */
	cfg.jwks_refetch_interval = 1;
	fh_sleep_ms(1100);
	CHECK_INT(begin_login("icecream=Lychee", NULL, &a), 0);
	callback(&a);
	CHECK(is_redirect_to("/logged-in"));
	CHECK_INT(fs_jwks_fetches(), jw + 2);
	/* the new key now cached: no fetch */
	CHECK_INT(login("icecream=Lychee", sess), 0);
	CHECK_INT(fs_jwks_fetches(), jw + 2);
	/* a kid nobody knows, after the interval: exactly one more refetch
	 * (the interval back at 60 s after the first, so a slow run under
	 * valgrind cannot outlast it) */
	snprintf(fs->token_kid, sizeof(fs->token_kid), "unknown-kid-3");
	fh_sleep_ms(1100);
	for (int i = 0; i < 3; i++) {
		CHECK_INT(begin_login("icecream=Lychee", NULL, &a), 0);
		callback(&a);
		cfg.jwks_refetch_interval = 60;
		CHECK_ERROR_REDIRECT();
		CHECK_INT(fs_jwks_fetches(), jw + 3);
	}
	snprintf(fs->token_kid, sizeof(fs->token_kid), "rotated-key-2");
}

/* ---- the new cookie and login-attempt behaviour -------------------------------- */

/* A logged-in user starting a login, the SPA's or a gateway's: the old
 * session goes (no orphan); when the store cannot end it, 503 and no new
 * attempt, so no session is left behind unreachable. */
/* Several tabs (issue 14): auth-url twice in one browser keeps both
 * attempts in its cookie, and the first opened finishes with its own
 * choice; its login replaces the cookie, so the other tab then fails
 * without touching the session. A spent attempt leaves the cookie, the
 * others stay; a state mismatch changes nothing; past 4 the oldest goes;
 * starting attempts costs the store nothing. */
static void test_several_attempts(void)
{
	struct attempt t[5];
	char jar[4096], sess[4096], ic[64];
	reset_store();
	CHECK_INT(begin_login("icecream=Mango", NULL, &t[0]), 0);
	CHECK_INT(begin_login("icecream=Durian", cookie_of(t[0].cookie), &t[1]), 0);
	snprintf(jar, sizeof(jar), "%s", t[1].cookie);
	CHECK(strchr(jar, '.') != NULL && strstr(jar, t[0].cookie) != NULL);
	CHECK_INT(mem.calls, 0);
	/* a forged state: nothing spent, the cookie untouched */
	struct attempt forged = t[0];
	snprintf(forged.state, sizeof(forged.state), "%s", "forged-state-value-0123456789abcdefghijklm");
	callback_with(&forged, jar);
	CHECK(is_redirect_to("/error"));
	CHECK_INT(header_count("Set-Cookie"), 0);
	/* the first tab finishes */
	callback_with(&t[0], jar);
	CHECK(is_redirect_to("/logged-in"));
	snprintf(sess, sizeof(sess), "%s", set_cookie_value());
	CHECK_INT(strlen(sess), SESSION_ID_LEN);
	CHECK_STR(userinfo_icecream(sess, ic, sizeof(ic)), "Mango");
	/* the second tab after it: the browser now holds the session */
	callback_with(&t[1], sess);
	CHECK(is_redirect_to("/error"));
	CHECK_INT(header_count("Set-Cookie"), 0);
	CHECK_STR(userinfo_icecream(sess, ic, sizeof(ic)), "Mango");
	/* had the first tab's callback been replayed with both pending, the
	 * spent one leaves the cookie and the second still finishes */
	char own[4096];
	snprintf(own, sizeof(own), "%.*s", (int)strcspn(jar, "."), jar); /* the newest, t[1]'s */
	callback_with(&t[0], jar);
	CHECK(is_redirect_to("/error"));
	CHECK_STR(set_cookie_value(), own);
	callback_with(&t[1], own);
	CHECK(is_redirect_to("/logged-in"));
	CHECK_STR(userinfo_icecream(set_cookie_value(), ic, sizeof(ic)), "Durian");
	/* five in a row: the four newest kept, the oldest gone */
	reset_store();
	CHECK_INT(begin_login("icecream=A", NULL, &t[0]), 0);
	for (int i = 1; i < 5; i++)
		CHECK_INT(begin_login("icecream=B", cookie_of(t[i - 1].cookie), &t[i]), 0);
	int dots = 0;
	for (const char *p = t[4].cookie; *p; p++)
		dots += *p == '.';
	CHECK_INT(dots, SESSION_ATTEMPTS_MAX - 1);
	CHECK(strlen(t[4].cookie) <= SESSION_ATTEMPT_MAX);
	callback_with(&t[0], t[4].cookie);
	CHECK(is_redirect_to("/error"));
	callback_with(&t[1], t[4].cookie);
	CHECK(is_redirect_to("/logged-in"));
}

static void check_login_replaces_session(bool gateway)
{
	const char *path = gateway ? "/api/login" : "/api/auth-url";
	const char *query = gateway ? "rd=%2F" : "icecream=Vanilla";
	struct attempt a;
	char sess[4096];
	reset_store();
	CHECK_INT(login("icecream=Vanilla", sess), 0);
	int n = mem_count(&mem);
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	CHECK_INT((gateway ? begin_gateway : begin_login)(query, cookie_of(sess), &a), 0);
	CHECK(strcmp(a.cookie, sess) != 0);
	CHECK(strlen(a.cookie) > 80);
	CHECK_INT(mem_count(&mem), n - 1);
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_UNAUTHORIZED();
	CHECK_INT(login("icecream=Vanilla", sess), 0);
	mem.fail = 1;
	call("GET", path, query, cookie_of(sess));
	mem.fail = 0;
	CHECK_INT(res.status, 503);
	CHECK(content_type_is("application/json"));
	CHECK_INT(header_count("Set-Cookie"), 0);
	CHECK_INT(header_count("Location"), 0);
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
}

/* (a) auth-url seals the attempt into the cookie: no store call. */
static void test_auth_url_no_store(void)
{
	reset_store();
	struct attempt a, b;
	CHECK_INT(begin_login("icecream=Vanilla", NULL, &a), 0);
	CHECK_INT(mem.calls, 0);
	CHECK(strlen(a.cookie) > 80);     /* a sealed attempt, not a 43-char id */
	CHECK_INT(begin_login("icecream=Vanilla", cookie_of(a.cookie), &b), 0);
	CHECK_INT(mem.calls, 0);
	CHECK(strcmp(a.cookie, b.cookie) != 0);
	call("GET", "/api/auth-url", "icecream=Vanilla", "theme=dark; lang=en");
	CHECK_INT(res.status, 200);
	CHECK_INT(mem.calls, 0);
	mem.fail = 1;
	call("GET", "/api/auth-url", "icecream=Vanilla", NULL);
	CHECK_INT(res.status, 200);
	CHECK(set_cookie_value()[0] != '\0');
	mem.fail = 0;
	CHECK_INT(mem.calls, 0);
	/* the sealed attempt still logs in */
	callback(&b);
	CHECK(is_redirect_to("/logged-in"));

	check_login_replaces_session(false);
}

/* (b) single use at the callback, with the store down there */
static void test_single_use_marker(void)
{
	reset_store();
	struct attempt a;
	CHECK_INT(begin_login("icecream=Vanilla", NULL, &a), 0);
	callback(&a);
	CHECK(is_redirect_to("/logged-in"));
	CHECK(mem.sets >= 1 && mem.index_ops >= 1); /* the marker and the session */
	int tok = fs_tokens();
	callback(&a);
	CHECK_ERROR_REDIRECT();
	CHECK_INT(fs_tokens(), tok);
	/* the marker store down: refused, sgID not asked */
	CHECK_INT(begin_login("icecream=Vanilla", NULL, &a), 0);
	mem.fail = 1;
	callback(&a);
	mem.fail = 0;
	CHECK_ERROR_REDIRECT();
	CHECK_INT(fs_tokens(), tok);
	/* and that attempt was not spent by the failure? it may be: only
	 * check that a fresh one works */
	CHECK_INT(begin_login("icecream=Vanilla", NULL, &a), 0);
	callback(&a);
	CHECK(is_redirect_to("/logged-in"));
}

/* (c) a Cookie header shared with other apps never fails a request */
static void test_cookie_header_robustness(void)
{
	reset_store();
	char sess[4096], sess2[4096];
	CHECK_INT(login("icecream=Vanilla", sess), 0);
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);

	static char big[3000], many[2000], hdr[12000];
	memset(big, 'x', sizeof(big) - 1);
	memcpy(big, "big=", 4);
	big[sizeof(big) - 1] = '\0';
	many[0] = '\0';
	for (int i = 0; i < 40; i++) {
		char p[32];
		snprintf(p, sizeof(p), "f%d=%d; ", i, i);
		strcat(many, p);
	}
	const char *foreign[] = {
		"junk", "junk; other", big, many, "ctl=a\x01" "b", "del=a\x7f" "b", "tab=a\tb",
		"=nameless", "a=1;;; ;b=2", "q=\"quoted\"", "\x01\x02", "utf=caf\xc3\xa9",
	};
	for (size_t i = 0; i < ARRAY_LEN(foreign); i++) {
		snprintf(hdr, sizeof(hdr), "%s; " COOKIE "=%s", foreign[i], sess);
		call("GET", "/api/userinfo", NULL, hdr);
		CHECK_INT(res.status, 200);
		snprintf(hdr, sizeof(hdr), COOKIE "=%s; %s", sess, foreign[i]);
		call("GET", "/api/userinfo", NULL, hdr);
		CHECK_INT(res.status, 200);
		call("GET", "/api/health", NULL, hdr);
		CHECK_INT(res.status, 200);
		call("GET", "/api/redirect", "code=x&state=y", hdr);
		CHECK_INT(res.status, 302);
		/* alone, without ours */
		call("GET", "/api/userinfo", NULL, foreign[i]);
		CHECK_UNAUTHORIZED();
		call("GET", "/api/auth-url", "icecream=Vanilla", foreign[i]);
		CHECK_INT(res.status, 200);
		call("GET", "/api/logout", NULL, foreign[i]);
		CHECK_INT(res.status, 200);
	}
	/* a whole login with the noise around our cookie */
	struct attempt a;
	snprintf(hdr, sizeof(hdr), "%s; %s", many, big);
	CHECK_INT(begin_login("icecream=Vanilla", hdr, &a), 0);
	char q[512];
	snprintf(q, sizeof(q), "code=%s&state=%s", a.code, a.state);
	snprintf(hdr, sizeof(hdr), "junk; %s; " COOKIE "=%s; ctl=\x01", many, a.cookie);
	call("GET", "/api/redirect", q, hdr);
	CHECK(is_redirect_to("/logged-in"));
	snprintf(sess2, sizeof(sess2), "%s", set_cookie_value());
	call("GET", "/api/userinfo", NULL, cookie_of(sess2));
	CHECK_INT(res.status, 200);

	/* two of our name, one junk: the good one is used, either order */
	snprintf(hdr, sizeof(hdr), COOKIE "=junk-value; " COOKIE "=%s", sess);
	call("GET", "/api/userinfo", NULL, hdr);
	CHECK_INT(res.status, 200);
	snprintf(hdr, sizeof(hdr), COOKIE "=%s; " COOKIE "=junk-value", sess);
	call("GET", "/api/userinfo", NULL, hdr);
	CHECK_INT(res.status, 200);

	/* logout ends every session the request names */
	int n = mem_count(&mem);
	snprintf(hdr, sizeof(hdr), COOKIE "=%s; x=1; " COOKIE "=%s; " COOKIE "=junk", sess, sess2);
	call("GET", "/api/logout", NULL, hdr);
	CHECK_INT(res.status, 200);
	CHECK(clears_cookie());
	CHECK_INT(mem_count(&mem), n - 2);
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_UNAUTHORIZED();
	call("GET", "/api/userinfo", NULL, cookie_of(sess2));
	CHECK_UNAUTHORIZED();
}

/* (d) a logout while the first userinfo waits for sgID wins */
static void test_logout_during_userinfo(void)
{
	reset_store();
	char sess[4096];
	CHECK_INT(login("icecream=Vanilla", sess), 0);
	int ui = fs_userinfos();
	drop_before_next_set = 1;          /* the profile write finds it gone */
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(drop_before_next_set, 0); /* the hook ran: a write was made */
	CHECK_INT(fs_userinfos(), ui + 1);
	CHECK_INT(mem_count(&mem), 0);      /* not recreated */
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_UNAUTHORIZED();
	CHECK_INT(fs_userinfos(), ui + 1);
}

/* (e) a profile of 200 KB is cached like any other */
static void test_large_profile(void)
{
	reset_store();
	char sess[4096];
	CHECK_INT(login("icecream=Vanilla", sess), 0);
	fs->userinfo_mode = FS_USERINFO_BIG;
	fs->big_fields = 8;
	fs->big_field_len = 25600;
	int ui = fs_userinfos();
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	CHECK(res.body.len > 8 * 25600);
	json_value *j = body_json();
	const json_value *d = json_get(j, "data");
	CHECK_INT(json_object_len(d), 9);
	size_t len = 0;
	CHECK(json_get_str(d, "big.7", &len) != NULL && len == 25600);
	json_free(j);
	CHECK_INT(fs_userinfos(), ui + 1);
	size_t first_len = res.body.len;
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	CHECK_INT(res.body.len, first_len);
	CHECK_INT(fs_userinfos(), ui + 1);   /* from the session */
	fs->userinfo_mode = FS_USERINFO_OK;
}

/* ---- gateway mode ----------------------------------------------------------- */

#define REDIRECT_ORIGIN "http://localhost:5001"
#define ERROR_URL "https://portal.example/login-failed"
#define BROWSER_ACCEPT "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"

/* The profile values the fake hands out, and a field with a '%' */
#define NAME_VALUE "TAN AH KOW \"AK\" \xe9\x99\x88"
#define NAME_HEADER "TAN AH KOW \"AK\" %E9%99%88"
#define NOTE_VALUE "100% sure"

/* /api/auth as nginx's auth_request asks it: the protected request's URI
 * and method as parameters, its Accept and Sec-Fetch-Mode as headers. */
static void call_auth(const char *cookie, const char *orig_method, const char *orig_uri,
	const char *accept, const char *mode)
{
	struct request req = {
		.method = "GET", .path = "/api/auth", .cookie = cookie, .accept = accept,
		.sec_fetch_mode = mode, .original_uri = orig_uri, .original_method = orig_method,
	};
	call_req(&req);
}

/* The same check as a FastCGI authorizer: path, method and URI are the
 * protected request's own. */
static void call_authorizer(const char *method, const char *path, const char *uri,
	const char *cookie, const char *accept, const char *mode)
{
	struct request req = {
		.role = REQUEST_AUTHORIZER, .method = method, .path = path, .request_uri = uri,
		.cookie = cookie, .accept = accept, .sec_fetch_mode = mode, .origin = FRONTEND,
	};
	call_req(&req);
}

/* The login link of a navigation whose URI is no return URL */
#define LOGIN_TO_ROOT "/api/login?rd=%2F"

/* An answer of the gateway check: a status, no body, no cookie. */
#define CHECK_GATE(want) do { \
	CHECK_INT(res.status, want); \
	CHECK_INT(res.body.len, 0); \
	CHECK_INT(header_count("Set-Cookie"), 0); \
} while (0)

static int gateway_login(const char *query, char out[4096])
{
	return login_as(true, query, out);
}

static void test_gateway_login_start(void)
{
	reset_store();
	int req0 = fh_requests();
	struct attempt a;
	CHECK_INT(begin_gateway("rd=%2Fapp%2Fpage%3Fx%3D1", NULL, &a), 0);
	CHECK_INT(res.status, 302);
	CHECK_INT(res.body.len, 0);
	CHECK_STR(last_route, "login");
	char prefix[700];
	snprintf(prefix, sizeof(prefix), "%s/oauth/authorize?", cfg.issuer);
	CHECK(has_prefix_s(header("Location"), prefix));
	CHECK_INT(header_count("Set-Cookie"), 1);
	const char *sc = header("Set-Cookie");
	CHECK(sc && strstr(sc, "; HttpOnly") && strstr(sc, "; Max-Age=300") && strstr(sc, "; Path=/"));
	CHECK(strlen(a.cookie) > 80);                  /* a sealed attempt */
	CHECK(strstr(a.cookie, "app") == NULL);
	CHECK_INT(mem.calls, 0);                       /* no store command */
	CHECK_INT(fh_requests(), req0);                /* nor sgID */
	/* no rd: "/"; HEAD works as GET */
	CHECK_INT(begin_gateway("", NULL, &a), 0);
	CHECK_INT(begin_gateway(NULL, NULL, &a), 0);
	call("HEAD", "/api/login", "rd=%2F", NULL);
	CHECK_INT(res.status, 302);
	CHECK_INT(mem.calls, 0);
	/* POST is not a login */
	call("POST", "/api/login", "rd=%2F", NULL);
	CHECK_INT(res.status, 405);
	CHECK_STR(header("Allow"), "GET, HEAD, OPTIONS");
	/* a logged-in user starting one: as with auth-url */
	check_login_replaces_session(true);
}

/* Every refused rd: 400 JSON, nothing stored, no cookie, no Location; the
 * same values as the protected request's URI never make a login link. */
static void test_gateway_hostile_rd(void)
{
	reset_store();
	char sess[4096];
	CHECK_INT(login("icecream=Vanilla", sess), 0);
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	const char *const *bad = hostile_rd();
	CHECK(hostile_rd_n >= 40);
	int req0 = fh_requests();
	for (size_t i = 0; i < hostile_rd_n; i++) {
		struct buf q = BUF_INIT;
		buf_append_str(&q, "rd=");
		url_encode(&q, bad[i], strlen(bad[i]));
		static const char *const paths[] = { "/api/login", "/api/logout" };
		for (size_t k = 0; k < ARRAY_LEN(paths); k++) {
			int n = mem_count(&mem);
			unsigned calls = mem.calls;
			call(k ? "POST" : "GET", paths[k], buf_cstr(&q), cookie_of(sess));
			CHECK_INT(res.status, 400);
			CHECK(content_type_is("application/json"));
			CHECK_INT(header_count("Set-Cookie"), 0);
			CHECK_INT(header_count("Location"), 0);
			CHECK_INT(mem.calls, calls);
			CHECK_INT(mem_count(&mem), n);
		}
		/* unencoded in the query (decoded once more there, so another
		 * value, sometimes an honest one): never a Location but sgID's */
		struct buf raw = BUF_INIT;
		buf_append_strs(&raw, "rd=", bad[i], NULL);
		call("GET", "/api/login", raw.data, NULL);
		CHECK(res.status == 400 || (res.status == 302 && has_prefix_s(header("Location"), cfg.issuer)));
		buf_free(&raw);
		/* as the URI of a refused navigation: the login returns to / */
		call_auth(NULL, "GET", bad[i], BROWSER_ACCEPT, "navigate");
		CHECK_GATE(401);
		CHECK_STR(header("X-Sgid-Login"), LOGIN_TO_ROOT);
		call_authorizer("GET", "/p", bad[i], NULL, BROWSER_ACCEPT, "navigate");
		CHECK_GATE(302);
		CHECK_STR(header("Location"), LOGIN_TO_ROOT);
		buf_free(&q);
	}
	/* nothing reached sgID, and the session lived through all of it */
	CHECK_INT(fh_requests(), req0);
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	/* two rd, or an unreadable query, are refused the same way */
	static const char *const queries[] = { "rd=%2Fa&rd=%2Fb", "rd=%zz", "x=%00", "rd" };
	for (size_t i = 0; i < ARRAY_LEN(queries); i++) {
		call("GET", "/api/logout", queries[i], cookie_of(sess));
		CHECK_INT(res.status, 400);
		CHECK_INT(header_count("Set-Cookie"), 0);
		call("GET", "/api/login", queries[i], NULL);
		CHECK_INT(res.status, 400);
		CHECK_INT(header_count("Set-Cookie"), 0);
	}
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
}

static void test_gateway_full_login(void)
{
	reset_store();
	snprintf(fs->extra_name, sizeof(fs->extra_name), "myinfo.note");
	snprintf(fs->extra_value, sizeof(fs->extra_value), "%s", NOTE_VALUE);
	never_logged(SUB);
	never_logged(NAME_VALUE);
	never_logged(NAME_HEADER);
	never_logged(NOTE_VALUE);
	never_logged("SINGAPORE CITIZEN");
	int tok0 = fs_tokens(), ui0 = fs_userinfos();
	struct attempt a;
	CHECK_INT(begin_gateway("rd=%2Fapp%2Fpage%3Fx%3D1%26y%3D%253C", NULL, &a), 0);
	callback(&a);
	/* the callback fetched the profile (one userinfo call) and went to rd,
	 * relative to the redirect URI's origin */
	CHECK_INT(res.status, 302);
	CHECK_STR(header("Location"), REDIRECT_ORIGIN "/app/page?x=1&y=%3C");
	CHECK_INT(res.body.len, 0);
	CHECK_INT(fs_tokens(), tok0 + 1);
	CHECK_INT(fs_userinfos(), ui0 + 1);
	char sess[4096];
	snprintf(sess, sizeof(sess), "%s", set_cookie_value());
	CHECK_INT(strlen(sess), SESSION_ID_LEN);
	const char *sc = header("Set-Cookie");
	CHECK(sc && strstr(sc, "; HttpOnly") && strstr(sc, "; Max-Age=3600"));
	CHECK(!mem_contains(&mem, "TAN AH KOW")); /* encrypted at rest */

	/* /api/auth: one GETEX (the idle time renewed), no sgID call */
	int req0 = fh_requests();
	unsigned calls0 = mem.calls, gets0 = mem.gets;
	call_auth(cookie_of(sess), "GET", "/app/page", BROWSER_ACCEPT, "navigate");
	CHECK_GATE(200);
	CHECK_STR(last_route, "auth");
	CHECK_INT(mem.calls, calls0 + 1);
	CHECK_INT(mem.gets, gets0 + 1);
	CHECK_INT(mem.last_get_ttl, cfg.session_idle_ttl);
	CHECK_INT(fh_requests(), req0);
	CHECK_STR(header("X-Sgid-Sub"), SUB);
	CHECK_STR(header("X-Sgid-Myinfo-Name"), NAME_HEADER);
	CHECK_STR(header("X-Sgid-Myinfo-Nationality"), "SINGAPORE CITIZEN");
	CHECK_STR(header("X-Sgid-Myinfo-Note"), "100%25 sure");
	CHECK_INT(header_count("X-Sgid-Icecream"), 0); /* the demo's choice is no profile field */
	CHECK_INT(header_count("X-Sgid-Login"), 0);
	CHECK(content_type_is("") || header("Content-Type") == NULL);
	/* HEAD, any headers, again: the same, still no sgID call */
	struct request head = { .method = "HEAD", .path = "/api/auth", .cookie = cookie_of(sess) };
	call_req(&head);
	CHECK_GATE(200);
	CHECK_STR(header("X-Sgid-Sub"), SUB);
	/* the subrequest of an OPTIONS request: the check, not a preflight */
	call_full("OPTIONS", "/api/auth", NULL, cookie_of(sess), FRONTEND, "GET");
	CHECK_GATE(200);
	CHECK_STR(header("X-Sgid-Sub"), SUB);
	CHECK_INT(header_count("Access-Control-Allow-Methods"), 0);
	call_full("OPTIONS", "/api/auth", NULL, NULL, FRONTEND, "GET");
	CHECK_GATE(401);
	/* the SPA's userinfo reads the same cached profile */
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	json_value *j = body_json();
	CHECK_STR(json_get_str(json_get(j, "data"), "myinfo.note", NULL), NOTE_VALUE);
	CHECK_STR(json_get_str(json_get(j, "data"), "iceCream", NULL), "None");
	json_free(j);
	CHECK_INT(fh_requests(), req0);
	CHECK_INT(fs_userinfos(), ui0 + 1);

	/* the authorizer gives the same identity as Variable-* */
	call_authorizer("GET", "/protected/page", "/protected/page?x=1", cookie_of(sess),
	                BROWSER_ACCEPT, NULL);
	CHECK_GATE(200);
	CHECK_STR(header("Variable-SGID_SUB"), SUB);
	CHECK_STR(header("Variable-SGID_MYINFO_NAME"), NAME_HEADER);
	CHECK_STR(header("Variable-SGID_MYINFO_NOTE"), "100%25 sure");
	CHECK_INT(header_count("X-Sgid-Sub"), 0);
	CHECK_INT(fh_requests(), req0);

	/* the filter: only the listed fields (and the sub) */
	snprintf(cfg.gateway_headers[0], sizeof(cfg.gateway_headers[0]), "myinfo.name");
	cfg.n_gateway_headers = 1;
	call_auth(cookie_of(sess), "GET", "/", NULL, NULL);
	CHECK_GATE(200);
	CHECK_STR(header("X-Sgid-Sub"), SUB);
	CHECK_STR(header("X-Sgid-Myinfo-Name"), NAME_HEADER);
	CHECK_INT(header_count("X-Sgid-Myinfo-Nationality"), 0);
	CHECK_INT(header_count("X-Sgid-Myinfo-Note"), 0);
	call_authorizer("GET", "/p", "/p", cookie_of(sess), NULL, NULL);
	CHECK_STR(header("Variable-SGID_MYINFO_NAME"), NAME_HEADER);
	CHECK_INT(header_count("Variable-SGID_MYINFO_NATIONALITY"), 0);
	cfg.n_gateway_headers = 0;

	/* logged out: 401 */
	call("GET", "/api/logout", NULL, cookie_of(sess));
	call_auth(cookie_of(sess), "GET", "/app", NULL, NULL);
	CHECK_GATE(401);
	fs->extra_name[0] = '\0';
}

/* SGID_PARSE_DATA: a stringified JSON value reaches the SPA as JSON (its
 * numbers' text kept, < escaped), from sgID and from the cached profile
 * alike; the gateway passes it as compact JSON text; off, or hostile, it
 * stays the string sgID sent. */
#define RECORDS_VALUE "[{\"name\": \"LIM <b>\", \"n\": 1e999}]"
#define RECORDS_JSON "[{\"name\":\"LIM \\u003cb\\u003e\",\"n\":1e999}]"
#define RECORDS_HEADER "[{\"name\":\"LIM <b>\",\"n\":1e999}]"

static void parse_data_userinfo(const char *value, bool parse, const char *want_member)
{
	char sess[4096];
	snprintf(fs->extra_name, sizeof(fs->extra_name), "myinfo.children_birth_records");
	snprintf(fs->extra_value, sizeof(fs->extra_value), "%s", value);
	cfg.parse_data = parse;
	CHECK_INT(login("icecream=Vanilla", sess), 0);
	for (int pass = 0; pass < 2; pass++) { /* from sgID, then from the session */
		int ui = fs_userinfos();
		call("GET", "/api/userinfo", NULL, cookie_of(sess));
		CHECK_INT(res.status, 200);
		CHECK(buf_has(&res.body, want_member));
		CHECK_INT(fs_userinfos(), ui + (pass == 0));
		json_value *j = body_json();
		CHECK(j != NULL);
		const json_value *d = json_get(j, "data");
		CHECK_STR(json_get_str(d, "myinfo.name", NULL), NAME_VALUE);
		CHECK_INT(json_kind_of(json_get(d, "myinfo.children_birth_records")),
		          strchr(want_member + strlen("\"myinfo.children_birth_records\":"), '"') ==
		          want_member + strlen("\"myinfo.children_birth_records\":") ? JSON_STRING : JSON_ARRAY);
		json_free(j);
	}
	cfg.parse_data = false;
	fs->extra_name[0] = '\0';
	call_auth(cookie_of(sess), "GET", "/", NULL, NULL);
	CHECK_GATE(200);
}

static void test_parse_data(void)
{
	reset_store();
	parse_data_userinfo(RECORDS_VALUE, true, "\"myinfo.children_birth_records\":" RECORDS_JSON);
	/* the gateway: compact JSON text, percent-encoding as for any value */
	CHECK_STR(header("X-Sgid-Myinfo-Children-Birth-Records"), RECORDS_HEADER);
	CHECK_STR(header("X-Sgid-Myinfo-Name"), NAME_HEADER);
	/* off (the default): the string as sgID sent it */
	parse_data_userinfo(RECORDS_VALUE, false,
		"\"myinfo.children_birth_records\":\"[{\\\"name\\\": \\\"LIM \\u003cb\\u003e\\\", \\\"n\\\": 1e999}]\"");
	CHECK_STR(header("X-Sgid-Myinfo-Children-Birth-Records"), "[{\"name\": \"LIM <b>\", \"n\": 1e999}]");
	/* hostile: a repeated key, an integer past 64 bits, trailing garbage */
	parse_data_userinfo("{\"a\":1,\"a\":2}", true, "\"myinfo.children_birth_records\":\"{\\\"a\\\":1,\\\"a\\\":2}\"");
	parse_data_userinfo("[18446744073709551617]", true, "\"myinfo.children_birth_records\":\"[18446744073709551617]\"");
	parse_data_userinfo("[1] x]", true, "\"myinfo.children_birth_records\":\"[1] x]\"");
}

/* 401 for anything but a live session; the login link only for a browser
 * navigation to an acceptable URI, and it round-trips to that URI. */
static void test_gateway_auth_refused(void)
{
	reset_store();
	int req0 = fh_requests();
	struct attempt a;
	CHECK_INT(begin_login("icecream=Vanilla", NULL, &a), 0); /* an attempt is no session */
	char gone[4096];
	CHECK_INT(login("icecream=Vanilla", gone), 0);
	call("GET", "/api/logout", NULL, cookie_of(gone));
	char expired[4096];
	CHECK_INT(login("icecream=Vanilla", expired), 0);
	reset_store(); /* every record gone, as they expire */
	req0 = fh_requests();
	const char *cookies[] = { NULL, "theme=dark", COOKIE "=junk", COOKIE "=",
		COOKIE "=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, NULL, NULL };
	char c1[4200], c2[4200], c3[4200];
	snprintf(c1, sizeof(c1), COOKIE "=%s", a.cookie);
	snprintf(c2, sizeof(c2), COOKIE "=%s", gone);
	snprintf(c3, sizeof(c3), COOKIE "=%s", expired);
	cookies[5] = c1;
	cookies[6] = c2;
	cookies[7] = c3;
	for (size_t i = 0; i < ARRAY_LEN(cookies); i++) {
		call_auth(cookies[i], "GET", "/app", "application/json", "cors");
		CHECK_GATE(401);
		CHECK_INT(header_count("X-Sgid-Login"), 0);
		CHECK_INT(header_count("Location"), 0);
		call_auth(cookies[i], "GET", "/app?a=1&b=%2F", BROWSER_ACCEPT, NULL);
		CHECK_GATE(401);
		CHECK_STR(header("X-Sgid-Login"), "/api/login?rd=%2Fapp%3Fa%3D1%26b%3D%252F");
		CHECK_INT(header_count("Location"), 0);
	}
	/* which requests are navigations, and where their login returns
	 * (login: NULL for none) */
#define TO_APP "/api/login?rd=%2Fapp"
	static const struct { const char *method, *uri, *accept, *mode, *login; } cases[] = {
		{ "GET", "/app", BROWSER_ACCEPT, NULL, TO_APP },
		{ "HEAD", "/app", BROWSER_ACCEPT, NULL, TO_APP },
		{ "GET", "/app", "*/*", "navigate", TO_APP },
		{ "GET", "/app", NULL, "navigate", TO_APP },
		{ "GET", "/app", "application/json", "navigate", TO_APP },
		{ "GET", "/app", "text/html", NULL, TO_APP },
		{ "POST", "/app", BROWSER_ACCEPT, "navigate", NULL },
		{ "PUT", "/app", BROWSER_ACCEPT, NULL, NULL },
		{ "GET", "/app", "*/*", NULL, NULL },
		{ "GET", "/app", "*/*", "cors", NULL },
		{ "GET", "/app", "application/json", "no-cors", NULL },
		/* Sec-Fetch-Mode decides alone: a script asking for HTML */
		{ "GET", "/app", "text/html", "cors", NULL },
		{ "GET", "/app", BROWSER_ACCEPT, "cors", NULL },
		{ "HEAD", "/app", BROWSER_ACCEPT, "no-cors", NULL },
		{ "GET", "/app", BROWSER_ACCEPT, "same-origin", NULL },
		{ "GET", "/app", BROWSER_ACCEPT, "websocket", NULL },
		{ "GET", "/app", BROWSER_ACCEPT, "", NULL },
		{ "GET", "/app", "text/html;q=0.5, application/json", NULL, NULL },
		{ "GET", "/app", NULL, NULL, NULL },
		{ NULL, "/app", BROWSER_ACCEPT, "navigate", NULL },   /* no original method */
		{ "GET", NULL, BROWSER_ACCEPT, "navigate", NULL },    /* no original URI */
		/* a URI that is no return URL: the login returns to / */
		{ "GET", "//evil.example", BROWSER_ACCEPT, "navigate", LOGIN_TO_ROOT },
		{ "GET", "https://evil.example/", BROWSER_ACCEPT, NULL, LOGIN_TO_ROOT },
		{ "GET", "//evil.example", "text/html", "cors", NULL },
		{ "GET", "https://allowed.example/x", BROWSER_ACCEPT, "navigate",
		  "/api/login?rd=https%3A%2F%2Fallowed.example%2Fx" },
	};
#undef TO_APP
	for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
		const char *want = cases[i].login;
		call_auth(NULL, cases[i].method, cases[i].uri, cases[i].accept, cases[i].mode);
		CHECK_GATE(401);
		CHECK_INT(header_count("X-Sgid-Login"), want ? 1 : 0);
		if (want)
			CHECK_STR(header("X-Sgid-Login"), want);
		call_authorizer(cases[i].method ? cases[i].method : "GET", "/p",
		                cases[i].method ? cases[i].uri : NULL, NULL, cases[i].accept, cases[i].mode);
		CHECK_GATE(want ? 302 : 401);
		CHECK_INT(header_count("Location"), want ? 1 : 0);
		if (want)
			CHECK_STR(header("Location"), want);
	}
	CHECK_INT(fh_requests(), req0);

	/* the link, followed, logs in and lands on the original URI */
	call_auth(NULL, "GET", "/app/x?a=1&b=%2F", BROWSER_ACCEPT, "navigate");
	char link[2048];
	snprintf(link, sizeof(link), "%s", header("X-Sgid-Login") ? header("X-Sgid-Login") : "");
	CHECK(has_prefix_s(link, "/api/login?"));
	struct attempt g;
	CHECK_INT(begin_gateway(link + strlen("/api/login?"), NULL, &g), 0);
	callback(&g);
	CHECK_INT(res.status, 302);
	CHECK_STR(header("Location"), REDIRECT_ORIGIN "/app/x?a=1&b=%2F");
	/* the store down: 503, never a 200 */
	char sess[4096];
	snprintf(sess, sizeof(sess), "%s", set_cookie_value());
	mem.fail = 1;
	call_auth(cookie_of(sess), "GET", "/app", BROWSER_ACCEPT, NULL);
	CHECK_INT(res.status, 503);
	call_authorizer("GET", "/p", "/p", cookie_of(sess), BROWSER_ACCEPT, NULL);
	CHECK_INT(res.status, 503);
	mem.fail = 0;
	call_auth(cookie_of(sess), "GET", "/app", NULL, NULL);
	CHECK_GATE(200);
}

/* An SPA login never asked userinfo: the sub alone, and still no sgID
 * call from the check; after the SPA's userinfo, the fields too. */
static void test_gateway_spa_session(void)
{
	reset_store();
	char sess[4096];
	CHECK_INT(login("icecream=Vanilla", sess), 0);
	CHECK(is_redirect_to("/logged-in"));      /* the SPA's contract, unchanged */
	int req0 = fh_requests();
	call_auth(cookie_of(sess), "GET", "/", NULL, NULL);
	CHECK_GATE(200);
	CHECK_STR(header("X-Sgid-Sub"), SUB);
	CHECK_INT(header_count("X-Sgid-Myinfo-Name"), 0);
	call_authorizer("GET", "/p", "/p", cookie_of(sess), NULL, NULL);
	CHECK_GATE(200);
	CHECK_STR(header("Variable-SGID_SUB"), SUB);
	CHECK_INT(header_count("Variable-SGID_MYINFO_NAME"), 0);
	CHECK_INT(fh_requests(), req0);
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	call_auth(cookie_of(sess), "GET", "/", NULL, NULL);
	CHECK_STR(header("X-Sgid-Myinfo-Name"), NAME_HEADER);
}

/* Issue 23: the location's rule (SGID_REQUIRE from the web server). A
 * logged-in user it refuses gets 403 (never 401: no login loop), an
 * access_denied audit event with the rule's name and nothing of the
 * user's, a counter; a malformed rule or name is a 500, never open; a
 * WebSocket or fetch without a session a 401 without a login link. The
 * fake's persona: myinfo.name NAME_VALUE, myinfo.nationality "SINGAPORE
 * CITIZEN", an extra field holding stringified pocdex records. */
static void rule_check(enum request_role role, const char *cookie, const char *rule,
	const char *name)
{
	struct request req = {
		.role = role, .method = "GET", .path = role == REQUEST_AUTHORIZER ? "/p" : "/api/auth",
		.request_uri = "/p", .original_uri = role == REQUEST_AUTHORIZER ? NULL : "/p",
		.original_method = "GET", .cookie = cookie, .require = rule, .require_name = name,
		.accept = BROWSER_ACCEPT, .sec_fetch_mode = "navigate", .remote_addr = "192.0.2.9",
	};
	call_req(&req);
}

#define POCDEX "[{\"agency_name\":\"Work Allocation Singapore\",\"work_email\":\"x@was.gov.sg\"}]"

static void test_gateway_rules(void)
{
	static const struct {
		const char *rule;
		int status;
	} cases[] = {
		{ "", 200 },                                          /* no rule */
		{ "myinfo.nationality = \"SINGAPORE CITIZEN\"", 200 },
		{ "myinfo.nationality = \"SINGAPORE\"", 403 },
		{ "sub = \"" SUB "\"", 200 },
		{ "sub in [\"u=other\", \"" SUB "\"]", 200 },
		{ "sub in [\"u=other\"]", 403 },
		{ "has myinfo.name", 200 },
		{ "has myinfo.email", 403 },
		{ "pocdex.public_officer_details/*/agency_name = \"Work Allocation Singapore\"", 200 },
		{ "pocdex.public_officer_details/*/agency_name = \"GovTech\"", 403 },
		{ "sub in @admins", 200 },
		{ "sub in @ops", 403 },
		{ "sub in @ops or has myinfo.name", 200 },
		{ "sub in @admins and myinfo.nationality = \"X\"", 403 },
		{ "sub in @nobody", 500 },                            /* no such list */
		{ "myinfo.name = ", 500 },                            /* malformed */
		{ "((((((((((has myinfo.name))))))))))", 500 },       /* too deep */
	};
	static const enum request_role roles[] = { REQUEST_RESPONDER, REQUEST_AUTHORIZER };
	struct metrics_block mb;
	char sess[4096], err[64];
	metrics_block_zero(&mb);
	app.metrics = &mb;
	snprintf(cfg.allowlists[0].name, sizeof(cfg.allowlists[0].name), "admins");
	snprintf(cfg.allowlists[1].name, sizeof(cfg.allowlists[1].name), "ops");
	const char admins[] = "# admins\nu=somebody\n" SUB "\n";
	CHECK_INT(sublist_parse(admins, strlen(admins), &cfg.allowlists[0], err, sizeof(err)), 0);
	CHECK_INT(sublist_parse("u=x\n", 4, &cfg.allowlists[1], err, sizeof(err)), 0);
	cfg.n_allowlists = 2;
	reset_store();
	snprintf(fs->extra_name, sizeof(fs->extra_name), "pocdex.public_officer_details");
	snprintf(fs->extra_value, sizeof(fs->extra_value), "%s", POCDEX);
	CHECK_INT(gateway_login("rd=%2Fp", sess), 0);
	uint64_t want[METRICS_ACCESS_OUTCOMES] = { 0 };
	for (size_t r = 0; r < ARRAY_LEN(roles); r++) {
		for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
			size_t m = audit_mark();
			rule_check(roles[r], cookie_of(sess), cases[i].rule, "agency-tool");
			if (res.status != cases[i].status)
				fprintf(stderr, "  rule \"%s\" (role %zu): %d\n", cases[i].rule, r, res.status);
			CHECK_INT(res.status, cases[i].status);
			CHECK_INT(header_count("Location"), 0);
			CHECK_INT(header_count("Set-Cookie"), 0);
			const char *sub_hdr = roles[r] == REQUEST_AUTHORIZER ? "Variable-SGID_SUB" : "X-Sgid-Sub";
			CHECK_INT(header_count(sub_hdr), cases[i].status == 200);
			if (cases[i].status == 403) {
				json_value *j = one_event(m, "access_denied");
				CHECK_STR(json_get_str(j, "rule", NULL), "agency-tool");
				CHECK_STR(json_get_str(j, "outcome", NULL), "denied");
				CHECK(!json_has(j, "sub"));
				json_free(j);
				char *line = audit_since(m);
				CHECK(line && !strstr(line, SUB) && !strstr(line, "TAN AH KOW"));
				free(line);
			} else {
				no_event(m);
			}
			if (cases[i].rule[0])
				want[cases[i].status == 200 ? METRICS_ACCESS_ALLOWED :
				     cases[i].status == 403 ? METRICS_ACCESS_DENIED : METRICS_ACCESS_RULE_ERROR]++;
		}
	}
	for (size_t k = 0; k < METRICS_ACCESS_OUTCOMES; k++)
		CHECK_INT(atomic_load(&mb.access[k]), want[k]);

	/* the rule's name: unnamed is fine, an unusable one is a 500 */
	rule_check(REQUEST_RESPONDER, cookie_of(sess), "has myinfo.name", NULL);
	CHECK_INT(res.status, 200);
	rule_check(REQUEST_RESPONDER, cookie_of(sess), "has myinfo.name", "bad name\n");
	CHECK_INT(res.status, 500);
	char long_name[AUTHZ_NAME_MAX + 2];
	memset(long_name, 'n', sizeof(long_name) - 1);
	long_name[sizeof(long_name) - 1] = '\0';
	rule_check(REQUEST_RESPONDER, cookie_of(sess), "has myinfo.name", long_name);
	CHECK_INT(res.status, 500);
	/* a rule on the public scope is a mistake: 500, not open */
	struct request pub = {
		.method = "GET", .path = "/api/auth", .original_uri = "/p", .original_method = "GET",
		.gateway_scope = "public", .require = "has myinfo.name", .require_name = "x",
	};
	call_req(&pub);
	CHECK_INT(res.status, 500);
	pub.require = "";
	call_req(&pub);
	CHECK_INT(res.status, 200);
	/* no session: the rule changes nothing, a navigation logs in */
	rule_check(REQUEST_RESPONDER, NULL, "sub in @ops", "x");
	CHECK_INT(res.status, 401);
	CHECK_STR(header("X-Sgid-Login"), "/api/login?rd=%2Fp");
	/* WebSocket upgrades and fetches without a session: 401, no login link
	 * (a browser's WebSocket says Sec-Fetch-Mode: websocket; other clients
	 * may send a browser's Accept, the Upgrade header still decides) */
	struct request ws = {
		.method = "GET", .path = "/api/auth", .original_uri = "/ws", .original_method = "GET",
		.accept = BROWSER_ACCEPT, .upgrade = "websocket",
	};
	call_req(&ws);
	CHECK_GATE(401);
	CHECK_INT(header_count("X-Sgid-Login"), 0);
	ws.sec_fetch_mode = "websocket";
	ws.upgrade = NULL;
	call_req(&ws);
	CHECK_GATE(401);
	CHECK_INT(header_count("X-Sgid-Login"), 0);
	ws.role = REQUEST_AUTHORIZER;
	ws.request_uri = "/ws";
	ws.upgrade = "websocket";
	ws.sec_fetch_mode = NULL;
	call_req(&ws);
	CHECK_GATE(401);
	CHECK_INT(header_count("Location"), 0);
	/* ... and with the session, the identity */
	ws.cookie = cookie_of(sess);
	call_req(&ws);
	CHECK_GATE(200);
	CHECK_STR(header("Variable-SGID_SUB"), SUB);

	for (size_t k = 0; k < cfg.n_allowlists; k++)
		sublist_free(&cfg.allowlists[k]);
	cfg.n_allowlists = 0;
	fs->extra_name[0] = '\0';
	app.metrics = NULL;
}

/* The authorizer role: the same check whatever the path and method of the
 * protected request; no CORS, no cookie. */
static void test_authorizer(void)
{
	reset_store();
	char sess[4096];
	CHECK_INT(gateway_login("rd=%2F", sess), 0);
	int n = mem_count(&mem);
	static const char *const paths[] = { "/api/logout", "/api/login", "/api/auth-url",
		"/api/redirect", "/anything/else", "", NULL };
	static const char *const methods[] = { "GET", "POST", "OPTIONS", "DELETE" };
	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		for (size_t k = 0; k < ARRAY_LEN(methods); k++) {
			call_authorizer(methods[k], paths[i], "/x", cookie_of(sess), NULL, NULL);
			CHECK_GATE(200);
			CHECK_STR(last_route, "authorizer");
			CHECK_STR(header("Variable-SGID_SUB"), SUB);
			CHECK_STR(header("Variable-SGID_MYINFO_NAME"), NAME_HEADER);
			CHECK_INT(header_count("Access-Control-Allow-Origin"), 0);
			CHECK_INT(header_count("Access-Control-Allow-Methods"), 0);
			call_authorizer(methods[k], paths[i], "/x?y=1", NULL, BROWSER_ACCEPT, "navigate");
			CHECK_GATE(k == 0 ? 302 : 401);
			if (k == 0)
				CHECK_STR(header("Location"), "/api/login?rd=%2Fx%3Fy%3D1");
			CHECK_INT(header_count("Access-Control-Allow-Origin"), 0);
		}
	}
	/* the logout path did not log anybody out */
	CHECK_INT(mem_count(&mem), n);
	/* a fetch is a 401 */
	call_authorizer("GET", "/x", "/x", NULL, "application/json", "cors");
	CHECK_GATE(401);
	CHECK_INT(header_count("Location"), 0);
}

/* Issue 21 (1, 2): what the gateway check hands the web server for the
 * app behind it. The Cookie header without ours (X-Sgid-App-Cookie to
 * nginx's internal location only; Variable-SGID_APP_COOKIE and the
 * SGID_GATEWAY mark to lighttpd), also for the public scope, which needs
 * no session and asks the store nothing; a request with a client's own
 * X-Sgid-* header is a 403 before any store call, in every scope. */
static void gate(enum request_role role, const char *cookie, const char *scope, bool forged)
{
	struct request req = {
		.role = role, .method = "GET", .path = role == REQUEST_AUTHORIZER ? "/p" : "/api/auth",
		.request_uri = "/p", .original_uri = role == REQUEST_AUTHORIZER ? NULL : "/p",
		.original_method = "GET", .cookie = cookie, .gateway_scope = scope,
		.identity_header_sent = forged,
	};
	call_req(&req);
}

static void test_gateway_app_cookie(void)
{
	char sess[4096], hdr_in[8192];
	reset_store();
	CHECK_INT(gateway_login("rd=%2F", sess), 0);
	snprintf(hdr_in, sizeof(hdr_in), "a=1;  %s=%s; %sx=2;b=\"3\"", COOKIE, sess, COOKIE);
	gate(REQUEST_RESPONDER, hdr_in, NULL, false);
	CHECK_GATE(200);
	CHECK_STR(header("X-Sgid-Sub"), SUB);
	CHECK_STR(header("X-Sgid-App-Cookie"), "a=1; " COOKIE "x=2;b=\"3\"");
	gate(REQUEST_AUTHORIZER, hdr_in, NULL, false);
	CHECK_GATE(200);
	CHECK_STR(header("Variable-SGID_APP_COOKIE"), "a=1; " COOKIE "x=2;b=\"3\"");
	CHECK_STR(header("Variable-SGID_GATEWAY"), "1");
	/* only ours: no cookie header for the app at all */
	gate(REQUEST_RESPONDER, cookie_of(sess), NULL, false);
	CHECK_GATE(200);
	CHECK_INT(header_count("X-Sgid-App-Cookie"), 0);
	gate(REQUEST_AUTHORIZER, cookie_of(sess), NULL, false);
	CHECK_INT(header_count("Variable-SGID_APP_COOKIE"), 0);
	CHECK_STR(header("Variable-SGID_GATEWAY"), "1");
	/* /api/auth called by a client itself (no SGID_ORIGINAL_URI): its
	 * scripts never read other apps' HttpOnly cookies there */
	call_auth(hdr_in, NULL, NULL, NULL, NULL);
	CHECK_GATE(200);
	CHECK_INT(header_count("X-Sgid-App-Cookie"), 0);
	/* refused, no cookie for anybody */
	gate(REQUEST_RESPONDER, "a=1", NULL, false);
	CHECK_GATE(401);
	CHECK_INT(header_count("X-Sgid-App-Cookie"), 0);

	/* the public scope: no session needed, none looked up, no identity */
	int n = mem_count(&mem);
	mem.fail = 1;
	for (int k = 0; k < 2; k++) {
		enum request_role role = k ? REQUEST_AUTHORIZER : REQUEST_RESPONDER;
		const char *name = k ? "Variable-SGID_APP_COOKIE" : "X-Sgid-App-Cookie";
		gate(role, hdr_in, "public", false);
		CHECK_GATE(200);
		CHECK_STR(header(name), "a=1; " COOKIE "x=2;b=\"3\"");
		CHECK_INT(header_count("X-Sgid-Sub") + header_count("Variable-SGID_SUB"), 0);
		gate(role, NULL, "public", false);
		CHECK_GATE(200);
		CHECK_INT(header_count(name), 0);
		gate(role, cookie_of(sess), "publicx", false); /* another scope: a login needed */
		CHECK_INT(res.status, 503);
	}
	mem.fail = 0;
	CHECK_INT(mem_count(&mem), n);

	/* a client's X-Sgid-* header: 403 in every scope, logged in or not,
	 * and the store not asked (it is failing) */
	mem.fail = 1;
	for (int k = 0; k < 2; k++) {
		enum request_role role = k ? REQUEST_AUTHORIZER : REQUEST_RESPONDER;
		gate(role, cookie_of(sess), NULL, true);
		CHECK_INT(res.status, 403);
		CHECK_INT(header_count("X-Sgid-Sub") + header_count("Variable-SGID_SUB"), 0);
		CHECK_INT(header_count("X-Sgid-App-Cookie") + header_count("Variable-SGID_APP_COOKIE"), 0);
		CHECK_INT(header_count("Location") + header_count("X-Sgid-Login"), 0);
		gate(role, NULL, "public", true);
		CHECK_INT(res.status, 403);
	}
	mem.fail = 0;
	gate(REQUEST_RESPONDER, cookie_of(sess), NULL, false);
	CHECK_GATE(200);
}

/* Issue 21 (3): Sec-Fetch-Site: cross-site ends no session, on logout,
 * auth-url and login; the SPA's own origin, same-site, same-origin, none
 * and no header at all go on as before. */
static void cross(const char *method, const char *path, const char *query, const char *cookie,
	const char *site, const char *origin)
{
	struct request req = {
		.method = method, .path = path, .query = query, .cookie = cookie,
		.sec_fetch_site = site, .origin = origin,
	};
	call_req(&req);
}

static bool session_alive(const char *sess)
{
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	return res.status == 200;
}

static void test_cross_site(void)
{
	char sess[4096];
	struct attempt a;
	reset_store();
	CHECK_INT(login("icecream=Yam", sess), 0);
	static const char *const paths[] = { "/api/logout", "/api/auth-url" };
	for (size_t i = 0; i < ARRAY_LEN(paths); i++) {
		for (int m = 0; m < 2; m++) {
			const char *method = m ? "POST" : "GET";
			if (i == 1 && m)
				continue; /* auth-url is GET only */
			int n = mem_count(&mem);
			cross(method, paths[i], NULL, cookie_of(sess), "cross-site", NULL);
			CHECK_INT(res.status, 403);
			CHECK(content_type_is("application/json"));
			json_value *j = body_json();
			CHECK_STR(json_get_str(j, "error", NULL), "cross_site_request");
			json_free(j);
			CHECK_INT(header_count("Set-Cookie"), 0);
			CHECK_INT(mem_count(&mem), n);
			/* another site's own Origin changes nothing */
			cross(method, paths[i], NULL, cookie_of(sess), "cross-site", "https://evil.example");
			CHECK_INT(res.status, 403);
			CHECK_INT(header_count("Set-Cookie"), 0);
			CHECK(session_alive(sess));
		}
	}
	/* the ways a real logout comes: each ends the session */
	static const struct { const char *site, *origin; } ok[] = {
		{ "same-site", FRONTEND }, { "same-origin", NULL }, { "none", NULL }, { NULL, NULL },
		{ "cross-site", FRONTEND }, /* an SPA on another site, SameSite=None */
		{ "Cross-Site", NULL },      /* not the browser's word: unknown, as absent */
	};
	for (size_t i = 0; i < ARRAY_LEN(ok); i++) {
		CHECK_INT(login("icecream=Yam", sess), 0);
		cross("POST", "/api/logout", NULL, cookie_of(sess), ok[i].site, ok[i].origin);
		CHECK_INT(res.status, 200);
		CHECK(clears_cookie());
		CHECK(!session_alive(sess));
		CHECK_INT(login("icecream=Yam", sess), 0);
		cross("GET", "/api/auth-url", "icecream=Yam", cookie_of(sess), ok[i].site, ok[i].origin);
		CHECK_INT(res.status, 200);
		CHECK(*set_cookie_value() != '\0');
		CHECK(!session_alive(sess)); /* replaced by the new attempt, as before */
	}

	/* /api/login from another site (a link there to a guarded page): a
	 * live session goes on to rd untouched, no new cookie */
	CHECK_INT(gateway_login("rd=%2F", sess), 0);
	int n = mem_count(&mem);
	cross("GET", "/api/login", "rd=%2Fapp%2Fx%3Fy%3D1", cookie_of(sess), "cross-site", NULL);
	CHECK_INT(res.status, 302);
	CHECK_STR(header("Location"), REDIRECT_ORIGIN "/app/x?y=1");
	CHECK_INT(header_count("Set-Cookie"), 0);
	CHECK_INT(mem_count(&mem), n);
	CHECK(session_alive(sess));
	/* a hostile rd is still a 400 */
	cross("GET", "/api/login", "rd=%2F%2Fevil.example", cookie_of(sess), "cross-site", NULL);
	CHECK_INT(res.status, 400);
	/* the store down: 503, nothing changed */
	mem.fail = 1;
	cross("GET", "/api/login", "rd=%2F", cookie_of(sess), "cross-site", NULL);
	mem.fail = 0;
	CHECK_INT(res.status, 503);
	CHECK_INT(header_count("Set-Cookie"), 0);
	CHECK(session_alive(sess));
	/* no live session: the login starts, from any site (the gateway's own
	 * redirect keeps the navigation cross-site) */
	struct request req = {
		.method = "GET", .path = "/api/login", .query = "rd=%2Fapp", .sec_fetch_site = "cross-site",
	};
	for (int k = 0; k < 2; k++) {
		req.cookie = k ? COOKIE "=" "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" : NULL;
		call_req(&req);
		CHECK_INT(res.status, 302);
		char want[700];
		snprintf(want, sizeof(want), "%s/oauth/authorize?", cfg.issuer);
		CHECK(has_prefix_s(header("Location"), want));
		CHECK(*set_cookie_value() != '\0');
	}
	/* same-site, a live session: replaced, as before */
	CHECK_INT(begin_gateway("rd=%2F", cookie_of(sess), &a), 0);
	CHECK(!session_alive(sess));
}

static void test_gateway_logout(void)
{
	reset_store();
	char sess[4096];
	CHECK_INT(gateway_login("rd=%2F", sess), 0);
	int n = mem_count(&mem);
	call("GET", "/api/logout", "rd=%2Fbye%3Fx%3D1", cookie_of(sess));
	CHECK_INT(res.status, 302);
	CHECK_STR(header("Location"), REDIRECT_ORIGIN "/bye?x=1");
	CHECK_INT(res.body.len, 0);
	CHECK(clears_cookie());
	CHECK_INT(mem_count(&mem), n - 1);
	call_auth(cookie_of(sess), "GET", "/", NULL, NULL);
	CHECK_GATE(401);
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_UNAUTHORIZED();
	/* POST, an absolute URL of an allowed origin (the frontend by default) */
	CHECK_INT(gateway_login("rd=%2F", sess), 0);
	call("POST", "/api/logout", "rd=http%3A%2F%2Flocalhost%3A5173%2Fbye", cookie_of(sess));
	CHECK_INT(res.status, 302);
	CHECK_STR(header("Location"), FRONTEND "/bye");
	CHECK(clears_cookie());
	call_auth(cookie_of(sess), "GET", "/", NULL, NULL);
	CHECK_GATE(401);
	/* a refused rd: 400, and nothing changes */
	CHECK_INT(gateway_login("rd=%2F", sess), 0);
	n = mem_count(&mem);
	call("GET", "/api/logout", "rd=%2F%2Fevil.example", cookie_of(sess));
	CHECK_INT(res.status, 400);
	CHECK_INT(header_count("Set-Cookie"), 0);
	CHECK_INT(header_count("Location"), 0);
	CHECK_INT(mem_count(&mem), n);
	call_auth(cookie_of(sess), "GET", "/", NULL, NULL);
	CHECK_GATE(200);
	call("GET", "/api/userinfo", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	/* without rd: as always */
	call("GET", "/api/logout", NULL, cookie_of(sess));
	CHECK_INT(res.status, 200);
	CHECK_STR(body(), "OK");
	CHECK(clears_cookie());
	/* the store down: 503, the cookie cleared, no redirect */
	CHECK_INT(gateway_login("rd=%2F", sess), 0);
	mem.fail = 1;
	call("GET", "/api/logout", "rd=%2Fbye", cookie_of(sess));
	mem.fail = 0;
	CHECK_INT(res.status, 503);
	CHECK(clears_cookie());
	CHECK_INT(header_count("Location"), 0);
}

/* A gateway login that fails ends on SGID_GATEWAY_ERROR_URL when set, with
 * no session; an SPA's or an unknown one on the frontend's /error. */
static void test_gateway_failures(void)
{
	reset_store();
	struct attempt a;
	/* the token refused: the frontend's /error without the setting */
	CHECK_INT(begin_gateway("rd=%2Fapp", NULL, &a), 0);
	fs->token_mode = FS_TOKEN_BAD_SIG;
	callback(&a);
	fs->token_mode = FS_TOKEN_OK;
	CHECK_ERROR_REDIRECT();
	CHECK(clears_cookie());
	snprintf(cfg.gateway_error_url, sizeof(cfg.gateway_error_url), "%s", ERROR_URL);
	CHECK_INT(begin_gateway("rd=%2Fapp", NULL, &a), 0);
	fs->token_mode = FS_TOKEN_BAD_NONCE;
	callback(&a);
	fs->token_mode = FS_TOKEN_OK;
	CHECK_INT(res.status, 302);
	CHECK_STR(header("Location"), ERROR_URL);
	CHECK(clears_cookie());
	CHECK_INT(mem_count(&mem), 2);         /* the two spent markers, no session */
	/* a forged state: the error page, the attempt kept */
	CHECK_INT(begin_gateway("rd=%2Fapp", NULL, &a), 0);
	char q[512];
	snprintf(q, sizeof(q), "code=%s&state=%sx", a.code, a.state);
	call("GET", "/api/redirect", q, cookie_of(a.cookie));
	CHECK_STR(header("Location"), ERROR_URL);
	CHECK(!clears_cookie());
	/* userinfo failing during the callback: no session, the error page */
	static const enum fs_userinfo_mode bad[] = {
		FS_USERINFO_HTTP_500, FS_USERINFO_SUB_MISMATCH, FS_USERINFO_BAD_JWE,
	};
	for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
		reset_store();
		int ui = fs_userinfos();
		CHECK_INT(begin_gateway("rd=%2Fapp", NULL, &a), 0);
		fs->userinfo_mode = bad[i];
		callback(&a);
		fs->userinfo_mode = FS_USERINFO_OK;
		CHECK_INT(res.status, 302);
		CHECK_STR(header("Location"), ERROR_URL);
		CHECK(clears_cookie());
		CHECK(set_cookie_value()[0] == '\0');
		CHECK_INT(fs_userinfos(), ui + 1);
		CHECK_INT(mem_count(&mem), 1);     /* the spent marker only */
		callback(&a);                      /* and no second try */
		CHECK_STR(header("Location"), ERROR_URL);
		CHECK_INT(fs_userinfos(), ui + 1);
	}
	/* the bulkhead: one place for both sgID calls, given back either way */
	struct scoreboard *sb = scoreboard_create(2, 1, 20);
	CHECK(sb != NULL);
	app.slot = (struct sb_slot_ref){ .sb = sb, .index = 0 };
	char sess[4096];
	CHECK_INT(gateway_login("rd=%2Fapp", sess), 0);
	CHECK_STR(header("Location"), REDIRECT_ORIGIN "/app");
	CHECK_INT(scoreboard_sgid_count(sb), 0);
	CHECK_INT(begin_gateway("rd=%2Fapp", NULL, &a), 0);
	fs->userinfo_mode = FS_USERINFO_HTTP_500;
	callback(&a);
	fs->userinfo_mode = FS_USERINFO_OK;
	CHECK_STR(header("Location"), ERROR_URL);
	CHECK_INT(scoreboard_sgid_count(sb), 0);
	app.slot = (struct sb_slot_ref){ .sb = NULL, .index = 0 };
	scoreboard_free(sb);
	/* an SPA attempt, and one that is nobody's, still fail to /error */
	CHECK_INT(begin_login("icecream=Vanilla", NULL, &a), 0);
	fs->token_mode = FS_TOKEN_BAD_SIG;
	callback(&a);
	fs->token_mode = FS_TOKEN_OK;
	CHECK_ERROR_REDIRECT();
	call("GET", "/api/redirect", "code=c&state=s", NULL);
	CHECK_ERROR_REDIRECT();
	/* an rd whose origin is no longer allowed at the callback */
	CHECK_INT(begin_gateway("rd=http%3A%2F%2Flocalhost%3A5173%2Fx", NULL, &a), 0);
	size_t n_origins = cfg.n_return_origins;
	cfg.n_return_origins = 0;
	int before = mem_count(&mem);
	callback(&a);
	cfg.n_return_origins = n_origins;
	CHECK_STR(header("Location"), ERROR_URL);
	CHECK(set_cookie_value()[0] == '\0');
	CHECK_INT(mem_count(&mem), before + 1); /* the marker, no session */
	cfg.gateway_error_url[0] = '\0';
}

/* rd at its longest: the attempt cookie stays within the Cookie reader's
 * limit and the login ends on it; one byte more is refused. */
static void test_gateway_long_rd(void)
{
	reset_store();
	static char rd[RETURNURL_MAX + 2];
	struct buf q = BUF_INIT;
	rd[0] = '/';
	for (size_t i = 1; i < RETURNURL_MAX; i++)
		rd[i] = "a&<>\"'"[i % 6];
	rd[RETURNURL_MAX] = '\0';
	buf_append_str(&q, "rd=");
	url_encode(&q, rd, strlen(rd));
	struct attempt a;
	CHECK_INT(begin_gateway(q.data, NULL, &a), 0);
	CHECK(strlen(a.cookie) <= HTTP_MAX_VALUE_LEN);
	callback(&a);
	CHECK_INT(res.status, 302);
	struct buf want = BUF_INIT;
	buf_append_strs(&want, REDIRECT_ORIGIN, rd, NULL);
	CHECK_STR(header("Location"), want.data);
	buf_free(&want);
	rd[RETURNURL_MAX] = 'a';
	rd[RETURNURL_MAX + 1] = '\0';
	buf_reset(&q);
	buf_append_str(&q, "rd=");
	url_encode(&q, rd, strlen(rd));
	call("GET", "/api/login", q.data, NULL);
	CHECK_INT(res.status, 400);
	CHECK_INT(header_count("Set-Cookie"), 0);
	buf_free(&q);
}

/* A navigation to a URI that is no return URL (too long, "//", a
 * backslash) still gets the login, which returns to /; the log says why
 * without the URI. */
static void test_gateway_fallback_rd(void)
{
	reset_store();
	static char longest[RETURNURL_MAX + 1], too_long[1200];
	snprintf(longest, sizeof(longest), "/protected/%0*d", RETURNURL_MAX - 11, 0);
	snprintf(too_long, sizeof(too_long), "/protected/fallback-%01100d", 0);
	CHECK_INT(strlen(longest), RETURNURL_MAX);
	CHECK(strlen(too_long) > RETURNURL_MAX);
	never_logged("fallback-000");
	static const char *const refused[] = { too_long, "//evil.example/x", "/a\\b", "/%5Cevil",
		"/app/../x", "/a b", "https://evil.example/" };
	for (size_t i = 0; i < ARRAY_LEN(refused); i++) {
		call_auth(NULL, "GET", refused[i], BROWSER_ACCEPT, "navigate");
		CHECK_GATE(401);
		CHECK_STR(header("X-Sgid-Login"), LOGIN_TO_ROOT);
		call_auth(NULL, "HEAD", refused[i], "text/html", NULL);
		CHECK_STR(header("X-Sgid-Login"), LOGIN_TO_ROOT);
		call_authorizer("GET", "/protected/x", refused[i], NULL, BROWSER_ACCEPT, "navigate");
		CHECK_GATE(302);
		CHECK_STR(header("Location"), LOGIN_TO_ROOT);
		/* still no login for what is no navigation */
		call_auth(NULL, "GET", refused[i], "text/html", "cors");
		CHECK_INT(header_count("X-Sgid-Login"), 0);
		call_authorizer("POST", "/protected/x", refused[i], NULL, BROWSER_ACCEPT, "navigate");
		CHECK_GATE(401);
		CHECK_INT(header_count("Location"), 0);
	}
	/* exactly 1024 bytes is a return URL: kept */
	struct buf want = BUF_INIT;
	buf_append_str(&want, "/api/login?rd=");
	url_encode(&want, longest, strlen(longest));
	call_auth(NULL, "GET", longest, BROWSER_ACCEPT, "navigate");
	CHECK_STR(header("X-Sgid-Login"), want.data);
	call_authorizer("GET", "/protected/x", longest, NULL, BROWSER_ACCEPT, "navigate");
	CHECK_STR(header("Location"), want.data);
	buf_free(&want);
	/* the link, followed, logs in and lands on the root */
	char sess[4096];
	call_authorizer("GET", "/protected/x", too_long, NULL, BROWSER_ACCEPT, "navigate");
	const char *link = header("Location");
	CHECK(link && has_prefix_s(link, "/api/login?"));
	CHECK_INT(gateway_login(link ? link + strlen("/api/login?") : "", sess), 0);
	CHECK_STR(header("Location"), REDIRECT_ORIGIN "/");
	call_authorizer("GET", "/protected/x", too_long, cookie_of(sess), BROWSER_ACCEPT, "navigate");
	CHECK_GATE(200);
}

/* ---- the log -------------------------------------------------------------------- */

/* Checks that no secret of the run is in the file at path (allowed: one
 * value that may be there, or NULL); returns its text (caller frees). */
static char *without_secrets(const char *path, const char *what, const char *allowed, size_t *len)
{
	char *log = harness_read_file(path, len);
	CHECK(log != NULL);
	if (!log)
		return NULL;
	CHECK(*len > 0); /* the handlers did write */
	CHECK(n_log_secrets > 20);
	for (size_t i = 0; i < n_log_secrets; i++) {
		if (allowed && strcmp(log_secrets[i], allowed) == 0)
			continue;
		bool found = fh_find(log, *len, log_secrets[i], strlen(log_secrets[i])) != NULL;
		CHECK(!found);
		if (found)
			fprintf(stderr, "  secret #%zu (%zu chars) is in the %s\n", i,
			        strlen(log_secrets[i]), what);
	}
	if (getenv("TEST_API_LOG"))
		fwrite(log, 1, *len, stderr);
	return log;
}

static void test_log_has_no_secrets(void)
{
	size_t len = 0;
	free(without_secrets(log_path, "log", NULL, &len));
}

/* The audit log of the whole run: every event kind there, and no secret,
 * token, code, state, cookie value or profile value in it; the sub, sgID's
 * opaque subject, is the one identity it names. */
static void test_audit_has_no_secrets(void)
{
	size_t len = 0;
	never_logged(ACCESS_TOKEN);
	char *log = without_secrets(audit_path, "audit log", SUB, &len);
	if (!log)
		return;
	static const char *const kinds[] = { "\"login_success\"", "\"login_failure\"",
		"\"logout\"", "\"session_expired\"" };
	for (size_t i = 0; i < ARRAY_LEN(kinds); i++)
		CHECK(strstr(log, kinds[i]) != NULL);
	static const char *const profile[] = { "TAN AH KOW", "SINGAPORE CITIZEN", "Durian",
		"myinfo" };
	for (size_t i = 0; i < ARRAY_LEN(profile); i++)
		CHECK(!fh_find(log, len, profile[i], strlen(profile[i])));
	/* every line one JSON object */
	size_t lines = 0, objects = 0;
	for (char *line = log, *nl; (nl = strchr(line, '\n')); line = nl + 1) {
		json_value *j = json_parse(line, (size_t)(nl - line), AUDIT_LINE_MAX);
		lines++;
		objects += json_kind_of(j) == JSON_OBJECT;
		json_free(j);
	}
	CHECK(lines > 10);
	CHECK_INT(objects, lines);
	free(log);
}

/* ---- set-up --------------------------------------------------------------------- */

static void cleanup(void)
{
	fh_stop();
	if (app_ready) {
		app_free(&app);
		app_ready = false;
	}
	cfg_free(&cfg);
	resp_free(&res);
	audit_close();
	fs_free();
	for (size_t i = 0; i < n_resp_secrets; i++)
		free(resp_secrets[i]);
	for (size_t i = 0; i < n_log_secrets; i++)
		free(log_secrets[i]);
	n_resp_secrets = n_log_secrets = 0;
	if (log_fd >= 0)
		close(log_fd);
	log_fd = -1;
	if (tmpdir[0])
		harness_remove_dir(tmpdir);
	tmpdir[0] = '\0';
}

static int setup(void)
{
	static const char *const unset[] = { "http_proxy", "https_proxy", "HTTPS_PROXY", "all_proxy",
		"ALL_PROXY", "no_proxy", "NO_PROXY", "SGID_PRIVATE_KEY", "SESSION_SECRET", "REDIS_URL",
		"REDIS_SENTINELS", "SGID_SCOPES", "SGID_REDIRECT_URI", "SESSION_COOKIE_NAME",
		"COOKIE_SAMESITE", "COOKIE_SECURE", "SGID_CA_FILE", "SESSION_TTL_SECONDS",
		"SESSION_IDLE_SECONDS", "LOGIN_TTL_SECONDS", "SGID_JWKS_MIN_REFETCH_SECONDS",
		"SGID_CLOCK_SKEW_SECONDS", "SGID_HTTP_MAX_BODY", "SGID_GATEWAY_ERROR_URL",
		"SGID_GATEWAY_HEADERS" };
	for (size_t i = 0; i < ARRAY_LEN(unset); i++)
		unsetenv(unset[i]);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/sgid-api-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		tmpdir[0] = '\0';
		return -1;
	}
	snprintf(log_path, sizeof(log_path), "%s/handlers.log", tmpdir);
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
	saved_stderr = dup(STDERR_FILENO);
	if (log_fd < 0 || saved_stderr < 0)
		return -1;
	/* the fake's lifetime bound: the whole file's run, which under memcheck
	 * on a loaded 2-core machine has passed 300 s (every case then failed
	 * to reach the fake) */
	fh_alarm_s = 1200;
	if (fs_start() != 0)
		return -1;
	char host[64];
	snprintf(host, sizeof(host), "http://127.0.0.1:%d", fh_port);
	setenv("SGID_HOSTNAME", host, 1);
	setenv("SGID_CLIENT_ID", "fake-client-id", 1);
	setenv("SGID_CLIENT_SECRET", CLIENT_SECRET, 1);
	setenv("SGID_PRIVATE_KEY_FILE", "tests/fixtures/client-test-key.pem", 1);
	setenv("SGID_FRONTEND_HOST", FRONTEND, 1);
	setenv("SGID_HTTP_TIMEOUT_MS", "10000", 1);
	setenv("SGID_HTTP_CONNECT_TIMEOUT_MS", "5000", 1);
	setenv("LOG_LEVEL", "debug", 1);
	/* the origins of tests/unit/hostile_rd.h that are allowed, and ours */
	setenv("SGID_ALLOWED_RETURN_ORIGINS", FRONTEND ",https://allowed.example,https://app.example:8443", 1);
	struct cfg_error err;
	if (cfg_load(&cfg, NULL, &err) != 0) {
		fprintf(stderr, "config: %s: %s\n", err.var, err.msg);
		return -1;
	}
	log_set_level(LOG_LVL_DEBUG);
	/* the audit log to a file of its own; 10/8 as the trusted proxies */
	char why[256];
	struct cidr_list proxies = { .n = 1 };
	const char *cwhy;
	snprintf(audit_path, sizeof(audit_path), "%s/audit.log", tmpdir);
	if (cidr_parse("10.0.0.0/8", 10, &proxies.v[0], &cwhy) != 0 ||
	    audit_open(audit_path, &proxies, why, sizeof(why)) != 0)
		return -1;
	if (httpc_global_init() != 0 || app_init(&app, &cfg, NULL) != 0)
		return -1;
	app_ready = true;
	/* the in-memory store in place of Redis */
	store_free(app.store);
	app.store = &mstore;
	app.sessions.store = &mstore;

	snprintf(fs->issuer, sizeof(fs->issuer), "%s", cfg.issuer);
	snprintf(fs->client_id, sizeof(fs->client_id), "%s", cfg.client_id);
	snprintf(fs->client_secret, sizeof(fs->client_secret), "%s", CLIENT_SECRET);
	snprintf(fs->redirect_uri, sizeof(fs->redirect_uri), "%s", cfg.redirect_uri);
	snprintf(fs->sub, sizeof(fs->sub), "%s", SUB);
	snprintf(fs->access_token, sizeof(fs->access_token), "%s", ACCESS_TOKEN);
	snprintf(fs->token_kid, sizeof(fs->token_kid), "%s", KID);
	snprintf(fs->jwks_kid, sizeof(fs->jwks_kid), "%s", KID);
	never_in_response(CLIENT_SECRET);
	never_in_response(ACCESS_TOKEN);
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN); /* as the server does */
	atexit(cleanup);
	if (setup() != 0) {
		CHECK(!"set-up");
		return harness_report("test_api");
	}
	/* "stable" runs what the current handlers do; "new" only the
	 * behaviour of the cookie rework; default both */
	const char *only = argc > 1 ? argv[1] : "";
	if (strcmp(only, "new") != 0) {
		RUN(test_auth_url);
		RUN(test_auth_url_bad_input);
		RUN(test_full_login);
		RUN(test_redirect_failures);
		RUN(test_replay);
		RUN(test_attempt_kept_when_not_ours_or_full);
		RUN(test_expired_attempt);
		RUN(test_userinfo);
		RUN(test_logout);
		RUN(test_health);
		RUN(test_audit_events);
		RUN(test_routing);
		RUN(test_cors);
		RUN(test_jwks_throttle);
	}
	if (strcmp(only, "stable") != 0) {
		RUN(test_auth_url_no_store);
		RUN(test_single_use_marker);
		RUN(test_cookie_header_robustness);
		RUN(test_logout_during_userinfo);
		RUN(test_large_profile);
	}
	if (strcmp(only, "stable") != 0 && strcmp(only, "new") != 0) {
		RUN(test_gateway_login_start);
		RUN(test_gateway_hostile_rd);
		RUN(test_gateway_full_login);
	RUN(test_parse_data);
		RUN(test_gateway_auth_refused);
		RUN(test_gateway_spa_session);
		RUN(test_gateway_rules);
		RUN(test_authorizer);
		RUN(test_gateway_app_cookie);
		RUN(test_cross_site);
		RUN(test_gateway_logout);
		RUN(test_gateway_failures);
		RUN(test_gateway_long_rd);
		RUN(test_gateway_fallback_rd);
	}
	RUN(test_several_attempts);
	RUN(test_log_has_no_secrets);
	RUN(test_audit_has_no_secrets);
	return harness_report("test_api");
}
